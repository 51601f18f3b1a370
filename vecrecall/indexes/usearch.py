"""usearch backend: an HNSW graph with vectors stored as f32, bf16, f16 or i8 (`--quantization`, `--connectivity`,
`--expansion-add`; search `--expansion-search`). Reference: Unum's USearch (github.com/unum-cloud/usearch).

Metrics map to usearch's `ip` (distance 1 − x·q), `cos` (1 − cos) and `l2sq` (squared distance), and scores follow
vecrecall's convention: ip/cosine report 1 − distance (the dot product / cosine), l2 the negative squared distance.
With `--quantization f16|bf16|i8` the stored vectors are rounded and the scores are computed on them (approximate).
usearch stores i8 as round(127·x) clipped to ±127, which is a cosine-only encoding: i8 is refused for ip and l2.

Builds insert with one thread by default: usearch's level generator has a fixed seed (its Python API takes none),
so single-threaded builds are byte-identical whatever `--seed` says; parallel insertion (`--threads`) is not.
usearch's Python API has no filter predicate: `query --filter` over-fetches and post-filters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ..lazy import LazyModule
from .base import Index
from .params import SEARCH, Param, Spec, threads_param

HINT = "pip install 'vecrecall[ann]'"
usearch_index = LazyModule("usearch.index", hint=HINT)
np = LazyModule("numpy")

FILE = "index.usearch"
METRICS = {"ip": "ip", "l2": "l2sq", "cosine": "cos"}
ADD_BLOCK = 65536

SPEC = Spec(
    name="usearch",
    summary="HNSW graph with f32/bf16/f16/i8 vector storage (usearch)",
    index_types=("HNSW",),
    params=(
        Param("quantization", str, "Stored vector type (scores are computed on it; i8: cosine only).",
              default="f32", choices=("f32", "bf16", "f16", "i8")),
        Param("connectivity", int, "HNSW links per node (M).", default=16, low=2, high=1024),
        Param("expansion_add", int, "HNSW build beam width (efConstruction).", default=128, low=1, high=100000),
        threads_param(),
        Param("expansion_search", int, "HNSW search beam (efSearch); raised to k when smaller.", kind=SEARCH,
              default=64, low=1, high=100000, grid="pow2(16, 512)"),
    ),
    filter="after",
    threads=True,
    add=True,
    delete=True,
    package="usearch (pip install 'vecrecall[ann]')",
    requires=("usearch",),
    install=HINT,
)


class UsearchIndex(Index):
    spec = SPEC
    errors = (RuntimeError, ValueError)
    files = (FILE,)

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index
        self._threads = 0  # usearch's own pool: 0 = every core

    @property
    def size(self) -> int:
        return int(self.index.size)

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "UsearchIndex":
        if params["quantization"] == "i8" and metric != "cosine":
            raise UserError(f"--quantization i8: usearch stores i8 as round(127·x) clipped to ±127, which keeps "
                            f"cosines only; use --metric cosine, or --quantization f16 for --metric {metric}")
        n, dim = data.shape
        index = usearch_index.Index(ndim=dim, metric=METRICS[metric], dtype=params["quantization"],
                                    connectivity=int(params["connectivity"]),
                                    expansion_add=int(params["expansion_add"]))
        for start in range(0, n, ADD_BLOCK):
            block = np.ascontiguousarray(data[start : start + ADD_BLOCK], dtype=np.float32)
            index.add(np.arange(start, start + len(block), dtype=np.uint64), block, threads=int(params["threads"]))
        return cls(metric, dim, dict(params), index)

    def save(self, directory: Path) -> None:
        self.index.save(str(directory / FILE))

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "UsearchIndex":
        # The file's header records dimension, metric and vector type; restore() rebuilds the index from it.
        index = usearch_index.Index.restore(str(directory / FILE))
        if index is None:
            raise ValueError("no usearch header")
        if int(index.ndim) != dim or index.metric_kind.name.lower() != METRICS[metric].lower():
            raise UserError(f"{directory / FILE}: a usearch {index.metric_kind.name} index of dimension {index.ndim}, "
                            f"but the manifest says {metric} of dimension {dim}; rebuild it with vecrecall build-index")
        return cls(metric, dim, params, index)

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        if params["expansion_search"] >= k:
            return params, {}
        return ({**params, "expansion_search": k},
                {"expansion_search": f"usearch searches with max(expansion, k) and -k is {k}"})

    def _apply(self, used: dict[str, Any]) -> None:
        self.index.expansion_search = int(used["expansion_search"])

    def set_threads(self, n: int | None) -> int | None:
        previous, self._threads = self._threads, int(n) if n else 0
        return previous or None

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        x = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.size)
        found = self.index.search(x, k, threads=self._threads)
        if hasattr(found, "counts"):  # BatchMatches: (n, k) arrays, slots past counts[i] unused
            keys, dist, counts = found.keys, found.distances, found.counts
        else:  # one query: usearch returns only what it found
            m = len(found.keys)
            keys, dist = np.zeros((1, k), dtype=np.uint64), np.zeros((1, k), dtype=np.float32)
            keys[0, :m], dist[0, :m], counts = found.keys, found.distances, np.array([m])
        filled = np.arange(k)[None, :] < np.asarray(counts)[:, None]
        pos = np.where(filled, keys.astype(np.int64), -1)
        scores = np.where(filled, -dist if self.metric == "l2" else 1.0 - dist, -np.inf).astype(np.float32)
        return scores, pos
