"""Finetuning on Vaswani: stock MiniLM vs finetuned on held-out queries (seeded 60/33 query split), one CLI run per
setting, run one after another (the machine is shared). Also the exercise from seed 000: the same training queries
with three negative types (random / core-deletion / mined), held-out results side by side.

Every number comes from `vecrecall finetune --json` (exact faiss Flat search over the full corpus, scored with
vecrecall.metrics like `vecrecall eval`); the stock run is runs/vaswani/flat.run (made by `vecrecall query` with the
default model), filtered to the held-out queries. Hyper-parameters were fixed before looking at held-out numbers.

    python bench/finetune_vaswani.py --settings inbatch,random,core-deletion,mined --seeds 13 [--out runs/ft]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VASWANI = ROOT.parent / "shared" / "datasets" / "vaswani" / "beir"

COMMON = ["--split-queries", "60", "--max-seq-length", "128", "--epochs", "1", "--batch-size", "32", "--lr", "2e-5"]
SETTINGS: dict[str, list[str]] = {
    "inbatch": ["--loss", "mnrl", "--negatives", "in-batch"],
    "random": ["--loss", "mnrl", "--negatives", "random"],
    "core-deletion": ["--loss", "mnrl", "--negatives", "core-deletion"],
    "mined": ["--loss", "mnrl", "--negatives", "mined", "--mine-from", "runs/vaswani/flat.run", "--mine-range", "10:100"],
    "pairwise-mined": ["--loss", "pairwise", "--gamma", "10", "--negatives", "mined", "--mine-from", "runs/vaswani/flat.run",
                       "--mine-range", "10:100"],
}


def run(setting: str, seed: int, out: Path) -> dict:
    dest = out / f"{setting}-s{seed}"
    cmd = ["vecrecall", "finetune", "--qrels", str(VASWANI), "--queries", str(VASWANI), "--corpus", str(VASWANI),
           *COMMON, *SETTINGS[setting], "--seed", str(seed), "--baseline-run", "runs/vaswani/flat.run",
           "--out", str(dest), "--overwrite", "--json"]
    print("$ " + shlex.join(cmd), file=sys.stderr, flush=True)
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    stats = json.loads(res.stdout)
    stats["wall_s"] = round(time.time() - t0, 1)
    (out / f"{setting}-s{seed}.json").write_text(json.dumps(stats, indent=1))
    return stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", default="inbatch,random,core-deletion,mined")
    ap.add_argument("--seeds", default="13")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "ft")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    print("| setting | seed | rows | steps | train s | wall s | stock nDCG@10 | ft nDCG@10 | stock R@100 | ft R@100 | stock MAP | ft MAP |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in [int(s) for s in a.seeds.split(",")]:
        for setting in a.settings.split(","):
            cached = a.out / f"{setting}-s{seed}.json"
            made = a.out / f"{setting}-s{seed}" / "manifest.json"
            st = (json.loads(cached.read_text()) if cached.exists()
                  else json.loads(made.read_text())["stats"] if made.exists() else run(setting, seed, a.out))
            m = st["heldout"]["means"]
            s, f = m["stock"], m["finetuned"]
            rows = ", ".join(f"{k} {v}" for k, v in st["rows"].items())
            print(f"| {setting} | {seed} | {rows} | {st['steps']} | {st['seconds']:.0f} | {st.get('wall_s', '-')} | "
                  f"{s['nDCG@10']:.4f} | {f['nDCG@10']:.4f} | {s['R@100']:.4f} | {f['R@100']:.4f} | {s['MAP']:.4f} | {f['MAP']:.4f} |",
                  flush=True)


if __name__ == "__main__":
    main()
