"""Parquet files with one vector per row in a list or fixed-size-list column (what pandas, Polars, Spark, LanceDB
exports and Hugging Face datasets write), read one batch of rows at a time with pyarrow.

The vector column is the only list-of-numbers column unless `--vector-column` names it; the id column is found as the
text readers find theirs (`_id`, `id`, `docid`, … in any case) unless `--id-column` names it; without one, ids are
row numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ...errors import UserError
from ..ids import norm_ids
from ..texts import ID_FIELDS, FieldSpec
from .base import SUPPORTED, VectorFile, check_dtype, check_shape, file_size, one_line
from .ids import check_unique


def _is_list(t: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _numeric(t: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _describe(schema: Any) -> str:
    cols = [f"{f.name}: {f.type}" for f in schema]
    return ", ".join(cols[:8]) + (", …" if len(cols) > 8 else "")


def _pick_vector_column(path: Path, schema: Any, wanted: str | None) -> str:
    if wanted:
        if wanted not in schema.names:
            raise UserError(f"--vector-column {wanted}: {path} has no such column (columns: {_describe(schema)})")
        t = schema.field(wanted).type
        if not _is_list(t) or not _numeric(t.value_type):
            raise UserError(f"--vector-column {wanted}: {path} stores it as {t}, not a list of numbers; vectors must "
                            f"be a list or fixed-size-list column of {SUPPORTED}")
        return wanted
    found = [f.name for f in schema if _is_list(f.type) and _numeric(f.type.value_type)]
    if len(found) > 1:
        raise UserError(f"{path}: several list-of-numbers columns ({', '.join(found)}); choose one with --vector-column")
    if not found:
        raise UserError(f"{path}: no list-of-numbers column to read vectors from (columns: {_describe(schema)}); store "
                        f"each vector as a list or fixed-size-list of {SUPPORTED} and name it with --vector-column")
    return found[0]


def _read_ids(path: Path, pf: Any, column: str) -> list[str]:
    try:
        series = pf.read(columns=[column]).column(0).to_pandas()
    except Exception as exc:
        raise UserError(f"{path}: cannot read column '{column}' ({one_line(exc)})") from None
    ids = norm_ids(series)
    if "" in ids:
        raise UserError(f"{path} row {ids.index('')}: empty or missing id in column '{column}'; every row needs an id")
    check_unique(ids, f"{path} column '{column}'")
    return ids


def open_parquet(path: Path, vector_column: str | None = None, id_column: str | None = None,
                 want_ids: bool = True) -> VectorFile:
    """Vectors from a Parquet list column; ids from its id column (when `want_ids`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file_size(path)
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except Exception as exc:
        raise UserError(f"{path}: not a readable Parquet file ({one_line(exc)})") from None
    column = _pick_vector_column(path, schema, vector_column)
    vtype = schema.field(column).type
    dtype = check_dtype(np.dtype(vtype.value_type.to_pandas_dtype()), f"{path} column '{column}'")
    n = int(pf.metadata.num_rows)
    check_shape(path, n, 1)
    where = f"{path} column '{column}'"
    if pa.types.is_fixed_size_list(vtype):
        dim = int(vtype.list_size)
    else:
        try:
            first = next(pf.iter_batches(batch_size=1, columns=[column])).column(0)
        except Exception as exc:
            raise UserError(f"{path}: cannot read column '{column}' ({one_line(exc)})") from None
        if first.null_count:
            raise UserError(f"{where} row 0: no vector (null); every row needs one")
        dim = len(first[0].values)
    check_shape(path, n, dim)

    ids, origin = None, None
    if want_ids:
        if id_column and id_column not in schema.names:
            raise UserError(f"--id-column {id_column}: {path} has no such column (columns: {_describe(schema)})")
        idcol = FieldSpec().pick([c for c in schema.names if c != column], id_column, ID_FIELDS)
        if idcol is not None:
            ids, origin = _read_ids(path, pf, idcol), f"column '{idcol}' of {path.name}"

    def blocks(rows: int) -> Iterator[np.ndarray]:
        start = 0
        try:
            batches = pf.iter_batches(batch_size=rows, columns=[column])
            for batch in batches:
                yield _to_matrix(batch.column(0), dim, dtype, where, start)
                start += batch.num_rows
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{path}: cannot read rows from {start:,} on ({one_line(exc)}); is the file complete?") from None

    return VectorFile(path, "parquet", n, dim, dtype, blocks, ids=ids, ids_origin=origin,
                      details={"vector_column": column})


def _to_matrix(arr: Any, dim: int, dtype: np.dtype, where: str, start: int) -> np.ndarray:
    """A list column chunk → (rows, dim) array; a null vector, a null value or another length names its row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        row = start + int(np.argmax(~np.asarray(arr.is_valid())))
        raise UserError(f"{where} row {row}: no vector (null); every row needs one")
    if not pa.types.is_fixed_size_list(arr.type):
        lengths = np.asarray(pc.list_value_length(arr))
        bad = lengths != dim
        if bad.any():
            i = int(np.argmax(bad))
            raise UserError(f"{where} row {start + i}: {int(lengths[i])} values but row 0 has {dim}; every vector "
                            "must have the same dimension")
    values = arr.flatten()
    if values.null_count:
        i = int(np.argmax(~np.asarray(values.is_valid())))
        raise UserError(f"{where} row {start + i // dim}: value {i % dim} is missing (null); fill or drop that row")
    return values.to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(len(arr), dim)
