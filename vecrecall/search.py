"""The query stage: queries (texts, an embeddings artifact, or in-memory texts/vectors) against an index → a ranked run.

`search(index, queries, k, params)` is the one in-memory query core: `vecrecall query` (`run_query`), the finetuning
evaluation and negative mining call it. Search parameters are validated and set once (`Index.configure`), the values
the library really uses (ef raised to k, nprobe capped at nlist, k capped at the corpus) are recorded in the run
manifest beside the requested ones, and every clamp, short result list and backend remark is returned as a note.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .artifacts import Manifest, input_entry, load_embeddings, read_manifest
from .errors import UserError
from .indexes.store import IndexDir
from .io.texts import looks_like_texts
from .progress import progress

# pandas (≈0.4 s to import) and the encoders are imported where they are needed: a query with vector queries on a
# vector index needs neither (tests/test_scale.py checks it).
if TYPE_CHECKING:
    import pandas as pd

    from .encoders import EncodeSettings, Encoder
    from .io.texts import FieldSpec


@dataclass
class QueryResult:
    """A run (the ranked `hits` of each of `qids`) with its manifest; `k_used` is what each query could return at
    most (k capped at the corpus size), `short` the number of queries that returned fewer, `notes` what the user
    should be told (once each). `run` is the same as a DataFrame (`qid, docid, rank, score`), made on first use."""

    qids: list[str]
    hits: "Hits"
    manifest: Manifest
    search_s: float
    n_queries: int
    k: int = 0
    k_used: int = 0
    short: int = 0
    notes: list[str] | None = None
    _run: Any = field(default=None, repr=False)

    @property
    def run(self) -> "pd.DataFrame":
        if self._run is None:
            self._run = to_run(self.qids, self.hits)
        return self._run

    @property
    def qps(self) -> float:
        return self.n_queries / self.search_s if self.search_s > 0 else float("inf")


def recorded_model(emb_manifest: Manifest) -> str:
    """The `--model` value that reproduces the encoder recorded in an embeddings manifest."""
    from .encoders import DEFAULT_MODEL, DEFAULT_MODEL_NAME

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


def query_encoder(index: IndexDir, model: str | None) -> "tuple[Encoder, EncodeSettings]":
    """The encoder and settings the index's embeddings were made with; a different --model is refused."""
    from .encoders import EncodeSettings, load_encoder
    from .fingerprint import same_model
    from .io.vectors.external import require_query_vectors

    emb = index.embeddings_manifest
    if emb is None:
        raise UserError(f"{index.path}: the index records no embeddings lineage, so query texts cannot be encoded; "
                        "pass query embeddings made by vecrecall encode")
    require_query_vectors(index.path, emb)  # imported vectors (model "external"): no encoder for query texts
    recorded = emb.params["model"]
    encoder = load_encoder(model if model else recorded_model(emb))
    if not same_model(encoder.describe(), recorded):
        if not model:
            raise UserError(f"{index.path}: its model '{recorded.get('name')}' has changed on disk since the index was "
                            f"built (fingerprint {encoder.fingerprint} now, {recorded.get('fingerprint')} recorded); "
                            "restore that model, or encode the corpus again and rebuild the index")
        raise UserError(f"--model {model}: differs from the index's model '{recorded.get('name')}' "
                        f"(fingerprint {encoder.fingerprint} ≠ {recorded.get('fingerprint')}); query with the index's model")
    p = emb.params
    return encoder, EncodeSettings(normalize=p.get("normalize", True), query_prefix=p.get("query_prefix", ""),
                                   doc_prefix=p.get("doc_prefix", ""), batch_size=p.get("batch_size", 32))


