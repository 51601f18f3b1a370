"""The one persistent cache of vecrecall: content-addressed bytes keyed by what produced them and from what.

Every expensive, deterministic result that later runs may ask for again goes through here: text vectors
(`vecrecall.encoders`), reranker scores (`vecrecall.rerank`), ANNCUR score rows (`vecrecall.anncur.scorers`) and the
sha256 of large model files (kind `file-digests`, keyed by path, size, mtime, ctime, inode and device:
`vecrecall.fingerprint.model_fingerprints`).
A key is sha256(namespace, input parts), where the namespace holds the fingerprint of the model (and of every setting
that changes the result), so a changed model, setting or text simply misses and nothing is ever invalidated by hand.

Storage: one SQLite file per kind under `$VECRECALL_CACHE_DIR` (default `~/.cache/vecrecall`), e.g.
`vectors.sqlite`. SQLite's write-ahead log lets many processes read while one writes, and a busy timeout makes
concurrent writers (shards encoded side by side) wait for each other instead of failing. A cache that cannot be
opened or written (read-only home, a damaged file) is reported once on stderr and the command carries on without it.
Deleting the directory is always safe.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

_BUSY_TIMEOUT_S = 120.0
_CHUNK = 500  # SQLite's limit on bound parameters is 999 in old builds
_WARNED: set[str] = set()


def cache_root() -> Path:
    """`$VECRECALL_CACHE_DIR`, or `~/.cache/vecrecall`."""
    return Path(os.environ.get("VECRECALL_CACHE_DIR") or Path.home() / ".cache" / "vecrecall")


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        from .progress import console

        console.print(f"[yellow]warning:[/] {message}", highlight=False)


class Cache:
    """Key → bytes for one kind of result (`<root>/<kind>.sqlite`), keys scoped by `namespace`.

    `namespace` must identify everything besides the input that decides the value (model fingerprint, backend,
    settings). Values are written once per key (`put`), or replaced (`put(..., replace=True)`) where a value grows,
    e.g. an ANNCUR score row filled in over several runs. Use as a context manager or call `close()`.
    """

    def __init__(self, kind: str, namespace: str, root: Path | None = None) -> None:
        self.kind = kind
        self.namespace = namespace
        self.path = (root or cache_root()) / f"{kind}.sqlite"
        self.db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the directory itself: one warning for every kind of cache
            self._disable(f"cannot use the cache directory {self.path.parent} ({exc.strerror}); running without a "
                          "cache (set VECRECALL_CACHE_DIR to a writable directory)")
            return
        try:
            self.db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
            self.db.commit()
        except (OSError, sqlite3.Error) as exc:
            self._disable(f"cannot use the cache {self.path} ({exc}); running without it "
                          "(set VECRECALL_CACHE_DIR to a writable directory, or delete the damaged file)")

    def _disable(self, message: str) -> None:
        _warn_once(message)
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
        self.db = None

    @property
    def enabled(self) -> bool:
        return self.db is not None

    def key(self, *parts: str | bytes) -> bytes:
        """sha256 of the namespace and the input parts (NUL-separated): the content address of one value."""
        h = hashlib.sha256(self.namespace.encode())
        for p in parts:
            h.update(b"\x00")
            h.update(p if isinstance(p, bytes) else p.encode())
        return h.digest()

    def get(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored values of those `keys` that are present."""
        found: dict[bytes, bytes] = {}
        if self.db is None or not keys:
            return found
        try:
            for i in range(0, len(keys), _CHUNK):
                part = list(keys[i : i + _CHUNK])
                q = f"SELECT k, v FROM kv WHERE k IN ({','.join('?' * len(part))})"
                found.update(self.db.execute(q, part).fetchall())
        except sqlite3.Error as exc:
            self._disable(f"cannot read the cache {self.path} ({exc}); running without it")
        return found

    def put(self, items: Iterable[tuple[bytes, bytes]], replace: bool = False) -> None:
        """Store (key, value) pairs in one transaction; existing keys are kept unless `replace`."""
        if self.db is None:
            return
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        try:
            with self.db:
                self.db.executemany(f"{verb} INTO kv VALUES (?, ?)", items)
        except sqlite3.Error as exc:
            self._disable(f"cannot write the cache {self.path} ({exc}); running without it")

    # numpy conveniences: every array value is stored as raw little-endian bytes of a known dtype

    def get_arrays(self, keys: Sequence[bytes], dtype: str = "float32") -> dict[bytes, np.ndarray]:
        return {k: np.frombuffer(v, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype, copy=True)
                for k, v in self.get(keys).items()}

    def put_arrays(self, keys: Iterable[bytes], arrays: Iterable[np.ndarray], dtype: str = "float32",
                   replace: bool = False) -> None:
        le = np.dtype(dtype).newbyteorder("<")
        self.put(((k, np.ascontiguousarray(a, dtype=le).tobytes()) for k, a in zip(keys, arrays)), replace)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
