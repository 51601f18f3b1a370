"""Negatives for training pairs: random (easy), in-batch, mined from a run/index of the current model, and
core-word deletion.

Every negative is a *negative pair* (q⁻, d⁻) that the model should score below the positive pair (q, d⁺):
a negative document gives (q, d⁻); core-word deletion gives (q′, d⁺), where q′ is q with its core term(s), the
highest-idf ones, removed (the query no longer asks for what makes d⁺ relevant).
"""

from __future__ import annotations

import math
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import UserError
from .data import Corpus, Pair

KINDS = ("in-batch", "random", "mined", "core-deletion")
_WORD = re.compile(r"\w+")


@dataclass
class Example:
    """A training row: the positive pair and, optionally, one negative pair (neg_query, neg_doc)."""

    kind: str
    query: str
    positive: str
    neg_query: str | None = None
    neg_doc: str | None = None
    pos_id: str | None = None
    label: float | None = None

    @property
    def doc_negative(self) -> bool:
        """True when the negative pair keeps the query and swaps the document."""
        return self.neg_doc is not None and self.neg_query == self.query


def parse_kinds(value: str) -> list[str]:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            raise UserError(f"--negatives {k}: unknown kind; choose from {', '.join(KINDS)} (comma-separated)")
    if not kinds:
        raise UserError("--negatives: give at least one kind, e.g. in-batch")
    return list(dict.fromkeys(kinds))


def parse_ratio(value: str, kinds: list[str]) -> dict[str, int]:
    """--negative-ratio: negatives per positive pair, one number for every kind or `kind:n,…`."""
    out = {k: 1 for k in kinds}
    try:
        if ":" not in value:
            n = int(value)
            out = {k: n for k in kinds}
        else:
            for part in value.split(","):
                k, n = part.split(":")
                if k.strip() not in kinds:
                    raise UserError(f"--negative-ratio {value}: '{k.strip()}' is not one of --negatives {','.join(kinds)}")
                out[k.strip()] = int(n)
    except ValueError:
        raise UserError(f"--negative-ratio {value}: give a whole number, or kind:n pairs like mined:2,random:1") from None
    if any(n < 1 for n in out.values()):
        raise UserError(f"--negative-ratio {value}: every count must be at least 1")
    return out


def parse_range(value: str) -> tuple[int, int]:
    """--mine-range LO:HI → candidates ranked LO..HI (1-based, inclusive)."""
    try:
        lo, hi = (int(x) for x in value.split(":"))
    except ValueError:
        raise UserError(f"--mine-range {value}: give LO:HI ranks, e.g. 10:100") from None
    if not 1 <= lo <= hi:
        raise UserError(f"--mine-range {value}: need 1 ≤ LO ≤ HI")
    return lo, hi


# ---------------------------------------------------------------------------------------------------------------
# core-word deletion
# ---------------------------------------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def idf_table(texts: Iterable[str]) -> tuple[dict[str, float], float]:
    """Smoothed idf ln((N+1)/(df+1)) + 1 of every term, and the idf of an unseen term."""
    df: Counter[str] = Counter()
    n = 0
    for t in texts:
        df.update(set(tokens(t)))
        n += 1
    return {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}, math.log(n + 1) + 1


def core_terms(query: str, idf: dict[str, float], unseen: float, n_terms: int = 1) -> list[str]:
    """The query's `n_terms` highest-idf distinct terms (ties: first occurrence wins)."""
    seen = list(dict.fromkeys(tokens(query)))
    ranked = sorted(range(len(seen)), key=lambda i: (-idf.get(seen[i], unseen), i))
    return [seen[i] for i in ranked[:n_terms]]


def core_delete(query: str, idf: dict[str, float], unseen: float, n_terms: int = 1) -> str | None:
    """q′: the query with every occurrence of its core term(s) removed, or None if nothing would be left."""
    terms = set(core_terms(query, idf, unseen, n_terms))
    kept = [m.group(0) for m in _WORD.finditer(query) if m.group(0).lower() not in terms]
    return " ".join(kept) if kept else None


# ---------------------------------------------------------------------------------------------------------------
# document negatives
# ---------------------------------------------------------------------------------------------------------------


def _known_positives(pair: Pair, positives: dict[str, set[str]]) -> set[str]:
    known = set(positives.get(pair.qid, set())) if pair.qid is not None else set()
    if pair.pos_id is not None:
        known.add(pair.pos_id)
    return known


