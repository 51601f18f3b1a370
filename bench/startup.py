"""Start-up: a whole `vecrecall query` process against a bare numpy + faiss script doing the same search.

Both sides search the same faiss Flat index (cosine) with the same query vectors, top -k, and write the same TREC
file (checked byte for byte). The bare script reads the document and query ids from plain text files (as a user
holding plain files would: reading ids.parquet needs pandas or pyarrow); vecrecall reads its artifacts. Each side
runs as its own process, alternating, --reps times after one untimed warm-up each; medians reported. Also times
`vecrecall --help` (tests/test_startup.py keeps it free of heavy imports).

Data: Vaswani-sized, 11,429 × 384 documents and 93 queries: the MiniLM vectors in --vaswani (an embeddings
directory and a queries embeddings directory) when given, else clustered synthetic vectors of that shape.

    python bench/startup.py                                  # synthetic, work in /work/data/scale/startup
    python bench/startup.py --reps 21 --work /tmp/vr-startup
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import load_average, process_env, run_measured  # noqa: E402

BARE = r'''
import sys
import numpy as np
import faiss

index_file, qnpy, qids_txt, docids_txt, k, out = sys.argv[1:7]
index = faiss.read_index(index_file)
docids = open(docids_txt, encoding="utf-8").read().split("\n")
qids = open(qids_txt, encoding="utf-8").read().split("\n")
q = np.ascontiguousarray(np.load(qnpy), dtype=np.float32)
norms = np.linalg.norm(q, axis=1, keepdims=True)
q = q / np.where(norms == 0, 1.0, norms)
scores, rows = index.search(q, int(k))
with open(out, "w", encoding="utf-8") as fh:
    for qid, srow, rrow in zip(qids, scores.astype(float).tolist(), rows.tolist()):
        for rank, (s, r) in enumerate(zip(srow, rrow), 1):
            if r >= 0:
                fh.write(f"{qid} Q0 {docids[r]} {rank} {s!r} vecrecall\n")
'''


def vecrecall_cmd() -> list[str]:
    exe = shutil.which("vecrecall")
    return [exe] if exe else [sys.executable, "-m", "vecrecall.cli.app"]


def prepare(work: Path, n: int, nq: int, dim: int) -> dict[str, Path]:
    """Embeddings, query embeddings and a Flat index in `work` (made once), plus the plain files the bare side reads."""
    work.mkdir(parents=True, exist_ok=True)
    paths = {"emb": work / "emb", "qemb": work / "qemb", "index": work / "flat", "docids": work / "docs.ids.txt",
             "qids": work / "queries.ids.txt", "qnpy": work / "queries.npy"}
    if not (paths["index"] / "manifest.json").exists():
        rng = np.random.default_rng(0)
        centres = rng.standard_normal((64, dim)).astype(np.float32)
        docs = (centres[rng.integers(0, 64, n)] + 0.5 * rng.standard_normal((n, dim))).astype(np.float32)
        queries = (centres[rng.integers(0, 64, nq)] + 0.5 * rng.standard_normal((nq, dim))).astype(np.float32)
        np.save(work / "docs.npy", docs)
        np.save(paths["qnpy"], queries)
        paths["docids"].write_text("\n".join(f"doc{i}" for i in range(n)), encoding="utf-8")
        paths["qids"].write_text("\n".join(str(i + 1) for i in range(nq)), encoding="utf-8")
        vr = vecrecall_cmd()
        steps = [
            [*vr, "import-vectors", str(work / "docs.npy"), "--ids", str(paths["docids"]), "--metric-hint", "cosine",
             "--out", str(paths["emb"]), "--overwrite"],
            [*vr, "import-vectors", str(paths["qnpy"]), "--ids", str(paths["qids"]), "--role", "queries",
             "--metric-hint", "cosine", "--out", str(paths["qemb"]), "--overwrite"],
            [*vr, "build-index", "--backend", "faiss", "--index-type", "Flat", "--metric", "cosine", "--embeddings",
             str(paths["emb"]), "--out", str(paths["index"]), "--overwrite"],
        ]
        for cmd in steps:
            run_measured(cmd).check(" ".join(cmd[1:3]))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/work/data/scale/startup"))
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("-k", type=int, default=100)
    ap.add_argument("--n", type=int, default=11429)
    ap.add_argument("--queries", type=int, default=93)
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    p = prepare(args.work, args.n, args.queries, args.dim)
    bare_py = args.work / "bare_query.py"
    bare_py.write_text(BARE, encoding="utf-8")
    ours_out, bare_out = args.work / "vecrecall.trec", args.work / "bare.trec"
    ours = [*vecrecall_cmd(), "query", "--index", str(p["index"]), "--queries", str(p["qemb"]), "-k", str(args.k),
            "--out", str(ours_out), "--overwrite"]
    bare = [sys.executable, str(bare_py), str(p["index"] / "index.faiss"), str(p["qnpy"]), str(p["qids"]),
            str(p["docids"]), str(args.k), str(bare_out)]
    helpcmd = [*vecrecall_cmd(), "--help"]
    env = process_env()
    for cmd in (ours, bare, helpcmd):  # warm-up: page cache, .pyc files
        run_measured(cmd, env).check(cmd[1])
    if not filecmp.cmp(ours_out, bare_out, shallow=False):
        sys.exit(f"the runs differ: {ours_out} vs {bare_out}")
    times: dict[str, list[float]] = {"vecrecall query": [], "bare numpy+faiss": [], "vecrecall --help": []}
    rss: dict[str, list[float]] = {k: [] for k in times}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    load_before = load_average()
    for _ in range(args.reps):
        for name, cmd in zip(times, (ours, bare, helpcmd)):
            m = run_measured(cmd, env).check(name)
            times[name].append(m.seconds)
            rss[name].append(m.peak_rss_mb)
            cpu[name].append(m.cpu_s)
    med = {k: statistics.median(v) for k, v in times.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"start-up: {args.n:,} × {args.dim} Flat index (cosine), {args.queries} queries, -k {args.k}; median of "
          f"{args.reps} alternating runs; load average {load_before} → {load_average()}; runs identical: yes")
    print(f"{'process':<18}{'wall s':>8}{'min s':>7}{'× bare':>7}{'CPU s':>7}{'× bare':>7}{'RSS MB':>8}")
    bare = "bare numpy+faiss"
    for name in times:
        wr = f"{med[name] / med[bare]:.2f}" if name != "vecrecall --help" else ""
        cr = f"{mcpu[name] / mcpu[bare]:.2f}" if name != "vecrecall --help" else ""
        print(f"{name:<18}{med[name]:>8.3f}{min(times[name]):>7.3f}{wr:>7}{mcpu[name]:>7.2f}{cr:>7}"
              f"{statistics.median(rss[name]):>8.0f}")
    print("wall = median elapsed seconds of the whole process; CPU = median user+system seconds (GNU time)")


if __name__ == "__main__":
    main()
