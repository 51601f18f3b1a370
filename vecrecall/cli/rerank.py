"""vecrecall rerank: re-score the top of a run with a CrossEncoder (or a bi-encoder, to compare)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def rerank_cmd(
    run: Path = typer.Option(..., "--run", help="Run to rerank (TREC or Parquet)."),
    corpus: Path = typer.Option(..., "--corpus", help="Documents (BEIR dir, JSONL, CSV, Parquet, TREC) with the run's docids."),
    queries: Path = typer.Option(..., "--queries", help="Query texts with the run's qids."),
    model: Optional[str] = typer.Option(None, "--model", help="crossencoder: a local CrossEncoder directory. biencoder: 'default', a local sentence-transformers directory, or hash:DIM."),
    scorer: str = typer.Option("crossencoder", "--scorer", help="crossencoder or biencoder."),
    depth: int = typer.Option(100, "--depth", help="Documents reranked per query (the run's top N by score)."),
    k: int = typer.Option(10, "-k", "--k", help="Documents per query in the output (≤ --depth)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Pairs per model batch."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="crossencoder: truncate pairs to this many tokens (default: the model's)."),
    backend: str = typer.Option("auto", "--backend", help="crossencoder inference: auto (onnx when ONNX Runtime is installed, else torch), torch, onnx, openvino (exported once beside the model, as encode --backend does)."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="crossencoder on onnx/openvino: none (default) or int8 (int8:CONFIG, CONFIG one of arm64, avx2, avx512, avx512_vnni; default: this CPU's) — faster; the logits move a little."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the score cache ($VECRECALL_CACHE_DIR/rerank.sqlite)."),
    out: Path = common.RUN_OUT,
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("rerank"),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Rerank each query's top --depth documents by a pair scorer and keep the best -k.

    Example: vecrecall rerank --run runs/v/rrf.run --corpus C --queries Q --model PATH_TO_CROSS_ENCODER --depth 100 -k 10 --out runs/v/ce.run
    """
    from ..artifacts import Manifest, check_out, input_entry, sha256_path
    from ..errors import UserError
    from ..io.runs import read_run, run_format, run_manifest, write_run
    from ..io.texts import load_texts, source_entry
    from ..progress import out as stdout, progress
    from ..rerank import ScoreCache, make_scorer, rerank, top_depth

    check_out(out, overwrite, inputs=(run, corpus, queries))
    kind = run_format(out, fmt)
    if depth < 1 or k < 1:
        raise UserError(f"--depth {depth} / -k {k}: both must be ≥ 1")
    if k > depth:
        raise UserError(f"-k {k} exceeds --depth {depth}: rerank returns only reranked documents; raise --depth or lower -k")
    df = read_run(run)
    fields = common.fields(id_field, text_field, title_field, no_header)
    qt = load_texts(queries, "queries", fields)
    dt = load_texts(corpus, "corpus", fields)
    scorer_obj = make_scorer(scorer, model, max_length, batch_size, backend, quantize)
    cache = None if no_cache else ScoreCache()
    n_pairs = len(top_depth(df, depth))
    try:
        with progress("rerank", n_pairs, "pairs") as advance:
            result, stats = rerank(df, dict(zip(qt["id"].astype(str), qt["text"].astype(str))),
                                   dict(zip(dt["id"].astype(str), dt["text"].astype(str))), scorer_obj, depth, k,
                                   batch=max(batch_size, 256), cache=cache, advance=advance)
    finally:
        if cache:
            cache.close()
    manifest = Manifest(
        type="run",
        params={"rerank": {"scorer": scorer, "model": scorer_obj.describe(), "depth": depth, "k": k,
                           "batch_size": batch_size, "max_length": max_length}, "run_tag": run_tag},
        inputs={"run": input_entry(run.resolve(), run_manifest(run), sha256_path(run)),
                "corpus": source_entry(corpus, "corpus"),
                "queries": source_entry(queries, "queries"),
                **_model_input(model)},
        stats={"queries": int(result["qid"].nunique()), "pairs": stats.pairs, "scored": stats.scored,
               "cached": stats.pairs - stats.scored, "score_s": round(stats.score_s, 3),
               "pairs_per_s": round(stats.pairs_per_s, 1) if stats.scored else None},
    )
    write_run(result, out, manifest, kind, run_tag, overwrite=overwrite)
    if json_out:
        common.print_json({"out": str(out), **manifest.stats})
    else:
        rate = f", {stats.pairs_per_s:,.0f} pairs/s" if stats.scored else ""
        stdout.print(f"[green]wrote[/] {out} ({kind}): {manifest.stats['queries']:,} queries, top {depth} → {k}; "
                     f"{stats.scored:,} pairs scored, {stats.pairs - stats.scored:,} from the cache{rate}")


def _model_input(model: Optional[str]) -> dict:
    """The scorer model as an input, with its own manifest (lineage of a trained cross-encoder) when it has one."""
    from ..artifacts import input_entry, read_manifest
    from ..errors import UserError

    if not model or not Path(model).is_dir():
        return {}
    manifest = None
    if (Path(model) / "manifest.json").exists():
        try:
            manifest = read_manifest(model)
        except UserError:  # a manifest.json some other tool wrote: record the path only
            pass
    return {"model": input_entry(Path(model).resolve(), manifest)}


def register(app: typer.Typer) -> None:
    app.command("rerank")(rerank_cmd)
