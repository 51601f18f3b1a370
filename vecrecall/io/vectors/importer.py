"""`import-vectors`: a vector file made elsewhere → an embeddings artifact like `vecrecall encode` writes.

The artifact (`embeddings.npy`, `ids.parquet`, `manifest.json`) records the model as
`{"name": "external", "fingerprint": "external", "source": <file>, "sha256": …, "format": …}`: vecrecall cannot
encode texts for such vectors, so queries against them must be vectors too (see `external.require_query_vectors`).
Vectors are copied block by block (header first, then each block written as read), so memory holds one block and the
ids whatever the file's size; every block is checked (finite values, exact conversion) before it is written, and the
artifact appears at `--out` only when complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...artifacts import (EMBEDDINGS_FILE, Manifest, atomic_dir, check_out, input_entry, sha256_file,
                          write_dir_manifest, write_ids)
from ...errors import UserError
from ...progress import console, progress
from . import open_vectors
from .base import VectorFile, metric_name
from .external import EXTERNAL
from .ids import check_count, read_ids_file, row_number_ids

OUT_DTYPES = ("float32", "float16")
# the most a row may change (relative L2) when stored in a narrower float (a normal float16 value: ≤ 2⁻¹¹)
DOWNCAST_TOLERANCE = 1e-2
BLOCK_BYTES = 32 << 20  # ≈ 32 MB of source values per block


@dataclass
class ImportResult:
    manifest: Manifest
    ids_origin: str  # "row numbers 0…n-1", "column 'id' of x.parquet", "ids.txt"
    zero_rows: int  # vectors that are all zeros (they tie under cosine)
    first_zero: str | None  # the id of the first of them


def parse_metric_hint(hint: str | None) -> str | None:
    if hint is None:
        return None
    metric = metric_name(hint)
    if metric is None:
        raise UserError(f"--metric-hint {hint}: choose ip, l2 or cosine (ann-benchmarks' angular, euclidean and dot "
                        "are accepted too)")
    return metric


def _block_rows(vf: VectorFile, block_rows: int | None) -> int:
    if block_rows is not None:
        if block_rows < 1:
            raise UserError(f"block_rows {block_rows}: must be at least 1")
        return block_rows
    return max(1, BLOCK_BYTES // max(1, vf.dim * max(vf.dtype.itemsize, 4)))


def _convert(block: np.ndarray, out: np.dtype, vf: VectorFile, start: int, ids: list[str]) -> np.ndarray:
    """The block as `out`, refusing NaN/inf rows and integers that the output type cannot hold exactly."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, refused just below with its row
        conv = block.astype(out)
    if block.dtype.kind in "iu" and block.dtype.itemsize * 8 > np.finfo(out).nmant:
        inexact = (conv.astype(np.float64) != block).any(axis=1)
        if inexact.any():
            i = int(np.argmax(inexact))
            v = block[i][conv[i].astype(np.float64) != block[i]][0]
            limit = 2 ** (np.finfo(out).nmant + 1)
            raise UserError(f"{vf.path} {vf.unit} {start + i} (id '{ids[start + i]}'): integer value {int(v)} has no "
                            f"exact {out} form (integers beyond ±{limit:,}); neighbour ids from a ground-truth file are not vectors"
                            + ("; use --dtype float32" if out == np.float16 else ""))
    finite = np.isfinite(conv).all(axis=1)
    if not finite.all():
        i = int(np.argmax(~finite))
        where = f"{vf.path} {vf.unit} {start + i} (id '{ids[start + i]}')"
        if np.isfinite(block[i].astype(np.float64)).all():
            raise UserError(f"{where}: a value is too large for {out} (it becomes inf)"
                            + ("; use --dtype float32" if out == np.float16 else "; rescale the vectors"))
        raise UserError(f"{where}: contains NaN or inf; fix or drop that vector before importing")
    if block.dtype.kind == "f" and block.dtype.itemsize > np.dtype(out).itemsize:
        # a narrower float keeps its digits only down to its smallest normal value (float16 6.1e-05, float32
        # 1.2e-38); below it values lose digits or become 0, so tiny vectors would collapse without a word
        b = block.astype(np.float64)
        lost = np.linalg.norm(conv.astype(np.float64) - b, axis=1) > DOWNCAST_TOLERANCE * np.linalg.norm(b, axis=1)
        if lost.any():
            i = int(np.argmax(lost))
            tiny = np.finfo(out).tiny
            raise UserError(f"{vf.path} {vf.unit} {start + i} (id '{ids[start + i]}'): values too small for {out} "
                            f"(largest |value| {np.abs(b[i]).max():.2g}; {out} keeps its digits only above {tiny:.2g}); "
                            + ("use --dtype float32, or normalise the vectors first" if out == np.float16
                               else "normalise or rescale the vectors first"))
    return conv


