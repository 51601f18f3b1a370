"""`.npy` matrices (numpy.save), read block by block from the file without loading it.

Format: numpy's NEP 1 header (magic `\\x93NUMPY`, version, a dict with descr/fortran_order/shape), then the raw
values. The header's shape and dtype must account for every byte after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ...errors import UserError
from .base import VectorFile, check_dtype, check_shape, file_size, one_line, refuse_gzip, row_blocks

MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def _header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, data offset) from the .npy header; a foreign or damaged file is one line."""
    with open(path, "rb") as fh:
        start = fh.read(len(MAGIC))
        if start[:4] == ZIP_MAGIC:
            raise UserError(f"{path}: an .npz archive, not a .npy matrix; save one array with numpy.save "
                            "(e.g. np.save('x.npy', np.load('x.npz')['arr_0']))")
        if start != MAGIC:
            raise UserError(f"{path}: not a .npy file (it does not start with numpy's magic bytes \\x93NUMPY); "
                            "write the matrix with numpy.save")
        fh.seek(0)
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
        except Exception as exc:
            raise UserError(f"{path}: damaged .npy header ({one_line(exc)}); re-write the file "
                            "with numpy.save") from None
        return tuple(shape), bool(fortran), np.dtype(dtype), fh.tell()


def open_npy(path: Path) -> VectorFile:
    """A 2-d numeric `.npy` matrix (rows × dim), C or Fortran order, any byte order."""
    size = file_size(path)
    refuse_gzip(path, ".npy")
    shape, fortran, dtype, offset = _header(path)
    if dtype.hasobject:
        raise UserError(f"{path}: holds Python objects (a pickled array), not numbers; save a numeric matrix "
                        "(np.save('x.npy', np.asarray(vectors, dtype='float32')))")
    check_dtype(dtype, str(path))
    if len(shape) != 2:
        raise UserError(f"{path}: expected a 2-d matrix (rows × dim), got shape {shape}; reshape it before saving")
    n, dim = int(shape[0]), int(shape[1])
    expected = n * dim * dtype.itemsize
    have = size - offset
    if have != expected:
        what = "truncated (an incomplete download or copy?)" if have < expected else \
            "longer than its header says (damaged, or not written by numpy.save)"
        raise UserError(f"{path}: the header says {n:,} × {dim} {dtype} ({expected:,} bytes of values) but the file "
                        f"holds {have:,} bytes after the header: {what}; re-write it with numpy.save")
    check_shape(path, n, dim)

    def blocks(rows: int) -> Iterator[np.ndarray]:
        if fortran:  # column-major: rows are strided across the file, so read them through a memory map
            mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n, dim), order="F")
            for start in range(0, n, rows):
                yield np.array(mm[start : start + rows])
            del mm
            return
        yield from row_blocks(path, offset, dtype, n, dim, rows)

    return VectorFile(path, "npy", n, dim, dtype, blocks, details={"fortran_order": fortran} if fortran else {})
