"""Training pairs: JSONL rows, or pairs derived from qrels + queries + corpus with a seeded query split.

JSONL rows carry `query` and a positive, given as text (`positive`) or as a document id (`positive_id`, resolved in
`--corpus`), and optionally `negative`/`negatives` (text, or document ids when they are in `--corpus`), `score`
(a teacher label), `qid`, `frequency` and `bucket` (for `--query-mix`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from ..io.texts import iter_json_objects

QUERY_KEYS = ("query", "anchor", "question")
POSITIVE_TEXT_KEYS = ("positive", "pos", "document", "passage")
POSITIVE_ID_KEYS = ("positive_id", "pos_id", "docid", "doc_id")


@dataclass
class Pair:
    """One (query, relevant document) training pair and what came with it."""

    query: str
    positive: str
    qid: str | None = None
    pos_id: str | None = None
    negatives: list[str] = field(default_factory=list)
    score: float | None = None
    frequency: float | None = None
    bucket: str | None = None
    source: str = "train"


@dataclass
class Corpus:
    """Document texts by id, in file order."""

    ids: list[str]
    texts: list[str]

    def __post_init__(self) -> None:
        self.by_id = dict(zip(self.ids, self.texts))

    def __contains__(self, docid: object) -> bool:
        return docid in self.by_id

    def __len__(self) -> int:
        return len(self.ids)


def load_corpus(path: str | Path, fields: Any = None) -> Corpus:
    from ..io.texts import load_texts

    table = load_texts(path, "corpus", fields)
    return Corpus(table["id"].astype(str).tolist(), table["text"].astype(str).tolist())


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in row and row[k] is not None and str(row[k]).strip() != "":
            return k, row[k]
    return None, None


def _number(value: Any, where: str, name: str) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: '{name}' must be a number, got {value!r}") from None
    if not np.isfinite(out):
        raise UserError(f"{where}: '{name}' is {value!r}; use a finite number")
    return out


def _pair_from_row(row: dict[str, Any], corpus: Corpus | None, where: str) -> Pair:
    _, query = _first(row, QUERY_KEYS)
    if query is None:
        raise UserError(f"{where}: no query (looked for {', '.join(QUERY_KEYS)}); every row needs a query and a positive")
    id_key, pos_id = _first(row, POSITIVE_ID_KEYS)
    _, pos_text = _first(row, POSITIVE_TEXT_KEYS)
    if pos_id is not None:
        pos_id = str(pos_id)
        if corpus is None and pos_text is None:
            raise UserError(f"{where}: '{id_key}' {pos_id!r} is a document id; pass --corpus so it can be resolved, "
                            "or give the text as 'positive'")
        if corpus is not None:
            if pos_id not in corpus:
                raise UserError(f"{where}: positive document '{pos_id}' is not in the corpus; fix the id or the --corpus")
            pos_text = corpus.by_id[pos_id]
    elif pos_text is not None and corpus is not None and str(pos_text) in corpus:
        pos_id, pos_text = str(pos_text), corpus.by_id[str(pos_text)]
    if pos_text is None:
        raise UserError(f"{where}: no positive (looked for {', '.join(POSITIVE_TEXT_KEYS + POSITIVE_ID_KEYS)}); "
                        "every row needs a query and a positive")
    negs = row.get("negatives", row.get("negative"))
    negs = [] if negs is None else [negs] if isinstance(negs, str) else list(negs)
    negatives = [corpus.by_id[str(n)] if corpus is not None and str(n) in corpus else str(n) for n in negs if str(n).strip()]
    score = _number(row.get("score", row.get("label")), where, "score")
    freq = _number(row.get("frequency"), where, "frequency")
    if freq is not None and freq < 0:
        raise UserError(f"{where}: 'frequency' must be ≥ 0, got {freq}")
    bucket = row.get("bucket")
    qid = row.get("qid", row.get("query_id"))
    return Pair(str(query), str(pos_text), None if qid is None else str(qid), pos_id, negatives, score, freq,
                None if bucket is None else str(bucket), "train")


def load_jsonl_pairs(path: str | Path, corpus: Corpus | None = None) -> list[Pair]:
    """Read training pairs from JSONL, refusing bad rows by line number."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"--train {p}: no such file")
    pairs = []
    for lineno, row in iter_json_objects(p):
        pair = _pair_from_row(row, corpus, f"{p} line {lineno}")
        pair.source = str(row.get("method", "train")) if row.get("method") else "train"
        pairs.append(pair)
    if not pairs:
        raise UserError(f"--train {p}: no training rows; the file is empty")
    return pairs


