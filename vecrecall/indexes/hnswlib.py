"""hnswlib backend: an HNSW graph (`--hnsw-m`, `--ef-construction`; search `--ef-search`).

hnswlib raises "Cannot return the results in a contiguous 2D array" when its graph search finds fewer than k
elements for a query (small ef or M, many duplicate vectors). vecrecall returns what the graph finds instead: the
short lists are padded with -1, as faiss pads its empty slots, and the query stage counts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..lazy import LazyModule
from .base import Index, pad_results
from .params import Spec, ef_search_param, hnsw_params, threads_param

hnswlib = LazyModule("hnswlib")
np = LazyModule("numpy")

FILE = "index.hnsw"
SPACES = {"ip": "ip", "l2": "l2", "cosine": "cosine"}
ADD_BLOCK = 65536

SPEC = Spec(
    name="hnswlib",
    summary="HNSW graph (hnswlib); filtered search inside the graph",
    index_types=("HNSW",),
    params=(
        *hnsw_params((), m=16, ef_construction=200, m_high=10000),
        threads_param(),
        ef_search_param((), default=10, default_text="10"),
    ),
    filter="before ranking",
    threads=True,
    add=True,
    delete=True,
    package="hnswlib",
)


class HnswlibIndex(Index):
    spec = SPEC
    errors = (RuntimeError,)
    files = (FILE,)

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index
        self._ef = 10

    @property
    def size(self) -> int:
        return int(self.index.get_current_count())

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "HnswlibIndex":
        n, dim = data.shape
        index = hnswlib.Index(space=SPACES[metric], dim=dim)
        index.init_index(max_elements=n, ef_construction=int(params["ef_construction"]), M=int(params["hnsw_m"]),
                         random_seed=seed)
        # Parallel insertion is not deterministic; one thread unless --threads asks for more.
        for start in range(0, n, ADD_BLOCK):
            block = np.ascontiguousarray(data[start : start + ADD_BLOCK], dtype=np.float32)
            index.add_items(block, np.arange(start, start + len(block)), num_threads=int(params["threads"]))
        return cls(metric, dim, dict(params), index)

    def save(self, directory: Path) -> None:
        self.index.save_index(str(directory / FILE))

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "HnswlibIndex":
        index = hnswlib.Index(space=SPACES[metric], dim=dim)
        index.load_index(str(directory / FILE))
        return cls(metric, dim, params, index)

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        if params["ef_search"] >= k:
            return params, {}
        return {**params, "ef_search": k}, {"ef_search": f"hnswlib searches with max(ef, k) and -k is {k}"}

    def _apply(self, used: dict[str, Any]) -> None:
        self._ef = int(used["ef_search"])
        self.index.set_ef(self._ef)

    def set_threads(self, n: int | None) -> int | None:
        previous = int(self.index.num_threads)
        self.index.set_num_threads(int(n) if n else -1)
        return previous

    def _scores(self, dist: Any) -> Any:
        return (-dist if self.metric == "l2" else 1.0 - dist).astype(np.float32)

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        x = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.size)
        if allowed is not None:
            return self._filtered(x, k, allowed)
        try:
            labels, dist = self.index.knn_query(x, k=k)
        except RuntimeError:
            return self._short(x, k)
        return self._scores(dist), labels.astype(np.int64)

    def _found(self, q: Any, k: int, keep: Any = None) -> tuple[Any, Any]:
        """The largest result the graph search returns for one query, at most k (a binary search over k: with ef
        fixed at ≥ k the candidates found do not depend on k, so success is monotone in k)."""
        lo, hi, best = 0, k, (np.zeros((1, 0), dtype=np.uint64), np.zeros((1, 0), dtype=np.float32))
        while lo < hi:
            mid = (lo + hi + 1) // 2
            try:
                best = self.index.knn_query(q[None, :], k=mid, num_threads=1, filter=keep)
                lo = mid
            except RuntimeError:
                hi = mid - 1
        return best

    def _short(self, x: Any, k: int) -> tuple[Any, Any]:
        """Per query, what the graph finds (fewer than k for some queries), padded with -1."""
        self.index.set_ef(max(self._ef, k))
        scores, rows = [], []
        try:
            for q in x:
                try:
                    labels, dist = self.index.knn_query(q[None, :], k=k, num_threads=1)
                except RuntimeError:
                    labels, dist = self._found(q, k)
                scores.append(self._scores(dist[0]))
                rows.append(labels[0].astype(np.int64))
        finally:
            self.index.set_ef(self._ef)
        return pad_results(scores, rows, k)

    def _filtered(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        """Per query: hnswlib's filtered search; when it finds fewer than k allowed labels, retry with a doubled ef
        (up to the index size), then return what it finds."""
        keep = lambda label: bool(allowed[label])  # noqa: E731
        n = self.size
        k_allowed = min(k, int(np.count_nonzero(allowed)))
        scores, rows = [], []
        try:
            for q in queries:
                e = max(self._ef, k_allowed)
                labels, dist = np.zeros((1, 0), dtype=np.int64), np.zeros((1, 0), dtype=np.float32)
                while k_allowed:
                    self.index.set_ef(e)
                    try:
                        labels, dist = self.index.knn_query(q[None, :], k=k_allowed, num_threads=1, filter=keep)
                        break
                    except RuntimeError:
                        if e >= n:
                            labels, dist = self._found(q, k_allowed, keep)
                            break
                        e = min(n, 2 * e)
                scores.append(self._scores(dist[0]))
                rows.append(labels[0].astype(np.int64))
        finally:
            self.index.set_ef(self._ef)
        return pad_results(scores, rows, k)

    # ---------------------------------------------------------------- updates (vecrecall.indexes.update)
    # hnswlib labels are fixed once added: a deleted vector stays in the graph marked deleted (mark_deleted: it still
    # guides searches but is never returned) and `labels` maps rows to the labels that remain. Added vectors get new
    # slots rather than the deleted ones' (replace_deleted): on 4,000 clustered vectors with 10% deleted, reusing slots
    # cost 0.018 recall@10 at ef 10 against a fresh build, new slots none. `vecrecall rebuild` drops the deleted ones.

    def delete_rows(self, rows: Any) -> None:
        labels = self.current_labels()
        for label in labels[rows].tolist():
            self.index.mark_deleted(int(label))
        self.labels = np.delete(labels, rows)

    def add_rows(self, data: Any) -> None:
        """New labels above every label in use (deleted ones included), in new slots."""
        m = len(data)
        if not m:
            return
        count = int(self.index.get_current_count())
        if count + m > int(self.index.get_max_elements()):
            self.index.resize_index(count + m)
        first = max(self.index.get_ids_list(), default=-1) + 1
        new = np.arange(first, first + m, dtype=np.int64)
        for start in range(0, m, ADD_BLOCK):
            block = np.ascontiguousarray(data[start : start + ADD_BLOCK], dtype=np.float32)
            self.index.add_items(block, new[start : start + len(block)], num_threads=int(self.params.get("threads", 1)))
        if self.labels is not None:  # else no row was ever deleted: the new labels are the new rows
            self.labels = np.concatenate([self.labels, new])

    def stored_vectors(self) -> Any:
        if not self.rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.index.get_items(self.current_labels(), return_type="numpy"), dtype=np.float32)
