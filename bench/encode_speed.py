"""Encoding speed of vecrecall's backends beside raw sentence-transformers (PyTorch), in one run, on one machine.

Side by side on the first --docs Vaswani documents (default 2,000), each measurement in its own process (so peak
RSS is that variant's own), the variants taking turns in every repetition (machine load hits all of them alike);
the table shows the median docs/s, the ratio to raw sentence-transformers measured in the same run, and peak RSS.

- raw ST        `SentenceTransformer(path).encode(texts, batch_size=B)` with torch.set_num_threads(T): the library
- vr torch      vecrecall's encoder on the same model, PyTorch backend (length-sorted batches)
- vr onnx       --backend onnx;            vr onnx int8      --backend onnx --quantize int8 (config from CPU flags)
- vr openvino   --backend openvino;        vr openvino int8  --backend openvino --quantize int8

Exports are made once, before timing. `--grid` adds docs/s per thread count and batch size (on --grid-docs documents);
`--ndcg` runs the CLI chain on full Vaswani for each backend (encode → build-index Flat → query → eval nDCG@10).

    python bench/encode_speed.py                  # speed table, 2 repetitions
    python bench/encode_speed.py --grid --ndcg    # everything in the report
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VASWANI = ROOT.parent / "shared" / "datasets" / "vaswani" / "beir"
VARIANTS = {  # label: (backend, quantize); None = raw sentence-transformers
    "raw ST (torch)": None,
    "vr torch": ("torch", "none"),
    "vr onnx": ("onnx", "none"),
    "vr onnx int8": ("onnx", "int8"),
    "vr openvino": ("openvino", "none"),
    "vr openvino int8": ("openvino", "int8"),
}


def texts(n: int) -> list[str]:
    out = []
    with open(VASWANI / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            out.append(f"{row.get('title', '')} {row['text']}".strip())
            if len(out) == n:
                break
    return out


def worker(label: str, n: int, threads: int, batch: int) -> None:
    """One measurement: load, encode n docs once untimed (warm-up of 64), then timed; print JSON."""
    os.environ["VECRECALL_QUIET"] = "1"
    docs = texts(n)
    spec = VARIANTS[label]
    if spec is None:
        import torch
        from sentence_transformers import SentenceTransformer

        from vecrecall.encoders import default_model_path, offline_hf

        offline_hf()
        torch.set_num_threads(threads)
        model = SentenceTransformer(str(default_model_path()), device="cpu")

        def run(batch_texts: list[str]) -> None:
            model.encode(batch_texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
    else:
        from vecrecall.encoders import EncodeSettings, encode_texts, load_encoder

        enc = load_encoder("default", backend=spec[0], quantize=spec[1], threads=threads)
        settings = EncodeSettings(batch_size=batch)

        def run(batch_texts: list[str]) -> None:
            encode_texts(enc, batch_texts, settings, "corpus", None)
    run(docs[:64])
    t0 = time.perf_counter()
    run(docs)
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"docs_per_s": n / seconds, "peak_rss_mb": rss_mb}))


def measure(label: str, n: int, threads: int, batch: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", label, "--docs", str(n), "--threads", str(threads), "--batch", str(batch)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if r.returncode != 0:
        raise SystemExit(f"{label} failed:\n{r.stderr[-3000:]}")
    result = json.loads(r.stdout.strip().splitlines()[-1])
    if os.environ.get("ENCODE_SPEED_LOG"):  # every measurement as it comes, for runs cut short
        with open(os.environ["ENCODE_SPEED_LOG"], "a") as f:
            f.write(json.dumps({"variant": label, "docs": n, "threads": threads, "batch": batch, **result,
                                "load": os.getloadavg()[0]}) + "\n")
    return result


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def speed(n: int, reps: int, threads: int, batch: int) -> None:
    labels = list(VARIANTS)
    for label in labels[1:]:  # exports happen here, once, outside the timed runs
        measure(label, 64, threads, batch)
    results: dict[str, list[dict]] = {k: [] for k in labels}
    for rep in range(reps):
        order = labels[rep % len(labels):] + labels[: rep % len(labels)]
        for label in order:
            results[label].append(measure(label, n, threads, batch))
    base = statistics.median(r["docs_per_s"] for r in results[labels[0]])
    print(f"\n{n:,} Vaswani docs, {threads} threads, batch {batch}, median of {reps} (load avg now {load()})")
    print(f"{'variant':<20}{'docs/s':>9}{'× raw ST':>10}{'runs (docs/s)':>24}{'peak RSS MB':>13}")
    for label in labels:
        rates = [r["docs_per_s"] for r in results[label]]
        med = statistics.median(rates)
        runs = " ".join(f"{x:.0f}" for x in rates)
        print(f"{label:<20}{med:>9.1f}{med / base:>10.2f}{runs:>24}{max(r['peak_rss_mb'] for r in results[label]):>13.0f}")


def grid(n: int, labels: list[str]) -> None:
    print(f"\ndocs/s per thread count and batch size ({n:,} docs, one run each; load avg now {load()})")
    settings = [(t, b) for t in (1, 2) for b in (16, 64)]
    print(f"{'variant':<20}" + "".join(f"{f't{t} b{b}':>10}" for t, b in settings))
    rows = {label: [] for label in labels}
    for t, b in settings:
        for label in labels:
            rows[label].append(measure(label, n, t, b)["docs_per_s"])
    for label in labels:
        print(f"{label:<20}" + "".join(f"{x:>10.1f}" for x in rows[label]))


def ndcg(work: Path, labels: list[str]) -> None:
    """The CLI chain per backend on full Vaswani; prints nDCG@10 and the difference to PyTorch's vectors
    (measured here when "vr torch" is among `labels`, else the README's reference 0.4335)."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VECRECALL_QUIET": "1"}

    def vr(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "vecrecall.cli.app", *args], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise SystemExit(f"vecrecall {' '.join(args)} failed: {r.stderr[-2000:]}")
        return r.stdout

    scores = {}
    for label in labels:
        backend, quantize = VARIANTS[label]
        d = work / label.replace(" ", "-")
        t0 = time.perf_counter()
        if not (d / "emb").exists():
            vr("encode", "--corpus", str(VASWANI), "--out", str(d / "emb"), "--backend", backend, "--quantize", quantize, "--no-cache")
        secs = time.perf_counter() - t0
        if not (d / "flat").exists():
            vr("build-index", "--embeddings", str(d / "emb"), "--backend", "faiss", "--index-type", "Flat", "--out", str(d / "flat"))
        if not (d / "flat.run").exists():
            vr("query", "--index", str(d / "flat"), "--queries", str(VASWANI), "-k", "1000", "--out", str(d / "flat.run"), "--no-cache")
        out = json.loads(vr("eval", "--qrels", str(VASWANI), str(d / "flat.run"), "-m", "nDCG@10", "--json"))
        scores[label] = (next(iter(out.values()))["nDCG@10"], secs)
    ref = scores["vr torch"][0] if "vr torch" in scores else 0.4335
    print(f"\nnDCG@10 on Vaswani (11,429 docs, 93 queries, faiss Flat), CLI chain; load avg now {load()}")
    print(f"{'variant':<20}{'nDCG@10':>10}{'Δ vs torch':>12}{'encode s':>10}")
    for label, (score, secs) in scores.items():
        print(f"{label:<20}{score:>10.4f}{score - ref:>+12.4f}{secs:>10.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--grid", action="store_true", help="docs/s per thread count (1, 2) and batch size (16, 64)")
    ap.add_argument("--grid-docs", type=int, default=500, help="documents per --grid measurement")
    ap.add_argument("--ndcg", action="store_true", help="nDCG@10 on full Vaswani per backend, through the CLI")
    ap.add_argument("--ndcg-variants", default="vr torch,vr onnx,vr onnx int8,vr openvino,vr openvino int8",
                    help="comma list of variants for --ndcg, in the order run")
    ap.add_argument("--no-speed", action="store_true", help="skip the main speed table")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-encode")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.docs, a.threads, a.batch)
    if not (VASWANI / "corpus.jsonl").exists():
        raise SystemExit(f"needs the Vaswani collection at {VASWANI}")
    print(f"load avg at start: {load()} ({os.cpu_count()} CPUs)")
    if not a.no_speed:
        speed(a.docs, a.reps, a.threads, a.batch)
    if a.grid:
        grid(a.grid_docs, ["raw ST (torch)", "vr onnx int8", "vr openvino int8"])
    if a.ndcg:
        ndcg(a.work, [v.strip() for v in a.ndcg_variants.split(",")])


if __name__ == "__main__":
    main()
