"""hnswlib backend: an HNSW graph (`--hnsw-m`, `--ef-construction`; search `--ef-search`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from .base import Index, refuse_unknown

FILE = "index.hnsw"
SPACES = {"ip": "ip", "l2": "l2", "cosine": "cosine"}


class HnswlibIndex(Index):
    backend = "hnswlib"

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index

    @classmethod
    def build(cls, data: np.ndarray, metric: str, params: dict[str, Any], seed: int = 0) -> "HnswlibIndex":
        params = dict(params)
        params.pop("index_type", None)
        params = refuse_unknown(params, {"hnsw_m", "ef_construction", "threads"}, "hnswlib")
        params.setdefault("hnsw_m", 16)
        params.setdefault("ef_construction", 200)
        n, dim = data.shape
        index = hnswlib.Index(space=SPACES[metric], dim=dim)
        index.init_index(max_elements=n, ef_construction=int(params["ef_construction"]), M=int(params["hnsw_m"]),
                         random_seed=seed)
        # Parallel insertion is not deterministic; one thread unless --threads asks for more.
        threads = int(params.get("threads") or 1)
        for start in range(0, n, 65536):
            block = np.ascontiguousarray(data[start : start + 65536], dtype=np.float32)
            index.add_items(block, np.arange(start, start + len(block)), num_threads=threads)
        params["index_type"] = "HNSW"
        return cls(metric, dim, params, index)

    def save(self, directory: Path) -> None:
        self.index.save_index(str(directory / FILE))

    @classmethod
    def load(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "HnswlibIndex":
        index = hnswlib.Index(space=SPACES[metric], dim=dim)
        index.load_index(str(directory / FILE))
        return cls(metric, dim, params, index)

    def search_params(self) -> tuple[str, ...]:
        return ("ef_search",)

    def search(self, queries: np.ndarray, k: int, **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        ef = self.check_search_params(search_params).get("ef_search")
        self.index.set_ef(int(ef) if ef else max(k, 10))
        k = min(k, self.index.get_current_count())
        labels, dist = self.index.knn_query(np.ascontiguousarray(queries, dtype=np.float32), k=k)
        scores = -dist if self.metric == "l2" else 1.0 - dist
        return scores.astype(np.float32), labels.astype(np.int64)