def _write_npy(dest: Path, vf: VectorFile, out: np.dtype, rows: int, ids: list[str], advance: Any) -> tuple[int, int | None]:
    """Stream every block of `vf` into a .npy at `dest` (numpy.save's layout) → (zero rows, first zero row)."""
    header = {"descr": np.lib.format.dtype_to_descr(out), "fortran_order": False, "shape": (vf.n, vf.dim)}
    zero_rows, first_zero, done = 0, None, 0
    with open(dest, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for block in vf.blocks(rows):
            if block.ndim != 2 or block.shape[1] != vf.dim or done + len(block) > vf.n:
                raise UserError(f"{vf.path}: {vf.unit} {done}: the data does not match the header's {vf.n:,} × "
                                f"{vf.dim}; the file is damaged")
            conv = _convert(block, out, vf, done, ids)
            zeros = ~conv.any(axis=1)
            if zeros.any():
                if first_zero is None:
                    first_zero = done + int(np.argmax(zeros))
                zero_rows += int(zeros.sum())
            fh.write(np.ascontiguousarray(conv).data)  # no extra copy of the block
            done += len(block)
            advance(len(block))
    if done != vf.n:
        raise UserError(f"{vf.path}: the header says {vf.n:,} vectors but only {done:,} could be read; the file is "
                        "damaged or truncated")
    return zero_rows, first_zero


def import_vectors(source: str | Path, out: str | Path, *, ids: str | Path | None = None, id_column: str | None = None,
                   vector_column: str | None = None, dataset: str | None = None, role: str | None = None,
                   metric_hint: str | None = None, dtype: str = "float32", overwrite: bool = False,
                   block_rows: int | None = None) -> ImportResult:
    """Import the vectors of `source` (.npy, .parquet, .fvecs/.bvecs/.ivecs, .fbin/.u8bin/.i8bin/.ibin, .hdf5)
    into an embeddings artifact at `out`.

    Ids: `ids` (a text file, one per line, or a Parquet file with column `id`), else the Parquet file's id column,
    else row numbers "0"…"n-1". `role` is corpus or queries (default: queries for an HDF5 `test` dataset, else
    corpus). `metric_hint` (ip/l2/cosine) is recorded for formats that carry no metric; an HDF5 file's own
    `distance` attribute wins and a contradicting hint is refused. `dtype` is the stored type (float32, float16).

    Raises UserError (nothing written at `out`) for: an unknown suffix, wrong magic or header, a size that disagrees
    with the header or records, a truncated record, a record with another dimension, unsupported value types,
    NaN/inf rows, integers the stored type cannot hold exactly, ids count ≠ rows, empty or duplicate ids, a missing
    HDF5 dataset, and an --out that is or contains an input.
    """
    src, dest = Path(source), Path(out)
    if dtype not in OUT_DTYPES:
        raise UserError(f"--dtype {dtype}: use float32 or float16")
    if role is not None and role not in ("corpus", "queries"):
        raise UserError(f"--role {role}: use corpus or queries")
    if ids is not None and id_column is not None:
        raise UserError("--ids and --id-column both name the ids; give one of them")
    hint = parse_metric_hint(metric_hint)
    ids_path = Path(ids) if ids is not None else None
    check_out(dest, overwrite, inputs=(src, ids_path))
    if not src.exists():
        raise UserError(f"{src}: no such file or directory")

    vf = open_vectors(src, vector_column=vector_column, id_column=id_column, dataset=dataset, metric_hint=hint,
                      want_ids=ids_path is None)
    if ids_path is not None:
        id_list, unit = read_ids_file(ids_path)
        check_count(id_list, vf.n, ids_path, src, unit)
        origin = str(ids_path)
    elif vf.ids is not None:
        id_list, origin = vf.ids, vf.ids_origin or "the file"  # checked (non-empty, unique) by the reader
    else:
        id_list, origin = row_number_ids(vf.n), f"row numbers 0…{vf.n - 1}"
    metric = vf.metric if vf.format == "hdf5" else hint
    metric_from = vf.details.get("metric_from") if vf.format == "hdf5" else ("--metric-hint" if hint else None)
    role = role or ("queries" if vf.details.get("dataset") == "test" else "corpus")

    with console.status(f"hashing {src.name}"):
        digest = sha256_file(src)
    ids_digest = sha256_file(ids_path) if ids_path is not None else None
    out_dt = np.dtype(dtype)
    rows = _block_rows(vf, block_rows)
    t0 = time.perf_counter()
    import pandas as pd

    with atomic_dir(dest, overwrite) as tmp:
        with progress(f"import {src.name}", vf.n, "vectors") as advance:
            zero_rows, first_zero = _write_npy(tmp / EMBEDDINGS_FILE, vf, out_dt, rows, id_list, advance)
        write_ids(tmp, pd.DataFrame({"id": id_list}))
        seconds = time.perf_counter() - t0
        details = {k: v for k, v in vf.details.items() if k != "metric_from"}
        model = {"name": EXTERNAL, "fingerprint": EXTERNAL, "dim": vf.dim, "source": str(src.resolve()),
                 "sha256": digest, "format": vf.format, "source_dtype": str(vf.dtype), **details}
        inputs: dict[str, Any] = {"source": input_entry(src.resolve(), digest=digest)}
        if ids_path is not None:
            inputs["ids"] = input_entry(ids_path.resolve(), digest=ids_digest)
        manifest = Manifest(
            type="embeddings",
            params={"role": role, "model": model, "normalize": False, "query_prefix": "", "doc_prefix": "",
                    "dtype": dtype, "chunk_tokens": None, "chunk_overlap": None, "metric": metric,
                    "metric_from": metric_from, "ids": origin},
            inputs=inputs,
            stats={"records": vf.n, "rows": vf.n, "dim": vf.dim, "zero_rows": zero_rows, "seconds": round(seconds, 3),
                   "rows_per_s": round(vf.n / seconds, 1) if seconds else None},
        )
        write_dir_manifest(tmp, manifest)
    first = id_list[first_zero] if first_zero is not None else None
    return ImportResult(manifest, origin, zero_rows, first)
