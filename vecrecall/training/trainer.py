"""Training rows → datasets and loss modules → sentence-transformers' trainer, with a rich progress bar showing the loss.

Rows are grouped into datasets by shape, each with its own loss instance, and trained together with the
proportional multi-dataset sampler (a batch never mixes datasets):
* `pairs`   (anchor=q, positive=d⁺)                     — in-batch negatives only (mnrl)
* `docneg`  (anchor=q, positive=d⁺, negative=d⁻)         — random / in-batch / mined / given negatives
* `coredel` (anchor=d⁺, positive=q, negative=q′)         — core-word deletion: with one shared tower, s(d⁺, q) =
                                                            s(q, d⁺), so this asks s(q, d⁺) > s(q′, d⁺)
* `labelled` (sentence1, sentence2, label)               — contrastive (1 / 0) and distill BCE (teacher y)
* `margins` (query, positive, negative, label=y⁺ − y⁻)   — distill with --distill-mode margin-mse
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import UserError
from .losses import LOSSES, LossSettings
from .negatives import Example


@dataclass
class TrainSettings:
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 2e-5
    warmup: float = 0.1
    max_seq_length: int | None = None
    seed: int = 0
    eval_every: int | None = None
    threads: int | None = None  # torch intra-op threads; None: torch's default (the machine's cores)


def _offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # sentence-transformers' model-card widgets and weight loading


def configure_torch(threads: int | None = None) -> int:
    """Set torch's intra-op threads (None keeps torch's default, one per core) and return the count in use.

    Also makes idle OpenMP threads sleep instead of spin (OMP_WAIT_POLICY=PASSIVE, unless already set): when other
    processes load the cores, spinning threads wait on barriers for threads that are not running, and a training
    step measured ~10× slower with 2 threads than with 1 on this 2-core machine at load ≈ 9 (PASSIVE: no slowdown).
    The policy is read when torch loads, so it only applies if torch was not imported yet in this process.
    """
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: must be ≥ 1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    return int(torch.get_num_threads())


CHUNK_COST_TOKENS = 32  # a forward call's fixed cost, in padded tokens, when length-bucketing a training batch


def length_chunks(lengths: list[int], cost: int = CHUNK_COST_TOKENS) -> list[tuple[int, int]]:
    """Split `lengths` (sorted longest first) into runs [start, stop) that minimise the padded tokens
    Σ rows × longest plus `cost` per run (dynamic programming over the split points; n ≤ a few hundred rows)."""
    n = len(lengths)
    best = [0.0] + [math.inf] * n  # best[j]: cheapest split of the first j rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            c = best[i] + (j - i) * max(1, lengths[i]) + cost
            if c < best[j]:
                best[j], cut[j] = c, i
    runs, j = [], n
    while j > 0:
        runs.append((cut[j], j))
        j = cut[j]
    return runs[::-1]


@contextlib.contextmanager
def length_bucketed(model: Any, cost: int = CHUNK_COST_TOKENS) -> Iterator[None]:
    """While the block runs, `model(features)` embeds a batch in chunks of rows of similar length, each padded only
    to its own longest row, and returns the rows' `sentence_embedding` in the batch's order.

    A random training batch is padded to its longest text: on sample_data a batch of 32 documents averages ~54
    tokens but is padded to ~140, so most of the encoder's work (and of the activations kept for the backward pass)
    goes to padding. A row's embedding does not depend on the other rows of its batch (attention is masked per row,
    mean pooling skips padding), so the loss and its gradient are those of the padded batch up to float rounding;
    only dropout draws its masks in other shapes. Rows are sorted by length (longest first, ties in batch order)
    and cut where `length_chunks` says. Batches without right-padded `input_ids` / `attention_mask` go through
    unchanged. The model's own forward is restored on exit.
    """
    import torch

    plain = model.forward
    had_own = "forward" in vars(model)
    right_padded = getattr(model.tokenizer, "padding_side", "right") == "right"

    def forward(features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        ids, mask = features.get("input_ids"), features.get("attention_mask")
        if (not right_padded or not isinstance(ids, torch.Tensor) or not isinstance(mask, torch.Tensor)
                or ids.ndim != 2 or mask.shape != ids.shape or "cu_seq_lens_q" in features):
            return plain(features, **kwargs)
        n, width = ids.shape
        lengths = mask.sum(dim=1)
        order = torch.argsort(lengths, descending=True, stable=True)
        ranked = lengths[order].tolist()
        runs = length_chunks(ranked, cost)
        if len(runs) == 1 and ranked[0] == width:
            return plain(features, **kwargs)
        embeddings = []
        for start, stop in runs:
            rows, longest = order[start:stop], max(1, int(ranked[start]))
            sub = {k: (v[rows][:, :longest] if v.ndim == 2 and v.shape == (n, width) else v[rows])
                   if isinstance(v, torch.Tensor) and v.ndim >= 1 and v.shape[0] == n else v
                   for k, v in features.items()}
            embeddings.append(plain(sub, **kwargs)["sentence_embedding"])
        out = dict(features)
        out["sentence_embedding"] = torch.cat(embeddings)[torch.argsort(order)]
        return out

    model.forward = forward
    try:
        yield
    finally:
        if had_own:
            model.forward = plain
        else:
            del model.forward  # the class's forward shows through again


def build_tables(examples: list[Example], loss: str, settings: LossSettings,
                 log_p: Callable[[Example], float] | None = None) -> dict[str, dict[str, list[Any]]]:
    """Column dicts per dataset name for the rows of `loss` (see the module docstring)."""
    shape = LOSSES[loss].columns
    tables: dict[str, dict[str, list[Any]]] = {}

    def add(name: str, **cols: Any) -> None:
        t = tables.setdefault(name, {c: [] for c in cols})
        for c, v in cols.items():
            t[c].append(v)

    for e in examples:
        if loss == "distill" and settings.distill_mode == "margin-mse":
            add("margins", query=e.query, positive=e.positive, negative=e.neg_doc, label=float(e.label))
        elif loss == "distill":
            add("labelled", sentence1=e.query, sentence2=e.positive, label=float(e.label))
        elif shape == "pair+label":
            if e.neg_doc is None:
                add("labelled", sentence1=e.query, sentence2=e.positive, label=1.0)
            else:
                add("labelled", sentence1=e.neg_query, sentence2=e.neg_doc, label=0.0)
        elif e.neg_doc is None:
            if loss != "mnrl":
                continue  # triplet-shaped losses need an explicit negative
            extra = {"label": log_p(e)} if log_p else {}
            add("pairs", anchor=e.query, positive=e.positive, **extra)
        elif e.doc_negative:
            extra = {"label": log_p(e)} if log_p else {}
            add("docneg", anchor=e.query, positive=e.positive, negative=e.neg_doc, **extra)
        else:
            add("coredel", anchor=e.positive, positive=e.query, negative=e.neg_query)
    if shape == "pair+label" and loss != "distill":  # one positive row per distinct (q, d⁺)
        t = tables.get("labelled")
        if t:
            seen, keep = set(), []
            for i, (a, b, y) in enumerate(zip(t["sentence1"], t["sentence2"], t["label"])):
                if y == 1.0 and (a, b) in seen:
                    continue
                seen.add((a, b))
                keep.append(i)
            tables["labelled"] = {c: [v[i] for i in keep] for c, v in t.items()}
    if not tables:
        raise UserError(f"--loss {loss}: no training rows of the shape it needs after building negatives; "
                        "triplet and pairwise need explicit negatives (--negatives random, mined, core-deletion…)")
    return tables


def build_losses(model: Any, loss: str, settings: LossSettings, names: list[str]) -> dict[str, Any]:
    """One loss module per dataset; the doc-anchored core-deletion rows never get the logQ correction."""
    spec = LOSSES[loss]
    out = {}
    for name in names:
        s = settings if name != "coredel" else LossSettings(**{**settings.__dict__, "logq": False})
        out[name] = spec.build(model, s)
    return out


class _ProgressCallback:
    """Progress over optimizer steps (vecrecall.progress: a live bar or plain lines), with the running loss beside it."""

    def __init__(self, dev_eval: Callable[[Any], float] | None, every: int | None) -> None:
        from transformers import TrainerCallback

        outer = self

        class CB(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):  # noqa: ANN001
                outer.start(state.max_steps)

            def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
                if logs and "loss" in logs:
                    outer.loss(float(logs["loss"]))

            def on_step_end(self, args, state, control, model=None, **kw):  # noqa: ANN001
                outer.step(state.global_step, kw.get("model", model))

            def on_train_end(self, args, state, control, **kw):  # noqa: ANN001
                outer.stop()

        self.callback = CB()
        self.dev_eval, self.every = dev_eval, every
        self.losses: list[tuple[int, float]] = []
        self.dev: list[tuple[int, float]] = []
        self.bar: Any = None
        self.model: Any = None
        self._step = 0

    def start(self, total: int) -> None:
        from ..progress import bar

        self.bar = bar("train", total, "steps")

    def loss(self, value: float) -> None:
        self.losses.append((self._step, value))
        if self.bar is not None:
            self.bar.update(note=f"loss {value:.4f}")

    def step(self, step: int, model: Any) -> None:
        self._step = step
        if self.bar is not None:
            self.bar.update(completed=step)
        if self.dev_eval is not None and self.every and step % self.every == 0 and model is not None:
            value = self.dev_eval(model)
            self.dev.append((step, value))
            from ..progress import console

            console.print(f"step {step}: dev nDCG@10 {value:.4f}")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class TrainResult:
    steps: int
    seconds: float
    losses: list[tuple[int, float]]
    dev: list[tuple[int, float]]


def train(model: Any, tables: dict[str, dict[str, list[Any]]], loss: str, loss_settings: LossSettings,
          settings: TrainSettings, dev_eval: Callable[[Any], float] | None = None) -> TrainResult:
    """Train `model` in place on the datasets with sentence-transformers' trainer."""
    _offline()
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from transformers import PrinterCallback, ProgressCallback, set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    set_seed(settings.seed)
    saved_length = model.max_seq_length
    if settings.max_seq_length:
        model.max_seq_length = settings.max_seq_length  # training only; the saved model keeps the base model's limit
    datasets = {name: Dataset.from_dict(cols) for name, cols in tables.items()}
    losses = build_losses(model, loss, loss_settings, list(datasets))
    with tempfile.TemporaryDirectory(prefix="vecrecall-train-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
            per_device_train_batch_size=settings.batch_size, learning_rate=settings.lr, warmup_steps=settings.warmup,
            seed=settings.seed, data_seed=settings.seed, save_strategy="no", report_to="none", logging_steps=1,
            disable_tqdm=True, use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
            batch_sampler=BatchSamplers.NO_DUPLICATES if loss == "mnrl" else BatchSamplers.BATCH_SAMPLER,
        )
        single = len(datasets) == 1
        name = next(iter(datasets))
        cb = _ProgressCallback(dev_eval, settings.eval_every)
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=datasets[name] if single else datasets,
            loss=losses[name] if single else losses, callbacks=[cb.callback],
        )
        for unwanted in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(unwanted)
        t0 = time.perf_counter()
        try:
            with length_bucketed(model):
                out = trainer.train()
        finally:
            cb.stop()
            model.max_seq_length = saved_length
        seconds = time.perf_counter() - t0
        del trainer
    model.zero_grad(set_to_none=True)
    gc.collect()  # the trainer's optimizer state (2 × the weights for AdamW) sits in reference cycles
    if any(not math.isfinite(v) for _, v in cb.losses):
        raise UserError("training diverged (loss became NaN/inf); lower --lr or raise --scale's temperature")
    return TrainResult(int(out.global_step), seconds, cb.losses, cb.dev)