def check_query_embeddings(index: IndexDir, qm: Manifest, where: str) -> None:
    """Refuse query vectors made with another model, prefix or normalisation than the index's documents."""
    emb = index.embeddings_manifest
    if emb is None:
        return
    from .fingerprint import same_model

    mine, theirs = qm.params.get("model", {}), emb.params.get("model", {})
    if not same_model(mine, theirs):
        raise UserError(f"{where}: encoded with model '{mine.get('name')}' (fingerprint {mine.get('fingerprint')}) but "
                        f"the index uses '{theirs.get('name')}' (fingerprint {theirs.get('fingerprint')}); re-encode the "
                        "queries with the index's model")
    applied = qm.params.get("query_prefix" if qm.params.get("role") == "queries" else "doc_prefix", "")
    if applied != emb.params.get("query_prefix", ""):
        raise UserError(f"{where}: encoded with prefix {applied!r} but the index expects query prefix "
                        f"{emb.params.get('query_prefix', '')!r}; re-encode with --query-prefix")
    if bool(qm.params.get("normalize")) != bool(emb.params.get("normalize")):
        raise UserError(f"{where}: normalisation differs from the index's documents; re-encode the queries with "
                        f"{'--normalize' if emb.params.get('normalize') else '--no-normalize'}")


def load_queries(index: IndexDir, queries: Any, model: str | None, fields: FieldSpec | None,
                 use_cache: bool = True) -> tuple[list[str], Any, dict[str, Any]]:
    """(qids, query data ready for the index, input record) from a path (texts, an embeddings artifact, plain user
    vectors), a mapping qid → text, or a (qids, vectors) pair."""
    if isinstance(queries, Mapping):
        qids = [str(q) for q in queries]
        return qids, _query_data(index, [str(t) for t in queries.values()], model, use_cache), {"inline": {"texts": len(qids)}}
    if isinstance(queries, tuple) and len(queries) == 2:
        qids, vectors = queries
        if index.index.input_kind == "text":
            raise UserError(f"{index.path}: {index.manifest.params['backend']} indexes text; pass query texts, not vectors")
        return [str(q) for q in qids], index.prepare(vectors), {"inline": {"vectors": len(qids)}}
    src = Path(queries)
    if looks_like_texts(src):  # not an artifact: maybe a .npy + ids without a manifest (e.g. a recommender's users)
        from .io.interactions import plain_queries

        plain = plain_queries(index, src, model)
        if plain is not None:
            return plain
    else:
        qm = read_manifest(src, expect="embeddings")
        if index.index.input_kind == "text":
            raise UserError(f"{src}: {index.manifest.params['backend']} indexes text; pass query texts, not embeddings")
        if model:
            raise UserError("--model applies to query texts; these queries are already embeddings")
        emb = load_embeddings(src, check_finite=True)
        check_query_embeddings(index, qm, str(src))
        return emb.id_list(), index.prepare(emb.vectors), input_entry(src.resolve(), qm)
    from .io.texts import load_texts, source_entry

    table = load_texts(src, "queries", fields)
    qids = table["id"].astype(str).tolist()
    return qids, _query_data(index, table["text"].tolist(), model, use_cache), source_entry(src, "queries")


def _query_data(index: IndexDir, texts: list[str], model: str | None, use_cache: bool) -> Any:
    """Query texts as the index takes them: as they are for text backends, else encoded with the index's model."""
    if index.index.input_kind == "text":
        return texts
    from .encoders import VectorCache, encode_texts

    encoder, settings = query_encoder(index, model)
    cache = VectorCache(encoder, "raw") if use_cache else None
    return index.prepare(encode_texts(encoder, texts, settings, "queries", cache))


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


def search_index(index: IndexDir, data: Any, k: int, search_params: dict[str, Any] | None = None,
                 per_chunk: bool = False, batch: int = 4096, allowed: np.ndarray | None = None) -> tuple[Hits, float]:
    """Search in batches → (hits, seconds spent in the index). Search parameters are set once, before the clock.

    Chunked indexes give one result per document (max over its chunks) unless `per_chunk`. `allowed` (a row mask from a
    metadata filter) is applied inside the backend when it supports it, else by over-fetching and post-filtering until
    k results are found or the corpus is exhausted. Either way the result equals exact filtered search for exact indexes.
    """
    n = index.n_rows
    k = min(k, n)
    index.index.configure(search_params or {}, k)
    ids = index.ids["id"].astype(str).to_numpy(dtype=object) if per_chunk else index.row_docids
    by_document = index.chunked and not per_chunk
    prefilter = allowed is not None and index.index.supports_filter
    postfilter = allowed is not None and not prefilter
    extra = {"allowed": allowed} if prefilter else {}
    parts: list[Hits] = []
    search_s = 0.0
    search = index.index.search
    with progress("query", len(data), "queries") as advance:
        for start in range(0, len(data), batch):
            part = data[start : start + batch]
            fetch = min(n, 4 * k) if by_document or postfilter else k
            while True:
                t0 = time.perf_counter()
                scores, positions = search(part, fetch, **extra)
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


