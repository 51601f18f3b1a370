"""Vocabularies and arrays the towers consume: id rows, categorical feature bags, frozen text vectors, histories.

Row 0 of every vocabulary is "unknown": ids never seen in training (cold-start users and items) and feature values
never seen get row 0, whose embedding is fixed at zero, so a cold entity is scored by its other parts only
(features, text, history, query). Histories and impression lists are padded with -1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..errors import UserError
from .log import EntityTable, Log


@dataclass
class Vocab:
    """Known ids in row order; row r + 1 of an embedding table belongs to ids[r], row 0 to every unknown id."""

    ids: list[str]

    def __post_init__(self) -> None:
        self._index = {x: i + 1 for i, x in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids) + 1

    def rows(self, values: Iterable[str]) -> np.ndarray:
        return np.fromiter((self._index.get(v, 0) for v in values), dtype=np.int64)

    @classmethod
    def build(cls, values: Iterable[str], base: "Vocab | None" = None) -> "Vocab":
        """The sorted distinct `values`; with `base` (warm start), base's rows first so old rows keep their place."""
        old = list(base.ids) if base else []
        seen = set(old)
        return cls(old + sorted({v for v in values if v not in seen}))


@dataclass
class Entities:
    """Everything about one side (users or items) as arrays over its `ids` (catalogue order for items)."""

    ids: list[str]
    id_rows: np.ndarray  # (n,) row in the id vocabulary, 0 = cold
    features: dict[str, np.ndarray] = field(default_factory=dict)  # name → (n, max_tokens) vocab rows, 0 = padding
    text: np.ndarray | None = None  # (n, text_dim) float32, frozen text-encoder vectors

    def __post_init__(self) -> None:
        self.position = {x: i for i, x in enumerate(self.ids)}

    def index(self, values: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.position[v] for v in values), dtype=np.int64)


def feature_rows(tokens: list[list[str]], vocab: Vocab) -> np.ndarray:
    """Token lists → (n, max_len) vocabulary rows, 0-padded (at least one column)."""
    width = max(1, max((len(t) for t in tokens), default=1))
    out = np.zeros((len(tokens), width), dtype=np.int64)
    for i, toks in enumerate(tokens):
        rows = vocab.rows(toks)
        out[i, : len(rows)] = rows
    return out


