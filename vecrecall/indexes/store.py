"""Index directories: the native index file, `ids.parquet` (row → id and metadata), `row_docids.txt` and `manifest.json`.

`build_index` makes one from an embeddings artifact (or a corpus, for text backends); `IndexDir.load` opens it in any
process and `IndexDir.search` returns ids instead of row positions.

Memory while building from embeddings: the vectors are read from `embeddings.npy` block by block
(`source.VectorRows`: normalised per block for cosine), so a build holds the index, one block and the backend's
training sample — never a float32 copy of the whole matrix.

`row_docids.txt` repeats the document id of each row (`vecrecall.io.idtext`) so that `vecrecall query` maps rows
to ids without importing pandas/pyarrow; it is used only while it matches `ids.parquet`, otherwise (an older index,
a rewritten ids.parquet, ids holding a line break) ids.parquet is read as before.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artifacts import (EMBEDDINGS_FILE, IDS_FILE, Manifest, atomic_dir, check_out, check_vectors_finite, input_entry,
                         load_embeddings, read_manifest, recover, write_dir_manifest)
from ..errors import UserError
from ..io.idtext import read_id_text, write_id_text
from ..progress import activity, console
from ..vectorops import l2_normalize
from .base import Index, check_metric, get_backend
from .params import BUILD
from .source import VectorRows

# `vecrecall query` imports this module: pandas (≈0.4 s) and the text readers are imported where they are used.
if TYPE_CHECKING:
    import pandas as pd

    from ..io.texts import FieldSpec

FILES_STAT = "files"  # manifest stats: relative path → bytes of every file the index directory holds
SWAP_RETRIES = 5


def _identity(path: Path) -> tuple[int, int, int] | None:
    """Which directory `path` names now: a swap (RENAME_EXCHANGE or the two-rename fallback) puts another there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _file_sizes(path: Path) -> dict[str, int]:
    return {f.relative_to(path).as_posix(): f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}


def check_files(path: Path, recorded: dict[str, int] | None, backend: str) -> None:
    """Refuse an index directory whose native files are missing or changed size since the build (a truncated copy,
    an interrupted transfer): annoy, for one, would silently search whatever part of its file is left."""
    for name, size in (recorded or {}).items():
        f = path / name
        if not f.is_file():
            raise UserError(f"{f}: missing from the {backend} index directory; copy the whole directory or rebuild it "
                            "with vecrecall build-index")
        have = f.stat().st_size
        if have != size:
            raise UserError(f"{f}: {have:,} bytes but the {backend} index was saved with {size:,}; the file is truncated "
                            "or was replaced: rebuild it with vecrecall build-index")


def build_index(backend: str, out: str | Path, embeddings: str | Path | None = None, corpus: str | Path | None = None,
                metric: str = "cosine", params: dict[str, Any] | None = None, seed: int = 0, overwrite: bool = False,
                fields: FieldSpec | None = None, lineage: tuple[dict[str, Any], dict[str, Any]] | None = None) -> Manifest:
    """Build an index with `backend` and save it as an index directory at `out`. `lineage`: (inputs, stats) added
    to the manifest (a rebuild records the version it replaces)."""
    from ..io.texts import load_texts, source_entry
    from ..io.vectors.external import metric_warning

    cls = get_backend(backend)
    backend = cls.spec.name
    params = {k: v for k, v in (params or {}).items() if v is not None}
    cls.spec.check(params, BUILD)  # names, types and ranges before anything is read
    check_out(out, overwrite)
    params = cls.output_params(params, Path(out), overwrite)
    if cls.spec.input == "text":
        if corpus is None:
            raise UserError(f"--backend {backend} indexes text: pass --corpus (a BEIR directory or a corpus file)")
        table = load_texts(corpus, "corpus", fields)
        data, ids = table, table.drop(columns=["text"])
        source = source_entry(corpus, "corpus")
        inputs = {"corpus": source}
        dim = 0
        metric = cls.spec.metrics[0]  # text backends score with their own function (e.g. bm25)
    else:
        if embeddings is None:
            raise UserError(f"--backend {backend} indexes vectors: pass --embeddings (the output of vecrecall encode)")
        check_metric(metric, cls)
        emb = load_embeddings(embeddings)
        if warning := metric_warning(emb.manifest, metric):
            console.print(f"[yellow]warning[/]: {warning}")
        if emb.vectors.shape[0] == 0:
            raise UserError(f"{embeddings}: no vectors to index")
        data = _vector_rows(Path(embeddings) / EMBEDDINGS_FILE, emb.vectors, metric)
        ids = emb.ids
        dim = int(data.shape[1])
        inputs = {"embeddings": input_entry(Path(embeddings).resolve(), emb.manifest)}
    with atomic_dir(out, overwrite) as tmp:
        t0 = time.perf_counter()
        with activity(f"build {backend} index over {len(ids):,} rows"):
            index = cls.build(data, metric, params, seed)
        build_s = time.perf_counter() - t0
        index.save(tmp)
        ids.to_parquet(tmp / IDS_FILE, index=False)
        write_row_docids(tmp, ids)
        files = _file_sizes(tmp)
        more_inputs, more_stats = lineage or ({}, {})
        manifest = Manifest(
            type="index",
            params={"backend": backend, "metric": metric, "dim": dim, "seed": seed, **index.params},
            inputs={**inputs, **more_inputs},
            stats={"n": len(ids), "build_s": round(build_s, 3), **index.timings, "bytes": sum(files.values()),
                   **({} if cls.mutable_files else {FILES_STAT: files}), **more_stats},
        )
        write_dir_manifest(tmp, manifest)
    return manifest


