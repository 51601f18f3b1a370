"""Cross-encoder scoring speed by backend: PyTorch (sentence-transformers' CrossEncoder.predict) beside vecrecall's
ONNX Runtime / OpenVINO exports, float32 and int8, on the same (query, document) pairs in one process.

Each backend scores the same pairs --reps times, round-robin (so load changes hit every backend alike), batch 8,
pairs sorted by length; pairs/s is the median. Agreement with PyTorch: max |Δ logit| and Spearman's ρ over the pairs.
Exports are made once beside the model (vecrecall.exported), so run it on a copy of a model directory you can write.

    python bench/cross_encoder_backends.py --model /tmp/ce-s13-copy --run runs/ceq/rrf-h13.run \
        --queries runs/ceq/ce-s13/heldout.queries.jsonl --corpus ../shared/datasets/vaswani/beir --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import load_average  # noqa: E402

CONFIGS = {"torch": ("torch", None), "onnx": ("onnx", None), "openvino": ("openvino", None),
           "onnx int8": ("onnx", "int8"), "openvino int8": ("openvino", "int8")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a CrossEncoder directory (exports are written into it)")
    ap.add_argument("--run", type=Path, required=True, help="pairs = a seeded sample of this run's top 100")
    ap.add_argument("--queries", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--pairs", type=int, default=160)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    import numpy as np
    from scipy.stats import spearmanr

    from vecrecall.crossencoder import PairLogits
    from vecrecall.io.runs import read_run
    from vecrecall.io.texts import load_texts
    from vecrecall.rerank import top_depth

    top = top_depth(read_run(args.run), 100).sample(frac=1.0, random_state=args.seed).head(args.pairs)
    q, d = load_texts(args.queries, "queries"), load_texts(args.corpus, "corpus")
    q, d = dict(zip(q["id"], q["text"])), dict(zip(d["id"], d["text"]))
    pairs = [(q[a], d[b]) for a, b in zip(top["qid"], top["docid"])]
    models = {name: PairLogits(args.model, args.max_length, backend, threads=args.threads, quantize=quantize)
              for name, (backend, quantize) in CONFIGS.items()}
    load_before = load_average()
    ref = models["torch"].scores(pairs, 8)
    agree, rates = {}, {name: [] for name in models}
    for rep in range(args.reps):
        for name, model in models.items():
            t0 = time.perf_counter()
            s = model.scores(pairs, 8)
            rates[name].append(len(pairs) / (time.perf_counter() - t0))
            if rep == 0:
                agree[name] = (float(np.abs(s - ref).max()), float(spearmanr(s, ref).statistic))
    base = statistics.median(rates["torch"])
    print(f"{len(pairs)} pairs from {args.run}, max_length {args.max_length}, batch 8, threads "
          f"{args.threads or 'default'}, median of {args.reps}; load average {load_before} → {load_average()}")
    print(f"{'backend':<15}{'pairs/s':>9}{'× torch':>9}{'max |Δ|':>10}{'Spearman':>10}")
    for name, r in rates.items():
        med = statistics.median(r)
        print(f"{name:<15}{med:>9.1f}{med / base:>9.2f}{agree[name][0]:>10.1e}{agree[name][1]:>10.4f}")


if __name__ == "__main__":
    main()
