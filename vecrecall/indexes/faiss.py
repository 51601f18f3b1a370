"""faiss backend: Flat, IVF, IVFPQ, HNSW, or any `--factory` string (faiss's index_factory)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..lazy import LazyModule
from ..native import quiet_call
from .base import Index
from .params import (Derived, Param, Spec, default_nlist, default_pq_m, ef_search_param, hnsw_params, ivf_rules,
                     nlist_param, nprobe_param, pq_params)

faiss = LazyModule("faiss")
np = LazyModule("numpy")

FILE = "index.faiss"
IVF_TYPES = ("IVF", "IVFPQ")
ADD_BLOCK = 65536
HNSW_UPDATE_EF = 200  # efConstruction below which update-index says an HNSW graph grown by additions loses recall
# Training sample per k-means centroid: faiss warns below 39 points per centroid and subsamples above 256
# (ClusteringParameters min/max_points_per_centroid); 64 is above the warning at a quarter of the cap's cost.
TRAIN_PER_CENTROID = 64
FACTORY_MIN_CENTROIDS = 256  # a --factory string may hold a PQ (256 centroids per sub-quantizer) without an IVF


def _min_train(params: dict[str, Any]) -> int:
    """Training needs a vector per IVF list and per PQ centroid."""
    return max(params.get("nlist", 1), 2 ** params["pq_bits"] if "pq_bits" in params else 1)


def _default_train_size(c: dict[str, Any]) -> int:
    """min(n, 64 × the most centroids one k-means trains: nlist IVF lists, 2^pq_bits PQ centroids)."""
    return min(c["n"], TRAIN_PER_CENTROID * _min_train(c))


def _rules(params: dict[str, Any], ctx: dict[str, Any], where: str) -> None:
    ivf_rules(params, ctx, where)
    n = ctx["n"]
    if "pq_bits" in params and 2 ** params["pq_bits"] > n:
        raise UserError(f"--pq-bits {params['pq_bits']}: {where} trains 2^{params['pq_bits']} = "
                        f"{2 ** params['pq_bits']:,} centroids per sub-quantizer but there are only {n:,} vectors; "
                        f"use --pq-bits {max(1, n.bit_length() - 1)} or less")
    if "train_size" in params:
        size, need = params["train_size"], _min_train(params)
        if not need <= size <= n:
            raise UserError(f"--train-size {size}: {where} takes between {need:,} (one vector per IVF list and per "
                            f"PQ centroid) and the number of vectors ({n:,})")
    if params.get("index_type") == "factory":
        for name in ("ef_construction", "train_size"):  # their defaults depend on what the factory string builds
            if name not in ctx["given"]:
                params.pop(name, None)
        if not params.get("factory"):
            raise UserError("--index-type factory: give the faiss index_factory string with --factory")
        try:
            faiss.index_factory(ctx["dim"], params["factory"])
        except RuntimeError as exc:
            raise UserError(f"--factory {params['factory']}: faiss cannot build this "
                            f"({str(exc).strip().splitlines()[-1]})") from None


SPEC = Spec(
    name="faiss",
    summary="Flat (exact), IVF, IVFPQ, HNSW, or any faiss index_factory string",
    index_types=("Flat", "IVF", "IVFPQ", "HNSW", "factory"),
    exact_types=("Flat",),
    params=(
        Param("factory", str, "faiss index_factory string, e.g. 'IVF256,SQ8' (instead of --index-type).",
              default_text="from --index-type", types=("factory",), column=False, single=True),
        nlist_param(IVF_TYPES),
        *pq_params(("IVFPQ",)),
        # after pq_bits: its default is resolved from the parameters before it
        Param("train_size", int, "Vectors sampled (with --seed) to train IVF/PQ.", low=1,
              default=Derived("min(n, 64·max(nlist, 2^pq_bits))", _default_train_size),
              types=(*IVF_TYPES, "factory"), column=False),
        hnsw_params(("HNSW",), m=32, ef_construction=40, m_high=10000)[0],
        Param("ef_construction", int, "HNSW build beam width (efConstruction).", default=40, low=1,
              types=("HNSW", "factory")),
        Param("threads", int, "Build threads (HNSW builds default to 1: parallel insertion is not deterministic).",
              low=1, default_text="1 for HNSW, all CPUs otherwise", column=False),
        nprobe_param((*IVF_TYPES, "factory"), default=1),
        ef_search_param(("HNSW", "factory"), default=16),
    ),
    metrics=("ip", "l2", "cosine"),
    filter="before ranking (Flat, IVF, HNSW; other factories after)",
    threads=True,
    add=True,
    delete=("Flat", "IVF", "IVFPQ"),  # HNSW graphs have no removal: update-index rebuilds them
    package="faiss-cpu",
    rules=_rules,
    infer_type=lambda given: "factory" if given.get("factory") else None,
)


def _faiss_metric(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


class FaissIndex(Index):
    spec = SPEC
    errors = (RuntimeError,)
    files = (FILE,)

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index
        # Looked up once: each lookup is a SWIG call that would otherwise add ~10 µs to every search.
        self._ivf, self._hnsw = _ivf(index), _hnsw(index)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @staticmethod
    def factory_string(index_type: str, params: dict[str, Any]) -> str:
        if index_type == "Flat":
            return "Flat"
        if index_type == "IVF":
            return f"IVF{params['nlist']},Flat"
        if index_type == "IVFPQ":
            # 'np': no polysemous training (annealing that search never uses here; 10–20 s per build for nothing).
            return f"IVF{params['nlist']},PQ{params['pq_m']}x{params['pq_bits']}np"
        if index_type == "HNSW":
            return f"HNSW{params['hnsw_m']},Flat"
        return params["factory"]

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "FaissIndex":
        n, dim = data.shape
        params = dict(params)
        index_type = params["index_type"]
        factory = cls.factory_string(index_type, params)
        index = faiss.index_factory(dim, factory, _faiss_metric(metric))
        hnsw = _hnsw(index)
        if hnsw is not None and params.get("ef_construction"):
            hnsw.efConstruction = int(params["ef_construction"])
        was_trained = bool(index.is_trained)
        train_s = 0.0
        if not was_trained:
            ivf = _ivf(index)
            if ivf is not None:
                ivf.cp.seed = seed
                if ivf.nlist > n:
                    raise UserError(f"--factory {factory}: {ivf.nlist} IVF lists but only {n:,} vectors")
            # From a VectorRows (build-index) data[rows] reads the sample block by block, not the whole matrix.
            size = int(params.get("train_size")
                       or TRAIN_PER_CENTROID * max(FACTORY_MIN_CENTROIDS, getattr(ivf, "nlist", 1)))
            size = min(size, n)
            rows = np.sort(np.random.default_rng(seed).choice(n, size, replace=False)) if size < n else slice(None)
            params["train_size"] = size
            t0 = time.perf_counter()
            try:
                quiet_call("faiss", index.train, np.ascontiguousarray(data[rows], dtype=np.float32))
            except RuntimeError as exc:
                raise UserError(f"faiss training failed for {factory}: {str(exc).strip().splitlines()[-1]} "
                                "(more vectors or a smaller --nlist/--pq-bits may help)") from None
            train_s = time.perf_counter() - t0
        # Parallel HNSW insertion is not deterministic; one thread unless --threads asks for more.
        threads = params.get("threads") or (1 if hnsw is not None else 0)
        previous = faiss.omp_get_max_threads()
        if threads:
            faiss.omp_set_num_threads(int(threads))
        try:
            step = _add_step(hnsw, n)
            for start in range(0, n, step):
                index.add(np.ascontiguousarray(data[start : start + step], dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(previous)
        params["factory"] = factory
        built = cls(metric, dim, params, index)
        if not was_trained:
            built.timings["train_s"] = round(train_s, 3)
        return built

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / FILE))

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "FaissIndex":
        return cls(metric, dim, params, faiss.read_index(str(directory / FILE)))

    def search_names(self) -> list[str]:
        """Any IVF structure takes nprobe and any HNSW one ef_search (a --factory index by what it contains)."""
        names = []
        if self._ivf is not None:
            names.append("nprobe")
        if self._hnsw is not None:
            names.append("ef_search")
        return names

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        used, why = dict(params), {}
        if "nprobe" in used and used["nprobe"] > self._ivf.nlist:
            used["nprobe"] = int(self._ivf.nlist)
            why["nprobe"] = f"faiss probes at most nlist = {self._ivf.nlist} lists"
        if "ef_search" in used and used["ef_search"] < k:
            used["ef_search"] = k
            why["ef_search"] = f"faiss HNSW searches with max(efSearch, k) and -k is {k}"
        return used, why

    def _apply(self, used: dict[str, Any]) -> None:
        if "nprobe" in used:
            self._ivf.nprobe = int(used["nprobe"])
        if "ef_search" in used:
            self._hnsw.efSearch = int(used["ef_search"])

    @property
    def supports_filter(self) -> bool:  # type: ignore[override]
        """Flat, IVF and HNSW indexes take an IDSelector (metadata pre-filter); other factories post-filter."""
        return isinstance(self.index, (faiss.IndexFlat, faiss.IndexIVF, faiss.IndexHNSW))

    def _selector_params(self, allowed: Any) -> tuple[Any, Any]:
        """faiss SearchParameters restricting the search to the rows where `allowed` is True (bitmap kept alive)."""
        bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
        sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        if isinstance(self.index, faiss.IndexIVF):
            return faiss.SearchParametersIVF(sel=sel, nprobe=self.index.nprobe), (bits, sel)
        if isinstance(self.index, faiss.IndexHNSW):
            return faiss.SearchParametersHNSW(sel=sel, efSearch=self.index.hnsw.efSearch), (bits, sel)
        return faiss.SearchParameters(sel=sel), (bits, sel)

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        x = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is not None:
            params, _keep = self._selector_params(allowed)
            scores, positions = self.index.search(x, k, params=params)
        else:
            scores, positions = self.index.search(x, k)
        if self.metric == "l2":
            scores = -scores
        return scores, positions

    def set_threads(self, n: int | None) -> int | None:
        previous = faiss.omp_get_max_threads()
        if n:
            faiss.omp_set_num_threads(int(n))
        return previous

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "ntotal": int(self.index.ntotal)}

    # ---------------------------------------------------------------- updates (vecrecall.indexes.update)

    def _structure(self) -> tuple[str | None, bool]:
        """('flat' | 'ivf' | 'hnsw' | None, whether a transform such as PCA comes first) of the native index."""
        idx, transformed = faiss.downcast_index(self.index), False
        while isinstance(idx, faiss.IndexPreTransform):
            idx, transformed = faiss.downcast_index(idx.index), True
        if isinstance(idx, faiss.IndexFlatCodes):
            return "flat", transformed
        if isinstance(idx, faiss.IndexIVF):
            return "ivf", transformed
        if isinstance(idx, faiss.IndexHNSW):
            return "hnsw", transformed
        return None, transformed

    def cannot(self, op: str) -> str | None:
        """Flat-coded and IVF indexes add and delete in place (any factory string); HNSW graphs only add."""
        kind, _ = self._structure()
        if kind in ("flat", "ivf") or (kind == "hnsw" and op == "add"):
            return None
        if kind == "hnsw":
            return f"{self.label()} cannot delete vectors (a faiss HNSW graph has no removal)"
        return f"faiss {self.params.get('factory', self.index_type)} cannot {op} vectors in place"

    def delete_rows(self, rows: Any) -> None:
        """remove_ids; flat codes close the gaps themselves, IVF lists keep their ids, which are renumbered here."""
        if self.cannot("delete"):
            super().delete_rows(rows)
        n = int(self.index.ntotal)
        rows = np.asarray(rows, dtype=np.int64)
        self.index.remove_ids(faiss.IDSelectorBatch(rows))
        if self._ivf is not None:
            remap = np.full(n, -1, dtype=np.int64)
            keep = np.ones(n, dtype=bool)
            keep[rows] = False
            remap[keep] = np.arange(int(keep.sum()))
            lists = self._ivf.invlists
            for no in range(self._ivf.nlist):
                size = lists.list_size(no)
                if not size:
                    continue
                ids = remap[faiss.rev_swig_ptr(lists.get_ids(no), size)]
                codes = faiss.rev_swig_ptr(lists.get_codes(no), size * lists.code_size).copy()
                lists.update_entries(no, 0, size, faiss.swig_ptr(ids), faiss.swig_ptr(codes))

    def add_rows(self, data: Any) -> None:
        """`add` (faiss numbers new vectors ntotal, ntotal+1…); HNSW on one thread unless --threads, as in fit."""
        if self.cannot("add"):
            super().add_rows(data)
        threads = self.params.get("threads") or (1 if self._hnsw is not None else 0)
        previous = faiss.omp_get_max_threads()
        if threads:
            faiss.omp_set_num_threads(int(threads))
        try:
            step = _add_step(self._hnsw, len(data))
            for start in range(0, len(data), step):
                self.index.add(np.ascontiguousarray(data[start : start + step], dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(previous)
        if self._hnsw is not None and self._hnsw.efConstruction < HNSW_UPDATE_EF:
            # Measured (bench/update_recall.py, 50k clustered, 10k added): at efConstruction 40 the grown graph had
            # recall@10 0.03 below a fresh build; at 200 it equalled one.
            self.note(f"{self.label()} was built with efConstruction {self._hnsw.efConstruction}: graphs grown by "
                      f"additions at that beam lose recall against a fresh build; build with --ef-construction "
                      f"{HNSW_UPDATE_EF} or more, or run vecrecall rebuild from time to time")

    def stored_vectors(self) -> Any:
        """Flat, HNSW-over-Flat and IVF-Flat indexes keep the vectors exactly; compressed codes return None."""
        idx = faiss.downcast_index(self.index)
        n = int(idx.ntotal)
        if isinstance(idx, (faiss.IndexFlat, faiss.IndexHNSWFlat)):
            return idx.reconstruct_n(0, n) if n else np.zeros((0, self.dim), dtype=np.float32)
        if isinstance(idx, faiss.IndexIVFFlat):
            out = np.zeros((n, self.dim), dtype=np.float32)
            for no, ids, vectors in self._ivf_entries():
                out[ids] = vectors
            return out
        return None

    def _ivf_entries(self, sample: Any = None) -> Any:
        """(list number, ids, decoded vectors) per non-empty IVF list; `sample` (per list: offsets) restricts them."""
        ivf, lists = self._ivf, self._ivf.invlists
        for no in range(ivf.nlist):
            size = lists.list_size(no)
            take = np.arange(size) if sample is None else sample.get(no, np.zeros(0, dtype=np.int64))
            if not size or not len(take):
                continue
            ids = faiss.rev_swig_ptr(lists.get_ids(no), size)[take].copy()
            codes = faiss.rev_swig_ptr(lists.get_codes(no), size * lists.code_size).reshape(size, -1)[take].copy()
            out = np.empty((len(take), ivf.d), dtype=np.float32)
            list_nos = np.full(len(take), no, dtype=np.int64)  # kept alive: swig_ptr holds no reference
            ivf.decode_vectors(len(take), faiss.swig_ptr(codes), faiss.swig_ptr(list_nos), faiss.swig_ptr(out))
            yield no, ids, out

    def list_sizes(self) -> Any:
        """Entries per IVF list (None for other structures or a transformed IVF)."""
        kind, transformed = self._structure()
        if kind != "ivf" or transformed:
            return None
        lists = self._ivf.invlists
        return np.array([lists.list_size(no) for no in range(self._ivf.nlist)], dtype=np.int64)

    def indexed_centroid_distances(self, offsets: dict[int, Any]) -> Any:
        """Euclidean distance from stored entries (as decoded from their codes) to the centroid of their list.
        `offsets`: list number → entry offsets in that list."""
        centroids = self._ivf.quantizer.reconstruct_n(0, self._ivf.nlist)
        parts = [np.linalg.norm(v - centroids[no], axis=1) for no, _, v in self._ivf_entries(offsets)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _ivf(index: Any) -> Any:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _add_step(hnsw: Any, n: int) -> int:
    """Rows per `add` call: ADD_BLOCK, or all n for an HNSW graph. faiss inserts the points of one add call highest
    level first; added in blocks, each block's upper-level points join a graph already full of lower-level ones,
    and the graph is worse (bench/scale.py, 200k × 384, M 32, efConstruction 40: recall@100 0.934 at efSearch 128
    against 0.972 for one add). The graph holds every vector anyway, so one call costs one more copy of the data."""
    return max(1, n) if hnsw is not None else ADD_BLOCK


def _hnsw(index: Any) -> Any:
    idx = faiss.downcast_index(index)
    return getattr(idx, "hnsw", None)


__all__ = ["FaissIndex", "SPEC", "default_nlist", "default_pq_m"]