def to_run(qids: list[str], hits: Hits) -> "pd.DataFrame":
    """A ranked run from hit arrays (empty slots dropped)."""
    from .io.runs import results_to_run

    return results_to_run(qids, hits.docids, hits.scores, hits.valid)


def _short_note(qids: list[str], returned: np.ndarray, k_used: int) -> str | None:
    short = np.flatnonzero(returned < k_used)
    if not len(short):
        return None
    shown = ", ".join(f"{qids[i]} ({int(returned[i])})" for i in short[:5])
    more = f", … {len(short) - 5} more" if len(short) > 5 else ""
    return (f"{len(short):,} of {len(qids):,} queries returned fewer than {k_used} results: {shown}{more} "
            "(short lists are kept short, never padded; counted as short_queries in the run manifest)")


def search(index: IndexDir, queries: Any, k: int = 100, search_params: dict[str, Any] | None = None, *,
           model: str | None = None, fields: FieldSpec | None = None, per_chunk: bool = False,
           use_cache: bool = True, filter_expr: str | None = None) -> QueryResult:
    """Search every query against a loaded index and return the run, its manifest and notes.

    `queries`: a path (query texts in any loader format, an embeddings artifact, plain user vectors), a mapping
    qid → text, or a (qids, vectors) pair. Only rows whose metadata satisfy `filter_expr` (vecrecall.filters) are
    returned when it is given. Raises UserError for bad parameters, before any library call."""
    if k < 1:
        raise UserError(f"-k {k}: must be at least 1")
    params = index.index.check_search_params(dict(search_params or {}))
    allowed = None
    if filter_expr:
        from .filters import row_mask

        allowed = row_mask(filter_expr, index.ids, f"{Path(index.path) / 'ids.parquet'}")
    qids, data, record = load_queries(index, queries, model, fields, use_cache)
    by_document = index.chunked and not per_chunk
    rows = np.arange(index.n_rows) if allowed is None else np.flatnonzero(allowed)
    n_results = len(set(index.row_docids[rows])) if by_document else len(rows)
    k_used = min(k, n_results)
    hits, search_s = search_index(index, data, k, params, per_chunk, allowed=allowed)
    settings = index.index.settings
    notes: list[str] = []
    if k_used < k:
        what = "documents" if by_document else "rows"
        where = f"rows passing --filter in {index.path}" if allowed is not None else f"{what} of {index.path}"
        notes.append(f"-k {k} is more than the {n_results:,} {where}; each query returns at most {k_used}")
    notes += settings.notes if settings else []
    notes += index.index.take_notes()
    returned = hits.valid.sum(axis=1) if len(qids) else np.zeros(0, dtype=int)
    short = _short_note(qids, returned, k_used)
    if short:
        notes.append(short)
    manifest = Manifest(
        type="run",
        params={"k": k, "k_used": k_used, "search": settings.requested if settings else params,
                "search_used": settings.used if settings else params, "per_chunk": per_chunk,
                **({"filter": filter_expr, "filter_rows": int(allowed.sum())} if allowed is not None else {})},
        inputs={"index": input_entry(Path(index.path).resolve(), index.manifest), "queries": record},
        stats={"queries": len(qids), "short_queries": int((returned < k_used).sum()),
               "empty_queries": int((returned == 0).sum()), "search_s": round(search_s, 4),
               "qps": round(len(qids) / search_s, 1) if search_s else None},
    )
    return QueryResult(qids, hits, manifest, search_s, len(qids), k, k_used,
                       int((returned < k_used).sum()), notes)


