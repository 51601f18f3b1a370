"""`vecrecall sweep` through the CLI on sample_data (hash:64 encoder) and small synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import assert_user_error

IVF_GRID = ["--backend", "faiss", "--index-type", "IVF", "--nlist", "8,16,32", "--nprobe", "1,2,4,8,16,32,nlist"]
FAST = ["--passes", "1", "--warmup", "5"]


def _sweep(vr, chain, *args):
    return vr("sweep", "--embeddings", chain["emb"], "--queries", chain["qemb"], *FAST, *args)


def test_ivf_grid_builds_once_per_nlist_and_recall_rises_with_nprobe(vr, sample_chain, tmp_path):
    out = tmp_path / "sweep"
    r = _sweep(vr, sample_chain, *IVF_GRID, "--out", out)
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["builds"] == 3
    assert manifest["stats"]["complete"] and manifest["stats"]["machine"]["cpu_count"] >= 1
    assert manifest["stats"]["machine"]["threads"]["latency"] == 1
    assert "faiss-cpu" in manifest["stats"]["machine"]["libraries"]
    df = pd.read_parquet(out / "results.parquet")
    # nprobe values above nlist run as nlist (faiss caps them): one row each, labelled with the value used.
    assert len(df) == 4 + 5 + 6
    assert (df["nprobe"] <= df["nlist"]).all()
    capped = df[(df["nlist"] == 8) & (df["nprobe"] == 8)]
    assert json.loads(capped["requested_json"].item()) == [{"nprobe": 8}, {"nprobe": 16}, {"nprobe": 32}]
    assert "nprobe=8, nprobe=16, nprobe=32 all run as nprobe=8" in r.stderr
    for col in ("backend", "index_type", "nlist", "nprobe", "recall@10", "p50_ms", "p95_ms", "p99_ms", "qps",
                "build_s", "index_bytes", "pareto"):
        assert col in df.columns
    for nl, part in df.groupby("nlist"):
        part = part.sort_values("nprobe")
        rec = part["recall@10"].to_numpy()
        assert (np.diff(rec) >= -1e-12).all(), (nl, rec)
        assert part.loc[part["nprobe"] == nl, "recall@10"].item() == 1.0
    assert (df["p50_ms"] <= df["p95_ms"]).all() and (df["p95_ms"] <= df["p99_ms"]).all()
    assert df["pareto"].any() and df["index_bytes"].gt(0).all()
    png = out / "recall_vs_qps.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "★" in r.stdout and "3 index builds" in r.stderr


def test_flat_recall_is_one_and_qrels_match_query_then_eval(vr, sample_chain, sample, tmp_path):
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "Flat", "--qrels", sample, "-m", "nDCG@10",
               "-m", "R@10", "-k", "10,5", "--json")
    assert r.exit_code == 0, r.stderr
    row = json.loads(r.stdout)["rows"][0]
    assert row["recall@10"] == 1.0 and row["recall@5"] == 1.0
    # The same setting through query + eval.
    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "10", "--out", run).exit_code == 0
    ev = vr("eval", "--qrels", sample, run, "-m", "nDCG@10", "-m", "R@10", "--json")
    means = json.loads(ev.stdout)["flat.run"]
    assert row["nDCG@10"] == pytest.approx(means["nDCG@10"], abs=1e-9)
    assert row["R@10"] == pytest.approx(means["R@10"], abs=1e-9)


def test_parameters_go_to_the_index_types_that_take_them(vr, sample_chain):
    """--index-type IVF,HNSW --nlist 8,16: nlist builds IVF twice and HNSW once; nprobe / ef_search go to their own
    type; a factory string keeps its comma; index types are case-insensitive."""
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "ivf,HNSW", "--nlist", "8,16", "--nprobe", "1,8",
               "--ef-search", "16,64", "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["builds"] == 3
    rows = pd.DataFrame(got["rows"])
    ivf, hnsw = rows[rows["index_type"] == "IVF"], rows[rows["index_type"] == "HNSW"]
    assert sorted(set(ivf["nlist"])) == [8, 16] and sorted(ivf["nprobe"]) == [1, 1, 8, 8] and ivf["ef_search"].isna().all()
    assert sorted(hnsw["ef_search"]) == [16, 64] and hnsw["nlist"].isna().all() and hnsw["nprobe"].isna().all()
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--factory", "IVF8,SQ8", "--nprobe", "1,8", "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert sorted(x["nprobe"] for x in rows) == [1, 8]
    assert {x["factory"] for x in rows} == {"IVF8,SQ8"}


def test_text_queries_are_encoded_with_the_corpus_model(vr, sample_chain, sample):
    a = _sweep(vr, sample_chain, "--backend", "hnswlib", "--hnsw-m", "8", "--ef-search", "16", "--json")
    b = vr("sweep", "--embeddings", sample_chain["emb"], "--queries", sample, *FAST, "--backend", "hnswlib",
           "--hnsw-m", "8", "--ef-search", "16", "--json")
    assert a.exit_code == 0 and b.exit_code == 0, (a.stderr, b.stderr)
    assert json.loads(a.stdout)["rows"][0]["recall@10"] == json.loads(b.stdout)["rows"][0]["recall@10"]


def test_saved_index_is_swept_without_building(vr, sample_chain, tmp_path):
    ivf = tmp_path / "ivf"
    assert vr("build-index", "--embeddings", sample_chain["emb"], "--index-type", "IVF", "--nlist", "16", "--out", ivf).exit_code == 0
    out = tmp_path / "sw"
    r = vr("sweep", "--index", ivf, "--queries", sample_chain["qemb"], *FAST, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["builds"] == 0
    assert [x["nprobe"] for x in got["rows"]] == [1, 2, 4, 8, 16]  # the default grid pow2(1, nlist)
    assert got["rows"][-1]["recall@10"] == 1.0


def test_default_config_runs_every_backend(vr, tmp_path):
    r = vr("sweep", "--synthetic", "2000x8", "--synthetic-queries", "20", *FAST, "--out", tmp_path / "s",
           "--target-recall", "0.9")
    assert r.exit_code == 0, r.stderr
    df = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert set(df["backend"]) == {"faiss", "hnswlib", "annoy", "usearch", "scann"}
    assert set(df.loc[df["backend"] == "faiss", "index_type"]) == {"Flat", "IVF", "IVFPQ", "HNSW"}
    assert df.loc[df["index_type"] == "Flat", "recall@10"].item() == 1.0
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["stats"]["builds"] == df["build_key"].nunique() == 10
    assert "fastest setting with recall@10 ≥ 0.9" in r.stdout


def test_target_recall_prints_commands_and_saves_a_usable_config(vr, sample_chain, tmp_path):
    out = tmp_path / "sw"
    r = _sweep(vr, sample_chain, *IVF_GRID, "--target-recall", "0.8", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    target, rows = got["target"], pd.DataFrame(got["rows"])
    ok = rows[rows["recall@10"] >= 0.8]
    assert target["qps"] == pytest.approx(ok["qps"].max()) and target["recall"] >= 0.8
    assert target["build"].startswith("vecrecall build-index --embeddings") and "--nlist" in target["build"]
    assert "--nprobe" in target["query"]
    saved = yaml.safe_load((out / "target-recall-0.8.yaml").read_text())
    (entry,) = saved["backends"].values()
    assert entry["backend"] == "faiss" and "nprobe" in entry["search"]
    again = _sweep(vr, sample_chain, "--config", out / "target-recall-0.8.yaml", "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["rows"][0]["recall@10"] == pytest.approx(target["recall"])


def test_target_recall_out_of_reach_says_so(vr, sample_chain):
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "IVF", "--nlist", "32", "--nprobe", "1",
               "--target-recall", "1.0")
    assert r.exit_code == 0
    assert "no setting reaches recall@10 ≥ 1" in r.stdout and "Widen the grid" in r.stdout


def test_interrupted_sweep_keeps_rows_and_resumes(vr, sample_chain, tmp_path, monkeypatch):
    import vecrecall.sweep.runner as runner

    real, calls = runner.measure, []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 9:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(runner, "measure", flaky)
    out = tmp_path / "sw"
    r = _sweep(vr, sample_chain, *IVF_GRID, "--out", out)
    assert r.exit_code == 130
    assert len(pd.read_parquet(out / "results.parquet")) == 8
    assert json.loads((out / "manifest.json").read_text())["stats"]["complete"] is False
    # Without --resume the directory is refused; with it only the 7 missing settings run, and nlist=8 is not rebuilt.
    assert_user_error(_sweep(vr, sample_chain, *IVF_GRID, "--out", out), "already exists", "--overwrite")
    calls.clear()
    monkeypatch.setattr(runner, "measure", lambda *a, **kw: (calls.append(1), real(*a, **kw))[1])
    r = _sweep(vr, sample_chain, *IVF_GRID, "--out", out, "--resume")
    assert r.exit_code == 0, r.stderr
    assert len(calls) == 7
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 15 and df["setting"].is_unique
    stats = json.loads((out / "manifest.json").read_text())["stats"]
    assert stats["complete"] and stats["builds"] == 2 and stats["builds_total"] == 4  # nlist=16 was built twice


def test_holdout_and_synthetic_sources(vr, sample_chain):
    r = vr("sweep", "--embeddings", sample_chain["emb"], "--holdout", "50", *FAST, "--backend", "faiss",
           "--index-type", "Flat", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"][0]["recall@10"] == 1.0
    r = vr("sweep", "--synthetic", "2000x8", "--synthetic-queries", "20", *FAST, "--backend", "annoy",
           "--n-trees", "5", "--search-k", "times(n_trees*k, 1, 1000)", "--metric", "l2", "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert [x["search_k"] for x in rows] == [50, 50_000]
    assert rows[1]["recall@10"] == 1.0  # search_k ≥ n_trees·n inspects every vector


@pytest.mark.parametrize("args, fragments", [
    (["--backend", "hnswlib", "--nprobe", "1,2"], ["--nprobe does not apply to hnswlib", "--ef-search"]),
    (["--backend", "faiss", "--index-type", "Flat", "--n-trees", "10"], ["--n-trees does not apply to faiss: not one of its parameters"]),
    (["--backend", "faiss", "--index-type", "IVF", "--nlist", "5000"], ["--nlist 5000", "2,000"]),
    (["--backend", "faiss", "--index-type", "IVFPQ", "--pq-m", "7"], ["--pq-m 7: must divide the dimension 64"]),
    (["--backend", "hnswlib", "--hnsw-m", "0"], ["--hnsw-m 0: hnswlib takes an integer from 2"]),
    (["--backend", "faiss", "--index-type", "IVF", "--nprobe", "0,4"], ["--nprobe 0: faiss IVF takes an integer ≥ 1"]),
    (["--backend", "annoy", "--n-trees", "0"], ["--n-trees 0: annoy takes an integer from 1"]),
    (["--backend", "faiss", "--index-type", "IVF", "--train-size", "0"], ["--train-size 0"]),
    (["--backend", "faiss", "--index-type", "IVF,HNSW", "--n-trees", "4"], ["--n-trees does not apply to faiss"]),
    (["--backend", "faiss", "--index-type", "HNSW", "--nprobe", "4"], ["--nprobe does not apply to faiss HNSW",
                                                                        "--ef-search"]),
    (["--backend", "faiss", "-k", "2001"], ["-k 2001", "2,000"]),
    (["--backend", "nosuch"], ["--backend nosuch: unknown backend"]),
    (["--backend", "faiss", "--nlist", "8,,16"], ["--nlist"]),
    (["--backend", "faiss", "--index-type", "IVF", "--nprobe", "pow2(1, nlsit)"], ["unknown name 'nlsit'"]),
    (["--backend", "faiss", "--param", "nlsit=4"], ["--nlsit does not apply to faiss", "--nlist"]),
    (["--backend", "faiss", "--nlist", "8", "--param", "nlist=16"], ["--nlist given twice"]),
    (["--config", "CFG_UNKNOWN"], ["unknown key 'serach'", "backend, build, search"]),
    (["--config", "CFG_BAD"], ["malformed YAML"]),
    (["--config", "CFG_EMPTY"], ["the grid is empty"]),
])
def test_bad_input_is_one_line_and_writes_nothing(vr, sample_chain, tmp_path, args, fragments):
    configs = {"CFG_UNKNOWN": "backends:\n  x:\n    backend: faiss\n    serach: {nprobe: 1}\n",
               "CFG_BAD": "backends: [unclosed\n", "CFG_EMPTY": "backends: {}\n"}
    args = list(args)
    for i, a in enumerate(args):
        if a in configs:
            path = tmp_path / f"{a}.yaml"
            path.write_text(configs[a])
            args[i] = str(path)
    out = tmp_path / "out"
    r = _sweep(vr, sample_chain, *args, "--out", out)
    assert_user_error(r, *fragments)
    assert not out.exists()


def test_source_options_are_checked(vr, sample_chain, tmp_path):
    assert_user_error(vr("sweep", "--backend", "faiss"), "exactly one of --embeddings, --index or --synthetic")
    assert_user_error(vr("sweep", "--embeddings", sample_chain["emb"], "--backend", "faiss"), "--queries", "--holdout")
    assert_user_error(vr("sweep", "--synthetic", "10", "--backend", "faiss"), "--synthetic '10'")
    assert_user_error(vr("sweep", "--embeddings", sample_chain["emb"], "--queries", sample_chain["qemb"], "--resume",
                         "--backend", "faiss"), "--resume needs --out")
