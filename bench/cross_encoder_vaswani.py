"""Cross-encoder on Vaswani, offline: train with `finetune-cross-encoder` on a seeded query split (training queries +
synthetic queries), rerank the RRF top 100 of the held-out queries, compare with RRF itself; ANNCUR with the trained
cross-encoder against bi-encoder retrieve-and-rerank; cross-encoder scoring speed before/after length ordering.

Settings (fixed before any held-out number was looked at):
  split      --split-queries 60 --seed S for S in 13, 14, 15 (the seeds of bench/finetune_vaswani.py)
  synthetic  synth-queries --per-doc 1 --max-docs 300 --seed S (tf-idf key phrases and sentence windows)
  negatives  mined from BM25 and MiniLM Flat, ranks 5–100, 1 per positive from each, false-negative filter 0.95
  training   BCE on a seeded sample of 1,500 of those rows (--max-pairs; sized for 2 shared CPU cores), bundled
             MiniLM weights + fresh head, max_length 256, 1 epoch, batch 16, lr 5e-5, warm-up 10 %
  test       RRF (k 60) of BM25 and MiniLM Flat top 100 for the held-out queries vs that run reranked (depth 100)
  ANNCUR     split 13 only (CPU time): items = the held-out queries' judged documents + seeded others up to 600;
             anchor queries = 40 of the split's training queries (seeded); k_i 40; budgets 50,100,200,500

    python bench/cross_encoder_vaswani.py [--seeds 13,14,15] [--out runs/cev] [--skip-anncur] [--skip-speed]

Prints every command it runs; artifacts land under --out (git-ignored). Existing artifacts are reused.
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
V = ROOT.parent / "shared" / "datasets" / "vaswani" / "beir"
EXE = [sys.executable, "-m", "vecrecall.cli.app"]
TRAIN = ["--loss", "bce", "--mine-range", "5:100", "--negatives-per-positive", "1", "--fn-threshold", "0.95",
         "--max-pairs", "1500", "--max-length", "256", "--epochs", "1", "--batch-size", "16", "--lr", "5e-5", "--warmup", "0.1"]


def run(*args: object) -> None:
    cmd = [*EXE, *map(str, args)]
    print("$ vecrecall " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    subprocess.run(cmd, check=True)


def once(path: Path, *args: object) -> None:
    if not path.exists():
        run(*args, "--out", path)


def base(out: Path) -> None:
    """MiniLM Flat and BM25 indexes of the whole corpus (the README's Vaswani chain)."""
    once(out / "emb", "encode", "--corpus", V)
    once(out / "flat", "build-index", "--embeddings", out / "emb", "--backend", "faiss", "--index-type", "Flat")
    once(out / "bm25", "build-index", "--corpus", V, "--backend", "bm25", "--stemmer", "english", "--stopwords", "en")


def split_runs(out: Path, seed: int) -> dict[str, Path]:
    """Train the cross-encoder for one split and rerank the held-out queries' RRF run."""
    synth, model = out / f"synth-s{seed}.jsonl", out / f"ce-s{seed}"
    once(synth, "synth-queries", "--corpus", V, "--per-doc", "1", "--max-docs", "300", "--seed", seed)
    t0 = time.perf_counter()
    once(model, "finetune-cross-encoder", "--qrels", V, "--queries", V, "--corpus", V, "--split-queries", "60",
         "--seed", seed, "--train", synth, "--mine-from", out / "bm25", "--mine-from", out / "flat", *TRAIN)
    train_s = time.perf_counter() - t0
    hq = model / "heldout.queries.jsonl"
    for name in ("bm25", "flat"):
        once(out / f"{name}-h{seed}.run", "query", "--index", out / name, "--queries", hq, "-k", "1000")
    rrf = out / f"rrf-h{seed}.run"
    if not rrf.exists():
        run("fuse", out / f"bm25-h{seed}.run", out / f"flat-h{seed}.run", "--method", "rrf", "--rrf-k", "60",
            "--depth", "100", "--out", rrf)
    ce = out / f"ce-h{seed}.run"
    t0 = time.perf_counter()
    once(ce, "rerank", "--run", rrf, "--corpus", V, "--queries", hq, "--model", model, "--depth", "100", "-k", "100")
    rerank_s = time.perf_counter() - t0
    run("eval", "--qrels", model / "heldout.qrels.tsv", rrf, ce, "-m", "nDCG@10", "-m", "MAP")
    return {"model": model, "rrf": rrf, "ce": ce, "train_s": train_s, "rerank_s": rerank_s}  # type: ignore[dict-item]


def summary(out: Path, results: dict[int, dict]) -> None:
    """One row per split: RRF vs CE rerank on the held-out queries (paired t-test, as vecrecall eval computes it)."""
    from vecrecall.io.qrels import read_qrels
    from vecrecall.io.runs import read_run
    from vecrecall.metrics import evaluate_runs

    rows = []
    print("\n| seed | held-out queries | train rows | truncated | RRF nDCG@10 | CE nDCG@10 (p) | RRF MAP | CE MAP (p) |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, r in results.items():
        qrels = read_qrels(r["model"] / "heldout.qrels.tsv")
        rep = evaluate_runs(qrels, {"rrf": read_run(r["rrf"]), "ce": read_run(r["ce"])}, ["nDCG@10", "MAP"])
        st = json.loads((r["model"] / "manifest.json").read_text())["stats"]
        a, b, p = rep.means["rrf"], rep.means["ce"], rep.pvalues["ce"]
        rows.append({"seed": seed, **{f"rrf_{k}": v for k, v in a.items()}, **{f"ce_{k}": v for k, v in b.items()},
                     **{f"p_{k}": v for k, v in p.items()}, "train_rows": st["rows"]["training rows"],
                     "truncated_share": st["truncated_share"], "train_s": st["seconds"]})
        print(f"| {seed} | {rep.n_queries['rrf']} | {st['rows']['training rows']:,} | {100 * st['truncated_share']:.1f}% "
              f"| {a['nDCG@10']:.4f} | {b['nDCG@10']:.4f} ({p['nDCG@10']:.3f}) | {a['MAP']:.4f} | {b['MAP']:.4f} "
              f"({p['MAP']:.3f}) |")
    import numpy as np

    for m in ("nDCG@10", "MAP"):
        d = np.array([r[f"ce_{m}"] - r[f"rrf_{m}"] for r in rows])
        print(f"mean Δ {m} (CE − RRF) over {len(d)} splits: {d.mean():+.4f} ± {d.std(ddof=1) if len(d) > 1 else 0:.4f}")
    (out / "summary.json").write_text(json.dumps(rows, indent=1) + "\n")


def anncur(out: Path, seed: int, n_items: int, n_anchors: int, k_i: int, budgets: str) -> None:
    """ANNCUR with the split's trained cross-encoder on a corpus subset; bench against bi-encoder + rerank."""
    import numpy as np
    import pandas as pd

    model = out / f"ce-s{seed}"
    sub = out / f"anncur-s{seed}"
    sub.mkdir(parents=True, exist_ok=True)
    split = json.loads((model / "split.json").read_text())
    if not (sub / "corpus.jsonl").exists():
        qrels = pd.read_csv(model / "heldout.qrels.tsv", sep="\t", dtype=str)
        judged = set(qrels["corpus-id"])
        docs = [json.loads(line) for line in open(V / "corpus.jsonl", encoding="utf-8")]
        others = [d["_id"] for d in docs if d["_id"] not in judged]
        rng = np.random.default_rng(seed)
        keep = judged | set(rng.choice(others, size=max(0, n_items - len(judged)), replace=False).tolist())
        (sub / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs if d["_id"] in keep))
        texts = {json.loads(line)["_id"]: line for line in open(V / "queries.jsonl", encoding="utf-8")}
        anchors = sorted(rng.choice(split["train"], size=min(n_anchors, len(split["train"])), replace=False).tolist())
        (sub / "anchors.jsonl").write_text("".join(texts[q] for q in anchors))
    index = sub / "cur"
    once(index, "anncur", "index", "--corpus", sub / "corpus.jsonl", "--scorer", "cross-encoder", "--scorer-path", model,
         "--anchor-queries", sub / "anchors.jsonl", "--k-i", k_i, "--max-length", "256", "--seed", seed)
    run("anncur", "bench", "--index", index, "--queries", model / "heldout.queries.jsonl", "--budgets", budgets,
        "-k", "1,10,100", "--baseline", "biencoder", "--qrels", model / "heldout.qrels.tsv", "--out", sub / "bench",
        "--overwrite")


def speed(out: Path, seed: int, n_pairs: int) -> None:
    """Cross-encoder pairs/s on the same RRF pairs, in one process: the old order (run order, chunks of 256) vs
    length order (what rerank does now), alternated twice; the scores must agree."""
    import numpy as np

    from vecrecall.io.runs import read_run
    from vecrecall.io.texts import load_texts
    from vecrecall.crossencoder import length_order
    from vecrecall.rerank import CrossEncoderScorer, top_depth

    model = out / f"ce-s{seed}"
    top = top_depth(read_run(out / f"rrf-h{seed}.run"), 100).head(n_pairs)
    q = dict(zip(*load_texts(model / "heldout.queries.jsonl", "queries")[["id", "text"]].T.values))
    d = dict(zip(*load_texts(V, "corpus")[["id", "text"]].T.values))
    pairs = [(q[a], d[b]) for a, b in zip(top["qid"], top["docid"])]
    scorer = CrossEncoderScorer(model, batch_size=32, backend="torch")
    scorer.score(pairs[:32])  # warm-up

    def run_order() -> np.ndarray:
        return np.concatenate([scorer.score(pairs[i : i + 256]) for i in range(0, len(pairs), 256)])

    def by_length() -> np.ndarray:
        order = length_order(pairs)
        out_ = np.empty(len(pairs))
        for i in range(0, len(order), 256):
            idx = order[i : i + 256]
            out_[idx] = scorer.score([pairs[j] for j in idx])
        return out_

    rates: dict[str, list[float]] = {"run order, chunks of 256 (before)": [], "length order (after)": []}
    results = {}
    for _ in range(2):
        for name, fn in zip(rates, (run_order, by_length)):
            t0 = time.perf_counter()
            results[name] = fn()
            rates[name].append(len(pairs) / (time.perf_counter() - t0))
    a, b = results.values()
    print(f"\ncross-encoder scoring, {len(pairs)} RRF pairs (split {seed}), torch backend, batch 32; max |Δscore| "
          f"{np.abs(a - b).max():.2e}")
    for name, r in rates.items():
        print(f"  {name}: {np.mean(r):.1f} pairs/s (passes: {', '.join(f'{x:.1f}' for x in r)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="13,14,15")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "cev")
    ap.add_argument("--anncur-seed", type=int, default=13)
    ap.add_argument("--anncur-items", type=int, default=600)
    ap.add_argument("--anncur-anchors", type=int, default=40, help="training queries used as anchor queries (k_q)")
    ap.add_argument("--anncur-k-i", type=int, default=40)
    ap.add_argument("--anncur-budgets", default="50,100,200,500")
    ap.add_argument("--speed-pairs", type=int, default=600)
    ap.add_argument("--jobs", type=int, default=1, help="splits trained at once (sets OMP_NUM_THREADS=1 when > 1)")
    ap.add_argument("--skip-anncur", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    if not (V / "corpus.jsonl").exists():
        sys.exit(f"the shared Vaswani collection is not at {V}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.jobs > 1:
        import os

        os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the vecrecall subprocesses
    base(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.jobs > 1:  # one process per split (each with one torch thread), for a machine shared with other work
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(args.jobs) as pool:
            done = dict(zip(seeds, pool.map(lambda s: split_runs(args.out, s), seeds)))
        results = {s: done[s] for s in seeds}
    else:
        results = {s: split_runs(args.out, s) for s in seeds}
    summary(args.out, results)
    if not args.skip_speed:
        speed(args.out, int(args.seeds.split(",")[0]), args.speed_pairs)
    if not args.skip_anncur:
        anncur(args.out, args.anncur_seed, args.anncur_items, args.anncur_anchors, args.anncur_k_i, args.anncur_budgets)


if __name__ == "__main__":
    main()
