"""CUR approximation of a query × item score matrix (ANNCUR, Yadav et al., 2022, "Efficient Nearest Neighbor
Search for Cross-Encoder Models using Matrix Factorization").

Offline: R_anc = CE(Q_anc, all items) (k_q × |I|), C_anc = its anchor-item columns (k_q × k_i),
U = pinv(C_anc) (k_i × k_q), item embeddings E_I = U · R_anc (k_i × |I|).
Test time: c_q = CE(q, I_anc) (k_i calls), approximate scores ŝ = c_q · E_I.
If R_anc has rank r ≤ min(k_q, k_i) and the test query's score row lies in its row space, ŝ is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

RCOND = 1e-8  # singular values below RCOND·σ_max are treated as zero in pinv


def item_embeddings(r_anc: np.ndarray, anchors: np.ndarray, rcond: float = RCOND) -> np.ndarray:
    """E_I = pinv(R_anc[:, anchors]) · R_anc, shape (len(anchors), |I|)."""
    r = np.asarray(r_anc, dtype=np.float64)
    return np.linalg.pinv(r[:, np.asarray(anchors, dtype=np.int64)], rcond=rcond) @ r


def approx_scores(c_q: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """ŝ = c_q · E_I for one query (1-d c_q) or several (2-d, one row per query)."""
    return np.asarray(c_q, dtype=np.float64) @ emb


def effective_rank(matrix: np.ndarray, energy: float = 0.99) -> int:
    """How many singular values hold `energy` of the squared Frobenius norm (the 'effective rank')."""
    s = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    total = float((s**2).sum())
    if total == 0:
        return 0
    return int(np.searchsorted(np.cumsum(s**2) / total, energy - 1e-12) + 1)


def check_anchor_counts(k_q: int, k_i: int, n_items: int, allow_underdetermined: bool) -> None:
    """Refuse anchor counts that cannot work (k_i > |I|) or that leave U underdetermined (k_q < k_i)."""
    if k_i < 1:
        raise UserError(f"--k-i {k_i}: need at least one anchor item")
    if k_i > n_items:
        raise UserError(f"--k-i {k_i}: more anchor items than the {n_items} items in the corpus; use --k-i ≤ {n_items}")
    if k_q < k_i and not allow_underdetermined:
        raise UserError(f"--k-i {k_i} with only {k_q} anchor queries: C_anc is {k_q}×{k_i} so its rank is at most "
                        f"{k_q} < k_i and U = pinv(C_anc) cannot use all anchor items; give ≥ {k_i} anchor queries, "
                        "lower --k-i, or pass --allow-underdetermined")


def top_unscored(scores: np.ndarray, exclude: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n highest `scores` outside `exclude`, best first (exact MIPS by argpartition)."""
    s = np.array(scores, dtype=np.float64, copy=True)
    s[np.asarray(exclude, dtype=np.int64)] = -np.inf
    n = min(n, int(np.isfinite(s).sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-s, n - 1)[:n]
    return part[np.lexsort((part, -s[part]))]


@dataclass
class CurModel:
    """The anchor score matrix with fixed anchor items, and the item embeddings derived from it."""

    r_anc: np.ndarray       # k_q × |I|, float64
    anchors: np.ndarray     # k_i item positions
    emb: np.ndarray         # k_i × |I|

    @classmethod
    def fit(cls, r_anc: np.ndarray, anchors: np.ndarray, rcond: float = RCOND) -> "CurModel":
        anchors = np.asarray(anchors, dtype=np.int64)
        return cls(np.asarray(r_anc, dtype=np.float64), anchors, item_embeddings(r_anc, anchors, rcond))

    def approx(self, c_q: np.ndarray) -> np.ndarray:
        return approx_scores(c_q, self.emb)
