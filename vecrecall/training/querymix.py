"""Head/mid/tail query mixing: resample training queries so each frequency bucket gets a chosen share.

Buckets come from a `bucket` field when every row has one; otherwise from query frequency (the `frequency` field, or
the number of rows a query has) split at its terciles: head = top third, tail = bottom third, mid = the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .data import Pair


@dataclass
class MixRow:
    bucket: str
    available: int
    target: float
    queries: int
    share: float
    pairs: int


def parse_mix(value: str) -> dict[str, float]:
    """`head:0.3,mid:0.4,tail:0.3` → shares summing to 1."""
    mix: dict[str, float] = {}
    try:
        for part in value.split(","):
            name, w = part.split(":")
            mix[name.strip()] = float(w)
    except ValueError:
        raise UserError(f"--query-mix {value}: give bucket:share pairs, e.g. head:0.3,mid:0.4,tail:0.3") from None
    if any(w < 0 for w in mix.values()) or abs(sum(mix.values()) - 1) > 1e-6:
        raise UserError(f"--query-mix {value}: shares must be ≥ 0 and sum to 1 (they sum to {sum(mix.values()):g})")
    return mix


def query_buckets(pairs: list[Pair]) -> dict[str, str]:
    """query text → bucket."""
    if all(p.bucket is not None for p in pairs):
        return {p.query: p.bucket for p in pairs}  # type: ignore[misc]
    freq: dict[str, float] = {}
    for p in pairs:
        freq[p.query] = max(freq.get(p.query, 0.0), p.frequency) if p.frequency is not None else freq.get(p.query, 0.0) + 1
    queries = sorted(freq, key=lambda q: (-freq[q], q))
    n = len(queries)
    out = {}
    for rank, q in enumerate(queries):
        out[q] = "head" if rank < round(n / 3) else "tail" if rank >= round(2 * n / 3) else "mid"
    return out


def apply_mix(pairs: list[Pair], mix: dict[str, float], seed: int, size: int | None = None) -> tuple[list[Pair], list[MixRow]]:
    """Sample queries per bucket (without replacement while enough are available) so bucket b gets round(size·w_b)
    queries (`size` = number of distinct queries by default); every pair of a sampled query is kept."""
    buckets = query_buckets(pairs)
    by_bucket: dict[str, list[str]] = {}
    for q, b in buckets.items():
        by_bucket.setdefault(b, []).append(q)
    unknown = [b for b in mix if b not in by_bucket and mix[b] > 0]
    if unknown:
        raise UserError(f"--query-mix: no training queries in bucket(s) {', '.join(unknown)}; "
                        f"buckets present: {', '.join(sorted(by_bucket))}")
    pairs_of: dict[str, list[Pair]] = {}
    for p in pairs:
        pairs_of.setdefault(p.query, []).append(p)
    total = size or len(buckets)
    rng = np.random.default_rng(seed)
    out: list[Pair] = []
    rows = []
    for b in sorted(by_bucket, key=lambda x: list(mix).index(x) if x in mix else len(mix)):
        qs = sorted(by_bucket[b])
        want = int(round(total * mix.get(b, 0.0)))
        picked = [qs[i] for i in rng.choice(len(qs), size=want, replace=want > len(qs))] if want else []
        chosen = [p for q in picked for p in pairs_of[q]]
        out.extend(chosen)
        rows.append(MixRow(b, len(qs), mix.get(b, 0.0), len(picked), 0.0, len(chosen)))
    n_q = sum(r.queries for r in rows) or 1
    for r in rows:
        r.share = r.queries / n_q
    if not out:
        raise UserError("--query-mix: the mix selected no training queries; raise --mix-size or the shares")
    return out, rows
