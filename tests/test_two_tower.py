"""Two-tower recall on interaction logs: the log reader and split (hand-made logs with known answers), the losses
against their formulas, seen-item exclusion, the baselines against hand-computed scores, and the CLI chain
finetune-two-tower → build-index → query → exclude-seen → eval on a synthetic log the tests make."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from vecrecall.twotower import baselines as B
from vecrecall.twotower.log import read_log
from vecrecall.twotower.losses import Batch, pairwise_loss, softmax_loss
from vecrecall.twotower.split import SplitSpec, split_log
from vecrecall.twotower.synthetic import SyntheticSpec, synthetic_log
from vecrecall.twotower.topk import exclude_seen, top_k

FAST = ["--text-model", "hash:16", "--dim", "16", "--hidden", "32", "--history", "10", "--batch-size", "64"]


def write(tmp_path, name, rows, header="user_id,item_id,timestamp"):
    p = tmp_path / name
    p.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return p


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    log, items = synthetic_log(SyntheticSpec(users=60, items=80, clusters=4, days=10, seed=3))
    log.to_csv(d / "log.csv", index=False)
    items.to_csv(d / "items.csv", index=False)
    return d


# ------------------------------------------------------------------------------------------------ log and split


def test_leave_last_out_ties_and_min_interactions(tmp_path):
    # u1: items a,b,c; b and c share the last timestamp → the later row (c) is held out. u2 has 2 interactions only.
    p = write(tmp_path, "log.csv", [("u1", "a", 10), ("u1", "b", 30), ("u1", "c", 30), ("u2", "a", 5), ("u2", "d", 6)])
    split = split_log(read_log(p), SplitSpec(min_interactions=3))
    assert split.heldout.values.tolist() == [["u1", "c"]]
    assert sorted(split.train_positives["item"]) == ["a", "b"]
    assert split.stats["users_dropped"] == 1 and split.stats["requests"] == 1


def test_cutoff_split_counts_cold_users_and_items(tmp_path):
    rows = [("u1", "a", "2024-01-01"), ("u1", "b", "2024-01-02"), ("u2", "a", "2024-01-01"),
            ("u1", "c", "2024-02-01"), ("u3", "a", "2024-02-02"), ("u2", "b", "2024-02-03"), ("u2", "e", "2024-03-09")]
    p = write(tmp_path, "log.csv", rows)
    from vecrecall.twotower.split import parse_time_option

    split = split_log(read_log(p), SplitSpec("cutoff", parse_time_option("2024-01-15", "--cutoff"),
                                             parse_time_option("2024-03-01", "--until"), 1))
    assert sorted(map(tuple, split.heldout.values.tolist())) == [("u1", "c"), ("u2", "b"), ("u3", "a")]
    s = split.stats
    assert (s["cold_start_users"], s["cold_start_items"], s["cold_start_heldout"]) == (1, 1, 1)  # u3; item c


def test_duplicates_dropped_keep_earliest_or_refused(tmp_path, vr):
    p = write(tmp_path, "log.csv", [("u1", "a", 20), ("u1", "a", 10), ("u1", "b", 30), ("u1", "a", 40)])
    log = read_log(p)
    assert log.duplicates == 2
    kept = log.frame[log.frame["item"] == "a"]
    assert kept["ts"].tolist() == [10 * 10**9] and kept["line"].tolist() == [3]
    r = vr("finetune-two-tower", "--log", p, "--duplicates", "refuse", "--out", tmp_path / "m", *FAST)
    assert r.exit_code == 2 and "line 2: user 'u1' interacted with item 'a' again (first at line 3)" in r.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("rows,header,message", [
    ([("u1", "a", "10"), ("u1", "b", "yesterday")], "user_id,item_id,timestamp",
     "log.csv line 3: timestamp 'yesterday' is not a timestamp (the file uses unix seconds)"),
    ([("u1", "a", "2024-01-01"), ("u1", "b", "3rd of May")], "user_id,item_id,timestamp",
     "log.csv line 3: timestamp '3rd of May' is not a timestamp"),
    ([("u1", "a", "")], "user_id,item_id,timestamp", "log.csv line 2: timestamp '' is not a timestamp"),
    ([("u1", "a")], "user_id,item_id", "log.csv: no timestamp column (looked for timestamp, time"),
    ([("u1", "10")], "user_id,timestamp", "log.csv: no item column"),
    ([("u1", "a", "10", "maybe")], "user_id,item_id,timestamp,label", "log.csv line 2: label 'maybe' is not a label"),
    ([("u1", "", "10")], "user_id,item_id,timestamp", "log.csv line 2: empty item_id"),
    ([("u1", "a", "1700000000000")], "user_id,item_id,timestamp", "out of range for unix seconds (milliseconds?"),
])
def test_bad_logs_one_line_exit_2_nothing_written(tmp_path, vr, rows, header, message):
    p = write(tmp_path, "log.csv", rows, header)
    r = vr("finetune-two-tower", "--log", p, "--out", tmp_path / "m", *FAST)
    assert r.exit_code == 2, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "m").exists() and not list(tmp_path.glob(".m*"))


def test_bad_options_and_tables(tmp_path, vr, synth):
    log = synth / "log.csv"
    dup = write(tmp_path, "items.csv", [("i0001", "x"), ("i0001", "y")], "item_id,title")
    cases = [
        (["--items", dup, "--item-text", "title"], "items.csv line 3: item 'i0001' appears twice"),
        (["--items", synth / "items.csv", "--item-text", "plot"], "items.csv: no column 'plot' (--item-text)"),
        (["--item-text", "title"], "pass it with --items FILE"),
        (["--negatives", "in-batch,impressions"], "the training split has no impressions"),
        (["--loss", "sampled-softmax", "--negatives", "in-batch,random"], "must include random and not in-batch"),
        (["--negatives", "random", "--loss", "pairwise", "--logq-correction"], "add in-batch to --negatives"),
        (["--split", "cutoff"], "--split cutoff needs --cutoff TIME"),
        (["--split", "cutoff", "--cutoff", "2000-01-01"], "no positive interactions before it"),
        (["--id-dropout", "1.5"], "--id-dropout 1.5: out of range; use a number in [0, 1)"),
        (["--batch-size", "1"], "--batch-size 1: out of range; use an integer ≥ 2"),
        (["--temperature", "0"], "--temperature 0.0: out of range; use a number > 0"),
        (["--epochs", "0"], "--epochs 0: out of range; use an integer ≥ 1"),
        (["--user-col", "who"], "no column 'who' (--user-col)"),
    ]
    for extra, message in cases:
        r = vr("finetune-two-tower", "--log", log, "--out", tmp_path / "m", *FAST, *extra)
        assert r.exit_code == 2 and message in r.stderr, (extra, r.stderr)
        assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------------------------------------ losses


def _batch():
    g = torch.Generator().manual_seed(0)
    u = torch.nn.functional.normalize(torch.randn(3, 4, generator=g), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(3, 4, generator=g), dim=-1)
    r = torch.nn.functional.normalize(torch.randn(2, 4, generator=g), dim=-1)
    return u, p, r


def test_in_batch_softmax_and_logq_by_hand():
    u, p, _ = _batch()
    items = torch.tensor([5, 7, 9])
    log_p = torch.log(torch.tensor([0.0] * 5 + [0.5, 0.0, 0.3, 0.0, 0.2]).clamp(min=1e-9))
    tau = 0.1
    got = softmax_loss(Batch(u, p, items), tau, in_batch=True)
    got_q = softmax_loss(Batch(u, p, items), tau, in_batch=True, log_p=log_p)
    s = (u @ p.T).numpy()
    lp = [math.log(0.5), math.log(0.3), math.log(0.2)]
    want = want_q = 0.0
    for b in range(3):
        logits = [s[b, j] / tau for j in range(3)]
        want += -logits[b] + math.log(sum(math.exp(x) for x in logits))
        corr = [logits[j] - lp[j] for j in range(3)]
        want_q += -corr[b] + math.log(sum(math.exp(x) for x in corr))
    assert got.item() == pytest.approx(want / 3, rel=1e-5)
    assert got_q.item() == pytest.approx(want_q / 3, rel=1e-5)


def test_accidental_hits_masked_and_sampled_softmax_by_hand():
    u, p, r = _batch()
    items = torch.tensor([5, 5, 9])  # rows 0 and 1 share a positive: neither is the other's negative
    rand_items = torch.tensor([9, 1])  # 9 is row 2's positive: masked for row 2
    got = softmax_loss(Batch(u, p, items, r, rand_items), 1.0, in_batch=True)
    s, sr = (u @ p.T).numpy(), (u @ r.T).numpy()
    cands = {0: [s[0, 0], s[0, 2], sr[0, 0], sr[0, 1]], 1: [s[1, 1], s[1, 2], sr[1, 0], sr[1, 1]],
             2: [s[2, 2], s[2, 0], s[2, 1], sr[2, 1]]}
    want = sum(-c[0] + math.log(sum(math.exp(x) for x in c)) for c in cands.values()) / 3
    assert got.item() == pytest.approx(want, rel=1e-5)
    sampled = softmax_loss(Batch(u, p, torch.tensor([5, 7, 9]), r, torch.tensor([1, 2])), 1.0, in_batch=False)
    pos = (u * p).sum(-1).numpy()
    want = sum(-pos[b] + math.log(math.exp(pos[b]) + sum(math.exp(x) for x in sr[b])) for b in range(3)) / 3
    assert sampled.item() == pytest.approx(want, rel=1e-5)


def test_pairwise_logistic_by_hand():
    u, p, r = _batch()
    gamma = 7.0
    got = pairwise_loss(Batch(u, p, torch.tensor([5, 7, 9]), r, torch.tensor([1, 2])), gamma, in_batch=False)
    pos, sr = (u * p).sum(-1).numpy(), (u @ r.T).numpy()
    want = np.mean([math.log1p(math.exp(-gamma * (pos[b] - sr[b, m]))) for b in range(3) for m in range(2)])
    assert got.item() == pytest.approx(want, rel=1e-5)


# ------------------------------------------------------------------------------------------------ top-k, baselines


def test_top_k_excludes_seen_and_exclude_seen_refuses_short_lists():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    run = top_k(lambda rows: scores[rows], ["q1", "q2"], [np.array([0]), np.array([3, 2])], ["a", "b", "c", "d"], 2)
    assert run[["qid", "docid", "rank"]].values.tolist() == [["q1", "b", 1], ["q1", "c", 2], ["q2", "b", 1], ["q2", "a", 2]]
    deep = pd.DataFrame({"qid": ["q"] * 4, "docid": list("abcd"), "rank": [1, 2, 3, 4], "score": [4.0, 3, 2, 1]})
    kept, stats = exclude_seen(deep, pd.DataFrame({"qid": ["q", "q"], "docid": ["a", "c"]}), 2)
    assert kept["docid"].tolist() == ["b", "d"] and stats["removed"] == 2
    from vecrecall.errors import UserError

    with pytest.raises(UserError, match=r"query 'q': 2 of its 4 results remain .* query with -k 5"):
        exclude_seen(deep, pd.DataFrame({"qid": ["q", "q"], "docid": ["a", "c"]}), 3)


def test_popular_and_cooc_by_hand():
    # users × items a b c d:  u1 = a b,  u2 = a c,  u3 = b c d
    train = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3", "u3", "u3"], "item": list("abacbcd")})
    index = {x: i for i, x in enumerate("abcd")}
    x = B.interaction_matrix(train, ["u1", "u2", "u3"], index)
    assert B.popular_scores(x)(np.array([0]))[0].tolist() == [2, 2, 2, 1]
    raw = B.cooc_scores(x, np.array([0]), "none")(np.array([0]))[0]
    # u1's history {a, b}: C_ca + C_cb = 1 + 1 = 2, C_da + C_db = 0 + 1 = 1 (a, b themselves are excluded later)
    assert raw[2] == 2 and raw[3] == 1
    cos = B.cooc_scores(x, np.array([0]), "cosine")(np.array([0]))[0]
    assert cos[2] == pytest.approx(1 / math.sqrt(2 * 2) + 1 / math.sqrt(2 * 2))
    assert cos[3] == pytest.approx(1 / math.sqrt(2 * 1))


# ------------------------------------------------------------------------------------------------ CLI chain


def _train(vr, out, log, *extra):
    r = vr("finetune-two-tower", "--log", log, "--out", out, *FAST, *extra)
    assert r.exit_code == 0, r.stderr
    return r


@pytest.mark.slow
def test_chain_beats_popularity_and_eval_agrees(tmp_path, vr, synth):
    m = tmp_path / "tt"
    _train(vr, m, synth / "log.csv", "--items", synth / "items.csv", "--item-text", "title", "--item-features", "genres",
           "--epochs", "15", "--seed", "1")
    counts = pd.read_csv(synth / "log.csv").groupby("user_id").size()
    assert json.loads((m / "manifest.json").read_text())["stats"]["requests"] == int((counts >= 5).sum())
    assert vr("build-index", "--embeddings", m / "items", "--out", tmp_path / "flat").exit_code == 0
    r = vr("query", "--index", tmp_path / "flat", "--queries", m / "users", "-k", "80", "--out", tmp_path / "deep.run")
    assert r.exit_code == 0, r.stderr
    assert vr("exclude-seen", "--run", tmp_path / "deep.run", "--seen", m / "seen.csv", "-k", "10",
              "--out", tmp_path / "tt.run").exit_code == 0
    for method in ("popular", "cooc", "text"):
        r = vr("recsys-baseline", "--split", m, "--method", method, "-k", "10", "--out", tmp_path / f"{method}.run")
        assert r.exit_code == 0, r.stderr
    r = vr("eval", "--qrels", m / "heldout.csv", *(tmp_path / f"{x}.run" for x in ("tt", "popular", "cooc", "text")),
           "-m", "Success@10", "-m", "nDCG@10", "--json")
    means = json.loads(r.stdout)
    assert means["tt.run"]["Success@10"] > means["popular.run"]["Success@10"] + 0.1, means
    # no run returns a seen item
    seen = pd.read_csv(m / "seen.csv", dtype=str)
    from vecrecall.io.runs import read_run

    for name in ("tt", "popular", "cooc", "text"):
        run = read_run(tmp_path / f"{name}.run")
        assert run.merge(seen, left_on=["qid", "docid"], right_on=["user_id", "item_id"]).empty, name
    # the in-process exact evaluation (daily cycle) agrees with the CLI chain
    from vecrecall.artifacts import load_embeddings
    from vecrecall.io.interactions import read_interactions
    from vecrecall.metrics import evaluate_runs

    items, users = load_embeddings(m / "items"), load_embeddings(m / "users")
    hist = [seen[seen["user_id"] == q]["item_id"].map({x: i for i, x in enumerate(items.ids["id"])}).to_numpy()
            for q in users.ids["id"]]
    mine = top_k(lambda rows: np.asarray(users.vectors)[rows] @ np.asarray(items.vectors).T, users.ids["id"].tolist(),
                 hist, items.ids["id"].tolist(), 10)
    again = evaluate_runs(read_interactions(m / "heldout.csv"), {"x": mine}, ["Success@10", "nDCG@10"]).means["x"]
    assert again["Success@10"] == pytest.approx(means["tt.run"]["Success@10"])
    assert again["nDCG@10"] == pytest.approx(means["tt.run"]["nDCG@10"], abs=1e-4)


def test_same_seed_byte_identical_other_seed_differs(tmp_path, vr, synth):
    outs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        _train(vr, tmp_path / name, synth / "log.csv", "--items", synth / "items.csv", "--item-features", "genres",
               "--epochs", "2", "--seed", str(seed), "--negatives", "in-batch,random", "--num-random", "8")
        outs.append(tmp_path / name)
    files = ["model.safetensors", "vocab.json", "items/embeddings.npy", "items/ids.parquet", "users/embeddings.npy",
             "users/ids.parquet", "heldout.csv", "seen.csv", "train.parquet"]
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    assert (outs[0] / "items/embeddings.npy").read_bytes() != (outs[2] / "items/embeddings.npy").read_bytes()


def test_cold_start_users_and_items_get_feature_vectors(tmp_path, vr, synth):
    log = pd.read_csv(synth / "log.csv")
    cut = int(log["timestamp"].quantile(0.7))
    late = log[log["timestamp"] >= cut]
    log = pd.concat([log, pd.DataFrame({"user_id": ["newcomer"], "item_id": ["brand_new"], "timestamp": [cut + 5]})])
    items = pd.read_csv(synth / "items.csv")
    items = pd.concat([items, pd.DataFrame({"item_id": ["brand_new"], "title": ["space red war"], "genres": ["space"]})])
    log.to_csv(tmp_path / "log.csv", index=False)
    items.to_csv(tmp_path / "items.csv", index=False)
    r = _train(vr, tmp_path / "m", tmp_path / "log.csv", "--items", tmp_path / "items.csv", "--item-text", "title",
               "--item-features", "genres", "--split", "cutoff", "--cutoff", str(cut), "--min-interactions", "1",
               "--epochs", "1", "--json")
    s = json.loads(r.stdout)
    cold_users = set(late["user_id"]) - set(log[log["timestamp"] < cut]["user_id"]) | {"newcomer"}
    assert s["cold_start_users"] == len(cold_users) and s["cold_start_items"] >= 1
    from vecrecall.artifacts import load_embeddings

    users, items = load_embeddings(tmp_path / "m/users"), load_embeddings(tmp_path / "m/items")
    row = users.ids.index[users.ids["id"] == "newcomer"][0]
    assert np.isfinite(users.vectors[row]).all() and np.linalg.norm(users.vectors[row]) == pytest.approx(1, abs=1e-5)
    new = items.ids.index[items.ids["id"] == "brand_new"][0]
    same_genre = items.ids.index[items.ids["id"].isin(pd.read_csv(synth / "items.csv").query("genres == 'space'")["item_id"])]
    other = items.ids.index[~items.ids.index.isin(same_genre) & (items.ids["id"] != "brand_new")]
    v = np.asarray(items.vectors)
    assert (v[same_genre] @ v[new]).mean() > (v[other] @ v[new]).mean()  # its features place it among its genre


def test_impressions_queries_and_pairwise(tmp_path, vr):
    log, items = synthetic_log(SyntheticSpec(users=30, items=50, clusters=3, days=6, impressions=2, queries=True, seed=1))
    log.to_csv(tmp_path / "log.csv", index=False)
    from vecrecall.twotower.features import Entities, Vocab, build_examples
    from vecrecall.twotower.log import read_log as rl

    split = split_log(rl(tmp_path / "log.csv"), SplitSpec())
    train = split.train
    cat = sorted(set(log["item_id"]))
    users = sorted(set(train["user"]))
    ex = build_examples(train, Entities(users, Vocab(users).rows(users)), Entities(cat, Vocab(cat).rows(cat)), {}, 5, 3, 0)
    shown = train[train["label"] == 0]
    first = train[train["label"] > 0].sort_values(["ts", "line"], kind="mergesort").iloc[0]
    want = set(shown[(shown["user"] == first.user) & (shown["ts"] == first.ts)]["item"])
    got = {cat[i] for i in ex.impressions[0] if i >= 0}
    assert got == want and len(want) == 2  # the items shown beside the click, not clicked
    r = _train(vr, tmp_path / "m", tmp_path / "log.csv", "--loss", "pairwise", "--gamma", "5",
               "--negatives", "in-batch,impressions", "--epochs", "1", "--json")
    s = json.loads(r.stdout)
    assert s["train_impressions"] > 0 and s["query_texts"] == 3
    assert pd.read_parquet(tmp_path / "m/requests.parquet")["qid"].str.contains("#").all()


def test_warm_start_extends_vocabulary(tmp_path, vr, synth):
    log = pd.read_csv(synth / "log.csv")
    t1, t2 = (int(log["timestamp"].quantile(q)) for q in (0.5, 0.75))
    base = ["--split", "cutoff", "--min-interactions", "1", "--epochs", "1"]
    _train(vr, tmp_path / "a", synth / "log.csv", *base, "--cutoff", str(t1), "--until", str(t2))
    _train(vr, tmp_path / "b", synth / "log.csv", *base, "--cutoff", str(t2), "--init-from", tmp_path / "a",
           "--train-since", str(t1))
    va, vb = (json.loads((tmp_path / x / "vocab.json").read_text()) for x in "ab")
    assert vb["items"][: len(va["items"])] == va["items"] and len(vb["items"]) >= len(va["items"])
    from safetensors.torch import load_file

    wa, wb = load_file(str(tmp_path / "a/model.safetensors")), load_file(str(tmp_path / "b/model.safetensors"))
    assert wa["item_id.weight"].shape[0] <= wb["item_id.weight"].shape[0]
    m = json.loads((tmp_path / "b/manifest.json").read_text())
    assert "init_from" in m["inputs"] and m["params"]["train_since"] == t1 * 10**9
    trained_rows = ((log["timestamp"] >= t1) & (log["timestamp"] < t2)).sum()
    assert m["stats"]["examples"] == trained_rows  # only the new window is trained on
    r = vr("finetune-two-tower", "--log", synth / "log.csv", "--out", tmp_path / "c", *FAST, *base[:-2],
           "--cutoff", str(t2), "--init-from", tmp_path / "a", "--dim", "8")
    assert r.exit_code == 2 and "the previous model has dim 16, this one 8" in r.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_daily_cycle_rows(tmp_path):
    from vecrecall.twotower.daily import CycleSpec, daily_cycle
    from vecrecall.twotower.log import read_log as rl
    from vecrecall.twotower.pipeline import Job
    from vecrecall.twotower.split import SplitSpec as S
    from vecrecall.twotower.trainer import TrainSpec

    log, _ = synthetic_log(SyntheticSpec(users=40, items=60, clusters=3, days=8, seed=2))
    log.to_csv(tmp_path / "log.csv", index=False)
    job = Job(log=tmp_path / "log.csv", split=S(min_interactions=1), text_model="none", dim=8, hidden=16, history=5,
              train=TrainSpec(epochs=2, batch_size=32))
    rows = daily_cycle(job, rl(tmp_path / "log.csv"), None, None, CycleSpec(days=3, k=20))
    assert rows["day"].tolist() == [1, 1, 2, 2, 3, 3] and set(rows["mode"]) == {"full", "incremental"}
    first = rows[rows["day"] == 1]
    assert first["Success@10"].nunique() == 1  # day 1: the incremental model is the full one
    assert rows[["Success@10", "nDCG@10"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (rows["requests"] > 0).all()


def test_exclude_seen_cli_and_make_interaction_log(tmp_path, vr):
    assert vr("make-interaction-log", "--out", tmp_path / "a", "--users", "20", "--items", "30", "--days", "4").exit_code == 0
    assert vr("make-interaction-log", "--out", tmp_path / "b", "--users", "20", "--items", "30", "--days", "4").exit_code == 0
    assert (tmp_path / "a/log.csv").read_bytes() == (tmp_path / "b/log.csv").read_bytes()
    run = tmp_path / "deep.run"
    run.write_text("u1 Q0 a 1 4.0 t\nu1 Q0 b 2 3.0 t\nu1 Q0 c 3 2.0 t\nu2 Q0 c 1 9.0 t\n")
    seen = write(tmp_path, "seen.csv", [("u1", "a"), ("u2", "x")], "user_id,item_id")
    r = vr("exclude-seen", "--run", run, "--seen", seen, "-k", "2", "--out", tmp_path / "f.run")
    assert r.exit_code == 2 and "query 'u2': 1 of its 1 results remain" in r.stderr and not (tmp_path / "f.run").exists()
    r = vr("exclude-seen", "--run", run, "--seen", seen, "-k", "2", "--allow-short", "--out", tmp_path / "f.run")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "f.run").read_text().split("\n")[:3] == ["u1 Q0 b 1 3.0 vecrecall", "u1 Q0 c 2 2.0 vecrecall",
                                                               "u2 Q0 c 1 9.0 vecrecall"]
