"""The vectors a sweep runs on: an embeddings artifact (or a saved index's), its queries, or synthetic data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import Manifest, input_entry, load_embeddings, read_manifest
from ..encoders import l2_normalize
from ..errors import UserError
from ..indexes.source import VectorRows
from ..io.texts import FieldSpec, load_texts, looks_like_texts, source_entry
from .groundtruth import cache_dir_for
from .synthetic import SyntheticSpec, make_clustered


@dataclass
class SweepData:
    """Corpus and query vectors prepared for the metric (normalised for cosine), with what they came from."""

    corpus: np.ndarray
    queries: np.ndarray
    qids: list[str]
    metric: str
    row_docids: np.ndarray | None  # document id per corpus row (None for synthetic data)
    inputs: dict[str, Any]
    gt_cache: Path | None
    embeddings_path: Path | None = None
    queries_path: Path | None = None
    describe: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.corpus.shape[0])

    @property
    def dim(self) -> int:
        return int(self.corpus.shape[1])


@dataclass
class _Lineage:
    """Enough of an IndexDir for `search.query_encoder` / `check_query_embeddings`: the documents' embeddings manifest."""

    path: Path
    embeddings_manifest: Manifest


def _prepare(x: np.ndarray, metric: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return l2_normalize(x) if metric == "cosine" else x


def _row_docids(ids: Any) -> np.ndarray:
    col = "docid" if "docid" in ids.columns else "id"
    return ids[col].astype(str).to_numpy(dtype=object)


def _load_query_vectors(lineage: _Lineage, queries: Path, model: str | None, fields: FieldSpec | None,
                        use_cache: bool) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    from ..encoders import VectorCache, encode_texts
    from ..search import check_query_embeddings, query_encoder

    if not Path(queries).exists():
        raise UserError(f"--queries {queries}: no such file or directory")
    if not looks_like_texts(queries):
        qm = read_manifest(queries, expect="embeddings")
        if model:
            raise UserError("--model applies to query texts; these queries are already embeddings")
        emb = load_embeddings(queries, check_finite=True)
        check_query_embeddings(lineage, qm, str(queries))
        return emb.ids["id"].astype(str).tolist(), np.asarray(emb.vectors, dtype=np.float32), input_entry(Path(queries).resolve(), qm)
    table = load_texts(queries, "queries", fields)
    encoder, settings = query_encoder(lineage, model)
    cache = VectorCache(encoder, "raw") if use_cache else None
    vecs = encode_texts(encoder, table["text"].tolist(), settings, "queries", cache)
    return table["id"].astype(str).tolist(), vecs, source_entry(queries, "queries")


def from_embeddings(embeddings: Path, queries: Path | None, holdout: int, metric: str, seed: int,
                    model: str | None = None, fields: FieldSpec | None = None, use_cache: bool = True) -> SweepData:
    """Corpus from an embeddings artifact; queries from --queries (vectors or texts) or `holdout` corpus rows."""
    if not Path(embeddings).exists():
        raise UserError(f"--embeddings {embeddings}: no such file or directory")
    emb = load_embeddings(embeddings, check_finite=True)
    vectors = np.asarray(emb.vectors, dtype=np.float32)
    docids = _row_docids(emb.ids)
    inputs: dict[str, Any] = {"embeddings": input_entry(Path(embeddings).resolve(), emb.manifest)}
    if holdout:
        if queries is not None:
            raise UserError("--holdout takes its queries from the corpus; drop --queries (or --holdout)")
        if holdout >= len(vectors):
            raise UserError(f"--holdout {holdout}: must be smaller than the corpus ({len(vectors):,} vectors)")
        rows = np.sort(np.random.default_rng(seed).choice(len(vectors), holdout, replace=False))
        keep = np.setdiff1d(np.arange(len(vectors)), rows)
        qids = [f"holdout:{docids[r]}" for r in rows]
        qvecs, vectors, docids = vectors[rows], vectors[keep], docids[keep]
        inputs["queries"] = {"holdout": holdout, "seed": seed}
        qpath = None
    else:
        if queries is None:
            raise UserError("pass --queries (query embeddings or texts) or --holdout N (corpus vectors as queries)")
        qids, qvecs, inputs["queries"] = _load_query_vectors(_Lineage(Path(embeddings), emb.manifest), queries,
                                                             model, fields, use_cache)
        qpath = Path(queries)
    if qvecs.shape[1] != vectors.shape[1]:
        raise UserError(f"--queries {queries}: vectors have dimension {qvecs.shape[1]} but {embeddings} has "
                        f"{vectors.shape[1]}; encode the queries with the corpus's model")
    return SweepData(_prepare(vectors, metric), _prepare(qvecs, metric), qids, metric, docids, inputs,
                     cache_dir_for(embeddings), Path(embeddings), qpath,
                     {"source": str(embeddings), "queries": str(queries) if queries else f"{holdout} held-out rows"})


def from_index(index_dir: Any, queries: Path | None, model: str | None, fields: FieldSpec | None,
               use_cache: bool = True) -> SweepData:
    """Corpus vectors from a saved index's embeddings lineage (for the ground truth); queries as `vecrecall query`."""
    from ..search import load_queries

    if queries is None:
        raise UserError("--index needs --queries (query embeddings or texts)")
    if index_dir.index.input_kind != "vectors":
        raise UserError(f"--index {index_dir.path}: {index_dir.manifest.params['backend']} indexes text; recall "
                        "against exact neighbours needs a vector index")
    entry = index_dir.manifest.inputs.get("embeddings") or {}
    path = Path(entry.get("path", ""))
    if not entry or not (path / "embeddings.npy").exists():
        raise UserError(f"--index {index_dir.path}: its embeddings ({path or 'not recorded'}) are not there; the exact "
                        "ground truth needs them (rebuild the index from an embeddings artifact)")
    emb = load_embeddings(path)
    if len(emb.ids) != len(index_dir.ids):
        raise UserError(f"--index {index_dir.path}: has {len(index_dir.ids):,} rows but its embeddings {path} have "
                        f"{len(emb.ids):,}; rebuild the index")
    metric = index_dir.manifest.params["metric"]
    qids, qvecs, record = load_queries(index_dir, queries, model, fields, use_cache)
    inputs = {"index": input_entry(Path(index_dir.path).resolve(), index_dir.manifest), "queries": record}
    # Read with pread into one array, normalised block by block (the same bits as _prepare): preparing the memory
    # map instead would keep its touched pages resident beside the normalised copy (2 × the corpus).
    corpus = VectorRows(path / "embeddings.npy", normalize=metric == "cosine")[:]
    return SweepData(corpus, np.ascontiguousarray(qvecs, dtype=np.float32), qids,
                     metric, index_dir.row_docids, inputs, cache_dir_for(path), path, Path(queries),
                     {"source": str(index_dir.path), "queries": str(queries)})


def from_synthetic(spec: SyntheticSpec, metric: str) -> SweepData:
    corpus, queries = make_clustered(spec)
    qids = [f"q{i}" for i in range(len(queries))]
    inputs = {"synthetic": {"n": spec.n, "dim": spec.dim, "n_queries": spec.n_queries, "clusters": spec.n_clusters,
                            "spread": spec.spread, "seed": spec.seed}}
    return SweepData(_prepare(corpus, metric), _prepare(queries, metric), qids, metric, None, inputs, None, None, None,
                     {"source": f"synthetic {spec.n:,}×{spec.dim} ({spec.n_clusters} clusters)",
                      "queries": f"{spec.n_queries:,} held-out points"})
