"""Fast CPU inference for sentence-transformers models: the transformer exported once to ONNX or OpenVINO (optionally
int8), run by ONNX Runtime or OpenVINO, with the model's own tokenizer and pooling/normalisation modules around it.

Why not `SentenceTransformer(path, backend="onnx")`: sentence-transformers 6.2 delegates export to optimum-onnx and
optimum-intel, whose newest releases (optimum-onnx 0.1.0, optimum-intel 2.2.0) pin transformers < 4.58 / < 5.6 and
cannot be installed beside the transformers 5 that sentence-transformers 6 needs. This module does the same steps
with the libraries those packages wrap, and nothing else:

- onnx      `torch.onnx.export` of the Hugging Face model (inputs: the tokenizer's tensors, output: token states);
- int8 onnx ONNX Runtime dynamic quantisation (`quantize_dynamic`), configured per CPU like optimum's
            `AutoQuantizationConfig.{arm64,avx2,avx512,avx512_vnni}` (weights int8/uint8 per channel, symmetric;
            activations uint8 quantised at run time) — what `export_dynamic_quantized_onnx_model` does;
- openvino  OpenVINO's converter on that ONNX graph;
- int8 ov   NNCF post-training static quantisation (`nncf.quantize`, transformer preset with SmoothQuant) calibrated
            on `vecrecall.calibration.TEXTS` — what `export_static_quantized_openvino_model` does with its default
            GLUE/SST-2 sample, which would need a download.

Exports are written once, offline (HF_HUB_OFFLINE=1), into `<model>/.vecrecall-exports/<label>/` when the model
directory is writable (and is not the packaged default model), else `$VECRECALL_CACHE_DIR/exports/<fingerprint>/
<label>/`. Each holds `export.json`, which makes the directory itself a `--model` that reproduces the encoder: the
path recorded in an embeddings manifest, so `query` finds the same backend and quantisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .errors import UserError
from .fingerprint import EXPORTS_DIR

BACKENDS = ("torch", "onnx", "openvino")
INT8_CONFIGS = ("arm64", "avx2", "avx512", "avx512_vnni")
EXPORT_FILE = "export.json"
INSTALL_HINT = 'pip install "vecrecall[fast]"  (onnx, onnxruntime, openvino, nncf)'


def cpu_int8_config() -> str | None:
    """The int8 kernel family this CPU runs best: arm64, avx512_vnni, avx512, avx2, or None (none of them)."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    flags: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    for name in ("avx512_vnni", "avx512f", "avx2"):
        if name in flags:
            return name.replace("avx512f", "avx512")
    return None


@dataclass(frozen=True)
class BackendSpec:
    """Which runtime encodes, and how it is quantised: part of the encoder's fingerprint."""

    backend: str = "torch"
    quantize: str | None = None  # None or "int8"
    int8_config: str | None = None  # the CPU kernel family the int8 model was made for

    @property
    def label(self) -> str:
        if self.quantize is None:
            return self.backend
        return f"{self.backend}-int8" + (f"-{self.int8_config}" if self.backend == "onnx" else "")

    @classmethod
    def parse(cls, backend: str | None, quantize: str | None) -> "BackendSpec":
        """Validate `--backend` and `--quantize` (`none`, `int8`, or `int8:CONFIG`); int8 picks the CPU's config."""
        backend = (backend or "torch").lower()
        if backend not in BACKENDS:
            raise UserError(f"--backend {backend}: choose one of {', '.join(BACKENDS)}")
        q = (quantize or "none").lower()
        if q in ("none", ""):
            return cls(backend)
        kind, _, config = q.partition(":")
        if kind != "int8":
            raise UserError(f"--quantize {quantize}: use none, int8, or int8:CONFIG with CONFIG one of {', '.join(INT8_CONFIGS)}")
        if backend == "torch":
            raise UserError(f"--quantize {quantize} needs --backend onnx or --backend openvino (the torch backend runs float32)")
        if config and config not in INT8_CONFIGS:
            raise UserError(f"--quantize {quantize}: unknown int8 config '{config}'; choose one of {', '.join(INT8_CONFIGS)}")
        if config and backend == "openvino":
            raise UserError(f"--quantize {quantize}: a CPU config applies to --backend onnx; OpenVINO's int8 is "
                            "calibrated for the CPU it runs on: use --quantize int8")
        config = config or cpu_int8_config()
        if config is None:
            raise UserError(f"--quantize {quantize}: this CPU has none of avx2, avx512, avx512_vnni or arm64 integer "
                            "kernels; encode without --quantize, or name a config (int8:avx2)")
        return cls(backend, "int8", config)


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"this backend needs the Python package '{module.split('.')[0]}': {INSTALL_HINT}") from None


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 (and friends) for the duration, whatever the caller's environment says."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---------------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------------