class IndexDir:
    """A loaded index directory: the index, its manifest, and the document id of each row (`row_docids`, an object
    array; the parent document for chunks). `ids` (the whole ids.parquet table, for filters and per-chunk runs) is
    read on first use."""

    def __init__(self, path: Path, manifest: Manifest, index: Index, row_docids: np.ndarray, columns: list[str],
                 ids: "pd.DataFrame | None" = None) -> None:
        self.path = path
        self.manifest = manifest
        self.index = index
        self.row_docids = row_docids
        self.columns = columns
        self._ids = ids

    @classmethod
    def load(cls, path: str | Path) -> "IndexDir":
        """Open an index directory. When it is swapped for a new version while being read (update-index, rebuild,
        build-index --overwrite), the read starts again, so the result is one version, never a mix of two."""
        p = Path(path)
        for attempt in range(SWAP_RETRIES):
            recover(p)
            before = _identity(p)
            try:
                loaded = cls._load(p)
            except (UserError, OSError):
                if _identity(p) == before or attempt == SWAP_RETRIES - 1:
                    raise
                continue
            if _identity(p) == before:
                return loaded
        raise UserError(f"{p}: replaced by a new version {SWAP_RETRIES} times while being read; try again")

    @classmethod
    def _load(cls, p: Path) -> "IndexDir":
        m = read_manifest(p, expect="index")
        backend = get_backend(m.params["backend"])
        if not (p / IDS_FILE).exists():
            raise UserError(f"{p}: incomplete index directory ({IDS_FILE} missing); rebuild it with vecrecall build-index")
        check_files(p, m.stats.get(FILES_STAT), backend.spec.name)
        fast = read_row_docids(p)
        ids = None
        if fast is None:
            import pandas as pd

            ids = pd.read_parquet(p / IDS_FILE)
            columns = [str(c) for c in ids.columns]
            docids = _docids_of(ids)
        else:
            docids, columns = fast
        index = backend.load(p, m.params["metric"], int(m.params.get("dim", 0)), dict(m.params))
        if index.rows != len(docids):
            raise UserError(f"{p}: the {backend.spec.name} index holds {index.rows:,} rows but {IDS_FILE} has {len(docids):,}; "
                            "the directory mixes files of two builds: rebuild it with vecrecall build-index")
        return cls(p, m, index, docids, columns, ids)

    @property
    def ids(self) -> "pd.DataFrame":
        """ids.parquet: column `id` and, for chunks, `docid` and `chunk`, plus any metadata columns."""
        if self._ids is None:
            import pandas as pd

            self._ids = pd.read_parquet(self.path / IDS_FILE)
        return self._ids

    @property
    def n_rows(self) -> int:
        return len(self.row_docids)

    @property
    def chunked(self) -> bool:
        return "docid" in self.columns

    @property
    def embeddings_manifest(self) -> Manifest | None:
        return self.manifest.parent("embeddings")

    def prepare(self, queries: Any) -> Any:
        """Queries as the index expects them (normalised for cosine, float32, dim checked)."""
        if self.index.input_kind == "text":
            return queries
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.index.dim:
            raise UserError(f"query vectors have dimension {q.shape[-1]} but {self.path} has dimension {self.index.dim}; "
                            "encode the queries with the index's model")
        if self.index.metric != "cosine":
            return q
        return l2_normalize(q)

    def search(self, queries: Any, k: int, **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, row positions) for prepared queries."""
        return self.index.search(queries, min(k, self.n_rows), **search_params)


# ---------------------------------------------------------------------------------------------- build helpers


def _vector_rows(npy: Path, vectors: np.ndarray, metric: str) -> Any:
    """The vectors to build from, checked for NaN/inf: read block by block from the file (`VectorRows`); a matrix
    that is not a plain C-ordered .npy is prepared in memory instead."""
    try:
        raw = VectorRows(npy)
    except ValueError:
        check_vectors_finite(vectors, str(npy))
        data = np.asarray(vectors, dtype=np.float32)
        return l2_normalize(data) if metric == "cosine" else data
    check_vectors_finite(raw, str(npy), block=raw.block_rows)
    return VectorRows(npy, normalize=metric == "cosine")


# ---------------------------------------------------------------------------------------------- row_docids.txt

ROW_DOCIDS = "row_docids.txt"


def _docids_of(ids: "pd.DataFrame") -> np.ndarray:
    return ids[_docid_column(ids.columns)].astype(str).to_numpy(dtype=object)


def _docid_column(columns: Any) -> str:
    return "docid" if "docid" in columns else "id"


def write_row_docids(directory: Path, ids: "pd.DataFrame") -> bool:
    """Write `row_docids.txt` (the document id of each row) beside the `ids.parquet` already in `directory`."""
    return write_id_text(directory / IDS_FILE, ids, _docid_column(ids.columns), directory / ROW_DOCIDS)


def read_row_docids(directory: Path) -> tuple[np.ndarray, list[str]] | None:
    """(document id of each row as an object array, ids.parquet's columns), or None (then read ids.parquet)."""
    got = read_id_text(directory / IDS_FILE, directory / ROW_DOCIDS)
    if got is None:
        return None
    values, columns = got
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out, columns
