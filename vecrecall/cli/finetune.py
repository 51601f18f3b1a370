"""vecrecall finetune: train the bi-encoder on pairs (JSONL or qrels-derived) → a sentence-transformers model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def finetune(
    out: Path = typer.Option(..., "--out", help="Output model directory (a normal sentence-transformers directory + manifest.json)."),
    model: str = typer.Option("default", "--model", help="Base model: 'default' (bundled all-MiniLM-L6-v2) or a local sentence-transformers directory."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training pairs JSONL: query, positive|positive_id, [negatives], [score], [qid], [frequency|bucket]."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Derive pairs from judgements (rel > 0) of the training queries."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Query texts for --qrels."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents: resolves doc ids, random/mined negatives, idf, held-out eval."),
    qrels_split: str = typer.Option("test", "--qrels-split", help="BEIR qrels split when --qrels is a directory."),
    split_q: Optional[str] = typer.Option(None, "--split-queries", help="Seeded query split: fraction (0.65) or number (60) of judged queries to train on; the rest are held out and written to the model dir (default: no split, train on every judged query)."),
    dev_queries: int = typer.Option(0, "--dev-queries", help="Training queries set aside as a dev split for --eval-every."),
    loss: str = typer.Option("mnrl", "--loss", help="mnrl | triplet | pairwise | contrastive | distill."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Logit scale = 1/temperature (default: 20 for mnrl; 1 for distill, σ(scale·xᵀz))."),
    margin: float = typer.Option(0.1, "--margin", help="Margin of triplet (cosine distance) and contrastive losses."),
    gamma: float = typer.Option(10.0, "--gamma", help="Slope γ of the pairwise loss ln(1+exp(−γ(s⁺−s⁻)))."),
    distill_mode: str = typer.Option("bce", "--distill-mode", help="distill: bce (σ(xᵀz) vs teacher y ∈ [0,1]) or margin-mse."),
    logq: bool = typer.Option(False, "--logq-correction", help="mnrl: subtract ln p_j from in-batch logits (training only)."),
    item_frequency: Optional[Path] = typer.Option(None, "--item-frequency", help="Document frequencies for logQ: Parquet/CSV/TSV/JSONL with docid, frequency (default: counted from training positives)."),
    negatives: str = typer.Option("in-batch", "--negatives", help="Comma list of in-batch, random, mined, core-deletion."),
    negative_ratio: str = typer.Option("1", "--negative-ratio", help="Negatives per positive pair: N for every kind, or kind:n,… (mined:2,random:1)."),
    mine_from: Optional[Path] = typer.Option(None, "--mine-from", help="Mined negatives from this run file or index directory (default: search the corpus with the base model)."),
    mine_range: str = typer.Option("10:100", "--mine-range", help="Ranks LO:HI of the candidates negatives are drawn from."),
    mine_margin: Optional[float] = typer.Option(None, "--mine-margin", help="Skip candidates scoring above (positive's score − margin), when the positive is in the run (default: no margin)."),
    core_terms: int = typer.Option(1, "--core-terms", help="core-deletion: how many highest-idf terms to remove."),
    teacher_run: Optional[Path] = typer.Option(None, "--teacher-run", help="distill: teacher scores (e.g. a cross-encoder rerank run) for the training queries."),
    teacher_depth: int = typer.Option(20, "--teacher-depth", help="distill: teacher documents used per query."),
    teacher_transform: str = typer.Option("none", "--teacher-transform", help="Map teacher scores into [0,1]: none, sigmoid, minmax (per query)."),
    query_mix: Optional[str] = typer.Option(None, "--query-mix", help="Resample queries by bucket, e.g. head:0.3,mid:0.4,tail:0.3 (bucket field, else frequency terciles; default: no resampling)."),
    mix_size: Optional[int] = typer.Option(None, "--mix-size", help="Queries drawn by --query-mix (default: as many as there are)."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the training rows."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps (default: --epochs decides)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Rows per batch (in-batch negatives = batch size − 1)."),
    lr: float = typer.Option(2e-5, "--lr", help="Peak learning rate (AdamW, linear decay)."),
    warmup: float = typer.Option(0.1, "--warmup", help="Warm-up share of the steps."),
    max_seq_length: Optional[int] = typer.Option(None, "--max-seq-length", help="Token limit while training only (default: the base model's; the saved model keeps the base model's limit)."),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Every N steps print dev nDCG@10 (needs --dev-queries; default: never)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads for training and the held-out encoding (default: one per core)."),
    eval_corpus_size: int = typer.Option(2000, "--eval-corpus-size", help="Documents searched by --eval-every (dev positives + a seeded sample)."),
    baseline_run: Optional[Path] = typer.Option(None, "--baseline-run", help="A run of the stock model to reuse for the held-out table instead of re-encoding (default: encode and search with the stock model)."),
    eval_k: int = typer.Option(1000, "--eval-k", help="Depth of the held-out runs (MAP depends on it)."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the stock vs finetuned table on the held-out queries."),
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Finetune the bi-encoder and compare it with the stock model on held-out queries.

    Example: vecrecall finetune --qrels sample_data --queries sample_data --corpus sample_data --split-queries 0.7 --seed 13 --negatives in-batch,core-deletion --out models/ft
    """
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")  # library bars (weight loading, model-card widgets); ours are rich
    from ..progress import out as stdout
    from ..training.data import parse_split
    from ..training.losses import LossSettings
    from ..training.pipeline import FinetuneOptions, run_finetune
    from ..training.trainer import TrainSettings

    default_scale = 1.0 if loss == "distill" else 20.0
    opts = FinetuneOptions(
        out=out, model=model, train=train_file, qrels=qrels, queries=queries, corpus=corpus, qrels_split=qrels_split,
        split_queries=parse_split(split_q) if split_q is not None else None, dev_queries=dev_queries, loss=loss,
        loss_settings=LossSettings(scale=scale if scale is not None else default_scale, margin=margin, gamma=gamma,
                                   distill_mode=distill_mode, logq=logq),
        item_frequency=item_frequency, negatives=negatives, negative_ratio=negative_ratio, mine_from=mine_from,
        mine_range=mine_range, mine_margin=mine_margin, core_terms=core_terms, teacher_run=teacher_run,
        teacher_depth=teacher_depth, teacher_transform=teacher_transform, query_mix=query_mix, mix_size=mix_size,
        train_settings=TrainSettings(epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, warmup=warmup,
                                     max_seq_length=max_seq_length, seed=seed, eval_every=eval_every,
                                     threads=threads),
        eval_corpus_size=eval_corpus_size, baseline_run=baseline_run, eval_k=eval_k, no_eval=no_eval, overwrite=overwrite,
    )
    res = run_finetune(opts)
    st = res.manifest.stats
    if json_out:
        common.print_json({"out": str(out), **st})
        return
    stdout.print(f"[green]wrote[/] {out}: {st['steps']} steps in {st['seconds']:.0f}s, final loss {st['final_loss']:.4f}")
    if res.comparison is not None:
        from rich.table import Table

        rep = res.comparison.report
        t = Table(title=f"held-out queries ({res.comparison.queries}): stock vs finetuned, exact search")
        t.add_column("model", style="bold")
        for m in rep.measures:
            t.add_column(m.name, justify="right")
        for name, vals in rep.means.items():
            cells = [f"{vals[m.name]:.4f}" for m in rep.measures]
            if name != "stock":
                cells = [c + f" [dim](p={rep.pvalues[name][m.name]:.3f})[/]" for c, m in zip(cells, rep.measures)]
            t.add_row(name, *cells)
        stdout.print(t)
        stdout.print(f"held-out queries and qrels: {out}/heldout.queries.jsonl, {out}/heldout.qrels.tsv")
    stdout.print(f"time ({res.manifest.params['threads']} threads): {res.phases.summary()}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)
