"""ann-benchmarks `.hdf5` files (https://github.com/erikbern/ann-benchmarks, `ann_benchmarks/datasets.py`).

Datasets: `train` (corpus vectors, n × dim), `test` (query vectors), `neighbors` (test × k corpus row numbers,
nearest first) and `distances` (test × k); the file attribute `distance` names the metric (`angular`, `euclidean`;
`dot`/`ip` in some derived files). Any other 2-d numeric dataset can be imported by name too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ...errors import UserError
from ...lazy import need
from .base import VectorFile, check_dtype, check_shape, file_size, metric_name, one_line, refuse_gzip

ANN_DATASETS = ("train", "test", "neighbors", "distances")


def _h5py() -> Any:
    return need("h5py")


def _open(path: Path) -> Any:
    h5py = _h5py()
    file_size(path)
    refuse_gzip(path, ".hdf5")
    if not h5py.is_hdf5(str(path)):
        raise UserError(f"{path}: not an HDF5 file (no HDF5 signature); ann-benchmarks files are HDF5 "
                        "(train/test/neighbors/distances)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path}: unreadable HDF5 file ({one_line(exc)}); is the download "
                        "complete?") from None


def _names(f: Any) -> str:
    names = sorted(f.keys())
    return ", ".join(names[:8]) + (", …" if len(names) > 8 else "") if names else "nothing"


def _dataset(f: Any, path: Path, name: str) -> Any:
    h5py = _h5py()
    if name not in f:
        raise UserError(f"{path}: no '{name}' dataset (it holds: {_names(f)}); ann-benchmarks files hold "
                        f"{', '.join(ANN_DATASETS)}; pick one with --dataset")
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise UserError(f"{path}: '{name}' is a group, not a dataset; pick a dataset with --dataset")
    return ds


def file_distance(f: Any) -> str | None:
    """The file's `distance` attribute as text (ann-benchmarks stores it as a str or bytes), or None."""
    raw = f.attrs.get("distance")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return str(raw)


def file_metric(f: Any, path: Path, hint: str | None, option: str = "--metric-hint") -> tuple[str | None, str | None]:
    """(metric, where it came from) for the file: its `distance` attribute, or the hint when it has none.

    A distance vecrecall cannot measure (hamming, jaccard) is refused unless a hint says how to treat the vectors;
    a hint that contradicts the file is refused (the file's neighbours were computed with its own distance).
    """
    distance = file_distance(f)
    if distance is None:
        return hint, (option if hint else None)
    metric = metric_name(distance)
    if metric is None:
        if hint is None:
            raise UserError(f"{path}: its distance attribute is '{distance}', which vecrecall does not measure "
                            f"(ip, l2, cosine); pass {option} ip|l2|cosine to use the vectors anyway")
        return hint, f"{option} (file distance '{distance}')"
    if hint is not None and hint != metric:
        raise UserError(f"{option} {hint}: {path} says its distance is '{distance}' ({metric}); drop "
                        f"{option} (the file's neighbours were computed with its own distance)")
    return metric, f"file attribute distance='{distance}'"


def _read_error(path: Path, name: str, exc: Exception) -> UserError:
    return UserError(f"{path}: cannot read dataset '{name}' ({one_line(exc)}); is the file "
                     "complete?")


def open_hdf5(path: Path, dataset: str = "train", metric_hint: str | None = None,
              option: str = "--metric-hint") -> VectorFile:
    """A 2-d numeric dataset of an HDF5 file (default `train`) as vectors, with the file's metric."""
    with _open(path) as f:
        ds = _dataset(f, path, dataset)
        where = f"{path} dataset '{dataset}'"
        if dataset in ("neighbors", "distances") and "train" in f and "test" in f:
            raise UserError(f"{where}: is the ann-benchmarks ground truth (per test query, the nearest train rows or "
                            "their distances), not vectors; import --dataset train or test, and give the file to "
                            "`vecrecall sweep`, which uses its neighbors")
        dtype = check_dtype(ds.dtype, where)
        if ds.ndim != 2:
            raise UserError(f"{where}: expected a 2-d matrix (rows × dim), got shape {ds.shape} (sparse ann-benchmarks "
                            "sets such as the jaccard ones are not supported)")
        n, dim = (int(x) for x in ds.shape)
        metric, origin = file_metric(f, path, metric_hint, option)
        distance = file_distance(f)
    check_shape(path, n, dim)

    def blocks(rows: int) -> Iterator[np.ndarray]:
        with _open(path) as f:
            ds = f[dataset]
            for start in range(0, n, rows):
                try:
                    yield np.asarray(ds[start : start + rows])
                except OSError as exc:
                    raise _read_error(path, dataset, exc) from None

    details = {"dataset": dataset, "distance": distance, "metric_from": origin}
    return VectorFile(path, "hdf5", n, dim, dtype, blocks, metric=metric, details=details)


@dataclass
class FileNeighbors:
    """An ann-benchmarks file's answer key: for each test query, the corpus rows nearest first."""

    path: Path
    neighbors: np.ndarray  # (n_test, k) int64 row numbers into `train`
    distances: np.ndarray | None  # (n_test, k) float32, as the file states them (lower is nearer)
    metric: str | None
    distance: str | None

    @property
    def k(self) -> int:
        return int(self.neighbors.shape[1])


def read_neighbors(path: str | Path, n_train: int | None = None, n_test: int | None = None) -> FileNeighbors:
    """The `neighbors` (and `distances`, when present) of an ann-benchmarks file, checked against `train`/`test`.

    Raises UserError when `neighbors` is missing, not (n_test × k) integers, or names a row outside `train`.
    """
    path = Path(path)
    with _open(path) as f:
        ds = _dataset(f, path, "neighbors")
        shape_train = f["train"].shape if "train" in f else None
        shape_test = f["test"].shape if "test" in f else None
        try:
            nb = np.asarray(ds[()])
            dist = np.asarray(f["distances"][()], dtype=np.float32) if "distances" in f else None
        except OSError as exc:
            raise _read_error(path, "neighbors", exc) from None
        distance = file_distance(f)
    n_train = n_train if n_train is not None else (shape_train[0] if shape_train else None)
    n_test = n_test if n_test is not None else (shape_test[0] if shape_test else None)
    if nb.ndim != 2 or nb.dtype.kind not in "iu":
        raise UserError(f"{path} dataset 'neighbors': expected a 2-d matrix of row numbers, got shape {nb.shape} "
                        f"{nb.dtype}")
    if n_test is not None and nb.shape[0] != n_test:
        raise UserError(f"{path} dataset 'neighbors': {nb.shape[0]:,} rows but 'test' has {n_test:,} queries; they "
                        "must match row for row")
    nb = nb.astype(np.int64)
    if n_train is not None:
        bad = (nb < 0) | (nb >= n_train)
        if bad.any():
            q, j = (int(x) for x in np.argwhere(bad)[0])
            raise UserError(f"{path} dataset 'neighbors': query {q}, neighbour {j} is row {int(nb[q, j])}, outside "
                            f"'train' (0…{n_train - 1:,}); the file is damaged")
    if dist is not None and dist.shape != nb.shape:
        dist = None  # a distances matrix that does not line up is ignored; the neighbours are what is used
    return FileNeighbors(path, nb, dist, metric_name(distance) if distance else None, distance)
