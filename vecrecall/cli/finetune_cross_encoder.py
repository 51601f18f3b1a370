"""vecrecall finetune-cross-encoder: train a CrossEncoder reranker offline → a directory rerank and anncur take."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import common


def finetune_cross_encoder(
    out: Path = typer.Option(..., "--out", help="Output CrossEncoder directory (+ manifest.json; split files with --split-queries)."),
    model: str = typer.Option("default", "--model", help="Backbone: 'default' (bundled all-MiniLM-L6-v2 weights) or a local transformer / sentence-transformers directory; a fresh 1-logit head is put on it."),
    train_files: Optional[List[Path]] = typer.Option(None, "--train", help="JSONL pairs (repeatable): query + document|docid + label, or query + positive|positive_id (label 1, e.g. synth-queries output)."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Judgements: relevant → label 1, judged non-relevant → 0."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Query texts for --qrels."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents: resolves doc ids; negatives and teacher documents come from it."),
    qrels_split: str = typer.Option("test", "--qrels-split", help="BEIR qrels split when --qrels is a directory."),
    split_q: Optional[str] = typer.Option(None, "--split-queries", help="Seeded query split: fraction (0.65) or number (60) of judged queries to train on; the rest are written to the model dir as held-out queries/qrels."),
    loss: str = typer.Option("bce", "--loss", help="bce (labels) | listwise (ListNet on teacher scores) | margin-mse (teacher score margins)."),
    architecture: str = typer.Option("cross-encoder", "--architecture", help="cross-encoder (a CrossEncoder: rerank, anncur --scorer cross-encoder) or emb-ce ([EMB]-CE for anncur --scorer emb-ce; --loss bce)."),
    mine_from: Optional[List[Path]] = typer.Option(None, "--mine-from", help="Hard-negative source (repeatable): a run file or an index directory (e.g. BM25 and the bi-encoder), searched with the training queries."),
    mine_range: str = typer.Option("5:100", "--mine-range", help="Rank window LO:HI of each source's candidates that negatives are drawn from."),
    negatives_per_positive: int = typer.Option(1, "--negatives-per-positive", help="Mined negatives per positive pair, from each --mine-from source."),
    random_negatives: int = typer.Option(0, "--random-negatives", help="Uniformly random corpus negatives per positive pair."),
    fn_threshold: float = typer.Option(0.95, "--fn-threshold", help="False-negative filter: skip candidates scoring ≥ this × the query's best positive score in that source (0 = off)."),
    teacher_run: Optional[Path] = typer.Option(None, "--teacher-run", help="listwise/margin-mse: teacher scores for the training queries (any run, e.g. vecrecall fuse of BM25 and the bi-encoder)."),
    teacher_depth: int = typer.Option(30, "--teacher-depth", help="Teacher documents per query."),
    teacher_norm: str = typer.Option("zscore", "--teacher-norm", help="Per-query normalisation of teacher scores: zscore, minmax, none."),
    max_pairs: Optional[int] = typer.Option(None, "--max-pairs", help="Train on a seeded sample of at most this many rows."),
    max_length: int = typer.Option(256, "--max-length", help="Token limit of a (query, document) pair, in training and in the saved model; the share of pairs cut is reported."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the training rows."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    batch_size: int = typer.Option(16, "--batch-size", help="Rows per batch."),
    lr: float = typer.Option(2e-5, "--lr", help="Peak learning rate (AdamW, linear decay)."),
    head_lr: Optional[float] = typer.Option(None, "--head-lr", help="Peak learning rate of the fresh classification head and the pooler before it (default: --lr); a fresh head learns faster with a higher one, e.g. 1e-3."),
    warmup: float = typer.Option(0.1, "--warmup", help="Warm-up share of the steps."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Train a cross-encoder reranker on (query, document, label) pairs: judged queries, synthetic queries, mined
    hard negatives; BCE or distillation from a teacher run.

    Example: vecrecall finetune-cross-encoder --qrels sample_data --queries sample_data --corpus sample_data --split-queries 0.7 --mine-from runs/sample/bm25 --out models/ce
    """
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")
    from ..progress import console, out as stdout
    from ..training.cross_encoder import CrossEncoderOptions, parse_window, run_finetune_cross_encoder
    from ..training.data import parse_split

    opts = CrossEncoderOptions(
        out=out, model=model, train=list(train_files or []), qrels=qrels, queries=queries, corpus=corpus,
        qrels_split=qrels_split, split_queries=parse_split(split_q) if split_q is not None else None, loss=loss,
        architecture=architecture,
        mine_from=list(mine_from or []), mine_range=parse_window(mine_range),
        negatives_per_positive=negatives_per_positive, random_negatives=random_negatives, fn_threshold=fn_threshold,
        teacher_run=teacher_run, teacher_depth=teacher_depth, teacher_norm=teacher_norm, max_pairs=max_pairs,
        max_length=max_length, epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, head_lr=head_lr,
        warmup=warmup,
        seed=seed, overwrite=overwrite, fields=common.fields(id_field, text_field, title_field),
    )
    res = run_finetune_cross_encoder(opts)
    st = res.manifest.stats
    if json_out:
        common.print_json({"out": str(out), **st, "notes": res.notes})
        return
    from rich.table import Table

    t = Table(title="training rows")
    t.add_column("kind")
    t.add_column("rows", justify="right")
    for k, v in res.counts.items():
        t.add_row(k, f"{v:,}")
    stdout.print(t)
    for n in res.notes:
        console.print(f"[yellow]note[/]: {n}")
    loss_text = f", final loss {res.final_loss:.4f}" if res.final_loss is not None else ""
    stdout.print(f"truncation: {res.truncated:,} of {res.pairs_total:,} (query, document) pairs "
                 f"({100 * res.truncated_share:.1f}%) exceed --max-length {max_length} tokens and were cut")
    stdout.print(f"[green]wrote[/] {out}: {res.steps} steps in {res.seconds:.0f}s{loss_text}")
    if st.get("queries") is not None and (Path(out) / "heldout.queries.jsonl").exists():
        stdout.print(f"held-out queries and qrels: {out}/heldout.queries.jsonl, {out}/heldout.qrels.tsv")


def register(app: typer.Typer) -> None:
    app.command("finetune-cross-encoder")(finetune_cross_encoder)
