"""The encode stage: a text source → an embeddings artifact (`embeddings.npy`, `ids.parquet`, `manifest.json`).

Records stream through in blocks of `block` records (the block grid is fixed on the whole source, so a shard or a
resumed run encodes exactly the batches a single run would). Each finished block is written to a staging directory
beside the output (`.<out>.partial/`) with its checksum; `resume=True` keeps that directory when a run is
interrupted and, on the next run, verifies the blocks already there and encodes only the rest. The artifact is
assembled block by block at the end, so memory does not grow with the corpus beyond ids and metadata.

Sharding (`shard=Shard(i, n)`) encodes a contiguous range of whole blocks; `vecrecall.shards.merge_shards` joins
the pieces. Texts that are empty, or that the encoder turns into a zero vector, are left out with a warning: a
zero vector ties with everything (and cannot be normalised).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .artifacts import (EMBEDDINGS_FILE, Manifest, atomic_dir, check_out, forget_kept, keep_when_interrupted,
                        sha256_file, write_dir_manifest, write_ids, writer_lock)
from .encoders import EncodeSettings, Encoder, VectorCache, chunk_text, encode_texts, load_encoder
from .errors import UserError
from .io.texts import FieldSpec, Role, TextRecord, iter_texts, source_entry
from .progress import console, progress

DEFAULT_BLOCK = 1024
_SHOW_IDS = 5


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based): a contiguous range of whole blocks of the source."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """`I/N` with 0 ≤ I < N; anything else is a UserError."""
        i, sep, n = str(text).partition("/")
        try:
            shard = cls(int(i), int(n))
        except ValueError:
            raise UserError(f"--shard {text}: write it as I/N (shard I of N, counting from 0), e.g. 0/4") from None
        if not sep or shard.count < 1 or not 0 <= shard.index < shard.count:
            raise UserError(f"--shard {text}: needs N ≥ 1 and 0 ≤ I < N (shards are numbered 0 … N-1), e.g. 0/4")
        return shard

    def record_range(self, n_records: int, block: int) -> tuple[int, int]:
        """[start, stop) of the records this shard encodes: blocks ⌊i·B/N⌋ … ⌊(i+1)·B/N⌋ of the B blocks."""
        n_blocks = math.ceil(n_records / block)
        if self.count > n_blocks:
            raise UserError(f"--shard {self.index}/{self.count}: the source has {n_records:,} records, only "
                            f"{n_blocks} block(s) of --block-size {block}; use at most {n_blocks} shards or a smaller "
                            "--block-size")
        lo, hi = self.index * n_blocks // self.count, (self.index + 1) * n_blocks // self.count
        return lo * block, min(hi * block, n_records)


def _count(source: Path, role: Role, spec: FieldSpec) -> int:
    return sum(1 for _ in iter_texts(source, role, spec))


def _units(records: list[TextRecord], encoder: Encoder, chunk_tokens: int | None, chunk_overlap: int
           ) -> Iterator[tuple[dict, str]]:
    """(id row, text) per row of the output: one per record, or one per chunk of it."""
    for rec in records:
        if chunk_tokens and rec.text.strip():
            for i, piece in enumerate(chunk_text(rec.text, encoder.token_spans(rec.text), chunk_tokens, chunk_overlap)):
                yield {"id": f"{rec.id}#{i}", "docid": rec.id, "chunk": i, **rec.meta}, piece
        elif chunk_tokens:
            yield {"id": f"{rec.id}#0", "docid": rec.id, "chunk": 0, **rec.meta}, rec.text
        else:
            yield {"id": rec.id, **rec.meta}, rec.text


def sanitize_ids(ids: pd.DataFrame) -> pd.DataFrame:
    for col in ids.columns:  # mixed-type metadata columns would break Parquet
        if ids[col].dtype == object and col not in ("id", "docid"):
            ids[col] = ids[col].map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else str(v))
    return ids



def _differences(found: dict[str, Any], wanted: dict[str, Any], prefix: str = "") -> list[str]:
    """What differs between an interrupted encode's signature and this one, by setting (nested keys dotted):
    e.g. ['params.normalize: was True, now False']."""
    out = []
    for key in sorted(set(found) | set(wanted), key=str):
        was, now = found.get(key), wanted.get(key)
        if isinstance(was, dict) and isinstance(now, dict):
            out += _differences(was, now, f"{prefix}{key}.")
        elif was != now:
            out.append(f"{prefix}{key}: was {was!r}, now {now!r}")
    return out


class Staging:
    """The staging directory of one encode: `staging.json` (what is being encoded) and, per finished block k,
    `k.npy` (float32 vectors), `k.parquet` (ids) and `k.json` (row count, dropped ids, checksums; written last, so a
    block without it is incomplete)."""

    def __init__(self, out: Path, signature: dict[str, Any]) -> None:
        self.path = out.parent / f".{out.name}.partial"
        self.signature = signature

    def open(self, resume: bool, overwrite: bool) -> None:
        """Called under the output's writer lock, so an existing staging directory is an interrupted run's."""
        if self.path.exists() and not resume and overwrite:
            self.remove()  # --overwrite starts afresh, as artifacts.staged_dir does
        if self.path.exists():
            if not resume:
                raise UserError(f"{self.path}: an interrupted encode of this output is there; pass --resume to "
                                "continue it, or --overwrite to start afresh")
            try:
                found = json.loads((self.path / "staging.json").read_text())
            except (OSError, json.JSONDecodeError):
                found = None
            if found != self.signature:
                diff = _differences(found, json.loads(json.dumps(self.signature, default=str))) if found else []
                raise UserError(f"{self.path}: the interrupted encode used other inputs or settings "
                                f"({'; '.join(diff) or 'unreadable staging.json'}); rerun with the same options, or delete {self.path}")
            return
        self.path.mkdir(parents=True)
        tmp = self.path / "staging.json.tmp"
        tmp.write_text(json.dumps(self.signature, indent=2, default=str) + "\n")
        os.replace(tmp, self.path / "staging.json")

    def files(self, k: int) -> tuple[Path, Path, Path]:
        return self.path / f"{k:06d}.npy", self.path / f"{k:06d}.parquet", self.path / f"{k:06d}.json"

    def verified(self, k: int, dim: int) -> dict[str, Any] | None:
        """The record of block k when all its files are there and match their checksums, else None."""
        npy, ids, meta = self.files(k)
        if not meta.exists():
            return None
        try:
            rec = json.loads(meta.read_text())
            ok = (npy.exists() and ids.exists() and sha256_file(npy) == rec["npy_sha256"]
                  and sha256_file(ids) == rec["ids_sha256"] and rec["dim"] == dim)
        except (OSError, ValueError, KeyError):
            ok = False
        return rec if ok else None

    def write(self, k: int, vecs: np.ndarray, ids: pd.DataFrame, record: dict[str, Any]) -> None:
        npy, idf, meta = self.files(k)
        np.save(npy, np.ascontiguousarray(vecs, dtype=np.float32))
        sanitize_ids(ids).to_parquet(idf, index=False)
        record = {**record, "rows": len(vecs), "dim": int(vecs.shape[1]), "npy_sha256": sha256_file(npy),
                  "ids_sha256": sha256_file(idf)}
        tmp = meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, meta)

    def drop_from(self, k: int) -> None:
        """Remove block k and every later one (files this staging directory's encodes wrote)."""
        for f in self.path.iterdir():
            stem = f.name.split(".", 1)[0]
            if stem.isdigit() and int(stem) >= k:
                f.unlink()

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _empty_warning(role: Role, dropped: list[str], total: int) -> str:
    what = "documents" if role == "corpus" else "queries"
    first = ", ".join(dropped[:_SHOW_IDS]) + (", …" if len(dropped) > _SHOW_IDS else "")
    then = "they can never be retrieved" if role == "corpus" else "they get no results"
    return (f"{len(dropped):,} of {total:,} {what} have no text the model can encode (empty, or a zero vector) and "
            f"were left out: {first}; {then}")


def encode_source(source: str | Path, role: Role, out: str | Path, model: str | None = None,
                  settings: EncodeSettings | None = None, spec: FieldSpec | None = None,
                  chunk_tokens: int | None = None, chunk_overlap: int = 0, use_cache: bool = True,
                  overwrite: bool = False, block: int = DEFAULT_BLOCK, device: str | None = None,
                  backend: str | None = None, quantize: str | None = None, threads: int | None = None,
                  shard: Shard | None = None, resume: bool = False) -> Manifest:
    """Encode every record of `source` (corpus or queries), or shard `shard` of them, into an embeddings artifact.

    `backend`/`quantize`/`threads` choose the runtime (vecrecall.encoders.load_encoder); `block` is the number of
    records per staged block; `resume` continues an interrupted run of the same command. Rows whose text is empty
    or whose vector is zero are left out (warning, and `stats.empty_dropped` in the manifest). Raises UserError for
    bad options (checked before any model is loaded) and bad input rows.
    """
    settings = settings or EncodeSettings()
    spec = spec or FieldSpec()
    source, out = Path(source), Path(out)
    check_out(out, overwrite, inputs=(source,))
    if settings.dtype not in ("float32", "float16"):
        raise UserError(f"--dtype {settings.dtype}: use float32 or float16")
    if settings.batch_size < 1:
        raise UserError(f"--batch-size {settings.batch_size}: must be ≥ 1")
    if block < 1:
        raise UserError(f"--block-size {block}: must be ≥ 1")
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: must be ≥ 1")
    if chunk_tokens is None and chunk_overlap:
        raise UserError(f"--chunk-overlap {chunk_overlap}: applies to chunked documents; pass --chunk-tokens N too")
    if chunk_tokens is not None:
        if chunk_tokens <= 0:
            raise UserError(f"--chunk-tokens {chunk_tokens}: must be positive")
        if not 0 <= chunk_overlap < chunk_tokens:
            raise UserError(f"--chunk-overlap {chunk_overlap}: must be ≥ 0 and smaller than --chunk-tokens {chunk_tokens}")
    if backend is not None or quantize is not None:
        from .exported import BackendSpec

        BackendSpec.parse(backend, quantize)  # refuse bad --backend/--quantize before reading the source
    n_records = _count(source, role, spec)  # also validates every row before any model is loaded
    if n_records == 0:
        raise UserError(f"{source}: no {role} records found; the input is empty")
    start, stop = shard.record_range(n_records, block) if shard else (0, n_records)
    encoder = load_encoder(model, device, backend, quantize, threads)
    source_record = source_entry(source, role)
    params: dict[str, Any] = {
        "role": role, "model": encoder.describe(), **asdict(settings),
        "chunk_tokens": chunk_tokens, "chunk_overlap": chunk_overlap if chunk_tokens else None,
        "fields": asdict(spec), "block_records": block,
    }
    if shard:
        params["shard"] = {"index": shard.index, "count": shard.count, "records": [start, stop]}
    staging = Staging(out, {"params": {**params, "model": encoder.fingerprint}, "source_sha256": source_record.get("sha256")})
    with writer_lock(out):  # held over the staged blocks and the final write: a second writer fails at once
        staging.open(resume, overwrite)
        if resume:
            keep_when_interrupted(staging.path, "run the same command with --resume to continue")
        try:
            manifest = _encode_blocks(source, role, out, encoder, settings, spec, chunk_tokens, chunk_overlap,
                                      use_cache, overwrite, block, staging, start, stop, n_records, params, source_record)
        except BaseException:
            if not resume:
                staging.remove()
            raise
        forget_kept(staging.path)
        staging.remove()
    return manifest


def _encode_blocks(source: Path, role: Role, out: Path, encoder: Encoder, settings: EncodeSettings, spec: FieldSpec,
                   chunk_tokens: int | None, chunk_overlap: int, use_cache: bool, overwrite: bool, block: int,
                   staging: Staging, start: int, stop: int, n_records: int, params: dict[str, Any],
                   source_record: dict[str, Any]) -> Manifest:
    blocks = range(start // block, math.ceil(stop / block))
    done = 0
    for k in blocks:  # blocks kept from an interrupted run: a verified prefix
        if staging.verified(k, encoder.dim) is None:
            break
        done += 1
    staging.drop_from(blocks.start + done)
    cache = VectorCache(encoder, "raw") if use_cache else None
    t0 = time.perf_counter()
    unit = "docs" if role == "corpus" else "queries"
    try:
        with progress(f"encode {role}", stop - start, unit) as advance:
            first_todo = max(start, (blocks.start + done) * block)
            advance(min(first_todo, stop) - start)
            records = iter_texts(source, role, spec)
            for _ in range(first_todo):
                next(records)
            for k in blocks[done:]:
                chunk = [next(records) for _ in range(min(block, stop - k * block))]
                _encode_block(k, chunk, source, role, encoder, settings, chunk_tokens, chunk_overlap, cache, staging)
                advance(len(chunk))
    finally:
        if cache is not None:
            cache.close()
    seconds = time.perf_counter() - t0
    return _assemble(out, overwrite, staging, blocks, encoder.dim, settings.dtype, role, params, source_record,
                     stop - start, n_records, seconds)


def _encode_block(k: int, records: list[TextRecord], source: Path, role: Role, encoder: Encoder,
                  settings: EncodeSettings, chunk_tokens: int | None, chunk_overlap: int,
                  cache: VectorCache | None, staging: Staging) -> None:
    rows, texts = [], []
    for idrow, text in _units(records, encoder, chunk_tokens, chunk_overlap):
        rows.append(idrow)
        texts.append(text)
    keep = np.array([bool(t.strip()) for t in texts], dtype=bool)
    vecs = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    if keep.any():
        raw = encode_texts(encoder, [t for t, ok in zip(texts, keep) if ok], EncodeSettings(
            normalize=False, query_prefix=settings.query_prefix, doc_prefix=settings.doc_prefix,
            batch_size=settings.batch_size), role, cache, warn_empty=False)
        vecs[keep] = raw
    if not np.isfinite(vecs).all():
        bad = rows[int(np.argmax(~np.isfinite(vecs).all(axis=1)))]["id"]
        raise UserError(f"{source}: the model produced NaN/inf for record '{bad}'; check that text")
    norms = np.linalg.norm(vecs, axis=1)
    keep &= norms > 0
    if settings.normalize:
        vecs[keep] /= norms[keep, None]
    dropped = [r["id"] for r, ok in zip(rows, keep) if not ok]
    ids = pd.DataFrame([r for r, ok in zip(rows, keep) if ok]) if keep.any() else pd.DataFrame({"id": pd.Series([], dtype=object)})
    staging.write(k, vecs[keep], ids, {"records": len(records), "dropped": dropped})


def _assemble(out: Path, overwrite: bool, staging: Staging, blocks: range, dim: int, dtype: str, role: Role,
              params: dict[str, Any], source_record: dict[str, Any], n_shard_records: int, n_records: int,
              seconds: float) -> Manifest:
    metas = [json.loads(staging.files(k)[2].read_text()) for k in blocks]
    rows = sum(m["rows"] for m in metas)
    dropped = [i for m in metas for i in m["dropped"]]
    if rows == 0:
        raise UserError(f"--out {out}: every {role} record to encode has empty text (or encodes to a zero vector); "
                        "nothing to write — check --text-field / --title-field")
    if dropped:
        console.print(f"[yellow]warning:[/] {_empty_warning(role, dropped, n_shard_records)}", highlight=False)
    with atomic_dir(out, overwrite) as tmp:
        target = np.lib.format.open_memmap(tmp / EMBEDDINGS_FILE, mode="w+", dtype=np.dtype(dtype), shape=(rows, dim))
        at = 0
        for k in blocks:
            part = np.load(staging.files(k)[0], mmap_mode="r")
            target[at : at + len(part)] = part
            at += len(part)
        target.flush()
        del target
        ids = pd.concat([pd.read_parquet(staging.files(k)[1]) for k in blocks], ignore_index=True)
        write_ids(tmp, sanitize_ids(ids))
        manifest = Manifest(
            type="embeddings", params=params, inputs={"source": source_record},
            stats={"records": n_shard_records, "source_records": n_records, "rows": rows, "dim": dim,
                   "empty_dropped": len(dropped), "empty_dropped_ids": dropped[:20], "seconds": round(seconds, 3),
                   "rows_per_s": round(rows / seconds, 1) if seconds else None},
        )
        write_dir_manifest(tmp, manifest)
    return manifest
