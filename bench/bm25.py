"""vecrecall BM25 (build-index + query, files and manifests included) vs raw bm25s on Vaswani, in one process.

    python bench/bm25.py [--repeats 3] [--data ../shared/datasets/vaswani/beir]

Both sides read the BEIR corpus and queries from disk, tokenise with the Snowball English stemmer and bm25s's English
stopwords, index with k1=1.2, b=0.75 (method lucene) and retrieve the top 1000 for every query. vecrecall also writes
and re-reads the index directory and returns a run DataFrame. Runs alternate; the median of each side is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def raw_bm25s(beir: Path, k: int) -> tuple[float, int]:
    import bm25s
    import Stemmer

    t0 = time.perf_counter()
    docs = [json.loads(line) for line in open(beir / "corpus.jsonl", encoding="utf-8")]
    queries = [json.loads(line) for line in open(beir / "queries.jsonl", encoding="utf-8")]
    texts = [(d.get("title", "") + " " + d["text"]).strip() for d in docs]
    stemmer = Stemmer.Stemmer("english")
    model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qtok = bm25s.tokenize([q["text"] for q in queries], stopwords="en", stemmer=stemmer, show_progress=False)
    res = model.retrieve(qtok, k=k, show_progress=False)
    return time.perf_counter() - t0, int(res.documents.size)


def vecrecall_bm25(beir: Path, k: int, work: Path) -> tuple[float, int]:
    from vecrecall.indexes.store import build_index
    from vecrecall.search import run_query

    t0 = time.perf_counter()
    build_index("bm25", work / "bm25", corpus=beir, params={"stemmer": "english", "stopwords": "en", "k1": 1.2, "b": 0.75},
                overwrite=True)
    res = run_query(work / "bm25", beir, k=k)
    return time.perf_counter() - t0, len(res.run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "vaswani" / "beir")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("-k", type=int, default=1000)
    args = ap.parse_args()
    os.environ["VECRECALL_QUIET"] = "1"
    os.environ.setdefault("DISABLE_TQDM", "1")
    from rich.console import Console
    from rich.table import Table

    raw_bm25s(args.data, 10)  # warm imports and the page cache for both sides
    times: dict[str, list[float]] = {"raw bm25s": [], "vecrecall bm25": []}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        vecrecall_bm25(args.data, 10, Path(tmp))
        for _ in range(args.repeats):
            t, n = raw_bm25s(args.data, args.k)
            times["raw bm25s"].append(t)
            rows["raw bm25s"] = n
            t, n = vecrecall_bm25(args.data, args.k, Path(tmp))
            times["vecrecall bm25"].append(t)
            rows["vecrecall bm25"] = n
    med = {name: statistics.median(v) for name, v in times.items()}
    table = Table(title=f"BM25 index + query on {args.data.parent.name} ({args.repeats} alternating runs, median)")
    for col in ("pipeline", "median s", "all runs s", "results"):
        table.add_column(col, justify="right" if col != "pipeline" else "left")
    for name, v in times.items():
        table.add_row(name, f"{med[name]:.3f}", ", ".join(f"{x:.3f}" for x in v), f"{rows[name]:,}")
    console = Console()
    console.print(table)
    console.print(f"ratio vecrecall / raw bm25s = {med['vecrecall bm25'] / med['raw bm25s']:.2f} (acceptance: ≤ 1.2)")


if __name__ == "__main__":
    main()
