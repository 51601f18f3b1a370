"""ANNCUR / ADACUR acceptance benchmark on a 2,000-document Vaswani subset with the MaxSim scorer.

The subset is every document judged for the 93 queries (1,735) plus random others (seeded) up to 2,000. Anchor
queries are 500 pseudo-queries sampled from the subset (never the test queries); the 93 queries are the test
queries. Prints the exact commands it runs and the bench table; results land under runs/anncur/ (git-ignored).

    python bench/anncur_vaswani.py [--size 2000] [--seed 0] [--out runs/anncur]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VASWANI = ROOT.parent / "shared" / "datasets" / "vaswani" / "beir"


def make_subset(size: int, seed: int, out: Path) -> Path:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv of the subset, in BEIR layout (deterministic)."""
    import numpy as np
    import pandas as pd

    if (out / "corpus.jsonl").exists():
        return out
    qrels = pd.read_csv(VASWANI / "qrels" / "test.tsv", sep="\t", dtype=str)
    judged = set(qrels["corpus-id"])
    docs = [json.loads(line) for line in open(VASWANI / "corpus.jsonl", encoding="utf-8")]
    others = [d["_id"] for d in docs if d["_id"] not in judged]
    rng = np.random.default_rng(seed)
    keep = judged | set(rng.choice(others, size=max(0, size - len(judged)), replace=False).tolist())
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in docs:
            if d["_id"] in keep:
                f.write(json.dumps(d) + "\n")
    (out / "queries.jsonl").write_text((VASWANI / "queries.jsonl").read_text())
    qrels.to_csv(out / "qrels" / "test.tsv", sep="\t", index=False)
    return out


def run(cmd: list[str]) -> None:
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--anchor-queries", default="pseudo:500")
    ap.add_argument("--k-i", type=int, default=100)
    ap.add_argument("--budgets", default="50,100,200,500")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "anncur")
    args = ap.parse_args()
    if not (VASWANI / "corpus.jsonl").exists():
        sys.exit(f"the shared Vaswani collection is not at {VASWANI}")
    data = make_subset(args.size, args.seed, args.out / f"vaswani{args.size // 1000}k")
    index = args.out / f"cur-maxsim-{args.size}"
    exe = [sys.executable, "-m", "vecrecall.cli.app"]
    if not (index / "manifest.json").exists():
        run([*exe, "anncur", "index", "--corpus", str(data / "corpus.jsonl"), "--scorer", "maxsim",
             "--anchor-queries", args.anchor_queries, "--k-i", str(args.k_i), "--seed", str(args.seed),
             "--out", str(index)])
    run([*exe, "anncur", "bench", "--index", str(index), "--queries", str(data / "queries.jsonl"),
         "--budgets", args.budgets, "-k", "1,10,100", "--baseline", "biencoder", "--qrels", str(data),
         "--out", str(args.out / f"bench-maxsim-{args.size}"), "--overwrite"])


if __name__ == "__main__":
    main()
