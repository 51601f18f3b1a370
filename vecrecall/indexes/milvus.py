"""Milvus backend through pymilvus: a milvus-lite database inside the index directory, or a Milvus server.

- Default: a milvus-lite database (`milvus.db`, a directory) is built in a staging directory beside `--out`, then
  copied into the index directory by `save`; it opens again from wherever the index directory is moved to.
- `--milvus-uri http://host:port`: the vectors live in a collection on that server; the index directory records the
  URI and collection (never a token: that is read from $MILVUS_TOKEN when connecting).
- Index types FLAT, IVF_FLAT and IVF_SQ8 (`--nlist`; search `--nprobe`), HNSW (`--hnsw-m`, `--ef-construction`;
  search `--ef-search`); on a server also IVF_PQ (`--pq-m`, `--pq-bits`) and DISKANN; metrics ip/l2/cosine map to IP/L2/COSINE, scores higher-is-better (l2: −squared distance).

A collection is built under a staging name and renamed when the index directory is saved, so a failed build leaves
no collection behind and `--overwrite` replaces an old collection only once the new one is complete.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import UserError
from ..lazy import LazyModule, need
from ..progress import progress
from .base import LABELS_FILE, Index, pad_results, read_labels
from .params import Derived, Param, Spec, ef_search_param, hnsw_params, ivf_rules, nlist_param, nprobe_param, pq_params

np = LazyModule("numpy")

# milvus-lite logs a traceback when it cannot open a database; vecrecall reports that as one line instead.
logging.getLogger("milvus_lite").addHandler(logging.NullHandler())

LITE_DB = "milvus.db"
SERVER_FILE = "milvus.json"
TOKEN_ENV = "MILVUS_TOKEN"
CONNECT_TIMEOUT_S = 5.0
MAX_TOPK = 16384  # Milvus's limit on `limit`
INSERT_BATCH = 2048  # rows per insert call, at most…
INSERT_BYTES = 8 << 20  # …and at most this many vector bytes (a Milvus server refuses gRPC messages over 64 MB)
SEARCH_BATCH = 256
VECTOR_FIELD = "vec"
ROW_FIELD = "row"

# what each flavour of Milvus builds (milvus-lite 3.x: faiss per segment; a server: Milvus's own index nodes)
FLAVOURS: dict[str, tuple[str, ...]] = {"milvus-lite": ("FLAT", "IVF_FLAT", "IVF_SQ8", "HNSW"),
                                        "server": ("FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "HNSW", "DISKANN")}
IVF_TYPES = ("IVF_FLAT", "IVF_SQ8", "IVF_PQ")
NATIVE = {"nlist": "nlist", "pq_m": "m", "pq_bits": "nbits", "hnsw_m": "M", "ef_construction": "efConstruction",
          "nprobe": "nprobe", "ef_search": "ef"}
METRICS = {"ip": "IP", "l2": "L2", "cosine": "COSINE"}
MAX_NLIST = 65536


def _rules(params: dict[str, Any], ctx: dict[str, Any], where: str) -> None:
    ivf_rules(params, ctx, where, nlist_limit=MAX_NLIST)
    flavour = "server" if params.get("milvus_uri") else "milvus-lite"
    if params["index_type"] not in FLAVOURS[flavour]:
        raise UserError(f"--index-type {params['index_type']}: not supported by {flavour}; choose one of "
                        f"{', '.join(FLAVOURS[flavour])}")
    if params.get("milvus_uri"):
        check_uri(params["milvus_uri"])
    if params.get("collection"):
        check_collection_name(params["collection"])


SPEC = Spec(
    name="milvus",
    summary="Milvus through pymilvus: milvus-lite inside the index directory, or a server (--milvus-uri)",
    index_types=("FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "HNSW", "DISKANN"),
    type_aliases=(("IVF", "IVF_FLAT"), ("IVFFLAT", "IVF_FLAT")),
    exact_types=("FLAT",),
    params=(
        nlist_param(IVF_TYPES, high=MAX_NLIST),
        *pq_params(("IVF_PQ",)),
        *hnsw_params(("HNSW",), m=16, ef_construction=200, m_high=2048),
        Param("milvus_uri", str, "http://host:port of a Milvus server (token from $MILVUS_TOKEN).",
              default_text="a milvus-lite database inside --out", column=False),
        Param("collection", str, "Milvus collection name.", default_text="from --out's name", column=False),
        nprobe_param(IVF_TYPES, default=Derived(
            "min(8, nlist)", lambda c: min(8, int(c.get("nlist", 8)))), high=MAX_NLIST),
        ef_search_param(("HNSW",), default=Derived(
            "max(k, 64)", lambda c: max(int(c["k"]), 64))),
    ),
    filter="before ranking",
    server=True,
    add=True,
    delete=True,
    package="pymilvus, milvus-lite (pip install 'vecrecall[milvus]')",
    rules=_rules,
)


def collection_name(out: str | Path | None) -> str:
    """A valid Milvus collection name from an index directory name (letters, digits, underscores)."""
    stem = re.sub(r"[^0-9A-Za-z_]", "_", Path(out).name) if out else ""
    stem = stem.strip("_") or "vecrecall"
    if not (stem[0].isalpha() or stem[0] == "_"):
        stem = "vr_" + stem
    return stem[:200]


def check_collection_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", name):
        raise UserError(f"--collection {name}: Milvus collection names are letters, digits and underscores, "
                        "starting with a letter or underscore")
    return name


def check_uri(uri: str) -> str:
    """Server URIs only (http/https/tcp); credentials belong in $MILVUS_TOKEN, never in a recorded URI."""
    parsed = urlparse(uri)
    if parsed.scheme.lower() not in ("http", "https", "tcp") or not parsed.hostname:
        raise UserError(f"--milvus-uri {uri}: expected http://host:port of a Milvus server; leave --milvus-uri out "
                        "for a milvus-lite database inside --out")
    if parsed.username or parsed.password:
        raise UserError(f"--milvus-uri: do not put credentials in the URI (it is recorded in the manifest); "
                        f"set ${TOKEN_ENV} instead")
    return uri


def connect(uri: str, where: str) -> Any:
    """A MilvusClient for a server URI or a milvus-lite path; failures become one line naming the URI."""
    pymilvus = need("pymilvus")
    # pymilvus logs every failed call with a traceback on stderr; vecrecall reports each as one line instead.
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    lite = not uri.startswith(("http://", "https://", "tcp://"))
    if lite:
        need("milvus_lite")
    try:
        return pymilvus.MilvusClient(uri=uri, token=os.environ.get(TOKEN_ENV, "") if not lite else "",
                                     timeout=CONNECT_TIMEOUT_S)
    except pymilvus.exceptions.MilvusException as exc:
        if lite and _locked(Path(uri)):
            raise UserError(f"{where} {uri}: another process is using it (milvus-lite opens a database from one "
                            "process at a time); wait for it to finish or copy the index directory") from None
        hint = "is it a milvus-lite database?" if lite else f"is the server running and reachable? (token from ${TOKEN_ENV})"
        raise UserError(f"{where} {uri}: cannot connect to Milvus ({_message(exc)}); {hint}") from None


def _locked(db: Path) -> bool:
    """True when another process holds milvus-lite's lock on the database directory `db`."""
    import fcntl

    lock = db / "LOCK"
    if not lock.exists():
        return False
    with open(lock, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc).strip().splitlines()[0]