def _hf_model(st_model: Any) -> Any:
    first = st_model[0]
    model = getattr(first, "auto_model", None)
    if model is None:
        raise UserError("--backend onnx/openvino: the model's first module is not a Hugging Face transformer "
                        f"({type(first).__name__}); use --backend torch")
    return model


@dataclass
class ExportSource:
    """What `ensure_export` exports: a Hugging Face module, the output its graph returns (`last_hidden_state` of a
    bi-encoder's transformer, `logits` of a cross-encoder) and `tokenize(texts)` → the module's numpy inputs for
    those texts (used to trace the graph and to calibrate int8 OpenVINO)."""

    module: Any
    output: str
    tokenize: Callable[[list[str]], dict[str, np.ndarray]]

    @property
    def output_name(self) -> str:
        return "token_states" if self.output == "last_hidden_state" else self.output


def bi_encoder_source(st_model: Any) -> ExportSource:
    """A SentenceTransformer's transformer (token states; its pooling and normalisation stay in PyTorch)."""

    def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
        return dict(st_model.tokenizer(texts, padding=True, truncation=True, max_length=st_model.max_seq_length,
                                       return_tensors="np"))

    return ExportSource(_hf_model(st_model), "last_hidden_state", tokenize)


def cross_encoder_source(ce_model: Any) -> ExportSource:
    """A sentence-transformers CrossEncoder's sequence-classification model (logits), fed by the CrossEncoder's own
    pair preprocessing; a text stands for the pair (its first 8 words, itself)."""

    def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
        features = ce_model.preprocess([[" ".join(t.split()[:8]), t] for t in texts])
        return {k: v.numpy() for k, v in features.items() if hasattr(v, "numpy")}

    return ExportSource(_hf_model(ce_model), "logits", tokenize)


def _input_names(source: ExportSource) -> list[str]:
    """The tokenizer outputs that the module's forward accepts, in a fixed order."""
    import inspect

    sample = source.tokenize(["a"])
    accepted = set(inspect.signature(source.module.forward).parameters)
    return [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample and k in accepted]


def _export_onnx(source: ExportSource, dest: Path, inputs: list[str]) -> None:
    import torch

    hf = source.module.eval()

    class Output(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return getattr(self.hf(**dict(zip(inputs, args))), source.output)

    enc = source.tokenize(["a short text", "a slightly longer text for the example"])
    axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, source.output_name]}
    if source.output != "last_hidden_state":
        axes[source.output_name] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Output(), tuple(torch.from_numpy(enc[k].astype(np.int64)) for k in inputs), str(dest),
                          input_names=inputs, output_names=[source.output_name], dynamic_axes=axes, opset_version=17,
                          dynamo=False)


def _quantize_onnx(src: Path, dest: Path, config: str) -> None:
    """ONNX Runtime dynamic int8, set up as optimum's AutoQuantizationConfig.<config>(is_static=False)."""
    _require("onnxruntime")
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = QuantType.QUInt8 if config == "avx2" else QuantType.QInt8
    with warnings.catch_warnings(), contextlib.redirect_stderr(open(os.devnull, "w")):
        warnings.simplefilter("ignore")
        quantize_dynamic(str(src), str(dest), weight_type=weights, per_channel=True, reduce_range=False,
                         extra_options={"WeightSymmetric": True, "ActivationSymmetric": False,
                                        "DefaultTensorType": onnx.TensorProto.FLOAT})


