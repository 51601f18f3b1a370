"""Keeping an index current: add, delete and replace vectors (`update_index`), or rebuild it (`rebuild_index`);
either way a new version of the index directory is written beside the old one, or swapped in for it atomically.

Rows after an update (compaction, no tombstones)
------------------------------------------------
ids.parquet stays the row → id map of exactly the vectors the index holds. An update deletes rows, then appends the
added vectors; the new version's rows are the surviving rows in their old order followed by the added rows in the
order of the --add artifact, numbered 0..n-1: the rows a fresh build over those vectors would have. Backends whose
native labels cannot be renumbered keep the deleted vectors internally (hnswlib's mark_deleted) or their keys
(Milvus) and a row → label map (`labels.npy`); `Index.search` translates, so `query` only ever sees rows.

Replacement = delete + add: a vector whose id is already in the index is refused unless `replace` (then the old row
is deleted and the new one appended); an id named in the delete list and added again is a replacement too. Chunked
indexes (ids.parquet with `docid`) are updated by document: the delete list names documents, and every chunk of a
document goes or is replaced together.

In place or rebuilt
-------------------
Each backend's spec says what it can do in place (`vecrecall backends`: add/delete columns); `Index.cannot` refines
it per built index (a faiss HNSW graph adds but cannot delete). When the update needs an operation the index cannot
do, the index is rebuilt with its recorded build parameters and seed from the vectors it stores (annoy's items,
faiss Flat/HNSW storage) plus the delta, and the result says so. An index that keeps only compressed codes and cannot
do the operation is refused with the command that rebuilds it from embeddings. bm25 is refused: its statistics (idf,
average length) depend on every document, so an update is a full build: `vecrecall rebuild --corpus`.

Centroid drift (faiss IVF)
--------------------------
An IVF index keeps the centroids it was trained on. For every update that adds vectors, the Euclidean distance from
each added vector (as the index stores it: decoded from its codes) to the centroid of the list it joins is compared
with the 95th percentile of the same distance over the vectors indexed when the centroids were trained (a seeded
sample of up to 20,000, measured at the first update after training and carried in the manifest). By construction
5% of same-distribution vectors lie beyond it. When more than DRIFT_THRESHOLD (10%, twice that) of the vectors added
since training do, and at least DRIFT_MIN_ADDED were added, the centroids no longer describe the data and a re-train
(`vecrecall rebuild`) is recommended. The manifest records the reference, this update's share and the share since
training. Milvus does not expose its IVF centroids, so Milvus indexes report no drift.

Lineage: the new version's manifest keeps the build's `embeddings` input (the model, which `query` needs) and adds
`base` (the base index directory and its manifest, whose own base is trimmed to its path), `added` (the embeddings
artifact, its sha256 and manifest) and `deleted` (the delete list, its sha256 and number of ids); `stats.update`
counts rows deleted, replaced, added and unknown ids, and how (in place or rebuilt).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import (IDS_FILE, Manifest, atomic_dir, check_out, input_entry, load_embeddings, read_manifest,
                         sha256_file, sha256_path, write_dir_manifest)
from ..encoders import l2_normalize
from ..fingerprint import same_model
from ..errors import UserError
from ..io.ids import norm_id, norm_ids
from ..progress import activity
from .base import Index, get_backend
from .params import BUILD
from .store import FILES_STAT, _file_sizes, _identity, build_index, write_row_docids

DRIFT_QUANTILE = 0.95
DRIFT_THRESHOLD = 0.10
DRIFT_MIN_ADDED = 50
DRIFT_SAMPLE = 20000
# recorded values that follow n on a rebuild (their defaults depend on it): faiss train_size, ScaNN training_sample_size
REBUILD_DERIVED = ("train_size", "training_sample_size")
SHOWN_IDS = 5
KEPT_NOTE = 0.25  # tell the user when deleted vectors kept inside the index exceed this share of its rows


@dataclass
class UpdateResult:
    """What an update did: row counts, how (in place or rebuilt, and why), drift, and notes for the user."""

    manifest: Manifest
    out: Path
    label: str  # backend and index type, e.g. 'faiss IVF'
    base_rows: int
    rows: int
    deleted: int  # rows removed because the delete list named them
    replaced: int  # rows removed because --add brought their id again
    added: int
    unknown: int  # ids in the delete list the index does not hold
    method: str  # "in place" or "rebuilt"
    reason: str | None = None
    drift: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------- inputs

def read_id_list(path: str | Path, option: str = "--delete") -> list[str]:
    """Ids from a text file, one per line (UTF-8; surrounding whitespace stripped, blank lines skipped, repeats
    dropped). Raises UserError for a missing, binary or empty file, or a line holding more than one field."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{option} {p}: no such file" if not p.exists() else f"{option} {p}: is a directory, not a "
                        "text file of ids")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{option} {p}: not UTF-8 text (byte {exc.start}); a delete list is a text file with one id "
                        "per line") from None
    ids: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if "\x00" in line:
            raise UserError(f"{option} {p}: line {number} holds a NUL byte (a binary file?); a delete list is a text "
                            "file with one id per line")
        value = line.strip()
        if not value:
            continue
        if len(value.split()) > 1:
            raise UserError(f"{option} {p}: line {number} has {len(value.split())} fields ({value[:40]!r}); a delete "
                            "list has one id per line")
        ids.setdefault(norm_id(value))
    if not ids:
        raise UserError(f"{option} {p}: no ids (the delete list is empty); list one id per line, or leave {option} out")
    return list(ids)


