"""Metadata filters: the expression language (parse errors with positions, semantics against pandas), translation,
and filtered search equal to exact filtered search for Flat (pre-filter and over-fetch/post-filter paths)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, assert_user_error

from vecrecall.errors import UserError
from vecrecall.filters import MILVUS, SQL, parse, row_mask, translate


@pytest.fixture(scope="module")
def meta() -> pd.DataFrame:
    from vecrecall.io.texts import load_texts

    return load_texts(SAMPLE, "corpus").drop(columns=["text"])


@pytest.mark.parametrize("expr,expected", [
    ("year >= 2020 and lang == 'en'", lambda d: (d.year >= 2020) & (d.lang == "en")),
    ("year >= 2020 AND lang = \"en\"", lambda d: (d.year >= 2020) & (d.lang == "en")),
    ("2000 <= year", lambda d: d.year >= 2000),
    ("lang in ('de') or year < 2000 and lang != 'de'", lambda d: (d.lang == "de") | ((d.year < 2000) & (d.lang != "de"))),
    ("(lang in ['de'] or year < 2000) and not lang == 'de'", lambda d: (d.year < 2000) & (d.lang != "de")),
    ("lang not in ('en', 'fr')", lambda d: ~d.lang.isin(["en", "fr"])),
    ("date < '2000-01-01'", lambda d: pd.to_datetime(d.date) < pd.Timestamp("2000-01-01")),
    ("date >= '2010-06-15' and date <= '2010-12-31'",
     lambda d: pd.to_datetime(d.date).between(pd.Timestamp("2010-06-15"), pd.Timestamp("2010-12-31"))),
    ("not not year == 1997", lambda d: d.year == 1997),
    ("id in ('9', '12')", lambda d: d.id.isin(["9", "12"])),
])
def test_semantics_match_pandas(meta, expr, expected):
    mask = row_mask(expr, meta)
    want = expected(meta).to_numpy(dtype=bool)
    assert mask.dtype == bool and np.array_equal(mask, want)
    assert 0 < mask.sum() < len(meta) or expr.startswith("id")


@pytest.mark.parametrize("expr,fragment", [
    ("year >= and", "expected a value (a number, 'text', true or false), found 'and' at position 9"),
    ("(year > 3", "expected ')', found the end of the expression at position 10"),
    ("year @ 3", "unexpected character '@' at position 6"),
    ("year 3", "expected a comparison (== != < <= > >=) or 'in' after 'year', found '3' at position 6"),
    ("", "empty filter at position 1"),
    ("year > 3 lang", "expected 'and', 'or' or the end, found 'lang' at position 10"),
    ("lang in 'en'", "expected '(' or '[' after 'in'"),
    ("yeer >= 2020", "unknown column 'yeer'"),
    ("year == 'x'", "column 'year' holds numbers"),
    ("lang == 5", "column 'lang' holds text; quote the value"),
    ("lang < '2020-01-01'", "is compared with a date"),
    ("year > 1 and import('os')", "expected a comparison"),
])
def test_errors_name_the_position(meta, expr, fragment):
    with pytest.raises(UserError) as exc:
        row_mask(expr, meta)
    msg = str(exc.value)
    assert fragment in msg and "\n" not in msg and msg.startswith("--filter")


def test_missing_values_never_match():
    df = pd.DataFrame({"x": [1.0, None, 3.0], "s": ["a", None, "b"]})
    assert row_mask("x != 1", df).tolist() == [False, False, True]
    assert row_mask("not x == 1", df).tolist() == [False, True, True]
    assert row_mask("s not in ('a')", df).tolist() == [False, False, True]


def test_translate():
    node = parse("year >= 2020 and (lang == 'en' or lang not in ('de', \"x'y\")) and not flag == true")
    assert translate(node, MILVUS) == ('(year >= 2020 and (lang == "en" or lang not in ["de", "x\'y"]) and '
                                       'not (flag == true))')
    assert translate(node, SQL) == ('("year" >= 2020 AND ("lang" = \'en\' OR "lang" NOT IN (\'de\', \'x\'\'y\')) AND '
                                    'NOT ("flag" = TRUE))')


def exact_filtered(chain, mask: np.ndarray, k: int) -> dict[str, tuple[list[float], dict[str, float]]]:
    """Brute-force cosine among allowed rows: per query, the top-k scores and every allowed document's score."""
    from vecrecall.artifacts import load_embeddings
    from vecrecall.encoders import l2_normalize

    d, q = load_embeddings(chain["emb"]), load_embeddings(chain["qemb"])
    s = l2_normalize(np.asarray(q.vectors)) @ l2_normalize(np.asarray(d.vectors)).T
    ids = d.ids["id"].astype(str).to_numpy()
    out = {}
    for qid, row in zip(q.ids["id"].astype(str), s):
        allowed = row[mask]
        out[qid] = (sorted(allowed, reverse=True)[:k], dict(zip(ids[mask], row[mask].tolist())))
    return out


