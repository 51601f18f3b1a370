"""vecrecall anncur: cross-encoder k-NN search by CUR factorisation (ANNCUR) and its adaptive variant (ADACUR)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common

sub = typer.Typer(
    help="Find the items a cross-encoder scores highest without scoring every item (ANNCUR / ADACUR): "
    "index → query, and bench against exact scorer search and bi-encoder + rerank at equal scorer calls.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SCORER_HELP = ("maxsim (late interaction over MiniLM token states; default), cross-encoder (a local CrossEncoder "
               "directory), emb-ce ([EMB]-CE from a local BERT-style checkpoint), matrix (a directory with scores.npy, "
               "query_ids.txt, item_ids.txt).")


def index(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Items: BEIR dir, JSONL, CSV/TSV, Parquet or TREC (optional for --scorer matrix)."),
    scorer: str = typer.Option("maxsim", "--scorer", help=SCORER_HELP),
    scorer_path: Optional[Path] = typer.Option(None, "--scorer-path", help="Model directory (default for maxsim/emb-ce: the bundled MiniLM) or the matrix directory."),
    anchor_queries: str = typer.Option("pseudo:500", "--anchor-queries", help="pseudo:N (N word spans sampled from the corpus), a queries file of training queries, or ids:FILE (matrix scorer)."),
    k_i: int = typer.Option(100, "--k-i", help="Anchor items (random, seeded); test-time methods may use fewer."),
    biencoder: str = typer.Option("default", "--biencoder", help="Bi-encoder for bi-encoder anchors and the rerank baseline: 'default', a local model, hash:DIM, or none."),
    allow_underdetermined: bool = typer.Option(False, "--allow-underdetermined", help="Allow fewer anchor queries than anchor items."),
    max_length: int = typer.Option(256, "--max-length", help="Scorer input length limit, in tokens."),
    scorer_backend: str = typer.Option("torch", "--scorer-backend", help="cross-encoder: torch, onnx, openvino or auto (exported once beside the model, as rerank --backend does); query and bench use the index's."),
    scorer_quantize: Optional[str] = typer.Option(None, "--scorer-quantize", help="cross-encoder on onnx/openvino: int8 (int8:CONFIG for onnx) — faster; scores move a little."),
    out: Path = typer.Option(..., "--out", help="Index directory to write."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    seed: int = common.SEED,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the score cache (anncur.sqlite) or the bi-encoder vector cache (under ~/.cache/vecrecall, or $VECRECALL_CACHE_DIR)."),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Score anchor queries against every item once (R_anc) and store it with the CUR item embeddings.

    Example: vecrecall anncur index --corpus C --scorer maxsim --anchor-queries pseudo:500 --k-i 100 --out runs/v/cur
    """
    from ..anncur.artifact import IndexSpec, build_index
    from ..progress import out as stdout

    spec = IndexSpec(scorer=scorer, scorer_path=str(scorer_path) if scorer_path else None, anchor_queries=anchor_queries,
                     k_i=k_i, biencoder=None if biencoder.lower() == "none" else biencoder,
                     allow_underdetermined=allow_underdetermined, max_length=max_length, seed=seed,
                     scorer_backend=scorer_backend.lower(),
                     scorer_quantize=scorer_quantize.lower() if scorer_quantize else None)
    m = build_index(out, corpus, spec, common.fields(id_field, text_field, title_field, no_header), not no_cache, overwrite)
    if json_out:
        common.print_json({"out": str(out), **m.stats})
    else:
        s = m.stats
        stdout.print(f"[green]wrote[/] {out}: {scorer} scorer, {s['n_items']:,} items, k_q={s['k_q']} anchor queries, "
                     f"k_i={s['k_i']} anchor items, {s['scorer_calls']:,} scorer calls, effective rank of R_anc "
                     f"(99% energy) {s['effective_rank_99']}, {s['build_s']:.1f}s")


