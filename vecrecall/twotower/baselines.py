"""Baselines scored by the same protocol as the two-tower model (candidates = all items − the user's training items).

* `popular`  score(i) = number of training positives of item i (the same list for everyone).
* `cooc`     item-item co-occurrence: score(u, i) = Σ_{j ∈ history(u)} C_ij, with C_ij = number of training users who
             interacted with both i and j, cosine-normalised C_ij / √(n_i n_j) by default (item-based kNN without
             a neighbour cut-off; Sarwar et al., WWW 2001; Deshpande & Karypis, TOIS 2004).
* `text`     the text-only bi-encoder: cosine between the item text vectors and the request's query text vector when
             the log has queries, else the mean of the text vectors of the user's last H training items.

Computed without any dense item × item matrix: with X the users × items 0/1 matrix of training positives and
D = diag(n)^(-1/2), cooc scores are rows of (X_u D) Xᵀ (X D), a block of users at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..artifacts import Manifest
from ..errors import UserError

METHODS = ("popular", "cooc", "text")
COOC_NORMS = ("cosine", "none")


def interaction_matrix(train_pos: pd.DataFrame, users: list[str], item_index: dict[str, int]) -> sp.csr_matrix:
    """users × catalogue 0/1 matrix of training positives (rows in `users` order)."""
    uidx = {u: i for i, u in enumerate(users)}
    rows = train_pos["user"].map(uidx).to_numpy()
    cols = train_pos["item"].map(item_index).to_numpy()
    ok = ~(pd.isna(rows) | pd.isna(cols))
    x = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float64), (rows[ok].astype(np.int64), cols[ok].astype(np.int64))),
                      shape=(len(users), len(item_index)))
    x.data[:] = 1.0  # duplicates (none after the log's dedupe) would otherwise add up
    return x


def popular_scores(x: sp.csr_matrix) -> Callable[[np.ndarray], np.ndarray]:
    counts = np.asarray(x.sum(axis=0)).ravel()
    return lambda rows: np.tile(counts, (len(rows), 1))


def cooc_scores(x: sp.csr_matrix, request_users: np.ndarray, norm: str = "cosine") -> Callable[[np.ndarray], np.ndarray]:
    """Scores of the requests whose users are rows `request_users` of `x` (−1: a user with no training items)."""
    if norm not in COOC_NORMS:
        raise UserError(f"--cooc-norm {norm}: choose one of {', '.join(COOC_NORMS)}")
    n = np.asarray(x.sum(axis=0)).ravel()
    d = sp.diags(np.where(n > 0, 1.0 / np.sqrt(np.maximum(n, 1.0)), 0.0)) if norm == "cosine" else sp.identity(x.shape[1])
    xd = (x @ d).tocsr()
    xt = x.T.tocsr()

    def scores(rows: np.ndarray) -> np.ndarray:
        users = request_users[rows]
        out = np.zeros((len(rows), x.shape[1]))
        known = users >= 0
        if known.any():
            overlap = xd[users[known]] @ xt  # requests × users: Σ_j D_jj X_uj X_vj
            out[known] = np.asarray((overlap @ xd).todense())
        return out

    return scores


def text_scores(item_text: np.ndarray, request_vectors: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Cosine of unit request vectors with unit item text vectors."""
    return lambda rows: request_vectors[rows] @ item_text.T


def mean_history_vectors(histories: list[np.ndarray], item_text: np.ndarray) -> np.ndarray:
    """Unit mean of the text vectors of each history (zeros for an empty one)."""
    out = np.zeros((len(histories), item_text.shape[1]), dtype=np.float32)
    for i, h in enumerate(histories):
        if len(h):
            v = item_text[h].mean(axis=0)
            norm = np.linalg.norm(v)
            out[i] = v / norm if norm > 0 else v
    return out


# ------------------------------------------------------------------------------------------ on a model directory


def run_baseline(model_dir: Path, method: str, k: int, text_model: str | None = None, history: int = 50,
                 cooc_norm: str = "cosine", use_cache: bool = True) -> tuple[pd.DataFrame, Manifest]:
    """The run of a baseline on exactly the split of a finetune-two-tower directory (same requests, same
    catalogue, same seen items removed), and its manifest."""
    from ..artifacts import input_entry, read_manifest
    from .features import encode_text
    from .pipeline import MODEL_TYPE
    from .topk import top_k

    if method not in METHODS:
        raise UserError(f"--method {method}: choose one of {', '.join(METHODS)}")
    if k < 1:
        raise UserError(f"-k {k}: must be at least 1")
    if history < 1:
        raise UserError(f"--history {history}: must be at least 1")
    if text_model is not None and method != "text":
        raise UserError(f"--text-model applies to --method text, not {method}")
    m = read_manifest(model_dir, expect=MODEL_TYPE)
    for f in ("train.parquet", "requests.parquet", "catalog.parquet"):
        if not (model_dir / f).exists():
            raise UserError(f"{model_dir}: {f} is missing; pass a complete finetune-two-tower output")
    train = pd.read_parquet(model_dir / "train.parquet")
    train_pos = train[train["label"] > 0].sort_values(["ts", "line"], kind="mergesort")
    requests = pd.read_parquet(model_dir / "requests.parquet")
    catalog = pd.read_parquet(model_dir / "catalog.parquet")
    ids = catalog["id"].astype(str).tolist()
    index = {x: i for i, x in enumerate(ids)}
    users = sorted(set(train_pos["user"]))
    x = interaction_matrix(train_pos, users, index)
    uidx = {u: i for i, u in enumerate(users)}
    req_users = np.fromiter((uidx.get(u, -1) for u in requests["user"]), dtype=np.int64)
    histories = [x[u].indices if u >= 0 else np.zeros(0, np.int64) for u in req_users]
    params: dict = {"baseline": method, "k": k}
    if method == "popular":
        scores = popular_scores(x)
    elif method == "cooc":
        scores = cooc_scores(x, req_users, cooc_norm)
        params["cooc_norm"] = cooc_norm
    else:
        if not catalog["text"].astype(str).str.len().gt(0).any():
            raise UserError(f"{model_dir}: the items have no text; train with --items FILE --item-text COLUMNS")
        model = text_model or (m.params.get("text_model") if m.params.get("text_model") not in (None, "none") else "default")
        item_vecs, encoder = encode_text(catalog["text"].astype(str).tolist(), model, use_cache)
        if requests["query"].astype(str).str.len().gt(0).any():
            qvecs, _ = encode_text(requests["query"].astype(str).tolist(), model, use_cache)
        else:
            by_user = {u: g["item"].map(index).to_numpy() for u, g in train_pos.groupby("user", sort=False)}
            recent = [by_user.get(u, np.zeros(0, np.int64))[-history:] for u in requests["user"]]
            qvecs = mean_history_vectors(recent, item_vecs)
        scores = text_scores(item_vecs, qvecs)
        params.update(text_encoder=encoder, history=history)
    run = top_k(scores, requests["qid"].astype(str).tolist(), histories, ids, k)
    manifest = Manifest(type="run", params=params, inputs={"split": input_entry(model_dir.resolve(), m)},
                        stats={"queries": int(len(requests)), "rows": int(len(run))})
    return run, manifest
