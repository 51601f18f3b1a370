"""On-disk artifacts: manifests with lineage, safe writes, and the Embeddings type.

Every artifact is either a directory holding `manifest.json` or a single file with `<file>.manifest.json` beside it.
A manifest records what made the artifact (`type`, `params`), from which inputs (each input's path, content hash and
its own manifest, so the lineage travels with the artifact) and a few measured `stats`.

How artifacts are written (every command goes through `atomic_dir`, `atomic_file` or `staged_dir`)
---------------------------------------------------------------------------------------------------
Writing an output `X` uses only these hidden names beside it, and cleaning up only ever deletes names that match
them exactly (`_HIDDEN`), never anything else:

    .X.lock                         held (flock) while a command writes X; the kernel releases it when the process dies
    .X.tmp-<pid>-<hex8>             the new artifact being written (a file or a directory)
    .X.old-<pid>-<hex8>             the previous directory, moved aside for an instant (fallback swap only, see below)
    .X.trash-<pid>-<hex8>           a replaced directory being deleted
    .X.manifest.json.next-<sha16>   the next manifest of file X, named by the first 16 hex digits of the new X's sha256
    .X.partial                      a resumable writer's staging directory (`staged_dir`), kept when interrupted

1. `check_out(X, overwrite)`, before any work: an existing X is refused unless --overwrite; --overwrite replaces only a
   vecrecall artifact (a directory with `manifest.json`, holding no file its manifest's `files` list lacks), never a
   directory vecrecall did not write, a symlink, or a file with a directory (or the reverse); an X whose nearest
   existing parent is a file or not writable is refused.
2. The write takes the lock (a second writer fails at once, naming the pid), restores an interrupted swap, deletes the
   hidden leftovers of earlier killed writers (only those whose pid is dead), and checks the refusal again under the
   lock, so two writers without --overwrite never both succeed.
3. The new artifact is written to `.X.tmp-*` with modes from the umask (files 0666 & ~umask, directories 0777 & ~umask).
4. Commit, with SIGINT/SIGTERM held back until it is done:
   - a directory replaces the old one with one `renameat2(RENAME_EXCHANGE)` (Linux ≥ 3.15; ext4, xfs, btrfs, tmpfs),
     so X is always either the complete old or the complete new directory; then the old one (now at the tmp name) is
     deleted. Where the filesystem lacks it (NFS, macOS) the swap is two renames via `.X.old-*`; a reader or writer
     that finds X missing restores `.X.old-*` (`recover`), so a kill between them still leaves the old artifact.
   - a file is one `rename`. When it has a manifest, the manifest is first written as
     `.X.manifest.json.next-<sha16>`, then X is renamed into place (the commit point), then the manifest. A reader
     that finds a pending manifest whose hash prefix matches X's content uses it, so a run and its manifest always
     agree; the next write to X finishes or discards it. File manifests record the file's `content_sha256` and
     `content_bytes` in `stats`; a manifest whose byte count differs from the file is refused.
5. Directory manifests get a `files` list at commit; `--overwrite` refuses to replace a directory holding a file
   outside the entries it lists (a user's notes.txt; files a library adds inside a listed subdirectory are its own).

Interrupted commands (`interruption_note`) report what they left: nothing, a temp they could not delete, or a kept
`.X.partial`. Tests inject delays between the commit's steps with VECRECALL_TEST_SWAP_DELAY=<seconds> (each step then
prints `vecrecall-test-swap <step>` on stderr and sleeps; the steps are `written` (before the commit, signals not yet
held), `ready`, then `moved-aside`/`swapped` (two-rename fallback) or `manifest-pending`, and `committed`/`replaced`),
and force the two-rename fallback with VECRECALL_TEST_SWAP_FALLBACK=1; nothing else reads them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from . import __version__
from .errors import UserError

MANIFEST = "manifest.json"
FILE_MANIFEST_SUFFIX = ".manifest.json"


@dataclass
class Manifest:
    """What made an artifact, from which inputs, with which parameters."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    vecrecall_version: str = __version__
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    source: Path | None = field(default=None, repr=False, compare=False)  # the manifest file it was read from

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("source")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        known = {k: data[k] for k in ("type", "params", "inputs", "stats", "vecrecall_version", "created") if k in data}
        return cls(**known)

    def need(self, *keys: str) -> Any:
        """The value at `keys` (e.g. `need("params", "backend")`); a missing key is one line naming file and key."""
        value: Any = self.to_dict()
        for i, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                where = self.source or f"the {self.type} manifest"
                raise UserError(f"{where}: key '{'.'.join(keys[: i + 1])}' is missing; the manifest was edited or "
                                "comes from another tool; re-create the artifact with vecrecall")
            value = value[key]
        return value

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
    return p / MANIFEST if p.is_dir() else _file_manifest(p)


