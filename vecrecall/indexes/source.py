"""Rows of an `embeddings.npy` read block by block, prepared for the index metric, without loading the matrix.

`build-index` hands a `VectorRows` to `Index.build` in place of an in-memory matrix. Backends only ever take
`data.shape`, contiguous slices `data[a:b]` (their add blocks) and sorted row arrays `data[rows]` (a training
sample); each is read from the file with `pread` into a fresh float32 array and, for cosine, L2-normalised there.
So the build holds one block and the training sample, never a normalised copy of the corpus (1M × 384 float32 is
1.5 GB), and the file is not memory-mapped either: pages of a mapping a process has touched count in its resident
size until the kernel reclaims them, pages read with `pread` stay in the page cache, shared and reclaimable.

Normalising a block gives each row exactly the bits `l2_normalize` gives it in the whole matrix (the norm is a
reduction over that row only), so indexes built from a `VectorRows` equal those built from the prepared matrix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..vectorops import l2_normalize

BLOCK_BYTES = 8 << 20  # one read (finiteness check, gathering a training sample, normalising in chunks)


class VectorRows:
    """The rows of a C-ordered `.npy` matrix as float32, L2-normalised when `normalize` (shape (n, dim)).

    Indexing: an int (one row, shape (dim,)), a slice with step 1, or an array of row numbers (any order); each
    returns a new writable float32 array. `np.asarray(rows)` materialises the whole matrix (for a backend that needs
    it all at once: it then holds n × dim × 4 bytes)."""

    def __init__(self, path: str | Path, normalize: bool = False) -> None:
        self.path = Path(path)
        mapped = np.load(self.path, mmap_mode="r")  # reads only the header; gives shape, dtype and data offset
        if mapped.ndim != 2 or not mapped.flags.c_contiguous:
            raise ValueError(f"{self.path}: expected a C-ordered 2-d matrix, got shape {mapped.shape}")
        self.shape: tuple[int, int] = (int(mapped.shape[0]), int(mapped.shape[1]))
        self.stored = mapped.dtype  # what the file holds (float32, float16…)
        self.offset = int(mapped.offset)
        self.normalize = normalize
        self.dtype = np.dtype(np.float32)
        self._row_bytes = self.shape[1] * self.stored.itemsize
        del mapped
        self._fd = os.open(self.path, os.O_RDONLY)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)
            self._fd = None

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 2

    @property
    def block_rows(self) -> int:
        return max(1, BLOCK_BYTES // max(1, self._row_bytes))

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Rows start:stop as stored, one pread (repeated on a short read)."""
        out = np.empty((max(0, stop - start), self.shape[1]), dtype=self.stored)
        view = memoryview(out).cast("B")
        done, where = 0, self.offset + start * self._row_bytes
        while done < len(view):
            got = os.preadv(self._fd, [view[done:]], where + done)
            if got <= 0:
                raise OSError(f"{self.path}: ended at byte {where + done:,}; the file is truncated")
            done += got
        return out

    def _prepare(self, block: np.ndarray) -> np.ndarray:
        """float32, normalised in place (chunk by chunk, so the temporaries of the norm stay one block)."""
        block = block.astype(np.float32, copy=False)
        if self.normalize:
            step = self.block_rows
            for start in range(0, len(block), step):
                part = block[start : start + step]
                part[...] = l2_normalize(part)
        return block

    def __getitem__(self, key: Any) -> np.ndarray:
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"row {key} out of range for {n} rows")
            return self._prepare(self._read(i, i + 1))[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                return self[np.arange(start, stop, step)]
            return self._prepare(self._read(start, max(start, stop)))
        return self.take(np.asarray(key))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (in the given order), gathered block by block: each block read once, memory bounded by
        one block plus the result."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False).reshape(-1)
        n = self.shape[0]
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row numbers out of range for {n} rows")
        rows = np.where(rows < 0, rows + n, rows)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        step = self.block_rows
        i = 0
        while i < len(srt):
            start = int(srt[i])
            j = int(np.searchsorted(srt, start + step, side="left"))
            block = self._read(start, int(srt[j - 1]) + 1)
            out[order[i:j]] = block[srt[i:j] - start]
            i = j
        return self._prepare(out)

    def blocks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start, prepared rows start:start+len) over the whole matrix."""
        step = rows or self.block_rows
        for start in range(0, self.shape[0], step):
            yield start, self[start : start + step]

    def raw_blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(start, rows as stored) over the whole matrix, e.g. to check values before anything is built."""
        step = self.block_rows
        for start in range(0, self.shape[0], step):
            yield start, self._read(start, min(self.shape[0], start + step))

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, block in self.blocks():
            yield from block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)


__all__ = ["VectorRows"]
