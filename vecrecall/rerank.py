"""Rerank the top of a run with a pair scorer: a sentence-transformers CrossEncoder, or a bi-encoder for comparison.

For each query the run's `depth` best documents (by score, ties by docid) are scored as (query text, document text)
pairs; the output is those documents ordered by the new score (ties broken by docid as trec_eval does), cut to k
(k ≤ depth). A cross-encoder's score is its raw logit (no sigmoid), so that per-query normalisation (`fuse --norm
minmax`, the interpolation with the first-stage run) and `finetune --teacher-transform sigmoid` see the model's own
scale. Scores are cached by vecrecall.cache (kind `rerank`, under $VECRECALL_CACHE_DIR, default ~/.cache/vecrecall),
keyed by the scorer's fingerprint and both texts, so an edited text is scored again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .cache import Cache
from .errors import UserError
from .io.runs import COLUMNS, rank_run


class PairScorer(ABC):
    """Scores (query, document) text pairs; higher is better. `fingerprint` keys the score cache; `fingerprint_v1`
    (when it differs) is what older versions recorded for the same scorer (vecrecall.fingerprint.same_model)."""

    fingerprint: str
    fingerprint_v1: str | None = None
    name: str

    @abstractmethod
    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]:
        from .fingerprint import fingerprint_fields

        return {"name": self.name, **fingerprint_fields(self.fingerprint, self.fingerprint_v1 or self.fingerprint)}


class CrossEncoderScorer(PairScorer):
    """A CrossEncoder from a local directory (vecrecall.crossencoder refuses anything else), on `backend`."""

    def __init__(self, path: str | Path, max_length: int | None = None, batch_size: int = 32, device: str | None = None,
                 backend: str = "torch", quantize: str | None = None) -> None:
        from .crossencoder import PairLogits

        if not path:
            raise UserError("--scorer crossencoder needs --model PATH (a local CrossEncoder directory)")
        self.logits = PairLogits(path, max_length=max_length, backend=backend, device=device, quantize=quantize)
        self.backend = self.logits.backend
        self.quantize = self.logits.spec.quantize and self.logits.spec.label
        self.name = str(path)
        self.batch_size = batch_size
        self.max_length = max_length
        # another backend's float rounding differs, so it gets its own cache entries; "logit" keeps apart the
        # sigmoid scores that older versions cached
        self.fingerprint = f"ce-logit:{self.logits.fingerprint}"
        self.fingerprint_v1 = f"ce-logit:{self.logits.fingerprint_v1}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backend": self.backend, "quantize": self.quantize, "max_length": self.max_length}

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Raw logits of `pairs`, shape (len(pairs),), longest pairs batched first, in input order."""
        return self.logits.scores(pairs, self.batch_size)


class BiEncoderScorer(PairScorer):
    """Cosine similarity of a bi-encoder's query and document vectors (vectors cached by vecrecall.encoders)."""

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        from .encoders import load_encoder

        self.encoder = load_encoder(model)
        self.name = self.encoder.name
        self.batch_size = batch_size
        self.fingerprint = f"bi:{self.encoder.fingerprint}"
        self.fingerprint_v1 = f"bi:{self.encoder.fingerprint_v1 or self.encoder.fingerprint}"

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        from .encoders import EncodeSettings, VectorCache, encode_texts

        settings = EncodeSettings(normalize=True, batch_size=self.batch_size)
        cache = VectorCache(self.encoder, "raw")
        try:
            q = encode_texts(self.encoder, [p[0] for p in pairs], settings, "queries", cache)
            d = encode_texts(self.encoder, [p[1] for p in pairs], settings, "corpus", cache)
        finally:
            cache.close()
        return np.einsum("ij,ij->i", q, d).astype(np.float64)


class ScoreCache:
    """(scorer fingerprint, query text, document text) → score, through the one vecrecall cache (kind `rerank`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.cache = Cache("rerank", "rerank-v2", root)

    def _keys(self, model: str, pairs: list[tuple[str, str]]) -> list[bytes]:
        return [self.cache.key(model, q, d) for q, d in pairs]

    def get(self, model: str, pairs: list[tuple[str, str]]) -> dict[int, float]:
        """Cached scores by position in `pairs`."""
        keys = self._keys(model, pairs)
        found = self.cache.get_arrays(keys, "float64")
        return {i: float(found[k][0]) for i, k in enumerate(keys) if k in found}

    def put(self, model: str, pairs: list[tuple[str, str]], scores: np.ndarray) -> None:
        self.cache.put_arrays(self._keys(model, pairs), np.asarray(scores, dtype=np.float64).reshape(-1, 1), "float64")

    def close(self) -> None:
        self.cache.close()


@dataclass
class RerankStats:
    pairs: int
    scored: int  # pairs the scorer actually ran on (the rest came from the cache)
    score_s: float

    @property
    def pairs_per_s(self) -> float:
        return self.scored / self.score_s if self.score_s > 0 else float("inf")


def top_depth(run: pd.DataFrame, depth: int) -> pd.DataFrame:
    """Each query's `depth` best documents (by score, ties by docid)."""
    r = rank_run(run[COLUMNS].copy())
    return r[r["rank"] <= depth].reset_index(drop=True)