def run_query(index_path: str | Path, queries: Any, k: int = 100, search_params: dict[str, Any] | None = None,
              model: str | None = None, fields: FieldSpec | None = None, per_chunk: bool = False,
              use_cache: bool = True, filter_expr: str | None = None) -> QueryResult:
    """`search` on the index directory at `index_path` (checked before the index is loaded: -k)."""
    if k < 1:
        raise UserError(f"-k {k}: must be at least 1")
    return search(IndexDir.load(index_path), queries, k, search_params, model=model, fields=fields,
                  per_chunk=per_chunk, use_cache=use_cache, filter_expr=filter_expr)


# ---------------------------------------------------------------------------------------------------------------
# One ad-hoc query (vecrecall query --query TEXT): the top k with the documents' texts, for people to read
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class TextHit:
    """One result of `search_text`: rank (from 1), document id, score (higher is better), text (title + text as
    encoded; None when the corpus cannot be read)."""

    rank: int
    id: str
    score: float
    text: str | None


@dataclass
class TextResult:
    """The ranked hits of one query, the corpus their texts were read from (None: not recorded or not readable)
    and notes for the user."""

    query: str
    index: str
    backend: str
    hits: list[TextHit]
    corpus: str | None
    notes: list[str]


def corpus_source(index: IndexDir) -> tuple[Path | None, FieldSpec]:
    """The corpus an index was built from, by its lineage: the text source of a text index (bm25), or the source of
    the embeddings a vector index was built on; (None, …) when none is recorded (e.g. imported vectors)."""
    from .io.texts import FieldSpec  # at run time too: the module-level import is for type checking only

    manifest, key = index.manifest, "corpus"
    if "corpus" not in manifest.inputs:
        manifest, key = index.embeddings_manifest, "source"
    if manifest is None or key not in manifest.inputs or manifest.params.get("role", "corpus") != "corpus":
        return None, FieldSpec()
    path = manifest.inputs[key].get("path")
    fields = {k: v for k, v in (manifest.params.get("fields") or {}).items() if k in FieldSpec.__dataclass_fields__}
    return (Path(path) if path else None), FieldSpec(**fields)


def texts_for(source: str | Path, ids: list[str], fields: FieldSpec | None = None) -> dict[str, str]:
    """id → text of just these documents, reading `source` only until all are found. Raises UserError when the
    source cannot be read."""
    from .io.texts import iter_texts

    wanted, found = set(ids), {}
    for rec in iter_texts(source, "corpus", fields):
        if rec.id in wanted:
            found[rec.id] = rec.text
            if len(found) == len(wanted):
                break
    return found


def search_text(index_path: str | Path, query: str, k: int = 10, search_params: dict[str, Any] | None = None, *,
                model: str | None = None, use_cache: bool = True, filter_expr: str | None = None,
                with_texts: bool = True) -> TextResult:
    """Search one query text (encoded with the index's model for vector indexes, as it is for bm25) and return the
    top k with each document's text from the corpus recorded in the index's lineage. A corpus that is gone or
    unreadable leaves the texts out with a note. Raises UserError for an empty query and the errors of `search`."""
    if not query.strip():
        raise UserError("--query: empty; give the text to search for")
    index = IndexDir.load(index_path)
    res = search(index, {"query": query}, k, search_params, model=model, use_cache=use_cache, filter_expr=filter_expr)
    run = res.run
    ids = run["docid"].astype(str).tolist()
    notes = list(res.notes or [])
    texts: dict[str, str] = {}
    corpus = None
    if with_texts and ids:
        source, fields = corpus_source(index)
        if source is None:
            notes.append(f"{index.path}: no corpus recorded in the index's lineage, so no texts are shown")
        elif not source.exists():
            notes.append(f"{source}: the corpus recorded in the index's lineage is not there any more; no texts shown")
        else:
            try:
                texts = texts_for(source, ids, fields)
                corpus = str(source)
            except UserError as exc:
                notes.append(f"texts not shown: {exc}")
            missing = [i for i in ids if i not in texts]
            if corpus and missing:
                notes.append(f"{len(missing)} of the ids are not in {source} (changed since the index was built?): "
                             + ", ".join(missing[:5]))
    hits = [TextHit(int(r), d, float(s), texts.get(d)) for r, d, s in zip(run["rank"], ids, run["score"])]
    return TextResult(query, str(index_path), str(index.manifest.params.get("backend")), hits, corpus, notes)
