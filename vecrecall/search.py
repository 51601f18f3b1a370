"""The query stage: queries (texts or an embeddings artifact) against an index directory → a ranked run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .artifacts import Manifest, input_entry, load_embeddings, read_manifest
from .encoders import DEFAULT_MODEL, DEFAULT_MODEL_NAME, EncodeSettings, Encoder, VectorCache, encode_texts, load_encoder
from .errors import UserError
from .indexes.store import IndexDir
from .io.interactions import plain_queries
from .io.texts import FieldSpec, load_texts, looks_like_texts, source_entry
from .progress import progress


@dataclass
class QueryResult:
    run: pd.DataFrame
    manifest: Manifest
    search_s: float
    n_queries: int

    @property
    def qps(self) -> float:
        return self.n_queries / self.search_s if self.search_s > 0 else float("inf")


def recorded_model(emb_manifest: Manifest) -> str:
    """The `--model` value that reproduces the encoder recorded in an embeddings manifest."""
    model = emb_manifest.params.get("model", {})
    name, path = model.get("name", ""), model.get("path")
    if name.startswith("hash:"):
        return name
    if path and Path(path).is_dir():
        return path
    if name == DEFAULT_MODEL_NAME:
        return DEFAULT_MODEL
    raise UserError(f"the index was encoded with model '{name}' at {path}, which is not there any more; "
                    "pass --model with that model's directory")


def query_encoder(index: IndexDir, model: str | None) -> tuple[Encoder, EncodeSettings]:
    """The encoder and settings the index's embeddings were made with; a different --model is refused."""
    emb = index.embeddings_manifest
    if emb is None:
        raise UserError(f"{index.path}: the index records no embeddings lineage, so query texts cannot be encoded; "
                        "pass query embeddings made by vecrecall encode")
    recorded = emb.params["model"]
    encoder = load_encoder(model if model else recorded_model(emb))
    if encoder.fingerprint != recorded.get("fingerprint"):
        raise UserError(f"--model {model or encoder.name}: differs from the index's model '{recorded.get('name')}' "
                        f"(fingerprint {encoder.fingerprint} ≠ {recorded.get('fingerprint')}); query with the index's model")
    p = emb.params
    return encoder, EncodeSettings(normalize=p.get("normalize", True), query_prefix=p.get("query_prefix", ""),
                                   doc_prefix=p.get("doc_prefix", ""), batch_size=p.get("batch_size", 32))


def check_query_embeddings(index: IndexDir, qm: Manifest, where: str) -> None:
    """Refuse query vectors made with another model, prefix or normalisation than the index's documents."""
    emb = index.embeddings_manifest
    if emb is None:
        return
    mine, theirs = qm.params.get("model", {}), emb.params.get("model", {})
    if mine.get("fingerprint") != theirs.get("fingerprint"):
        raise UserError(f"{where}: encoded with model '{mine.get('name')}' but the index uses '{theirs.get('name')}'; "
                        "re-encode the queries with the index's model")
    applied = qm.params.get("query_prefix" if qm.params.get("role") == "queries" else "doc_prefix", "")
    if applied != emb.params.get("query_prefix", ""):
        raise UserError(f"{where}: encoded with prefix {applied!r} but the index expects query prefix "
                        f"{emb.params.get('query_prefix', '')!r}; re-encode with --query-prefix")
    if bool(qm.params.get("normalize")) != bool(emb.params.get("normalize")):
        raise UserError(f"{where}: normalisation differs from the index's documents; re-encode the queries with "
                        f"{'--normalize' if emb.params.get('normalize') else '--no-normalize'}")


def load_queries(index: IndexDir, queries: str | Path, model: str | None, fields: FieldSpec | None,
                 use_cache: bool = True) -> tuple[list[str], Any, dict[str, Any]]:
    """(qids, query data ready for the index, input record) from texts or an embeddings artifact."""
    src = Path(queries)
    plain = plain_queries(index, src, model)  # a .npy + ids without a manifest (e.g. a recommender's user vectors)
    if plain is not None:
        return plain
    if not looks_like_texts(src):
        qm = read_manifest(src, expect="embeddings")
        if index.index.input_kind == "text":
            raise UserError(f"{src}: {index.manifest.params['backend']} indexes text; pass query texts, not embeddings")
        if model:
            raise UserError("--model applies to query texts; these queries are already embeddings")
        emb = load_embeddings(src, check_finite=True)
        check_query_embeddings(index, qm, str(src))
        return emb.ids["id"].astype(str).tolist(), index.prepare(emb.vectors), input_entry(src.resolve(), qm)
    table = load_texts(src, "queries", fields)
    record = source_entry(src, "queries")
    qids = table["id"].astype(str).tolist()
    if index.index.input_kind == "text":
        return qids, table["text"].tolist(), record
    encoder, settings = query_encoder(index, model)
    cache = VectorCache(encoder, "raw") if use_cache else None
    vecs = encode_texts(encoder, table["text"].tolist(), settings, "queries", cache)
    return qids, index.prepare(vecs), record


@dataclass
class Hits:
    """Top-k results as (n_queries, k) arrays: document ids (object), scores, and a mask of filled slots."""

    docids: np.ndarray
    scores: np.ndarray
    valid: np.ndarray


