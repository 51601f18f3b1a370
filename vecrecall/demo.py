"""The demo: encode → build-index (Flat and IVF) → query → eval on sample_data/, ending with a results table.

Most of a cold demo's time is the encoder: loading it and encoding 2,000 documents (index, query and eval together
take well under a second). So with the default model the demo encodes with ONNX Runtime int8 when the `fast` extra
is installed (about twice torch's speed on a 2-core CPU, exported once into the cache: vecrecall.exported), and with
torch otherwise; `backend="torch"` forces the float32 model. The time of each step is returned and printed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import Manifest, atomic_dir, check_out, input_entry, write_dir_manifest, write_json
from .embed import encode_source
from .encoders import load_encoder
from .indexes.store import build_index
from .io.qrels import read_qrels
from .io.runs import write_run
from .metrics import EvalReport, evaluate_runs
from .search import run_query

AUTO = "auto"


def find_sample_data() -> Path:
    """The shipped sample_data/ directory (the checkout's, or the installed package's)."""
    from .resources import sample_data

    return sample_data()


def encoder_runtime(model: str | None, backend: str | None, quantize: str | None) -> tuple[str | None, str | None]:
    """(backend, quantize) for the demo's encoder. `backend` 'auto' (or None): ONNX Runtime int8 for a neural model
    when onnx and onnxruntime are installed and the CPU has int8 kernels, else torch; the hash encoder has no
    runtime to choose (None, None). Anything else is passed through as encode's --backend/--quantize."""
    if backend not in (None, AUTO):
        return backend, quantize
    if (model or "").startswith("hash:"):
        return None, None
    from .exported import cpu_int8_config

    fast = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
    return ("onnx", "int8") if fast and cpu_int8_config() else (None, None)


@dataclass
class DemoResult:
    """The eval report, the encoder used (name and runtime), the wall-clock seconds each step took and the CPU
    seconds of the whole chain (all threads; beside the wall time it shows how much other processes slowed it)."""

    report: EvalReport
    encoder: str
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0
    threads: int | None = None  # encoder threads (None: the runtime's choice)


def machine_load() -> tuple[float, int]:
    """(1-minute load average, CPUs this process may use)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return os.getloadavg()[0], cpus


def busy_threads() -> int | None:
    """1 when other processes already keep every CPU busy, else None (the runtime decides)."""
    load, cpus = machine_load()
    return 1 if load >= cpus else None


def _relocate(tmp: Path, final: Path) -> None:
    """The chain ran in a hidden directory; make the lineage in every manifest name `final` instead."""
    old, new = str(tmp.resolve()), str(final.resolve())

    def fix(value: Any) -> Any:
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            return new + value[len(old):]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for mp in sorted(tmp.rglob("*manifest.json")):
        write_json(mp, fix(json.loads(mp.read_text(encoding="utf-8"))))


def run_demo(out: Path, data: Path | None = None, model: str | None = None, nlist: int = 32, nprobe: int = 8,
             k: int = 100, overwrite: bool = False, backend: str | None = AUTO, quantize: str | None = None,
             threads: int | None = None) -> DemoResult:
    """Run the whole chain into the directory `out` and return the eval report with the time of each step.

    `out` is written as one artifact (type `demo`): it appears only when the chain has finished, an existing `out`
    is refused unless `overwrite`, and `overwrite` replaces only an earlier vecrecall artifact holding no file it
    did not write (a directory of your own files is never touched). `backend`/`quantize`: see `encoder_runtime`;
    `threads`: the encoder's threads; None: 1 when the load average shows every CPU already busy (extra threads
    would only contend with the other jobs: on 2 shared cores at load ≈ 9 the demo took 78 s with 1 thread and 131 s
    with 2), else the runtime's own choice. The vectors do not depend on it.
    Raises UserError for those refusals and for bad options.
    """
    data = data or find_sample_data()
    check_out(out, overwrite, "dir")
    backend, quantize = encoder_runtime(model, backend, quantize)
    threads = threads if threads is not None else busy_threads()
    seconds: dict[str, float] = {}
    t, cpu = time.perf_counter(), time.process_time()

    def lap(step: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[step] = round(now - t, 3)
        t = now

    with atomic_dir(out, overwrite) as tmp:
        encoder = load_encoder(model, None, backend, quantize, threads)  # kept by load_encoder for the encodes
        lap("model")
        corpus = encode_source(data, "corpus", tmp / "emb", model, backend=backend, quantize=quantize, threads=threads)
        lap("encode corpus")
        encode_source(data, "queries", tmp / "qemb", model, backend=backend, quantize=quantize, threads=threads)
        lap("encode queries")
        build_index("faiss", tmp / "flat", embeddings=tmp / "emb", params={"index_type": "Flat"})
        build_index("faiss", tmp / "ivf", embeddings=tmp / "emb", params={"index_type": "IVF", "nlist": nlist})
        lap("index")
        runs = {}
        for name, params in (("flat", {}), ("ivf", {"nprobe": nprobe})):
            res = run_query(tmp / name, tmp / "qemb", k, params)
            write_run(res.run, tmp / f"{name}.run", res.manifest, tag=name)
            runs[f"{name}.run"] = res.run
        lap("query")
        report = evaluate_runs(read_qrels(data), runs, ["nDCG@10", "R@100", "MAP", "P@10"])
        lap("eval")
        runtime = encoder.describe().get("backend") if not encoder.name.startswith("hash:") else None
        label = f"{model or 'default'}" + (f" ({runtime}{' int8' if quantize else ''})" if runtime else "")
        _relocate(tmp, out)
        write_dir_manifest(tmp, Manifest(
            type="demo", params={"model": model or "default", "backend": backend or "torch", "quantize": quantize,
                                 "nlist": nlist, "nprobe": nprobe, "k": k},
            inputs={"data": input_entry(Path(data).resolve())},
            stats={"means": report.means, "docs": corpus.stats.get("records"), "seconds": seconds}))
    return DemoResult(report, label, seconds, round(time.process_time() - cpu, 3), threads)
