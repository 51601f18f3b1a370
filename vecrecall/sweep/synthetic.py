"""Clustered Gaussian vectors, so sweeps can run at 100k–1M scale without a corpus.

Cluster centres are drawn from N(0, 1) in `dim` dimensions; each point is a centre plus N(0, spread²) noise, with
cluster sizes drawn from a Dirichlet so clusters are uneven as in real embeddings. Queries are further points from
the same mixture (held out: not in the corpus). Everything follows from `seed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import UserError


@dataclass(frozen=True)
class SyntheticSpec:
    n: int
    dim: int
    n_queries: int = 1000
    clusters: int | None = None  # default ≈ √n / 4, at least 8
    spread: float = 0.35
    seed: int = 0

    @property
    def n_clusters(self) -> int:
        return self.clusters or max(8, int(round(np.sqrt(self.n) / 4)))


def parse_shape(text: str) -> tuple[int, int]:
    """'200000x128' (also 200k×128, 1M x 64) → (200000, 128)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*[x×X*]\s*(\d+)\s*", text or "")
    if not m:
        raise UserError(f"--synthetic {text!r}: expected N×D, e.g. 200000x128 or 200k×128")
    n = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    n, dim = int(round(n)), int(m.group(3))
    if n < 2 or dim < 1:
        raise UserError(f"--synthetic {text!r}: need at least 2 vectors of at least 1 dimension")
    return n, dim


def make_clustered(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """(corpus (n, dim), queries (n_queries, dim)) as float32."""
    rng = np.random.default_rng(spec.seed)
    c = spec.n_clusters
    centres = rng.standard_normal((c, spec.dim), dtype=np.float32)
    weights = rng.dirichlet(np.full(c, 2.0))
    total = spec.n + spec.n_queries
    labels = rng.choice(c, size=total, p=weights)
    points = np.empty((total, spec.dim), dtype=np.float32)
    for start in range(0, total, 65536):
        stop = min(total, start + 65536)
        noise = rng.standard_normal((stop - start, spec.dim), dtype=np.float32)
        points[start:stop] = centres[labels[start:stop]] + spec.spread * noise
    return points[: spec.n], points[spec.n :]