def compare(run: pd.DataFrame, exact: dict, mask_ids: set[str]) -> None:
    """The run is an exact filtered top-k: only allowed documents, the true top-k scores, each document's true score
    (so it equals brute force up to the order of exactly tied scores)."""
    assert set(run["docid"]) <= mask_ids
    for qid, (top, every) in exact.items():
        got = run[run["qid"] == qid]
        assert got["score"].to_numpy() == pytest.approx(top, abs=1e-5)
        assert got["score"].to_numpy() == pytest.approx([every[d] for d in got["docid"]], abs=1e-5)


@pytest.mark.parametrize("expr", ["year >= 2015 and lang == 'en'", "date < '1996-01-01'", "id == '9'"])
@pytest.mark.parametrize("prefilter", [True, False])
def test_flat_filtered_equals_exact(sample_chain, meta, monkeypatch, expr, prefilter):
    from vecrecall.indexes.faiss import FaissIndex
    from vecrecall.search import run_query

    if not prefilter:  # force the over-fetch + post-filter path
        monkeypatch.setattr(FaissIndex, "supports_filter", property(lambda self: False))
    mask = row_mask(expr, meta)
    res = run_query(sample_chain["flat"], sample_chain["qemb"], k=10, filter_expr=expr)
    assert res.manifest.params["filter"] == expr and res.manifest.params["filter_rows"] == int(mask.sum())
    compare(res.run, exact_filtered(sample_chain, mask, 10), set(meta["id"][mask]))


def test_hnswlib_and_annoy_filters(vr, sample_chain, meta, tmp_path):
    from vecrecall.search import run_query

    expr = "lang == 'de' and year < 2000"
    mask = row_mask(expr, meta)
    exact = exact_filtered(sample_chain, mask, 10)
    for backend, extra in (("hnswlib", ["--ef-construction", "200"]), ("annoy", ["--n-trees", "20"])):
        assert vr("build-index", "--embeddings", sample_chain["emb"], "--backend", backend, *extra,
                  "--out", tmp_path / backend).exit_code == 0
        params = {"ef_search": 200} if backend == "hnswlib" else {}
        run = run_query(tmp_path / backend, sample_chain["qemb"], k=10, search_params=params, filter_expr=expr).run
        assert set(run["docid"]) <= set(meta["id"][mask])
        assert run.groupby("qid").size().min() == 10  # over-fetch / filtered graph search fills k
        # recall of the exact filtered top-10 scores (by value, so ties do not matter)
        found = [np.isclose(run[run["qid"] == q]["score"].to_numpy()[:, None], np.asarray(top)[None, :], atol=1e-5).any(0).mean()
                 for q, (top, _) in exact.items()]
        assert np.mean(found) >= 0.8, backend


def test_cli_filter_errors_write_nothing(vr, sample_chain, tmp_path):
    out = tmp_path / "r.run"
    r = vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--filter", "year >= and", "--out", out)
    assert_user_error(r, "position 9")
    r = vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--filter", "country == 'x'", "--out", out)
    assert_user_error(r, "unknown column 'country'", "year")
    assert not out.exists()
    r = vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--filter", "year > 3000", "--out", out)
    assert r.exit_code == 0  # nothing matches: an empty result for every query, not an error
