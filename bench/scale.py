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
  query   1,000 queries, -k 100, on every index built: Flat, IVF and IVFPQ (--nprobe 16), HNSW and hnswlib
          (--ef-search 128); runs checked byte for byte; recall@100 against exact search (the Flat run, or exact
          cosine top-100 over the HNSW subset computed here with numpy). --reps N: N alternating runs per side,
          median wall and CPU seconds, largest peak RSS.
  sweep   `vecrecall sweep --index IVF --nprobe 1,4,16 -k 10` (ground-truth cache cleared first) beside exact
          search + the same settings by hand; recall@10 per nprobe compared (vecrecall counts results tied with
          the k-th exact score within 1e-5 as hits, the bare script strict overlap, so they may differ slightly).

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
from measure import Measured, load_average, process_env, run_measured  # noqa: E402

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


# (index, vecrecall query options = bare options, bare sub-command); -k 100, so ef_search 128 ≥ k
QUERY_CASES = [("Flat", [], "query-faiss"), ("IVF", ["--nprobe", "16"], "query-faiss"),
               ("IVFPQ", ["--nprobe", "16"], "query-faiss"), ("HNSW", ["--ef-search", "128"], "query-faiss"),
               ("hnswlib", ["--ef-search", "128"], "query-hnswlib")]


