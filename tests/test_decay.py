"""Time decay: the documented formula on hand-computed values, date parsing, the decay command and fuse --decay-field."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SAMPLE, assert_user_error

from vecrecall.decay import DecaySettings, apply_decay, parse_half_life, to_dates
from vecrecall.errors import UserError


def test_parse_half_life():
    assert parse_half_life("30d") == 30 and parse_half_life("12h") == 0.5 and parse_half_life("2w") == 14
    assert parse_half_life("1y") == 365.25 and parse_half_life("7") == 7
    for bad in ("", "0d", "-3d", "soon", "3x"):
        with pytest.raises(UserError, match="--half-life"):
            parse_half_life(bad)


def test_formula_hand_computed():
    run = pd.DataFrame({"qid": ["q"] * 3 + ["r"], "docid": ["a", "b", "c", "a"], "rank": [1, 2, 3, 1],
                        "score": [1.0, 0.5, 0.0, 7.0]})
    dates = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-31", None]), index=["a", "b", "c"])
    out = apply_decay(run, dates, DecaySettings("date", half_life_days=15, weight=0.5))  # now = newest = 2020-01-31
    q = out[out["qid"] == "q"]
    # a: minmax 1, age 30 d = 2 half-lives → .25 → .5·1 + .5·.25; b: .5·.5 + .5·1; c: no date → decay 0
    assert q["docid"].tolist() == ["b", "a", "c"]
    assert q["score"].tolist() == pytest.approx([0.75, 0.625, 0.0])
    assert out[out["qid"] == "r"]["score"].tolist() == pytest.approx([0.5 * 1 + 0.5 * 0.25])  # single doc: minmax 1
    later = apply_decay(run, dates, DecaySettings("date", 15, 1.0, now="2020-02-15"))
    assert later[later["qid"] == "q"]["score"].tolist() == pytest.approx([0.5, 0.125, 0.0])  # b 15 d old, a 45 d
    same = apply_decay(run, dates, DecaySettings("date", 15, 0.0))
    assert same[same["qid"] == "q"]["docid"].tolist() == ["a", "b", "c"]  # w = 0 keeps the ranking


def test_dates_from_years_and_bad_text():
    assert to_dates(pd.Series([1999, 2001]), "x").tolist() == [pd.Timestamp("1999-07-01"), pd.Timestamp("2001-07-01")]
    with pytest.raises(UserError, match="'yesterday' \\(row 2\\) is not a date"):
        to_dates(pd.Series(["2020-01-01", "yesterday"]), "corpus column 'date'")


def test_decay_command(vr, sample_chain, tmp_path):
    from vecrecall.io.runs import read_run

    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "20", "--out", run).exit_code == 0
    for src in (["--corpus", SAMPLE], ["--index", sample_chain["flat"]]):
        out = tmp_path / f"d{len(src[1].name)}.run"
        r = vr("decay", "--run", run, *src, "--decay-field", "date", "--half-life", "5y", "--decay-weight", "1",
               "--out", out)
        assert r.exit_code == 0, r.stderr
        got = read_run(out)
        meta = pd.read_parquet(sample_chain["flat"] / "ids.parquet").set_index("id")
        # weight 1: ranked by recency alone
        first = got[got["rank"] == 1].set_index("qid")["docid"]
        base = read_run(run)
        for qid, doc in first.items():
            cands = base[base["qid"] == qid]["docid"]
            assert meta.loc[doc, "date"] == meta.loc[cands, "date"].max()


def test_decay_bad_input(vr, sample_chain, tmp_path):
    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "5", "--out", run).exit_code == 0
    out = tmp_path / "x.run"
    assert_user_error(vr("decay", "--run", run, "--corpus", SAMPLE, "--decay-field", "published", "--out", out),
                      "--decay-field published", "year, date, lang")
    assert_user_error(vr("decay", "--run", run, "--corpus", SAMPLE, "--decay-field", "date", "--decay-weight", "2",
                         "--out", out), "--decay-weight 2")
    assert_user_error(vr("decay", "--run", run, "--decay-field", "date", "--out", out), "--corpus or --index")
    assert_user_error(vr("decay", "--run", run, "--corpus", SAMPLE, "--decay-field", "lang", "--out", out),
                      "'en' (row 1) is not a date")
    assert not out.exists()


def test_fuse_with_decay(vr, sample_chain, tmp_path):
    import json

    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "20", "--out", run).exit_code == 0
    r = vr("fuse", run, run, "--decay-field", "date", "--corpus", SAMPLE, "--half-life", "1y", "--decay-weight", "0.3",
           "--out", tmp_path / "f.run")
    assert r.exit_code == 0, r.stderr
    m = json.loads((tmp_path / "f.run.manifest.json").read_text())
    assert m["params"]["decay"]["half_life_days"] == 365.25 and "dates" in m["inputs"]
