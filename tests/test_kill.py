"""kill -9 never leaves --out missing, half-written or with mismatched lineage.

Each writing command runs in a subprocess through the installed entry point and is killed with SIGKILL:
  - in every window of the commit (VECRECALL_TEST_SWAP_DELAY makes each step print `vecrecall-test-swap STEP` and
    sleep, so the kill lands inside the window deterministically), with the atomic exchange and with the two-rename
    fallback (VECRECALL_TEST_SWAP_FALLBACK=1) for directory artifacts;
  - at seeded random moments (slow: 20 per command).
Writers: encode, build-index, query, fuse, update-index, rebuild, eval --per-query, finetune, sweep.
Runs alternate between two versions (A, B) of the output, so after every kill `--out` must read as exactly the
version it held before or the one being written (manifest and files consistent; a run matches its manifest), and a
last uninterrupted write leaves no hidden leftovers.

To add a command (sweep, finetune): append a `Writer` to WRITERS with its two argument versions and an `identify`
that loads the output with the library's own readers and says which version it is.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from clirun import cli_env, spawn
from conftest import SAMPLE
from tiny_models import make_tiny_bi_encoder

from vecrecall.artifacts import MANIFEST, load_embeddings, read_manifest, sha256_file
from vecrecall.io.runs import read_run, run_manifest

Inputs = dict[str, Path]


@dataclass
class Writer:
    name: str
    out_name: str
    steps: tuple[str, ...]  # commit windows (exchange swap for directories)
    args: Callable[[Inputs, Path, str], list[object]]  # (inputs, out, version) → argv without --overwrite
    identify: Callable[[Path, Path], str]  # (out, reference dir holding A and B) → "A" or "B"; asserts consistency
    fallback_steps: tuple[str, ...] = ()  # extra windows of the two-rename fallback (directories only)
    overwrite: tuple[str, ...] = ("--overwrite",)  # how to ask for replacement
    staged: bool = False  # writes files inside a staging directory first (sweep): the commit is each step's last time


def _dir_files_consistent(out: Path) -> None:
    """The directory holds exactly the files its manifest lists (nothing missing, nothing half-copied in)."""
    listed = json.loads((out / MANIFEST).read_text())["files"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    assert on_disk == listed, (on_disk, listed)


def _same_file_version(out: Path, ref: Path) -> str:
    """For a file artifact: its bytes equal version A's or B's, and its manifest (if any) describes these bytes."""
    data = out.read_bytes()
    found = [v for v in "AB" if (ref / v / out.name).read_bytes() == data]
    assert len(found) == 1, f"{out} matches neither complete version"
    return found[0]


def _identify_embeddings(out: Path, ref: Path) -> str:
    emb = load_embeddings(out)  # manifest, rows, ids and dimension agree
    _dir_files_consistent(out)
    for v in "AB":
        r = load_embeddings(ref / v / out.name)
        if emb.manifest.params["model"] == r.manifest.params["model"]:
            assert np.array_equal(np.asarray(emb.vectors), np.asarray(r.vectors))
            assert emb.ids.equals(r.ids)
            return v
    raise AssertionError(f"{out}: model {emb.manifest.params['model']} is neither version")


def _identify_index(out: Path, ref: Path) -> str:
    from vecrecall.indexes.store import IndexDir

    idx = IndexDir.load(out)
    _dir_files_consistent(out)
    for v in "AB":
        r = ref / v / out.name
        if read_manifest(r).params["metric"] == idx.manifest.params["metric"]:
            for f in ("index.faiss", "ids.parquet"):
                assert sha256_file(out / f) == sha256_file(r / f), f
            return v
    raise AssertionError(f"{out}: neither version")


def _identify_index_bytes(out: Path, ref: Path) -> str:
    """An index directory whose native file and id map are byte for byte those of version A or B."""
    from vecrecall.indexes.store import IndexDir

    IndexDir.load(out)
    _dir_files_consistent(out)
    found = [v for v in "AB" if all(sha256_file(out / f) == sha256_file(ref / v / out.name / f)
                                    for f in ("index.faiss", "ids.parquet"))]
    assert len(found) == 1, f"{out}: neither version"
    return found[0]


def _delete_list(i: Inputs, v: str) -> Path:
    """update-index's two versions delete different ids (written beside the inputs on first use)."""
    path = i["flat"].parent / f"delete-{v}.txt"
    if not path.exists():
        path.write_text({"A": "9\n12\n", "B": "15\n"}[v])
    return path