def query(
    index_path: Path = typer.Option(..., "--index", help="Directory from `vecrecall anncur index`."),
    queries: str = typer.Option(..., "--queries", help="Test queries (BEIR dir, JSONL, CSV, TREC topics…) or ids:FILE for the matrix scorer."),
    budget: int = typer.Option(..., "--budget", help="Scorer calls per query (anchors included)."),
    k: int = typer.Option(10, "-k", "--k", help="Results per query."),
    method: str = typer.Option("anncur", "--method", help="anncur, anncur-biencoder, adacur, or rerank (bi-encoder top-B + scorer)."),
    k_i: Optional[int] = typer.Option(None, "--k-i", help="Anchor items used (default: the index's k_i)."),
    rounds: int = typer.Option(5, "--rounds", help="ADACUR rounds."),
    out: Path = common.RUN_OUT,
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("vecrecall-anncur"),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the score cache (anncur.sqlite) or the bi-encoder vector cache (under ~/.cache/vecrecall, or $VECRECALL_CACHE_DIR)."),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Answer every query with the top-k of at most --budget exact scorer calls and write the run.

    Example: vecrecall anncur query --index runs/v/cur --queries Q --budget 200 -k 10 --out runs/v/cur.run
    """
    from ..anncur.artifact import AnncurIndex, load_query_set
    from ..anncur.methods import Plan, check_plan, get_method
    from ..anncur.query import query_index
    from ..artifacts import check_out
    from ..io.runs import run_format, write_run
    from ..progress import out as stdout

    check_out(out, overwrite, inputs=(index_path, queries))
    kind = run_format(out, fmt)
    idx = AnncurIndex.load(index_path)
    m = get_method(method)
    plan = check_plan(m, Plan(budget, k, k_i if k_i is not None else idx.k_i, rounds), len(idx.items), idx.k_i)
    if m.needs_biencoder and idx.biencoder is None:
        from ..errors import UserError

        raise UserError(f"--method {method}: the index has no bi-encoder vectors; rebuild it with --biencoder MODEL")
    qs = load_query_set(queries, "--queries", common.fields(id_field, text_field, title_field, no_header),
                        idx.spec.get("scorer") != "matrix")
    run, manifest, res = query_index(idx, qs, queries, m, plan, not no_cache)
    manifest.params["run_tag"] = run_tag
    write_run(run, out, manifest, kind, run_tag, overwrite=overwrite)
    if json_out:
        common.print_json({"out": str(out), **manifest.stats})
    else:
        stdout.print(f"[green]wrote[/] {out} ({kind}): {len(qs):,} queries × top {k} by {m.label}, "
                     f"{res.calls.mean():.0f} scorer calls per query (budget {plan.budget}), {res.seconds:.2f}s")


def bench(
    index_path: Path = typer.Option(..., "--index", help="Directory from `vecrecall anncur index`."),
    queries: str = typer.Option(..., "--queries", help="Test queries (never the anchor queries) or ids:FILE for the matrix scorer."),
    budgets: str = typer.Option("50,100,200,500", "--budgets", help="Scorer calls per query to compare at."),
    ks: str = typer.Option("1,10,100", "-k", "--k", help="Top-k recall against exact scorer top-k, for these k."),
    baseline: str = typer.Option("biencoder", "--baseline", help="biencoder (bi-encoder top-B + scorer rerank, and ANNCUR with bi-encoder anchors) or none."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma-separated subset of anncur, anncur-biencoder, adacur, rerank."),
    k_i: Optional[int] = typer.Option(None, "--k-i", help="Fixed anchor items for ANNCUR (default: min(index k_i, anchor-share × budget))."),
    anchor_share: float = typer.Option(0.5, "--anchor-share", help="Share of the budget ANNCUR spends on anchors when --k-i is not given."),
    rounds: int = typer.Option(5, "--rounds", help="ADACUR rounds."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Judgements: adds nDCG@10 of every method, exact search and the bi-encoder."),
    split: str = common.SPLIT,
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for results.parquet, recall.png and manifest.json (default: INDEX-bench)."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the score cache (anncur.sqlite) or the bi-encoder vector cache (under ~/.cache/vecrecall, or $VECRECALL_CACHE_DIR)."),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Top-k recall vs exact scorer search at each budget for ANNCUR, ANNCUR with bi-encoder anchors, ADACUR and
    bi-encoder + rerank, with the scorer calls each spent.

    Example: vecrecall anncur bench --index runs/v/cur --queries Q --budgets 50,100,200,500 -k 1,10,100 --baseline biencoder --out runs/v/cur-bench
    """
    from ..anncur.artifact import AnncurIndex, load_query_set
    from ..anncur.bench import BenchSpec, run_bench, write_bench
    from ..anncur.methods import METHODS
    from ..artifacts import check_out
    from ..errors import UserError

    out = out or index_path.with_name(index_path.name + "-bench")
    check_out(out, overwrite, inputs=(index_path, queries))
    if baseline not in ("biencoder", "none"):
        raise UserError(f"--baseline {baseline}: use biencoder or none")
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else list(METHODS)
    if baseline == "none" and not methods:
        names = [n for n in names if not METHODS[n].needs_biencoder]
    idx = AnncurIndex.load(index_path)
    if idx.biencoder is None and not methods and baseline == "biencoder":
        raise UserError(f"--index {index_path}: has no bi-encoder vectors (built with --biencoder none), so the default "
                        "--baseline biencoder cannot run; pass --baseline none (ANNCUR and ADACUR only) or rebuild the "
                        "index with --biencoder MODEL")
    spec = BenchSpec(common.int_list(budgets, "--budgets"), common.int_list(ks, "-k"), names, k_i, anchor_share, rounds)
    qs = load_query_set(queries, "--queries", common.fields(id_field, text_field, title_field, no_header),
                        idx.spec.get("scorer") != "matrix")
    overlap = set(qs.texts) & set(idx.anchor_queries.texts) - {""}
    if overlap or (idx.spec.get("scorer") == "matrix" and set(qs.ids) & set(idx.anchor_queries.ids)):
        raise UserError(f"--queries {queries}: {len(overlap) or len(set(qs.ids) & set(idx.anchor_queries.ids))} test "
                        "queries are also anchor queries of the index; test on queries the index has not seen")
    qrels_df = None
    if qrels is not None:
        from ..io.qrels import read_qrels

        qrels_df = read_qrels(qrels, split)
    result = run_bench(idx, qs, spec, qrels_df, not no_cache)
    write_bench(out, result, spec, idx, queries, overwrite)
    if json_out:
        common.print_json({"out": str(out), "summary": result.summary,
                           "results": result.table.to_dict(orient="records")})
        return
    _print_table(result, spec, out)


def _print_table(result, spec, out: Optional[Path]) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from ..anncur.methods import METHODS
    from ..progress import out as stdout

    s = result.summary
    t = Table(title=f"anncur bench: {s['scorer']} scorer, {s['n_items']:,} items, {s['n_queries']} queries, "
                    f"k_q={s['k_q']}", caption="Top-k: recall of the exact scorer top k")
    t.add_column("method", no_wrap=True, min_width=16)
    for col in ("budget", "k_i", "calls"):
        t.add_column(col, justify="right")
    for k in spec.ks:
        t.add_column(f"Top-{k}", justify="right")
    if "nDCG@10" in result.table.columns:
        t.add_column("nDCG@10", justify="right")
    for r in result.table.to_dict(orient="records"):
        calls = f"{r['calls_mean']:.0f}" if r["calls_min"] == r["calls_max"] else f"{r['calls_min']}–{r['calls_max']}"
        cells = [r["method"], str(r["budget"]), "" if r["k_i"] is None or r["k_i"] != r["k_i"] else str(int(r["k_i"])), calls]
        cells += [f"{r[f'top{k}_recall']:.3f}" for k in spec.ks]
        if "nDCG@10" in r:
            cells.append(f"{r['nDCG@10']:.3f}")
        t.add_row(*cells)
    stdout.print(t)
    extra = [f"effective rank (99% energy): R_anc {s['effective_rank_99_anchor']}, test queries × items "
             f"{s['effective_rank_99_test']}", f"scorer calls computed {s['scorer_calls_computed']:,} "
             f"(exact search {s['scorer_calls_computed_exact']:,}; 0 = all from the score cache)"]
    if "nDCG@10_exact" in s:
        extra.append(f"nDCG@10: exact scorer search {s['nDCG@10_exact']:.3f}"
                     + (f", bi-encoder alone {s['nDCG@10_biencoder']:.3f}" if "nDCG@10_biencoder" in s else ""))
    if out is not None:
        extra.append(f"[green]wrote[/] {out}/results.parquet, {out}/recall.png")
    extra.append("methods: " + "; ".join(f"{m} = {METHODS[m].label}" for m in dict.fromkeys(result.table["method"])))
    for line in extra:
        stdout.print(line)


def register(app: typer.Typer) -> None:
    sub.command("index")(index)
    sub.command("query")(query)
    sub.command("bench")(bench)
    app.add_typer(sub, name="anncur")
