"""Synthetic vectors, exact search and embeddings artifacts for backend tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vecrecall.artifacts import Manifest, save_embeddings_from_array
from vecrecall.encoders import l2_normalize


def clustered(n: int, nq: int, dim: int, clusters: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(corpus, queries) drawn around the same Gaussian cluster centres."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    x = (centers[rng.integers(0, clusters, n)] + spread * rng.normal(size=(n, dim))).astype(np.float32)
    q = (centers[rng.integers(0, clusters, nq)] + spread * rng.normal(size=(nq, dim))).astype(np.float32)
    return x, q


def exact(x: np.ndarray, q: np.ndarray, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(top-k rows, full score matrix) by brute force, higher-is-better scores as every backend reports them."""
    if metric == "cosine":
        s = l2_normalize(q) @ l2_normalize(x).T
    elif metric == "ip":
        s = q @ x.T
    else:
        s = -((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return np.argsort(-s, axis=1, kind="stable")[:, :k], s


def write_vectors(path: Path, x: np.ndarray, fingerprint: str = "synthetic", prefix: str = "d") -> Path:
    """Save `x` as an embeddings artifact with ids prefix0, prefix1, …"""
    m = Manifest("embeddings", params={"model": {"name": "synthetic", "fingerprint": fingerprint}, "normalize": False,
                                       "role": "corpus"})
    path.mkdir(parents=True, exist_ok=True)
    save_embeddings_from_array(path, x, pd.DataFrame({"id": [f"{prefix}{i}" for i in range(len(x))]}), m)
    return path
