"""Unit tests of the sweep pieces: Pareto marking, grid expansion, ground truth and tie handling, harness threads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vecrecall.errors import UserError
from vecrecall.sweep.grid import data_context, evaluate, expand_build, parse_config, pow2
from vecrecall.sweep.groundtruth import GroundTruth, exact_topk, recall_at
from vecrecall.sweep.pareto import pareto_mask
from vecrecall.sweep.synthetic import SyntheticSpec, make_clustered, parse_shape


def test_pareto_on_hand_made_table():
    # recall, qps  → expected on the front?
    table = pd.DataFrame([
        (0.50, 1000.0, True),   # fastest of all
        (0.60, 900.0, True),
        (0.55, 800.0, False),   # row 1 is faster and more accurate
        (0.60, 700.0, False),   # row 1 is as accurate and faster
        (0.90, 300.0, True),
        (0.90, 300.0, True),    # exact duplicate of a front point: kept
        (0.85, 250.0, False),
        (1.00, 100.0, True),    # most accurate
        (0.99, 50.0, False),
        (np.nan, 5000.0, False),  # unmeasured rows never on the front
    ], columns=["recall", "qps", "expected"])
    got = pareto_mask(table["recall"].to_numpy(), table["qps"].to_numpy())
    assert got.tolist() == table["expected"].tolist()


def test_pareto_by_latency_uses_negated_latency():
    recall = np.array([0.9, 0.95, 0.95])
    p50 = np.array([1.0, 2.0, 3.0])
    assert pareto_mask(recall, -p50).tolist() == [True, True, False]


def test_expressions_and_pow2():
    ctx = data_context(10_000, 64, [10])
    assert ctx["sqrt_n"] == 100
    assert evaluate("4*sqrt_n", ctx, "x") == 400
    assert pow2(1, 20) == [1, 2, 4, 8, 16, 20]
    assert pow2(16, 64) == [16, 32, 64]
    assert evaluate("times(n_trees*k, 1, 4)", {**ctx, "n_trees": 10}, "x") == [100, 400]
    with pytest.raises(UserError, match="unknown name 'sqrtn'"):
        evaluate("sqrtn", ctx, "nlist")
    with pytest.raises(UserError, match="cannot evaluate"):
        evaluate("__import__('os')", ctx, "nlist")


def test_config_expands_build_sets_and_search_sets():
    ctx = data_context(10_000, 64, [10])
    cfg = {"backends": {"ivf": {"backend": "faiss", "build": {"index_type": "IVF", "nlist": ["sqrt_n", "2*sqrt_n", 200]},
                                "search": {"nprobe": "pow2(1, nlist)"}}}}
    sets = parse_config(cfg, "cfg.yaml", ctx)
    assert [s.params["nlist"] for s in sets] == [100, 200]  # 2*sqrt_n == 200 deduplicated
    assert sets[0].search_sets(ctx, ("nprobe",), sets[0].params) == [{"nprobe": v} for v in (1, 2, 4, 8, 16, 32, 64, 100)]
    # Search parameters the index takes but the grid omits get the default grid.
    hnsw = expand_build("h", "hnswlib", {"hnsw_m": [8]}, {}, ctx)[0]
    assert [s["ef_search"] for s in hnsw.search_sets(ctx, ("ef_search",), {})] == [16, 32, 64, 128, 256, 512]


@pytest.mark.parametrize("cfg, fragments", [
    ({"backend": {}}, ["unknown key 'backend'", "backends"]),
    ({"backends": {"x": {"backend": "faiss", "bulid": {}}}}, ["backends.x", "unknown key 'bulid'", "build, search"]),
    ({"backends": {"x": {"backend": "faiss", "build": {"nlsit": 4}}}}, ["backends.x.build", "unknown key 'nlsit'", "nlist"]),
    ({"backends": {"x": {"backend": "faiss", "search": {"nprob": 4}}}}, ["unknown key 'nprob'", "nprobe"]),
    ({"backends": {"x": {"backend": "nosuch"}}}, ["unknown backend 'nosuch'", "faiss"]),
    ({"backends": {}}, ["the grid is empty"]),
    ({"backends": {"x": {"backend": "faiss", "build": {"nlist": "lots"}}}}, ["unknown name 'lots'"]),
])
def test_config_errors_name_the_key(cfg, fragments):
    with pytest.raises(UserError) as exc:
        parse_config(cfg, "cfg.yaml", data_context(1000, 8, [10]))
    for f in fragments:
        assert f in str(exc.value)


def test_exact_topk_matches_full_sort_for_every_metric():
    rng = np.random.default_rng(1)
    x, q = rng.standard_normal((500, 8)).astype(np.float32), rng.standard_normal((7, 8)).astype(np.float32)
    for metric in ("ip", "l2"):
        gt = exact_topk(x, q, metric, 5, block=3)
        full = q @ x.T if metric == "ip" else -((q[:, None, :] - x[None]) ** 2).sum(-1)
        assert (gt.positions == np.argsort(-full, axis=1, kind="stable")[:, :5]).all()
        np.testing.assert_allclose(gt.scores, np.sort(full, axis=1)[:, ::-1][:, :5], rtol=1e-5, atol=1e-5)


def test_recall_counts_ties_duplicates_and_empty_slots():
    # Four docs along one axis; query scores them 3, 2, 2, 1 (docs 1 and 2 tie for 2nd place).
    x = np.array([[3.0], [2.0], [2.0], [1.0]], dtype=np.float32)
    q = np.array([[1.0]], dtype=np.float32)
    gt = exact_topk(x, q, "ip", 2)
    assert gt.positions.tolist() == [[0, 1]]
    ann = np.array([[0, 2], [0, 0], [3, -1], [2, 1]])
    qs = np.repeat(q, 4, axis=0)
    gt4 = GroundTruth(np.repeat(gt.scores, 4, axis=0), np.repeat(gt.positions, 4, axis=0))
    # [0, 2]: doc 2 ties with the 2nd neighbour → full recall; [0, 0]: a duplicate counts once;
    # [3, -1]: doc 3 is worse than the 2nd neighbour and -1 is empty; [2, 1]: both tied docs, but only 2 slots.
    assert recall_at(gt4, ann, x, qs, "ip", 2).tolist() == [1.0, 0.5, 0.0, 0.5]


def test_synthetic_is_seeded_and_clustered():
    spec = SyntheticSpec(3000, 16, 50, seed=3)
    a, qa = make_clustered(spec)
    b, _ = make_clustered(spec)
    assert a.shape == (3000, 16) and qa.shape == (50, 16) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert parse_shape("200k×128") == (200_000, 128) and parse_shape("1Mx64") == (1_000_000, 64)
    with pytest.raises(UserError, match="N×D"):
        parse_shape("200000")


def test_threads_context_limits_faiss_and_hnswlib():
    import faiss

    from vecrecall.indexes.base import get_backend
    from vecrecall.sweep.harness import threads

    x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
    flat = get_backend("faiss").build(x, "l2", {"index_type": "Flat"})
    before = faiss.omp_get_max_threads()
    with threads(flat, 1):
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before
    h = get_backend("hnswlib").build(x, "l2", {"hnsw_m": 8})
    with threads(h, 1):
        assert h.index.num_threads == 1