def _identify_run(out: Path, ref: Path) -> str:
    v = _same_file_version(out, ref)
    m = run_manifest(out)
    want = run_manifest(ref / v / out.name)
    assert m is not None and m.stats["content_sha256"] == sha256_file(out)  # the manifest describes these bytes
    assert m.params == want.params and m.inputs == want.inputs  # … and this version's lineage
    read_run(out)
    return v


def _identify_sweep(out: Path, ref: Path) -> str:
    m = read_manifest(out, expect="sweep")
    _dir_files_consistent(out)
    assert m.stats["complete"] is True
    df = pd.read_parquet(out / "results.parquet")
    for v in "AB":
        r = ref / v / out.name
        if read_manifest(r).params["ks"] == m.params["ks"]:
            want = pd.read_parquet(r / "results.parquet")
            cols = ["setting", *[c for c in want.columns if c.startswith("recall@")]]
            pd.testing.assert_frame_equal(df[cols], want[cols])  # timings differ from run to run; results do not
            return v
    raise AssertionError(f"{out}: ks {m.params['ks']} is neither version")


def _identify_per_query(out: Path, ref: Path) -> str:
    v = _same_file_version(out, ref)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(ref / v / out.name))
    return v


def _identify_model(out: Path, ref: Path) -> str:
    """A finetuned model directory: its manifest names version A's or B's --max-steps, and lists its files."""
    m = read_manifest(out)
    _dir_files_consistent(out)
    assert (out / "model.safetensors").is_file()
    steps = m.params["train"]["max_steps"]
    found = [v for v in "AB" if read_manifest(ref / v / out.name).params["train"]["max_steps"] == steps]
    assert len(found) == 1, f"{out}: max_steps {steps} is neither version"
    return found[0]


DIR_STEPS = ("written", "ready", "replaced")
FALLBACK_STEPS = ("moved-aside", "swapped")
RUN_STEPS = ("written", "ready", "manifest-pending", "committed")
AFTER_COMMIT = {"replaced", "swapped", "committed"}

WRITERS = [
    Writer("encode", "emb", DIR_STEPS,
           lambda i, out, v: ["encode", "--corpus", SAMPLE, "--model", {"A": "hash:32", "B": "hash:48"}[v], "--out", out],
           _identify_embeddings, FALLBACK_STEPS),
    Writer("build-index", "idx", DIR_STEPS,
           lambda i, out, v: ["build-index", "--embeddings", i["emb"], "--metric", {"A": "cosine", "B": "ip"}[v],
                              "--out", out],
           _identify_index, FALLBACK_STEPS),
    Writer("query", "r.run", RUN_STEPS,
           lambda i, out, v: ["query", "--index", i["flat"], "--queries", i["qemb"], "-k", {"A": 5, "B": 7}[v],
                              "--out", out],
           _identify_run),
    Writer("fuse", "f.run", RUN_STEPS,
           lambda i, out, v: ["fuse", i["run1"], i["run2"], "--method", {"A": "rrf", "B": "combsum"}[v], "--out", out],
           _identify_run),
    Writer("update-index", "upd", DIR_STEPS,
           lambda i, out, v: ["update-index", "--index", i["flat"], "--delete", _delete_list(i, v), "--out", out],
           _identify_index_bytes, FALLBACK_STEPS),
    Writer("rebuild", "rebuilt", DIR_STEPS,
           lambda i, out, v: ["rebuild", "--index", {"A": i["flat"], "B": i["flat"].parent / "l2"}[v], "--out", out],
           _identify_index, FALLBACK_STEPS),
    Writer("eval --per-query", "pq.parquet", RUN_STEPS,  # a table and its manifest, committed as one unit
           lambda i, out, v: ["eval", "--qrels", SAMPLE, i["run1"], "-m", {"A": "nDCG@10", "B": "P@5"}[v],
                              "--per-query", out],
           _identify_per_query),
    Writer("finetune", "ft", DIR_STEPS,
           lambda i, out, v: ["finetune", "--model", i["tiny"], "--no-eval", "--train", i["synth"], "--corpus",
                              i["small"], "--max-steps", {"A": 1, "B": 2}[v], "--threads", 1, "--out", out],
           _identify_model, FALLBACK_STEPS),
    Writer("sweep", "sw", DIR_STEPS,
           lambda i, out, v: ["sweep", "--embeddings", i["emb"], "--queries", i["qemb"], "--backend", "faiss",
                              "--index-type", "Flat", "-k", {"A": 5, "B": 7}[v], "--passes", "1", "--warmup", "0",
                              "--out", out],
           _identify_sweep, FALLBACK_STEPS, staged=True),
]
IDS = [w.name for w in WRITERS]


