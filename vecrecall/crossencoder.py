"""Loading a sentence-transformers CrossEncoder from a local path, refusing anything else with one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .encoders import offline_hf
from .errors import UserError


def load_cross_encoder(path: str | Path, max_length: int | None = None, device: str | None = None) -> Any:
    """A `sentence_transformers.CrossEncoder` from a local directory (never downloads)."""
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"--model {path}: no such cross-encoder directory (vecrecall never downloads models)")
    if not (p / "config.json").exists():
        raise UserError(f"--model {path}: not a cross-encoder (no config.json); save one with CrossEncoder.save()")
    offline_hf()
    import json

    config = json.loads((p / "config.json").read_text())
    archs = config.get("architectures") or []
    if (p / "modules.json").exists() and not any("SequenceClassification" in a for a in archs):
        raise UserError(f"--model {path}: this is a bi-encoder (sentence-transformers embedding model), not a "
                        "cross-encoder; use --scorer biencoder or give a CrossEncoder directory")
    if archs and not any("SequenceClassification" in a for a in archs):
        raise UserError(f"--model {path}: architecture {archs[0]} is not a sequence-classification cross-encoder")
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(str(p), max_length=max_length, device=device or "cpu")
    except Exception as exc:  # many library error types for a directory that is not a model
        raise UserError(f"--model {path}: cannot load as a CrossEncoder ({type(exc).__name__}: {exc})") from exc
