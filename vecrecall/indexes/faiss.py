"""faiss backend: Flat, IVF, IVFPQ, HNSW, or any `--factory` string."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..errors import UserError
from .base import Index, refuse_unknown

FILE = "index.faiss"
TYPES = {
    "Flat": set(),
    "IVF": {"nlist", "train_size"},
    "IVFPQ": {"nlist", "train_size", "pq_m", "pq_bits"},
    "HNSW": {"hnsw_m", "ef_construction", "threads"},
}


def default_nlist(n: int) -> int:
    """≈ √n lists, the usual starting point (at least 1)."""
    return max(1, int(round(math.sqrt(n))))


def default_pq_m(dim: int) -> int:
    """The largest divisor of dim that is at most dim/4 (4 dims per sub-quantizer)."""
    return max(m for m in range(1, max(1, dim // 4) + 1) if dim % m == 0)


def _faiss_metric(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


class FaissIndex(Index):
    backend = "faiss"

    def __init__(self, metric: str, dim: int, params: dict[str, Any], index: Any) -> None:
        super().__init__(metric, dim, params)
        self.index = index
        # Looked up once: each lookup is a SWIG call that would otherwise add ~10 µs to every search.
        self._ivf, self._hnsw = _ivf(index), _hnsw(index)

    @staticmethod
    def factory_string(index_type: str, params: dict[str, Any], n: int, dim: int) -> str:
        if index_type == "Flat":
            return "Flat"
        if index_type in ("IVF", "IVFPQ"):
            nlist = params.setdefault("nlist", default_nlist(n))
            if nlist < 1 or nlist > n:
                raise UserError(f"--nlist {nlist}: must be between 1 and the number of vectors ({n}); "
                                f"≈√n = {default_nlist(n)} is a good start")
            if index_type == "IVF":
                return f"IVF{nlist},Flat"
            m = params.setdefault("pq_m", default_pq_m(dim))
            bits = params.setdefault("pq_bits", 8)
            if m < 1 or dim % m:
                raise UserError(f"--pq-m {m}: must divide the dimension {dim} (e.g. {default_pq_m(dim)})")
            # 'np': no polysemous training (annealing that search never uses here; 10–20 s per build for nothing).
            return f"IVF{nlist},PQ{m}x{bits}np"
        if index_type == "HNSW":
            return f"HNSW{params.setdefault('hnsw_m', 32)},Flat"
        raise UserError(f"--index-type {index_type}: unknown faiss index type; choose one of {', '.join(TYPES)} or pass --factory")

    @classmethod
    def build(cls, data: np.ndarray, metric: str, params: dict[str, Any], seed: int = 0) -> "FaissIndex":
        n, dim = data.shape
        params = dict(params)
        factory = params.pop("factory", None)
        index_type = params.pop("index_type", None) or ("factory" if factory else "Flat")
        allowed = {"nlist", "train_size", "pq_m", "pq_bits", "hnsw_m", "ef_construction", "threads"} if factory else TYPES.get(index_type)
        if allowed is None:
            raise UserError(f"--index-type {index_type}: unknown faiss index type; choose one of {', '.join(TYPES)} or pass --factory")
        params = refuse_unknown(params, allowed, f"faiss {factory or index_type}")
        if not factory:
            factory = cls.factory_string(index_type, params, n, dim)
        try:
            index = faiss.index_factory(dim, factory, _faiss_metric(metric))
        except RuntimeError as exc:
            raise UserError(f"--factory {factory}: faiss cannot build this ({str(exc).strip().splitlines()[-1]})") from None
        hnsw = _hnsw(index)
        if hnsw is not None and params.get("ef_construction"):
            hnsw.efConstruction = int(params["ef_construction"])
        was_trained = bool(index.is_trained)
        if not was_trained:
            ivf = _ivf(index)
            if ivf is not None:
                ivf.cp.seed = seed
                if ivf.nlist > n:
                    raise UserError(f"--nlist {ivf.nlist}: larger than the number of vectors ({n})")
            train_size = int(params.get("train_size") or min(n, 256 * max(1, getattr(ivf, "nlist", 1))))
            if train_size > n or train_size < 1:
                raise UserError(f"--train-size {train_size}: must be between 1 and the number of vectors ({n})")
            rows = np.sort(np.random.default_rng(seed).choice(n, train_size, replace=False)) if train_size < n else slice(None)
            params["train_size"] = train_size
            t0 = time.perf_counter()
            try:
                index.train(np.ascontiguousarray(data[rows], dtype=np.float32))
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
            for start in range(0, n, 65536):
                index.add(np.ascontiguousarray(data[start : start + 65536], dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(previous)
        params.update({"index_type": index_type, "factory": factory})
        built = cls(metric, dim, params, index)
        if not was_trained:
            built.timings["train_s"] = round(train_s, 3)
        return built

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / FILE))

    @classmethod
    def load(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "FaissIndex":
        return cls(metric, dim, params, faiss.read_index(str(directory / FILE)))

    def search_params(self) -> tuple[str, ...]:
        names = []
        if self._ivf is not None:
            names.append("nprobe")
        if self._hnsw is not None:
            names.append("ef_search")
        return tuple(names)

    def apply(self, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Set search parameters on the native index (they persist until changed)."""
        if nprobe is not None:
            self._ivf.nprobe = int(nprobe)
        if ef_search is not None:
            self._hnsw.efSearch = int(ef_search)

    @property
    def supports_filter(self) -> bool:  # type: ignore[override]
        """Flat, IVF and HNSW indexes take an IDSelector (metadata pre-filter); other factories post-filter."""
        return isinstance(self.index, (faiss.IndexFlat, faiss.IndexIVF, faiss.IndexHNSW))

    def _selector_params(self, allowed: np.ndarray) -> tuple[Any, Any]:
        """faiss SearchParameters restricting the search to the rows where `allowed` is True (bitmap kept alive)."""
        bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
        sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        if isinstance(self.index, faiss.IndexIVF):
            return faiss.SearchParametersIVF(sel=sel, nprobe=self.index.nprobe), (bits, sel)
        if isinstance(self.index, faiss.IndexHNSW):
            return faiss.SearchParametersHNSW(sel=sel, efSearch=self.index.hnsw.efSearch), (bits, sel)
        return faiss.SearchParameters(sel=sel), (bits, sel)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        self.apply(**self.check_search_params(search_params))
        x = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is not None:
            params, _keep = self._selector_params(allowed)
            scores, positions = self.index.search(x, k, params=params)
        else:
            scores, positions = self.index.search(x, k)
        if self.metric == "l2":
            scores = -scores
        return scores, positions

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "ntotal": int(self.index.ntotal)}


def _ivf(index: Any) -> Any:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _hnsw(index: Any) -> Any:
    idx = faiss.downcast_index(index)
    return getattr(idx, "hnsw", None)
