"""A million vectors on this machine: vecrecall beside the bare library, each side a whole process, same run.

Data: 1,000,000 × 384 clustered synthetic vectors plus 1,000 held-out queries (the recipe of
vecrecall/sweep/synthetic.py, drawn block by block so it never holds the matrix), written to --work (never the repo)
and imported as embeddings artifacts with `vecrecall import-vectors` (ids = row numbers). Metric cosine.

Steps, each run as `vecrecall …` and as bench/scale_bare.py doing the same work with faiss / hnswlib directly
(train on the same sample + add + write the same index; search + write the same TREC file; exact top-k + timed
searches + recall for the sweep); time = wall seconds of the process, peak RSS = its VmHWM (GNU time):

  build   faiss Flat, IVF (--nlist 4000), IVFPQ (--nlist 4000), HNSW (M 32, efConstruction 40, 1 thread) and
          hnswlib (M 16, ef_construction 100, 1 thread). The HNSW graphs are built over the first --hnsw-n rows
          (default 200,000): one-thread HNSW insertion of 1M × 384 takes hours on 2 shared cores.
  query   1,000 queries, -k 100, on the Flat and IVF (--nprobe 16) indexes; runs checked byte for byte.
  sweep   `vecrecall sweep --index IVF --nprobe 1,4,16 -k 10` (ground-truth cache cleared first) beside exact
          search + the same settings by hand.

    python bench/scale.py                          # everything (≈1–2 h on 2 loaded cores)
    python bench/scale.py --steps build --cases Flat,IVF
    python bench/scale.py --n 100000 --hnsw-n 50000 --nlist 400 --work /tmp/vr-scale   # a quick rehearsal
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import Measured, load_average, run_measured  # noqa: E402

BARE = [sys.executable, str(HERE / "scale_bare.py")]
TRAIN_PER_CENTROID = 64  # vecrecall's faiss rule: train_size = min(n, 64·max(nlist, 2^pq_bits))


def vecrecall() -> list[str]:
    exe = shutil.which("vecrecall")
    return [exe] if exe else [sys.executable, "-m", "vecrecall.cli.app"]


# ---------------------------------------------------------------------------------------------------- data


def write_clustered(path: Path, n: int, n_queries: int, dim: int, seed: int, block: int = 65536) -> None:
    """make_clustered(SyntheticSpec(n, dim, n_queries, seed=seed)) written row block by row block into one
    (n + n_queries, dim) float32 .npy (the same draws in the same order, so the same numbers)."""
    rng = np.random.default_rng(seed)
    c = max(8, int(round(np.sqrt(n) / 4)))
    centres = rng.standard_normal((c, dim), dtype=np.float32)
    weights = rng.dirichlet(np.full(c, 2.0))
    total = n + n_queries
    labels = rng.choice(c, size=total, p=weights)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(total, dim))
    for start in range(0, total, block):
        stop = min(total, start + block)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        out[start:stop] = centres[labels[start:stop]] + 0.35 * noise
    out.flush()
    del out


def prepare(work: Path, n: int, nq: int, dim: int, hnsw_n: int) -> dict[str, Path]:
    """Embeddings artifacts (corpus, its first hnsw_n rows, queries) and the plain files the bare side reads."""
    p = {"emb": work / "emb", "emb_hnsw": work / f"emb{hnsw_n}", "qemb": work / "qemb",
         "docids": work / "docids.txt", "docids_hnsw": work / f"docids{hnsw_n}.txt", "qids": work / "qids.txt",
         "qnpy": work / "queries.npy"}
    work.mkdir(parents=True, exist_ok=True)
    if all((p[k] / "manifest.json").exists() for k in ("emb", "emb_hnsw", "qemb")):
        return p
    raw = work / "raw.npy"
    print(f"writing {n:,} + {nq:,} × {dim} clustered vectors to {raw}", flush=True)
    write_clustered(raw, n, nq, dim, seed=0)
    allv = np.load(raw, mmap_mode="r")
    corpus, sub = work / "corpus.npy", work / f"corpus{hnsw_n}.npy"
    for path, rows in ((corpus, slice(0, n)), (sub, slice(0, hnsw_n)), (p["qnpy"], slice(n, n + nq))):
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows.stop - rows.start, dim))
        for start in range(rows.start, rows.stop, 65536):
            stop = min(rows.stop, start + 65536)
            out[start - rows.start : stop - rows.start] = allv[start:stop]
        out.flush()
        del out
    del allv
    raw.unlink()
    p["docids"].write_text("\n".join(map(str, range(n))), encoding="utf-8")
    p["docids_hnsw"].write_text("\n".join(map(str, range(hnsw_n))), encoding="utf-8")
    p["qids"].write_text("\n".join(f"q{i}" for i in range(nq)), encoding="utf-8")
    for src, ids, out, role in ((corpus, p["docids"], p["emb"], "corpus"), (sub, p["docids_hnsw"], p["emb_hnsw"], "corpus"),
                                (p["qnpy"], p["qids"], p["qemb"], "queries")):
        cmd = [*vecrecall(), "import-vectors", str(src), "--ids", str(ids), "--role", role, "--metric-hint", "cosine",
               "--out", str(out), "--overwrite"]
        subprocess.run(cmd, check=True, env={**os.environ, "VECRECALL_QUIET": "1"})
    corpus.unlink()
    sub.unlink()
    return p


# ---------------------------------------------------------------------------------------------------- steps


def build_cases(args: argparse.Namespace, p: dict[str, Path]) -> list[tuple[str, list[str], list[str]]]:
    """(label, vecrecall build-index options, bare command) per case."""
    nl, hn = args.nlist, args.hnsw_n
    train = min(args.n, TRAIN_PER_CENTROID * nl)
    npy, npy_h = str(p["emb"] / "embeddings.npy"), str(p["emb_hnsw"] / "embeddings.npy")
    b = args.work / "bare"
    cases = {
        "Flat": (["--backend", "faiss", "--index-type", "Flat"], [*BARE, "build-faiss", npy, "Flat", str(b / "Flat.faiss")]),
        "IVF": (["--backend", "faiss", "--index-type", "IVF", "--nlist", str(nl)],
                [*BARE, "build-faiss", npy, f"IVF{nl},Flat", str(b / "IVF.faiss"), "--train-size", str(train)]),
        "IVFPQ": (["--backend", "faiss", "--index-type", "IVFPQ", "--nlist", str(nl)],
                  [*BARE, "build-faiss", npy, f"IVF{nl},PQ96x8np", str(b / "IVFPQ.faiss"), "--train-size", str(train)]),
        "HNSW": (["--backend", "faiss", "--index-type", "HNSW", "--hnsw-m", "32", "--ef-construction", "40"],
                 [*BARE, "build-faiss", npy_h, "HNSW32,Flat", str(b / "HNSW.faiss"), "--threads", "1",
                  "--ef-construction", "40"]),
        "hnswlib": (["--backend", "hnswlib", "--hnsw-m", "16", "--ef-construction", "100", "--threads", "1"],
                    [*BARE, "build-hnswlib", npy_h, str(b / "hnswlib.bin"), "--m", "16", "--ef-construction", "100",
                     "--threads", "1"]),
    }
    out = []
    for label in args.cases:
        opts, bare = cases[label]
        emb = p["emb_hnsw"] if label in ("HNSW", "hnswlib") else p["emb"]
        ours = [*vecrecall(), "build-index", *opts, "--metric", "cosine", "--embeddings", str(emb),
                "--out", str(args.work / "idx" / label), "--overwrite"]
        out.append((f"build {label}" + (f" ({hn:,} rows)" if label in ("HNSW", "hnswlib") else ""), ours, bare))
    return out


def same_file(a: Path, b: Path) -> str:
    if not (a.exists() and b.exists()):
        return "-"
    return "yes" if filecmp.cmp(a, b, shallow=False) else "no"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/work/data/scale"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--hnsw-n", type=int, default=200_000)
    ap.add_argument("--nlist", type=int, default=4000)
    ap.add_argument("--steps", default="build,query,sweep")
    ap.add_argument("--cases", default="Flat,IVF,IVFPQ,HNSW,hnswlib")
    args = ap.parse_args()
    args.cases = args.cases.split(",")
    steps = args.steps.split(",")
    env = {**os.environ, "VECRECALL_QUIET": "1"}
    p = prepare(args.work, args.n, args.queries, args.dim, args.hnsw_n)
    (args.work / "bare").mkdir(exist_ok=True)
    (args.work / "idx").mkdir(exist_ok=True)
    rows: list[dict] = []

    def record(label: str, ours: Measured, bare: Measured, same: str) -> None:
        row = {"step": label, "vecrecall_s": round(ours.seconds, 2), "bare_s": round(bare.seconds, 2),
               "time_ratio": round(ours.seconds / bare.seconds, 3), "vecrecall_cpu_s": round(ours.cpu_s, 1),
               "bare_cpu_s": round(bare.cpu_s, 1), "cpu_ratio": round(ours.cpu_s / max(bare.cpu_s, 1e-9), 3), "vecrecall_rss_mb": round(ours.peak_rss_mb),
               "bare_rss_mb": round(bare.peak_rss_mb), "rss_ratio": round(ours.peak_rss_mb / bare.peak_rss_mb, 3),
               "same_output": same, "load": load_average()}
        rows.append(row)
        print(json.dumps(row), flush=True)

    if "build" in steps:
        for label, ours_cmd, bare_cmd in build_cases(args, p):
            ours = run_measured(ours_cmd, env).check(label)
            bare = run_measured(bare_cmd, env).check(f"bare {label}")
            name = label.split()[1]
            native = "index.hnsw" if name == "hnswlib" else "index.faiss"
            bare_file = args.work / "bare" / (f"{name}.bin" if name == "hnswlib" else f"{name}.faiss")
            record(label, ours, bare, same_file(args.work / "idx" / name / native, bare_file))
    if "query" in steps:
        for name, extra in (("Flat", []), ("IVF", ["--nprobe", "16"])):
            idx = args.work / "idx" / name
            ours_run, bare_run = args.work / f"{name}.vecrecall.trec", args.work / f"{name}.bare.trec"
            ours = run_measured([*vecrecall(), "query", "--index", str(idx), "--queries", str(p["qemb"]), "-k", "100",
                                 *extra, "--out", str(ours_run), "--overwrite"], env).check(f"query {name}")
            bare = run_measured([*BARE, "query-faiss", str(idx / "index.faiss"), str(p["qnpy"]), str(p["qids"]),
                                 str(p["docids"]), "100", str(bare_run), *extra], env).check(f"bare query {name}")
            record(f"query {name}" + (" nprobe 16" if extra else "") + f", {args.queries:,} q, k 100", ours, bare,
                   same_file(ours_run, bare_run))
    if "sweep" in steps:
        shutil.rmtree(p["emb"].with_name(p["emb"].name + ".groundtruth"), ignore_errors=True)
        ours = run_measured([*vecrecall(), "sweep", "--index", str(args.work / "idx" / "IVF"), "--queries",
                             str(p["qemb"]), "--nprobe", "1,4,16", "-k", "10", "--passes", "1",
                             "--out", str(args.work / "sweep"), "--overwrite", "--json"], env).check("sweep")
        bare = run_measured([*BARE, "sweep-faiss", str(p["emb"] / "embeddings.npy"),
                             str(args.work / "idx" / "IVF" / "index.faiss"), str(p["qnpy"]), "10",
                             str(args.work / "sweep.bare.json"), "--nprobe", "1,4,16"], env).check("bare sweep")
        record("sweep IVF nprobe 1,4,16, k 10", ours, bare, "-")
    (args.work / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"\n{args.n:,} × {args.dim} (HNSW: {args.hnsw_n:,}), {args.queries:,} queries, cosine; load {load_average()}")
    print(f"{'step':<28}{'vr s':>7}{'bare s':>7}{'×':>5}{'CPU×':>5}{'vr MB':>6}{'bare MB':>8}{'×':>5}{'same':>5}")
    for r in rows:
        print(f"{r['step'][:28]:<28}{r['vecrecall_s']:>7.0f}{r['bare_s']:>7.0f}{r['time_ratio']:>5.2f}"
              f"{r['cpu_ratio']:>5.2f}{r['vecrecall_rss_mb']:>6}{r['bare_rss_mb']:>8}{r['rss_ratio']:>5.2f}"
              f"{r['same_output']:>5}")
    print("s: wall seconds of the whole process; CPU×: ratio of user+system seconds; MB: peak RSS (VmHWM)")


if __name__ == "__main__":
    main()
