"""Model identity: the fingerprint of a model directory and the rule that decides whether two recorded model
descriptions name the same model. Light on purpose: `query` checks fingerprints without importing the encoders."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from .cache import Cache

EXPORTS_DIR = ".vecrecall-exports"  # where vecrecall keeps a model's ONNX/OpenVINO exports (vecrecall.exported)


FINGERPRINT_SCHEME = 2  # model descriptions written since whole-file hashing; see `same_model`
_SAMPLED_ABOVE = 4 << 20  # scheme 1 hashed only the head and tail MiB of files larger than this
_BLOCK = 1 << 22


def _model_files(path: Path) -> list[Path]:
    """Every file a loader may read, through symlinked subdirectories too (rglob does not enter those), each real
    directory once; the files are named by their path under `path`, so a linked copy hashes like a plain one."""
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = [d for d in dirs if d not in (".git", EXPORTS_DIR)]
        out += [Path(root) / f for f in files if (Path(root) / f).is_file()]
    return sorted(f for f in out if f != path / "manifest.json")


def _stat_key(f: Path) -> tuple[str, ...]:
    """What identifies one version of a file for the digest cache: resolved path, size, mtime, ctime, inode, device.
    Any write sets a file's ctime, and users cannot set it back, so a file rewritten in place never matches."""
    st = f.stat()
    return str(f.resolve()), *map(str, (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev))


def _sha256_file(f: Path, advance: Callable[[float], None]) -> str:
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            h.update(block)
            advance(len(block) / 2**20)
    return h.hexdigest()


def model_fingerprints(path: Path) -> tuple[str, str]:
    """(fingerprint, fingerprint_v1) of a model directory, 16 hex digits each.

    The fingerprint (scheme 2) is sha256 over every file's relative name, size and the sha256 of its whole content.
    The digests of files over 4 MiB are kept in the one vecrecall cache (kind `file-digests`), keyed by the file's
    resolved path, size, st_mtime_ns, st_ctime_ns, inode and device (`_stat_key`), so loading an unchanged model
    again reads only its small files and the first and last MiB of the large ones; a digest is stored only when the
    file did not change while it was read. Without a usable cache every load reads everything (slower, same answer).
    fingerprint_v1 is the older sampled hash (names, sizes, files up to 4 MiB whole, larger ones only their first
    and last MiB), kept to recognise artifacts made before scheme 2 (see `same_model`). Both leave out the exports
    vecrecall keeps beside the model (`.vecrecall-exports/`), `.git`, and vecrecall's own top-level `manifest.json`
    (run statistics no model loader reads), so equal weights give equal fingerprints.
    """
    from .progress import progress

    files = _model_files(path)
    sizes = [f.stat().st_size for f in files]
    v2, v1 = hashlib.sha256(b"vecrecall-model-fingerprint-v2"), hashlib.sha256()
    with Cache("file-digests", "sha256-v1") as cache:
        keys = {f: cache.key(*_stat_key(f)) for f, size in zip(files, sizes) if size > _SAMPLED_ABOVE}
        known = {k: v.decode() for k, v in cache.get(list(keys.values())).items()}
        todo = sum(size for f, size in zip(files, sizes) if f in keys and keys[f] not in known) / 2**20
        shown = progress(f"fingerprint {path.name}", todo, "MiB") if todo else contextlib.nullcontext(lambda n: None)
        with shown as advance:
            for f, size in zip(files, sizes):
                rel = str(f.relative_to(path))
                v1.update(f"{rel}:{size}".encode())
                if f not in keys:
                    data = f.read_bytes()
                    v1.update(data)
                    digest = hashlib.sha256(data).hexdigest()
                else:
                    with open(f, "rb") as fh:
                        v1.update(fh.read(1 << 20))
                        fh.seek(size - (1 << 20))
                        v1.update(fh.read())
                    digest = known.get(keys[f]) or _sha256_file(f, advance)
                    if keys[f] not in known and cache.key(*_stat_key(f)) == keys[f]:
                        cache.put([(keys[f], digest.encode())])
                v2.update(f"{rel}\0{size}\0{digest}\n".encode())
    return v2.hexdigest()[:16], v1.hexdigest()[:16]


def model_fingerprint(path: Path) -> str:
    """The scheme-2 fingerprint of a model directory (whole contents; see `model_fingerprints`)."""
    return model_fingerprints(path)[0]


def fingerprint_fields(fingerprint: str, fingerprint_v1: str) -> dict[str, Any]:
    """What a model description records to identify the model: {fingerprint, fingerprint_scheme, fingerprint_v1}."""
    return {"fingerprint": fingerprint, "fingerprint_scheme": FINGERPRINT_SCHEME, "fingerprint_v1": fingerprint_v1}


def same_model(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two model descriptions (manifest `model` dicts, `describe()` results) name the same model.

    When both were written with fingerprint scheme 2 their whole-content `fingerprint`s decide. Otherwise (one was
    written before scheme 2, when `fingerprint` was the sampled hash) their scheme-1 values decide: an old dict's
    `fingerprint`, a new one's `fingerprint_v1`. So nothing made before scheme 2 is refused that was accepted then,
    and nothing two scheme-2 artifacts disagree on is accepted. Descriptions of non-file models (hash encoder,
    two-tower, imported vectors) that carry one `fingerprint` compare it, as before."""
    a, b = a or {}, b or {}
    if a.get("fingerprint_scheme") == FINGERPRINT_SCHEME and b.get("fingerprint_scheme") == FINGERPRINT_SCHEME:
        return a.get("fingerprint") == b.get("fingerprint")

    def v1(d: dict[str, Any]) -> Any:
        return d.get("fingerprint_v1") if d.get("fingerprint_scheme") == FINGERPRINT_SCHEME else d.get("fingerprint")

    return v1(a) == v1(b)
