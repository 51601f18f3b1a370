"""Index directories: the native index file, `ids.parquet` (row → id and metadata) and `manifest.json`.

`build_index` makes one from an embeddings artifact (or a corpus, for text backends); `IndexDir.load` opens it in any
process and `IndexDir.search` returns ids instead of row positions.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import IDS_FILE, Manifest, atomic_dir, check_out, input_entry, load_embeddings, read_manifest, recover, write_dir_manifest, check_vectors_finite
from ..encoders import l2_normalize
from ..errors import UserError
from ..io.texts import FieldSpec, load_texts, source_entry
from ..io.vectors.external import metric_warning
from ..progress import activity, console
from .base import Index, check_metric, get_backend
from .params import BUILD

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
        check_vectors_finite(emb.vectors, str(Path(embeddings) / "embeddings.npy"))
        data = np.asarray(emb.vectors, dtype=np.float32)
        if metric == "cosine":
            data = l2_normalize(data)
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


@dataclass
class IndexDir:
    """A loaded index directory."""

    path: Path
    manifest: Manifest
    index: Index
    ids: pd.DataFrame
    row_docids: np.ndarray  # object array: the document id of each row (parent document for chunks)

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
        ids = pd.read_parquet(p / IDS_FILE)
        index = backend.load(p, m.params["metric"], int(m.params.get("dim", 0)), dict(m.params))
        if index.rows != len(ids):
            raise UserError(f"{p}: the {backend.spec.name} index holds {index.rows:,} rows but {IDS_FILE} has {len(ids):,}; "
                            "the directory mixes files of two builds: rebuild it with vecrecall build-index")
        col = "docid" if "docid" in ids.columns else "id"
        return cls(p, m, index, ids, ids[col].astype(str).to_numpy(dtype=object))

    @property
    def chunked(self) -> bool:
        return "docid" in self.ids.columns

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
        return l2_normalize(q) if self.index.metric == "cosine" else q

    def search(self, queries: Any, k: int, **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, row positions) for prepared queries."""
        n = len(self.ids)
        return self.index.search(queries, min(k, n), **search_params)
