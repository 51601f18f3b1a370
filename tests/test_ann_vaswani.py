"""usearch and ScaNN on Vaswani MiniLM embeddings (11,429 × 384, 93 queries): each reaches recall@10 ≥ 0.95 against
exact search at some setting of its sweep, and more search effort never loses recall here."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.vaswani, pytest.mark.slow]

FAST = ["--passes", "1", "--warmup", "10", "--latency-queries", "50"]
GRIDS = {
    "usearch": ["--expansion-search", "16,64,256"],
    "usearch-i8": ["--quantization", "i8", "--expansion-search", "16,64,256"],
    "scann": ["--num-leaves", "107", "--num-leaves-to-search", "2,8,32", "--reorder", "1000"],
}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_reaches_095_recall_at_10_against_exact_search(vr, vaswani_minilm, name):
    pytest.importorskip(name.split("-")[0])
    r = vr("sweep", "--embeddings", vaswani_minilm["emb"], "--queries", vaswani_minilm["qemb"],
           "--backend", name.split("-")[0], *GRIDS[name], *FAST, "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert len(rows) == 3
    effort = "num_leaves_to_search" if name == "scann" else "expansion_search"
    recall = [row["recall@10"] for row in sorted(rows, key=lambda row: row[effort])]
    assert recall[-1] >= 0.95, recall
    assert recall == sorted(recall), recall
