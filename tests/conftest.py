"""Shared fixtures: run the CLI in-process, sample data, the optional shared Vaswani collection."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
VASWANI = ROOT.parent / "shared" / "datasets" / "vaswani"

# Fast deterministic encoder for CLI tests (feature hashing, no model); a few tests use the real default model.
FAST_MODEL = "hash:64"


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Each test gets its own vector cache and no progress bars."""
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("VECRECALL_QUIET", "1")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def vr(capsys, monkeypatch):
    """Run `vecrecall ARGS…` in-process through the real entry point (error handling included)."""
    from vecrecall.cli.app import main

    def run(*args: object) -> Result:
        monkeypatch.setattr(sys, "argv", ["vecrecall", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)

    return run


@pytest.fixture
def sample() -> Path:
    return SAMPLE


@pytest.fixture
def vaswani() -> Path:
    if not (VASWANI / "beir" / "corpus.jsonl").exists():
        pytest.skip(f"the shared Vaswani collection is not at {VASWANI} (only present beside the repository checkout)")
    return VASWANI


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit 2, one line on stderr naming what is wrong, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err.startswith("error: "), err
    assert "Traceback" not in result.stderr
    assert len(err.splitlines()) == 1, err
    for f in fragments:
        assert f in err, (f, err)


@pytest.fixture
def sample_chain(tmp_path_factory, vr):
    """sample_data encoded with the fast encoder, a Flat index, and query embeddings: {name: path}."""
    d = tmp_path_factory.mktemp("chain")
    assert vr("encode", "--corpus", SAMPLE, "--out", d / "emb", "--model", FAST_MODEL).exit_code == 0
    assert vr("encode", "--queries", SAMPLE, "--out", d / "qemb", "--model", FAST_MODEL).exit_code == 0
    assert vr("build-index", "--embeddings", d / "emb", "--out", d / "flat").exit_code == 0
    return {"dir": d, "emb": d / "emb", "qemb": d / "qemb", "flat": d / "flat"}


@pytest.fixture(scope="session")
def vaswani_minilm(tmp_path_factory):
    """Vaswani corpus and queries encoded once per session with the default model: {emb, qemb, beir}."""
    beir = VASWANI / "beir"
    if not (beir / "corpus.jsonl").exists():
        pytest.skip(f"the shared Vaswani collection is not at {VASWANI} (only present beside the repository checkout)")
    from vecrecall.embed import encode_source

    d = tmp_path_factory.mktemp("vaswani")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECRECALL_CACHE_DIR", str(d / "cache"))
        mp.setenv("VECRECALL_QUIET", "1")
        encode_source(beir, "corpus", d / "emb")
        encode_source(beir, "queries", d / "qemb")
    return {"emb": d / "emb", "qemb": d / "qemb", "beir": beir, "dir": d}
