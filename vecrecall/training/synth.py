"""Offline pseudo-queries from documents, for a cold start with no real queries (no model is downloaded or run).

Methods:
* `title`      — the document's title (needs a title field).
* `keyphrases` — 2–4 of the document's terms drawn with probability ∝ tf-idf (scikit-learn's TfidfVectorizer,
                 English stop words removed), in the order they appear in the document.
* `sentence`   — one sentence of the document, cut to a random window of at most `max_words` words.
Every random choice comes from a generator seeded with (seed, document position), so a document's queries do not
depend on which other documents are in the corpus file order after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from ..errors import UserError

if TYPE_CHECKING:
    from ..artifacts import Manifest
    from ..io.texts import FieldSpec

METHODS = ("keyphrases", "sentence", "title")
_SENT = re.compile(r"(?<=[.!?])\s+")


@dataclass
class SynthQuery:
    qid: str
    query: str
    positive_id: str
    positive: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"qid": self.qid, "query": self.query, "positive_id": self.positive_id, "positive": self.positive,
                "method": self.method}


def parse_methods(value: str) -> list[str]:
    methods = [m.strip() for m in value.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise UserError(f"--method {m}: unknown method; choose from {', '.join(METHODS)} (comma-separated)")
    if not methods:
        raise UserError("--method: give at least one of " + ", ".join(METHODS))
    return methods


class KeyphraseSampler:
    """tf-idf term weights of every document, fitted once on the whole corpus."""

    def __init__(self, texts: list[str], min_terms: int = 2, max_terms: int = 4) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vec = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b", sublinear_tf=True)
        try:
            self.matrix = self.vec.fit_transform(texts).tocsr()
        except ValueError:  # every document empty or stop words only
            self.matrix = None
        self.vocab = self.vec.get_feature_names_out() if self.matrix is not None else np.array([])
        self.min_terms, self.max_terms = min_terms, max_terms

    def sample(self, i: int, text: str, rng: np.random.Generator) -> str | None:
        if self.matrix is None:
            return None
        row = self.matrix[i]
        terms, weights = self.vocab[row.indices], row.data
        if len(terms) == 0:
            return None
        k = min(len(terms), int(rng.integers(self.min_terms, self.max_terms + 1)))
        chosen = set(terms[rng.choice(len(terms), size=k, replace=False, p=weights / weights.sum())])
        words = re.findall(r"\w+", text.lower())
        ordered = list(dict.fromkeys(w for w in words if w in chosen))
        return " ".join(ordered) or None


def sentence_query(text: str, rng: np.random.Generator, max_words: int) -> str | None:
    sentences = [s for s in _SENT.split(text.strip()) if s.strip()]
    if not sentences:
        return None
    words = sentences[int(rng.integers(len(sentences)))].split()
    if len(words) > max_words:
        start = int(rng.integers(len(words) - max_words + 1))
        words = words[start : start + max_words]
    out = " ".join(words).strip(" .,;:!?")
    return out or None


def synth_queries(ids: list[str], texts: list[str], titles: list[str] | None, methods: list[str], per_doc: int,
                  seed: int, max_words: int = 12) -> Iterator[SynthQuery]:
    """Up to `per_doc` distinct pseudo-queries per document, cycling through `methods`; document i starts the cycle
    at method i mod len(methods), so `--per-doc 1` still mixes the methods across the corpus."""
    if per_doc < 1:
        raise UserError(f"--per-doc {per_doc}: must be at least 1")
    if "title" in methods and titles is None:
        raise UserError("--method title: the corpus has no title field (or every title is empty); use keyphrases or "
                        "sentence")
    sampler = KeyphraseSampler(texts) if "keyphrases" in methods else None
    makers: dict[str, Callable[[int, np.random.Generator], str | None]] = {
        "keyphrases": lambda i, rng: sampler.sample(i, texts[i], rng) if sampler else None,
        "sentence": lambda i, rng: sentence_query(texts[i], rng, max_words),
        "title": lambda i, rng: (titles[i].strip() or None) if titles else None,
    }
    for i, (docid, text) in enumerate(zip(ids, texts)):
        rng = np.random.default_rng([seed, i])
        seen: set[str] = set()
        for attempt in range(per_doc * 4):
            method = methods[(i + attempt) % len(methods)]
            q = makers[method](i, rng)
            if q is None or q in seen or q.strip().lower() == text.strip().lower():
                continue
            seen.add(q)
            yield SynthQuery(f"synth-{docid}-{len(seen)}", q, docid, text, method)
            if len(seen) == per_doc:
                break


def load_titles(path: str | Path, fields: Any = None) -> list[str] | None:
    """Titles of every document in corpus order, or None when the corpus has no title field."""
    from ..io.texts import FieldSpec, iter_texts

    spec = FieldSpec(getattr(fields, "id_field", None), "title", "")
    try:  # records, not load_texts: its table lets a metadata column named 'text' shadow the chosen text field
        titles = [r.text for r in iter_texts(path, "corpus", spec)]
    except UserError:
        return None
    return titles if any(t.strip() for t in titles) else None


def write_synth_queries(corpus: str | Path, out: str | Path, fields: FieldSpec | None, methods: list[str],
                        per_doc: int = 1, max_words: int = 12, max_docs: int | None = None, seed: int = 0,
                        overwrite: bool = False) -> Manifest:
    """Pseudo-queries for the documents of `corpus` (all, or `max_docs` of them after a seeded shuffle, kept in
    corpus order) written to `out` as training-pairs JSONL (qid, query, positive_id, positive, method: what
    `finetune --train` reads), committed together with its manifest. Returns the Manifest (stats: queries,
    documents, documents_without_query, by_method). Raises UserError for a value out of range, an unreadable corpus, or when no query can be
    made."""
    import json
    from collections import Counter

    from ..artifacts import Manifest, atomic_file, check_out
    from ..io.texts import FieldSpec, source_entry
    from .data import load_corpus

    check_out(out, overwrite, inputs=(corpus,))
    for option, value in (("--per-doc", per_doc), ("--max-words", max_words), ("--max-docs", max_docs)):
        if value is not None and value < 1:
            raise UserError(f"{option} {value}: must be at least 1")
    spec = fields or FieldSpec(None, None, "")
    corp = load_corpus(corpus, spec)
    titles = load_titles(corpus, spec) if "title" in methods else None
    ids, texts = corp.ids, corp.texts
    if max_docs is not None:
        keep = sorted(np.random.default_rng(seed).permutation(len(ids))[:max_docs])
        ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
        titles = [titles[i] for i in keep] if titles else None
    by_method: Counter[str] = Counter()
    answered: set[str] = set()
    manifest = Manifest(
        type="training-pairs",
        params={"per_doc": per_doc, "methods": methods, "max_words": max_words, "max_docs": max_docs, "seed": seed},
        inputs={"corpus": source_entry(corpus, "corpus")},
    )
    with atomic_file(out, overwrite=overwrite, manifest=manifest) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for q in synth_queries(ids, texts, titles, methods, per_doc, seed, max_words):
            fh.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
            by_method[q.method] += 1
            answered.add(q.positive_id)
        fh.flush()
        n = sum(by_method.values())
        if n == 0:
            raise UserError(f"{corpus}: no pseudo-query could be made (documents empty or stop words only)")
        manifest.stats.update({"queries": n, "documents": len(ids), "documents_without_query": len(ids) - len(answered),
                               "by_method": dict(by_method)})
    return manifest
