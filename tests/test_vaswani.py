"""Acceptance on the shared Vaswani collection with the default model (skipped when the data is absent)."""

import json

import numpy as np
import pytest

from test_eval import PTE, pytrec
from vecrecall.io.qrels import read_qrels
from vecrecall.io.runs import read_run
from vecrecall.metrics import parse_measures, per_query

pytestmark = [pytest.mark.vaswani, pytest.mark.slow]


@pytest.fixture(scope="module")
def runs(vaswani_minilm, tmp_path_factory):
    """Flat and IVF (nlist 128, nprobe 32) runs, 1000 deep, made through the CLI's library calls."""
    from vecrecall.indexes.store import build_index
    from vecrecall.io.runs import write_run
    from vecrecall.search import run_query

    v, d = vaswani_minilm, tmp_path_factory.mktemp("vaswani-runs")
    build_index("faiss", d / "flat", embeddings=v["emb"], params={"index_type": "Flat"})
    build_index("faiss", d / "ivf", embeddings=v["emb"], params={"index_type": "IVF", "nlist": 128})
    write_run(run_query(d / "flat", v["beir"], 1000).run, d / "flat.run")  # query texts, encoded via the index lineage
    write_run(run_query(d / "ivf", v["qemb"], 1000, {"nprobe": 32}).run, d / "ivf.run")
    return d


def test_flat_reaches_reference_and_ivf_tracks_flat(vr, vaswani_minilm, runs):
    r = vr("eval", "--qrels", vaswani_minilm["beir"], runs / "flat.run", runs / "ivf.run", "-m", "nDCG@10", "-m", "MAP", "-m", "R@100", "--json")
    means = json.loads(r.stdout)
    flat, ivf = means["flat.run"], means["ivf.run"]
    assert flat["nDCG@10"] >= 0.429 and flat["MAP"] >= 0.274 and flat["R@100"] >= 0.60, flat
    assert abs(ivf["nDCG@10"] - flat["nDCG@10"]) <= 0.01
    top = lambda run: run[run["rank"] <= 10].groupby("qid")["docid"].apply(set)
    ta, tb = top(read_run(runs / "flat.run")), top(read_run(runs / "ivf.run"))
    assert np.mean([len(ta[q] & tb[q]) / 10 for q in ta.index]) >= 0.95


@pytest.mark.parametrize("name", ["flat.run", "ivf.run"])
def test_eval_agrees_with_pytrec_eval_on_every_query(vaswani_minilm, runs, name):
    qrels, run = read_qrels(vaswani_minilm["beir"]), read_run(runs / name)
    pq = per_query(qrels, run, parse_measures(list(PTE)))
    ref = pytrec(qrels, run)
    assert len(ref) == 93
    for m, (key, _) in PTE.items():
        got = pq[pq.measure == m].set_index("qid")["value"]
        assert max(abs(got[q] - v[key]) for q, v in ref.items()) < 1e-9, m