# ---------------------------------------------------------------------------------------------------------------
# qrels-derived pairs and the query split
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class QuerySplit:
    """Judged queries split into train / dev / held-out, with the seed that drew it."""

    seed: int
    train: list[str]
    dev: list[str]
    heldout: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "counts": {"train": len(self.train), "dev": len(self.dev), "heldout": len(self.heldout)},
                "train": self.train, "dev": self.dev, "heldout": self.heldout}


def parse_split(value: str) -> float:
    """--split-queries: a fraction in (0, 1) or a whole number of training queries."""
    try:
        x = float(value)
    except ValueError:
        raise UserError(f"--split-queries {value}: give a fraction like 0.65 or a number of training queries like 60") from None
    if x <= 0 or (x >= 1 and not x.is_integer()):
        raise UserError(f"--split-queries {value}: give a fraction in (0, 1) or a whole number of training queries")
    return x


def split_queries(qids: list[str], split: float, dev: int, seed: int) -> QuerySplit:
    """Seeded split of the sorted judged query ids: `split` (fraction or count) for training, the rest held out;
    `dev` of the training queries are set aside for --eval-every."""
    ordered = sorted(set(qids))
    n_train = int(split) if split >= 1 else int(round(split * len(ordered)))
    if not 0 < n_train < len(ordered):
        raise UserError(f"--split-queries {split:g}: leaves {n_train} training and {len(ordered) - n_train} held-out queries "
                        f"of {len(ordered)}; both must be non-empty")
    if not 0 <= dev < n_train:
        raise UserError(f"--dev-queries {dev}: must be ≥ 0 and fewer than the {n_train} training queries")
    perm = np.random.default_rng(seed).permutation(len(ordered))
    chosen = [ordered[i] for i in perm]
    train, heldout = chosen[:n_train], chosen[n_train:]
    return QuerySplit(seed, sorted(train[dev:]), sorted(train[:dev]), sorted(heldout))


def pairs_from_qrels(qrels: pd.DataFrame, queries: dict[str, str], corpus: Corpus, qids: list[str], where: str) -> list[Pair]:
    """One pair per relevant (rel > 0) judgement of the given queries; unknown documents or queries are refused."""
    wanted = set(qids)
    pairs = []
    for qid, docid, rel in qrels[["qid", "docid", "rel"]].itertuples(index=False):
        if qid not in wanted or rel <= 0:
            continue
        if qid not in queries:
            raise UserError(f"{where}: query '{qid}' is judged but has no text in --queries; pass the matching queries file")
        if docid not in corpus:
            raise UserError(f"{where}: positive document '{docid}' (query '{qid}') is not in the corpus; "
                            "pass the matching --corpus")
        pairs.append(Pair(queries[qid], corpus.by_id[docid], qid, docid, source="qrels"))
    return pairs


def positives_by_qid(qrels: pd.DataFrame) -> dict[str, set[str]]:
    rel = qrels[qrels["rel"] > 0]
    return {q: set(g) for q, g in rel.groupby("qid")["docid"]}


def data_fingerprint(pairs: list[Pair]) -> str:
    """A hash of the training pairs actually used (query, positive, negatives, label)."""
    import hashlib

    h = hashlib.sha256()
    for p in pairs:
        h.update(json.dumps([p.query, p.positive, p.negatives, p.score], ensure_ascii=False).encode())
    return h.hexdigest()[:16]
