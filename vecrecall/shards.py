"""Join embeddings shards (`encode --shard I/N`) into one embeddings artifact.

The shards must come from one source file (same sha256), one encoder (same fingerprint: model, backend,
quantisation) and the same settings, and together cover every record of the source exactly once. Anything else
is refused before a byte is written, naming the two shards that disagree. The result equals a single
`vecrecall encode` of the whole source: the same `embeddings.npy` and `ids.parquet`, written block by block.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .embed import sanitize_ids
from .fingerprint import same_model
from .artifacts import EMBEDDINGS_FILE, IDS_FILE, Manifest, atomic_dir, check_out, read_manifest, write_dir_manifest, write_ids
from .errors import UserError
from .progress import progress

# model entries that name places, not what computes the vectors (shards may be encoded on different machines)
_PLACES = ("path", "base_path", "name")
# compared by same_model (shards encoded before and after fingerprint scheme 2 record different values)
_FINGERPRINTS = ("fingerprint", "fingerprint_scheme", "fingerprint_v1", "base_fingerprint")


def _settings(m: Manifest) -> dict[str, Any]:
    p = {k: v for k, v in m.params.items() if k != "shard"}
    p["model"] = {k: v for k, v in p.get("model", {}).items() if k not in _PLACES + _FINGERPRINTS}
    return p


def _first_difference(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> str:
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            d = _first_difference(va, vb, f"{prefix}{k}.")
            if d:
                return d
        elif va != vb:
            return f"{prefix}{k} {va!r} ≠ {vb!r}"
    return ""


def _check(dirs: Sequence[Path], manifests: list[Manifest]) -> list[int]:
    """Shard positions in record order, after checking they fit together; UserError naming two shards otherwise."""
    for d, m in zip(dirs, manifests):
        if "shard" not in m.params:
            raise UserError(f"{d}: not a shard (made without --shard); merge joins the outputs of encode --shard I/N")
    first, m0 = dirs[0], manifests[0]
    for d, m in zip(dirs[1:], manifests[1:]):
        if m.params["shard"]["count"] != m0.params["shard"]["count"]:
            raise UserError(f"{first} and {d}: shards of different splits ({m0.params['shard']['count']} vs "
                            f"{m.params['shard']['count']} shards); encode every shard with the same --shard I/N count")
        a, b = m0.inputs.get("source", {}).get("sha256"), m.inputs.get("source", {}).get("sha256")
        if a != b:
            raise UserError(f"{first} and {d}: encoded from different sources (sha256 {str(a)[:12]}… ≠ "
                            f"{str(b)[:12]}…); encode every shard from the same file")
        ma, mb = m0.params.get("model", {}), m.params.get("model", {})
        fa, fb = ma.get("fingerprint"), mb.get("fingerprint")
        if not same_model(ma, mb):
            raise UserError(f"{first} and {d}: encoded with different models or backends (fingerprint {fa} ≠ {fb}: "
                            f"{m0.params['model'].get('name')} vs {m.params['model'].get('name')}); encode every "
                            "shard with the same --model, --backend and --quantize")
        diff = _first_difference(_settings(m0), _settings(m))
        if diff:
            raise UserError(f"{first} and {d}: encoded with different settings ({diff}); encode every shard "
                            "with the same model, backend and options")
        if m.stats.get("source_records") != m0.stats.get("source_records"):
            raise UserError(f"{first} and {d}: the source had {m0.stats.get('source_records')} vs "
                            f"{m.stats.get('source_records')} records; encode every shard from the same file")
    order = sorted(range(len(dirs)), key=lambda i: tuple(manifests[i].params["shard"]["records"]))
    expected, prev = 0, None
    for i in order:
        lo, hi = manifests[i].params["shard"]["records"]
        if lo < expected:
            raise UserError(f"{dirs[prev]} and {dirs[i]}: both hold records {lo:,}–{min(hi, expected) - 1:,} "
                            "(overlapping shards); pass each shard once")
        if lo > expected:
            where = f"between {dirs[prev]} and {dirs[i]}" if prev is not None else f"before {dirs[i]}"
            raise UserError(f"records {expected:,}–{lo - 1:,} are in no shard ({where}); encode the missing shard")
        expected, prev = hi, i
    total = m0.stats.get("source_records")
    if expected != total:
        raise UserError(f"records {expected:,}–{total - 1:,} of {total:,} are in no shard (after {dirs[prev]}); "
                        "encode the missing shard")
    return order


def merge_shards(shard_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, overwrite: bool = False) -> Manifest:
    """Concatenate embeddings shards in record order into `out` (memory: one block of vectors plus the ids).

    Raises UserError when a path is not a shard, when shards differ in source, model fingerprint or settings,
    or when they overlap or leave records out; nothing is written then.
    """
    dirs = [Path(d) for d in shard_dirs]
    if not dirs:
        raise UserError("merge: pass the shard directories to join")
    check_out(out, overwrite, inputs=shard_dirs)
    manifests = [read_manifest(d, expect="embeddings") for d in dirs]
    order = _check(dirs, manifests)
    parts = [np.load(dirs[i] / EMBEDDINGS_FILE, mmap_mode="r") for i in order]
    for i, part in zip(order, parts):
        if part.shape[0] != manifests[i].stats.get("rows"):
            raise UserError(f"{dirs[i]}: {EMBEDDINGS_FILE} has {part.shape[0]} rows, its manifest says "
                            f"{manifests[i].stats.get('rows')}; re-encode that shard")
    rows, dim, dtype = sum(p.shape[0] for p in parts), parts[0].shape[1], parts[0].dtype
    m0 = manifests[order[0]]
    with atomic_dir(out, overwrite) as tmp:
        target = np.lib.format.open_memmap(tmp / EMBEDDINGS_FILE, mode="w+", dtype=dtype, shape=(rows, dim))
        at, step = 0, 65536
        with progress("merge shards", rows, "rows") as advance:
            for part in parts:
                for s in range(0, len(part), step):
                    e = min(s + step, len(part))
                    target[at + s : at + e] = part[s:e]
                    advance(e - s)
                at += len(part)
        target.flush()
        del target
        ids = pd.concat([pd.read_parquet(dirs[i] / IDS_FILE) for i in order], ignore_index=True)
        if len(ids) != rows:
            raise UserError(f"merge: the shards' ids.parquet hold {len(ids)} rows for {rows} vectors; re-encode them")
        write_ids(tmp, sanitize_ids(ids))
        dropped = [x for i in order for x in manifests[i].stats.get("empty_dropped_ids", [])]
        params = {k: v for k, v in m0.params.items() if k != "shard"}
        manifest = Manifest(
            type="embeddings", params=params,
            inputs={"source": m0.inputs["source"],
                    "shards": [{"path": str(dirs[i].resolve()), **manifests[i].params["shard"]} for i in order]},
            stats={"records": m0.stats["source_records"], "source_records": m0.stats["source_records"], "rows": rows,
                   "dim": dim, "empty_dropped": sum(manifests[i].stats.get("empty_dropped", 0) for i in order),
                   "empty_dropped_ids": dropped[:20], "shards": len(dirs),
                   "seconds": round(sum(manifests[i].stats.get("seconds", 0) for i in order), 3)},
        )
        write_dir_manifest(tmp, manifest)
    return manifest
