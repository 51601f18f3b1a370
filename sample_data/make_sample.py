"""Regenerate sample_data/ from the shared Vaswani collection (run from the repository root).

Keeps 40 judged queries (seeded choice), every document judged for them, and random other documents up to 2,000,
plus synthetic metadata (`year`, `date`, `lang`) derived from a seeded RNG so that filter and decay examples have
something to work on. The metadata is NOT part of Vaswani.
"""

import json
import random
from pathlib import Path

SRC = Path("../shared/datasets/vaswani/beir")
DST = Path(__file__).resolve().parent
rng = random.Random(13)

qrels = [l.rstrip("\n").split("\t") for l in (SRC / "qrels/test.tsv").read_text().splitlines()[1:]]
qids = sorted({q for q, _, _ in qrels}, key=int)
keep_q = sorted(rng.sample(qids, 40), key=int)
keep_qrels = [r for r in qrels if r[0] in keep_q]
judged = {d for _, d, _ in keep_qrels}
docs = [json.loads(l) for l in (SRC / "corpus.jsonl").read_text().splitlines()]
others = [d["_id"] for d in docs if d["_id"] not in judged]
keep_docs = judged | set(rng.sample(others, 2000 - len(judged)))
with open(DST / "corpus.jsonl", "w") as f:
    for d in docs:
        if d["_id"] in keep_docs:
            year = rng.randint(1995, 2024)
            d.update(year=year, date=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", lang=rng.choice(["en"] * 4 + ["de"]))
            f.write(json.dumps(d) + "\n")
queries = [json.loads(l) for l in (SRC / "queries.jsonl").read_text().splitlines()]
with open(DST / "queries.jsonl", "w") as f:
    for q in queries:
        if q["_id"] in keep_q:
            f.write(json.dumps(q) + "\n")
(DST / "qrels").mkdir(exist_ok=True)
(DST / "qrels/test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in keep_qrels))
print(len(keep_docs), "docs,", len(keep_q), "queries,", len(keep_qrels), "judgements")
