"""Top-k over the catalogue with each request's own training items removed (candidates = all items − seen).

Used by the baselines and the daily cycle (exact search in process), and by `exclude-seen`, which applies the same
rule to a run made by `vecrecall query` (over-fetched with a larger -k, then cut back to k).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..errors import UserError


def top_k(scores_for: Callable[[np.ndarray], np.ndarray], qids: list[str], seen: list[np.ndarray],
          item_ids: list[str], k: int, block: int = 256) -> pd.DataFrame:
    """Run (`qid, docid, rank, score`) of the k best unseen items per request.

    `scores_for(rows)` returns the (len(rows), n_items) score matrix of those requests; `seen[r]` holds catalogue
    rows to exclude for request r. Ties keep catalogue order.
    """
    n_items = len(item_ids)
    ids = np.asarray(item_ids, dtype=object)
    out_q, out_d, out_s, out_r = [], [], [], []
    for start in range(0, len(qids), block):
        rows = np.arange(start, min(start + block, len(qids)))
        s = np.asarray(scores_for(rows), dtype=np.float64).copy()
        for j, r in enumerate(rows):
            if len(seen[r]):
                s[j, seen[r]] = -np.inf
        kk = min(k, n_items)
        kth = -np.partition(-s, kk - 1, axis=1)[:, kk - 1]  # the k-th best score of each row
        for j, r in enumerate(rows):
            above = np.flatnonzero(s[j] > kth[j])
            tied = np.flatnonzero(s[j] == kth[j])[: kk - len(above)]  # ties at the cut: catalogue order
            cand = np.concatenate([above, tied])
            order = cand[np.lexsort((cand, -s[j, cand]))]
            order = order[np.isfinite(s[j, order])]
            out_q.append(np.full(len(order), qids[r], dtype=object))
            out_d.append(ids[order])
            out_s.append(s[j, order])
            out_r.append(np.arange(1, len(order) + 1))
    if not out_q:
        return pd.DataFrame({"qid": [], "docid": [], "rank": [], "score": []})
    return pd.DataFrame({"qid": np.concatenate(out_q), "docid": np.concatenate(out_d),
                         "rank": np.concatenate(out_r).astype(np.int64), "score": np.concatenate(out_s)})


def seen_rows(qids: list[str], seen: pd.DataFrame, item_index: dict[str, int]) -> list[np.ndarray]:
    """Catalogue rows of each request's seen items (`seen`: columns qid, item)."""
    groups = {q: g for q, g in seen.groupby("qid", sort=False)["item"]}
    return [np.fromiter((item_index[i] for i in groups[q] if i in item_index), dtype=np.int64) if q in groups
            else np.zeros(0, dtype=np.int64) for q in qids]


def exclude_seen(run: pd.DataFrame, seen: pd.DataFrame, k: int, allow_short: bool = False) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop each query's seen documents from `run` and keep its k best (re-ranked 1..k).

    `seen`: columns qid, docid. A query left with fewer than k documents although the run may have cut candidates
    off is refused (its recall would be understated) unless `allow_short`; the message says which -k to query with.
    """
    if k < 1:
        raise UserError(f"-k {k}: must be at least 1")
    key = pd.MultiIndex.from_frame(seen[["qid", "docid"]].astype(str))
    hit = pd.MultiIndex.from_frame(run[["qid", "docid"]]).isin(key)
    kept = run[~hit].sort_values(["qid", "score", "docid"], ascending=[True, False, False], kind="mergesort")
    kept = kept.groupby("qid", sort=False).head(k).copy()
    kept["rank"] = kept.groupby("qid", sort=False).cumcount() + 1
    depth = run.groupby("qid").size()
    left = kept.groupby("qid").size().reindex(depth.index, fill_value=0)
    n_seen = seen.groupby("qid").size()
    short = left[left < k]
    if len(short) and not allow_short:
        need = int((n_seen.reindex(depth.index, fill_value=0) + k).max())
        q = short.index[0]
        raise UserError(f"query '{q}': {int(short.iloc[0])} of its {int(depth[q])} results remain after removing its "
                        f"seen items ({len(short)} queries have fewer than {k}); query with -k {need} (k + most seen "
                        "items of any query), or pass --allow-short if the catalogue is that small")
    stats = {"queries": int(len(depth)), "removed": int(hit.sum()), "short_queries": int(len(short))}
    return kept[["qid", "docid", "rank", "score"]].reset_index(drop=True), stats