def _inproc(*args: object) -> None:
    from vecrecall.cli.app import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["vecrecall", *map(str, args)])
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, (args, exc.code)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs for every writer, and each writer's complete versions A and B under refs/<writer>/<A|B>/."""
    d = tmp_path_factory.mktemp("kill")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECRECALL_QUIET", "1")
        mp.setenv("VECRECALL_CACHE_DIR", str(d / "cache"))
        i: Inputs = {"emb": d / "emb", "qemb": d / "qemb", "flat": d / "flat", "run1": d / "run1.run",
                     "run2": d / "run2.run", "small": d / "small.jsonl", "synth": d / "synth.jsonl", "tiny": d / "tiny"}
        i["small"].write_text("".join((SAMPLE / "corpus.jsonl").read_text().splitlines(keepends=True)[:60]))
        _inproc("synth-queries", "--corpus", i["small"], "--out", i["synth"])
        make_tiny_bi_encoder(i["tiny"])
        _inproc("encode", "--corpus", SAMPLE, "--model", "hash:64", "--out", i["emb"])
        _inproc("encode", "--queries", SAMPLE, "--model", "hash:64", "--out", i["qemb"])
        _inproc("build-index", "--embeddings", i["emb"], "--out", i["flat"])
        _inproc("query", "--index", i["flat"], "--queries", i["qemb"], "-k", 20, "--out", i["run1"])
        _inproc("build-index", "--embeddings", i["emb"], "--metric", "l2", "--out", d / "l2")
        _inproc("query", "--index", d / "l2", "--queries", i["qemb"], "-k", 20, "--out", i["run2"])
        for w in WRITERS:
            for v in "AB":
                out = d / "refs" / w.name / v / w.out_name
                out.parent.mkdir(parents=True)
                _inproc(*w.args(i, out, v))
    return {"inputs": i, "dir": d}


@dataclass
class Kill:
    step: str | None = None  # kill when this commit step is reached …
    at: float = 0.0  # … or this many seconds after the start
    fallback: bool = False
    delay: float = 0.2  # seconds each commit step sleeps