def random_negatives(pairs: list[Pair], corpus: Corpus | None, positives: dict[str, set[str]], n: int,
                     rng: np.random.Generator) -> list[Example]:
    """`n` uniformly drawn documents per pair that are not known positives of its query (easy negatives)."""
    if corpus is not None:
        pool_ids, pool_texts = corpus.ids, corpus.texts
    else:  # no corpus: other pairs' positives are the pool
        pool_texts = list(dict.fromkeys(p.positive for p in pairs))
        pool_ids = [None] * len(pool_texts)
    out = []
    for p in pairs:
        known = _known_positives(p, positives)
        got = 0
        for _ in range(20 * n):
            j = int(rng.integers(len(pool_texts)))
            if pool_texts[j] == p.positive or (pool_ids[j] is not None and pool_ids[j] in known):
                continue
            out.append(Example("random", p.query, p.positive, p.query, pool_texts[j], p.pos_id))
            got += 1
            if got == n:
                break
    return out


def in_batch_negatives(pairs: list[Pair], n: int, rng: np.random.Generator) -> list[Example]:
    """For losses that need an explicit negative: positives of other queries, as in-batch softmax would see them."""
    out = []
    if len({p.query for p in pairs}) < 2:
        return out
    for p in pairs:
        got = 0
        for _ in range(20 * n):
            o = pairs[int(rng.integers(len(pairs)))]
            if o.query == p.query or o.positive == p.positive:
                continue
            out.append(Example("in-batch", p.query, p.positive, p.query, o.positive, p.pos_id))
            got += 1
            if got == n:
                break
    return out


Candidates = dict[str, list[tuple[str, float]]]  # qid → [(docid, score)] best first


def candidates_from_run(run: Any) -> Candidates:
    """Ranked candidates per query from a run DataFrame (qid, docid, rank, score)."""
    from ..io.runs import rank_run

    ranked = rank_run(run[["qid", "docid", "score"]].copy())
    return {q: list(zip(g["docid"], g["score"])) for q, g in ranked.groupby("qid", sort=False)}


def candidates_from_index(index: str | Path, queries: dict[str, str], depth: int) -> Candidates:
    """Search an index directory with the queries (qid → text) through the in-memory query core, the same code path
    as `vecrecall query`."""
    from ..indexes.store import IndexDir
    from ..search import search

    return candidates_from_run(search(IndexDir.load(index), queries, k=depth, use_cache=False).run)


def candidates_from_model(model: str, corpus_path: str | Path, queries: dict[str, str], depth: int,
                          fields: Any = None) -> Candidates:
    """Encode the corpus with `model`, build an exact faiss Flat index in a temporary directory, search it."""
    from ..embed import encode_source
    from ..indexes.store import build_index

    with tempfile.TemporaryDirectory(prefix="vecrecall-mine-") as tmp:
        encode_source(corpus_path, "corpus", Path(tmp) / "emb", model=model, spec=fields)
        build_index("faiss", Path(tmp) / "flat", embeddings=Path(tmp) / "emb")
        return candidates_from_index(Path(tmp) / "flat", queries, depth)


def mined_negatives(pairs: list[Pair], candidates: Candidates, corpus: Corpus, positives: dict[str, set[str]], n: int,
                    rank_range: tuple[int, int], margin: float | None, rng: np.random.Generator) -> tuple[list[Example], int]:
    """`n` negatives per pair drawn from its query's candidates ranked in `rank_range`, skipping known positives and,
    with `margin`, candidates scoring above (positive's score − margin) when the positive's score is in the run.
    Returns the examples and the number of pairs that had no candidate left."""
    lo, hi = rank_range
    out, starved = [], 0
    for p in pairs:
        cands = candidates.get(p.qid or "", [])
        known = _known_positives(p, positives)
        pos_score = next((s for d, s in cands if d == p.pos_id), None)
        pool = [d for d, s in cands[lo - 1 : hi]
                if d not in known and d in corpus and (margin is None or pos_score is None or s <= pos_score - margin)]
        if not pool:
            starved += 1
            continue
        for j in rng.choice(len(pool), size=min(n, len(pool)), replace=False):
            out.append(Example("mined", p.query, p.positive, p.query, corpus.by_id[pool[int(j)]], p.pos_id))
    return out, starved


def core_deletion_negatives(pairs: list[Pair], idf: dict[str, float], unseen: float, n_terms: int) -> tuple[list[Example], int]:
    """(q′, d⁺) negative pairs; returns the examples and how many one-term queries had to be skipped."""
    out, skipped = [], 0
    cache: dict[str, str | None] = {}
    for p in pairs:
        if p.query not in cache:
            cache[p.query] = core_delete(p.query, idf, unseen, n_terms)
        q2 = cache[p.query]
        if q2 is None:
            skipped += 1
            continue
        out.append(Example("core-deletion", p.query, p.positive, q2, p.positive, p.pos_id))
    return out, skipped


def given_negatives(pairs: list[Pair]) -> list[Example]:
    """Negatives listed in the training file itself."""
    return [Example("given", p.query, p.positive, p.query, neg, p.pos_id) for p in pairs for neg in p.negatives]
