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


# ---------------------------------------------------------------------------------------------------------------
# Timing: tiling, round-robin repetitions, medians with spread, load, the Pareto axis, plain progress lines
# ---------------------------------------------------------------------------------------------------------------

def test_small_query_sets_are_tiled_whole_to_1000_rows():
    from vecrecall.sweep.harness import tile_queries, tiled_rows

    q = np.arange(93 * 4, dtype=np.float32).reshape(93, 4)
    t = tile_queries(q)
    assert t.shape == (1023, 4) and tiled_rows(93) == 1023 and t.flags["C_CONTIGUOUS"]
    assert np.array_equal(t[93 * 10 : 93 * 11], q) and np.array_equal(t[-93:], q)
    big = np.zeros((1500, 4), dtype=np.float32)
    assert tile_queries(big).shape == (1500, 4) and tiled_rows(1000) == 1000 and tiled_rows(1) == 1000


def test_settings_are_timed_round_robin(monkeypatch):
    from vecrecall.indexes.base import get_backend
    from vecrecall.sweep import harness

    x = np.random.default_rng(0).standard_normal((400, 8)).astype(np.float32)
    index = get_backend("faiss").build(x, "l2", {"index_type": "IVF", "nlist": 8})
    order: list[tuple[str, int]] = []
    real_configure = index.configure
    monkeypatch.setattr(index, "configure", lambda s, k: (order.append(("set", s["nprobe"])), real_configure(s, k))[1])
    monkeypatch.setattr(harness, "latency_pass", lambda *a, **kw: (order.append(("lat", index.settings.used["nprobe"])),
                                                                   np.array([1.0, 2.0]))[1])
    monkeypatch.setattr(harness, "batch_pass", lambda *a, **kw: (order.append(("batch", index.settings.used["nprobe"])),
                                                                 100.0)[1])
    steps: list[tuple[int, int]] = []
    timings = harness.time_settings(index, [{"nprobe": 1}, {"nprobe": 2}, {"nprobe": 4}], x[:10], 5, 3, 0, 1,
                                    on_step=lambda i, rep: steps.append((i, rep)))
    # Repetition 1 of every setting, then repetition 2 of every setting, …; each set before it is timed.
    assert order == [(w, n) for _ in range(3) for n in (1, 2, 4) for w in ("set", "lat", "batch")]
    assert steps == [(i, rep) for rep in range(3) for i in range(3)]
    assert [len(t.latency_ms) for t in timings] == [3, 3, 3] and timings[0].batch_qps == [100.0] * 3


def test_latency_pass_times_whole_query_sets_for_at_least_min_s():
    from vecrecall.indexes.base import get_backend
    from vecrecall.sweep.harness import latency_pass, query_rows

    x = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    index = get_backend("faiss").build(x, "l2", {"index_type": "Flat"})
    rows = query_rows(x[:7])
    once = latency_pass(index, rows, 5)
    assert once.shape == (7,) and (once > 0).all()
    longer = latency_pass(index, rows, 5, warmup=3, min_s=0.02)
    assert len(longer) % 7 == 0 and longer.sum() >= 20.0  # ms


def test_timing_summary_is_medians_with_min_max():
    from vecrecall.sweep.harness import Timing

    t = Timing([np.array([1.0, 1.0]), np.array([2.0, 2.0, 2.0, 6.0]), np.array([0.5, 0.5])], [300.0, 100.0, 200.0])
    s = t.summary()
    # Single-thread QPS per repetition = 1000 / mean ms: 1000, 333.3, 2000 → median 1000, min 333.3, max 2000.
    assert s["qps"] == 1000.0 and s["qps_min"] == pytest.approx(1000 / 3) and s["qps_max"] == 2000.0
    assert (s["p50_ms"], s["p50_ms_min"], s["p50_ms_max"]) == (1.0, 0.5, 2.0)
    assert (s["batch_qps"], s["batch_qps_min"], s["batch_qps_max"]) == (200.0, 100.0, 300.0)
    pooled = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 6.0, 0.5, 0.5])
    assert s["p95_ms"] == pytest.approx(np.percentile(pooled, 95)) and s["mean_ms"] == pytest.approx(pooled.mean())
    assert s["repetitions"] == 3


def test_load_watch_estimates_other_processes():
    from vecrecall.sweep.harness import LoadWatch

    assert LoadWatch(cores=2, before=1.6, after=0.0, own_cpus=0.0).busy  # 1.6 > 2 − 0.5
    assert not LoadWatch(cores=2, before=1.4, after=1.4, own_cpus=1.0).busy
    w = LoadWatch(cores=2, before=0.2, after=3.0, own_cpus=1.0)  # 3.0 load, 1.0 of it this process
    assert w.others == 2.0 and w.busy
    assert LoadWatch(cores=4, before=0.5, after=2.5, own_cpus=2.2).others == 0.5
    nan = float("nan")
    assert not LoadWatch(cores=2, before=nan, after=nan, own_cpus=nan).busy  # no load average (Windows)
    rec = LoadWatch(cores=2, before=1.6, after=2.0, own_cpus=0.5).record()
    assert rec == {"cores": 2, "load1_before": 1.6, "load1_after": 2.0, "own_cpus": 0.5, "others": 1.6, "busy": True}


def test_pareto_axis_and_target_pick_follow_pareto_by():
    from vecrecall.sweep.pareto import speed_of
    from vecrecall.sweep.tune import pick

    t = pd.DataFrame({"recall@10": [0.9, 0.9, 0.95], "qps": [1000.0, 500.0, 400.0], "batch_qps": [2000.0, 9000.0, 100.0],
                      "p50_ms": [1.0, 0.5, 3.0], "name": ["a", "b", "c"]})
    assert speed_of(t, "qps").tolist() == [1000.0, 500.0, 400.0]
    assert speed_of(t, "batch").tolist() == [2000.0, 9000.0, 100.0] and speed_of(t, "p50").tolist() == [-1.0, -0.5, -3.0]
    assert pareto_mask(t["recall@10"].to_numpy(), speed_of(t, "qps")).tolist() == [True, False, True]
    assert pareto_mask(t["recall@10"].to_numpy(), speed_of(t, "batch")).tolist() == [False, True, True]
    assert pick(t, "recall@10", 0.9)["name"] == "a"
    assert pick(t, "recall@10", 0.9, "batch")["name"] == "b" and pick(t, "recall@10", 0.9, "p50")["name"] == "b"
    assert pick(t, "recall@10", 0.95)["name"] == "c" and pick(t, "recall@10", 0.99) is None


def test_exact_topk_more_ties_than_candidates_goes_to_the_lowest_rows():
    """60 copies of the best vector, spread over 1,000 rows: faiss's k + 16 candidates hold an arbitrary 26 of them;
    the query is searched again tile by tile, so the top 10 are the 10 lowest rows of the tied group."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1000, 8)).astype(np.float32) * 0.1
    best = rng.standard_normal(8).astype(np.float32)
    rows = np.sort(rng.choice(1000, 60, replace=False))
    x[rows] = best
    q = best[None, :].copy()
    for metric in ("ip", "l2"):
        gt = exact_topk(x, q, metric, 10)
        assert gt.positions[0].tolist() == rows[:10].tolist(), metric