def _key_column(ids: pd.DataFrame) -> str:
    return "docid" if "docid" in ids.columns else "id"


def _shown(values: list[str]) -> str:
    more = f" and {len(values) - SHOWN_IDS:,} more" if len(values) > SHOWN_IDS else ""
    return ", ".join(values[:SHOWN_IDS]) + more


def check_added(add: Path, emb: Any, base: Path, base_m: Manifest, chunked: bool) -> None:
    """Refuse added embeddings that do not belong in the index: dimension, model, metric, normalisation, prefix,
    role or chunking differ (one line naming both sides)."""
    dim = int(base_m.params.get("dim", 0))
    have = int(emb.vectors.shape[1])
    theirs = emb.manifest.params
    ours = base_m.parent("embeddings")
    ours_p = ours.params if ours is not None else {}
    model, index_model = theirs.get("model", {}) or {}, ours_p.get("model", {}) or {}
    if have != dim:
        raise UserError(f"--add {add}: vectors of dimension {have} ({model.get('name', '?')}) but the index {base} has "
                        f"dimension {dim} ({index_model.get('name', '?')}); encode them with the index's model")
    if ours is not None and not same_model(model, index_model):
        raise UserError(f"--add {add}: encoded with model '{model.get('name')}' but the index {base} uses "
                        f"'{index_model.get('name')}' (fingerprint {model.get('fingerprint')} ≠ "
                        f"{index_model.get('fingerprint')}); re-encode with the index's model")
    metric = base_m.params.get("metric")
    declared = theirs.get("metric")
    if declared and declared not in (metric, ours_p.get("metric")):
        raise UserError(f"--add {add}: the vectors were imported for metric {declared} but the index {base} ranks by "
                        f"{metric}; import them for {metric}, or rebuild the index with --metric {declared}")
    if ours is None:
        return
    if theirs.get("role", "corpus") != ours_p.get("role", "corpus"):
        raise UserError(f"--add {add}: these are {theirs.get('role')} embeddings but the index holds "
                        f"{ours_p.get('role', 'corpus')} embeddings; encode the documents (vecrecall encode --corpus)")
    if bool(theirs.get("normalize")) != bool(ours_p.get("normalize")) and metric != "cosine":
        raise UserError(f"--add {add}: normalize={bool(theirs.get('normalize'))} but the index {base} was built from "
                        f"normalize={bool(ours_p.get('normalize'))} vectors ({metric} scores would not compare); "
                        f"re-encode with {'--normalize' if ours_p.get('normalize') else '--no-normalize'}")
    if theirs.get("doc_prefix", "") != ours_p.get("doc_prefix", ""):
        raise UserError(f"--add {add}: encoded with document prefix {theirs.get('doc_prefix', '')!r} but the index "
                        f"{base} with {ours_p.get('doc_prefix', '')!r}; re-encode with --doc-prefix")
    if chunked != ("docid" in emb.ids.columns):
        raise UserError(f"--add {add}: {'chunked' if not chunked else 'not chunked'} embeddings but the index {base} "
                        f"is {'chunked' if chunked else 'not chunked'}; encode them with the index's --chunk-tokens")
    for key in ("chunk_tokens", "chunk_overlap"):
        if chunked and theirs.get(key) != ours_p.get(key):
            raise UserError(f"--add {add}: encoded with --{key.replace('_', '-')} {theirs.get(key)} but the index "
                            f"{base} with {ours_p.get(key)}; re-encode with the index's chunking")


