"""vecrecall eval: qrels × runs → measures (trec_eval semantics through ir-measures/pytrec_eval)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import common


def eval_cmd(
    runs: List[Path] = typer.Argument(..., help="Run files: TREC (qid Q0 docno rank score tag), MS MARCO (qid docid rank), either .gz, or Parquet. The first is the baseline for significance tests."),
    qrels: Path = typer.Option(..., "--qrels", help="Qrels: TREC file, BEIR tsv, Parquet, a BEIR directory (uses qrels/<split>.tsv), or an interaction log (user_id,item_id CSV/Parquet → binary qrels). Text forms may be .gz."),
    measures: List[str] = typer.Option(["nDCG@10", "R@100", "MAP"], "-m", "--measure", help="Measures: ir-measures names (nDCG@10 R@100 P@10 RR MAP Rprec Judged@10 Success@10…) or trec_eval names (ndcg_cut_10, ndcg_cut.10, map, P_10, recall_100, recip_rank…). One measure spelled twice is computed once."),
    split: str = common.SPLIT,
    skip_missing: bool = typer.Option(False, "--skip-missing", help="Average only over judged queries present in the run. Default: judged queries missing from a run score 0 (trec_eval -c)."),
    ignore_identical_ids: bool = typer.Option(False, "--ignore-identical-ids", help="BEIR protocol: drop each retrieved document whose id equals the query id (ArguAna, Quora). Off by default (trec_eval semantics)."),
    no_header: bool = typer.Option(False, "--no-header", help="A text qrels file's first line is a judgement even if it starts with 'qid' (default: such a line is a BEIR header)."),
    per_query: Optional[Path] = typer.Option(None, "--per-query", help="Write per-query values (columns run, qid, measure, value) to this Parquet file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --per-query file."),
    json_out: bool = common.JSON,
) -> None:
    """Score runs against qrels; several runs get one table with paired t-test p-values vs the first (Holm-corrected).

    Every run's coverage of the judged queries is stated under the table (and under "coverage" with --json); a run
    whose documents match no judged document gets a warning on stderr (ids that do not match the qrels).

    Example: vecrecall eval --qrels sample_data runs/sample/flat.run runs/sample/ivf.run -m nDCG@10 -m R@100 -m MAP
    """
    from ..artifacts import check_out
    from ..errors import UserError
    from ..io.qrels import read_qrels
    from ..io.runs import read_run
    from ..metrics import evaluate_runs, parse_measures, write_per_query
    from ..progress import console, out

    if per_query is not None and per_query.suffix.lower() != ".parquet":
        raise UserError(f"--per-query {per_query}: must be a .parquet path")
    if per_query is not None:
        check_out(per_query, overwrite, "file", inputs=(qrels, *runs))
    parse_measures(measures)  # bad measure names fail before any file is read
    names = [p.name for p in runs]
    if len(set(names)) != len(names):
        names = [str(p) for p in runs]
    names = [str(p.resolve()) if n == "coverage" else n for n, p in zip(names, runs)]  # "coverage" is a --json key
    names = [n if names.index(n) == i else f"{n} ({names[:i + 1].count(n)})" for i, n in enumerate(names)]  # same file twice
    q = read_qrels(qrels, split, header=False if no_header else None)
    loaded = {name: read_run(p, allow_inf=True) for name, p in zip(names, runs)}  # ±inf still ranks; NaN does not
    judged = set(q["qid"])
    for name, run in loaded.items():
        if not judged & set(run["qid"]):
            raise UserError(f"{name}: none of its queries have judgements in {qrels}; is this the right qrels file?")
    report = evaluate_runs(q, loaded, measures, skip_missing, ignore_identical_ids)
    for name, cov in report.coverage.items():
        if cov.no_judged_match:
            qid, got, want = cov.example or ("", "", "")
            console.print(f"[yellow]warning:[/] {escape(name)}: none of its documents for the {cov.present} judged "
                          f"queries it answers is judged in {escape(str(qrels))} (query '{escape(qid)}': run has "
                          f"'{escape(got)}', qrels judge '{escape(want)}'); do the document ids match?")
    if per_query is not None:
        write_per_query(report, per_query, qrels, dict(zip(names, runs)), measures, skip_missing, ignore_identical_ids,
                        overwrite)
    if json_out:
        common.print_json({**report.means, "coverage": {n: c.to_dict() for n, c in report.coverage.items()}})
        return
    out.print(results_table(report, f"{escape(Path(qrels).name)}: {len(judged)} judged queries"
                            + (" (missing skipped)" if skip_missing else "")
                            + (" (--ignore-identical-ids)" if ignore_identical_ids else ""), out.width))
    for name, cov in report.coverage.items():
        out.print(escape(coverage_line(name, cov, skip_missing)), highlight=False)


def results_table(report, title: str, width: int = 80):
    """Runs × measures; measures × runs when that is what fits 80 columns (many measures, few runs)."""
    from rich.table import Table

    mnames = [m.name for m in report.measures]
    runs = list(report.means)
    best = {m: max(report.means[r][m] for r in runs) for m in mnames}

    def cell(i: int, name: str, m: str) -> str:
        value = report.means[name][m]
        text = f"{value:.4f}"
        if abs(value - best[m]) < 1e-12 and len(runs) > 1:
            text = f"[bold green]{text}[/]"
        if i > 0:
            p = report.pvalues[name][m]
            p_text = f"p={p:.3f}" if p >= 0.001 else "p<0.001"
            text += f" [dim]{p_text if squeezed else f'({p_text})'}[/]"
        return text

    caption = ("bold = best; p: paired t-test against the first run over judged queries, Holm-corrected across runs"
               if len(runs) > 1 else None)
    value_width = 16 if len(runs) > 1 else 6
    wide = max(map(len, runs)) + 3 + sum(max(len(m), value_width) + 3 for m in mnames)
    tall = max(map(len, mnames)) + 3 + sum(max(len(r), value_width) + 3 for r in runs)
    # Neither layout fits the console (rendered widths: the first run's cells carry no p-value): drop the p-values'
    # parentheses, and let cells wrap rather than end in "…"
    first = max(len(runs[0]), 6) + 3
    fit = min(1 + max(map(len, runs)) + 3 + sum(max(len(m), value_width) + 3 for m in mnames),
              1 + max(map(len, mnames)) + 3 + first + sum(max(len(r), value_width) + 3 for r in runs[1:]))
    squeezed = fit > width
    table = Table(title=title, caption=caption)
    # overflow="fold": a squeezed cell wraps onto another line instead of ending in "…", so no digit of a value or
    # p-value and no character of a run name is ever cut off
    if wide <= 80 or tall >= wide:
        table.add_column("run", style="bold", overflow="fold")
        for m in mnames:
            table.add_column(escape(m), justify="right", overflow="fold")
        for i, name in enumerate(runs):
            table.add_row(escape(name), *(cell(i, name, m) for m in mnames))
    else:
        table.add_column("measure", style="bold", overflow="fold")
        for name in runs:
            table.add_column(escape(name), justify="right", overflow="fold")
        for m in mnames:
            table.add_row(escape(m), *(cell(i, name, m) for i, name in enumerate(runs)))
    return table


def coverage_line(name: str, cov, skip_missing: bool) -> str:
    """'flat.run: 38 of 40 judged queries answered, 2 missing (scored 0, as trec_eval -c); means over 40'."""
    text = f"{name}: {cov.present} of {cov.judged} judged queries answered"
    if cov.missing:
        text += f", {cov.missing} missing ({'skipped' if skip_missing else 'scored 0, as trec_eval -c'})"
    text += f"; means over {cov.averaged_over} queries"
    if cov.unjudged:
        text += f"; {cov.unjudged} unjudged quer{'y' if cov.unjudged == 1 else 'ies'} ignored"
    if cov.identical_dropped is not None:
        text += f"; --ignore-identical-ids dropped {cov.identical_dropped} documents equal to their query id"
    return text


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
