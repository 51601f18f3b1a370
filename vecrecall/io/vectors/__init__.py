"""Vectors made elsewhere: one reader per file format, all returning a `VectorFile` that streams blocks of rows.

| suffix | format | reader |
|---|---|---|
| `.npy` | numpy.save matrix | `npy.open_npy` |
| `.parquet` | list / fixed-size-list column | `parquet.open_parquet` |
| `.fvecs` `.bvecs` `.ivecs` | TEXMEX records (int32 dim + values) | `texmex.open_texmex` |
| `.fbin` `.u8bin` `.i8bin` `.ibin` | big-ann (uint32 n, uint32 dim, values) | `bigann.open_bigann` |
| `.hdf5` `.h5` | ann-benchmarks (train/test/neighbors/distances) | `hdf5.open_hdf5` |

`importer.import_vectors` turns any of them into an embeddings artifact.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from .base import VectorFile, metric_name

NPY = (".npy",)
PARQUET = (".parquet",)
TEXMEX = (".fvecs", ".bvecs", ".ivecs")
BIGANN = (".fbin", ".u8bin", ".i8bin", ".ibin")
HDF5 = (".hdf5", ".h5")
SUFFIXES = NPY + PARQUET + TEXMEX + BIGANN + HDF5


def is_hdf5_path(path: str | Path) -> bool:
    """True for a path named like an HDF5 file (`.hdf5`/`.h5`): what `sweep --embeddings` may be given directly."""
    return Path(path).suffix.lower() in HDF5


def open_vectors(path: str | Path, *, vector_column: str | None = None, id_column: str | None = None,
                 dataset: str | None = None, metric_hint: str | None = None, want_ids: bool = True) -> VectorFile:
    """Open a vector file by its suffix, checking its header (shape, value type, size) before anything is read.

    Raises UserError for an unknown suffix, an option that does not apply to the format, or a bad header.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"{p}: unknown vector file type '{suffix or p.name}'; import-vectors reads "
                        f"{', '.join(SUFFIXES)}")
    if (vector_column or id_column) and suffix not in PARQUET:
        raise UserError(f"--{'vector' if vector_column else 'id'}-column applies to Parquet files; {p.name} is "
                        f"{suffix}")
    if dataset is not None and suffix not in HDF5:
        raise UserError(f"--dataset applies to HDF5 files; {p.name} is {suffix}")
    if suffix in NPY:
        from .npy import open_npy

        return open_npy(p)
    if suffix in PARQUET:
        from .parquet import open_parquet

        return open_parquet(p, vector_column, id_column, want_ids)
    if suffix in TEXMEX:
        from .texmex import open_texmex

        return open_texmex(p)
    if suffix in BIGANN:
        from .bigann import open_bigann

        return open_bigann(p)
    from .hdf5 import open_hdf5

    return open_hdf5(p, dataset or "train", metric_hint)


__all__ = ["SUFFIXES", "VectorFile", "is_hdf5_path", "metric_name", "open_vectors"]
