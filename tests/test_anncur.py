"""anncur: CUR known answers, budgets enforced by the call counter, scorers, the index/query/bench CLI, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error

from vecrecall.anncur.adaptive import adacur, round_sizes
from vecrecall.anncur.cur import CurModel, effective_rank, top_unscored
from vecrecall.anncur.methods import METHODS, Plan, SearchContext
from vecrecall.anncur.scorers import BudgetExceeded, Items, MatrixScorer, QuerySet, ScoreBook


def low_rank(n_queries: int, n_items: int, rank: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_queries, rank)) @ rng.normal(size=(rank, n_items))


def write_matrix(d: Path, scores: np.ndarray, qids: list[str], iids: list[str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / "scores.npy", scores)
    (d / "query_ids.txt").write_text("\n".join(qids) + "\n")
    (d / "item_ids.txt").write_text("\n".join(iids) + "\n")
    return d


def matrix_book(scores: np.ndarray, tmp: Path) -> ScoreBook:
    qids = [f"q{i}" for i in range(scores.shape[0])]
    iids = [f"d{i}" for i in range(scores.shape[1])]
    m = write_matrix(tmp / "m", scores, qids, iids)
    return ScoreBook(MatrixScorer(m, Items(iids, [""] * len(iids))), use_cache=False)


# ---------------------------------------------------------------------------------------------------------------
# CUR: known answers
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k_q,k_i,rank", [(40, 20, 20), (60, 25, 7), (30, 30, 1), (25, 50, 10)])
def test_cur_reproduces_every_test_query_of_a_low_rank_matrix(k_q, k_i, rank):
    full = low_rank(k_q + 30, 300, rank, seed=rank)
    r_anc, test = full[:k_q], full[k_q:]
    anchors = np.random.default_rng(1).choice(300, size=k_i, replace=False)
    cur = CurModel.fit(r_anc, anchors)
    approx = cur.approx(test[:, anchors])
    assert approx.shape == test.shape
    np.testing.assert_allclose(approx, test, atol=1e-5, rtol=0)


def test_cur_is_not_exact_above_the_anchor_rank():
    full = low_rank(80, 200, 30, seed=3)
    anchors = np.arange(10)
    approx = CurModel.fit(full[:50], anchors).approx(full[50:, anchors])
    assert np.abs(approx - full[50:]).max() > 1e-2  # rank 30 > k_i = 10: CUR cannot be exact


def test_effective_rank_by_hand():
    # energies 9, 4, 1, 0.01 of 14.01: cumulative 0.642, 0.928, 0.99929 → 3 values hold 99%
    m = np.diag([3.0, 2.0, 1.0, 0.1])
    assert effective_rank(m) == 3
    assert effective_rank(m, energy=0.9) == 2
    assert effective_rank(low_rank(50, 80, 4)) <= 4
    assert effective_rank(np.zeros((3, 3))) == 0


def test_top_unscored_excludes_and_orders():
    s = np.array([0.5, 3.0, 2.0, 3.0, -1.0])
    assert top_unscored(s, np.array([1]), 3).tolist() == [3, 2, 0]
    assert top_unscored(s, np.array([], dtype=np.int64), 2).tolist() == [1, 3]  # tie broken by position
    assert top_unscored(s, np.arange(5), 3).tolist() == []


def test_round_sizes_split_the_budget():
    assert round_sizes(10, 3) == [4, 3, 3]
    assert sum(round_sizes(501, 5)) == 501
    assert round_sizes(2, 5) == [1, 1]


# ---------------------------------------------------------------------------------------------------------------
# Budgets: every method spends exactly its budget and can never exceed it
# ---------------------------------------------------------------------------------------------------------------


def test_call_counter_refuses_to_exceed_and_to_rescore(tmp_path):
    book = matrix_book(low_rank(2, 50, 3), tmp_path)
    c = book.counter("q0", "", limit=10)
    c.score(np.arange(6))
    with pytest.raises(BudgetExceeded):
        c.score(np.arange(6, 11))  # 6 + 5 > 10
    assert c.calls == 6
    with pytest.raises(BudgetExceeded):
        c.score(np.array([5]))  # already scored
    c.score(np.arange(6, 10))
    assert c.calls == 10
    items, scores = c.top(3)
    exact = low_rank(2, 50, 3)[0, :10]
    assert items.tolist() == np.argsort(-exact)[:3].tolist()
    np.testing.assert_allclose(scores, np.sort(exact)[::-1][:3])


@pytest.mark.parametrize("budget", [20, 37, 60])
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_spends_exactly_its_budget(tmp_path, method, budget):
    full = low_rank(70, 120, 40, seed=5) + np.random.default_rng(2).normal(scale=0.5, size=(70, 120))
    book = matrix_book(full, tmp_path)
    rng = np.random.default_rng(0)
    bi = rng.normal(size=(120, 8))
    ctx = SearchContext(full[:50], rng.permutation(120), bi)
    plan = Plan(budget=budget, k=10, k_i=15, rounds=4)
    for q in range(50, 70):
        counter = book.counter(f"q{q}", "", limit=budget)
        METHODS[method].run(ctx, counter, rng.normal(size=8), plan)
        assert counter.calls == budget
        assert len(counter.scored) == budget  # distinct items
    assert book.computed > 0


def test_anncur_and_adacur_find_the_exact_top_k_on_a_low_rank_matrix(tmp_path):
    full = low_rank(80, 400, 6, seed=7)
    book = matrix_book(full, tmp_path)
    ctx = SearchContext(full[:40], np.random.default_rng(0).permutation(400))
    for name in ("anncur", "adacur"):
        for q in range(40, 80):
            counter = book.counter(f"q{q}", "", limit=30)
            METHODS[name].run(ctx, counter, None, Plan(budget=30, k=10, k_i=10, rounds=3))
            assert counter.top(10)[0].tolist() == np.argsort(-full[q])[:10].tolist(), (name, q)


def test_adacur_spends_budget_across_rounds(tmp_path):
    full = low_rank(60, 100, 5)
    book = matrix_book(full, tmp_path)
    counter = book.counter("q55", "", limit=23)
    adacur(full[:50], np.arange(100), counter, 23, rounds=4)
    assert counter.calls == 23
    assert set(range(6)) <= set(counter.scored)  # round 1 = the first 6 of the given order


def cached_matrix_scorer(tmp_path, monkeypatch, n_queries: int):
    """A low-rank n_queries × 30 matrix scorer with a persistent score cache under tmp_path → (matrix, scorer, qids)."""
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(tmp_path / "cache"))
    full = low_rank(n_queries, 30, 2)
    qids, iids = [f"q{i}" for i in range(n_queries)], [f"d{i}" for i in range(30)]
    m = write_matrix(tmp_path / "m", full, qids, iids)
    return full, lambda: MatrixScorer(m, Items(iids, [""] * 30)), qids


def test_score_cache_persists_across_books(tmp_path, monkeypatch):
    full, scorer, qids = cached_matrix_scorer(tmp_path, monkeypatch, 5)
    a = ScoreBook(scorer())
    a.score_all(QuerySet(qids, [""] * 5), "x")
    assert a.computed == 150
    a.close()
    b = ScoreBook(scorer())
    np.testing.assert_allclose(b.score(QuerySet(["q3"], [""]), np.array([4, 2])), full[[3]][:, [4, 2]])
    assert b.computed == 0


def test_a_cached_pair_is_never_scored_again(tmp_path, monkeypatch):
    """`anncur query` caches the pairs it scored; the bench's exact matrix then scores only the rest (a block of
    queries used to rescore, for every query, any item some other query of the block still missed)."""
    full, scorer, qids = cached_matrix_scorer(tmp_path, monkeypatch, 4)
    a = ScoreBook(scorer())
    a.score(QuerySet(["q0"], [""]), np.arange(10))
    a.score(QuerySet(["q1"], [""]), np.arange(5, 20))
    a.close()
    b = ScoreBook(scorer())
    np.testing.assert_allclose(b.score_all(QuerySet(qids, [""] * 4), "x"), full)
    assert b.computed == 4 * 30 - 10 - 15


# ---------------------------------------------------------------------------------------------------------------
# CLI with the matrix scorer (fast, exact answers)
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def matrix_setup(tmp_path):
    """A rank-5 score matrix over 200 items: 40 anchor queries, 15 test queries; a JSONL corpus of the items."""
    full = low_rank(55, 200, 5, seed=11)
    qids = [f"a{i}" for i in range(40)] + [f"t{i}" for i in range(15)]
    iids = [f"doc{i}" for i in range(200)]
    m = write_matrix(tmp_path / "matrix", full[:, ::-1], qids, iids[::-1])  # columns in another order
    (tmp_path / "anchors.txt").write_text("\n".join(qids[:40]))
    (tmp_path / "test.txt").write_text("\n".join(qids[40:]))
    with open(tmp_path / "corpus.jsonl", "w") as f:
        for i in iids:
            f.write(json.dumps({"_id": i, "text": f"text of {i}"}) + "\n")
    return {"dir": tmp_path, "matrix": m, "full": full, "qids": qids, "iids": iids}


def test_cli_matrix_chain_index_query_bench(vr, matrix_setup):
    d, full, iids = matrix_setup["dir"], matrix_setup["full"], matrix_setup["iids"]
    r = vr("anncur", "index", "--scorer", "matrix", "--scorer-path", matrix_setup["matrix"], "--corpus", d / "corpus.jsonl",
           "--anchor-queries", f"ids:{d / 'anchors.txt'}", "--k-i", 10, "--biencoder", "none", "--out", d / "idx", "--json")
    assert r.exit_code == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["k_q"] == 40 and stats["k_i"] == 10 and stats["n_items"] == 200 and stats["effective_rank_99"] <= 5
    np.testing.assert_allclose(np.load(d / "idx" / "r_anc.npy"), full[:40])

    r = vr("anncur", "query", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}", "--budget", 20, "-k", 5,
           "--out", d / "run.parquet")
    assert r.exit_code == 0, r.stderr
    run = pd.read_parquet(d / "run.parquet")
    for j, qid in enumerate(matrix_setup["qids"][40:]):
        got = run[run.qid == qid].sort_values("rank")
        assert got.docid.tolist() == [iids[i] for i in np.argsort(-full[40 + j])[:5]]
        np.testing.assert_allclose(got.score, np.sort(full[40 + j])[::-1][:5])
    manifest = json.loads((d / "run.parquet.manifest.json").read_text())
    assert manifest["stats"]["scorer_calls_per_query_max"] == 20

    assert_user_error(vr("anncur", "bench", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}", "--out",
                         d / "bench"), "has no bi-encoder vectors (built with --biencoder none)", "--baseline none")
    assert not (d / "bench").exists()
    r = vr("anncur", "bench", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}", "--budgets", "10,20,40",
           "-k", "1,5", "--baseline", "none", "--out", d / "bench")
    assert r.exit_code == 0, r.stderr
    assert "ADACUR" in r.stdout and "Top-5" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines() if not line.startswith("wrote ")) <= 80, r.stdout
    r = vr("anncur", "bench", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}", "--budgets", "10,20,40",
           "-k", "1,5", "--baseline", "none", "--out", d / "bench-json", "--json")
    strict = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert {row["k_i"] for row in strict["results"] if row["method"] == "adacur"} == {None}
    table = pd.read_parquet(d / "bench" / "results.parquet")
    assert set(table.method) == {"anncur", "adacur"}
    assert (table.calls_min == table.budget).all() and (table.calls_max == table.budget).all()
    # rank 5 ≤ k_i: from budget 20 (k_i 10) ANNCUR is exact
    assert table.query("budget >= 20 and method == 'anncur'")["top5_recall"].min() == 1.0
    assert (d / "bench" / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((d / "bench" / "manifest.json").read_text())["type"] == "anncur-bench"


def test_cli_bad_input_writes_nothing(vr, matrix_setup, tmp_path):
    d = matrix_setup["dir"]
    base = ["anncur", "index", "--scorer", "matrix", "--scorer-path", matrix_setup["matrix"],
            "--anchor-queries", f"ids:{d / 'anchors.txt'}", "--biencoder", "none"]
    assert_user_error(vr(*base, "--k-i", 201, "--out", d / "x"), "--k-i 201", "200 items")
    assert_user_error(vr(*base, "--k-i", 41, "--out", d / "x"), "--k-i 41", "40 anchor queries", "rank",
                      "--allow-underdetermined")
    assert not (d / "x").exists()
    assert vr(*base, "--k-i", 41, "--allow-underdetermined", "--out", d / "x").exit_code == 0
    assert_user_error(vr("anncur", "index", "--scorer", "cross-encoder", "--scorer-path", d / "nope", "--corpus",
                         d / "corpus.jsonl", "--out", d / "y"), "--scorer-path", "nope")
    assert_user_error(vr(*base[:-2], "--biencoder", "none", "--k-i", 5, "--scorer", "bogus", "--out", d / "y"), "--scorer bogus")
    # matrix item ids must cover the corpus
    with open(tmp_path / "other.jsonl", "w") as f:
        f.write(json.dumps({"_id": "zzz", "text": "x"}) + "\n")
    assert_user_error(vr(*base, "--corpus", tmp_path / "other.jsonl", "--k-i", 1, "--out", d / "y"),
                      "item_ids.txt", "'zzz'")
    bad = write_matrix(tmp_path / "bad", np.zeros((3, 4)), ["a", "b", "c"], ["x", "y", "z"])
    assert_user_error(vr("anncur", "index", "--scorer", "matrix", "--scorer-path", bad, "--anchor-queries",
                         f"ids:{d / 'anchors.txt'}", "--biencoder", "none", "--out", d / "y"), "shape (3, 4)")
    assert not (d / "y").exists()
    # query: budget below k_i, unknown query id, unknown method
    assert vr(*base, "--k-i", 10, "--out", d / "idx").exit_code == 0
    q = ["anncur", "query", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}", "-k", 5]
    assert_user_error(vr(*q, "--budget", 8, "--out", d / "r.run"), "--budget 8", "k_i = 10")
    (tmp_path / "unknown.txt").write_text("nope\n")
    assert_user_error(vr("anncur", "query", "--index", d / "idx", "--queries", f"ids:{tmp_path / 'unknown.txt'}",
                         "--budget", 20, "--out", d / "r.run"), "query 'nope'", "query_ids.txt")
    assert_user_error(vr(*q, "--budget", 20, "--method", "magic", "--out", d / "r.run"), "--method magic")
    assert_user_error(vr(*q, "--budget", 20, "--method", "rerank", "--out", d / "r.run"), "bi-encoder")
    assert not (d / "r.run").exists()
    # bench: anchor queries as test queries, bad budgets
    assert_user_error(vr("anncur", "bench", "--index", d / "idx", "--queries", f"ids:{d / 'anchors.txt'}",
                         "--baseline", "none", "--budgets", 20), "also anchor queries")
    assert_user_error(vr("anncur", "bench", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}",
                         "--baseline", "none", "--budgets", "20,x"), "--budgets 20,x")
    assert_user_error(vr("anncur", "bench", "--index", d / "idx", "--queries", f"ids:{d / 'test.txt'}",
                         "--baseline", "none", "--budgets", "20", "--k-i", 30, "--out", d / "b"), "--k-i 30")
    assert not (d / "b").exists()


# ---------------------------------------------------------------------------------------------------------------
# Text scorers with tiny models
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from tiny_models import make_tiny_bi_encoder, make_tiny_cross_encoder

    d = tmp_path_factory.mktemp("tiny")
    return {"bi": make_tiny_bi_encoder(d / "bi"), "ce": make_tiny_cross_encoder(d / "ce")}


@pytest.fixture
def small_corpus(sample, tmp_path):
    """The first 150 sample documents as JSONL."""
    src = sample / "corpus.jsonl"
    lines = src.read_text().splitlines()[:150] if src.exists() else None
    assert lines, f"expected {src}"
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "c.jsonl"


def test_maxsim_equals_brute_force(tiny_models):
    from vecrecall.anncur.scorers import MaxSimScorer

    texts = ["neutron scattering in crystals", "a b", "dielectric constant of liquids by microwave techniques"]
    s = MaxSimScorer(tiny_models["bi"], Items(["x", "y", "z"], texts))
    got = s.compute(QuerySet(["q1", "q2"], ["microwave liquids", "crystals"]), np.array([2, 0, 1]))
    qtok = s._queries(["microwave liquids", "crystals"])
    for qi, qt in enumerate(qtok):
        for j, item in enumerate([2, 0, 1]):
            it = s.tokens[s.offsets[item] : s.offsets[item + 1]]
            expect = sum(max(float(a @ b) for b in it) for a in qt)
            assert got[qi, j] == pytest.approx(expect, abs=1e-4)
    np.testing.assert_allclose(np.linalg.norm(s.tokens, axis=1), 1.0, atol=1e-5)


def test_cross_encoder_and_emb_ce_scorers(tiny_models):
    import torch
    from sentence_transformers import CrossEncoder

    from vecrecall.anncur.scorers import make_scorer

    items = Items(["a", "b", "c"], ["alpha particle decay", "beta rays", "gamma ray bursts in the sky"])
    qs = QuerySet(["q"], ["ray decay"])
    ce = make_scorer("cross-encoder", tiny_models["ce"], items)
    ref = CrossEncoder(str(tiny_models["ce"]), device="cpu").predict(
        [("ray decay", t) for t in items.texts], activation_fn=torch.nn.Identity())
    np.testing.assert_allclose(ce.compute(qs, np.arange(3))[0], ref, atol=1e-5)
    emb = make_scorer("emb-ce", tiny_models["bi"], items)
    together = emb.compute(qs, np.arange(3))[0]
    alone = [emb.compute(qs, np.array([i]))[0, 0] for i in range(3)]  # padding must not change a pair's score
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert len(set(np.round(together, 5))) == 3


def test_cli_text_chain_with_biencoder_methods_and_qrels(vr, sample, small_corpus, tiny_models, tmp_path):
    idx = tmp_path / "idx"
    r = vr("anncur", "index", "--corpus", small_corpus, "--scorer", "maxsim", "--scorer-path", tiny_models["bi"],
           "--anchor-queries", "pseudo:40", "--k-i", 20, "--biencoder", "hash:64", "--out", idx, "--seed", 3)
    assert r.exit_code == 0, r.stderr
    aq = pd.read_parquet(idx / "anchor_queries.parquet")
    corpus_text = small_corpus.read_text()
    assert len(aq) == 40 and all(len(t.split()) >= 1 for t in aq.text)
    assert all(t.split()[0] in corpus_text for t in aq.text)  # pseudo-queries are corpus spans
    assert np.load(idx / "biencoder.npy").shape == (150, 64)
    r = vr("anncur", "bench", "--index", idx, "--queries", sample, "--budgets", "20,40", "-k", "1,10",
           "--qrels", sample, "--out", tmp_path / "bench", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    table = pd.DataFrame(data["results"])
    assert set(table.method) == set(METHODS) and len(table) == 8
    assert (table.calls_max == table.budget).all() and (table.calls_min == table.budget).all()
    assert table.query("budget == 20 and method == 'anncur'")["k_i"].iloc[0] == 10  # half of the budget
    assert "nDCG@10" in table.columns and "nDCG@10_exact" in data["summary"]
    assert data["summary"]["scorer_calls_computed"] == data["summary"]["scorer_calls_computed_exact"]  # all else cached
    # exact search is an upper bound for each method's Top-k recall of 1.0 at the full budget
    assert (table[["top1_recall", "top10_recall"]] <= 1.0).all().all()
    # a second bench with another --out reads every score from the cache
    r2 = vr("anncur", "bench", "--index", idx, "--queries", sample, "--budgets", "20", "-k", "10", "--json")
    assert json.loads(r2.stdout)["summary"]["scorer_calls_computed"] == 0
    assert (tmp_path / "idx-bench" / "results.parquet").exists()  # default --out: INDEX-bench
    # query → TREC run, same seed → same index
    r = vr("anncur", "query", "--index", idx, "--queries", sample, "--budget", 30, "-k", 5, "--method", "adacur",
           "--out", tmp_path / "a.run")
    assert r.exit_code == 0, r.stderr
    lines = (tmp_path / "a.run").read_text().splitlines()
    assert len(lines) == 40 * 5 and lines[0].split()[1] == "Q0"
    r = vr("anncur", "index", "--corpus", small_corpus, "--scorer", "maxsim", "--scorer-path", tiny_models["bi"],
           "--anchor-queries", "pseudo:40", "--k-i", 20, "--biencoder", "none", "--out", tmp_path / "idx2", "--seed", 3)
    assert r.exit_code == 0
    np.testing.assert_array_equal(np.load(idx / "r_anc.npy"), np.load(tmp_path / "idx2" / "r_anc.npy"))
    assert_user_error(vr("anncur", "index", "--corpus", small_corpus, "--out", idx, "--biencoder", "none"),
                      "already exists", "--overwrite")


# ---------------------------------------------------------------------------------------------------------------
# Acceptance on real data: Vaswani subset, MaxSim over the bundled MiniLM, bi-encoder = MiniLM
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.vaswani
@pytest.mark.slow
def test_vaswani_subset_maxsim_bench(vr, vaswani, tmp_path):
    """600 documents (all judged for 20 queries + seeded others), 150 pseudo-queries as anchors, the 20 queries as
    test queries: every method spends exactly its budget, recall grows with the budget, and the PNG/Parquet land."""
    qrels = pd.read_csv(vaswani / "beir" / "qrels" / "test.tsv", sep="\t", dtype=str)
    qids = sorted(qrels["query-id"].unique(), key=int)[:20]
    judged = set(qrels[qrels["query-id"].isin(qids)]["corpus-id"])
    docs = [json.loads(line) for line in open(vaswani / "beir" / "corpus.jsonl")]
    others = [d["_id"] for d in docs if d["_id"] not in judged]
    keep = judged | set(np.random.default_rng(0).choice(others, 600 - len(judged), replace=False))
    with open(tmp_path / "corpus.jsonl", "w") as f:
        f.writelines(json.dumps(d) + "\n" for d in docs if d["_id"] in keep)
    with open(tmp_path / "queries.jsonl", "w") as f:
        f.writelines(line for line in open(vaswani / "beir" / "queries.jsonl") if json.loads(line)["_id"] in qids)
    r = vr("anncur", "index", "--corpus", tmp_path / "corpus.jsonl", "--scorer", "maxsim", "--anchor-queries",
           "pseudo:150", "--k-i", 50, "--out", tmp_path / "idx")
    assert r.exit_code == 0, r.stderr
    r = vr("anncur", "bench", "--index", tmp_path / "idx", "--queries", tmp_path / "queries.jsonl", "--budgets",
           "25,50,100", "-k", "1,10", "--qrels", vaswani / "beir", "--out", tmp_path / "bench", "--json")
    assert r.exit_code == 0, r.stderr
    table = pd.read_parquet(tmp_path / "bench" / "results.parquet")
    assert len(table) == 12 and (table.calls_min == table.budget).all() and (table.calls_max == table.budget).all()
    for _, part in table.groupby("method"):
        assert part.sort_values("budget")["top10_recall"].is_monotonic_increasing
    assert table.query("budget == 100")["top10_recall"].min() > 0.8
    summary = json.loads(r.stdout)["summary"]
    assert 1 <= summary["effective_rank_99_anchor"] <= 150
    assert summary["nDCG@10_exact"] > 0.4  # MaxSim over MiniLM on judged-rich subset: a real ranker
    assert (tmp_path / "bench" / "recall.png").stat().st_size > 10_000


def test_cli_cross_encoder_index_on_onnx_keeps_its_backend(vr, small_corpus, tmp_path):
    """`anncur index --scorer-backend onnx` scores the anchor matrix with the exported cross-encoder (as PyTorch,
    to float32 rounding); the index records the backend and `anncur query` scores with it; other scorers refuse it."""
    pytest.importorskip("onnxruntime")
    from tiny_models import make_tiny_cross_encoder

    model = make_tiny_cross_encoder(tmp_path / "ce", seed=5, initializer_range=0.5)
    base = ["anncur", "index", "--corpus", small_corpus, "--scorer", "cross-encoder", "--scorer-path", model,
            "--anchor-queries", "pseudo:12", "--k-i", "6", "--biencoder", "none", "--max-length", "64", "--no-cache"]
    for backend in ("torch", "onnx"):
        r = vr(*base, "--scorer-backend", backend, "--out", tmp_path / backend)
        assert r.exit_code == 0, r.stderr
    r_torch, r_onnx = (np.load(tmp_path / b / "r_anc.npy") for b in ("torch", "onnx"))
    assert r_torch.std() > 0.1
    np.testing.assert_allclose(r_onnx, r_torch, atol=1e-4)
    info = json.loads((tmp_path / "onnx" / "manifest.json").read_text())["params"]
    assert info["scorer_backend"] == "onnx" and info["scorer_info"]["backend"] == "onnx"
    assert info["scorer_info"]["fingerprint"] != json.loads((tmp_path / "torch" / "manifest.json").read_text())[
        "params"]["scorer_info"]["fingerprint"]
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"_id": "q1", "text": "plasma waves"}) + "\n")
    r = vr("anncur", "query", "--index", tmp_path / "onnx", "--queries", q, "--budget", "10", "-k", "3", "--out",
           tmp_path / "q.run")
    assert r.exit_code == 0, r.stderr
    assert_user_error(vr("anncur", "index", "--corpus", small_corpus, "--scorer", "maxsim", "--scorer-backend", "onnx",
                         "--out", tmp_path / "x"), "--scorer-backend onnx: applies to --scorer cross-encoder only")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("option,value", [("--scorer-backend", "openvino"), ("--scorer-quantize", "int8")])
def test_cli_scorer_backend_options_name_themselves_for_other_scorers(vr, small_corpus, tmp_path, option, value):
    r = vr("anncur", "index", "--corpus", small_corpus, "--scorer", "maxsim", option, value, "--anchor-queries",
           "pseudo:5", "--k-i", "3", "--biencoder", "none", "--out", tmp_path / "x")
    assert_user_error(r, f"{option} {value}: applies to --scorer cross-encoder only")
    assert "None" not in r.stderr and not (tmp_path / "x").exists()
