"""Acceptance on Vaswani MiniLM embeddings (11,429 × 384): the 93 queries and 1,000 held-out corpus vectors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.vaswani, pytest.mark.slow]

GRID = ["--backend", "faiss", "--index-type", "IVF", "--nlist", "64,128,256", "--nprobe", "1,2,4,8,16,32,64"]
FAST = ["--passes", "1", "--warmup", "10", "--latency-queries", "100"]


@pytest.mark.parametrize("queries", ["qemb", "holdout"])
def test_ivf_recall_rises_with_nprobe_and_hnswlib_reaches_099(vr, vaswani_minilm, tmp_path, queries):
    src = ["--queries", vaswani_minilm["qemb"]] if queries == "qemb" else ["--holdout", "1000"]
    base = ["sweep", "--embeddings", vaswani_minilm["emb"], *src, *FAST]
    out = tmp_path / "ivf"
    r = vr(*base, *GRID, "--out", out)
    assert r.exit_code == 0, r.stderr
    assert json.loads((out / "manifest.json").read_text())["stats"]["builds"] == 3
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 21
    for nlist, part in df.groupby("nlist"):
        rec = part.sort_values("nprobe")["recall@10"].to_numpy()
        assert (np.diff(rec) >= 0).all(), (nlist, rec)
    # nprobe = nlist searches every list: exact.
    r = vr(*base, "--backend", "faiss", "--index-type", "IVF", "--nlist", "64,128", "--nprobe", "nlist", "--json")
    assert r.exit_code == 0, r.stderr
    assert [row["recall@10"] for row in json.loads(r.stdout)["rows"]] == [1.0, 1.0]
    r = vr(*base, "--backend", "hnswlib", "--ef-search", "64,512", "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert rows[-1]["ef_search"] == 512 and rows[-1]["recall@10"] >= 0.99
