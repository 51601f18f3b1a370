"""The index interface every backend implements, and the registry that finds backends by name.

Conventions shared by all backends:
- metrics are `ip`, `l2` and `cosine` (cosine = inner product of L2-normalised vectors; the caller normalises);
- `search` returns (scores, positions) of shape (n_queries, k): higher score = better for every metric
  (l2 reports the negative squared distance), position -1 = empty slot;
- positions are row numbers of the vectors given to `build`; the index directory maps them to ids.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError

METRICS = ("ip", "l2", "cosine")

# name -> "module:Class"; imported only when that backend is used, so `vecrecall --help` stays fast.
REGISTRY: dict[str, str] = {
    "faiss": "vecrecall.indexes.faiss:FaissIndex",
    "hnswlib": "vecrecall.indexes.hnswlib:HnswlibIndex",
    "annoy": "vecrecall.indexes.annoy:AnnoyIndex",
    "milvus": "vecrecall.indexes.milvus:MilvusIndex",
    "bm25": "vecrecall.indexes.bm25:BM25Index",
}


def option(name: str) -> str:
    """The command-line spelling of a parameter name (`ef_search` → `--ef-search`)."""
    return "--" + name.replace("_", "-")


class Index(ABC):
    """One built index of one backend."""

    backend: ClassVar[str]
    input_kind: ClassVar[str] = "vectors"  # "vectors" or "text"
    metrics: ClassVar[tuple[str, ...]] = METRICS
    # True when `search(..., allowed=mask)` applies a boolean row mask before ranking (metadata pre-filter);
    # otherwise the query stage over-fetches and post-filters.
    supports_filter: ClassVar[bool] = False

    def __init__(self, metric: str, dim: int, params: dict[str, Any]) -> None:
        self.metric = metric
        self.dim = dim
        self.params = params
        self.timings: dict[str, float] = {}  # e.g. train_s, recorded in the index manifest's stats

    @classmethod
    @abstractmethod
    def build(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "Index":
        """Build from an (n, dim) float32 matrix (or texts for text backends). `params` are checked here."""

    @classmethod
    def output_params(cls, params: dict[str, Any], out: Path, overwrite: bool) -> dict[str, Any]:
        """Build params completed with the destination (for backends that keep data elsewhere, e.g. a server)."""
        return params

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the native index file(s) into `directory`."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "Index":
        """Load what `save` wrote, in any process."""

    @abstractmethod
    def search(self, queries: Any, k: int, **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, positions) for each query row."""

    def search_params(self) -> tuple[str, ...]:
        """The search parameters this index takes (e.g. ('nprobe',))."""
        return ()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "metric": self.metric, "dim": self.dim, **self.params}

    def check_search_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """Drop unset parameters and refuse any this index does not take."""
        given = {k: v for k, v in given.items() if v is not None}
        allowed = self.search_params()
        for name in given:
            if name not in allowed:
                takes = ", ".join(option(a) for a in allowed) or "no search parameters"
                raise UserError(f"{option(name)} does not apply to {self.label()} (it takes: {takes})")
        return given

    def label(self) -> str:
        kind = self.params.get("index_type")
        return f"{self.backend} {kind}" if kind else self.backend


def get_backend(name: str) -> type[Index]:
    """The Index class registered under `name`; unknown names list the known ones."""
    target = REGISTRY.get(name)
    if target is None:
        raise UserError(f"--backend {name}: unknown backend; choose one of {', '.join(sorted(REGISTRY))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def check_metric(metric: str, backend: type[Index]) -> None:
    if metric not in backend.metrics:
        raise UserError(f"--metric {metric}: unknown metric for {backend.backend}; choose one of {', '.join(backend.metrics)}")


def refuse_unknown(params: dict[str, Any], allowed: set[str], what: str) -> dict[str, Any]:
    """Keep the set parameters; refuse any that do not apply to `what` (e.g. 'faiss Flat')."""
    given = {k: v for k, v in params.items() if v is not None}
    extra = sorted(set(given) - allowed)
    if extra:
        takes = ", ".join(option(a) for a in sorted(allowed)) or "no build parameters"
        raise UserError(f"{option(extra[0])} does not apply to {what} (it takes: {takes})")
    return given


def pad_results(scores: list[np.ndarray], positions: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack ragged per-query results into (n, k) arrays padded with -inf / -1."""
    s = np.full((len(scores), k), -np.inf, dtype=np.float32)
    p = np.full((len(scores), k), -1, dtype=np.int64)
    for i, (sc, po) in enumerate(zip(scores, positions)):
        s[i, : len(sc)] = sc[:k]
        p[i, : len(po)] = po[:k]
    return s, p
