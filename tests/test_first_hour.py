"""What a new user reads: --help, `info` piped, an ad-hoc `query --query`, the demo's timing line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from clirun import cli_env, run_cli
from conftest import FAST_MODEL, SAMPLE, assert_user_error


def _commands() -> list[list[str]]:
    import typer

    from vecrecall.cli.app import app

    def walk(cmd, path):  # noqa: ANN001
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path

    return list(walk(typer.main.get_command(app), []))


def _help(vr, monkeypatch, *command: str) -> str:
    monkeypatch.setenv("COLUMNS", "400")  # one option a line: text is not wrapped mid-phrase
    r = vr(*command, "--help")
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_help_shows_no_type_after_flags(vr, monkeypatch):
    for command in _commands():
        text = _help(vr, monkeypatch, *command)
        assert "<bool>" not in text, command
        assert "\\[" not in text, command  # a bracket escaped twice shows its backslash
    text = _help(vr, monkeypatch, "query")
    assert re.search(r"--json +Print machine-readable JSON", text), text
    assert re.search(r"--index +<path> ", text)  # options that take a value keep their type


def test_help_keeps_square_brackets(vr, monkeypatch):
    """Rich markup read `[negatives]` as a tag and printed `positive|positive_id, , , , .`."""
    text = _help(vr, monkeypatch, "finetune")
    assert "query, positive|positive_id, [negatives], [score], [qid], [frequency|bucket]." in text
    assert ", , ," not in text
    assert "columns are id, text[, title]" in _help(vr, monkeypatch, "encode")
    assert 'pip install "vecrecall[fast]"' in " ".join(_help(vr, monkeypatch, "encode").split())


def test_help_states_bm25_and_other_defaults(vr, monkeypatch):
    text = " ".join(_help(vr, monkeypatch, "build-index").split())
    for stated in ("Default 1.2.", "Default 0.75.", "Default english.", "Default en.", "(default lucene",
                   "faiss Flat, IVF, IVFPQ, HNSW, factory (default Flat)", "Default ≈√n."):
        assert stated in text, stated
    assert "IVF_PQ, HNSW, DISKANN (default FLAT)" in text and "okapi (default lucene" in text  # wrapped, not cut
    text = " ".join(_help(vr, monkeypatch, "finetune").split())
    for stated in ("(default: --epochs decides)", "(default: no split, train on every judged query)",
                   "(default: 20 for mnrl; 1 for distill"):
        assert stated in text, stated


def test_command_docstrings_reflowed(vr, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    r = vr("build-index", "--help")
    assert ("Backend parameters are checked against the backend's table (vecrecall backends NAME) before any data "
            "is read: an unknown parameter") in r.stdout


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """sample_data (hash encoder) under a long directory name, a Flat index, a run, a bm25 index."""
    d = tmp_path_factory.mktemp("first")
    deep = d / "long-directory-name"
    env = cli_env(VECRECALL_CACHE_DIR=str(d / "cache"))
    for args in (("encode", "--corpus", SAMPLE, "--out", deep / "emb", "--model", FAST_MODEL),
                 ("build-index", "--embeddings", deep / "emb", "--out", deep / "flat"),
                 ("query", "--index", deep / "flat", "--queries", SAMPLE, "--out", deep / "flat.run"),
                 ("build-index", "--corpus", SAMPLE, "--backend", "bm25", "--out", deep / "bm25")):
        r = run_cli(*args, env=env)
        assert r.exit_code == 0, r.stderr
    return {"dir": deep, "env": env}


def test_info_piped_wraps_within_80_columns_and_keeps_full_paths(chain):
    deep = chain["dir"]
    r = run_cli("info", deep / "flat.run", env=chain["env"])
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    for path in (deep / "flat", deep / "emb"):
        assert len(str(path)) < 64  # short enough for one line of the tree, so it must appear whole
        assert any(line.rstrip().endswith(str(path)) for line in lines), (path, r.stdout)
    assert any("fingerprint=" in line for line in lines)
    assert any(re.match(r"^[│ ]+'index.faiss'|^[│ ]+\d+, 'index.faiss'", line) for line in lines), r.stdout  # wrapped


def _exact_scores(chain, text: str) -> dict[str, float]:
    """Known answer: the hash encoder's query vector against every document vector (cosine), by id."""
    import pandas as pd

    from vecrecall.encoders import EncodeSettings, encode_texts, load_encoder

    emb = chain["dir"] / "emb"
    docs = np.load(emb / "embeddings.npy")
    ids = pd.read_parquet(emb / "ids.parquet")["id"].astype(str)
    q = encode_texts(load_encoder(FAST_MODEL), [text], EncodeSettings(), "queries", None)[0]
    return dict(zip(ids, (docs @ (q / np.linalg.norm(q))).tolist()))