@dataclass
class Delta:
    """An update resolved against the base's rows."""

    rows: np.ndarray  # sorted unique base rows to delete (listed and replaced)
    deleted: int
    replaced: int
    unknown: list[str]


def resolve_delta(base: Path, ids: pd.DataFrame, listed: list[str], added_ids: pd.DataFrame | None, add: Path | None,
                  replace: bool) -> Delta:
    """Which base rows go. Raises UserError for added ids already in the index (without `replace`) or repeated
    inside the added artifact."""
    col = _key_column(ids)
    keys = pd.Series(norm_ids(ids[col]))
    listed_set = set(listed)
    by_list = keys.isin(listed_set).to_numpy()
    found = set(keys[by_list])
    unknown = [k for k in listed if k not in found]
    by_add = np.zeros(len(keys), dtype=bool)
    if added_ids is not None:
        new_rows = norm_ids(added_ids["id"])
        seen: set[str] = set()
        dupes = [i for i in new_rows if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        if dupes:
            raise UserError(f"--add {add}: id {dupes[0]} appears more than once ({len(dupes):,} repeats); each row "
                            "needs its own id")
        new_keys = set(norm_ids(added_ids[col])) if col in added_ids.columns else set(new_rows)
        by_add = keys.isin(new_keys).to_numpy() & ~by_list
        if by_add.any() and not replace:
            clash = list(dict.fromkeys(keys[by_add]))
            what = ("document" if col == "docid" else "id") + ("s" if len(clash) > 1 else "")
            raise UserError(f"--add {add}: {len(clash):,} {what} already in the index {base} ({_shown(clash)}); pass "
                            f"--replace to replace {'them' if len(clash) > 1 else 'it'}, or list "
                            f"{'them' if len(clash) > 1 else 'it'} in --delete")
    rows = np.flatnonzero(by_list | by_add).astype(np.int64)
    return Delta(rows, int(by_list.sum()), int(by_add.sum()), unknown)


def rebuild_params(m: Manifest) -> dict[str, Any]:
    """The recorded build parameters of an index (those its backend and index type take), without the ones whose
    defaults follow n (REBUILD_DERIVED)."""
    cls = get_backend(m.need("params", "backend"))
    names = cls.spec.names(BUILD, m.params.get("index_type"))
    return {k: m.params[k] for k in names if k in m.params and m.params[k] is not None and k not in REBUILD_DERIVED}


def _prepare(vectors: Any, metric: str) -> np.ndarray:
    data = np.asarray(vectors, dtype=np.float32)
    return l2_normalize(data) if metric == "cosine" else np.ascontiguousarray(data)


def _trimmed(m: Manifest) -> Manifest:
    """A base manifest without the manifest of its own base (the chain stays two levels deep; paths remain)."""
    data = m.to_dict()
    base = data.get("inputs", {}).get("base")
    if isinstance(base, dict):
        data["inputs"]["base"] = {k: v for k, v in base.items() if k != "manifest"}
    return Manifest.from_dict(data)


def _unchanged(base: Path, seen: Any) -> None:
    """Refuse a base that another command swapped for a new version while this one read it (files of two versions)."""
    if _identity(base) != seen:
        raise UserError(f"{base}: replaced by another command while being read; run this command again")


# ---------------------------------------------------------------------------------------------------------- drift

def _sample_offsets(sizes: np.ndarray, sample: int, seed: int) -> dict[int, np.ndarray]:
    """A seeded sample of IVF entries as list number → offsets (all of them when there are at most `sample`)."""
    total = int(sizes.sum())
    pick = np.arange(total) if total <= sample else np.sort(np.random.default_rng(seed).choice(total, sample,
                                                                                                 replace=False))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    lists = np.searchsorted(np.cumsum(sizes), pick, side="right")
    out: dict[int, np.ndarray] = {}
    for no in np.unique(lists):
        out[int(no)] = pick[lists == no] - starts[no]
    return out


def _drift_reference(index: Index, base_m: Manifest, seed: int) -> dict[str, Any] | None:
    """The training-time reference: carried from the base manifest, else measured on the base's entries now."""
    sizes = getattr(index, "list_sizes", lambda: None)()
    if sizes is None:
        return None
    carried = base_m.stats.get("drift")
    if isinstance(carried, dict) and "reference_p95" in carried:
        return carried
    dist = index.indexed_centroid_distances(_sample_offsets(sizes, DRIFT_SAMPLE, seed))  # type: ignore[attr-defined]
    if not len(dist):
        return None
    return {"measure": "Euclidean distance from a vector, as the index stores it, to its IVF list centroid",
            "reference_p95": float(np.quantile(dist, DRIFT_QUANTILE)), "reference_vectors": int(len(dist)),
            "since_training": {"added": 0, "beyond": 0}}


def _drift(index: Index, reference: dict[str, Any], before: np.ndarray) -> dict[str, Any]:
    """This update's drift: the added entries (at the end of each list) against the reference."""
    after = index.list_sizes()  # type: ignore[attr-defined]
    offsets = {int(no): np.arange(before[no], after[no]) for no in np.flatnonzero(after > before)}
    dist = index.indexed_centroid_distances(offsets)  # type: ignore[attr-defined]
    beyond = int((dist > reference["reference_p95"]).sum())
    total = {"added": int(reference["since_training"]["added"]) + len(dist),
             "beyond": int(reference["since_training"]["beyond"]) + beyond}
    total["share"] = round(total["beyond"] / total["added"], 4) if total["added"] else 0.0
    retrain = total["added"] >= DRIFT_MIN_ADDED and total["share"] > DRIFT_THRESHOLD
    return {**{k: v for k, v in reference.items() if k not in ("added", "beyond", "share", "retrain")},
            "added": len(dist), "beyond": beyond, "share": round(beyond / len(dist), 4) if len(dist) else 0.0,
            "since_training": total, "threshold": DRIFT_THRESHOLD, "min_added": DRIFT_MIN_ADDED, "retrain": retrain}


# ---------------------------------------------------------------------------------------------------------- update

def update_index(index: str | Path, out: str | Path | None = None, add: str | Path | None = None,
                 delete: str | Path | None = None, replace: bool = False, overwrite: bool = False) -> UpdateResult:
    """Write a new version of the index directory `index` with the rows of `delete` (a text file of ids) removed and
    the vectors of `add` (an embeddings artifact) appended, to `out` (default: `index` itself, which then needs
    `overwrite`; the old version stays whole until the new one is swapped in atomically).

    Raises UserError (nothing written) for: neither add nor delete; a malformed or empty delete list; added
    embeddings whose dimension, model, metric, normalisation or chunking differ from the index's; added ids already in
    the index without `replace`; a text backend; an index that cannot do the operation and keeps no exact vectors.
    Ids in the delete list that the index does not hold are counted in `unknown` (a warning, not an error).
    """
    base = Path(index)
    target = Path(out) if out is not None else base
    if add is None and delete is None:
        raise UserError("update-index: nothing to do; give --add EMB (vectors to add) and/or --delete IDS.txt (ids to "
                        "delete)")
    in_place = target.resolve() == base.resolve()
    if in_place and not overwrite:
        raise UserError(f"--out {target}: is the index being updated; pass --overwrite to replace it in place (swapped "
                        "atomically), or give another --out")
    base_m = read_manifest(base, expect="index")
    cls = get_backend(base_m.need("params", "backend"))
    if cls.spec.input == "text":
        raise UserError(f"{base}: {cls.spec.name} indexes text and its statistics (idf, average document length) "
                        "depend on every document, so an update is a full build; rebuild it from the updated corpus: "
                        f"vecrecall rebuild --index {base} --corpus CORPUS")
    listed = read_id_list(delete) if delete is not None else []
    emb = None
    if add is not None:
        emb = load_embeddings(add, check_finite=True)
        if emb.vectors.shape[0] == 0:
            raise UserError(f"--add {add}: no vectors to add")
    check_out(target, overwrite, "dir")

    t0 = time.perf_counter()
    metric, dim = base_m.params["metric"], int(base_m.params.get("dim", 0))
    with atomic_dir(target, overwrite) as tmp:
        # The base is read inside the output's lock (an in-place update of it cannot interleave), and once.
        seen = _identity(base)
        base_m = read_manifest(base, expect="index")
        ids = pd.read_parquet(base / IDS_FILE)
        chunked = "docid" in ids.columns
        if emb is not None:
            check_added(Path(add), emb, base, base_m, chunked)  # type: ignore[arg-type]
        delta = resolve_delta(base, ids, listed, emb.ids if emb is not None else None, Path(add) if add else None,
                              replace)
        added = _prepare(emb.vectors, metric) if emb is not None else np.zeros((0, dim), dtype=np.float32)
        if len(ids) - len(delta.rows) + len(added) == 0:
            raise UserError(f"--delete {delete}: names every row of {base} and nothing is added; an index needs at "
                            "least one vector")
        with activity(f"opening the {cls.spec.name} index {base}"):
            native = cls.open_to_update(base, tmp, metric, dim, dict(base_m.params))
        _unchanged(base, seen)
        if native.rows != len(ids):
            raise UserError(f"{base}: the {cls.spec.name} index holds {native.rows:,} rows but {IDS_FILE} has "
                            f"{len(ids):,}; the directory mixes files of two builds: rebuild it")
        need = [op for op, todo in (("add", len(added)), ("delete", len(delta.rows))) if todo]
        failing = {op: r for op in need if (r := native.cannot(op))}
        generic = all(r == f"{native.label()} cannot {op} vectors in place" for op, r in failing.items())
        reason = (f"{native.label()} cannot {' or '.join(failing)} vectors in place" if failing and generic else
                  "; ".join(failing.values()) or None)
        drift = None
        if reason is None:
            method = "in place"
            reference = _drift_reference(native, base_m, int(base_m.params.get("seed", 0))) if len(added) else None
            with activity(f"updating {native.label()}: deleting {len(delta.rows):,} rows, adding {len(added):,}"):
                if len(delta.rows):
                    native.delete_rows(delta.rows)
                before = native.list_sizes() if reference is not None else None  # type: ignore[attr-defined]
                if len(added):
                    native.add_rows(added)
                if reference is not None:
                    drift = _drift(native, reference, before)
                elif isinstance(base_m.stats.get("drift"), dict):  # a delete-only update keeps the reference
                    drift = {**base_m.stats["drift"], "added": 0, "beyond": 0, "share": 0.0}
            kept = native.size - native.rows  # deleted vectors the backend keeps (hnswlib's mark_deleted)
            backend_notes = native.take_notes()
            native.save_update(tmp)
            params = dict(base_m.params)
        else:
            method, kept, backend_notes = "rebuilt", 0, []
            stored = native.stored_vectors()
            if stored is None:
                raise UserError(f"{base}: {reason}, and it keeps compressed codes rather than the vectors, so it cannot "
                                f"be rebuilt from itself; rebuild it from the final embeddings: vecrecall rebuild "
                                f"--index {base} --embeddings EMB")
            final = np.concatenate([np.delete(stored, delta.rows, axis=0), added]) if len(added) else \
                np.delete(stored, delta.rows, axis=0)
            build = rebuild_params(base_m)
            seed = int(base_m.params.get("seed", 0))
            with activity(f"rebuilding {native.label()} over {len(final):,} rows ({reason})"):
                rebuilt = cls.build(final, metric, build, seed)
            rebuilt.save(tmp)
            params = {"backend": cls.spec.name, "metric": metric, "dim": dim, "seed": seed, **rebuilt.params}
        native = None  # close native handles (milvus-lite) before the commit
        new_ids = pd.concat([ids.drop(index=delta.rows), emb.ids] if emb is not None else [ids.drop(index=delta.rows)],
                            ignore_index=True)
        new_ids.to_parquet(tmp / IDS_FILE, index=False)
        write_row_docids(tmp, new_ids)
        files = _file_sizes(tmp)
        seconds = round(time.perf_counter() - t0, 3)
        update = {"base_rows": len(ids), "deleted": delta.deleted, "replaced": delta.replaced, "added": len(added),
                  "unknown_ids": len(delta.unknown), "method": method, **({"reason": reason} if reason else {}),
                  **({"deleted_kept": kept} if kept else {}), "seconds": seconds}
        inputs: dict[str, Any] = {}
        if "embeddings" in base_m.inputs:
            inputs["embeddings"] = base_m.inputs["embeddings"]
        inputs["base"] = input_entry(base.resolve(), _trimmed(base_m))
        if emb is not None:
            inputs["added"] = input_entry(Path(add).resolve(), emb.manifest, digest=sha256_path(add))  # type: ignore[arg-type]
        if delete is not None:
            inputs["deleted"] = {"path": str(Path(delete).resolve()), "sha256": sha256_file(delete), "ids": len(listed)}
        manifest = Manifest(type="index", params=params, inputs=inputs, stats={
            "n": len(new_ids), "build_s": seconds, "bytes": sum(files.values()),
            **({} if cls.mutable_files else {FILES_STAT: files}),
            "version": int(base_m.stats.get("version", 1)) + 1,
            "updates_since_build": int(base_m.stats.get("updates_since_build", 0)) + 1 if method == "in place" else 0,
            "update": update, **({"drift": drift} if drift is not None and method == "in place" else {})})
        write_dir_manifest(tmp, manifest)
    notes = list(backend_notes)
    if emb is not None and set(emb.ids.columns) != set(ids.columns):
        notes.append(f"the added ids.parquet has columns {', '.join(emb.ids.columns)} and the index's "
                     f"{', '.join(ids.columns)}: rows lacking a column have no value there (--filter treats it as missing)")
    warnings = []
    if delta.unknown:
        verb = "is" if len(delta.unknown) == 1 else "are"
        warnings.append(f"--delete {delete}: {len(delta.unknown):,} of its {len(listed):,} ids {verb} not in the index "
                        f"{base} ({_shown(delta.unknown)}); skipped")
    if method == "rebuilt":
        shown = [f"{k} {v}" for k, v in rebuild_params(base_m).items() if k != "index_type"]
        shown.append(f"seed {base_m.params.get('seed', 0)}")
        notes.append(f"{reason}: rebuilt it from the {len(ids):,} vectors it stores plus the update "
                     f"({', '.join(shown)})")
    if kept > KEPT_NOTE * len(new_ids):
        notes.append(f"{cls.spec.name} keeps the {kept:,} deleted vectors in its graph ({kept / len(new_ids):.0%} of the "
                     f"rows; searched through, never returned); vecrecall rebuild --index {target} drops them")
    if drift is not None and method == "in place" and drift.get("retrain") and len(added):
        notes.append(f"{drift['since_training']['share']:.0%} of the {drift['since_training']['added']:,} vectors "
                     f"added since training lie beyond the 95th-percentile distance to their IVF centroid (threshold "
                     f"{DRIFT_THRESHOLD:.0%}): the centroids are out of date; re-train with vecrecall rebuild "
                     f"--index {target}")
    label = cls.spec.label(params.get("index_type")) + (f" {params['index_type']}" if params.get("index_type") and
                                                        len(cls.spec.index_types) == 1 else "")
    return UpdateResult(manifest, target, label, len(ids), len(new_ids), delta.deleted, delta.replaced, len(added),
                        len(delta.unknown), method, reason, drift, notes, warnings)


# ---------------------------------------------------------------------------------------------------------- rebuild

def _refuse_another_model(embeddings: Path, base: Path, base_m: Manifest) -> None:
    """A rebuild keeps the index's meaning: vectors of another model or dimension need --overwrite (say so)."""
    ours = base_m.parent("embeddings")
    theirs = read_manifest(embeddings, expect="embeddings")
    if ours is None:
        return
    mine, new = ours.params.get("model", {}) or {}, theirs.params.get("model", {}) or {}
    if not same_model(mine, new) or mine.get("dim") != new.get("dim"):
        raise UserError(f"--embeddings {embeddings}: encoded with model '{new.get('name')}' (dim {new.get('dim')}) but "
                        f"{base} was built from '{mine.get('name')}' (dim {mine.get('dim')}); queries would then need "
                        "the new model: pass --overwrite to replace the index with one of another model")


def rebuild_index(index: str | Path, out: str | Path | None = None, embeddings: str | Path | None = None,
                  corpus: str | Path | None = None, fields: Any = None, seed: int | None = None,
                  overwrite: bool = False) -> Manifest:
    """Build a new version of `index` with its recorded backend, metric and build parameters (re-training IVF
    centroids, dropping hnswlib's deleted vectors) and swap it in for `index` in one atomic step (or write it to
    `out`). Readers that loaded the old version keep querying it; readers that load during the swap get one version.

    The vectors: `embeddings` (e.g. the day's re-encoded documents) or, for text backends, `corpus`; by default the
    vectors the index stores (exact for faiss Flat/HNSW/IVF-Flat, hnswlib, annoy, Milvus). Raises UserError for an
    index that keeps only compressed codes (faiss IVFPQ…) without `embeddings`, or a text index without `corpus`.
    """
    base = Path(index)
    target = Path(out) if out is not None else base
    in_place = target.resolve() == base.resolve()
    base_m = read_manifest(base, expect="index")
    cls = get_backend(base_m.need("params", "backend"))
    params = rebuild_params(base_m)
    metric = base_m.params["metric"]
    seed = int(base_m.params.get("seed", 0)) if seed is None else seed
    lineage = ({"base": input_entry(base.resolve(), _trimmed(base_m))},
               {"version": int(base_m.stats.get("version", 1)) + 1, "updates_since_build": 0})
    if embeddings is not None and not overwrite:
        _refuse_another_model(Path(embeddings), base, base_m)
    if embeddings is not None or corpus is not None:
        return build_index(cls.spec.name, target, embeddings=embeddings, corpus=corpus, metric=metric, params=params,
                           seed=seed, overwrite=overwrite or in_place, fields=fields, lineage=lineage)
    if cls.spec.input == "text":
        raise UserError(f"{base}: {cls.spec.name} indexes text; pass --corpus (the documents to index)")
    check_out(target, overwrite or in_place, "dir")
    with atomic_dir(target, overwrite or in_place) as tmp:
        seen = _identity(base)
        base_m = read_manifest(base, expect="index")
        ids = pd.read_parquet(base / IDS_FILE)
        dim = int(base_m.params.get("dim", 0))
        # Opened as for an update: a milvus-lite database is read from a copy, so a process querying the old
        # version (milvus-lite admits one process per database) does not block the rebuild.
        native = cls.open_to_update(base, tmp, metric, dim, dict(base_m.params))
        with activity(f"reading the vectors of {base}"):
            vectors = native.stored_vectors()
        label = native.label()
        native = None  # close native handles before building
        _unchanged(base, seen)
        for leftover in tmp.iterdir():
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        if vectors is None:
            raise UserError(f"{base}: {label} keeps compressed codes rather than the vectors, so it cannot be rebuilt "
                            f"from itself; pass --embeddings with its vectors")
        if len(vectors) != len(ids):
            raise UserError(f"{base}: the index holds {len(vectors):,} rows but {IDS_FILE} has {len(ids):,}; the "
                            "directory mixes files of two builds: rebuild it with --embeddings")
        build = cls.output_params(params, target, True)
        t0 = time.perf_counter()
        with activity(f"building {cls.spec.label(params.get('index_type'))} over {len(ids):,} rows"):
            rebuilt = cls.build(_prepare(vectors, metric), metric, build, seed)
        build_s = time.perf_counter() - t0
        rebuilt.save(tmp)
        ids.to_parquet(tmp / IDS_FILE, index=False)
        write_row_docids(tmp, ids)
        files = _file_sizes(tmp)
        inputs = {k: v for k, v in base_m.inputs.items() if k == "embeddings"}
        inputs["base"] = input_entry(base.resolve(), _trimmed(base_m))
        manifest = Manifest(type="index",
                            params={"backend": cls.spec.name, "metric": metric, "dim": int(vectors.shape[1]),
                                    "seed": seed, **rebuilt.params},
                            inputs=inputs,
                            stats={"n": len(ids), "build_s": round(build_s, 3), **rebuilt.timings,
                                   "bytes": sum(files.values()), **({} if cls.mutable_files else {FILES_STAT: files}),
                                   "version": int(base_m.stats.get("version", 1)) + 1, "updates_since_build": 0,
                                   "rebuild": {"from": f"the {len(ids):,} vectors stored in the base index"}})
        write_dir_manifest(tmp, manifest)
    return manifest


__all__ = ["UpdateResult", "update_index", "rebuild_index", "read_id_list", "rebuild_params", "DRIFT_THRESHOLD",
           "DRIFT_QUANTILE", "DRIFT_MIN_ADDED"]
