"""TEXMEX `.fvecs` / `.bvecs` / `.ivecs` (the SIFT/GIST/Deep1B corpus format, http://corpus-texmex.irisa.fr/).

Each record is a little-endian int32 dimension `d` followed by `d` values (float32 / uint8 / int32). There is no
file header, so the first record's dimension fixes the record size; every record's dimension is checked against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ...errors import UserError
from .base import VectorFile, file_size, refuse_gzip

VALUE_TYPES = {".fvecs": np.dtype("<f4"), ".bvecs": np.dtype("u1"), ".ivecs": np.dtype("<i4")}


def _record_dtype(dim: int, values: np.dtype) -> np.dtype:
    return np.dtype([("dim", "<i4"), ("v", values, (dim,))])  # packed: 4 + dim·itemsize bytes


def _iter_records(path: Path, rec: np.dtype, n: int, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    with open(path, "rb") as fh:
        for start in range(0, n, rows):
            count = min(rows, n - start)
            block = np.fromfile(fh, dtype=rec, count=count)
            if len(block) != count:
                raise UserError(f"{path}: record {start + len(block)}: the file ended early; was it truncated while "
                                "being read?")
            yield start, block


def _check_dims(path: Path, start: int, block: np.ndarray, dim: int) -> None:
    bad = block["dim"] != dim
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"{path}: record {start + i}: its dimension header says {int(block['dim'][i])} but record 0 "
                        f"says {dim}; every record must have the same dimension (the file is damaged or joins files "
                        "of different dimensions)")


def open_texmex(path: Path) -> VectorFile:
    suffix = path.suffix.lower()
    values = VALUE_TYPES[suffix]
    size = file_size(path)
    refuse_gzip(path, suffix)
    if size < 4:
        raise UserError(f"{path}: {size} bytes, too short for a {suffix} record (a 4-byte dimension, then the values); "
                        "is the file complete?")
    with open(path, "rb") as fh:
        dim = int(np.frombuffer(fh.read(4), dtype="<i4")[0])
    recsize = 4 + dim * values.itemsize
    if dim <= 0 or recsize > size:
        raise UserError(f"{path}: record 0: its dimension header says {dim}, which does not fit a {size:,}-byte file; "
                        f"not a {suffix} file (each record is an int32 dimension, then that many "
                        f"{values.name} values), or truncated")
    rec = _record_dtype(dim, values)
    n, rem = divmod(size, recsize)
    if rem:
        # A size that is not a whole number of records: a record with another dimension explains it better than
        # truncation, so look for one first (this reads the file once, only on this error path).
        for start, block in _iter_records(path, rec, n, 1 << 16):
            _check_dims(path, start, block, dim)
        raise UserError(f"{path}: record {n:,} is truncated: the file ends {rem:,} bytes into it (each record is "
                        f"{recsize:,} bytes: a 4-byte dimension and {dim} × {values.itemsize}-byte values); "
                        "re-download or re-write the file")

    def blocks(rows: int) -> Iterator[np.ndarray]:
        for start, block in _iter_records(path, rec, n, rows):
            _check_dims(path, start, block, dim)
            yield block["v"]

    return VectorFile(path, suffix[1:], n, dim, values, blocks, unit="record")
