"""update-index and rebuild: results after an update equal a fresh build on the same final vectors (exact indexes),
recall@10 stays within 0.01 of a fresh build (IVF, HNSW), centroid drift, lineage, and every bad input.

The data: 4,000 clustered synthetic vectors (vecrecall.sweep.synthetic). The base index holds the first 3,200; the
update deletes a seeded 320 of them, replaces 20 others (same id, new vector) and adds the last 800. The final rows
are, by the update contract, the surviving base rows in order followed by the added artifact's rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_MODEL, SAMPLE, assert_user_error

from vecrecall.artifacts import Manifest, read_manifest, save_embeddings_from_array, sha256_file, sha256_path
from vecrecall.encoders import l2_normalize
from vecrecall.indexes.store import IndexDir
from vecrecall.sweep.synthetic import SyntheticSpec, make_clustered

N, NB, DIM = 4000, 3200, 32
N_DELETE, N_REPLACE = 320, 20


def write_emb(path: Path, x: np.ndarray, ids: list[str], fingerprint: str = "synthetic", **params: object) -> Path:
    """An embeddings artifact of `x` with these ids (and a `grp` column for filters)."""
    m = Manifest("embeddings", params={"model": {"name": "synthetic", "fingerprint": fingerprint}, "normalize": False,
                                       "role": "corpus", **params})
    path.mkdir(parents=True)
    table = pd.DataFrame({"id": ids, "grp": [int(i[1:]) % 3 if i[1:].isdigit() else 0 for i in ids]})
    save_embeddings_from_array(path, np.ascontiguousarray(x, dtype=np.float32), table, m)
    return path


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("update")
    x, q = make_clustered(SyntheticSpec(n=N, dim=DIM, n_queries=500, seed=1))
    rng = np.random.default_rng(7)
    ids = [f"d{i}" for i in range(N)]
    picked = rng.choice(NB, N_DELETE + N_REPLACE, replace=False)
    deleted, replaced = np.sort(picked[:N_DELETE]), np.sort(picked[N_DELETE:])
    moved = x[replaced] + 0.3 * rng.standard_normal((N_REPLACE, DIM)).astype(np.float32)  # the replacing vectors
    add_x = np.concatenate([moved, x[NB:]])
    add_ids = [ids[i] for i in replaced] + ids[NB:]
    keep = np.setdiff1d(np.arange(NB), picked)
    final_x = np.concatenate([x[keep], add_x])
    final_ids = [ids[i] for i in keep] + add_ids
    (d / "delete.txt").write_text("".join(f"{ids[i]}\n" for i in deleted))
    return {
        "dir": d, "q": q, "final_x": final_x, "final_ids": final_ids,
        "base": write_emb(d / "base", x[:NB], ids[:NB]),
        "add": write_emb(d / "add", add_x, add_ids),
        "final": write_emb(d / "final", final_x, final_ids),
        "delete": d / "delete.txt",
    }


def exact_ids(x: np.ndarray, ids: list[str], q: np.ndarray, metric: str, k: int = 10) -> np.ndarray:
    if metric == "cosine":
        x, q = l2_normalize(x), l2_normalize(q)
    s = -((q[:, None, :] - x[None]) ** 2).sum(-1) if metric == "l2" else q @ x.T
    return np.asarray(ids, dtype=object)[np.argsort(-s, axis=1, kind="stable")[:, :k]]


def search_ids(path: Path, q: np.ndarray, k: int = 10, **search: object) -> tuple[np.ndarray, np.ndarray]:
    loaded = IndexDir.load(path)
    scores, rows = loaded.index.search(loaded.prepare(q), k, **search)
    assert (rows >= 0).all()
    return loaded.ids["id"].astype(str).to_numpy(dtype=object)[rows], scores


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got, truth)]))


def build(vr, emb: Path, out: Path, backend: str, metric: str, *params: str) -> Path:
    r = vr("build-index", "--embeddings", emb, "--backend", backend, "--metric", metric, *params, "--out", out)
    assert r.exit_code == 0, r.stderr
    return out


def update(vr, synth, base: Path, out: Path, *extra: object):
    r = vr("update-index", "--index", base, "--add", synth["add"], "--delete", synth["delete"], "--replace",
           "--out", out, *extra)
    assert r.exit_code == 0, r.stderr
    return r


# ------------------------------------------------------------------------------------------------ exact indexes

EXACT = [("faiss", "cosine", ()), ("faiss", "ip", ()), ("faiss", "l2", ()),
         pytest.param("milvus", "cosine", ("--index-type", "FLAT"), marks=pytest.mark.slow),
         ("milvus", "l2", ("--index-type", "FLAT"))]


@pytest.mark.parametrize("backend,metric,params", EXACT,
                         ids=["faiss-cosine", "faiss-ip", "faiss-l2", "milvus-cosine", "milvus-l2"])
def test_exact_index_after_update_equals_fresh_build(vr, synth, tmp_path, backend, metric, params):
    base = build(vr, synth["base"], tmp_path / "base", backend, metric, *params)
    r = update(vr, synth, base, tmp_path / "updated")
    assert "in place" in r.stdout and f"{NB:,} → {len(synth['final_ids']):,} rows" in r.stdout, r.stdout
    fresh = build(vr, synth["final"], tmp_path / "fresh", backend, metric, *params)
    got, got_s = search_ids(tmp_path / "updated", synth["q"])
    want, want_s = search_ids(fresh, synth["q"])
    assert (got == want).all()
    np.testing.assert_allclose(got_s, want_s, rtol=1e-5, atol=1e-5)
    assert (got == exact_ids(synth["final_x"], synth["final_ids"], synth["q"], metric)).mean() > 0.999
    # ids.parquet is the row → id map of a fresh build over the final vectors: no tombstones
    assert pd.read_parquet(tmp_path / "updated" / "ids.parquet")["id"].tolist() == synth["final_ids"]
    # lineage: base, delta (hashes, counts), and the build's embeddings (the model query needs)
    m = read_manifest(tmp_path / "updated")
    assert m.inputs["base"]["path"] == str(base.resolve())
    assert m.inputs["added"]["sha256"] == sha256_path(synth["add"])
    assert m.inputs["deleted"] == {"path": str(synth["delete"].resolve()), "sha256": sha256_file(synth["delete"]),
                                   "ids": N_DELETE}
    assert m.parent("embeddings").params["model"]["fingerprint"] == "synthetic"
    u = m.stats["update"]
    assert (u["base_rows"], u["deleted"], u["replaced"], u["added"], u["unknown_ids"], u["method"]) == \
        (NB, N_DELETE, N_REPLACE, N - NB + N_REPLACE, 0, "in place")
    assert m.stats["version"] == 2 and m.stats["n"] == len(synth["final_ids"])


@pytest.mark.parametrize("backend,params", [("annoy", ()), ("faiss", ("--index-type", "HNSW"))], ids=["annoy", "faiss-HNSW"])
def test_backend_that_cannot_update_is_rebuilt_like_a_fresh_build(vr, synth, tmp_path, backend, params):
    """annoy cannot add or delete, a faiss HNSW graph cannot delete: update-index says so and rebuilds from the
    vectors the index stores plus the update, with the recorded parameters and seed: the native file is the one a
    fresh build over the final vectors writes, byte for byte (l2: no re-normalisation)."""
    base = build(vr, synth["base"], tmp_path / "base", backend, "l2", *params)
    r = update(vr, synth, base, tmp_path / "updated")
    assert "rebuilt" in r.stdout and "cannot" in r.stderr and "rebuilt it from the 3,200 vectors it stores" in r.stderr
    fresh = build(vr, synth["final"], tmp_path / "fresh", backend, "l2", *params)
    native = "index.ann" if backend == "annoy" else "index.faiss"
    assert sha256_file(tmp_path / "updated" / native) == sha256_file(fresh / native)
    m = read_manifest(tmp_path / "updated")
    assert m.stats["update"]["method"] == "rebuilt" and "cannot" in m.stats["update"]["reason"]
    assert (search_ids(tmp_path / "updated", synth["q"])[0] == search_ids(fresh, synth["q"])[0]).all()


def test_faiss_hnsw_adds_in_place(vr, synth, tmp_path):
    base = build(vr, synth["base"], tmp_path / "base", "faiss", "cosine", "--index-type", "HNSW")
    extra = write_emb(tmp_path / "extra", synth["final_x"][-800:], [f"x{i}" for i in range(800)])
    r = vr("update-index", "--index", base, "--add", extra, "--out", tmp_path / "updated")
    assert r.exit_code == 0 and "in place" in r.stdout, r.stderr
    assert IndexDir.load(tmp_path / "updated").index.size == NB + 800
    assert "built with efConstruction 40" in r.stderr and "--ef-construction 200" in r.stderr
    wide = build(vr, synth["base"], tmp_path / "wide", "faiss", "cosine", "--index-type", "HNSW",
                 "--ef-construction", "200")
    r = vr("update-index", "--index", wide, "--add", extra, "--out", tmp_path / "wide2")
    assert r.exit_code == 0 and "efConstruction" not in r.stderr, r.stderr


# ------------------------------------------------------------------------------------------------ approximate

RECALL = [("faiss", ("--index-type", "IVF"), {"nprobe": 8}, True),
          ("faiss", ("--index-type", "HNSW"), {"ef_search": 10}, False),  # HNSW adds in place (no deletes)
          ("hnswlib", (), {"ef_search": 10}, True),
          ("hnswlib", (), {"ef_search": 20}, True)]


@pytest.mark.parametrize("backend,params,search,deletes", RECALL,
                         ids=["faiss-IVF-nprobe8", "faiss-HNSW-ef10", "hnswlib-ef10", "hnswlib-ef20"])
def test_recall_after_update_within_001_of_fresh_build(vr, synth, tmp_path, backend, params, search, deletes):
    base = build(vr, synth["base"], tmp_path / "base", backend, "cosine", *params)
    if deletes:
        update(vr, synth, base, tmp_path / "updated")
        final_x, final_ids, final = synth["final_x"], synth["final_ids"], synth["final"]
    else:
        extra = synth["final_x"][-800:]
        add = write_emb(tmp_path / "extra", extra, [f"x{i}" for i in range(800)])
        assert vr("update-index", "--index", base, "--add", add, "--out", tmp_path / "updated").exit_code == 0
        final_x = np.concatenate([np.load(synth["base"] / "embeddings.npy"), extra])
        final_ids = [f"d{i}" for i in range(NB)] + [f"x{i}" for i in range(800)]
        final = write_emb(tmp_path / "final", final_x, final_ids)
    fresh = build(vr, final, tmp_path / "fresh", backend, "cosine", *params)
    truth = exact_ids(final_x, final_ids, synth["q"], "cosine")
    updated_recall = recall(search_ids(tmp_path / "updated", synth["q"], **search)[0], truth)
    fresh_recall = recall(search_ids(fresh, synth["q"], **search)[0], truth)
    print(f"{backend} {params} {search}: recall@10 updated {updated_recall:.4f} fresh {fresh_recall:.4f}")
    assert 0.8 < fresh_recall < 1.0  # a regime where the index is approximate
    assert abs(updated_recall - fresh_recall) <= 0.01


@pytest.mark.parametrize("backend,params", [("hnswlib", ("--ef-construction", "100")),
                                            ("milvus", ("--index-type", "FLAT"))])
def test_deleted_vectors_kept_by_the_backend_never_come_back(vr, synth, tmp_path, backend, params):
    """hnswlib keeps deleted vectors in its graph and Milvus its primary keys: rows are translated (labels.npy), so
    results, filters (row masks) and a second, in-place update all speak rows of ids.parquet."""
    base = build(vr, synth["base"], tmp_path / "idx", backend, "l2", *params)
    update(vr, synth, base, tmp_path / "idx", "--overwrite")  # in place: swapped atomically
    assert (tmp_path / "idx" / "labels.npy").is_file()
    gone = {f"d{i}" for i in range(NB)} - set(synth["final_ids"])
    got, _ = search_ids(tmp_path / "idx", synth["q"], k=50, **({"ef_search": 400} if backend == "hnswlib" else {}))
    assert not gone & set(got.ravel())
    # a metadata pre-filter (row mask) over the updated rows equals exact filtered search
    loaded = IndexDir.load(tmp_path / "idx")
    allowed = (loaded.ids["grp"] == 1).to_numpy()
    kw = {"ef_search": 400} if backend == "hnswlib" else {}
    scores, rows = loaded.index.search(loaded.prepare(synth["q"][:50]), 10, allowed=allowed, **kw)
    assert allowed[rows].all()
    sub = np.flatnonzero(allowed)
    want = exact_ids(synth["final_x"][sub], [synth["final_ids"][i] for i in sub], synth["q"][:50], "l2")
    assert recall(loaded.ids["id"].to_numpy()[rows], want) > 0.99
    # a second update deletes a row the first one added and adds it back under another id
    (tmp_path / "again.txt").write_text("d3999\n")
    again = write_emb(tmp_path / "again", synth["final_x"][-1:], ["y1"])
    r = vr("update-index", "--index", tmp_path / "idx", "--delete", tmp_path / "again.txt", "--add", again,
           "--overwrite")
    assert r.exit_code == 0, r.stderr
    got, _ = search_ids(tmp_path / "idx", synth["final_x"][-1:], k=1, **kw)
    assert got[0, 0] == "y1"
    m = read_manifest(tmp_path / "idx")
    assert m.stats["version"] == 3 and m.stats["updates_since_build"] == 2
    assert "manifest" not in m.inputs["base"]["manifest"]["inputs"]["base"]  # the chain stays two levels deep


# ------------------------------------------------------------------------------------------------ drift and rebuild

def test_ivf_drift_is_reported_and_rebuild_resets_it(vr, synth, tmp_path):
    base = build(vr, synth["base"], tmp_path / "ivf", "faiss", "l2", "--index-type", "IVF")
    r = vr("update-index", "--index", base, "--add", synth["add"], "--replace", "--out", tmp_path / "same")
    assert r.exit_code == 0, r.stderr
    same = read_manifest(tmp_path / "same").stats["drift"]
    assert 0.0 < same["share"] < 0.10 and not same["retrain"] and "centroid drift" in r.stdout
    # new clusters the centroids never saw
    far, _ = make_clustered(SyntheticSpec(n=400, dim=DIM, n_queries=1, seed=99, spread=0.35))
    shifted = write_emb(tmp_path / "shifted", far + 3.0, [f"s{i}" for i in range(400)])
    r = vr("update-index", "--index", tmp_path / "same", "--add", shifted, "--out", tmp_path / "drifted", "--json")
    assert r.exit_code == 0, r.stderr
    drift = json.loads(r.stdout)["drift"]
    assert drift["share"] > 0.5 and drift["retrain"]
    assert drift["reference_p95"] == same["reference_p95"]  # the training-time reference is carried
    assert drift["since_training"]["added"] == same["added"] + 400
    assert "re-train with vecrecall rebuild" in r.stderr
    assert read_manifest(tmp_path / "drifted").stats["drift"]["retrain"]
    r = vr("rebuild", "--index", tmp_path / "drifted")
    assert r.exit_code == 0 and "swapped in" in r.stdout, r.stderr
    m = read_manifest(tmp_path / "drifted")
    assert "drift" not in m.stats and m.stats["updates_since_build"] == 0 and m.stats["version"] == 4
    assert m.stats["n"] == N + 400  # 3,200 − 20 replaced + 820 added + 400 shifted
    assert m.params["nlist"] == read_manifest(base).params["nlist"]  # the recorded parameters
    assert "train_s" in m.stats  # re-trained


def test_rebuild_needs_embeddings_for_compressed_codes(vr, synth, tmp_path):
    base = build(vr, synth["base"], tmp_path / "pq", "faiss", "l2", "--index-type", "IVFPQ", "--pq-bits", "6")
    assert_user_error(vr("rebuild", "--index", base), "keeps compressed codes", "--embeddings")
    r = vr("rebuild", "--index", base, "--embeddings", synth["final"])
    assert r.exit_code == 0, r.stderr
    m = read_manifest(base)
    assert m.stats["n"] == len(synth["final_ids"]) and m.params["pq_bits"] == 6
    assert m.stats["version"] == 2 and m.inputs["base"]["path"] == str(base.resolve())
    assert m.inputs["embeddings"]["path"] == str(synth["final"].resolve())


def test_rebuild_drops_hnswlib_deleted_vectors(vr, synth, tmp_path):
    base = build(vr, synth["base"], tmp_path / "h", "hnswlib", "l2")
    update(vr, synth, base, base, "--overwrite")
    assert IndexDir.load(base).index.size > IndexDir.load(base).index.rows
    r = vr("rebuild", "--index", base)
    assert r.exit_code == 0, r.stderr
    loaded = IndexDir.load(base)
    assert loaded.index.size == loaded.index.rows == len(synth["final_ids"])
    assert not (base / "labels.npy").exists()
    assert loaded.ids["id"].tolist() == synth["final_ids"]


def test_bm25_update_refused_and_rebuilt_from_corpus(vr, tmp_path):
    assert vr("build-index", "--backend", "bm25", "--corpus", SAMPLE, "--out", tmp_path / "bm25").exit_code == 0
    (tmp_path / "gone.txt").write_text("9\n")
    assert_user_error(vr("update-index", "--index", tmp_path / "bm25", "--delete", tmp_path / "gone.txt", "--out",
                         tmp_path / "new"), "bm25 indexes text", "vecrecall rebuild")
    assert not (tmp_path / "new").exists()
    assert_user_error(vr("rebuild", "--index", tmp_path / "bm25"), "--corpus")
    lines = (SAMPLE / "corpus.jsonl").read_text().splitlines()[:100]
    (tmp_path / "small.jsonl").write_text("\n".join(lines) + "\n")
    r = vr("rebuild", "--index", tmp_path / "bm25", "--corpus", tmp_path / "small.jsonl")
    assert r.exit_code == 0, r.stderr
    assert IndexDir.load(tmp_path / "bm25").index.size == 100


# ------------------------------------------------------------------------------------------------ bad input

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """sample_data encoded with hash:64, a Flat index over it, and a few added documents."""
    from vecrecall.cli.app import main  # noqa: F401  (the vr fixture is function-scoped; build inputs in-process)
    from vecrecall.embed import encode_source
    from vecrecall.indexes.store import build_index

    d = tmp_path_factory.mktemp("small")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECRECALL_CACHE_DIR", str(d / "cache"))
        mp.setenv("VECRECALL_QUIET", "1")
        encode_source(SAMPLE, "corpus", d / "emb", model=FAST_MODEL)
        encode_source(SAMPLE, "queries", d / "qemb", model=FAST_MODEL)
        (d / "new.jsonl").write_text('{"_id": "new1", "text": "superconducting waveguide resonators"}\n'
                                     '{"_id": "9", "text": "switching circuits revised"}\n')
        encode_source(d / "new.jsonl", "corpus", d / "new", model=FAST_MODEL)
        encode_source(d / "new.jsonl", "corpus", d / "new32", model="hash:32")
        build_index("faiss", d / "flat", embeddings=d / "emb")
    return d


def _nothing_written(parent: Path, name: str = "out") -> None:
    assert not (parent / name).exists()
    assert not [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_unknown_delete_ids_warn_with_a_count(vr, small, tmp_path):
    (tmp_path / "gone.txt").write_text("12\n15\nnope1\n\n  nope2  \n12\n")
    r = vr("update-index", "--index", small / "flat", "--delete", tmp_path / "gone.txt", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.stderr
    assert "warning: --delete" in r.stderr and "2 of its 4 ids are not in the index" in r.stderr
    assert "nope1, nope2" in r.stderr and "(deleted 2," in r.stdout
    assert read_manifest(tmp_path / "out").stats["update"]["unknown_ids"] == 2


def test_adding_existing_ids_is_refused_unless_replace(vr, small, tmp_path):
    r = vr("update-index", "--index", small / "flat", "--add", small / "new", "--out", tmp_path / "out")
    assert_user_error(r, "1 id already in the index", "(9)", "--replace")
    _nothing_written(tmp_path)
    r = vr("update-index", "--index", small / "flat", "--add", small / "new", "--replace", "--out", tmp_path / "out")
    assert r.exit_code == 0 and "replaced 1, added 2" in r.stdout, r.stderr
    ids = pd.read_parquet(tmp_path / "out" / "ids.parquet")["id"].tolist()
    assert ids[-2:] == ["new1", "9"] and ids.count("9") == 1 and len(ids) == 2001
    # deleting an id and adding it back is a replacement without --replace
    (tmp_path / "nine.txt").write_text("9\n")
    r = vr("update-index", "--index", small / "flat", "--add", small / "new", "--delete", tmp_path / "nine.txt",
           "--out", tmp_path / "out2")
    assert r.exit_code == 0 and "(deleted 1, replaced 0, added 2)" in r.stdout, r.stderr


def test_dimension_mismatch_names_both(vr, small, tmp_path):
    r = vr("update-index", "--index", small / "flat", "--add", small / "new32", "--out", tmp_path / "out")
    assert_user_error(r, "dimension 32 (hash:32)", "dimension 64 (hash:64)")
    _nothing_written(tmp_path)


def test_model_mismatch_names_both(vr, small, tmp_path):
    other = write_emb(tmp_path / "other", np.ones((2, 64), dtype=np.float32), ["z1", "z2"], fingerprint="zzz")
    r = vr("update-index", "--index", small / "flat", "--add", other, "--out", tmp_path / "out")
    assert_user_error(r, "model 'synthetic'", "'hash:64'")
    _nothing_written(tmp_path)


def test_metric_mismatch_names_both(vr, small, tmp_path):
    emb = json.loads((small / "emb" / "manifest.json").read_text())
    imported = write_emb(tmp_path / "imp", np.ones((2, 64), dtype=np.float32), ["z1", "z2"],
                         fingerprint=emb["params"]["model"]["fingerprint"], metric="l2")
    r = vr("update-index", "--index", small / "flat", "--add", imported, "--out", tmp_path / "out")
    assert_user_error(r, "imported for metric l2", "ranks by cosine")
    _nothing_written(tmp_path)


def test_query_embeddings_are_not_documents(vr, small, tmp_path):
    r = vr("update-index", "--index", small / "flat", "--add", small / "qemb", "--out", tmp_path / "out")
    assert_user_error(r, "queries embeddings", "corpus")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("content,fragments", [
    (b"", ("no ids (the delete list is empty)",)),
    (b"\n  \n", ("no ids (the delete list is empty)",)),
    (b"12\n15 0.5\n", ("line 2 has 2 fields", "one id per line")),
    (b"\xff\xfe\x00\x01binary", ("not UTF-8 text",)),
    (b"12\x00\n", ("NUL byte",)),
], ids=["empty", "blank", "two-fields", "binary", "nul"])
def test_malformed_or_empty_delete_list(vr, small, tmp_path, content, fragments):
    (tmp_path / "ids.txt").write_bytes(content)
    r = vr("update-index", "--index", small / "flat", "--delete", tmp_path / "ids.txt", "--out", tmp_path / "out")
    assert_user_error(r, "--delete", *fragments)
    _nothing_written(tmp_path)


def test_other_refusals(vr, small, tmp_path):
    assert_user_error(vr("update-index", "--index", small / "flat", "--out", tmp_path / "out"), "nothing to do")
    (tmp_path / "gone.txt").write_text("12\n")
    assert_user_error(vr("update-index", "--index", small / "flat", "--delete", tmp_path / "gone.txt"),
                      "--overwrite")  # in place needs --overwrite
    assert_user_error(vr("update-index", "--index", small / "flat", "--delete", tmp_path / "missing.txt", "--out",
                         tmp_path / "out"), "no such file")
    dup = write_emb(tmp_path / "dup", np.ones((2, 64), dtype=np.float32), ["z1", "z1"],
                    fingerprint=read_manifest(small / "emb").params["model"]["fingerprint"], normalize=True)
    assert_user_error(vr("update-index", "--index", small / "flat", "--add", dup, "--out", tmp_path / "out"),
                      "id z1 appears more than once")
    ids = pd.read_parquet(small / "flat" / "ids.parquet")["id"]
    (tmp_path / "all.txt").write_text("\n".join(ids) + "\n")
    assert_user_error(vr("update-index", "--index", small / "flat", "--delete", tmp_path / "all.txt", "--out",
                         tmp_path / "out"), "names every row")
    _nothing_written(tmp_path)


def test_query_after_update_from_texts(vr, small, tmp_path):
    """The updated index keeps the model lineage: query texts are encoded with the index's model."""
    r = vr("update-index", "--index", small / "flat", "--add", small / "new", "--replace", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.stderr
    (tmp_path / "q.jsonl").write_text('{"_id": "q1", "text": "superconducting waveguide resonators"}\n')
    r = vr("query", "--index", tmp_path / "out", "--queries", tmp_path / "q.jsonl", "-k", "1", "--out",
           tmp_path / "r.run")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "r.run").read_text().split()[2] == "new1"