def best_per_document(row_docids: np.ndarray, scores: np.ndarray, positions: np.ndarray, k: int) -> Hits:
    """Per query, the best-scoring row of each document (rows arrive ranked), at most k documents.

    With one row per document this is just the id lookup; with chunks it keeps each document's best chunk."""
    docids = np.full((len(scores), k), None, dtype=object)
    best = np.full((len(scores), k), -np.inf, dtype=np.float32)
    for i, (srow, prow) in enumerate(zip(scores, positions)):
        seen: set[str] = set()
        for s, p in zip(srow, prow):
            if p < 0:
                continue
            d = row_docids[p]
            if d not in seen:
                docids[i, len(seen)], best[i, len(seen)] = d, s
                seen.add(d)
                if len(seen) == k:
                    break
    return Hits(docids, best, docids != None)  # noqa: E711 (elementwise)


def _compact(positions: np.ndarray, scores: np.ndarray, keep: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first k kept entries in their original (ranked) order; the rest marked empty (-1)."""
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    pos = np.take_along_axis(np.where(keep, positions, -1), order, 1)
    return np.take_along_axis(scores, order, 1), pos


def search_index(index: IndexDir, data: Any, k: int, search_params: dict[str, Any], per_chunk: bool = False,
                 batch: int = 4096, allowed: np.ndarray | None = None) -> tuple[Hits, float]:
    """Search in batches → (hits, seconds spent in the index).

    Chunked indexes give one result per document (max over its chunks) unless `per_chunk`. `allowed` (a row mask from a
    metadata filter) is applied inside the backend when it supports it, else by over-fetching and post-filtering until
    k results are found or the corpus is exhausted. Either way the result equals exact filtered search for exact indexes.
    """
    n = len(index.ids)
    k = min(k, n)
    ids = index.ids["id"].astype(str).to_numpy(dtype=object) if per_chunk else index.row_docids
    by_document = index.chunked and not per_chunk
    prefilter = allowed is not None and index.index.supports_filter
    postfilter = allowed is not None and not prefilter
    extra = {"allowed": allowed} if prefilter else {}
    parts: list[Hits] = []
    search_s = 0.0
    with progress("query", len(data), "queries") as advance:
        for start in range(0, len(data), batch):
            part = data[start : start + batch]
            fetch = min(n, 4 * k) if by_document or postfilter else k
            while True:
                t0 = time.perf_counter()
                scores, positions = index.search(part, fetch, **extra, **search_params)
                search_s += time.perf_counter() - t0
                if postfilter:
                    scores, positions = _compact(positions, scores, (positions >= 0) & allowed[np.maximum(positions, 0)], fetch)
                if by_document:
                    hits = best_per_document(index.row_docids, scores, positions, k)
                else:
                    scores, positions = scores[:, :k], positions[:, :k]
                    valid = positions >= 0
                    hits = Hits(ids[np.where(valid, positions, 0)], scores, valid)
                if fetch >= n or not (by_document or postfilter) or hits.valid.all():
                    break
                fetch = min(n, fetch * 2)
            parts.append(hits)
            advance(len(part))
    if not parts:
        empty = np.zeros((0, k))
        return Hits(empty.astype(object), empty.astype(np.float32), empty.astype(bool)), search_s
    return Hits(*(np.concatenate([getattr(h, f) for h in parts]) for f in ("docids", "scores", "valid"))), search_s


def to_run(qids: list[str], hits: Hits) -> pd.DataFrame:
    """A ranked run from hit arrays (empty slots dropped)."""
    from .io.runs import results_to_run

    return results_to_run(qids, hits.docids, hits.scores, hits.valid)


def run_query(index_path: str | Path, queries: str | Path, k: int = 100, search_params: dict[str, Any] | None = None,
              model: str | None = None, fields: FieldSpec | None = None, per_chunk: bool = False,
              use_cache: bool = True, filter_expr: str | None = None) -> QueryResult:
    """Search every query of `queries` in the index at `index_path` and return the run
    (only rows whose metadata satisfy `filter_expr`, see vecrecall.filters, when given)."""
    if k < 1:
        raise UserError(f"-k {k}: must be at least 1")
    index = IndexDir.load(index_path)
    params = index.index.check_search_params(dict(search_params or {}))
    allowed = None
    if filter_expr:
        from .filters import row_mask

        allowed = row_mask(filter_expr, index.ids, f"{Path(index_path) / 'ids.parquet'}")
    qids, data, record = load_queries(index, queries, model, fields, use_cache)
    hits, search_s = search_index(index, data, k, params, per_chunk, allowed=allowed)
    manifest = Manifest(
        type="run",
        params={"k": k, "search": params, "per_chunk": per_chunk,
                **({"filter": filter_expr, "filter_rows": int(allowed.sum())} if allowed is not None else {})},
        inputs={"index": input_entry(Path(index_path).resolve(), index.manifest), "queries": record},
        stats={"queries": len(qids), "search_s": round(search_s, 4), "qps": round(len(qids) / search_s, 1) if search_s else None},
    )
    return QueryResult(to_run(qids, hits), manifest, search_s, len(qids))
