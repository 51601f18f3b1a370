


def test_chain_runs_end_to_end(vr, sample, sample_chain, tmp_path):
    run = tmp_path / "flat.run"
    r = vr("query", "--index", sample_chain["flat"], "--queries", sample, "-k", 50, "--out", run)
    assert r.exit_code == 0, r.stderr
    lines = run.read_text().splitlines()
    assert len(lines) == 40 * 50
    r = vr("eval", "--qrels", sample, run, "-m", "nDCG@10", "--json")
    assert r.exit_code == 0, r.stderr
    assert '"flat.run"' in r.stdout