def _to_openvino(onnx_path: Path, dest: Path, int8: bool, source: ExportSource, inputs: list[str]) -> None:
    ov = _require("openvino")
    model = ov.convert_model(str(onnx_path))
    if int8:
        nncf = _require("nncf")
        from .calibration import TEXTS

        def feed(text: str) -> dict[str, np.ndarray]:
            enc = source.tokenize([text])
            return {k: enc[k].astype(np.int64) for k in inputs}

        import logging

        logging.getLogger("nncf").setLevel(logging.ERROR)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            model = nncf.quantize(model, nncf.Dataset(list(TEXTS), feed), subset_size=len(TEXTS),
                                  model_type=nncf.ModelType.TRANSFORMER, preset=nncf.QuantizationPreset.MIXED)
    ov.save_model(model, str(dest / "model.xml"), compress_to_fp16=False)


def export_location(model_path: Path, base_fingerprint: str, spec: BackendSpec, packaged: bool) -> Path:
    """Beside the model when its directory is writable (and not an installed package), else in the cache."""
    from .cache import cache_root

    if not packaged and os.access(model_path, os.W_OK):
        return model_path / EXPORTS_DIR / spec.label
    return cache_root() / "exports" / base_fingerprint / spec.label


def ensure_export(source: ExportSource, model_path: Path, base_fingerprint: str, spec: BackendSpec,
                  packaged: bool, base_fingerprint_v1: str | None = None) -> Path:
    """The export directory of `source` (the model at `model_path`) for `spec`, made now if it is not there yet
    (atomically: a concurrent process that finishes first wins and this one uses its export).

    An export made before fingerprint scheme 2 names the model by its sampled fingerprint (`base_fingerprint_v1`)
    and may hold stale weights, so it is made again; the new record keeps the old graph's fingerprint as `graph_v1`
    (exports are not always byte-identical), from which encoders derive the `fingerprint_v1` that artifacts of the
    old export recorded (vecrecall.fingerprint.same_model)."""
    from .progress import console

    dest = export_location(model_path, base_fingerprint, spec, packaged)
    stale = False
    if (dest / EXPORT_FILE).exists():
        if (read_export(dest) or {}).get("base_fingerprint") == base_fingerprint:
            return dest
        stale = True  # the model's weights changed since this export was made (or it was copied from another model)
    graph_v1 = _scheme1_graph(model_path, base_fingerprint_v1, spec, packaged, dest)
    _require("onnx")
    _require("onnxruntime" if spec.backend == "onnx" else "openvino")
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_temps(dest)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        from .cache import cache_root

        where = ("$VECRECALL_CACHE_DIR" if os.environ.get("VECRECALL_CACHE_DIR") else "the cache directory") + \
            f" {cache_root()}"
        raise UserError(f"cannot write the {spec.label} export to {dest.parent} ({exc.strerror}); exports of an "
                        f"installed or read-only model are kept under {where}: make it a writable directory (or "
                        "use --backend torch)") from exc
    why = ("again: this export predates whole-file model fingerprints" if graph_v1 and stale else
           "again: the model changed since the last export" if stale else "(once)")
    console.print(f"exporting the model to {spec.label} {why} → {dest}", highlight=False)
    try:
        inputs = _input_names(source)
        with _offline():
            fp32 = tmp / "model_fp32.onnx"
            _export_onnx(source, fp32, inputs)
            if spec.backend == "onnx":
                if spec.quantize:
                    _quantize_onnx(fp32, tmp / "model.onnx", spec.int8_config or "avx512_vnni")
                    fp32.unlink()
                else:
                    fp32.rename(tmp / "model.onnx")
            else:
                _to_openvino(fp32, tmp, spec.quantize is not None, source, inputs)
                fp32.unlink()
        from . import __version__

        record = {"format": "vecrecall-export-v1", "base_path": str(model_path), "base_fingerprint": base_fingerprint,
                  **asdict(spec), "inputs": inputs, "versions": _versions(), "vecrecall_version": __version__}
        if graph_v1:
            record["graph_v1"] = graph_v1
        if spec.backend == "openvino" and spec.quantize:
            from .calibration import DIGEST, TEXTS

            record["calibration"] = {"texts": len(TEXTS), "sha256": DIGEST}
        (tmp / EXPORT_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if stale:  # vecrecall's own export directory (it holds export.json): set aside, replaced, then deleted
            old = dest.parent / f".{dest.name}.old-{os.getpid()}"
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, dest)
            except OSError:  # another process finished the same export first
                if not (dest / EXPORT_FILE).exists():
                    raise
    except KeyboardInterrupt:
        raise
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"--backend {spec.backend}: exporting {model_path} failed ({type(exc).__name__}: {exc}); "
                        "use --backend torch for this model") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _scheme1_graph(model_path: Path, base_v1: str | None, spec: BackendSpec, packaged: bool, dest: Path) -> str | None:
    """The graph fingerprint of an export of this model made before fingerprint scheme 2 (its record names the model
    by the sampled fingerprint `base_v1`), beside the model or in the cache; None when there is none."""
    if base_v1 is None:
        return None
    for place in dict.fromkeys((dest, export_location(model_path, base_v1, spec, packaged))):
        try:
            if (place / EXPORT_FILE).exists() and (read_export(place) or {}).get("base_fingerprint") == base_v1:
                return graph_fingerprint(place)
        except UserError:
            continue
    return None


