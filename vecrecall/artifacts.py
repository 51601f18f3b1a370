"""On-disk artifacts: manifests with lineage, atomic writes, and the Embeddings type.

Every artifact is either a directory holding `manifest.json` or a single file with `<file>.manifest.json` beside it.
A manifest records what made the artifact (`type`, `params`), from which inputs (each input's path, content hash and
its own manifest, so the lineage travels with the artifact) and a few measured `stats`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import __version__
from .errors import UserError

MANIFEST = "manifest.json"


@dataclass
class Manifest:
    """What made an artifact, from which inputs, with which parameters."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    vecrecall_version: str = __version__
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        known = {k: data[k] for k in ("type", "params", "inputs", "stats", "vecrecall_version", "created") if k in data}
        return cls(**known)

    def parent(self, name: str) -> "Manifest | None":
        """The manifest of input `name`, if it was recorded."""
        entry = self.inputs.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("manifest"), dict):
            return Manifest.from_dict(entry["manifest"])
        return None

    def lineage(self) -> list[tuple[str, "Manifest"]]:
        """This manifest and every ancestor, depth first, as (input name, manifest) pairs."""
        out: list[tuple[str, Manifest]] = [("", self)]
        for name in self.inputs:
            parent = self.parent(name)
            if parent is not None:
                out.extend((f"{name}/{sub}".rstrip("/"), m) for sub, m in parent.lineage())
        return out


def manifest_path(path: str | os.PathLike) -> Path:
    """Where the manifest of the artifact at `path` lives (inside a directory, beside a file)."""
    p = Path(path)
    return p / MANIFEST if p.is_dir() else p.with_name(p.name + ".manifest.json")


def read_manifest(path: str | os.PathLike, expect: str | tuple[str, ...] | None = None) -> Manifest:
    """Read the manifest of an artifact; with `expect`, refuse artifacts of another type."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory")
    mp = manifest_path(p)
    if not mp.exists():
        raise UserError(f"{p}: not a vecrecall artifact (no {mp.name}); create it with a vecrecall command")
    try:
        m = Manifest.from_dict(json.loads(mp.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError(f"{mp}: unreadable manifest ({exc}); re-create the artifact") from exc
    if expect is not None:
        kinds = (expect,) if isinstance(expect, str) else expect
        if m.type not in kinds:
            raise UserError(f"{p}: is a '{m.type}' artifact, expected {' or '.join(repr(k) for k in kinds)}")
    return m


def input_entry(path: str | os.PathLike, manifest: Manifest | None = None, digest: str | None = None) -> dict[str, Any]:
    """How a manifest records one input: its path, optional content hash and optional manifest."""
    entry: dict[str, Any] = {"path": str(path)}
    if digest:
        entry["sha256"] = digest
    if manifest is not None:
        entry["manifest"] = manifest.to_dict()
    return entry


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: str | os.PathLike) -> str:
    """Content hash of a file, or of every file under a directory (names and bytes)."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(str(f.relative_to(p)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def check_out(out: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse an existing output path unless --overwrite; checked before any work is done."""
    p = Path(out)
    if p.exists() and not overwrite:
        raise UserError(f"{p}: already exists; pass --overwrite to replace it, or choose another --out")
    return p


def _replace(tmp: Path, final: Path) -> None:
    """Move `tmp` to `final`, replacing a previous artifact only once the new one is complete."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_dir(out: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `out`; it becomes `out` only if the block finishes.

    An interrupted or failed command leaves no directory at `out` (a hidden `.name.tmp-*` at most,
    which no command reads as an artifact).
    """
    final = check_out(out, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        _replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(out: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary file path beside `out`; it becomes `out` only if the block finishes."""
    final = check_out(out, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_file_manifest(path: str | os.PathLike, manifest: Manifest) -> None:
    """Write the manifest beside a single-file artifact (atomically)."""
    with atomic_file(manifest_path(Path(path))) as tmp:
        write_json(tmp, manifest.to_dict())


def write_dir_manifest(directory: Path, manifest: Manifest) -> None:
    write_json(directory / MANIFEST, manifest.to_dict())


# --------------------------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------------------------

EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "ids.parquet"


@dataclass
class Embeddings:
    """An `embeddings.npy` matrix (memory-mapped) whose row i belongs to row i of `ids.parquet`.

    `ids` has column `id` and, for chunked documents, `docid` (the parent document) and `chunk`.
    """

    path: Path
    vectors: np.ndarray
    ids: "Any"  # pandas.DataFrame
    manifest: Manifest


def load_embeddings(path: str | os.PathLike, check_finite: bool = False) -> Embeddings:
    """Load an embeddings artifact, checking that rows and ids agree."""
    import pandas as pd

    p = Path(path)
    m = read_manifest(p, expect="embeddings")
    npy, idf = p / EMBEDDINGS_FILE, p / IDS_FILE
    for f in (npy, idf):
        if not f.exists():
            raise UserError(f"{p}: incomplete embeddings artifact, {f.name} is missing; re-run vecrecall encode")
    try:
        vectors = np.load(npy, mmap_mode="r")
    except ValueError as exc:
        raise UserError(f"{npy}: not a readable .npy matrix ({exc})") from exc
    ids = pd.read_parquet(idf)
    if vectors.ndim != 2:
        raise UserError(f"{npy}: expected a 2-d matrix, got shape {vectors.shape}")
    if len(ids) != vectors.shape[0]:
        raise UserError(
            f"{p}: {EMBEDDINGS_FILE} has {vectors.shape[0]} rows but {IDS_FILE} has {len(ids)} ids; "
            "they must match row for row (re-run vecrecall encode)"
        )
    if check_finite:
        check_vectors_finite(vectors, str(npy))
    return Embeddings(p, vectors, ids, m)


def check_vectors_finite(vectors: np.ndarray, where: str, block: int = 65536) -> None:
    """Refuse NaN/inf values, naming the first bad row."""
    for start in range(0, vectors.shape[0], block):
        chunk = np.asarray(vectors[start : start + block])
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            row = start + int(np.argmax(bad))
            raise UserError(f"{where}: row {row} contains NaN or inf; fix or drop that input and re-encode")


def save_embeddings_from_array(out: Path, vectors: np.ndarray, ids: "Any", manifest: Manifest) -> None:
    """Write a whole in-memory matrix as an embeddings artifact into the (temporary) directory `out`."""
    np.save(out / EMBEDDINGS_FILE, np.ascontiguousarray(vectors))
    ids.to_parquet(out / IDS_FILE, index=False)
    write_dir_manifest(out, manifest)
