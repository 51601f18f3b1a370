"""annoy backend: a forest of random-projection trees (`--n-trees`; search `--search-k`).

Metrics map to annoy's: cosine → angular (score = 1 − d²/2, the cosine), ip → dot, l2 → euclidean (score = −d²),
so scores follow the same convention as the other backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex as _Annoy

from .base import Index, pad_results, refuse_unknown

FILE = "index.ann"
ANNOY_METRIC = {"cosine": "angular", "ip": "dot", "l2": "euclidean"}


def _to_score(metric: str, dist: np.ndarray) -> np.ndarray:
    if metric == "cosine":
        return 1.0 - dist**2 / 2.0
    if metric == "l2":
        return -(dist**2)
    return dist


class AnnoyIndex(Index):
    backend = "annoy"

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index

    @classmethod
    def build(cls, data: np.ndarray, metric: str, params: dict[str, Any], seed: int = 0) -> "AnnoyIndex":
        params = dict(params)
        params.pop("index_type", None)
        params = refuse_unknown(params, {"n_trees", "threads"}, "annoy")
        params.setdefault("n_trees", 50)
        n, dim = data.shape
        index = _Annoy(dim, ANNOY_METRIC[metric])
        index.set_seed(seed)
        for start in range(0, n, 65536):
            block = np.asarray(data[start : start + 65536], dtype=np.float32)
            for i, vec in enumerate(block):
                index.add_item(start + i, vec)
        index.build(int(params["n_trees"]), n_jobs=int(params.get("threads") or 1))
        params["index_type"] = "trees"
        return cls(metric, dim, params, index)

    def save(self, directory: Path) -> None:
        self.index.save(str(directory / FILE))

    @classmethod
    def load(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "AnnoyIndex":
        index = _Annoy(dim, ANNOY_METRIC[metric])
        index.load(str(directory / FILE))
        return cls(metric, dim, params, index)

    def search_params(self) -> tuple[str, ...]:
        return ("search_k",)

    def search(self, queries: np.ndarray, k: int, **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        search_k = int(self.check_search_params(search_params).get("search_k") or -1)
        scores, positions = [], []
        for q in np.asarray(queries, dtype=np.float32):
            ids, dist = self.index.get_nns_by_vector(q, k, search_k=search_k, include_distances=True)
            positions.append(np.asarray(ids, dtype=np.int64))
            scores.append(_to_score(self.metric, np.asarray(dist, dtype=np.float64)).astype(np.float32))
        return pad_results(scores, positions, k)
