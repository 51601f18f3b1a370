"""big-ann-benchmarks `.fbin` / `.u8bin` / `.i8bin` / `.ibin` (https://big-ann-benchmarks.com/).

Layout: a header of two little-endian uint32, `n` (vectors) and `dim`, then `n·dim` values (float32 / uint8 / int8 /
int32), row-major. The file size must be exactly `8 + n·dim·itemsize`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ...errors import UserError
from .base import VectorFile, check_shape, file_size, refuse_gzip, row_blocks

VALUE_TYPES = {".fbin": np.dtype("<f4"), ".u8bin": np.dtype("u1"), ".i8bin": np.dtype("i1"), ".ibin": np.dtype("<i4")}
HEADER = 8


def open_bigann(path: Path) -> VectorFile:
    suffix = path.suffix.lower()
    values = VALUE_TYPES[suffix]
    size = file_size(path)
    refuse_gzip(path, suffix)
    if size < HEADER:
        raise UserError(f"{path}: {size} bytes, too short for the {suffix} header (uint32 n, uint32 dim); "
                        "is the file complete?")
    with open(path, "rb") as fh:
        n, dim = (int(x) for x in np.frombuffer(fh.read(HEADER), dtype="<u4"))
    expected = HEADER + n * dim * values.itemsize
    if size != expected:
        hint = "truncated (an incomplete download?)" if size < expected else "longer than the header says"
        if suffix == ".ibin" and size == HEADER + n * dim * 8:
            hint = ("the size of a big-ann ground-truth file (n × k neighbour ids, then n × k distances): it holds "
                    "neighbours, not vectors")
        raise UserError(f"{path}: the header says {n:,} vectors × {dim} {values.name} = {expected:,} bytes with the "
                        f"8-byte header, but the file has {size:,} bytes: {hint}; check the file and its suffix")
    check_shape(path, n, dim)

    def blocks(rows: int) -> Iterator[np.ndarray]:
        return row_blocks(path, HEADER, values, n, dim, rows)

    return VectorFile(path, suffix[1:], n, dim, values, blocks)
