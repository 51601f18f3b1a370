"""vecrecall finetune-two-tower: train user and item towers on an interaction log → user/item embeddings artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def finetune_two_tower(
    log: Path = typer.Option(..., "--log", help="Interaction log (CSV/TSV/Parquet): user, item, timestamp[, label][, query]."),
    out: Path = typer.Option(..., "--out", help="Model directory: items/ and users/ (embeddings artifacts), heldout.csv, seen.csv, weights."),
    user_col: Optional[str] = typer.Option(None, "--user-col", help="User column (default: user_id, user, userid, uid)."),
    item_col: Optional[str] = typer.Option(None, "--item-col", help="Item column (default: item_id, item, itemid, iid)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="Timestamp column, unix seconds or ISO 8601 (default: timestamp, time, ts, datetime, date)."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Label column: > 0 clicked, 0 shown but not clicked (default: label, click, clicked; none = all clicked)."),
    query_col: Optional[str] = typer.Option(None, "--query-col", help="Query text column for the user tower (default: query, query_text)."),
    duplicates: str = typer.Option("drop", "--duplicates", help="Repeated (user, item) positives: drop (keep the earliest, report the count) or refuse."),
    items: Optional[Path] = typer.Option(None, "--items", help="Item table (CSV/TSV/Parquet): id, text and categorical feature columns."),
    item_id_col: Optional[str] = typer.Option(None, "--item-id-col", help="Id column of --items (default: item_id, item, itemid, iid, movieid, id)."),
    item_text: Optional[str] = typer.Option(None, "--item-text", help="Comma list of --items columns joined as the item text, e.g. title,genres."),
    item_features: Optional[str] = typer.Option(None, "--item-features", help="Comma list of categorical --items columns (values split on --feature-sep)."),
    users: Optional[Path] = typer.Option(None, "--users", help="User table (CSV/TSV/Parquet): id and categorical feature columns."),
    user_id_col: Optional[str] = typer.Option(None, "--user-id-col", help="Id column of --users."),
    user_features: Optional[str] = typer.Option(None, "--user-features", help="Comma list of categorical --users columns."),
    feature_sep: str = typer.Option("|", "--feature-sep", help="Separator of multi-valued features ('Comedy|Drama')."),
    split: str = typer.Option("leave-last-out", "--split", help="leave-last-out (each user's last interaction held out) or cutoff."),
    cutoff: Optional[str] = typer.Option(None, "--cutoff", help="--split cutoff: rows before this time train (unix seconds or ISO 8601)."),
    until: Optional[str] = typer.Option(None, "--until", help="--split cutoff: end of the held-out window (default: the end of the log)."),
    min_interactions: int = typer.Option(5, "--min-interactions", help="Drop users with fewer positive interactions."),
    text_model: str = typer.Option("default", "--text-model", help="Frozen encoder of item and query texts: default (MiniLM), a model directory, hash:DIM, or none."),
    dim: int = typer.Option(64, "--dim", help="Dimension of the user and item vectors."),
    hidden: int = typer.Option(128, "--hidden", help="Hidden width of each tower's MLP (0: one linear layer)."),
    history: int = typer.Option(50, "--history", help="Recent items averaged into the user tower (0: none)."),
    loss: str = typer.Option("softmax", "--loss", help="softmax (in-batch), sampled-softmax (random negatives) or pairwise (ln(1+exp(−γ(s⁺−s⁻))))."),
    negatives: Optional[str] = typer.Option(None, "--negatives", help="Comma list of in-batch, random, impressions (default: in-batch; sampled-softmax: random)."),
    num_random: int = typer.Option(100, "--num-random", help="Random negatives per batch (uniform over the catalogue, shared by the batch's rows)."),
    impressions_per_row: int = typer.Option(5, "--impressions-per-row", help="Impression negatives per positive (shown in the same request, not clicked)."),
    logq: bool = typer.Option(False, "--logq-correction", help="Subtract ln p_j (item frequency) from in-batch logits while training (not at serving)."),
    temperature: float = typer.Option(0.05, "--temperature", help="Softmax temperature τ (logits = cosine / τ)."),
    gamma: float = typer.Option(10.0, "--gamma", help="Slope γ of the pairwise loss."),
    epochs: int = typer.Option(10, "--epochs", help="Passes over the training interactions."),
    batch_size: int = typer.Option(256, "--batch-size", help="Interactions per batch (in-batch negatives = batch size − 1)."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="Adam weight decay."),
    id_dropout: float = typer.Option(0.1, "--id-dropout", help="Share of training rows whose user/item id embedding is zeroed, so cold-start ids (scored without one) are trained for."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Warm start from a previous finetune-two-tower directory (new ids get fresh rows)."),
    train_since: Optional[str] = typer.Option(None, "--train-since", help="Train only on interactions at or after this time (histories still reach back): with --init-from, the daily incremental update."),
    threads: int = typer.Option(1, "--threads", help="Torch threads (results are byte-identical only for the same count)."),
    seed: int = common.SEED,
    no_cache: bool = common.NO_CACHE,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Train a two-tower recall model on an interaction log with a chronological split; write the user and item
    vectors as embeddings artifacts, the held-out interactions as qrels and each user's training items.

    Example: vecrecall finetune-two-tower --log ratings.csv --item-col movieId --items movies.csv --item-text title,genres --item-features genres --out runs/ml/tt
    """
    from ..progress import out as stdout
    from ..twotower.log import LogSpec, split_names
    from ..twotower.negatives import parse_negatives
    from ..twotower.pipeline import Job, TableSpec, finetune_two_tower as run
    from ..twotower.split import SplitSpec, parse_time_option
    from ..twotower.trainer import TrainSpec

    job = Job(
        log=log,
        log_spec=LogSpec(user_col, item_col, time_col, label_col, query_col, duplicates),
        items=TableSpec(items, item_id_col, tuple(split_names(item_text)), tuple(split_names(item_features)), feature_sep),
        users=TableSpec(users, user_id_col, (), tuple(split_names(user_features)), feature_sep),
        split=SplitSpec(split, parse_time_option(cutoff, "--cutoff"), parse_time_option(until, "--until"), min_interactions),
        text_model=text_model, dim=dim, hidden=hidden, history=history, impressions_per_row=impressions_per_row,
        train=TrainSpec(loss=loss, negatives=parse_negatives(negatives, loss), num_random=num_random, logq=logq,
                        temperature=temperature, gamma=gamma, epochs=epochs, batch_size=batch_size, lr=lr,
                        weight_decay=weight_decay, id_dropout=id_dropout, seed=seed, threads=threads),
        use_cache=not no_cache,
    )
    m = run(job, out, overwrite, init_from, parse_time_option(train_since, "--train-since"))
    s = m.stats
    if json_out:
        common.print_json({"out": str(out), **s})
        return
    stdout.print(f"split {s['mode']}: {s['users']:,} users (≥ {s['min_interactions']} interactions; {s['users_dropped']:,} "
                 f"dropped), {s['train_interactions']:,} training interactions, {s['requests']:,} held-out requests "
                 f"({s['heldout_interactions']:,} interactions); {s['duplicates_dropped']:,} repeated interactions dropped")
    stdout.print(f"cold start in the held-out set: {s['cold_start_users']:,} users without training interactions, "
                 f"{s['cold_start_items']:,} items never trained on ({s['cold_start_heldout']:,} held-out interactions); "
                 "scored by their feature/text parts only")
    stdout.print(f"trained {s['epochs'] if 'epochs' in s else len(s['epoch_loss'])} epochs, {s['steps']:,} steps in "
                 f"{s['train_s']:.1f}s; loss {s['epoch_loss'][0] if s['epoch_loss'] else float('nan'):.4f} → "
                 f"{s['epoch_loss'][-1] if s['epoch_loss'] else float('nan'):.4f}")
    stdout.print(f"[green]wrote[/] {out}: items/ ({s['catalogue_items']:,} item vectors), users/ ({s['requests']:,} "
                 f"request vectors), heldout.csv, seen.csv")


def register(app: typer.Typer) -> None:
    app.command("finetune-two-tower")(finetune_two_tower)
