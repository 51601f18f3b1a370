"""Local cross-encoder and transformer directories: loading a sentence-transformers CrossEncoder (refusing anything
else with one line), choosing its inference backend, and finding the transformer checkpoint inside a model directory.

Backends: sentence-transformers' CrossEncoder runs on PyTorch (`torch`) or, when Optimum is installed, on ONNX Runtime
(`onnx`, `pip install "sentence-transformers[onnx]"`) or OpenVINO (`openvino`). `auto` picks `onnx` when Optimum's
ONNX Runtime integration imports, else `torch`. Nothing is downloaded; an ONNX export is made in memory on load.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from .encoders import offline_hf
from .errors import UserError

BACKENDS = ("auto", "torch", "onnx", "openvino")
_BACKEND_MODULE = {"onnx": "optimum.onnxruntime", "openvino": "optimum.intel"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        return False


def resolve_backend(backend: str, option: str = "--backend") -> str:
    """`auto` → `onnx` if Optimum's ONNX Runtime integration is installed, else `torch`; others are checked."""
    if backend not in BACKENDS:
        raise UserError(f"{option} {backend}: choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "onnx" if _importable(_BACKEND_MODULE["onnx"]) and _importable("onnxruntime") else "torch"
    if backend != "torch" and not _importable(_BACKEND_MODULE[backend]):
        extra = "onnx" if backend == "onnx" else "openvino"
        raise UserError(f"{option} {backend}: needs Optimum ({_BACKEND_MODULE[backend]} is not installed); "
                        f"pip install 'sentence-transformers[{extra}]', or use --backend torch")
    return backend


def transformer_dir(path: str | Path, option: str = "--model") -> Path:
    """The Hugging Face checkpoint directory inside `path`: itself (config.json + weights), or the directory of a
    sentence-transformers `Transformer` module. Anything else is refused with one line."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{option} {path}: no such model directory (vecrecall never downloads models)")
    if (path / "config.json").exists() and any((path / w).exists() for w in WEIGHT_FILES):
        return path
    modules = path / "modules.json"
    if modules.exists():
        try:
            entries = json.loads(modules.read_text())
        except ValueError:
            entries = []
        for m in entries if isinstance(entries, list) else []:
            if str(m.get("type", "")).endswith("Transformer"):
                sub = path / m.get("path", "")
                if (sub / "config.json").exists() and any((sub / w).exists() for w in WEIGHT_FILES):
                    return sub
    raise UserError(f"{option} {path}: not a transformer checkpoint (no config.json with model.safetensors or "
                    "pytorch_model.bin, nor a sentence-transformers Transformer module)")


def checkpoint_config(path: Path, option: str = "--model") -> dict[str, Any]:
    """config.json of a transformer checkpoint, refused unless it names a model type transformers knows."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{option} {path}: config.json is not readable JSON ({exc})") from None
    offline_hf()
    from transformers import CONFIG_MAPPING

    if not isinstance(config, dict) or config.get("model_type") not in CONFIG_MAPPING:
        raise UserError(f"{option} {path}: config.json has no model_type transformers knows "
                        f"({config.get('model_type') if isinstance(config, dict) else None!r}); not a transformer checkpoint")
    return config


def load_cross_encoder(path: str | Path, max_length: int | None = None, device: str | None = None,
                       backend: str = "torch") -> Any:
    """A `sentence_transformers.CrossEncoder` from a local directory (never downloads).

    Raises UserError for a missing directory, a bi-encoder, a checkpoint that is not sequence classification, or a
    backend that is not installed.
    """
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"--model {path}: no such cross-encoder directory (vecrecall never downloads models)")
    if not (p / "config.json").exists():
        raise UserError(f"--model {path}: not a cross-encoder (no config.json); save one with CrossEncoder.save()")
    offline_hf()
    config = json.loads((p / "config.json").read_text())
    archs = config.get("architectures") or []
    if (p / "modules.json").exists() and not any("SequenceClassification" in a for a in archs):
        raise UserError(f"--model {path}: this is a bi-encoder (sentence-transformers embedding model), not a "
                        "cross-encoder; use --scorer biencoder or give a CrossEncoder directory")
    if archs and not any("SequenceClassification" in a for a in archs):
        raise UserError(f"--model {path}: architecture {archs[0]} is not a sequence-classification cross-encoder")
    backend = resolve_backend(backend)
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(str(p), max_length=max_length, device=device or "cpu", backend=backend)
    except Exception as exc:  # many library error types for a directory that is not a model
        raise UserError(f"--model {path}: cannot load as a CrossEncoder ({type(exc).__name__}: {exc})") from exc

