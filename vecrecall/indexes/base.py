"""The index interface every backend implements, and the registry that finds backends by name.

Adding a backend = one module + one registry entry
--------------------------------------------------
1. Write `vecrecall/indexes/<name>.py` with a subclass of `Index` and its `spec` (a `params.Spec`):
   its parameters as data (`Param`: name, type, default — a value or a `Derived` of n/dim —, valid range or choices,
   help, build or search, the index types it applies to, a default sweep grid), its index types, capabilities
   (metrics, filter, threads, add/delete, server, input text|vectors) and `rules` for cross-parameter checks
   (reuse `params.ivf_rules`, `nlist_param`, `hnsw_params`… where they fit). Import the native library lazily
   (`lib = LazyModule("lib")` from vecrecall.lazy, or inside methods): `vecrecall --help` reads every spec and must
   stay fast. An optional library: `LazyModule("lib", hint="pip install 'vecrecall[extra]'")` and, in the spec,
   `requires=("lib",)`, `install=` that command (a build or sweep then refuses it before reading any data). Implement:
     fit(data, metric, params, seed)   build from an (n, dim) float32 matrix (text backends: a table with `text`);
                                       `params` arrive validated and completed with defaults
     save(directory) / open(directory, metric, dim, params)   native files in the index directory, any process
     _apply(used)                      set search parameters on the native index (ann-benchmarks'
                                       set_query_arguments); called once per setting, never inside timed loops
     _search(queries, k, allowed)      (scores, positions), each (n_queries, k), higher score = better,
                                       position -1 = empty slot; `allowed` is a row mask when spec.filter says so
     size                              rows in the index
   and, where they apply: clamp(params, k) (values the library really uses, e.g. ef raised to k), set_threads(n),
   search_names() (when a built index takes other search parameters than its type says), `errors` (the library's
   exception types: they become one-line messages), `files` (native file names, named when one cannot be read),
   `mutable_files` (opening rewrites them), output_params (a destination outside the index directory, e.g. a server).
2. Add `"<name>": "vecrecall.indexes.<name>:<Class>"` to `REGISTRY` below, and the optional dependency to
   pyproject.toml's extras.
That is all: build-index and query options, `vecrecall backends`, sweep grids and their validation come from the spec,
and tests/test_conformance.py refuses a registered backend without a conformance test class.

Conventions shared by all backends:
- metrics are `ip`, `l2` and `cosine` (cosine = inner product of L2-normalised vectors; the caller normalises);
- `search` returns (scores, positions) of shape (n_queries, k): higher score = better for every metric
  (l2 reports the negative squared distance), position -1 = empty slot;
- positions are row numbers of the vectors given to `build`; the index directory maps them to ids.

Updates (`vecrecall update-index`, flow in vecrecall/indexes/update.py): rows are compacted, never tombstoned in
ids.parquet. After deleting rows and adding vectors, the index answers exactly as one built over the surviving rows
(in their old order) followed by the added rows, numbered 0..n-1. A backend declares in its spec what it can do in
place (`add`, `delete`: True, False or the index types that can) and implements `delete_rows`/`add_rows` (plus
`open_to_update`/`save_update` when the native index must be opened in a copy, `stored_vectors` when it keeps the
vectors exactly, so the flow can rebuild it when it cannot update in place). A backend whose native labels cannot be
renumbered (hnswlib's mark_deleted, Milvus primary keys) keeps `labels` (row → native label, saved as labels.npy);
`search` then translates row masks and results, so callers only ever see row numbers.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Iterator

from ..errors import UserError
from ..lazy import LazyModule
from .params import BUILD, SEARCH, SearchSettings, Spec, option

np = LazyModule("numpy")

METRICS = ("ip", "l2", "cosine")
LABELS_FILE = "labels.npy"  # row → native label, for backends that keep deleted vectors under fixed labels

# name -> "module:Class". The modules import their native library lazily, so reading a spec is cheap.
REGISTRY: dict[str, str] = {
    "faiss": "vecrecall.indexes.faiss:FaissIndex",
    "hnswlib": "vecrecall.indexes.hnswlib:HnswlibIndex",
    "annoy": "vecrecall.indexes.annoy:AnnoyIndex",
    "milvus": "vecrecall.indexes.milvus:MilvusIndex",
    "bm25": "vecrecall.indexes.bm25:BM25Index",
    "usearch": "vecrecall.indexes.usearch:UsearchIndex",
    "scann": "vecrecall.indexes.scann:ScannIndex",
}

__all__ = ["Index", "REGISTRY", "METRICS", "LABELS_FILE", "read_labels", "get_backend", "get_spec", "specs", "option", "check_metric", "pad_results"]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Index(ABC):
    """One built index of one backend (see the module docstring for what a backend implements)."""

    spec: ClassVar[Spec]
    # The native library's exception types: raised by fit/_search they become one-line UserErrors naming the backend.
    errors: ClassVar[tuple[type[BaseException], ...]] = ()
    files: ClassVar[tuple[str, ...]] = ()  # native files (or folders) `save` may write, named in load errors
    # True when opening the index rewrites its files (milvus-lite's database): their sizes are then not recorded.
    mutable_files: ClassVar[bool] = False
    # row → native label when they differ (after deletes on hnswlib or Milvus); None: the label is the row
    labels: Any = None

    def __init__(self, metric: str, dim: int, params: dict[str, Any]) -> None:
        self.metric = metric
        self.dim = dim
        self.params = params
        self.timings: dict[str, float] = {}  # e.g. train_s, recorded in the index manifest's stats
        self.settings: SearchSettings | None = None
        self._auto = True  # settings are the defaults for the last k (re-made when k changes)
        self._notes: list[str] = []

    # ------------------------------------------------------------------ what it is

    @classmethod
    def backend_name(cls) -> str:
        return cls.spec.name

    @property
    def backend(self) -> str:
        return self.spec.name

    @property
    def input_kind(self) -> str:
        return self.spec.input

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.spec.metrics

    @property
    def supports_filter(self) -> bool:
        """True when `search(..., allowed=mask)` applies a boolean row mask before ranking (metadata pre-filter);
        otherwise the query stage over-fetches and post-filters."""
        return self.spec.filter == "before ranking"

    @property
    def index_type(self) -> str | None:
        return self.params.get("index_type")

    @property
    @abstractmethod
    def size(self) -> int:
        """Rows in the index."""

    def label(self) -> str:
        return self.spec.label(self.index_type)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "metric": self.metric, "dim": self.dim, **self.params}

    # ------------------------------------------------------------------ build

    @classmethod
    def build(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "Index":
        """Validate `params` against the spec (names, types, ranges, defaults, cross-parameter rules) before the
        library sees them, then `fit`. Library errors become one line naming the backend."""
        n, dim = cls.data_shape(data)
        internal = {k: v for k, v in params.items() if k.startswith("_")}
        resolved = cls.spec.resolve({k: v for k, v in params.items() if not k.startswith("_")}, BUILD,
                                    {"n": n, "dim": dim})
        with cls.library_errors(f"{cls.spec.label(resolved.get('index_type'))} could not build an index over "
                                f"{n:,} rows"):
            return cls.fit(data, metric, {**resolved, **internal}, seed)

    @staticmethod
    def data_shape(data: Any) -> tuple[int, int]:
        shape = getattr(data, "shape", None)
        if shape is not None and len(shape) == 2 and not hasattr(data, "columns"):
            return int(shape[0]), int(shape[1])
        return len(data), 0

    @classmethod
    @abstractmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "Index":
        """Build from validated, completed `params`."""

    @classmethod
    def output_params(cls, params: dict[str, Any], out: Path, overwrite: bool) -> dict[str, Any]:
        """Build params completed with the destination (for backends that keep data elsewhere, e.g. a server).
        Names starting with '_' are passed to `fit` without validation and are not recorded."""
        return params

    @classmethod
    @contextlib.contextmanager
    def library_errors(cls, what: str) -> Iterator[None]:
        try:
            yield
        except UserError:
            raise
        except cls.errors as exc:  # type: ignore[misc]
            raise UserError(f"{what}: {_first_line(exc)}") from exc

    # ------------------------------------------------------------------ persistence

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the native index file(s) into `directory`."""

    @classmethod
    def load(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "Index":
        """`open` what `save` wrote; an unreadable native file is one line naming it."""
        try:
            index = cls.open(Path(directory), metric, dim, params)
            index.labels = read_labels(Path(directory))
            return index
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to parse a damaged file is the file's fault
            where = next((Path(directory) / f for f in cls.files if (Path(directory) / f).exists()), Path(directory))
            raise UserError(f"{where}: cannot be read as a {cls.spec.name} index ({_first_line(exc)}); the file is "
                            "damaged or incomplete: rebuild it with vecrecall build-index") from exc

    @classmethod
    @abstractmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "Index":
        """Load what `save` wrote, in any process."""

    def nbytes(self) -> int:
        """Size of the saved index files (what a sweep reports as index_bytes)."""
        tmp = Path(tempfile.mkdtemp(prefix="vecrecall-size-"))
        try:
            self.save(tmp)
            return sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------------ search

    def search_names(self) -> list[str]:
        """The search parameters this index takes (e.g. ['nprobe'])."""
        return self.spec.names(SEARCH, self.index_type)

    def search_params(self) -> tuple[str, ...]:
        return tuple(self.search_names())

    def configure(self, given: dict[str, Any] | None, k: int) -> SearchSettings:
        """Validate and set search parameters once (ann-benchmarks' set_query_arguments): defaults filled in, the
        values the library will really use computed (`clamp`) and applied to the native index. Returns both, with a
        note for each value the user gave that the library changes."""
        given = {kk: v for kk, v in (given or {}).items() if v is not None}
        ctx = {"n": self.size, "dim": self.dim, "k": k, **self.params}
        requested = self.spec.resolve(given, SEARCH, ctx, self.index_type, allowed=self.search_names())
        used, reasons = self.clamp(dict(requested), k)
        notes = [f"{option(name)} {requested[name]} runs as {used[name]} on {self.label()}: {reasons[name]}"
                 for name in requested if name in given and name in reasons and used.get(name) != requested[name]]
        self._apply(used)
        self.settings = SearchSettings(requested, used, k, notes)
        self._auto = not given
        return self.settings

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        """(the values the library really uses, why each changed one changed) for search `params` at this k."""
        return params, {}

    def _apply(self, used: dict[str, Any]) -> None:
        """Set the search parameters on the native index."""

    def search(self, queries: Any, k: int, allowed: Any = None, **search_params: Any) -> tuple[Any, Any]:
        """Top-k (scores, positions) for each query row. Search parameters given here are set first (`configure`);
        without them the last configured ones apply (the backend's defaults if none were)."""
        if search_params or self.settings is None or (self._auto and self.settings.k != k):
            self.configure(search_params, k)
        try:
            if self.labels is None:
                return self._search(queries, k, allowed)
            scores, found = self._search(queries, k, None if allowed is None else self._label_mask(allowed))
            return scores, self._label_rows(found)
        except UserError:
            raise
        except self.errors as exc:  # type: ignore[misc]
            raise UserError(f"{self.label()} search failed: {_first_line(exc)}") from exc

    @abstractmethod
    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        """Top-k with the configured parameters."""

    def check_search_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """The given search parameters, checked (names, types, ranges) without applying them."""
        return self.spec.check({kk: v for kk, v in given.items() if v is not None}, SEARCH, self.index_type,
                               allowed=self.search_names())

    def note(self, text: str) -> None:
        """Something the user should see once (e.g. a query with no indexable term); the query stage prints it."""
        if text not in self._notes:
            self._notes.append(text)

    def take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    # ------------------------------------------------------------------ updates (vecrecall.indexes.update)

    @property
    def rows(self) -> int:
        """Rows the index directory maps (ids.parquet's length): `size` less the deleted vectors a backend keeps."""
        return len(self.labels) if self.labels is not None else self.size

    def cannot(self, op: str) -> str | None:
        """Why `op` ('add' or 'delete') cannot run in place on this index (update-index then rebuilds it), or None."""
        if self.spec.can(op, self.index_type):
            return None
        return f"{self.label()} cannot {op} vectors in place"

    @classmethod
    def open_to_update(cls, base: Path, work: Path, metric: str, dim: int, params: dict[str, Any]) -> "Index":
        """The index directory `base`, opened to be changed and saved into the new directory `work` (`base` itself
        is never written: a backend whose native files change in place copies them into `work` first)."""
        return cls.load(base, metric, dim, params)

    def delete_rows(self, rows: Any) -> None:
        """Delete `rows` (sorted unique positions); the others keep their order, renumbered 0..n-1."""
        raise UserError(self.cannot("delete") or f"{self.label()} cannot delete vectors in place")

    def add_rows(self, data: Any) -> None:
        """Append an (m, dim) float32 matrix (already normalised for cosine) as rows n..n+m-1."""
        raise UserError(self.cannot("add") or f"{self.label()} cannot add vectors in place")

    def save_update(self, directory: Path) -> None:
        """Write the updated index into `directory` (the `work` of `open_to_update`)."""
        self.save(directory)
        if self.labels is not None:
            np.save(directory / LABELS_FILE, np.asarray(self.labels, dtype=np.int64))

    def stored_vectors(self) -> Any:
        """The (rows, dim) float32 vectors in row order when the index keeps them exactly, else None (compressed
        codes, text): what update-index rebuilds from when the backend cannot update in place."""
        return None

    def current_labels(self) -> Any:
        """The native label of every row."""
        return self.labels if self.labels is not None else np.arange(self.size, dtype=np.int64)

    def _label_mask(self, allowed: Any) -> Any:
        mask = np.zeros(int(self.labels.max()) + 1 if len(self.labels) else 0, dtype=bool)
        mask[self.labels] = np.asarray(allowed, dtype=bool)
        return mask

    def _label_rows(self, found: Any) -> Any:
        cached = getattr(self, "_inverse", None)
        if cached is not None and cached[0] is self.labels:
            inverse = cached[1]
        else:  # built once per labels array (update methods assign a new one)
            inverse = np.full(int(self.labels.max()) + 1 if len(self.labels) else 0, -1, dtype=np.int64)
            inverse[self.labels] = np.arange(len(self.labels))
            self._inverse = (self.labels, inverse)
        found = np.asarray(found, dtype=np.int64)
        inside = (found >= 0) & (found < len(inverse))
        return np.where(inside, inverse[np.where(inside, found, 0)], -1)

    # ------------------------------------------------------------------ resources

    def set_threads(self, n: int | None) -> int | None:
        """Limit the threads the native index searches with (None: its default); returns the previous setting.
        OpenMP/BLAS pools are capped by the caller (threadpoolctl); this is for a library's own pool."""
        return None


def read_labels(directory: Path) -> Any:
    """The row → native label map an updated index directory keeps (None when the label is the row)."""
    path = Path(directory) / LABELS_FILE
    return np.load(path) if path.is_file() else None


def get_backend(name: str) -> type[Index]:
    """The Index class registered under `name`; unknown names list the known ones."""
    target = REGISTRY.get(str(name).lower() if name else name)
    if target is None:
        raise UserError(f"--backend {name}: unknown backend; choose one of {', '.join(sorted(REGISTRY))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_spec(name: str) -> Spec:
    return get_backend(name).spec


def specs() -> dict[str, Spec]:
    """Every registered backend's spec, by name (imports no native library)."""
    return {name: get_spec(name) for name in REGISTRY}


def check_metric(metric: str, backend: type[Index]) -> None:
    if metric not in backend.spec.metrics:
        raise UserError(f"--metric {metric}: unknown metric for {backend.spec.name}; choose one of "
                        f"{', '.join(backend.spec.metrics)}")


def pad_results(scores: list[Any], positions: list[Any], k: int, dtype: Any = None) -> tuple[Any, Any]:
    """Stack ragged per-query results into (n, k) arrays padded with -inf / -1."""
    s = np.full((len(scores), k), -np.inf, dtype=dtype or np.float32)
    p = np.full((len(scores), k), -1, dtype=np.int64)
    for i, (sc, po) in enumerate(zip(scores, positions)):
        s[i, : min(len(sc), k)] = sc[:k]
        p[i, : min(len(po), k)] = po[:k]
    return s, p