def read_trec(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            qid, _, doc, *_ = line.split()
            out.setdefault(qid, set()).add(doc)
    return out


def exact_top(emb: Path, qnpy: Path, qids: Path, k: int) -> dict[str, set[str]]:
    """Exact cosine top-k of each query over an embeddings artifact (ids = row numbers), in query blocks."""
    x = np.load(emb / "embeddings.npy").astype(np.float32, copy=False)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    q = np.load(qnpy).astype(np.float32)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
    names = qids.read_text(encoding="utf-8").split("\n")
    out: dict[str, set[str]] = {}
    for start in range(0, len(q), 100):
        scores = q[start : start + 100] @ x.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for i, rows in enumerate(top):
            out[names[start + i]] = {str(r) for r in rows.tolist()}
    return out


def recall(run: dict[str, set[str]], truth: dict[str, set[str]]) -> float:
    """Mean over the truth's queries of |found ∩ true| / |true| (recall@k with k = the truth's size)."""
    return float(np.mean([len(run.get(q, set()) & t) / len(t) for q, t in truth.items()]))


def sweep_recalls(parquet: Path, bare_json: Path) -> tuple[dict[int, float], dict[int, float]]:
    """recall@k per nprobe of vecrecall's sweep table and of the bare sweep, rounded to 4 places."""
    import pandas as pd

    df = pd.read_parquet(parquet)
    col = next(c for c in df.columns if str(c).startswith("recall"))
    ours = {int(n): round(float(r), 4) for n, r in zip(df["nprobe"], df[col])}
    bare = {int(r["nprobe"]): round(float(r["recall"]), 4) for r in json.loads(bare_json.read_text())}
    return ours, bare


def median_of(runs: list[Measured]) -> Measured:
    """Median wall and CPU seconds of repeated runs, the largest peak RSS."""
    return Measured(float(np.median([m.seconds for m in runs])), max(m.peak_rss_mb for m in runs), 0, "",
                    float(np.median([m.cpu_s for m in runs])))


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
    ap.add_argument("--reps", type=int, default=1, help="query step: runs per side, alternating; medians reported")
    args = ap.parse_args()
    args.cases = args.cases.split(",")
    steps = args.steps.split(",")
    env = process_env()
    p = prepare(args.work, args.n, args.queries, args.dim, args.hnsw_n)
    (args.work / "bare").mkdir(exist_ok=True)
    (args.work / "idx").mkdir(exist_ok=True)
    rows: list[dict] = []

    def record(label: str, ours: Measured, bare: Measured, same: str, rec: float | None = None) -> None:
        row = {"step": label, "vecrecall_s": round(ours.seconds, 2), "bare_s": round(bare.seconds, 2),
               "time_ratio": round(ours.seconds / bare.seconds, 3), "vecrecall_cpu_s": round(ours.cpu_s, 1),
               "bare_cpu_s": round(bare.cpu_s, 1), "cpu_ratio": round(ours.cpu_s / max(bare.cpu_s, 1e-9), 3), "vecrecall_rss_mb": round(ours.peak_rss_mb),
               "bare_rss_mb": round(bare.peak_rss_mb), "rss_ratio": round(ours.peak_rss_mb / bare.peak_rss_mb, 3),
               "same_output": same, "load": load_average()}
        if rec is not None:
            row["recall"] = round(rec, 4)
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
        truth: dict[str, dict[str, set[str]]] = {}
        for name, extra, bare_sub in [c for c in QUERY_CASES if c[0] in args.cases]:
            idx = args.work / "idx" / name
            if not (idx / "manifest.json").exists():
                print(f"query {name}: no index at {idx} (run --steps build --cases {name} first); skipped", flush=True)
                continue
            sub = name in ("HNSW", "hnswlib")
            native = idx / ("index.hnsw" if name == "hnswlib" else "index.faiss")
            ours_run, bare_run = args.work / f"{name}.vecrecall.trec", args.work / f"{name}.bare.trec"
            ours_cmd = [*vecrecall(), "query", "--index", str(idx), "--queries", str(p["qemb"]), "-k", "100", *extra,
                        "--out", str(ours_run), "--overwrite"]
            bare_cmd = [*BARE, bare_sub, str(native), str(p["qnpy"]), str(p["qids"]),
                        str(p["docids_hnsw" if sub else "docids"]), "100", str(bare_run), *extra]
            ours_all, bare_all = [], []
            for _ in range(args.reps):  # alternating, so both sides see the same spells of load
                ours_all.append(run_measured(ours_cmd, env).check(f"query {name}"))
                bare_all.append(run_measured(bare_cmd, env).check(f"bare query {name}"))
            ours, bare = median_of(ours_all), median_of(bare_all)
            key = "sub" if sub else "full"
            if key not in truth:
                truth[key] = (exact_top(p["emb_hnsw"], p["qnpy"], p["qids"], 100) if sub
                              else read_trec(args.work / "Flat.vecrecall.trec"))
            label = f"query {name}" + (f" {extra[0][2:].replace('-', '_')} {extra[1]}" if extra else "")
            if args.reps > 1:
                label += f" (median of {args.reps})"
            record(label, ours, bare, same_file(ours_run, bare_run),
                   None if name == "Flat" else recall(read_trec(ours_run), truth[key]))
    if "sweep" in steps:
        shutil.rmtree(p["emb"].with_name(p["emb"].name + ".groundtruth"), ignore_errors=True)
        ours = run_measured([*vecrecall(), "sweep", "--index", str(args.work / "idx" / "IVF"), "--queries",
                             str(p["qemb"]), "--nprobe", "1,4,16", "-k", "10", "--passes", "1",
                             "--out", str(args.work / "sweep"), "--overwrite", "--json"], env).check("sweep")
        bare = run_measured([*BARE, "sweep-faiss", str(p["emb"] / "embeddings.npy"),
                             str(args.work / "idx" / "IVF" / "index.faiss"), str(p["qnpy"]), "10",
                             str(args.work / "sweep.bare.json"), "--nprobe", "1,4,16"], env).check("bare sweep")
        ours_r, bare_r = sweep_recalls(args.work / "sweep" / "results.parquet", args.work / "sweep.bare.json")
        print(f"sweep recall@10 by nprobe: vecrecall {ours_r}, bare {bare_r}", flush=True)
        record("sweep IVF nprobe 1,4,16, k 10", ours, bare, "yes" if sorted(ours_r.items()) == sorted(bare_r.items()) else "no",
               ours_r.get(16))
    # results.json keeps every step measured so far (a later run of a step replaces its row)
    res = args.work / "results.json"
    kept = [r for r in (json.loads(res.read_text()) if res.exists() else []) if r["step"] not in {x["step"] for x in rows}]
    res.write_text(json.dumps(kept + rows, indent=1))
    print(f"\n{args.n:,} × {args.dim} (HNSW: {args.hnsw_n:,}), {args.queries:,} queries, cosine; load {load_average()}")
    print(f"{'step':<24}{'vr s':>7}{'bare s':>7}{'×':>5}{'CPU×':>5}{'vr MB':>6}{'bare MB':>8}{'×':>5}{'same':>5}{'recall':>7}")
    for r in rows:
        secs = "".join(f"{x:>7.2f}" if x < 10 else f"{x:>7.0f}" for x in (r["vecrecall_s"], r["bare_s"]))
        print(f"{r['step'][:24]:<24}{secs}{r['time_ratio']:>5.2f}"
              f"{r['cpu_ratio']:>5.2f}{r['vecrecall_rss_mb']:>6}{r['bare_rss_mb']:>8}{r['rss_ratio']:>5.2f}"
              f"{r['same_output']:>5}{r.get('recall', ''):>7}")
    print("s: wall seconds of the whole process; CPU×: ratio of user+system seconds; MB: peak RSS (VmHWM);\n"
          "recall: query@100 vs exact, sweep@10 at nprobe 16 (same: identical files; sweep: same recall at every nprobe)")


if __name__ == "__main__":
    main()