def _is_exact_top(ids: list[str], exact: dict[str, float]) -> bool:
    """`ids` are a top-len(ids) by exact score (ties in any order)."""
    best = sorted(exact.values(), reverse=True)[: len(ids)]
    return np.allclose([exact[i] for i in ids], best, atol=1e-5)


def test_adhoc_query_vector_index_table_and_json(chain):
    flat, text = chain["dir"] / "flat", "waveguide microwave"
    r = run_cli("query", "--index", flat, "--query", text, "-k", 10, env=chain["env"])
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, r.stdout
    rows = [line.split() for line in lines if re.match(r"^\s*\d+\s", line)]
    assert [int(row[0]) for row in rows] == list(range(1, 11))
    exact = _exact_scores(chain, text)
    assert _is_exact_top([row[1] for row in rows], exact)
    corpus = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (SAMPLE / "corpus.jsonl").open()}
    assert all(corpus[row[1]].startswith(" ".join(row[3:]).rstrip("…")[:30]) for row in rows)

    r = run_cli("query", "--index", flat, "--query", text, "-k", 10, "--json", env=chain["env"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert [h["id"] for h in data["hits"]] == [row[1] for row in rows]
    assert np.allclose([h["score"] for h in data["hits"]], [exact[h["id"]] for h in data["hits"]], atol=1e-5)
    assert [h["rank"] for h in data["hits"]] == list(range(1, 11))
    assert all(h["text"] == corpus[h["id"]] for h in data["hits"])
    assert data["corpus"] == str(SAMPLE.resolve())
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_adhoc_query_bm25_matches_a_run_of_the_same_query(chain, tmp_path):
    bm25, text = chain["dir"] / "bm25", "perturbation of waveguides by spheres"
    qfile = tmp_path / "q.tsv"
    qfile.write_text(f"q1\t{text}\n")
    assert run_cli("query", "--index", bm25, "--queries", qfile, "-k", 5, "--out", tmp_path / "r.run",
                   env=chain["env"]).exit_code == 0
    from vecrecall.io.runs import read_run

    run = read_run(tmp_path / "r.run")
    r = run_cli("query", "--index", bm25, "--query", text, "-k", 5, "--json", env=chain["env"])
    assert r.exit_code == 0, r.stderr
    hits = json.loads(r.stdout)["hits"]
    assert [h["id"] for h in hits] == run["docid"].astype(str).tolist()
    assert hits[0]["text"].startswith("perturbation of waveguides and cavities by spheres")


def test_adhoc_query_without_the_corpus_says_so(chain, tmp_path):
    corpus = tmp_path / "docs.jsonl"
    shutil.copy(SAMPLE / "corpus.jsonl", corpus)
    assert run_cli("build-index", "--corpus", corpus, "--backend", "bm25", "--out", tmp_path / "bm25",
                   env=chain["env"]).exit_code == 0
    corpus.unlink()
    r = run_cli("query", "--index", tmp_path / "bm25", "--query", "waveguide", "-k", 3, env=chain["env"])
    assert r.exit_code == 0, r.stderr
    assert f"{corpus}: the corpus recorded in the index's lineage is not there any more" in " ".join(r.stderr.split())
    assert len([line for line in r.stdout.splitlines() if re.match(r"^\s*\d+\s+\S+\s+[\d.]+\s+-$", line.rstrip())]) == 3


def test_adhoc_query_bad_usage(vr, chain, tmp_path):
    flat = chain["dir"] / "flat"
    assert_user_error(vr("query", "--index", flat, "--query", "x", "--queries", SAMPLE), "--queries", "--query TEXT")
    assert_user_error(vr("query", "--index", flat), "--queries", "--query TEXT")
    assert_user_error(vr("query", "--index", flat, "--queries", SAMPLE), "Missing option '--out'", "required with --queries",
                      "vecrecall query --help")
    assert_user_error(vr("query", "--index", flat, "--query", "  "), "--query: empty")


def test_demo_prints_its_time_and_the_shipped_paths(vr, tmp_path):
    r = vr("demo", "--model", FAST_MODEL, "--out", tmp_path / "demo")
    assert r.exit_code == 0, r.stderr
    assert re.search(r"^demo took [\d.]+s \([\d.]+s of CPU.*\): model [\d.]+s, encode corpus [\d.]+s, encode queries "
                     r"[\d.]+s, index [\d.]+s, query [\d.]+s, eval [\d.]+s$", r.stdout, re.M), r.stdout
    r = vr("demo", "--print-paths")
    paths = dict(line.split("\t") for line in r.stdout.splitlines())
    assert (Path(paths["sample_data"]) / "corpus.jsonl").is_file()
    assert (Path(paths["configs"]) / "sweep_default.yaml").is_file()
    assert json.loads(vr("demo", "--print-paths", "--json").stdout) == paths
