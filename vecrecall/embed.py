"""The encode stage: a text source → an embeddings artifact (`embeddings.npy`, `ids.parquet`, `manifest.json`).

Texts stream through in blocks; vectors are appended to a raw file and wrapped as `.npy` at the end, so memory does
not grow with the corpus beyond ids and metadata.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .artifacts import EMBEDDINGS_FILE, IDS_FILE, Manifest, atomic_dir, check_out, write_dir_manifest
from .encoders import EncodeSettings, Encoder, VectorCache, chunk_text, encode_texts, load_encoder
from .errors import UserError
from .io.texts import FieldSpec, Role, TextRecord, iter_texts, source_entry
from .progress import progress


def _count(source: Path, role: Role, spec: FieldSpec) -> int:
    return sum(1 for _ in iter_texts(source, role, spec))


def _units(records: Iterator[TextRecord], encoder: Encoder, chunk_tokens: int | None, chunk_overlap: int
           ) -> Iterator[tuple[dict, str]]:
    """(id row, text) per row of the output: one per record, or one per chunk of it."""
    for rec in records:
        if chunk_tokens:
            for i, piece in enumerate(chunk_text(rec.text, encoder.token_spans(rec.text), chunk_tokens, chunk_overlap)):
                yield {"id": f"{rec.id}#{i}", "docid": rec.id, "chunk": i, **rec.meta}, piece
        else:
            yield {"id": rec.id, **rec.meta}, rec.text


def _write_npy(raw: Path, rows: int, dim: int, dtype: str, dest: Path, block_rows: int = 65536) -> None:
    """Wrap a raw float32 file as a .npy of `dtype`, block by block."""
    out = np.lib.format.open_memmap(dest, mode="w+", dtype=np.dtype(dtype), shape=(rows, dim))
    src = np.memmap(raw, dtype=np.float32, mode="r", shape=(rows, dim)) if rows else np.zeros((0, dim), np.float32)
    for start in range(0, rows, block_rows):
        out[start : start + block_rows] = src[start : start + block_rows]
    out.flush()
    del out, src


def encode_source(source: str | Path, role: Role, out: str | Path, model: str | None = None,
                  settings: EncodeSettings | None = None, spec: FieldSpec | None = None,
                  chunk_tokens: int | None = None, chunk_overlap: int = 0, use_cache: bool = True,
                  overwrite: bool = False, block: int = 256, device: str | None = None) -> Manifest:
    """Encode every record of `source` (corpus or queries) into an embeddings artifact at `out`."""
    settings = settings or EncodeSettings()
    spec = spec or FieldSpec()
    source = Path(source)
    check_out(out, overwrite)
    if settings.dtype not in ("float32", "float16"):
        raise UserError(f"--dtype {settings.dtype}: use float32 or float16")
    if chunk_tokens is not None:
        if chunk_tokens <= 0:
            raise UserError("--chunk-tokens must be positive")
        if not 0 <= chunk_overlap < chunk_tokens:
            raise UserError(f"--chunk-overlap {chunk_overlap}: must be ≥ 0 and smaller than --chunk-tokens {chunk_tokens}")
    n_records = _count(source, role, spec)  # also validates every row before any model is loaded
    if n_records == 0:
        raise UserError(f"{source}: no {role} records found; the input is empty")
    encoder = load_encoder(model, device)
    cache = VectorCache(encoder, "raw") if use_cache else None
    t0 = time.perf_counter()
    rows: list[dict] = []
    with atomic_dir(out, overwrite) as tmp:
        raw = tmp / "vectors.f32"
        with open(raw, "wb") as fh, progress(f"encode {role}", n_records, "docs" if role == "corpus" else "queries") as advance:
            batch_ids: list[dict] = []
            batch_texts: list[str] = []

            def flush() -> None:
                if batch_texts:
                    vecs = encode_texts(encoder, batch_texts, settings, role, cache)
                    if not np.isfinite(vecs).all():
                        bad = batch_ids[int(np.argmax(~np.isfinite(vecs).all(axis=1)))]["id"]
                        raise UserError(f"{source}: the model produced NaN/inf for record '{bad}'; check that text")
                    fh.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
                    rows.extend(batch_ids)
                    advance(len({r.get("docid", r["id"]) for r in batch_ids}))
                    batch_ids.clear()
                    batch_texts.clear()

            for idrow, text in _units(iter_texts(source, role, spec), encoder, chunk_tokens, chunk_overlap):
                batch_ids.append(idrow)
                batch_texts.append(text)
                if len(batch_texts) >= block:
                    flush()
            flush()
        _write_npy(raw, len(rows), encoder.dim, settings.dtype, tmp / EMBEDDINGS_FILE)
        raw.unlink()
        ids = pd.DataFrame(rows)
        for col in ids.columns:  # mixed-type metadata columns would break Parquet
            if ids[col].dtype == object and col not in ("id", "docid"):
                ids[col] = ids[col].map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else str(v))
        ids.to_parquet(tmp / IDS_FILE, index=False)
        seconds = time.perf_counter() - t0
        manifest = Manifest(
            type="embeddings",
            params={
                "role": role, "model": encoder.describe(), **asdict(settings),
                "chunk_tokens": chunk_tokens, "chunk_overlap": chunk_overlap if chunk_tokens else None,
                "fields": asdict(spec),
            },
            inputs={"source": source_entry(source, role)},
            stats={"records": n_records, "rows": len(rows), "dim": encoder.dim, "seconds": round(seconds, 3),
                   "rows_per_s": round(len(rows) / seconds, 1) if seconds else None},
        )
        write_dir_manifest(tmp, manifest)
    if cache is not None:
        cache.close()
    return manifest