def _release_lite(path: str) -> None:
    """Stop milvus-lite's in-process server for `path` (it holds the database's lock)."""
    try:
        from milvus_lite import server_manager_instance
    except ImportError:
        return
    server_manager_instance.release_server(path)


@dataclass
class _Staging:
    """A collection built in this process: its current and final names and, for milvus-lite, the staging directory.

    `keep` is False for a temporary build (no index directory to save into): it is dropped when the index goes."""

    current: str
    final: str
    dir: str | None
    keep: bool


_COUNTER = itertools.count()


@dataclass
class _Handle:
    """An open connection: the client, and the milvus-lite path whose in-process server must be released."""

    client: Any
    lite_path: str | None

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.lite_path:
                _release_lite(self.lite_path)


class MilvusIndex(Index):
    spec = SPEC  # a row mask becomes a boolean expression Milvus applies before ranking (filter: before ranking)
    files = (LITE_DB,)
    mutable_files = True

    def __init__(self, metric: str, dim: int, params: dict[str, Any], handle: _Handle,
                 staging: _Staging | None = None, size: int | None = None) -> None:
        super().__init__(metric, dim, params)
        self.handle = handle
        self.staging = staging  # set for an index built in this process
        self._size: int | None = size
        self._native: dict[str, int] = {}
        self._finalizer = weakref.finalize(self, _finish, handle, staging)

    @property
    def client(self) -> Any:
        return self.handle.client

    @property
    def collection(self) -> str:
        """The collection searched now (the staging name until a built index is saved)."""
        return self.staging.current if self.staging else self.params["collection"]

    # ---------------------------------------------------------------- build

    @classmethod
    def output_params(cls, params: dict[str, Any], out: Path, overwrite: bool) -> dict[str, Any]:
        """Where the built index will live: the collection name defaults to the index directory's name."""
        return {**params, "collection": params.get("collection") or collection_name(out), "_out": str(out),
                "_overwrite": overwrite}

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "MilvusIndex":
        """Insert `data` into a new collection and index it. Without a destination (`output_params` not applied,
        e.g. in a sweep) the collection is temporary: dropped when this object goes away."""
        params = dict(params)
        out = params.pop("_out", None)
        overwrite = bool(params.pop("_overwrite", False))
        uri = params.pop("milvus_uri", None)
        index_type = params["index_type"]
        collection = params.pop("collection", None) or collection_name(out)
        n, dim = data.shape
        native = {NATIVE[k]: int(v) for k, v in params.items() if k in NATIVE}
        stage = f"{collection}__{'building' if out else 'temporary'}_{os.getpid()}_{next(_COUNTER)}"
        if uri:
            handle = _Handle(connect(uri, "--milvus-uri"), None)
            staging = _Staging(stage, collection, None, keep=bool(out))
            flavour = "server"
        else:
            parent = Path(out).resolve().parent if out else Path(tempfile.gettempdir())
            parent.mkdir(parents=True, exist_ok=True)
            tmpdir = tempfile.mkdtemp(prefix=f".{Path(out).name if out else 'vecrecall'}.milvus-tmp-", dir=parent)
            path = str(Path(tmpdir) / LITE_DB)
            staging = _Staging(stage, collection, tmpdir, keep=bool(out))
            try:
                handle = _Handle(connect(path, "milvus-lite database"), path)
            except BaseException:
                shutil.rmtree(tmpdir, ignore_errors=True)
                raise
            flavour = "milvus-lite"
        try:
            client = handle.client
            version = _server_version(client)
            if out and client.has_collection(collection) and not overwrite:
                have = _collection_dim(client, collection)
                clash = f" with dimension {have} (these embeddings have {dim})" if have not in (None, dim) else ""
                raise UserError(f"collection '{collection}' already exists on {uri}{clash}; pass --overwrite to replace "
                                "it, or --collection NAME")
            cls._create(client, stage, dim, data, index_type, metric, native)
        except BaseException as exc:
            _finish(handle, staging)
            if isinstance(exc, (UserError, KeyboardInterrupt)):
                raise
            pymilvus = need("pymilvus")
            if isinstance(exc, pymilvus.exceptions.MilvusException):
                raise UserError(f"Milvus ({flavour}) refused to build {index_type} over {n:,}×{dim} vectors: {_message(exc)}") from None
            raise
        params.update({"collection": collection if out else None, "flavour": flavour,
                       "server_version": version, "milvus_uri": uri,
                       "storage": f"collection '{collection}' on the Milvus server {uri}" if uri else f"milvus-lite database {LITE_DB} in this directory"})
        params = {k: v for k, v in params.items() if v is not None}
        return cls(metric, dim, params, handle, staging, size=n)

    @staticmethod
    def _create(client: Any, name: str, dim: int, data: np.ndarray, index_type: str, metric: str,
                native: dict[str, Any]) -> None:
        from pymilvus import DataType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ROW_FIELD, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
        client.create_collection(name, schema=schema)
        n = data.shape[0]
        # Streamed: one batch read (from build-index's VectorRows: from the file), sent and dropped at a time, so
        # the client holds one batch whatever the corpus size; the server stores and indexes the collection.
        step = insert_batch_rows(dim)
        with progress("insert into milvus", n, "vectors") as advance:
            for start in range(0, n, step):
                block = np.ascontiguousarray(data[start : start + step], dtype=np.float32)
                client.insert(name, [{ROW_FIELD: start + i, VECTOR_FIELD: v} for i, v in enumerate(block)])
                advance(len(block))
                del block
        client.flush(name)  # seal the segments, so the index is built over all of them
        index = client.prepare_index_params()
        # Servers read the flat keys; milvus-lite reads the JSON 'params' entry (older pymilvus wire format).
        index.add_index(field_name=VECTOR_FIELD, index_type=index_type, metric_type=METRICS[metric],
                        params={**native, "params": dict(native)})
        client.create_index(name, index)
        client.load_collection(name)

    # ---------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Give the built collection its final name; milvus-lite's database is copied into `directory`.

        The index stays searchable afterwards (a sweep saves once to measure the size, then searches)."""
        staging = self.staging
        if staging is None:
            raise UserError(f"{directory}: this Milvus index was loaded, not built; copy its directory instead")
        if staging.keep and staging.current != staging.final:
            if self.client.has_collection(staging.final):
                self.client.drop_collection(staging.final)  # --overwrite was checked when the build started
            self.client.rename_collection(staging.current, staging.final)
            staging.current = staging.final
        if staging.dir:
            path = self.handle.lite_path
            self.handle.close()  # release the lock, so the copy is of a closed database
            shutil.copytree(path, directory / LITE_DB, ignore=shutil.ignore_patterns("LOCK"))
            self.handle.client = connect(path, "milvus-lite database")
            self.client.load_collection(self.collection)
        else:
            from ..artifacts import write_json

            write_json(directory / SERVER_FILE, {"milvus_uri": self.params["milvus_uri"], "collection": self.collection,
                                                 "note": "the vectors live on this Milvus server, not in this directory"})

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "MilvusIndex":
        uri = params.get("milvus_uri")
        if uri:
            handle = _Handle(connect(uri, f"{directory}: Milvus server"), None)
            where = f"on {uri}"
        else:
            db = Path(directory) / LITE_DB
            if not db.exists():
                raise UserError(f"{directory}: incomplete Milvus index ({LITE_DB} missing); rebuild it with vecrecall build-index")
            handle = _Handle(connect(str(db), "milvus-lite database"), str(db))
            where = f"in {db}"
        collection = params["collection"]
        try:
            if not handle.client.has_collection(collection):
                raise UserError(f"{directory}: collection '{collection}' is not {where} any more; rebuild the index")
            have = _collection_dim(handle.client, collection)
            if have != dim:
                raise UserError(f"{directory}: collection '{collection}' {where} has dimension {have} but the index "
                                f"manifest says {dim}; it was replaced by another build, rebuild this index")
            handle.client.load_collection(collection)
        except BaseException:
            handle.close()
            raise
        return cls(metric, dim, dict(params), handle)

    # ---------------------------------------------------------------- search

    def clamp(self, params: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, str]]:
        """Milvus needs ef ≥ k (vecrecall raises it) and probes at most nlist lists."""
        used, why = dict(params), {}
        if "ef_search" in used and used["ef_search"] < k:
            used["ef_search"] = k
            why["ef_search"] = f"Milvus needs ef ≥ k and -k is {k}"
        if "nprobe" in used and used["nprobe"] > int(self.params["nlist"]):
            used["nprobe"] = int(self.params["nlist"])
            why["nprobe"] = f"there are only nlist = {self.params['nlist']} lists"
        return used, why

    def _apply(self, used: dict[str, Any]) -> None:
        self._native = {NATIVE[name]: int(v) for name, v in used.items()}

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        """Top-k; `allowed` (boolean mask over rows, from `query --filter`) is applied by Milvus as a pre-filter."""
        if k > MAX_TOPK:
            raise UserError(f"-k {k}: Milvus returns at most {MAX_TOPK} results per query")
        native = dict(self._native)
        if "ef" in native:
            native["ef"] = max(native["ef"], k)  # over-fetching queries (filters, chunks) ask for more than -k
        request = {"metric_type": METRICS[self.metric], "params": native}
        q = np.ascontiguousarray(queries, dtype=np.float32)
        scores: list[Any] = []
        positions: list[Any] = []
        sign = -1.0 if self.metric == "l2" else 1.0
        pymilvus = need("pymilvus")
        for start in range(0, len(q), SEARCH_BATCH):
            try:
                result = self.client.search(self.collection, data=q[start : start + SEARCH_BATCH], limit=k,
                                            output_fields=[], search_params=request, anns_field=VECTOR_FIELD,
                                            filter=rows_expression(allowed))
            except pymilvus.exceptions.MilvusException as exc:
                raise UserError(f"{self.label()} search failed: {_message(exc)}") from exc
            for hits in result:
                ids = getattr(hits, "ids", None)
                if ids is None:  # older pymilvus: a list of dicts
                    ids, dist = [h["id"] for h in hits], [h["distance"] for h in hits]
                else:
                    dist = hits.distances
                positions.append(np.asarray(ids, dtype=np.int64))
                scores.append(sign * np.asarray(dist, dtype=np.float32))
        return pad_results(scores, positions, k)

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = int(self.client.get_collection_stats(self.collection).get("row_count"))
        return self._size

    def describe(self) -> dict[str, Any]:
        rows = None
        try:
            rows = int(self.client.get_collection_stats(self.collection).get("row_count"))
        except Exception:  # noqa: BLE001 - describe is best effort (e.g. after save closed the connection)
            pass
        return {**super().describe(), "rows": rows}

    # ---------------------------------------------------------------- updates (vecrecall.indexes.update)
    # Primary keys are fixed: a deleted row's key goes, the others keep theirs and `labels` maps rows to them. The
    # milvus-lite database is copied into the new index directory and changed there; the base is never written.

    def cannot(self, op: str) -> str | None:
        return _server_refusal(self.params["milvus_uri"]) if self.params.get("milvus_uri") else None

    @classmethod
    def open_to_update(cls, base: Path, work: Path, metric: str, dim: int, params: dict[str, Any]) -> "MilvusIndex":
        if params.get("milvus_uri"):
            raise UserError(f"{base}: {_server_refusal(params['milvus_uri'])}")
        if not (base / LITE_DB).exists():
            raise UserError(f"{base}: incomplete Milvus index ({LITE_DB} missing); rebuild it with vecrecall build-index")
        shutil.copytree(base / LITE_DB, work / LITE_DB, ignore=shutil.ignore_patterns("LOCK"))
        opened = cls.open(work, metric, dim, params)
        opened.labels = read_labels(base)
        return opened

    def delete_rows(self, rows: Any) -> None:
        labels = self.current_labels()
        gone = labels[rows].tolist()
        for start in range(0, len(gone), MAX_TOPK):
            self.client.delete(self.collection, ids=gone[start : start + MAX_TOPK])
        self.client.flush(self.collection)
        self.labels = np.delete(labels, rows)
        self._size = None

    def add_rows(self, data: Any) -> None:
        m = len(data)
        if not m:
            return
        labels = self.current_labels()
        first = int(labels.max()) + 1 if len(labels) else 0
        with progress("insert into milvus", m, "vectors") as advance:
            for start in range(0, m, INSERT_BATCH):
                block = np.ascontiguousarray(data[start : start + INSERT_BATCH], dtype=np.float32)
                self.client.insert(self.collection, [{ROW_FIELD: first + start + i, VECTOR_FIELD: v}
                                                     for i, v in enumerate(block)])
                advance(len(block))
        self.client.flush(self.collection)
        if self.labels is not None or first != len(labels):
            self.labels = np.concatenate([labels, np.arange(first, first + m, dtype=np.int64)])
        self._size = None

    def save_update(self, directory: Path) -> None:
        """The database in `directory` already holds the change: close it (releasing its lock) and record labels."""
        self.client.flush(self.collection)
        self.handle.close()
        (directory / LITE_DB / "LOCK").unlink(missing_ok=True)
        if self.labels is not None:
            np.save(directory / LABELS_FILE, np.asarray(self.labels, dtype=np.int64))

    def stored_vectors(self) -> Any:
        """The vectors of every row, read back from the collection (Milvus keeps them as given)."""
        labels = self.current_labels()
        out = np.zeros((len(labels), self.dim), dtype=np.float32)
        where = {int(label): row for row, label in enumerate(labels.tolist())}
        for start in range(0, len(labels), MAX_TOPK):
            part = labels[start : start + MAX_TOPK].tolist()
            for hit in self.client.query(self.collection, filter=f"{ROW_FIELD} in [{', '.join(map(str, part))}]",
                                         output_fields=[ROW_FIELD, VECTOR_FIELD], limit=len(part)):
                out[where[int(hit[ROW_FIELD])]] = np.asarray(hit[VECTOR_FIELD], dtype=np.float32)
        return out


def _server_refusal(uri: str) -> str:
    return (f"milvus on a server ({uri}) is not updated by update-index: every version of the index directory would "
            "point to the same collection; build a new collection with vecrecall build-index --milvus-uri … "
            "--collection NEW")


def insert_batch_rows(dim: int) -> int:
    """Rows per insert: INSERT_BATCH, fewer for wide vectors so one request stays under INSERT_BYTES."""
    return max(1, min(INSERT_BATCH, INSERT_BYTES // (4 * max(1, dim))))


def rows_expression(allowed: Any) -> str:
    """A Milvus boolean expression selecting the rows where `allowed` is True ('' = all rows).

    The filter itself is evaluated by vecrecall over ids.parquet (vecrecall.filters), so its semantics (dates,
    missing values) are the same for every backend; Milvus receives the resulting rows, listed on the shorter side."""
    if allowed is None:
        return ""
    mask = np.asarray(allowed, dtype=bool)
    keep = np.flatnonzero(mask)
    if len(keep) == len(mask):
        return ""
    drop = np.flatnonzero(~mask)
    if len(keep) <= len(drop):
        return f"{ROW_FIELD} in [{', '.join(map(str, keep.tolist()))}]"
    return f"{ROW_FIELD} not in [{', '.join(map(str, drop.tolist()))}]"


def _server_version(client: Any) -> str | None:
    try:
        return str(client.get_server_version())
    except Exception:  # noqa: BLE001 - informational only
        return None


def _collection_dim(client: Any, name: str) -> int | None:
    for f in client.describe_collection(name).get("fields", []):
        if f.get("name") == VECTOR_FIELD or "dim" in (f.get("params") or {}):
            dim = (f.get("params") or {}).get("dim")
            return int(dim) if dim is not None else None
    return None


def _finish(handle: _Handle, staging: _Staging | None) -> None:
    """On the way out: drop a collection that was never saved (or was temporary), close, remove a staging database."""
    if staging is not None and (not staging.keep or staging.current != staging.final):
        try:
            if handle.client.has_collection(staging.current):
                handle.client.drop_collection(staging.current)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
    try:
        handle.close()
    except Exception:  # noqa: BLE001
        pass
    if staging is not None and staging.dir:
        shutil.rmtree(staging.dir, ignore_errors=True)


__all__ = ["MilvusIndex", "collection_name"]