def _kill_sequence(w: Writer, world: dict, plan: list[Kill], work: Path, max_kills: int | None = None) -> dict[str, int]:
    """Write A fully, then for each planned kill write the other version and SIGKILL it; check --out each time."""
    inputs, ref = world["inputs"], world["dir"] / "refs" / w.name
    work.mkdir(parents=True)
    out = work / w.out_name
    _inproc(*w.args(inputs, out, "A"))
    state = "A"
    counts = {"kills": 0, "old": 0, "new": 0, "finished": 0}
    nth = _step_counts(w, world, work / "probe") if w.staged else {}
    for n, k in enumerate(plan):
        if max_kills is not None and counts["kills"] >= max_kills:
            break
        target = "B" if state == "A" else "A"
        env = cli_env(VECRECALL_TEST_SWAP_DELAY=str(k.delay), VECRECALL_CACHE_DIR=str(world["dir"] / "cache"),
                      **({"VECRECALL_TEST_SWAP_FALLBACK": "1"} if k.fallback else {}))
        proc = spawn(*w.args(inputs, out, target), *w.overwrite, env=env)
        seen: list[str] = []
        if k.step is not None:
            assert proc.stderr is not None
            for line in proc.stderr:
                seen.append(line.strip())
                if line.strip() == f"vecrecall-test-swap {k.step}" and seen.count(line.strip()) >= nth.get(k.step, 1):
                    proc.send_signal(signal.SIGKILL)
                    break
            else:
                raise AssertionError(f"{w.name}: step {k.step} never reached: {seen} exit {proc.wait()}")
        else:
            try:
                proc.wait(timeout=k.at)
            except Exception:
                proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        killed = proc.returncode == -signal.SIGKILL
        assert killed or proc.returncode == 0, (proc.returncode, err)
        got = w.identify(out, ref)
        assert got in (state, target), (w.name, k, state, target, got)
        if k.step is not None:  # the commit point is the rename of the new file/directory into place
            assert got == (target if k.step in AFTER_COMMIT else state), (w.name, k, got)
        if not killed:
            assert got == target
            counts["finished"] += 1
        else:
            counts["kills"] += 1
            counts["old" if got == state else "new"] += 1
        state = got
    target = "B" if state == "A" else "A"
    _inproc(*w.args(inputs, out, target), *w.overwrite)  # a clean write tidies every leftover
    assert w.identify(out, ref) == target
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []
    return counts


def _step_counts(w: Writer, world: dict, work: Path) -> dict[str, int]:
    """How often each step is printed by one uninterrupted write (a staged writer's files inside its staging
    directory are written atomically too): the commit of --out is the last time each step comes."""
    _inproc(*w.args(world["inputs"], work / w.out_name, "A"))
    env = cli_env(VECRECALL_TEST_SWAP_DELAY="0.001", VECRECALL_CACHE_DIR=str(world["dir"] / "cache"))
    proc = spawn(*w.args(world["inputs"], work / w.out_name, "B"), *w.overwrite, env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    steps = [line.split()[1] for line in err.splitlines() if line.startswith("vecrecall-test-swap ")]
    assert steps[-len(w.steps):] == list(w.steps), steps  # the last steps are the commit of --out
    return {s: steps.count(s) for s in set(steps)}


@pytest.mark.parametrize("w", WRITERS, ids=IDS)
def test_kill_inside_every_commit_window(w, world, tmp_path):
    plan = [Kill(step=s) for s in w.steps] + [Kill(step=s, fallback=True) for s in ("ready", *w.fallback_steps)
                                              if w.fallback_steps]
    counts = _kill_sequence(w, world, plan, tmp_path / "work")
    assert counts["kills"] == len(plan)
    assert counts["new"] == sum(k.step in AFTER_COMMIT for k in plan), counts
    print(f"{w.name}: {counts}")


@pytest.mark.slow
@pytest.mark.parametrize("w", WRITERS, ids=IDS)
def test_kill_at_random_moments(w, world, tmp_path):
    rng = random.Random(f"kill-{w.name}")
    t0 = time.perf_counter()  # how long one uninterrupted write takes here, with short step delays
    probe = spawn(*w.args(world["inputs"], tmp_path / "probe" / w.out_name, "A"),
                  env=cli_env(VECRECALL_TEST_SWAP_DELAY="0.05", VECRECALL_CACHE_DIR=str(world["dir"] / "cache")))
    probe.communicate(timeout=120)
    full = time.perf_counter() - t0
    plan = [Kill(at=rng.uniform(0.2 * full, 1.0 * full), delay=0.05, fallback=bool(w.fallback_steps) and n % 2 == 1)
            for n in range(40)]
    counts = _kill_sequence(w, world, plan, tmp_path / "work", max_kills=20)
    assert counts["kills"] == 20, counts
    print(f"{w.name}: {counts}")
