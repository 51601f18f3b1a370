"""Acceptance on the shared Vaswani collection with the default model (skipped when the data is absent)."""

import json

import numpy as np
import pytest

from vecrecall.io.runs import read_run

pytestmark = [pytest.mark.vaswani, pytest.mark.slow]


def test_flat_reaches_reference_and_ivf_tracks_flat(vr, vaswani_minilm, tmp_path):
    v = vaswani_minilm
    assert vr("build-index", "--embeddings", v["emb"], "--backend", "faiss", "--index-type", "Flat", "--out", tmp_path / "flat").exit_code == 0
    assert vr("build-index", "--embeddings", v["emb"], "--backend", "faiss", "--index-type", "IVF", "--nlist", 128, "--out", tmp_path / "ivf").exit_code == 0
    assert vr("query", "--index", tmp_path / "flat", "--queries", v["beir"], "-k", 1000, "--out", tmp_path / "flat.run").exit_code == 0
    assert vr("query", "--index", tmp_path / "ivf", "--queries", v["qemb"], "--nprobe", 32, "-k", 1000, "--out", tmp_path / "ivf.run").exit_code == 0
    r = vr("eval", "--qrels", v["beir"], tmp_path / "flat.run", tmp_path / "ivf.run", "-m", "nDCG@10", "-m", "MAP", "-m", "R@100", "--json")
    means = json.loads(r.stdout)
    flat, ivf = means["flat.run"], means["ivf.run"]
    assert flat["nDCG@10"] >= 0.429 and flat["MAP"] >= 0.274 and flat["R@100"] >= 0.60, flat
    assert abs(ivf["nDCG@10"] - flat["nDCG@10"]) <= 0.01
    a, b = read_run(tmp_path / "flat.run"), read_run(tmp_path / "ivf.run")
    top = lambda run: run[run["rank"] <= 10].groupby("qid")["docid"].apply(set)
    ta, tb = top(a), top(b)
    assert np.mean([len(ta[q] & tb[q]) / 10 for q in ta.index]) >= 0.95