def _remove_dead_temps(dest: Path) -> None:
    """Delete the temporary directories of exports of `dest` whose process is gone (killed with SIGKILL: nothing
    ran to clean up)."""
    for tmp in dest.parent.glob(f".{dest.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(tmp, ignore_errors=True)
            except PermissionError:  # alive, another user's
                pass


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("torch", "onnx", "onnxruntime", "openvino", "nncf"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def read_export(path: Path) -> dict[str, Any] | None:
    """The export record of an export directory, or None when `path` is not one."""
    f = path / EXPORT_FILE
    if not f.exists():
        return None
    try:
        record = json.loads(f.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{f}: unreadable export record ({exc}); delete {path} and encode again to re-export") from None
    if record.get("format") != "vecrecall-export-v1":
        raise UserError(f"{f}: not a vecrecall export record; delete {path} and encode again to re-export")
    return record


def graph_fingerprint(path: Path) -> str:
    """A hash of the exported graph files (names, sizes, contents): two exports that compute differently differ."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.is_file() and f.name != EXPORT_FILE:
            h.update(f"{f.name}:{f.stat().st_size}".encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------------


def make_runner(export_dir: Path, record: dict[str, Any], threads: int | None,
                f32: bool = False) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """A function from tokenizer tensors (numpy) to the graph's output, float32: token states (batch × tokens ×
    hidden) of a bi-encoder export, logits (batch × labels) of a cross-encoder export. OpenVINO computes in
    bfloat16 on CPUs that have it unless `f32` (a cross-encoder's logits then moved by up to ≈ 0.4 in a test, enough to
    reorder a ranking)."""
    inputs = record["inputs"]
    if record["backend"] == "onnx":
        ort = _require("onnxruntime")
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        session = ort.InferenceSession(str(export_dir / "model.onnx"), so, providers=["CPUExecutionProvider"])
        return lambda enc: session.run(None, {k: enc[k].astype(np.int64, copy=False) for k in inputs})[0]
    ov = _require("openvino")
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
    if f32:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(export_dir / "model.xml"), "CPU", config)
    request = compiled.create_infer_request()
    return lambda enc: np.asarray(request.infer({k: enc[k].astype(np.int64, copy=False) for k in inputs})[0])
