"""Two-tower recall on MovieLens ml-latest-small against most-popular, item-item co-occurrence and the text-only
bi-encoder, through the same CLI chain a user runs; plus logQ correction vs none on head vs tail held-out items.

Protocol (issue 14): every rating is an implicit interaction; leave-last-out per user by timestamp (ties: the later
row); users with ≥ 5 interactions; candidates = all 9,742 items minus the user's training items. Head = the top 20%
of the items with training interactions, by training count; tail = every other held-out item (cold ones included).

    python bench/twotower_movielens.py --data /path/to/ml-latest-small --work runs/ml

The data directory holds ratings.csv and movies.csv (not part of this repository). Each model directory and run is
kept in --work; a second call reuses them (pass --fresh to retrain). As a check, the two-tower run is re-scored in
process by exact numpy search over the saved vectors (the "raw library" column) and must agree with the CLI chain.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

MEASURES = ["Success@50", "R@50", "nDCG@10", "RR", "Success@10"]


def vr(*args: object) -> str:
    cmd = ["vecrecall", *map(str, args)]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {res.stderr.strip()}")
    print(f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
    return res.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="directory with ratings.csv and movies.csv")
    ap.add_argument("--work", type=Path, default=Path("runs/ml"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text-model", default="default", help="item text encoder for the towers and the text baseline")
    ap.add_argument("--fresh", action="store_true", help="retrain even if the model directories exist")
    args = ap.parse_args()
    w = args.work
    w.mkdir(parents=True, exist_ok=True)
    common = ["--log", args.data / "ratings.csv", "--item-col", "movieId", "--items", args.data / "movies.csv",
              "--item-text", "title,genres", "--item-features", "genres", "--text-model", args.text_model,
              "--epochs", args.epochs, "--seed", args.seed, "--overwrite"]
    models = {"tt-logq": ["--logq-correction"], "tt": []}
    runs: dict[str, Path] = {}
    for name, extra in models.items():
        out = w / name
        if args.fresh or not (out / "manifest.json").exists():
            vr("finetune-two-tower", *common, *extra, "--out", out)
        vr("build-index", "--embeddings", out / "items", "--backend", "faiss", "--index-type", "Flat", "--out", w / f"{name}.flat", "--overwrite")
        depth = 100 + int(pd.read_csv(out / "seen.csv", dtype=str).groupby("user_id").size().max())
        vr("query", "--index", w / f"{name}.flat", "--queries", out / "users", "-k", depth, "--out", w / f"{name}.deep.parquet", "--overwrite")
        vr("exclude-seen", "--run", w / f"{name}.deep.parquet", "--seen", out / "seen.csv", "-k", 100, "--out", w / f"{name}.run", "--overwrite")
        runs[name] = w / f"{name}.run"
    split = w / "tt-logq"
    for method in ("popular", "cooc", "text"):
        vr("recsys-baseline", "--split", split, "--method", method, "-k", 100, "--out", w / f"{method}.run", "--overwrite")
        runs[method] = w / f"{method}.run"
    order = ["popular", "cooc", "text", "tt", "tt-logq"]
    pq = w / "per_query.parquet"
    means = json.loads(vr("eval", "--qrels", split / "heldout.csv", *(runs[n] for n in order), *sum((["-m", m] for m in MEASURES), []),
                          "--per-query", pq, "--json"))
    # head / tail of the held-out item (one per user)
    train = pd.read_parquet(split / "train.parquet")
    counts = train[train["label"] > 0]["item"].value_counts()
    head = set(counts.index[: int(round(0.2 * len(counts)))])
    held = pd.read_csv(split / "heldout.csv", dtype=str)
    held["part"] = np.where(held["item_id"].isin(head), "head", "tail")
    per = pd.read_parquet(pq).merge(held.rename(columns={"user_id": "qid"})[["qid", "part"]], on="qid")
    parts = per.groupby(["run", "part", "measure"])["value"].mean()
    manifest = json.loads((split / "manifest.json").read_text())["stats"]
    print(f"\n{manifest['requests']} users, {manifest['train_interactions']:,} training interactions, "
          f"{manifest['catalogue_items']:,} items; held-out items: {int((held['part'] == 'head').sum())} head, "
          f"{int((held['part'] == 'tail').sum())} tail ({manifest['cold_start_heldout']} never trained on); "
          f"training {manifest['train_s']:.0f}s (logQ) / "
          f"{json.loads((w / 'tt' / 'manifest.json').read_text())['stats']['train_s']:.0f}s\n")
    labels = {"popular": "most-popular", "cooc": "item-item co-occurrence (cosine)",
              "text": "text-only bi-encoder (MiniLM, mean of last 50 items)", "tt": "two-tower, in-batch softmax",
              "tt-logq": "two-tower, in-batch softmax + logQ correction"}
    print("| run | HR@50 (= R@50) | nDCG@10 | RR | HR@10 |\n|---|---:|---:|---:|---:|")
    for n in order:
        r = means[runs[n].name]
        print(f"| {labels[n]} | {r['Success@50']:.4f} | {r['nDCG@10']:.4f} | {r['RR']:.4f} | {r['Success@10']:.4f} |")
    print("\n| run | HR@50 head | HR@50 tail | nDCG@10 head | nDCG@10 tail |\n|---|---:|---:|---:|---:|")
    for n in order:
        name = runs[n].name
        print(f"| {labels[n]} | {parts[(name, 'head', 'Success@50')]:.4f} | {parts[(name, 'tail', 'Success@50')]:.4f} | "
              f"{parts[(name, 'head', 'nDCG@10')]:.4f} | {parts[(name, 'tail', 'nDCG@10')]:.4f} |")
    # cross-check: exact numpy search over the saved vectors, scored by vecrecall.metrics
    from vecrecall.artifacts import load_embeddings
    from vecrecall.io.interactions import read_interactions
    from vecrecall.metrics import evaluate_runs
    from vecrecall.twotower.topk import top_k

    items, users = load_embeddings(split / "items"), load_embeddings(split / "users")
    pos = {x: i for i, x in enumerate(items.ids["id"])}
    seen = pd.read_csv(split / "seen.csv", dtype=str)
    by_q = {q: g["item_id"].map(pos).to_numpy() for q, g in seen.groupby("user_id")}
    qids = users.ids["id"].tolist()
    uv, iv = np.asarray(users.vectors), np.asarray(items.vectors)
    t0 = time.perf_counter()
    raw = top_k(lambda rows: uv[rows] @ iv.T, qids, [by_q.get(q, np.zeros(0, np.int64)) for q in qids], items.ids["id"].tolist(), 100)
    raw_s = time.perf_counter() - t0
    again = evaluate_runs(read_interactions(split / "heldout.csv"), {"raw": raw}, ["Success@50", "nDCG@10"]).means["raw"]
    cli = means[runs["tt-logq"].name]
    print(f"\ncheck: two-tower + logQ HR@50 {cli['Success@50']:.4f} / nDCG@10 {cli['nDCG@10']:.4f} via build-index → query → "
          f"exclude-seen → eval; {again['Success@50']:.4f} / {again['nDCG@10']:.4f} by exact numpy search in process "
          f"({raw_s:.2f}s for {len(qids)} users)")


if __name__ == "__main__":
    main()
