"""Chronological train / held-out split of an interaction log, with cold-start counts.

* leave-last-out: each user's latest positive interaction (ties in time: the later row in the file) is held out; the
  user's earlier rows train. The usual protocol of sequential recommendation (e.g. SASRec, Kang & McAuley 2018).
* cut-off: rows before `cutoff` train; positives in [cutoff, until) are held out.

Users with fewer than `min_interactions` positives (in the whole log) are dropped before splitting. Each held-out
*request* is one query of the evaluation: a user (qid = user id), or with a query column a (user, query) pair
(qid = 'user#n', n counting the user's requests in time order). Candidates for a request are all items minus the
user's training positives (see `topk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from .log import Log, parse_times

MODES = ("leave-last-out", "cutoff")


@dataclass(frozen=True)
class SplitSpec:
    mode: str = "leave-last-out"
    cutoff: int | None = None  # ns since the epoch
    until: int | None = None
    min_interactions: int = 5


@dataclass
class Split:
    """`train`: log rows (positives and impressions) the model may see. `requests`: qid, user, query, ts (serving
    time). `heldout`: qid, item (the binary qrels)."""

    train: pd.DataFrame
    requests: pd.DataFrame
    heldout: pd.DataFrame
    stats: dict[str, Any]

    @property
    def train_positives(self) -> pd.DataFrame:
        return self.train[self.train["label"] > 0]


def parse_time_option(value: str | None, option: str) -> int | None:
    """A --cutoff/--until value (unix seconds or ISO 8601) → ns since the epoch."""
    if value is None:
        return None
    return int(parse_times(pd.Series([value]), lambda i: f"{option}", "value")[0])


def split_log(log: Log, spec: SplitSpec) -> Split:
    """Split `log` chronologically (see the module docstring). Raises UserError on an empty side or bad options."""
    if spec.mode not in MODES:
        raise UserError(f"--split {spec.mode}: choose one of {', '.join(MODES)}")
    if spec.min_interactions < 1:
        raise UserError(f"--min-interactions {spec.min_interactions}: must be at least 1")
    if spec.mode == "leave-last-out" and (spec.cutoff is not None or spec.until is not None):
        raise UserError("--cutoff/--until apply to --split cutoff; leave-last-out holds out each user's last interaction")
    if spec.mode == "cutoff" and spec.cutoff is None:
        raise UserError("--split cutoff needs --cutoff TIME (unix seconds or ISO 8601)")
    if spec.cutoff is not None and spec.until is not None and spec.until <= spec.cutoff:
        raise UserError("--until must be later than --cutoff")
    frame = log.frame.sort_values(["ts", "line"], kind="mergesort")
    pos = frame[frame["label"] > 0]
    counts = pos.groupby("user").size()
    keep = set(counts.index[counts >= spec.min_interactions])
    if not keep:
        raise UserError(f"{log.path}: no user has {spec.min_interactions} or more interactions; lower --min-interactions")
    frame = frame[frame["user"].isin(keep)]
    pos = frame[frame["label"] > 0]
    if spec.mode == "leave-last-out":
        if spec.min_interactions < 2:
            raise UserError("--min-interactions must be at least 2 for leave-last-out (one to train on, one to hold out)")
        last = pos.groupby("user", sort=False).tail(1)
        test_ts = last.set_index("user")["ts"]
        held = last
        limit = frame["user"].map(test_ts).to_numpy()
        # every other positive of the user is earlier (ties: earlier in the file); impressions only strictly before
        before = (frame["ts"].to_numpy() < limit) | (frame["label"].to_numpy() > 0)
        train = frame[before & ~frame.index.isin(last.index)]
    else:
        ts = frame["ts"].to_numpy()
        train = frame[ts < spec.cutoff]
        in_test = (pos["ts"] >= spec.cutoff) & ((pos["ts"] < spec.until) if spec.until is not None else True)
        held = pos[in_test]
        if train.empty or not (train["label"] > 0).any():
            raise UserError(f"--cutoff: no positive interactions before it in {log.path}; choose a later cut-off")
        if held.empty:
            raise UserError(f"--cutoff/--until: no interactions in the held-out window of {log.path}; choose another window")
    requests, heldout = _requests(held, log.has_query)
    train_pos = train[train["label"] > 0]
    trained_users, trained_items = set(train_pos["user"]), set(train_pos["item"])
    cold_users = int((~requests["user"].isin(trained_users)).sum())
    cold_rows = ~heldout["item"].isin(trained_items)
    stats = {
        "mode": spec.mode, "min_interactions": spec.min_interactions,
        "users": int(len(keep)), "users_dropped": int(len(counts) - len(keep)),
        "train_interactions": int(len(train_pos)), "train_impressions": int((train["label"] == 0).sum()),
        "requests": int(len(requests)), "heldout_interactions": int(len(heldout)),
        "cold_start_users": cold_users, "cold_start_items": int(heldout.loc[cold_rows, "item"].nunique()),
        "cold_start_heldout": int(cold_rows.sum()),
    }
    return Split(train.reset_index(drop=True), requests, heldout, stats)


def _requests(held: pd.DataFrame, has_query: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group held-out positives into requests: one per user, or one per (user, query) when the log has queries."""
    if has_query:
        first = held.drop_duplicates(["user", "query"], keep="first").copy()
        first["n"] = first.groupby("user", sort=False).cumcount() + 1
        first["qid"] = first["user"] + "#" + first["n"].astype(str)
        requests = first[["qid", "user", "query", "ts"]]
        heldout = held.merge(first[["user", "query", "qid"]], on=["user", "query"])[["qid", "item"]]
    else:
        first = held.drop_duplicates(["user"], keep="first")
        requests = pd.DataFrame({"qid": first["user"], "user": first["user"], "query": "", "ts": first["ts"]})
        heldout = pd.DataFrame({"qid": held["user"], "item": held["item"]})
    requests = requests.sort_values("qid", kind="mergesort").reset_index(drop=True)
    heldout = heldout.sort_values(["qid", "item"], kind="mergesort").reset_index(drop=True)
    return requests, heldout


def dated(ns: int) -> str:
    """ns since the epoch → 'YYYY-MM-DDTHH:MM:SSZ' for messages and manifests."""
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def serving_history(train_pos: pd.DataFrame, users: np.ndarray) -> dict[str, list[str]]:
    """Each user's training positives in time order (the input of the user tower and of the baselines)."""
    wanted = set(users.tolist())
    sub = train_pos[train_pos["user"].isin(wanted)].sort_values(["ts", "line"], kind="mergesort")
    return {u: g["item"].tolist() for u, g in sub.groupby("user", sort=False)}
