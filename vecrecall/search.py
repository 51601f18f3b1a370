"""The query stage: queries (texts or an embeddings artifact) against an index directory → a ranked run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .artifacts import Manifest, input_entry, load_embeddings, read_manifest, sha256_path
from .encoders import DEFAULT_MODEL, DEFAULT_MODEL_NAME, EncodeSettings, Encoder, VectorCache, encode_texts, load_encoder, model_spec_key
from .errors import UserError
from .indexes.store import IndexDir
from .io.runs import COLUMNS
from .io.texts import FieldSpec, load_texts, looks_like_texts
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
    record = input_entry(src.resolve(), digest=sha256_path(src))
    qids = table["id"].astype(str).tolist()
    if index.index.input_kind == "text":
        return qids, table["text"].tolist(), record
    encoder, settings = query_encoder(index, model)
    cache = VectorCache(encoder, "raw") if use_cache else None
    vecs = encode_texts(encoder, table["text"].tolist(), settings, "queries", cache)
    return qids, index.prepare(vecs), record


def _aggregate(index: IndexDir, scores: np.ndarray, positions: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """Per query: (docid, score) pairs, best chunk per document, at most k."""
    out = []
    for srow, prow in zip(scores, positions):
        seen: dict[str, float] = {}
        for s, p in zip(srow, prow):
            if p < 0:
                continue
            d = index.row_docids[p]
            if d not in seen:
                seen[d] = float(s)
                if len(seen) == k:
                    break
        out.append(list(seen.items()))
    return out


def search_index(index: IndexDir, data: Any, k: int, search_params: dict[str, Any], per_chunk: bool = False,
                 batch: int = 1024) -> tuple[list[list[tuple[str, float]]], float]:
    """Search in batches; chunked indexes return one line per document (max over its chunks) unless per_chunk."""
    n = len(index.ids)
    results: list[list[tuple[str, float]]] = []
    search_s = 0.0
    with progress("query", len(data), "queries") as advance:
        for start in range(0, len(data), batch):
            part = data[start : start + batch]
            if not index.chunked or per_chunk:
                t0 = time.perf_counter()
                scores, positions = index.search(part, k, **search_params)
                search_s += time.perf_counter() - t0
                ids = index.ids["id"].astype(str).to_numpy(dtype=object) if per_chunk else index.row_docids
                results.extend([(ids[p], float(s)) for s, p in zip(sr, pr) if p >= 0] for sr, pr in zip(scores, positions))
            else:
                fetch = min(n, 4 * k)
                while True:
                    t0 = time.perf_counter()
                    scores, positions = index.search(part, fetch, **search_params)
                    search_s += time.perf_counter() - t0
                    agg = _aggregate(index, scores, positions, k)
                    if fetch >= n or all(len(a) >= k for a in agg):
                        break
                    fetch = min(n, fetch * 2)
                results.extend(agg)
            advance(len(part))
    return results, search_s


def to_run(qids: list[str], results: list[list[tuple[str, float]]]) -> pd.DataFrame:
    rows = [(q, d, r, s) for q, hits in zip(qids, results) for r, (d, s) in enumerate(hits, 1)]
    return pd.DataFrame(rows, columns=COLUMNS)


def run_query(index_path: str | Path, queries: str | Path, k: int = 100, search_params: dict[str, Any] | None = None,
              model: str | None = None, fields: FieldSpec | None = None, per_chunk: bool = False,
              use_cache: bool = True) -> QueryResult:
    """Search every query of `queries` in the index at `index_path` and return the run."""
    if k < 1:
        raise UserError(f"-k {k}: must be at least 1")
    index = IndexDir.load(index_path)
    params = index.index.check_search_params(dict(search_params or {}))
    qids, data, record = load_queries(index, queries, model, fields, use_cache)
    results, search_s = search_index(index, data, k, params, per_chunk)
    manifest = Manifest(
        type="run",
        params={"k": k, "search": params, "per_chunk": per_chunk},
        inputs={"index": input_entry(Path(index_path).resolve(), index.manifest), "queries": record},
        stats={"queries": len(qids), "search_s": round(search_s, 4), "qps": round(len(qids) / search_s, 1) if search_s else None},
    )
    return QueryResult(to_run(qids, results), manifest, search_s, len(qids))
