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

    supports_filter = True  # knn_query(filter=...) restricts the graph search to allowed labels

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        ef = self.check_search_params(search_params).get("ef_search")
        self.index.set_ef(int(ef) if ef else max(k, 10))
        k = min(k, self.index.get_current_count())
        if allowed is not None:
            return self._filtered(np.ascontiguousarray(queries, dtype=np.float32), k, allowed, int(ef or max(k, 10)))
        labels, dist = self.index.knn_query(np.ascontiguousarray(queries, dtype=np.float32), k=k)
        scores = -dist if self.metric == "l2" else 1.0 - dist
        return scores.astype(np.float32), labels.astype(np.int64)

    def _filtered(self, queries: np.ndarray, k: int, allowed: np.ndarray, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """Per query: hnswlib's filtered search; when it finds fewer than k allowed labels, retry with a doubled ef
        (up to the index size), then with fewer results."""
        from .base import pad_results

        keep = lambda label: bool(allowed[label])  # noqa: E731
        n = self.index.get_current_count()
        k_allowed = min(k, int(np.count_nonzero(allowed)))
        scores, rows = [], []
        for q in queries:
            kk, e = k_allowed, max(ef, k_allowed)
            if kk == 0:
                scores.append(np.zeros(0, dtype=np.float32))
                rows.append(np.zeros(0, dtype=np.int64))
                continue
            while True:
                self.index.set_ef(e)
                try:
                    labels, dist = self.index.knn_query(q[None, :], k=kk, num_threads=1, filter=keep)
                    break
                except RuntimeError:
                    if e < n:
                        e = min(n, 2 * e)
                    elif kk > 1:
                        kk -= 1
                    else:
                        labels, dist = np.zeros((1, 0), dtype=np.int64), np.zeros((1, 0), dtype=np.float32)
                        break
            s = -dist[0] if self.metric == "l2" else 1.0 - dist[0]
            scores.append(s.astype(np.float32))
            rows.append(labels[0].astype(np.int64))
        self.index.set_ef(ef)
        return pad_results(scores, rows, k)
