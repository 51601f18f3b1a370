"""ScaNN backend (Google Research, github.com/google-research/google-research/tree/master/scann; Guo et al.,
"Accelerating Large-Scale Inference with Anisotropic Vector Quantization", ICML 2020).

- `tree_ah` (default): a k-means tree of `--num-leaves` partitions, asymmetric hashing (`--dims-per-block`
  dimensions per 4-bit code, anisotropic loss `--anisotropic-threshold`) to score the candidates of the
  `--num-leaves-to-search` nearest leaves, then exact float32 re-scoring of the best `--reorder`.
- `brute_force`: ScaNN's exact float32 scan (the reference configuration).

Metrics: ip and cosine use ScaNN's dot_product (cosine on the normalised vectors), l2 its squared_l2; scores are
the dot product / cosine, or the negative squared distance. Builds are seeded (`--seed` sets the partitioner's and
the hasher's clustering and sampling seeds; the tree starts from k-means++ centres, as ScaNN's random start ignores
the seed) and byte-identical with the default `--threads 1`; another thread count trains another (equally good) index. ScaNN's Python API has no filter predicate: `query --filter` over-fetches
and post-filters. Its upsert/delete need document ids and an incremental config at build time, which vecrecall does
not set: a built index is static. The searcher's files live in the `scann/` folder of the index directory
(ScaNN's `serialize` with relative paths, so the directory can be moved).
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..lazy import LazyModule
from .base import Index
from .params import SEARCH, Derived, Param, Spec, default_nlist, threads_param

HINT = "pip install 'vecrecall[ann]'"
scann_ops = LazyModule("scann.scann_ops.py.scann_ops_pybind", hint=HINT)
np = LazyModule("numpy")

DIR = "scann"
FILES = ("scann_assets.pbtxt", "scann_config.pb", "dataset.npy", "hashed_dataset.npy", "datapoint_to_token.npy",
         "ah_codebook.pb", "serialized_partitioner.pb")
DISTANCES = {"ip": "dot_product", "cosine": "dot_product", "l2": "squared_l2"}
AH_CLUSTERS = 16  # ScaNN's lut16 hashing trains 16 centres per block: the fewest training vectors it takes
DEFAULT_THRESHOLD = 0.2  # ScaNN's recommended anisotropic threshold for normalised vectors (its README)
TREE = ("tree_ah",)


def _rules(params: dict[str, Any], ctx: dict[str, Any], where: str) -> None:
    if params.get("index_type") != "tree_ah":
        return
    n, dim = ctx["n"], ctx["dim"]
    if n < AH_CLUSTERS:
        raise UserError(f"--index-type tree_ah: {where} trains {AH_CLUSTERS} hashing centres per block but there are "
                        f"only {n:,} vectors; use --index-type brute_force")
    if params["num_leaves"] > n:
        raise UserError(f"--num-leaves {params['num_leaves']}: {where} takes between 1 and the number of vectors "
                        f"({n:,}); ≈√n = {default_nlist(n)} is a good start")
    size, low = params["training_sample_size"], max(params["num_leaves"], AH_CLUSTERS)
    if not low <= size <= n:
        raise UserError(f"--training-sample-size {size}: {where} takes between {low:,} (num_leaves, and at least "
                        f"{AH_CLUSTERS}) and the number of vectors ({n:,})")
    if params["dims_per_block"] > dim:
        raise UserError(f"--dims-per-block {params['dims_per_block']}: {where} takes between 1 and the dimension "
                        f"({dim}); 2 is ScaNN's recommendation")


SPEC = Spec(
    name="scann",
    summary="ScaNN: k-means tree + anisotropic hashing + exact reordering (Google)",
    index_types=("tree_ah", "brute_force"),
    type_aliases=(("tree-ah", "tree_ah"), ("brute-force", "brute_force"), ("bf", "brute_force")),
    exact_types=("brute_force",),
    params=(
        Param("num_leaves", int, "k-means tree partitions (leaves).", default=Derived("≈√n", lambda c: default_nlist(c["n"])), low=1,
              types=TREE),
        Param("training_sample_size", int, "Vectors sampled (with --seed) to train the tree and the hashing.", low=1,
              default=Derived("min(n, 100000)", lambda c: min(c["n"], 100000)), types=TREE, column=False),
        Param("dims_per_block", int, "Dimensions per asymmetric-hashing block (4 bits each).", default=2, low=1,
              types=TREE),
        Param("anisotropic_threshold", float, "Anisotropic quantisation threshold T (ScaNN's "
              "anisotropic_quantization_threshold); 0 turns it off (ip/cosine only).", low=0.0,
              default_text=f"{DEFAULT_THRESHOLD} for ip/cosine, off for l2", types=TREE),
        threads_param(TREE, "Training threads (default 1: another thread count trains another index)."),
        Param("num_leaves_to_search", int, "Leaves searched per query (raised past num_leaves: all leaves).",
              kind=SEARCH, low=1, default=Derived("num_leaves/20", lambda c: max(1, c["num_leaves"] // 20)),
              types=TREE, grid="pow2(1, num_leaves)"),
        Param("reorder", int, "Candidates re-scored exactly (ScaNN's reordering_num_neighbors); raised to k.",
              kind=SEARCH, low=1, default=Derived("10·k", lambda c: 10 * c["k"]), types=TREE),
    ),
    filter="after",
    threads=True,
    package="scann (pip install 'vecrecall[ann]')",
    requires=("scann",),
    install=HINT,
    rules=_rules,
)

_QUIET = False


def _quiet() -> None:
    """Keep ScaNN's C++ (absl) INFO/WARNING log lines off stderr (errors still show and raise): absl's
    SetMinLogLevel from ScaNN's own extension, found by pattern since the symbol carries absl's version."""
    global _QUIET
    if _QUIET:
        return
    _QUIET = True
    try:
        path = scann_ops.scann_pybind.__file__
        with open(path, "rb") as f:
            found = re.search(rb"_ZN4absl\d+lts_\d+14SetMinLogLevelENS0_18LogSeverityAtLeastE", f.read())
        if found:
            getattr(ctypes.CDLL(path), found.group().decode())(ctypes.c_int(2))  # kError
    except (OSError, AttributeError):  # another build of ScaNN: its log lines show, nothing else changes
        pass


def _config(data: Any, metric: str, params: dict[str, Any], seed: int) -> str:
    """ScaNN's text config for `params`, with the seeds set (ScaNN's builder does not take them)."""
    from google.protobuf import text_format
    from scann.proto import scann_pb2

    builder = scann_ops.builder(data, 10, DISTANCES[metric])
    if params["index_type"] == "brute_force":
        return builder.score_brute_force().create_config()
    size, threshold = params["training_sample_size"], params.get("anisotropic_threshold", float("nan"))
    # k-means++ centres: ScaNN 1.4's random initialisation gives another tree-AH index on every build whatever
    # clustering_seed says; k-means++ follows the seed.
    builder = (builder.tree(num_leaves=params["num_leaves"], num_leaves_to_search=params["num_leaves"],
                            training_sample_size=size, random_init=False)
               .score_ah(params["dims_per_block"], anisotropic_quantization_threshold=threshold or float("nan"),
                         training_sample_size=size)
               .reorder(10))
    config = text_format.Parse(builder.create_config(), scann_pb2.ScannConfig())
    config.partitioning.clustering_seed = seed
    config.hash.asymmetric_hash.clustering_seed = seed
    config.hash.asymmetric_hash.sampling_seed = seed
    return text_format.MessageToString(config)


class ScannIndex(Index):
    spec = SPEC
    errors = (RuntimeError, ValueError)
    files = (DIR,)

    def __init__(self, metric: str, dim: int, params: dict[str, Any], searcher: Any) -> None:
        super().__init__(metric, dim, params)
        self.searcher = searcher
        self._n = int(searcher.size())
        self._leaves: int | None = None
        self._reorder: int | None = None
        self._threads = os.cpu_count() or 1

    @property
    def size(self) -> int:
        return self._n

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "ScannIndex":
        params = dict(params)
        if params["index_type"] == "tree_ah":
            given = params.get("anisotropic_threshold")
            if metric == "l2" and given:
                raise UserError(f"--anisotropic-threshold {given}: the anisotropic loss applies to inner products; "
                                "leave it out for --metric l2")
            if given is None and metric != "l2":
                params["anisotropic_threshold"] = DEFAULT_THRESHOLD
        x = np.ascontiguousarray(data, dtype=np.float32)
        _quiet()
        searcher = scann_ops.create_searcher(x, _config(x, metric, params, seed), int(params.get("threads", 1)))
        return cls(metric, int(x.shape[1]), params, searcher)

    def save(self, directory: Path) -> None:
        folder = directory / DIR
        folder.mkdir()
        self.searcher.serialize(str(folder), relative_path=True)

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "ScannIndex":
        folder = directory / DIR
        if (folder / "scann_docids.pkl").exists():  # load_searcher would unpickle it; vecrecall never writes one
            raise UserError(f"{folder / 'scann_docids.pkl'}: not written by vecrecall and not loaded (a pickle can run "
                            "code); remove it or rebuild the index with vecrecall build-index")
        if not (folder / FILES[0]).is_file():  # without it ScaNN's back-compat shim would write into the directory
            raise UserError(f"{folder / FILES[0]}: missing from the scann index directory; rebuild it with "
                            "vecrecall build-index")
        _quiet()
        return cls(metric, dim, params, scann_ops.load_searcher(str(folder), assets_backcompat_shim=False))

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        used, why = dict(params), {}
        leaves = int(self.params.get("num_leaves", 0))
        if "num_leaves_to_search" in used and used["num_leaves_to_search"] > leaves:
            used["num_leaves_to_search"] = leaves
            why["num_leaves_to_search"] = f"ScaNN searches at most num_leaves = {leaves} leaves"
        if "reorder" in used and used["reorder"] < k:
            used["reorder"] = k
            why["reorder"] = f"ScaNN returns at most the reordered candidates and -k is {k}"
        return used, why

    def _apply(self, used: dict[str, Any]) -> None:
        self._leaves = used.get("num_leaves_to_search")
        self._reorder = used.get("reorder")

    def set_threads(self, n: int | None) -> int | None:
        previous, self._threads = self._threads, int(n) if n else (os.cpu_count() or 1)
        self.searcher.set_num_threads(self._threads)
        return previous

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        x = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self._n)
        if self._threads > 1 and len(x) > 1:
            rows, dist = self.searcher.search_batched_parallel(x, k, self._reorder, self._leaves)
        else:
            rows, dist = self.searcher.search_batched(x, k, self._reorder, self._leaves)
        empty = np.isnan(dist)  # ScaNN pads a short result list with NaN distances (and row 0)
        pos = np.where(empty, -1, rows.astype(np.int64))
        scores = np.where(empty, -np.inf, -dist if self.metric == "l2" else dist).astype(np.float32)
        return scores, pos
