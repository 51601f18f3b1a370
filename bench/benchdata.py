"""The vectors a bench script times: an embeddings artifact and its query vectors, or clustered synthetic data."""

from __future__ import annotations

from typing import Any

import numpy as np

from vecrecall.encoders import l2_normalize
from vecrecall.sweep.synthetic import SyntheticSpec, make_clustered


def normalised_vectors(args: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """(corpus, queries, description), both L2-normalised float32: from `args.embeddings` / `args.queries` (vecrecall
    embeddings artifacts) when given, else `args.n` × `args.dim` clustered synthetic vectors and `args.n_queries`
    queries (seed 0)."""
    if args.embeddings:
        from vecrecall.artifacts import load_embeddings

        x = l2_normalize(np.asarray(load_embeddings(args.embeddings).vectors, dtype=np.float32))
        q = l2_normalize(np.asarray(load_embeddings(args.queries).vectors, dtype=np.float32))
        return x, q, f"{args.embeddings} ({x.shape[0]:,}×{x.shape[1]}), {len(q)} queries"
    x, q = make_clustered(SyntheticSpec(args.n, args.dim, args.n_queries, seed=0))
    return l2_normalize(x), l2_normalize(q), f"synthetic {args.n:,}×{args.dim} clustered, {len(q)} queries"
