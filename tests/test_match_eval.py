"""Match evaluation (user → item retrieval): plain user vectors as queries, interaction logs as binary qrels,
Success@k / R@k / P@k against values worked out by hand, and the synthetic `make-recsys` example."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_user_error
from vecrecall.artifacts import Manifest, save_embeddings_from_array
from vecrecall.io.qrels import read_qrels

# 20 items on a line: item i at (i, 0). With the l2 metric a user at (u, 0) retrieves the items nearest to u.
ITEMS = np.array([[i, 0.0] for i in range(20)], dtype=np.float32)
USERS = {"A": 2.4, "B": 17.3, "C": 9.9}
# A's top-10 = items 0..9, B's = 10..19, C's = 5..14 (order by |i - u|; no ties at these positions).
INTERACTIONS = [("A", 3), ("A", 15), ("B", 2), ("B", 5), ("C", 5), ("C", 14), ("C", 19), ("C", 14), ("D", 1)]
# By hand over the judged users A, B, C, D (D has no vector, so no results: it counts 0, as trec_eval -c):
#   Success@10: A 1, B 0, C 1, D 0                       → 2/4 = 0.5
#   R@10:       A 1/2, B 0/2, C 2/3 (14 counted once), D 0 → (0.5 + 0 + 0.6667 + 0) / 4 = 0.291667
#   P@10:       A 1/10, B 0, C 2/10, D 0                 → 0.3/4 = 0.075
#   RR:         A 1/2 (item 3 at rank 2), B 0, C 1/9 (item 14 at rank 9), D 0
#   nDCG@10:    A (1/log2 3) / (1 + 1/log2 3); C (1/log2 10 + 1/log2 11) / (1 + 1/log2 3 + 1/log2 4); B, D 0
L = np.log2
EXPECTED = {"Success@10": 0.5, "R@10": (0.5 + 2 / 3) / 4, "P@10": 0.075, "RR": (1 / 2 + 1 / 9) / 4,
            "nDCG@10": ((1 / L(3)) / (1 + 1 / L(3)) + (1 / L(10) + 1 / L(11)) / (1 + 1 / L(3) + 1 / L(4))) / 4}


@pytest.fixture
def fake(tmp_path):
    items = tmp_path / "items"
    items.mkdir()
    m = Manifest("embeddings", params={"model": {"name": "two-tower", "fingerprint": "tt"}, "normalize": False, "role": "corpus"})
    save_embeddings_from_array(items, ITEMS, pd.DataFrame({"id": [f"i{i}" for i in range(20)]}), m)
    np.save(tmp_path / "users.npy", np.array([[u, 0.0] for u in USERS.values()], dtype=np.float32))
    (tmp_path / "users.ids.txt").write_text("\n".join(USERS) + "\n")
    pd.DataFrame([(u, f"i{i}") for u, i in INTERACTIONS], columns=["user_id", "item_id"]).to_csv(tmp_path / "log.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("backend", ["faiss", "milvus"])
def test_success_and_recall_at_10_by_hand(fake, vr, backend):
    r = vr("build-index", "--embeddings", fake / "items", "--backend", backend, "--metric", "l2", "--out", fake / "idx")
    assert r.exit_code == 0, r.stderr
    r = vr("query", "--index", fake / "idx", "--queries", fake / "users.npy", "-k", 10, "--out", fake / "run")
    assert r.exit_code == 0, r.stderr
    top = pd.read_csv(fake / "run", sep=" ", header=None, names=["qid", "q0", "docid", "rank", "score", "tag"])
    assert top[top.qid == "A"].docid.tolist() == ["i2", "i3", "i1", "i4", "i0", "i5", "i6", "i7", "i8", "i9"]
    assert np.isclose(top[(top.qid == "A") & (top["rank"] == 1)].score.item(), -(0.4 ** 2), atol=1e-5)
    manifest = json.loads((fake / "run.manifest.json").read_text())
    assert "dimension checked only" in manifest["inputs"]["queries"]["kind"]
    r = vr("eval", "--qrels", fake / "log.csv", fake / "run", "-m", "Success@10", "-m", "R@10", "-m", "P@10", "-m", "RR",
           "-m", "nDCG@10", "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)["run"]
    for name, value in EXPECTED.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_interaction_logs_as_binary_qrels(tmp_path):
    pd.DataFrame({"User": ["u1", "u1", "u1", "u2"], "item": [7, 8, 7, 9], "ts": [1, 2, 3, 4]}).to_parquet(tmp_path / "log.parquet")
    q = read_qrels(tmp_path / "log.parquet")
    assert q.to_dict("records") == [{"qid": "u1", "docid": "7", "rel": 1}, {"qid": "u1", "docid": "8", "rel": 1},
                                    {"qid": "u2", "docid": "9", "rel": 1}]
    (tmp_path / "log.tsv").write_text("user_id\titem_id\nu1\ta\nu2\tb\n")
    assert read_qrels(tmp_path / "log.tsv")[["qid", "docid"]].values.tolist() == [["u1", "a"], ["u2", "b"]]
    (tmp_path / "beir.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")  # ordinary qrels still read as before
    assert read_qrels(tmp_path / "beir.tsv").rel.tolist() == [2]


@pytest.mark.parametrize("text,fragments", [
    ("user_id,item_id\nu1,a\n,b\n", ["log.csv line 3", "empty user_id"]),
    ("user_id,item_id\nu1,\n", ["log.csv line 2", "empty item_id"]),
    ("user_id,item_id\n", ["no interactions"]),
])
def test_bad_interaction_logs(tmp_path, vr, text, fragments):
    (tmp_path / "log.csv").write_text(text)
    (tmp_path / "run").write_text("u1 Q0 a 1 1.0 x\n")
    assert_user_error(vr("eval", "--qrels", tmp_path / "log.csv", tmp_path / "run"), *fragments)


def test_bad_user_vectors(fake, vr):
    assert vr("build-index", "--embeddings", fake / "items", "--metric", "l2", "--out", fake / "idx").exit_code == 0

    def query(src):
        return vr("query", "--index", fake / "idx", "--queries", src, "--out", fake / "r")

    np.save(fake / "wide.npy", np.zeros((3, 5), dtype=np.float32))
    (fake / "wide.ids.txt").write_text("A\nB\nC\n")
    assert_user_error(query(fake / "wide.npy"), "dimension 5", "dimension 2", "only the dimension can be checked")
    np.save(fake / "noids.npy", np.zeros((3, 2), dtype=np.float32))
    assert_user_error(query(fake / "noids.npy"), "no ids", "noids.ids.txt")
    np.save(fake / "short.npy", np.zeros((3, 2), dtype=np.float32))
    (fake / "short.ids.txt").write_text("A\nB\n")
    assert_user_error(query(fake / "short.npy"), "3 rows", "2 ids")
    np.save(fake / "dup.npy", np.zeros((2, 2), dtype=np.float32))
    (fake / "dup.ids.txt").write_text("A\nA\n")
    assert_user_error(query(fake / "dup.npy"), "'A' appears twice")
    np.save(fake / "nan.npy", np.array([[0, 1], [np.nan, 0]], dtype=np.float32))
    (fake / "nan.ids.txt").write_text("A\nB\n")
    assert_user_error(query(fake / "nan.npy"), "row 1", "'B'", "NaN")
    assert_user_error(vr("query", "--index", fake / "idx", "--queries", fake / "users.npy", "--model", "hash:2",
                         "--out", fake / "r"), "--model applies to query texts")
    assert not (fake / "r").exists()


def test_user_vector_directory_with_parquet_ids(fake, vr):
    d = fake / "export"
    d.mkdir()
    np.save(d / "users.npy", np.array([[2.4, 0.0]], dtype=np.float32))
    pd.DataFrame({"id": ["A"]}).to_parquet(d / "users.ids.parquet")
    assert vr("build-index", "--embeddings", fake / "items", "--metric", "l2", "--out", fake / "idx").exit_code == 0
    r = vr("query", "--index", fake / "idx", "--queries", d, "-k", 3, "--out", fake / "r")
    assert r.exit_code == 0, r.stderr
    assert [line.split()[2] for line in (fake / "r").read_text().splitlines()] == ["i2", "i3", "i1"]


def test_make_recsys_example_is_deterministic_and_evaluates(tmp_path, vr):
    for name in ("a", "b"):
        r = vr("make-recsys", "--out", tmp_path / name, "--users", 60, "--items", 300, "--dim", 16, "--clusters", 6,
               "--per-user", 4, "--seed", 3, "--json")
        assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"out": str(tmp_path / "b"), "users": 60, "items": 300, "interactions": 240}
    for f in ("users.npy", "users.ids.txt", "interactions.csv", "items/embeddings.npy"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    d = tmp_path / "a"
    assert vr("build-index", "--embeddings", d / "items", "--metric", "ip", "--out", d / "flat").exit_code == 0
    assert vr("query", "--index", d / "flat", "--queries", d / "users.npy", "-k", 100, "--out", d / "run").exit_code == 0
    r = vr("eval", "--qrels", d / "interactions.csv", d / "run", "-m", "Success@10", "-m", "R@100", "--json")
    got = json.loads(r.stdout)["run"]
    # the exported user vectors are noisy copies of the true tastes: far better than chance (10/300 per item), not perfect
    assert 0.3 < got["Success@10"] < 1.0
    assert got["R@100"] > 0.5
    assert_user_error(vr("make-recsys", "--out", tmp_path / "c", "--items", 3, "--per-user", 5), "--per-user 5")
    assert_user_error(vr("make-recsys", "--out", tmp_path / "a"), "already exists", "--overwrite")
    assert not (tmp_path / "c").exists()
