"""vecrecall eval: qrels × runs → measures (trec_eval semantics through ir-measures/pytrec_eval)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import common


def eval_cmd(
    runs: List[Path] = typer.Argument(..., help="Run files (TREC or Parquet). The first is the baseline for significance tests."),
    qrels: Path = typer.Option(..., "--qrels", help="Qrels: TREC file, BEIR tsv, Parquet, a BEIR directory (uses qrels/<split>.tsv), or an interaction log (user_id,item_id CSV/Parquet → binary qrels)."),
    measures: List[str] = typer.Option(["nDCG@10", "R@100", "MAP"], "-m", "--measure", help="Measures, ir-measures syntax: nDCG@10 R@100 P@10 RR MAP Rprec Judged@10 Success@10…"),
    split: str = typer.Option("test", "--split", help="BEIR qrels split, when --qrels is a directory."),
    skip_missing: bool = typer.Option(False, "--skip-missing", help="Average only over queries present in the run. Default: judged queries missing from a run score 0 (trec_eval -c)."),
    per_query: Optional[Path] = typer.Option(None, "--per-query", help="Write per-query values (columns run, qid, measure, value) to this Parquet file."),
    json_out: bool = common.JSON,
) -> None:
    """Score runs against qrels; several runs get one table with paired t-test p-values vs the first (Holm-corrected).

    Example: vecrecall eval --qrels sample_data runs/sample/flat.run runs/sample/ivf.run -m nDCG@10 -m R@100 -m MAP
    """
    from ..artifacts import atomic_file
    from ..errors import UserError
    from ..io.qrels import read_qrels
    from ..io.runs import read_run
    from ..metrics import evaluate_runs
    from ..progress import out

    names = [p.name for p in runs]
    if len(set(names)) != len(names):
        names = [str(p) for p in runs]
    q = read_qrels(qrels, split)
    loaded = {name: read_run(p) for name, p in zip(names, runs)}
    judged = set(q["qid"])
    for name, run in loaded.items():
        if not judged & set(run["qid"]):
            raise UserError(f"{name}: none of its queries have judgements in {qrels}; is this the right qrels file?")
    report = evaluate_runs(q, loaded, measures, skip_missing)
    if per_query is not None:
        if per_query.suffix.lower() != ".parquet":
            raise UserError(f"--per-query {per_query}: must be a .parquet path")
        with atomic_file(per_query) as tmp:
            report.per_query.to_parquet(tmp, index=False)
    if json_out:
        common.print_json(report.means)
        return
    from rich.table import Table

    mnames = [m.name for m in report.measures]
    best = {m: max(report.means[r][m] for r in report.means) for m in mnames}
    caption = ("bold = best; p: paired t-test against the first run over judged queries, Holm-corrected across runs"
               if len(report.means) > 1 else None)
    table = Table(title=f"{Path(qrels).name}: {len(judged)} judged queries" + (" (missing skipped)" if skip_missing else ""),
                  caption=caption)
    table.add_column("run", style="bold")
    for m in mnames:
        table.add_column(m, justify="right")
    for i, (name, vals) in enumerate(report.means.items()):
        cells = []
        for m in mnames:
            text = f"{vals[m]:.4f}"
            if abs(vals[m] - best[m]) < 1e-12 and len(report.means) > 1:
                text = f"[bold green]{text}[/]"
            if i > 0:
                p = report.pvalues[name][m]
                text += f" [dim](p={p:.3f})[/]" if p >= 0.001 else " [dim](p<0.001)[/]"
            cells.append(text)
        table.add_row(name, *cells)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