def _file_manifest(p: Path) -> Path:
    return p.with_name(p.name + FILE_MANIFEST_SUFFIX)


# Keys the readers of an artifact type index directly, with their JSON types: `read_manifest(expect=...)` checks them,
# so an edited manifest is one line naming the key, never a KeyError deep in a loader.
REQUIRED_KEYS: dict[str, tuple[tuple[str, str, type | tuple[type, ...]], ...]] = {
    "index": (("params", "backend", str), ("params", "metric", str), ("params", "dim", int)),
    "two-tower-model": (("params", "tower", dict),),
}


def _check_required(m: Manifest, mp: Path) -> None:
    for section, key, kind in REQUIRED_KEYS.get(m.type, ()):
        value = m.need(section, key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(f"{mp}: key '{section}.{key}' is {value!r}, expected {_json_type(kind)}; the manifest was "
                            "edited; re-create the artifact with vecrecall")


def _json_type(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", dict: "an object", float: "a number", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse_manifest(mp: Path, data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise UserError(f"{mp}: not a manifest (expected a JSON object); re-create the artifact")
    if not isinstance(data.get("type"), str) or not data["type"]:
        raise UserError(f"{mp}: key 'type' is missing or not a string; the manifest was edited; re-create the artifact")
    for key in ("params", "inputs", "stats"):
        if key in data and not isinstance(data[key], dict):
            raise UserError(f"{mp}: key '{key}' must be an object, got {type(data[key]).__name__}; re-create the artifact")
    m = Manifest.from_dict(data)
    m.source = mp
    return m


def _load_json(mp: Path) -> Any:
    try:
        return json.loads(mp.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{mp}: unreadable manifest ({exc}); re-create the artifact") from exc


def _resolve_file_manifest(p: Path) -> tuple[Path, bool]:
    """(manifest path to read, whether the artifact has one) for file `p`, honouring a pending manifest that
    matches p's content (a write killed between its file and manifest renames)."""
    pending = _pending_manifests(p)
    if pending:
        prefix = sha256_file(p)[:16]
        for path, sha in pending:
            if sha == prefix:
                return path, _load_json(path) is not None
    mp = _file_manifest(p)
    return mp, mp.is_file()


def read_manifest(path: str | os.PathLike, expect: str | tuple[str, ...] | None = None) -> Manifest:
    """Read the manifest of an artifact; with `expect`, refuse artifacts of another type.

    Raises UserError (one line naming the file and key) for a missing artifact or manifest, unreadable JSON, a
    missing or mistyped key, a type other than `expect`, or a file manifest whose byte count differs from the file.
    """
    p = Path(path)
    recover(p)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory")
    if p.is_dir():
        mp, present = p / MANIFEST, (p / MANIFEST).is_file()
    else:
        mp, present = _resolve_file_manifest(p)
    if not present:
        raise UserError(f"{p}: not a vecrecall artifact (no {_file_manifest(p).name if p.is_file() else MANIFEST}); "
                        "create it with a vecrecall command")
    m = _parse_manifest(mp, _load_json(mp))
    if p.is_file() and isinstance(m.stats.get("content_bytes"), int) and m.stats["content_bytes"] != p.stat().st_size:
        raise UserError(f"{mp}: describes a {m.stats['content_bytes']}-byte file but {p.name} has {p.stat().st_size} "
                        "bytes (key 'stats.content_bytes'); the file was changed after vecrecall wrote it; re-create it")
    if expect is not None:
        kinds = (expect,) if isinstance(expect, str) else expect
        if m.type not in kinds:
            raise UserError(f"{p}: is a '{m.type}' artifact, expected {' or '.join(repr(k) for k in kinds)} "
                            f"(key 'type' in {mp.name})")
        _check_required(m, mp)
    return m


def optional_manifest(path: str | os.PathLike) -> Manifest | None:
    """The manifest of file artifact `path` if it has one (a run from another tool has none), else None."""
    p = Path(path)
    if not p.is_file():
        return read_manifest(p)
    return read_manifest(p) if _resolve_file_manifest(p)[1] else None


def input_entry(path: str | os.PathLike, manifest: Manifest | None = None, digest: str | None = None) -> dict[str, Any]:
    """How a manifest records one input: its path, optional content hash and optional manifest."""
    entry: dict[str, Any] = {"path": str(path)}
    if digest:
        entry["sha256"] = digest
    if manifest is not None:
        entry["manifest"] = manifest.to_dict()
    return entry


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")


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


# --------------------------------------------------------------------------------------------------------------
# Writing: hidden names, locks, recovery, commit
# --------------------------------------------------------------------------------------------------------------

_HIDDEN = r"(?:lock|partial|(?:tmp|old|trash)-\d+-[0-9a-f]{8}|manifest\.json\.next-[0-9a-f]{16})"
_ANY_HIDDEN = re.compile(rf"^\..+\.{_HIDDEN}$")
_LIVE: set[Path] = set()  # this process's temporaries not yet committed or removed
_KEPT: dict[Path, Any] = {}  # staging directories kept on purpose when interrupted → how to continue (text or callable)
_DONE: list[Path] = []  # outputs this process committed (an interruption after them did not undo them)
_TEST_DELAY = "VECRECALL_TEST_SWAP_DELAY"
_TEST_FALLBACK = "VECRECALL_TEST_SWAP_FALLBACK"
_NOREPLACE, _EXCHANGE = 1, 2  # renameat2 flags


def _exists(p: Path) -> bool:
    return p.exists() or p.is_symlink()


def _hidden(final: Path, kind: str) -> Path:
    return final.with_name(f".{final.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def _partial(final: Path) -> Path:
    return final.with_name(f".{final.name}.partial")


def partial_dir(out: str | os.PathLike) -> Path:
    """Where `staged_dir(out)` keeps an interrupted writer's partial results (`.out.partial` beside `out`)."""
    return _partial(Path(out))


def _leftovers(final: Path) -> list[tuple[Path, str, str]]:
    """(path, kind, pid or sha prefix) of every hidden temporary of `final` beside it; exact names only."""
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(?:(tmp|old|trash)-(\d+)-[0-9a-f]{{8}}|"
                         rf"manifest\.json\.(next)-([0-9a-f]{{16}}))$")
    found = []
    try:
        entries = list(os.scandir(final.parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for e in entries:
        m = pattern.match(e.name)
        if m:
            found.append((Path(e.path), m.group(1) or m.group(3), m.group(2) or m.group(4)))
    return sorted(found)


def _pending_manifests(p: Path) -> list[tuple[Path, str]]:
    return [(path, sha) for path, kind, sha in _leftovers(p) if kind == "next"]


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill(pid, 0) would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _test_step(name: str) -> None:
    delay = os.environ.get(_TEST_DELAY)
    if delay:
        print(f"vecrecall-test-swap {name}", file=sys.stderr, flush=True)
        time.sleep(float(delay))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM until the block is done, so Ctrl-C cannot split a commit's renames.

    Python-level (the handlers only record the signal, then the original one runs): blocking with pthread_sigmask
    would not do, as the kernel hands a process signal to any thread that does not block it (torch, faiss, OpenMP)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in previous.items():
        if handler not in (signal.SIG_IGN, None):
            signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler not in (signal.SIG_IGN, None):
                signal.signal(sig, handler)
        for signum in pending[:1]:
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            else:  # SIG_DFL: let the default action happen now
                os.kill(os.getpid(), signum)


_renameat2_fn: Any = None


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """renameat2(2) with `flags`; False where the platform or filesystem lacks it (the caller falls back)."""
    global _renameat2_fn
    if os.environ.get(_TEST_FALLBACK) or not sys.platform.startswith("linux"):
        return False
    if _renameat2_fn is None:
        import ctypes

        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            _renameat2_fn = fn
        except (AttributeError, OSError):
            _renameat2_fn = False
    if not _renameat2_fn:
        return False
    import ctypes

    at_fdcwd = -100
    if _renameat2_fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _rename_new(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, failing (FileExistsError) rather than replacing anything already at `dst`."""
    if _renameat2(src, dst, _NOREPLACE):
        return
    if _exists(dst):
        raise FileExistsError(errno.EEXIST, "exists", str(dst))
    if src.is_dir():
        os.rename(src, dst)  # fails on a non-empty directory; we hold dst's lock, so nothing else of ours races
        return
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this filesystem
        os.rename(src, dst)
    else:
        src.unlink()


class _Lock:
    """An exclusive flock on `.X.lock`; a killed holder's lock is released by the kernel (the file may stay)."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.path = final.with_name(f".{final.name}.lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): writes are still atomic, only concurrent writers go unchecked
            return
        deadline = time.monotonic() + 0.5  # a reader's probe (`_lock_held`) holds it for an instant
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise UserError(f"{self.final}: another vecrecall command (pid {holder}) is writing it; wait for it to "
                                "finish or choose another --out") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder unlinked the file between our open and flock: lock the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def _lock_held(final: Path) -> bool:
    """Whether a live process is writing `final` (its lock is taken)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(final.with_name(f".{final.name}.lock"), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _restore(final: Path) -> Path | None:
    """Rename the newest `.X.old-*` back to X when X is missing; the restored source, or None."""
    if _exists(final):
        return None
    olds = [p for p, kind, _ in _leftovers(final) if kind == "old"]
    if not olds:
        return None
    newest = max(olds, key=lambda p: p.lstat().st_ctime)
    try:
        _rename_new(newest, final)
    except FileExistsError:
        return None
    except PermissionError:
        raise UserError(f"{final}: missing, but {newest.name} beside it holds the previous version (a replacement was "
                        f"interrupted); restore it with: mv '{newest}' '{final}'") from None
    from .progress import console

    console.print(f"[yellow]note:[/] restored {final} from {newest.name} (an earlier replacement was interrupted)")
    return newest


def recover(path: str | os.PathLike) -> None:
    """Undo a directory swap cut short by a kill (only possible where the filesystem lacks RENAME_EXCHANGE):
    when X is missing and `.X.old-*` exists, rename it back. Waits while another command holds X's lock."""
    final = Path(path)
    if _exists(final) or not final.parent.is_dir() or not any(k == "old" for _, k, _ in _leftovers(final)):
        return
    deadline = time.monotonic() + 10
    while _lock_held(final):
        if _exists(final):
            return
        if time.monotonic() > deadline:
            raise UserError(f"{final}: another vecrecall command is replacing it; try again when it has finished")
        time.sleep(0.05)
    _restore(final)


def _tidy(final: Path) -> None:
    """Under X's lock: finish or undo what killed writers left (restore `.X.old-*`, promote a pending manifest that
    matches X, delete stale temporaries). Only exact hidden names of dead processes (or of this one) are touched."""
    _restore(final)
    sha = None
    for path, kind, tag in _leftovers(final):
        if kind == "next":
            if sha is None and final.is_file():
                sha = sha256_file(final)[:16]
            if tag == sha and _load_json(path) is not None:
                os.replace(path, _file_manifest(final))
            else:
                if tag == sha:  # the pending write said: no manifest
                    _file_manifest(final).unlink(missing_ok=True)
                path.unlink(missing_ok=True)
        elif path not in _LIVE and (int(tag) == os.getpid() or not _pid_alive(int(tag))):
            _remove(path)


def _check_writable(final: Path) -> None:
    anc = final.parent
    while not _exists(anc) and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise UserError(f"{final}: cannot write there: {anc} is a file, not a directory; choose another --out")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise UserError(f"{final}: cannot write there: {anc} is not writable (permission denied); choose another --out")
    # os.access trusts permission bits: root passes them, and /proc, read-only bind mounts or ACLs can still refuse.
    # Create and delete a probe (a hidden temp name, so a killed probe is tidied like any temp).
    probe = anc / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise UserError(f"{final}: cannot write there: {anc}: {exc.strerror or exc}; choose another --out") from None
    probe.unlink()


def _foreign_files(directory: Path) -> list[str]:
    """Files in an artifact directory outside every top-level entry its manifest's `files` list names (empty if it
    has no list). Inside an entry vecrecall wrote, a library may add files of its own (milvus-lite's `LOCK`)."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    listed = data.get("files") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return []
    known = {str(f).split("/")[0] for f in listed} | {MANIFEST}
    return sorted(rel for rel in _files_under(directory) if rel.split("/")[0] not in known)


def _files_under(directory: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(directory):
        for name in files:
            if not _ANY_HIDDEN.match(name):
                out.append(Path(root, name).relative_to(directory).as_posix())
    return sorted(out)


def _check_replaceable(final: Path, kind: str | None) -> None:
    """Refuse to replace anything but a vecrecall artifact of the same shape (file ↔ file, directory ↔ directory)."""
    if final.is_symlink():
        raise UserError(f"{final}: is a symbolic link; vecrecall replaces no links; remove it or choose another --out")
    if final.is_dir():
        if kind == "file":
            raise UserError(f"{final}: is a directory and this command writes a file; choose another --out")
        if not (final / MANIFEST).is_file():
            raise UserError(f"{final}: is a directory vecrecall did not write (no {MANIFEST}); --overwrite only replaces "
                            "vecrecall artifacts; move it away or choose another --out")
        foreign = _foreign_files(final)
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise UserError(f"{final}: holds files vecrecall did not write ({', '.join(foreign[:3])}{more}); "
                            "--overwrite would delete them; move them out first or choose another --out")
    elif kind == "dir":
        raise UserError(f"{final}: is a file and this command writes a directory; choose another --out")


def check_out(out: str | os.PathLike, overwrite: bool, kind: str | None = None,
              inputs: Iterable[str | os.PathLike | None] = (), plain_ok: bool = False) -> Path:
    """Refuse, before any work, an output path that exists (unless `overwrite`), that --overwrite may not replace,
    or that cannot be written. `kind` ('file' or 'dir') also refuses replacing one with the other. `inputs` (the
    command's input paths; None is skipped) refuses an output that is an input, lies inside one or holds one, or is
    an input file's manifest: with --overwrite it would destroy what the command reads. An existing file without
    a vecrecall manifest beside it is replaced only with `plain_ok` (vecrecall's own manifest-less files: manifests,
    a sweep's tables and plots)."""
    if str(out) == "-":
        raise UserError("--out -: vecrecall writes its outputs to files (with a manifest), not to standard output; give "
                        "a path (--json prints the summary)")
    p = Path(out)
    recover(p)
    _check_inputs(p, inputs)
    _check_out(p, overwrite, kind, plain_ok)
    return p


def _check_inputs(out: Path, inputs: Iterable[str | os.PathLike | None]) -> None:
    target = out.resolve()
    for given in inputs:
        if given is None:
            continue
        src = Path(given).resolve()
        inside_artifact = src in target.parents and (src / MANIFEST).is_file()  # a run in a plain data folder is fine
        if target == src or inside_artifact or target in src.parents or \
                target == src.with_name(src.name + FILE_MANIFEST_SUFFIX):
            raise UserError(f"{out}: is (or holds, or is part of) the input {given}; writing there would destroy what "
                            "this command reads; choose another --out")


def _check_out(p: Path, overwrite: bool, kind: str | None, plain_ok: bool = False,
               artifact_type: str | None = None) -> None:
    _check_writable(p)
    if _exists(p):
        if not overwrite:
            raise UserError(f"{p}: already exists; pass --overwrite to replace it, or choose another --out")
        _check_replaceable(p, kind)
        if not plain_ok and p.is_file() and p.name.endswith(FILE_MANIFEST_SUFFIX):
            raise UserError(f"{p}: is the manifest of {p.name[: -len(FILE_MANIFEST_SUFFIX)]}; vecrecall writes it only "
                            "with its artifact; choose another --out")
        if not plain_ok and p.is_file():
            mp, present = _resolve_file_manifest(p)
            if not present:
                raise UserError(f"{p}: is a file vecrecall did not write (no {_file_manifest(p).name} beside it); "
                                "--overwrite only replaces vecrecall artifacts; move it away or choose another --out")
            why = _changed_since_written(p, mp, artifact_type)
            if why:
                raise UserError(f"{p}: {why}; --overwrite only replaces files as vecrecall wrote them; move it away or "
                                "choose another --out")


def _changed_since_written(p: Path, manifest_path: Path, artifact_type: str | None = None) -> str | None:
    """Why file `p` may not be replaced by an artifact of `artifact_type`, or None when it may: a manifest that is
    not vecrecall's, content that differs from the `content_sha256` vecrecall recorded when it wrote the file, or
    an artifact of another type (a run is not replaced by training pairs)."""
    data = _load_json(manifest_path)
    stats = data.get("stats") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str) or not isinstance(stats, dict) \
            or not isinstance(stats.get("content_sha256"), str):
        return f"its manifest {manifest_path.name} is not one vecrecall wrote (no type or content hash)"
    if artifact_type is not None and data["type"] != artifact_type:
        return f"is a {data['type']} artifact and this command writes a {artifact_type}"
    if sha256_file(p) != stats["content_sha256"]:
        return (f"was changed after vecrecall wrote it (its content no longer matches the hash in "
                f"{manifest_path.name})")
    return None


_HELD: dict[Path, int] = {}  # outputs whose lock this process holds → nesting depth


@contextlib.contextmanager
def writer_lock(out: str | os.PathLike) -> Iterator[None]:
    """Hold the exclusive writer lock of `out` (re-entrant within this process).

    A writer whose work spans more than one atomic step (e.g. `encode`'s resumable block staging before the final
    `atomic_dir`) holds it around the whole job, so a second writer fails at once with one line naming the holder.
    """
    final = Path(out).absolute()
    if final in _HELD:
        _HELD[final] += 1
        try:
            yield
        finally:
            _HELD[final] -= 1
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = _Lock(Path(out))
    lock.acquire()
    _HELD[final] = 1
    try:
        yield
    finally:
        del _HELD[final]
        lock.release()


def keep_when_interrupted(path: Path, hint: str) -> None:
    """Say in the interruption message that `path` (partial results) is kept on purpose, and how to continue."""
    _KEPT[path] = hint


def forget_kept(path: Path) -> None:
    _KEPT.pop(path, None)


@contextlib.contextmanager
def _writing(final: Path, overwrite: bool, kind: str, plain_ok: bool = False,
             artifact_type: str | None = None) -> Iterator[None]:
    """Hold X's lock; tidy what killed writers left; check the refusals again now that no other writer can race."""
    with writer_lock(final):
        _tidy(final)
        _check_out(final, overwrite, kind, plain_ok, artifact_type)
        yield


def _new_temp(final: Path, directory: bool) -> Path:
    tmp = _hidden(final, "tmp")
    if directory:
        os.mkdir(tmp, 0o777)  # the umask applies, unlike mkdtemp's 0700
    else:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    _LIVE.add(tmp)
    return tmp


def _discard(tmp: Path) -> None:
    if _exists(tmp):
        _remove(tmp)
    _LIVE.discard(tmp)


def _record_files(directory: Path) -> None:
    """Add the `files` list to a directory's manifest (what --overwrite may later replace)."""
    mp = directory / MANIFEST
    if not mp.is_file():
        return
    data = _load_json(mp)
    if isinstance(data, dict):
        data["files"] = [f for f in _files_under(directory) if f != MANIFEST]
        write_json(mp, data)


def _commit_dir(tmp: Path, final: Path, overwrite: bool) -> None:
    """Move the complete directory `tmp` to `final`; see the module docstring for why each step is safe."""
    garbage: Path | None = None
    with _signals_held():
        _test_step("ready")
        if not _exists(final):
            try:
                _rename_new(tmp, final)
            except FileExistsError:
                raise UserError(f"{final}: appeared while this command ran (written by another program); nothing was "
                                "replaced; choose another --out") from None
        else:
            if not overwrite:
                raise UserError(f"{final}: already exists; pass --overwrite to replace it, or choose another --out")
            _check_replaceable(final, "dir")
            if _renameat2(tmp, final, _EXCHANGE):
                garbage = tmp  # now holds the old artifact
            else:
                old = _hidden(final, "old")
                os.rename(final, old)
                _test_step("moved-aside")
                os.rename(tmp, final)
                _test_step("swapped")
                garbage = _hidden(final, "trash")
                os.rename(old, garbage)  # a `.X.old-*` is only ever complete; a half-deleted one is trash
                _LIVE.add(garbage)
            _test_step("replaced")
        _DONE.append(final)
        if garbage is not None:
            _remove(garbage)
            _LIVE.discard(garbage)


_KEEP = object()  # atomic_file(manifest=_KEEP): leave any manifest beside the file alone


def _commit_file(tmp: Path, final: Path, overwrite: bool, manifest: Any) -> None:
    pending: Path | None = None
    with _signals_held():
        _test_step("ready")
        try:
            if manifest is not _KEEP:
                sha = sha256_file(tmp)
                data = None
                if manifest is not None:
                    manifest.stats["content_sha256"] = sha
                    manifest.stats["content_bytes"] = tmp.stat().st_size
                    data = manifest.to_dict()
                pending = final.with_name(f".{final.name}{FILE_MANIFEST_SUFFIX}.next-{sha[:16]}")
                _LIVE.add(pending)
                write_json(pending, data)
                _test_step("manifest-pending")
            if _exists(final):
                if not overwrite:
                    raise UserError(f"{final}: already exists; pass --overwrite to replace it, or choose another --out")
                _check_replaceable(final, "file")
                os.replace(tmp, final)
            else:
                try:
                    _rename_new(tmp, final)
                except FileExistsError:
                    raise UserError(f"{final}: appeared while this command ran (written by another program); nothing "
                                    "was replaced; choose another --out") from None
        except BaseException:
            if pending is not None:
                pending.unlink(missing_ok=True)
                _LIVE.discard(pending)
            raise
        _test_step("committed")
        _DONE.append(final)
        if pending is not None:
            if manifest is None:
                _file_manifest(final).unlink(missing_ok=True)
                pending.unlink()
            else:
                os.replace(pending, _file_manifest(final))
            _LIVE.discard(pending)


@contextlib.contextmanager
def atomic_dir(out: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty hidden directory beside `out`; it becomes `out` only if the block finishes.

    Raises UserError before the block for an output that is refused (see `check_out`) or being written by another
    command. A failed or interrupted block leaves `out` as it was and removes the temporary.
    """
    final = Path(out)
    check_out(final, overwrite, "dir")
    with _writing(final, overwrite, "dir"):
        tmp = _new_temp(final, directory=True)
        try:
            yield tmp
            _test_step("written")
            _record_files(tmp)
            _commit_dir(tmp, final, overwrite)
        finally:
            _discard(tmp)


@contextlib.contextmanager
def atomic_file(out: str | os.PathLike, overwrite: bool = True, manifest: Any = _KEEP) -> Iterator[Path]:
    """Yield a hidden empty file path beside `out`; it becomes `out` only if the block finishes.

    With `manifest` (a Manifest, or None for "this file has no manifest"), the file and `<out>.manifest.json` are
    committed as one unit: readers never see the new file with the old manifest or the reverse. The manifest's
    `stats` gain `content_sha256` and `content_bytes`. Without it, a manifest beside `out` is left alone.
    """
    final = Path(out)
    plain_ok = manifest is _KEEP  # a file committed with its manifest is an artifact: it replaces only an artifact
    artifact_type = getattr(manifest, "type", None)
    check_out(final, overwrite, "file", plain_ok=plain_ok)
    with _writing(final, overwrite, "file", plain_ok, artifact_type):
        tmp = _new_temp(final, directory=False)
        try:
            yield tmp
            _test_step("written")
            _commit_file(tmp, final, overwrite, manifest)
        finally:
            _discard(tmp)


@dataclass
class Staging:
    """A resumable writer's staging directory: write into `path`; it replaces `final` when the block finishes."""

    path: Path
    final: Path
    resumed: bool  # `path` holds an earlier run's results (an interrupted one, or a copy of `final`)


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike, overwrite: bool = False, resume: bool = False,
               resume_hint: str | Callable[[], str] = "run the same command with --resume to continue"
               ) -> Iterator[Staging]:
    """A directory artifact written over a long time whose partial results survive a kill (e.g. `sweep`).

    The writer works in `.out.partial` beside `out` and may rewrite files there as often as it likes (each with
    `atomic_file`). When the block finishes, the partial directory replaces `out` as one unit (as `atomic_dir`
    does), so `--overwrite` interrupted at any moment leaves the old `out` intact. When the block fails or is
    interrupted, `.out.partial` is kept (unless it is still empty) and the lock released; `resume=True` then continues
    it. Rules:
      - resume: continue `.out.partial` if present; else start from a copy of a complete `out` (so finished rows are
        skipped and `out` stays as it is until the new run completes); else start empty (`resumed` False).
      - not resume: an existing `out` needs `overwrite`; an existing `.out.partial` needs `overwrite` (it is then
        discarded) — without it the error says to pass --resume or --overwrite.
    `resume_hint` (or what calling it returns, when the interruption is reported) ends the interruption note.
    """
    final = Path(out)
    partial = _partial(final)
    check_out(final, overwrite or resume, "dir")
    with _writing(final, overwrite or resume, "dir"):
        resumed = False
        if resume:
            if partial.is_dir():
                resumed = True
            elif final.is_dir():
                tmp = _hidden(final, "tmp")
                _LIVE.add(tmp)
                try:
                    shutil.copytree(final, tmp, symlinks=True)
                    os.rename(tmp, partial)
                finally:
                    _discard(tmp)
                resumed = True
        elif _exists(partial):
            if not overwrite:
                raise UserError(f"{final}: an interrupted run left partial results in {partial.name}; pass --resume to "
                                "continue it or --overwrite to start afresh")
            _remove(partial)
        if not partial.is_dir():
            os.mkdir(partial, 0o777)
        _KEPT[partial] = resume_hint
        try:
            yield Staging(partial, final, resumed)
        except BaseException:
            if partial.is_dir() and not any(partial.iterdir()):
                partial.rmdir()
                _KEPT.pop(partial, None)
            raise
        _test_step("written")
        _record_files(partial)
        # Commit from a tmp name: a kill mid-commit must never leave the replaced artifact at `.out.partial`, where
        # --resume would continue from it.
        tmp = _hidden(final, "tmp")
        _LIVE.add(tmp)
        os.rename(partial, tmp)
        _KEPT.pop(partial, None)
        try:
            _commit_dir(tmp, final, overwrite=True)
        except BaseException:
            if _exists(tmp):  # not committed: the results go back to where --resume finds them
                os.rename(tmp, partial)
                _KEPT[partial] = resume_hint
            raise
        finally:
            _LIVE.discard(tmp)


def reset_session() -> None:
    """Forget what earlier commands in this process wrote (for callers that run several commands in one process)."""
    _DONE.clear()
    _KEPT.clear()


def interruption_note() -> str:
    """What an interrupted command left behind, for its one-line message (true by construction: it looks)."""
    left = sorted(str(p) for p in _LIVE if _exists(p))
    kept = sorted((str(p), hint() if callable(hint) else hint) for p, hint in _KEPT.items() if p.is_dir())
    parts = [f"partial results kept in {p} ({hint})" for p, hint in kept]
    if left:
        parts.append(f"could not remove {', '.join(left)} (the next write to the same output removes it)")
    inside = [p for p in _KEPT if p.is_dir()]  # files rewritten inside a kept staging directory are part of it
    finished = [str(p) for p in dict.fromkeys(_DONE) if _exists(p) and not any(d in p.parents for d in inside)]
    done = f" ({', '.join(finished)} finished before the interruption)" if finished else ""
    return ("; ".join(parts) or "no partial artifact was left") + done


def write_file_manifest(path: str | os.PathLike, manifest: Manifest) -> None:
    """Write the manifest beside an already written single-file artifact (atomically), recording its hash.

    Prefer `atomic_file(..., manifest=...)`, which commits the file and its manifest as one unit."""
    p = Path(path)
    manifest.stats["content_sha256"] = sha256_file(p)
    manifest.stats["content_bytes"] = p.stat().st_size
    with atomic_file(_file_manifest(p)) as tmp:
        write_json(tmp, manifest.to_dict())


def write_dir_manifest(directory: Path, manifest: Manifest) -> None:
    write_json(directory / MANIFEST, manifest.to_dict())


# --------------------------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------------------------

EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "ids.parquet"
IDS_TEXT = "ids.txt"  # the `id` column as text (vecrecall.io.idtext): read without pandas where start-up matters


class Embeddings:
    """An `embeddings.npy` matrix (memory-mapped) whose row i belongs to row i of `ids.parquet`.

    `ids` (a DataFrame: column `id` and, for chunked documents, `docid` (the parent document) and `chunk`) is read on
    first use; `id_list()` gives the `id` column as text, from `ids.txt` when it matches ids.parquet (no pandas)."""

    def __init__(self, path: Path, vectors: np.ndarray, manifest: Manifest, ids: Any = None,
                 id_text: bool = False) -> None:
        self.path = path
        self.vectors = vectors
        self.manifest = manifest
        self._ids = ids
        self._id_text = id_text  # ids.txt matched ids.parquet when loaded

    @property
    def ids(self) -> Any:  # pandas.DataFrame
        if self._ids is None:
            import pandas as pd

            self._ids = pd.read_parquet(self.path / IDS_FILE)
        return self._ids

    def id_list(self) -> list[str]:
        if self._id_text and self._ids is None:
            from .io.idtext import read_id_text

            got = read_id_text(self.path / IDS_FILE, self.path / IDS_TEXT)
            if got is not None:
                return got[0]
        return self.ids["id"].astype(str).tolist()


def write_ids(directory: Path, ids: Any) -> None:
    """Write `ids.parquet` (and its text copy `ids.txt`) of an embeddings artifact into `directory`."""
    from .io.idtext import write_id_text

    ids.to_parquet(directory / IDS_FILE, index=False)
    write_id_text(directory / IDS_FILE, ids, "id", directory / IDS_TEXT)


def _declared_dim(m: Manifest) -> Any:
    model = m.params.get("model")
    return m.stats.get("dim", model.get("dim") if isinstance(model, dict) else None)


def load_embeddings(path: str | os.PathLike, check_finite: bool = False) -> Embeddings:
    """Load an embeddings artifact: vectors (rows × dim, memory-mapped) and ids.

    Raises UserError when a file is missing or unreadable, when rows and ids disagree, or when the matrix's shape
    differs from the manifest's `stats.dim` / `params.model.dim` / `stats.rows` (an edited or swapped file).
    """
    from .io.idtext import read_id_header

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
    header = read_id_header(idf, p / IDS_TEXT)  # the row count without reading ids.parquet
    text = header is not None and header.get("column") == "id"
    ids = None
    if not text:  # no text copy made from this ids.parquet by vecrecall: read it and check it
        from .io.files import read_parquet

        ids = read_parquet(idf)
    emb = Embeddings(p, vectors, m, ids=ids, id_text=text)
    n_ids = int(header["rows"]) if text else len(ids)
    if vectors.ndim != 2:
        raise UserError(f"{npy}: expected a 2-d matrix, got shape {vectors.shape}")
    dim = _declared_dim(m)
    if dim is not None and (not isinstance(dim, int) or dim != vectors.shape[1]):
        key = "stats.dim" if "dim" in m.stats else "params.model.dim"
        raise UserError(f"{npy}: has dimension {vectors.shape[1]} but {m.source} says {dim!r} (key '{key}'); the "
                        "matrix or the manifest was changed; re-run vecrecall encode")
    rows = m.stats.get("rows")
    if rows is not None and rows != vectors.shape[0]:
        raise UserError(f"{npy}: has {vectors.shape[0]} rows but {m.source} says {rows!r} (key 'stats.rows'); the "
                        "matrix or the manifest was changed; re-run vecrecall encode")
    if n_ids != vectors.shape[0]:
        raise UserError(
            f"{p}: {EMBEDDINGS_FILE} has {vectors.shape[0]} rows but {IDS_FILE} has {n_ids} ids; "
            "they must match row for row (re-run vecrecall encode)"
        )
    if ids is not None:
        if "id" not in ids.columns:
            raise UserError(f"{idf}: no 'id' column (columns: {', '.join(map(str, ids.columns))}); re-run vecrecall "
                            "encode")
        dup = ids["id"].duplicated()
        if dup.any():
            row = int(np.argmax(dup.to_numpy()))
            raise UserError(f"{idf} row {row + 1}: id '{ids['id'].iloc[row]}' appears twice; every vector needs its own "
                            "id (re-run vecrecall encode, or import-vectors with unique --ids)")
    if check_finite:
        check_vectors_finite(vectors, str(npy))
    return emb


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
    write_ids(out, ids)
    write_dir_manifest(out, manifest)
