"""A small synthetic interaction log with a time axis, made from a seed (tests and the daily-cycle benchmark).

The world: items belong to taste clusters, have a latent appeal and a publication day (a share exists from day 0, the
rest appear over the days). Each user prefers one cluster. On each day a user is active with some probability and
then clicks a short session of items drawn from softmax(affinity · [same cluster] + appeal − age / freshness) over the
published items they have not clicked yet. With `impressions`, each click comes with items shown beside it but not
clicked (label 0); with `queries`, each click carries the cluster's name as the query text. Item text is a title made
of cluster words; the item's cluster is its 'genres' feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import UserError

DAY = 86_400
WORDS = ["space", "crime", "love", "war", "magic", "sport", "music", "horror", "comedy", "history", "ocean", "robot"]


@dataclass(frozen=True)
class SyntheticSpec:
    users: int = 200
    items: int = 300
    clusters: int = 6
    days: int = 20
    activity: float = 0.3
    session: int = 4
    affinity: float = 3.0
    freshness: float = 5.0
    new_items: float = 0.5
    impressions: int = 0
    queries: bool = False
    seed: int = 0

    def check(self) -> None:
        for name in ("users", "items", "clusters", "days", "session"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name} {getattr(self, name)}: must be at least 1")
        if self.clusters > len(WORDS):
            raise UserError(f"--clusters {self.clusters}: at most {len(WORDS)} (one genre word each)")
        if self.impressions < 0:
            raise UserError(f"--impressions {self.impressions}: must be ≥ 0")
        if not (0 < self.activity <= 1 and 0 <= self.new_items < 1):
            raise UserError("synthetic log: activity in (0, 1], new_items in [0, 1)")


def synthetic_log(spec: SyntheticSpec, start: int = 1_600_000_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log, items): log columns user_id, item_id, timestamp (unix s)[, label][, query]; items: item_id, title, genres."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    cluster = rng.integers(spec.clusters, size=spec.items)
    appeal = rng.normal(0.0, 1.0, size=spec.items)
    published = np.where(rng.random(spec.items) < spec.new_items, rng.integers(1, spec.days, size=spec.items), 0)
    taste = rng.integers(spec.clusters, size=spec.users)
    rows: list[tuple] = []
    clicked: list[set[int]] = [set() for _ in range(spec.users)]
    for day in range(spec.days):
        live = np.flatnonzero(published <= day)
        age = day - published[live]
        for u in np.flatnonzero(rng.random(spec.users) < spec.activity):
            logits = spec.affinity * (cluster[live] == taste[u]) + appeal[live] - age / spec.freshness
            logits = np.where(np.isin(live, list(clicked[u])), -np.inf, logits)
            n = min(spec.session, int(np.isfinite(logits).sum()))
            if n == 0:
                continue
            noisy = logits + rng.gumbel(size=len(live))
            slate = live[np.argsort(-noisy, kind="stable")[: n + spec.impressions]]
            t = start + day * DAY + int(rng.integers(0, DAY // 2))
            for j, item in enumerate(slate[:n]):
                clicked[u].add(int(item))
                ts = t + 60 * j
                rows.append((f"u{u:04d}", f"i{item:04d}", ts, 1, WORDS[cluster[item]]))
                for other in slate[n:]:
                    rows.append((f"u{u:04d}", f"i{other:04d}", ts, 0, WORDS[cluster[item]]))
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "label", "query"])
    if not spec.impressions:
        log = log.drop(columns="label")
    if not spec.queries:
        log = log.drop(columns="query")
    adjectives = ["red", "quiet", "last", "golden", "broken", "secret", "first", "wild"]
    items = pd.DataFrame({
        "item_id": [f"i{i:04d}" for i in range(spec.items)],
        "title": [f"{WORDS[c]} {adjectives[i % len(adjectives)]} {WORDS[(c + 1 + i % 2) % spec.clusters]}"
                  for i, c in enumerate(cluster)],
        "genres": [WORDS[c] for c in cluster],
    })
    return log, items
