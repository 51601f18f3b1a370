"""Exact top-k by brute force with the index metric, and recall@k of ANN results against it.

Recall@k = |ANN top-k ∩ exact top-k| / k, averaged over queries. Ties at the k-th score: the exact top-k is not
unique when several vectors share the k-th best score (within a relative tolerance of 1e-5), so any of them may fill
the tied slots: an ANN result scoring above the k-th score is a hit, and ANN results tied with it are hits up to the
number of tied slots the exact top-k has. An index is thus neither penalised for returning another member of a tied
group nor rewarded for returning more of them than there are slots. The exact score of
each ANN result is recomputed from the vectors, so approximate scores (PQ) do not matter.

The exact top-k is cached in `<embeddings>.groundtruth/<hash>.npz` beside the embeddings artifact (the artifact
itself is never modified); the key hashes the corpus and query vectors and the metric.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..progress import console, progress

# Relative tolerance on the k-th exact score for ties (float32 dot products of 384 dims agree to ~1e-6).
TIE_TOL = 1e-5


@dataclass
class GroundTruth:
    """Exact top-k per query: scores (nq, k) descending and corpus row positions."""

    scores: np.ndarray
    positions: np.ndarray

    @property
    def k(self) -> int:
        return int(self.scores.shape[1])


def pair_scores(corpus: np.ndarray, queries: np.ndarray, positions: np.ndarray, metric: str) -> np.ndarray:
    """Exact score of corpus row positions[i, j] for query i (higher is better; -inf where position < 0)."""
    pos = np.asarray(positions, dtype=np.int64)
    safe = np.where(pos >= 0, pos, 0)
    docs = np.asarray(corpus[safe.ravel()], dtype=np.float32).reshape(*pos.shape, -1)
    q = np.asarray(queries, dtype=np.float32)[:, None, :]
    if metric == "l2":
        out = -np.sum((docs - q) ** 2, axis=-1)
    else:
        out = np.sum(docs * q, axis=-1)
    return np.where(pos >= 0, out, -np.inf).astype(np.float32)


# Candidates fetched past k from faiss's exact search, so that the top k can be re-ranked by exact pair scores with
# ties to the lower row; a query whose last candidate still ties with its k-th is searched again by _exact_tiled.
TIE_MARGIN = 16


def exact_topk(corpus: np.ndarray, queries: np.ndarray, metric: str, k: int, block: int | None = None,
               tile: int | None = None) -> GroundTruth:
    """Brute-force top-k (ties broken by lower row number) with inner product or negative squared L2.

    faiss's exact k-NN (`faiss.knn`: BLAS blocks with per-query heaps, bounded memory) fetches k + TIE_MARGIN
    candidates per query; they are re-scored exactly (`pair_scores`) and ranked by (score, lower row). Queries whose
    last candidate is within the tie tolerance of the k-th score (many exact ties: duplicates, integer vectors) are
    searched again with `_exact_tiled` (`block` queries × `tile` corpus rows of scores at a time), which sees every
    row. Raises nothing of its own; shapes: corpus (n, d), queries (nq, d) → GroundTruth (nq, min(k, n)).
    """
    import faiss

    n = corpus.shape[0]
    k = min(k, n)
    x = np.ascontiguousarray(corpus, dtype=np.float32)
    nq = queries.shape[0]
    fetch = min(n, k + TIE_MARGIN)
    kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    scores = np.empty((nq, k), dtype=np.float32)
    positions = np.empty((nq, k), dtype=np.int64)
    with progress("ground truth", nq, "queries") as advance:
        for start in range(0, nq, 1024):
            q = np.ascontiguousarray(queries[start : start + 1024], dtype=np.float32)
            dist, cand = faiss.knn(q, x, fetch, metric=kind)
            cand = cand.astype(np.int64)
            s, pos = _top(pair_scores(x, q, cand, metric), cand, k)
            if fetch < n:
                found = -dist if metric == "l2" else dist
                kth = found[:, k - 1]
                unsure = np.flatnonzero(found[:, -1] >= kth - 2 * TIE_TOL * np.maximum(1.0, np.abs(kth)))
                if len(unsure):
                    redo = _exact_tiled(x, q[unsure], metric, k, block, tile)
                    s[unsure], pos[unsure] = pair_scores(x, q[unsure], redo, metric), redo
            scores[start : start + len(q)] = s
            positions[start : start + len(q)] = pos
            advance(len(q))
    return GroundTruth(scores, positions)


def _exact_tiled(x: np.ndarray, queries: np.ndarray, metric: str, k: int, block: int | None = None,
                 tile: int | None = None) -> np.ndarray:
    """Row positions (nq, k) of the exact top-k, ties to the lower row, from every corpus row: scores for `block`
    queries against `tile` corpus rows at a time (≈ 32 MB), merged into a running top-k."""
    n = x.shape[0]
    block = block or 256
    tile = tile or max(k, (1 << 23) // block)
    norms = np.einsum("ij,ij->i", x, x) if metric == "l2" else None
    positions = np.empty((queries.shape[0], k), dtype=np.int64)
    for start in range(0, queries.shape[0], block):
        q = np.asarray(queries[start : start + block], dtype=np.float32)
        best_s = np.empty((len(q), 0), dtype=np.float32)
        best_p = np.empty((len(q), 0), dtype=np.int64)
        for t0 in range(0, n, tile):
            s = q @ x[t0 : t0 + tile].T
            if metric == "l2":
                s = 2 * s - norms[None, t0 : t0 + tile] - np.einsum("ij,ij->i", q, q)[:, None]
            pos = np.broadcast_to(np.arange(t0, t0 + s.shape[1], dtype=np.int64), s.shape)
            s, pos = _top(s, pos, k)
            best_s, best_p = _top(np.concatenate([best_s, s], axis=1), np.concatenate([best_p, pos], axis=1), k)
        positions[start : start + len(q)] = best_p
    return positions


def _top(s: np.ndarray, pos: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k entries of highest score, ties at the k-th score going to the lower position; sorted by
    (score descending, position ascending). s, pos: (m, c) → (m, min(k, c)) each."""
    if s.shape[1] > k:
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(s, part, axis=1).min(axis=1, keepdims=True)
        # argpartition picks any of several entries tied at the k-th score; redo those rows exactly
        for i in np.flatnonzero((s >= kth).sum(axis=1) > k):
            part[i] = np.lexsort((pos[i], -s[i]))[:k]
        s, pos = np.take_along_axis(s, part, axis=1), np.take_along_axis(pos, part, axis=1)
    order = np.lexsort((pos, -s), axis=1)
    return np.take_along_axis(s, order, axis=1), np.take_along_axis(pos, order, axis=1)


