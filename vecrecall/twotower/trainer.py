"""The training loop: seeded shuffles, id dropout and negative draws from one torch.Generator, Adam, CPU.

Same data, spec and seed → the same weights, byte for byte: every random draw comes from generators seeded with
`seed`, torch runs with deterministic algorithms and a fixed number of threads (`threads`, default 1: a different
thread count may change float summation order and so the last bits).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import UserError
from ..progress import progress
from .features import Examples
from .losses import LOSSES, Batch, pairwise_loss, softmax_loss
from .model import TwoTower
from .negatives import KINDS


@dataclass(frozen=True)
class TrainSpec:
    loss: str = "softmax"
    negatives: tuple[str, ...] = ("in-batch",)
    num_random: int = 100
    logq: bool = False
    temperature: float = 0.05
    gamma: float = 10.0
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    id_dropout: float = 0.1
    seed: int = 0
    threads: int = 1

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise UserError(f"--loss {self.loss}: choose one of {', '.join(LOSSES)}")
        if any(k not in KINDS for k in self.negatives):
            raise UserError(f"--negatives: kinds are {', '.join(KINDS)}")
        if self.loss == "softmax" and "in-batch" not in self.negatives:
            raise UserError("--loss softmax is the in-batch softmax: --negatives must include in-batch "
                            "(for random negatives only, use --loss sampled-softmax)")
        if self.loss == "sampled-softmax" and ("in-batch" in self.negatives or "random" not in self.negatives):
            raise UserError("--loss sampled-softmax draws random negatives instead of in-batch ones: --negatives must "
                            "include random and not in-batch")
        if not self.negatives:
            raise UserError("--negatives: at least one kind is needed")
        checks = [("--epochs", self.epochs >= 1, "an integer ≥ 1"), ("--batch-size", self.batch_size >= 2, "an integer ≥ 2"),
                  ("--lr", self.lr > 0, "a number > 0"), ("--temperature", self.temperature > 0, "a number > 0"),
                  ("--gamma", self.gamma > 0, "a number > 0"), ("--weight-decay", self.weight_decay >= 0, "a number ≥ 0"),
                  ("--id-dropout", 0 <= self.id_dropout < 1, "a number in [0, 1)"),
                  ("--threads", self.threads >= 1, "an integer ≥ 1"), ("--num-random", self.num_random >= 0, "an integer ≥ 0")]
        for option, ok, valid in checks:
            if not ok:
                raise UserError(f"{option} {getattr(self, option[2:].replace('-', '_'))}: out of range; use {valid}")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "negatives": list(self.negatives)}


@contextlib.contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """Deterministic torch kernels and a fixed thread count for the block; the previous settings come back after."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def log_popularity(items: np.ndarray, n_catalogue: int) -> np.ndarray:
    """ln p_j: item j's share of the training positives (items without any get the share of one, never −inf)."""
    counts = np.bincount(items, minlength=n_catalogue).astype(np.float64)
    return np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0)).astype(np.float32)


def train(model: TwoTower, ex: Examples, spec: TrainSpec, n_catalogue: int, description: str = "training") -> dict[str, Any]:
    """Train `model` in place on `ex`; returns per-epoch mean losses and seconds."""
    spec.check()
    gen = torch.Generator().manual_seed(spec.seed)
    with deterministic(spec.threads):
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
        log_p = torch.as_tensor(log_popularity(ex.item, n_catalogue)) if spec.logq else None
        tensors = {k: torch.as_tensor(getattr(ex, k)) for k in ("user", "item", "history", "query", "impressions")}
        use_imp = "impressions" in spec.negatives and ex.impressions.shape[1] > 0
        in_batch = "in-batch" in spec.negatives
        n = len(ex)
        steps = spec.epochs * ((n + spec.batch_size - 1) // spec.batch_size)
        losses, t0 = [], time.perf_counter()
        model.train()
        with progress(description, steps, "steps") as advance:
            for _ in range(spec.epochs):
                order = torch.randperm(n, generator=gen)
                total, count = 0.0, 0
                for start in range(0, n, spec.batch_size):
                    idx = order[start : start + spec.batch_size]
                    if len(idx) < 2:
                        advance(1)
                        continue
                    loss = _step(model, {k: v[idx] for k, v in tensors.items()}, spec, gen, in_batch, use_imp, log_p, n_catalogue)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    count += len(idx)
                    advance(1)
                losses.append(total / max(count, 1))
        model.eval()
    return {"epoch_loss": [round(x, 6) for x in losses], "train_s": round(time.perf_counter() - t0, 2),
            "examples": n, "steps": steps}


def _step(model: TwoTower, b: dict[str, torch.Tensor], spec: TrainSpec, gen: torch.Generator, in_batch: bool,
          use_imp: bool, log_p: torch.Tensor | None, n_catalogue: int) -> torch.Tensor:
    size = len(b["item"])
    keep_u = keep_i = None
    if spec.id_dropout > 0:
        keep_u = (torch.rand(size, generator=gen) >= spec.id_dropout).float()
        keep_i = (torch.rand(size, generator=gen) >= spec.id_dropout).float()
    batch = Batch(model.users(b["user"], b["history"], b["query"], keep_u), model.items(b["item"], keep_i), b["item"])
    if "random" in spec.negatives:
        batch.random_items = torch.randint(n_catalogue, (spec.num_random,), generator=gen)
        batch.random = model.items(batch.random_items)
    if use_imp:
        imp = b["impressions"]
        valid = imp >= 0
        vecs = torch.zeros(*imp.shape, model.spec.dim, dtype=batch.users.dtype)
        if bool(valid.any()):
            vecs[valid] = model.items(imp[valid])
        batch.impressions, batch.impression_items = vecs, imp
    if spec.loss == "pairwise":
        return pairwise_loss(batch, spec.gamma, in_batch)
    return softmax_loss(batch, spec.temperature, in_batch, log_p, n_catalogue)
