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
                "qps_min", "qps_max", "p50_ms_min", "p50_ms_max", "batch_qps", "batch_qps_min", "batch_qps_max",
                "mean_ms", "repetitions", "batch_queries", "load1_before", "load1_after", "build_s", "index_bytes",
                "pareto"):
        assert col in df.columns
    # QPS is ann-benchmarks' single-thread QPS (1 / mean latency); the batch pass is its own column, on the
    # queries tiled to at least 1,000 rows.
    assert np.allclose(df["qps"], 1000.0 / df["mean_ms"]) and (df["repetitions"] == 1).all()
    assert (df["batch_queries"] == 1000).all() and df["batch_qps"].gt(0).all()
    load = manifest["stats"]["load"]
    assert set(load) == {"cores", "load1_before", "load1_after", "own_cpus", "others", "busy"}
    assert manifest["params"]["timing_method"] == 2 and manifest["params"]["min_batch_queries"] == 1000
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


def _interrupt_at_index(monkeypatch, n: int) -> list[int]:
    """Make the n-th built index's timing raise KeyboardInterrupt (what Ctrl-C does); returns the call log."""
    import vecrecall.sweep.runner as runner

    real, calls = runner.time_settings, []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(runner, "time_settings", flaky)
    return calls


def test_interrupted_sweep_keeps_finished_indexes_and_resumes(vr, sample_chain, tmp_path, monkeypatch):
    calls = _interrupt_at_index(monkeypatch, 3)
    out, partial = tmp_path / "sw", tmp_path / ".sw.partial"
    r = _sweep(vr, sample_chain, *IVF_GRID, "--out", out)
    assert r.exit_code == 130
    # Nothing at --out until the sweep is complete; the two finished indexes (4 + 5 rows) are kept for --resume,
    # and the message says exactly that.
    assert not out.exists()
    assert len(pd.read_parquet(partial / "results.parquet")) == 9
    assert json.loads((partial / "manifest.json").read_text())["stats"]["complete"] is False
    assert r.stderr.strip().splitlines()[-1] == (
        f"interrupted; partial results kept in {partial} (2 of 3 indexes finished, 9 settings measured; run the same "
        "command with --resume to continue)")
    # A plain re-run says to pass --resume (and does nothing).
    assert_user_error(_sweep(vr, sample_chain, *IVF_GRID, "--out", out), f"{out}: an interrupted sweep left 9 measured "
                      f"settings in {partial}; pass --resume to continue it, or --overwrite to start afresh")
    calls.clear()
    r = _sweep(vr, sample_chain, *IVF_GRID, "--out", out, "--resume")
    assert r.exit_code == 0, r.stderr
    assert len(calls) == 1  # only nlist=32 is built and timed
    assert not partial.exists() and not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 15 and df["setting"].is_unique
    stats = json.loads((out / "manifest.json").read_text())["stats"]
    assert stats["complete"] and stats["builds"] == 1 and stats["builds_total"] == 3
    assert sorted(json.loads((out / "manifest.json").read_text())["files"]) == ["recall_vs_qps.png", "results.parquet"]


def test_overwrite_keeps_the_old_sweep_until_the_new_one_is_complete(vr, sample_chain, tmp_path, monkeypatch):
    out = tmp_path / "sw"
    grid = ["--backend", "faiss", "--index-type", "IVF", "--nlist", "8,16", "--nprobe", "1,4"]
    assert _sweep(vr, sample_chain, *grid, "--out", out, "--target-recall", "0.5").exit_code == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    assert set(before) == {"manifest.json", "results.parquet", "recall_vs_qps.png", "target-recall-0.5.yaml"}
    _interrupt_at_index(monkeypatch, 2)
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "IVF", "--nlist", "8,16", "--nprobe", "2",
               "--out", out, "--overwrite")
    assert r.exit_code == 130
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # the old sweep, byte for byte
    assert f"(1 of 2 indexes finished, 1 settings measured; {out} itself is unchanged; run the same command with " \
           "--resume to continue)" in r.stderr
    monkeypatch.undo()
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "IVF", "--nlist", "8,16", "--nprobe", "2",
               "--out", out, "--overwrite", "--json")
    assert r.exit_code == 0, r.stderr
    assert [x["nprobe"] for x in json.loads(r.stdout)["rows"]] == [2, 2]
    assert sorted(f.name for f in out.iterdir()) == ["manifest.json", "recall_vs_qps.png", "results.parquet"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


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


def _ann_benchmarks_file(path, n=300, nq=20, dim=8, k=10):
    """An ann-benchmarks HDF5 file (euclidean) with its exact neighbours."""
    import h5py

    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(n, dim)).astype(np.float32), rng.normal(size=(nq, dim)).astype(np.float32)
    d = ((test[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    with h5py.File(path, "w") as f:
        f["train"], f["test"] = train, test
        f["neighbors"] = np.argsort(d, axis=1, kind="stable")[:, :k].astype(np.int32)
        f["distances"] = np.sort(d, axis=1)[:, :k].astype(np.float32)
        f.attrs["distance"] = "euclidean"
    return path


def test_an_ann_benchmarks_file_is_swept_against_its_own_neighbours(vr, tmp_path):
    h5 = _ann_benchmarks_file(tmp_path / "a.hdf5")
    out = tmp_path / "sw"
    r = vr("sweep", "--embeddings", h5, *FAST, "--backend", "faiss", "--index-type", "IVF", "--nlist", "8",
           "--nprobe", "1,8", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert [x["nprobe"] for x in rows] == [1, 8] and rows[1]["recall@10"] == 1.0 and rows[0]["recall@10"] < 1.0
    m = json.loads((out / "manifest.json").read_text())
    assert m["params"]["metric"] == "l2" and m["inputs"]["hdf5"]["format"] == "ann-benchmarks hdf5"
    assert m["stats"]["ground_truth"] == "from a.hdf5 'neighbors' (brute force agrees on all 20 sampled queries)"
    assert_user_error(vr("sweep", "--embeddings", h5, "--queries", h5, "--backend", "faiss"),
                      "an ann-benchmarks file brings its own queries ('test'); drop --queries/--holdout")
    assert_user_error(vr("sweep", "--embeddings", h5, "-k", "11", "--backend", "faiss"), "-k 11:",
                      "holds 10 neighbours per query")
