"""Embeddings made outside vecrecall carry model "external": vecrecall has no encoder for them, so whoever queries
them must bring query vectors (an imported queries artifact, or plain `.npy` + ids), never texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...artifacts import Manifest
from ...errors import UserError

EXTERNAL = "external"


def external_model(emb_manifest: Manifest | None) -> dict[str, Any] | None:
    """The recorded model of an embeddings manifest when its vectors were imported, else None."""
    if emb_manifest is None:
        return None
    model = emb_manifest.params.get("model")
    return model if isinstance(model, dict) and model.get("name") == EXTERNAL else None


def require_query_vectors(where: str | Path, emb_manifest: Manifest | None) -> None:
    """Refuse to encode query texts for documents whose vectors were imported (called where texts would be encoded).

    Raises UserError naming the index (or embeddings) and how to make query vectors.
    """
    model = external_model(emb_manifest)
    if model is None:
        return
    source = model.get("source", "another tool")
    raise UserError(f"{where}: its vectors were imported from {source} (model 'external'), so vecrecall cannot encode "
                    "query texts for it; import the query vectors made by the same model (vecrecall import-vectors "
                    "QUERY_VECTORS --role queries --out DIR) and pass --queries DIR")


def metric_warning(emb_manifest: Manifest | None, metric: str) -> str | None:
    """A one-line warning when an index is built with another metric than the one recorded for imported vectors
    (an ann-benchmarks file's distance, or --metric-hint); None when they agree or none was recorded."""
    recorded = emb_manifest.params.get("metric") if emb_manifest is not None else None
    if not recorded or recorded == metric:
        return None
    origin = emb_manifest.params.get("metric_from") or "import-vectors"  # type: ignore[union-attr]
    return (f"--metric {metric}: the vectors were imported for {recorded} ({origin}); neighbours by {metric} will "
            f"differ from the source's (pass --metric {recorded} to match it)")
