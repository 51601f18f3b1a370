"""vecrecall build-index: embeddings (or a corpus, for text backends) → index directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def build_index(
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Embeddings artifact from `vecrecall encode` (vector backends)."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents, for text backends (bm25)."),
    backend: str = typer.Option("faiss", "--backend", help="faiss, hnswlib, annoy, bm25, milvus."),
    index_type: Optional[str] = typer.Option(None, "--index-type", help="faiss: Flat, IVF, IVFPQ, HNSW (default Flat). Milvus: FLAT, IVF_FLAT, IVF_SQ8, HNSW (+ IVF_PQ, DISKANN on a server)."),
    metric: str = typer.Option("cosine", "--metric", help="ip, l2 or cosine (cosine = ip on normalised vectors). Scores are always higher-is-better (l2: −squared distance)."),
    factory: Optional[str] = typer.Option(None, "--factory", help="faiss index_factory string, e.g. 'IVF256,SQ8' (overrides --index-type)."),
    nlist: Optional[int] = typer.Option(None, "--nlist", help="IVF lists (default ≈ √n)."),
    train_size: Optional[int] = typer.Option(None, "--train-size", help="Vectors sampled (with --seed) to train IVF/PQ (default min(n, 256·nlist))."),
    pq_m: Optional[int] = typer.Option(None, "--pq-m", help="PQ sub-quantizers; must divide the dimension (default: largest divisor ≤ dim/4)."),
    pq_bits: Optional[int] = typer.Option(None, "--pq-bits", help="Bits per PQ code (default 8)."),
    hnsw_m: Optional[int] = typer.Option(None, "--hnsw-m", help="HNSW links per node (faiss default 32, hnswlib 16)."),
    ef_construction: Optional[int] = typer.Option(None, "--ef-construction", help="HNSW build beam width (hnswlib default 200)."),
    n_trees: Optional[int] = typer.Option(None, "--n-trees", help="annoy trees (default 50)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Build threads. HNSW and annoy default to 1 so builds are deterministic."),
    stemmer: Optional[str] = typer.Option(None, "--stemmer", help="bm25: PyStemmer language (e.g. english) or 'none'."),
    stopwords: Optional[str] = typer.Option(None, "--stopwords", help="bm25: stopword list (e.g. en) or 'none'."),
    k1: Optional[float] = typer.Option(None, "--k1", help="bm25 k1."),
    b: Optional[float] = typer.Option(None, "--b", help="bm25 b."),
    delta: Optional[float] = typer.Option(None, "--delta", help="bm25l/bm25+ delta."),
    method: Optional[str] = typer.Option(None, "--method", help="bm25 variant: robertson, lucene, atire, bm25l, bm25+."),
    engine: Optional[str] = typer.Option(None, "--engine", help="bm25 engine: bm25s (default) or rank-bm25."),
    milvus_uri: Optional[str] = typer.Option(None, "--milvus-uri", help="Milvus: http://host:port of a server (default: a milvus-lite file in --out)."),
    collection: Optional[str] = typer.Option(None, "--collection", help="Milvus collection name (default: from --out's name). Server token: $MILVUS_TOKEN."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    out: Path = typer.Option(..., "--out", help="Output index directory."),
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Build an index with one backend and save it with its id map and manifest.

    Example: vecrecall build-index --embeddings runs/sample/emb --backend faiss --index-type IVF --nlist 32 --out runs/sample/ivf
    """
    from ..indexes.store import build_index as build
    from ..progress import out as stdout

    params = dict(index_type=index_type, factory=factory, nlist=nlist, train_size=train_size, pq_m=pq_m, pq_bits=pq_bits,
                  hnsw_m=hnsw_m, ef_construction=ef_construction, n_trees=n_trees, threads=threads, stemmer=stemmer,
                  stopwords=stopwords, k1=k1, b=b, delta=delta, method=method, engine=engine, milvus_uri=milvus_uri,
                  collection=collection)
    m = build(backend, out, embeddings=embeddings, corpus=corpus, metric=metric, params=params, seed=seed,
              overwrite=overwrite, fields=common.fields(id_field, text_field, title_field, no_header))
    if json_out:
        common.print_json(m.to_dict())
    else:
        shown = {k: v for k, v in m.params.items() if k not in ("backend", "seed")}
        stdout.print(f"[green]wrote[/] {out}: {backend} {shown}, {m.stats['n']:,} rows, "
                     f"built in {m.stats['build_s']:.2f}s, {m.stats['bytes'] / 1e6:.1f} MB")


def register(app: typer.Typer) -> None:
    app.command("build-index")(build_index)
