"""What every vector-file reader returns, and the checks they share (value types, gzip, sizes, metric names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ...errors import UserError
from ..files import GZIP_MAGIC

# What a vector file may hold; everything is stored as float32 (or float16) in the embeddings artifact.
SUPPORTED = "float16/32/64 or (u)int8/16/32/64"

# Distance names used by ann-benchmarks, big-ann and vector databases → vecrecall's metrics.
METRIC_NAMES = {
    "angular": "cosine", "cosine": "cosine", "cos": "cosine",
    "euclidean": "l2", "l2": "l2", "sqeuclidean": "l2",
    "dot": "ip", "ip": "ip", "inner_product": "ip", "innerproduct": "ip", "mips": "ip",
}


@dataclass
class VectorFile:
    """An opened vector file: its shape and value type (read from the header) and a block reader.

    `read_blocks(rows)` yields consecutive (≤ rows, dim) arrays of the file's own dtype, in row order, each read
    from disk when asked for, so memory stays at one block whatever the file's size. A reader checks its
    records as it goes and raises UserError naming the file and the record.
    """

    path: Path
    format: str  # npy, parquet, fvecs, bvecs, ivecs, fbin, u8bin, i8bin, ibin, hdf5
    n: int
    dim: int
    dtype: np.dtype
    read_blocks: Callable[[int], Iterator[np.ndarray]]
    ids: list[str] | None = None  # ids the file itself carries (a Parquet id column)
    ids_origin: str | None = None  # where those ids came from, for the manifest and the summary line
    metric: str | None = None  # the file's own metric (ann-benchmarks' `distance` attribute), as ip/l2/cosine
    details: dict[str, Any] = field(default_factory=dict)  # format-specific facts recorded in the manifest
    unit: str = "row"  # what the file calls one vector in messages ("record" for TEXMEX files)

    def blocks(self, rows: int) -> Iterator[np.ndarray]:
        return self.read_blocks(rows)


def row_blocks(path: Path, offset: int, dtype: np.dtype, n: int, dim: int, rows: int) -> Iterator[np.ndarray]:
    """Consecutive (≤ rows, dim) blocks of a row-major n × dim matrix stored from byte `offset` of `path`; a file
    that ends early (truncated while being read) is one line naming the row."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for start in range(0, n, rows):
            count = min(rows, n - start)
            block = np.fromfile(fh, dtype=dtype, count=count * dim)
            if block.size != count * dim:
                raise UserError(f"{path}: row {start + block.size // dim}: the file ended early; was it truncated "
                                "while being read?")
            yield block.reshape(count, dim)


def metric_name(text: str) -> str | None:
    """'angular' → 'cosine', 'euclidean' → 'l2', 'dot' → 'ip' (case-insensitive); None when unknown."""
    return METRIC_NAMES.get(str(text).strip().lower())


def check_dtype(dtype: np.dtype, where: str) -> np.dtype:
    """Refuse value types that are not plain numbers (bool, complex, strings, objects, records, float128)."""
    dt = np.dtype(dtype)
    ok = (dt.kind == "f" and dt.itemsize in (2, 4, 8)) or (dt.kind in "iu" and dt.itemsize in (1, 2, 4, 8))
    if not ok:
        raise UserError(f"{where}: values of type {dt} are not supported; vectors must be {SUPPORTED} "
                        "(convert them, e.g. with numpy's astype('float32'))")
    return dt


def refuse_gzip(path: Path, what: str) -> None:
    """Binary vector files are read in place, so a gzip-compressed one must be unpacked first."""
    with open(path, "rb") as fh:
        if fh.read(2) == GZIP_MAGIC:
            raise UserError(f"{path}: gzip-compressed; unpack it first (gunzip -k {path.name}), then import the {what} file")


def file_size(path: Path) -> int:
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    return path.stat().st_size


def check_shape(path: Path, n: int, dim: int, unit: str = "vectors") -> None:
    if n == 0:
        raise UserError(f"{path}: holds no {unit}; nothing to import")
    if dim == 0:
        raise UserError(f"{path}: its vectors have dimension 0; nothing to import")


def one_line(exc: BaseException, limit: int = 160) -> str:
    """A library's error message on one line, shortened."""
    text = " ".join(str(exc).split())
    return (text[:limit] + "…") if len(text) > limit else (text or type(exc).__name__)