@dataclass
class Vocabs:
    """All vocabularies of a model (saved beside its weights; extended, never reordered, by a warm start)."""

    users: Vocab
    items: Vocab
    user_features: dict[str, Vocab]
    item_features: dict[str, Vocab]

    def to_json(self) -> dict[str, Any]:
        return {"users": self.users.ids, "items": self.items.ids,
                "user_features": {k: v.ids for k, v in self.user_features.items()},
                "item_features": {k: v.ids for k, v in self.item_features.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Vocabs":
        return cls(Vocab(data["users"]), Vocab(data["items"]),
                   {k: Vocab(v) for k, v in data["user_features"].items()},
                   {k: Vocab(v) for k, v in data["item_features"].items()})


def build_vocabs(train_pos: pd.DataFrame, items: EntityTable | None, users: EntityTable | None,
                 base: Vocabs | None = None) -> Vocabs:
    """Id vocabularies from the training positives; feature vocabularies from the side tables' values."""
    def feats(table: EntityTable | None, old: dict[str, Vocab]) -> dict[str, Vocab]:
        if table is None:
            return {}
        return {name: Vocab.build((t for toks in lists for t in toks), old.get(name)) for name, lists in table.features.items()}

    return Vocabs(Vocab.build(train_pos["user"], base.users if base else None),
                  Vocab.build(train_pos["item"], base.items if base else None),
                  feats(users, base.user_features if base else {}),
                  feats(items, base.item_features if base else {}))


def catalogue(log: Log, items: EntityTable | None) -> tuple[list[str], dict[str, int]]:
    """The items that can be recommended: the item table's rows in file order, then log items it lacks (sorted).
    Returns the ids and counts (`in_table`, `log_only`)."""
    in_log = sorted(set(log.frame["item"]))
    if items is None:
        return in_log, {"in_table": 0, "log_only": len(in_log)}
    known = set(items.ids)
    extra = [x for x in in_log if x not in known]
    return list(items.ids) + extra, {"in_table": len(items.ids), "log_only": len(extra)}


def entities(ids: list[str], id_vocab: Vocab, table: EntityTable | None, feature_vocabs: dict[str, Vocab],
             text: np.ndarray | None = None) -> Entities:
    """Arrays for `ids`; rows missing from `table` get no feature tokens."""
    feats: dict[str, np.ndarray] = {}
    if table is not None:
        pos = {x: i for i, x in enumerate(table.ids)}
        for name, lists in table.features.items():
            tokens = [lists[pos[x]] if x in pos else [] for x in ids]
            feats[name] = feature_rows(tokens, feature_vocabs[name])
    return Entities(list(ids), id_vocab.rows(ids), feats, text)


def item_texts(ids: list[str], table: EntityTable | None) -> list[str] | None:
    """Each catalogue item's text ('' where the table has no row), or None without item text."""
    if table is None or table.text is None:
        return None
    pos = {x: i for i, x in enumerate(table.ids)}
    return [table.text[pos[x]] if x in pos else "" for x in ids]


def encode_text(texts: list[str], model: str, use_cache: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Frozen text-encoder vectors (L2-normalised; '' → zeros) and the encoder's description for the lineage."""
    from ..encoders import EncodeSettings, VectorCache, encode_texts, load_encoder

    encoder = load_encoder(model)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = [i for i, t in enumerate(texts) if t]
    if todo:
        cache = VectorCache(encoder, "raw") if use_cache else None
        try:
            out[todo] = encode_texts(encoder, [texts[i] for i in todo], EncodeSettings(normalize=True), "corpus", cache)
        finally:
            if cache is not None:
                cache.close()
    return out, encoder.describe()


# --------------------------------------------------------------------------------------------------- examples


@dataclass
class Examples:
    """Training rows: one per positive interaction, in time order within each user."""

    user: np.ndarray  # (n,) row in the user Entities
    item: np.ndarray  # (n,) catalogue row of the positive
    history: np.ndarray  # (n, H) catalogue rows of the user's previous positives (most recent last), -1 padded
    query: np.ndarray  # (n,) row in the query table (0 = no query)
    impressions: np.ndarray  # (n, K) catalogue rows shown in the same request but not clicked, -1 padded

    def __len__(self) -> int:
        return len(self.item)


def sliding_history(seq: np.ndarray, length: int) -> np.ndarray:
    """Row p = the `length` entries before position p (most recent last), -1 padded in front."""
    padded = np.concatenate([np.full(length, -1, dtype=np.int64), seq.astype(np.int64)])
    return np.lib.stride_tricks.sliding_window_view(padded, length)[: len(seq)].copy() if length else np.zeros((len(seq), 0), np.int64)


def last_items(seq: list[int], length: int) -> np.ndarray:
    """The last `length` entries of `seq`, -1 padded in front."""
    out = np.full(length, -1, dtype=np.int64)
    tail = seq[-length:] if length else []
    if tail:
        out[length - len(tail):] = tail
    return out


def build_examples(train: pd.DataFrame, users: Entities, items: Entities, query_rows: dict[str, int],
                   history: int, impressions_per_row: int, seed: int, since_ns: int | None = None) -> Examples:
    """Training examples from the training rows; with `since_ns`, only positives at or after it (histories still
    use everything before them — the incremental update of the daily cycle)."""
    frame = train.sort_values(["ts", "line"], kind="mergesort")
    pos = frame[frame["label"] > 0]
    cat = items.index(pos["item"])
    user_rows = users.index(pos["user"])
    hist = np.full((len(pos), history), -1, dtype=np.int64)
    order = np.argsort(user_rows, kind="stable")  # group by user, time order kept inside each user
    bounds = np.flatnonzero(np.diff(user_rows[order])) + 1
    for group in np.split(order, bounds):
        if len(group):
            hist[group] = sliding_history(cat[group], history)
    imps = np.full((len(pos), impressions_per_row), -1, dtype=np.int64)
    shown = frame[frame["label"] == 0]
    if impressions_per_row and len(shown):
        rng = np.random.default_rng(seed)
        groups = {k: items.index(g["item"]) for k, g in shown.groupby(["user", "ts", "query"], sort=True)}
        for i, key in enumerate(zip(pos["user"], pos["ts"], pos["query"])):
            cand = groups.get(key)
            if cand is not None:
                pick = cand if len(cand) <= impressions_per_row else np.sort(rng.choice(cand, impressions_per_row, replace=False))
                imps[i, : len(pick)] = pick
    q = np.fromiter((query_rows.get(x, 0) for x in pos["query"]), dtype=np.int64)
    keep = np.ones(len(pos), dtype=bool) if since_ns is None else (pos["ts"].to_numpy() >= since_ns)
    if not keep.any():
        raise UserError("--train-since: no training interactions at or after it (before the cut-off); choose an earlier time")
    return Examples(user_rows[keep], cat[keep], hist[keep], q[keep], imps[keep])


def query_table(queries: Iterable[str]) -> dict[str, int]:
    """Distinct non-empty query texts → rows 1.. (row 0 = no query)."""
    return {q: i + 1 for i, q in enumerate(sorted({q for q in queries if q}))}
