"""Local cross-encoder and transformer directories: loading a sentence-transformers CrossEncoder (refusing anything
else with one line), scoring (query, document) pairs with it on a chosen backend, and finding the transformer
checkpoint inside a model directory.

Backends (`PairLogits`): `torch` runs sentence-transformers' CrossEncoder.predict; `onnx` and `openvino` run its
sequence-classification model exported once by vecrecall.exported (the same export path as `encode --backend`,
because sentence-transformers' own `backend=` needs Optimum, which cannot be installed beside sentence-transformers 6)
between the CrossEncoder's own pair preprocessing and the logits. `auto` picks `onnx` when ONNX Runtime and onnx are
installed (`pip install "vecrecall[fast]"`), else `torch`. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from .encoders import offline_hf
from .errors import UserError

BACKENDS = ("auto", "torch", "onnx", "openvino")
_BACKEND_MODULES = {"onnx": ("onnx", "onnxruntime"), "openvino": ("onnx", "openvino")}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        return False


def resolve_backend(backend: str, option: str = "--backend") -> str:
    """`auto` → `onnx` when ONNX Runtime and onnx are installed, else `torch`; the others are checked."""
    backend = backend.lower()
    if backend not in BACKENDS:
        raise UserError(f"{option} {backend}: choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "onnx" if all(map(_importable, _BACKEND_MODULES["onnx"])) else "torch"
    missing = [m for m in _BACKEND_MODULES.get(backend, ()) if not _importable(m)]
    if missing:
        raise UserError(f"{option} {backend}: needs the Python package(s) {', '.join(missing)}: "
                        f'pip install "vecrecall[fast]", or use {option} torch')
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


def load_cross_encoder(path: str | Path, max_length: int | None = None, device: str | None = None) -> Any:
    """A `sentence_transformers.CrossEncoder` (PyTorch) from a local directory (never downloads).

    Raises UserError for a missing directory, a bi-encoder, or a checkpoint that is not sequence classification.
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
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(str(p), max_length=max_length, device=device or "cpu")
    except Exception as exc:  # many library error types for a directory that is not a model
        raise UserError(f"--model {path}: cannot load as a CrossEncoder ({type(exc).__name__}: {exc})") from exc


class PairLogits:
    """Raw logits of (query, document) pairs from a local CrossEncoder: `scores(pairs, batch_size)` → float64
    array (len(pairs),), the last label's logit when the model has several (the "relevant" class).

    Pairs are scored longest first (batches of similar length pad little) and returned in input order. On `onnx` /
    `openvino` the CrossEncoder's own preprocessing (tokenizer, max_length truncation) feeds the exported graph, so
    the logits equal PyTorch's to float32 rounding (tests/test_rerank.py); `quantize` "int8" (or "int8:CONFIG")
    exports it int8 as `encode --quantize` does (faster; the logits move a little). `fingerprint` names model,
    max_length and backend (with the exported graph), for score caches; `fingerprint_v1` is the same over the older
    sampled model hash, for comparing with descriptions written before it (vecrecall.fingerprint.same_model). Raises UserError as `load_cross_encoder`,
    `resolve_backend` and `BackendSpec.parse` do, or when the export fails.
    """

    def __init__(self, path: str | Path, max_length: int | None = None, backend: str = "torch",
                 device: str | None = None, threads: int | None = None, quantize: str | None = None) -> None:
        from .fingerprint import model_fingerprints
        from .exported import BackendSpec

        self.backend = resolve_backend(backend)
        self.spec = BackendSpec.parse(self.backend, quantize)  # --quantize int8 needs onnx or openvino
        if self.backend != "torch" and device not in (None, "cpu"):
            raise UserError(f"--device {device}: the {self.backend} backend runs on the CPU; use --backend torch")
        self.model = load_cross_encoder(path, max_length=max_length, device=device)
        self.max_length = max_length
        base, base_v1 = model_fingerprints(Path(path))
        self._run = None
        self.fingerprint, self.fingerprint_v1 = f"{base}:{max_length}", f"{base_v1}:{max_length}"
        if self.backend != "torch":
            from .exported import cross_encoder_source, ensure_export, graph_fingerprint, make_runner, read_export

            export_dir = ensure_export(cross_encoder_source(self.model), Path(path), base, self.spec, packaged=False,
                                       base_fingerprint_v1=base_v1)
            record = read_export(export_dir)
            self._inputs = record["inputs"]
            self._run = make_runner(export_dir, record, threads, f32=True)  # rankings need float32 logits
            graph = graph_fingerprint(export_dir)
            self.fingerprint += f":{self.spec.label}:{graph}"
            self.fingerprint_v1 += f":{self.spec.label}:{record.get('graph_v1') or graph}"

    def scores(self, pairs: list[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        if self._run is None:
            import torch

            out = self.model.predict([list(p) for p in pairs], batch_size=batch_size, show_progress_bar=False,
                                     activation_fn=torch.nn.Identity(), convert_to_numpy=True)
            out = np.asarray(out, dtype=np.float64)
            return out[:, -1] if out.ndim == 2 else out.reshape(-1)
        order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
        out = np.empty(len(pairs), dtype=np.float64)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            features = self.model.preprocess([list(pairs[i]) for i in idx])
            logits = np.asarray(self._run({k: features[k].numpy() for k in self._inputs}), dtype=np.float64)
            out[idx] = logits[:, -1] if logits.ndim == 2 else logits.reshape(-1)
        return out