def rerank(run: pd.DataFrame, queries: dict[str, str], docs: dict[str, str], scorer: PairScorer, depth: int = 100,
           k: int = 10, batch: int = 256, cache: ScoreCache | None = None,
           advance: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, RerankStats]:
    """The run's top `depth` per query re-scored by `scorer` and cut to `k`."""
    import time

    if depth < 1 or k < 1:
        raise UserError(f"--depth {depth} / -k {k}: both must be ≥ 1")
    if k > depth:
        raise UserError(f"-k {k} exceeds --depth {depth}: rerank returns only reranked documents; raise --depth or lower -k")
    top = top_depth(run, depth)
    missing_q = sorted(set(top["qid"]) - set(queries))
    if missing_q:
        raise UserError(f"--queries: {len(missing_q)} query id(s) of the run have no text (first: '{missing_q[0]}'); "
                        "pass the queries the run was made from")
    missing_d = sorted(set(top["docid"]) - set(docs))
    if missing_d:
        raise UserError(f"--corpus: {len(missing_d)} document id(s) of the run are not in the corpus (first: "
                        f"'{missing_d[0]}'); pass the corpus the run was made from")
    qids, docids = top["qid"].tolist(), top["docid"].tolist()
    pairs = [(queries[q], docs[d]) for q, d in zip(qids, docids)]
    scores = np.empty(len(pairs), dtype=np.float64)
    hits = cache.get(scorer.fingerprint, pairs) if cache else {}
    for i, s in hits.items():
        scores[i] = s
    if advance and hits:
        advance(len(hits))
    todo = [i for i in range(len(pairs)) if i not in hits]
    t0 = time.perf_counter()
    for start in range(0, len(todo), batch):
        idx = todo[start : start + batch]
        fresh = np.asarray(scorer.score([pairs[i] for i in idx]), dtype=np.float64).reshape(-1)
        if len(fresh) != len(idx):
            raise UserError(f"the scorer returned {len(fresh)} scores for {len(idx)} pairs")
        scores[idx] = fresh
        if cache:
            cache.put(scorer.fingerprint, [pairs[i] for i in idx], scores[idx])
        if advance:
            advance(len(idx))
    elapsed = time.perf_counter() - t0
    if not np.isfinite(scores).all():
        raise UserError("the scorer returned NaN or infinite scores; check the model")
    out = rank_run(pd.DataFrame({"qid": qids, "docid": docids, "score": scores}))
    out = out[out["rank"] <= k][COLUMNS].reset_index(drop=True)
    return out, RerankStats(len(pairs), len(todo), elapsed)


SCORERS: dict[str, Callable[..., PairScorer]] = {
    "crossencoder": lambda model, max_length, batch_size, backend, quantize: CrossEncoderScorer(
        model, max_length, batch_size, backend=backend, quantize=quantize),
    "biencoder": lambda model, max_length, batch_size, backend, quantize: BiEncoderScorer(model, batch_size),
}


def make_scorer(kind: str, model: str | None, max_length: int | None, batch_size: int,
                backend: str = "torch", quantize: str | None = None) -> PairScorer:
    """The pair scorer `kind` (crossencoder | biencoder); `backend` (torch | onnx | openvino | auto) and `quantize`
    (None | int8 | int8:CONFIG) apply to the cross-encoder. Raises UserError for an unknown kind or an out-of-range
    option."""
    if kind not in SCORERS:
        raise UserError(f"--scorer {kind}: choose one of {', '.join(SCORERS)}")
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be ≥ 1")
    if max_length is not None and max_length < 8:
        raise UserError(f"--max-length {max_length}: must be ≥ 8 tokens")
    if kind == "crossencoder":
        from .crossencoder import resolve_backend
        from .exported import BackendSpec

        BackendSpec.parse(resolve_backend(backend), quantize)
    elif quantize not in (None, "none"):
        raise UserError(f"--quantize {quantize}: applies to --scorer crossencoder only")
    elif backend.lower() not in ("auto", "torch"):
        raise UserError(f"--backend {backend}: applies to --scorer crossencoder only (the bi-encoder scorer encodes "
                        "with its model's own settings)")
    return SCORERS[kind](model, max_length, batch_size, backend, quantize)