def test_capability_table(vr):
    r = vr("backends")
    assert r.exit_code == 0
    blocks = {b.split()[0]: " ".join(b.split()) for b in r.stdout.split("\n\n")[1:]}
    assert "add yes; delete Flat/IVF/IVFPQ" in blocks["faiss"]
    assert "add no; delete no" in blocks["annoy"] and "add no; delete no" in blocks["bm25"]
    assert "add yes; delete yes" in blocks["hnswlib"] and "add yes; delete yes" in blocks["milvus"]
    spec = json.loads(vr("backends", "faiss", "--json").stdout)
    assert spec["capabilities"]["delete"] == ["Flat", "IVF", "IVFPQ"] and spec["capabilities"]["add"] is True


def test_chunked_index_is_updated_by_document(vr, small, tmp_path):
    """The delete list names documents: every chunk goes; a replaced document's chunks are all replaced."""
    for src, out in ((SAMPLE, "emb"), (small / "new.jsonl", "new")):
        r = vr("encode", "--corpus", src, "--model", FAST_MODEL, "--chunk-tokens", "4", "--out", tmp_path / out)
        assert r.exit_code == 0, r.stderr
    assert vr("build-index", "--embeddings", tmp_path / "emb", "--out", tmp_path / "flat").exit_code == 0
    before = pd.read_parquet(tmp_path / "flat" / "ids.parquet")
    (tmp_path / "gone.txt").write_text("12\n")
    r = vr("update-index", "--index", tmp_path / "flat", "--delete", tmp_path / "gone.txt", "--add", tmp_path / "new",
           "--replace", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.stderr
    after = pd.read_parquet(tmp_path / "out" / "ids.parquet")
    new = pd.read_parquet(tmp_path / "new" / "ids.parquet")
    assert "12" not in set(after["docid"])
    assert after[after["docid"] == "9"]["id"].tolist() == new[new["docid"] == "9"]["id"].tolist()
    removed = int((before["docid"] == "12").sum() + (before["docid"] == "9").sum())
    assert len(after) == len(before) - removed + len(new)
    u = read_manifest(tmp_path / "out").stats["update"]
    assert (u["deleted"], u["replaced"]) == ((before["docid"] == "12").sum(), (before["docid"] == "9").sum())
    # plain (unchunked) embeddings do not go into a chunked index
    assert_user_error(vr("update-index", "--index", tmp_path / "flat", "--add", small / "new", "--replace", "--out",
                         tmp_path / "out2"), "not chunked embeddings", "is chunked")