def recall_at(gt: GroundTruth, ann_positions: np.ndarray, corpus: np.ndarray, queries: np.ndarray, metric: str,
              k: int) -> np.ndarray:
    """Per-query recall@k of ANN result positions (n_queries,) against the exact top-k, ties included."""
    k_eff = min(k, gt.k)
    top = np.asarray(ann_positions[:, :k_eff], dtype=np.int64)
    # A position returned twice counts once.
    dup = np.zeros_like(top, dtype=bool)
    srt = np.sort(top, axis=1)
    if k_eff > 1:
        has_dup = (np.diff(srt, axis=1) == 0).any(axis=1)
        for i in np.flatnonzero(has_dup):
            _, first = np.unique(top[i], return_index=True)
            dup[i] = True
            dup[i, first] = False
    exact = pair_scores(corpus, queries, top, metric)
    kth = gt.scores[:, k_eff - 1][:, None]
    tol = TIE_TOL * np.maximum(1.0, np.abs(kth))
    valid = (top >= 0) & ~dup
    better = valid & (exact > kth + tol)  # certainly in the exact top-k
    tied = valid & ~better & (exact >= kth - tol)  # tied with the k-th: as many count as the top-k has tied slots
    slots = k_eff - (gt.scores[:, :k_eff] > kth + tol).sum(axis=1)
    return (better.sum(axis=1) + np.minimum(tied.sum(axis=1), slots)) / k_eff


def vectors_key(corpus: np.ndarray, queries: np.ndarray, metric: str) -> str:
    h = hashlib.sha256()
    for arr in (corpus, queries):
        a = np.ascontiguousarray(arr, dtype=np.float32)
        h.update(str(a.shape).encode())
        for start in range(0, a.shape[0], 65536):
            h.update(memoryview(a[start : start + 65536]).cast("B"))  # the bytes tobytes() gave, without a copy
    h.update(metric.encode())
    return h.hexdigest()[:24]


def cached_topk(corpus: np.ndarray, queries: np.ndarray, metric: str, k: int, cache_dir: Path | None) -> tuple[GroundTruth, str]:
    """Exact top-k, read from `cache_dir` when a large enough one is there, else computed and stored.

    Returns (ground truth, 'cached' | 'computed' | 'computed (cache not writable)').
    """
    if cache_dir is None:
        return exact_topk(corpus, queries, metric, k), "computed"
    path = cache_dir / f"{vectors_key(corpus, queries, metric)}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                if z["scores"].shape[1] >= min(k, corpus.shape[0]):
                    return GroundTruth(z["scores"][:, :k], z["positions"][:, :k]), "cached"
        except (OSError, ValueError, KeyError):
            pass
    gt = exact_topk(corpus, queries, metric, k)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # A cache entry, not an output of the command (an interruption note does not list it): written to a
        # private temporary name, then renamed; a reader that finds a damaged entry recomputes it.
        tmp = cache_dir / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, scores=gt.scores, positions=gt.positions)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        console.print(f"[yellow]note[/]: ground truth not cached ({exc})")
        return gt, "computed (cache not writable)"
    return gt, "computed"


def cache_dir_for(embeddings: str | Path) -> Path:
    """The ground-truth cache beside an embeddings artifact: `<embeddings>.groundtruth/`."""
    p = Path(embeddings).resolve()
    return p.with_name(p.name + ".groundtruth")
