"""vecrecall build-index: embeddings (or a corpus, for text backends) → index directory.

Backend parameters are options generated from the backend registry (vecrecall.cli.params); `vecrecall backends
NAME` lists them with defaults and valid ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from . import common
from .params import assignments, merge, param_option, with_backend_options


def build_index(
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Embeddings artifact from `vecrecall encode` (vector backends)."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents, for text backends (bm25)."),
    backend: str = typer.Option("faiss", "--backend", help="faiss, hnswlib, annoy, bm25, milvus (vecrecall backends lists them)."),
    metric: Optional[str] = typer.Option(None, "--metric", help="ip, l2 or cosine (default cosine; cosine = ip on normalised vectors). Scores are always higher-is-better (l2: −squared distance). Vector backends only."),
    param: List[str] = param_option("build"),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    out: Path = typer.Option(..., "--out", help="Output index directory."),
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
    backend_params: Optional[dict[str, Any]] = None,
) -> None:
    """Build an index with one backend and save it with its id map and manifest.

    Backend parameters are checked against the backend's table (vecrecall backends NAME) before any data is read:
    an unknown parameter, a wrong type or a value out of range is one line naming it, its valid range and the backend.

    Example: vecrecall build-index --embeddings runs/sample/emb --backend hnswlib --out runs/sample/hnsw
    """
    from ..indexes.store import build_index as build
    from rich.markup import escape

    from ..progress import out as stdout

    params = merge(backend_params or {}, assignments(param))
    m = build(backend, out, embeddings=embeddings, corpus=corpus, metric=metric, params=params, seed=seed,
              overwrite=overwrite, fields=common.fields(id_field, text_field, title_field, no_header))
    if json_out:
        common.print_json(m.to_dict())
    else:
        shown = " ".join(f"{k}={v}" for k, v in m.params.items()
                         if k not in ("backend", "seed") and not isinstance(v, dict))  # nested: vecrecall info
        stdout.print(f"[green]wrote[/] {out}: {m.params['backend']} {escape(shown)}, {m.stats['n']:,} rows, "
                     f"built in {m.stats['build_s']:.2f}s, {m.stats['bytes'] / 1e6:.1f} MB", markup=True,
                     highlight=False)


def register(app: typer.Typer) -> None:
    app.command("build-index")(with_backend_options(build_index, "build"))
