"""annoy backend: a forest of random-projection trees (`--n-trees`; search `--search-k`).

Metrics map to annoy's: cosine → angular (score = 1 − d²/2, the cosine), ip → dot, l2 → euclidean (score = −d²),
so scores follow the same convention as the other backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..lazy import LazyModule
from .base import Index
from .params import SEARCH, Param, Spec, threads_param

annoy = LazyModule("annoy")
np = LazyModule("numpy")

FILE = "index.ann"
ANNOY_METRIC = {"cosine": "angular", "ip": "dot", "l2": "euclidean"}
ADD_BLOCK = 65536

SPEC = Spec(
    name="annoy",
    summary="random-projection tree forest (annoy)",
    index_types=("trees",),
    params=(
        Param("n_trees", int, "Trees in the forest (more: better recall, bigger index).", default=50, low=1,
              high=100000),
        threads_param(),
        Param("search_k", int, "Nodes inspected per query.", kind=SEARCH, low=1, default_text="n_trees·k",
              grid="times(n_trees*k, 1, 2, 4, 8, 16)"),
    ),
    threads=True,
    package="annoy",
)


def _to_score(metric: str, dist: Any) -> Any:
    if metric == "cosine":
        return 1.0 - dist**2 / 2.0
    if metric == "l2":
        return -(dist**2)
    return dist


class AnnoyIndex(Index):
    spec = SPEC
    errors = (OSError, IndexError)  # what annoy raises (its C++ errors arrive as these)
    files = (FILE,)

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index
        self._search_k = -1

    @property
    def size(self) -> int:
        return int(self.index.get_n_items())

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "AnnoyIndex":
        n, dim = data.shape
        index = annoy.AnnoyIndex(dim, ANNOY_METRIC[metric])
        index.set_seed(seed)
        for start in range(0, n, ADD_BLOCK):
            block = np.asarray(data[start : start + ADD_BLOCK], dtype=np.float32)
            for i, vec in enumerate(block):
                index.add_item(start + i, vec)
        index.build(int(params["n_trees"]), n_jobs=int(params["threads"]))
        return cls(metric, dim, dict(params), index)

    def save(self, directory: Path) -> None:
        self.index.save(str(directory / FILE))

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "AnnoyIndex":
        index = annoy.AnnoyIndex(dim, ANNOY_METRIC[metric])
        index.load(str(directory / FILE))
        return cls(metric, dim, params, index)

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        """Without --search-k annoy inspects n_trees·k nodes; that value is recorded."""
        if "search_k" not in params:
            return {**params, "search_k": int(self.index.get_n_trees()) * k}, {}
        return params, {}

    def _apply(self, used: dict[str, Any]) -> None:
        self._search_k = int(used["search_k"])

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        x = np.asarray(queries, dtype=np.float32)
        dist = np.zeros((len(x), k), dtype=np.float64)
        pos = np.full((len(x), k), -1, dtype=np.int64)
        get, search_k = self.index.get_nns_by_vector, self._search_k
        for i, q in enumerate(x):  # annoy searches one vector per call; results go straight into the arrays
            ids, d = get(q, k, search_k=search_k, include_distances=True)
            pos[i, : len(ids)] = ids
            dist[i, : len(d)] = d
        scores = _to_score(self.metric, dist).astype(np.float32)
        scores[pos < 0] = -np.inf
        return scores, pos

    # ---------------------------------------------------------------- updates (vecrecall.indexes.update)
    # An annoy forest is immutable once built (the spec says add/delete no): update-index rebuilds it from these.

    def stored_vectors(self) -> Any:
        """The vectors as annoy stores them (the float32 values given to add_item), in row order."""
        get = self.index.get_item_vector
        out = np.empty((self.size, self.dim), dtype=np.float32)
        for i in range(self.size):
            out[i] = get(i)
        return out
