"""Nothing a user owns is lost: refusals before work, locks, umask, recovery of interrupted swaps, run + manifest as
one unit, clean-up of killed writers' temporaries (and of nothing else), SIGTERM/SIGINT, and the staging API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clirun import cli_env, run_cli, spawn
from conftest import FAST_MODEL, SAMPLE, assert_user_error

from vecrecall import artifacts as A
from vecrecall.artifacts import (Manifest, atomic_dir, atomic_file, load_embeddings, read_manifest, staged_dir,
                                 write_dir_manifest)
from vecrecall.errors import UserError
from vecrecall.io.runs import read_run, run_manifest, write_run


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _artifact(d: Path, value: str) -> Path:
    """A small directory artifact written through atomic_dir."""
    with atomic_dir(d, overwrite=True) as tmp:
        (tmp / "data.txt").write_text(value)
        write_dir_manifest(tmp, Manifest(type="toy", params={"value": value}))
    return d


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _run_df(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"qid": ["q1"] * n, "docid": [f"d{i}" for i in range(n)], "rank": list(range(1, n + 1)),
                         "score": [float(n - i) for i in range(n)]})


# ---------------------------------------------------------------------------------------------------------------
# demo and --overwrite never delete what vecrecall did not write
# ---------------------------------------------------------------------------------------------------------------

def test_demo_refuses_a_directory_of_user_files_even_with_overwrite(vr, tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    assert_user_error(vr("demo", "--out", keep, "--model", FAST_MODEL, "--data", SAMPLE), "already exists")
    assert_user_error(vr("demo", "--out", keep, "--model", FAST_MODEL, "--data", SAMPLE, "--overwrite"),
                      "did not write")
    assert sorted(p.name for p in keep.iterdir()) == ["notes.txt"] and (keep / "notes.txt").read_text() == "mine"
    assert _hidden(tmp_path) == []


def test_demo_is_one_artifact_and_overwrite_keeps_foreign_files(vr, tmp_path):
    out = tmp_path / "demo"
    assert vr("demo", "--out", out, "--model", FAST_MODEL, "--data", SAMPLE, "--json").exit_code == 0
    m = read_manifest(out, expect="demo")
    assert set(m.stats["means"]) == {"flat.run", "ivf.run"}
    # the lineage names the final paths, not the hidden directory the chain ran in
    assert run_manifest(out / "ivf.run").inputs["index"]["path"] == str((out / "ivf").resolve())
    assert ".tmp-" not in (out / "ivf.run.manifest.json").read_text()
    assert_user_error(vr("demo", "--out", out, "--model", FAST_MODEL, "--data", SAMPLE), "already exists")
    (out / "mine.txt").write_text("x")
    assert_user_error(vr("demo", "--out", out, "--model", FAST_MODEL, "--data", SAMPLE, "--overwrite"),
                      "holds files vecrecall did not write (mine.txt)")
    (out / "mine.txt").unlink()
    assert vr("demo", "--out", out, "--model", FAST_MODEL, "--data", SAMPLE, "--overwrite", "--json").exit_code == 0
    assert _hidden(tmp_path) == []


def test_overwrite_refuses_non_artifacts_symlinks_and_kind_changes(vr, sample_chain, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("a")
    assert_user_error(vr("encode", "--queries", SAMPLE, "--model", FAST_MODEL, "--out", plain, "--overwrite"),
                      "did not write (no manifest.json)")
    link = tmp_path / "link"
    link.symlink_to(sample_chain["qemb"])
    assert_user_error(vr("encode", "--queries", SAMPLE, "--model", FAST_MODEL, "--out", link, "--overwrite"),
                      "symbolic link")
    assert_user_error(vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--out",
                         sample_chain["emb"], "--overwrite"), "is a directory and this command writes a file")
    run = tmp_path / "r.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--out", run).exit_code == 0
    assert_user_error(vr("encode", "--queries", SAMPLE, "--model", FAST_MODEL, "--out", run, "--overwrite"),
                      "is a file and this command writes a directory")
    assert (plain / "a.txt").read_text() == "a" and link.is_symlink() and load_embeddings(sample_chain["emb"])


def test_overwrite_replaces_an_artifact_and_records_its_files(tmp_path):
    d = _artifact(tmp_path / "x", "old")
    assert json.loads((d / "manifest.json").read_text())["files"] == ["data.txt"]
    with pytest.raises(UserError, match="already exists"):
        _artifact_no_overwrite(d)
    _artifact(d, "new")
    assert (d / "data.txt").read_text() == "new" and _hidden(tmp_path) == []


def _artifact_no_overwrite(d: Path) -> None:
    with atomic_dir(d) as tmp:
        (tmp / "data.txt").write_text("nope")


# ---------------------------------------------------------------------------------------------------------------
# unwritable outputs are refused before any work
# ---------------------------------------------------------------------------------------------------------------

def test_output_under_a_file_is_refused_before_work(vr, sample_chain, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    assert_user_error(vr("encode", "--corpus", SAMPLE, "--model", FAST_MODEL, "--out", f / "emb"),
                      f"{f} is a file, not a directory")
    assert_user_error(vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--out",
                         f / "sub" / "r.run"), "is a file, not a directory")
    assert f.read_text() == "x"


def _unprivileged() -> list[str]:
    """A command prefix that makes root obey file modes (drops CAP_DAC_OVERRIDE); [] when not root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: root may write into read-only directories")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_read_only_directory_is_refused_in_one_line(sample_chain, tmp_path):
    from clirun import entry_point

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        cmd = [*_unprivileged(), *entry_point()]
        args = [["query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--out", ro / "r.run"],
                ["encode", "--corpus", SAMPLE, "--model", FAST_MODEL, "--out", ro / "sub" / "emb"]]
        for a in args:
            r = subprocess.run([*cmd, *map(str, a)], capture_output=True, text=True, env=cli_env(), timeout=120)
            assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
            assert r.stderr.strip().splitlines() == [f"error: {a[-1]}: cannot write there: {ro} is not writable "
                                                     "(permission denied); choose another --out"]
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


# ---------------------------------------------------------------------------------------------------------------
# umask
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_artifacts_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        _artifact(tmp_path / "d", "v")
        write_run(_run_df(), tmp_path / "r.run", Manifest(type="run"))
        with atomic_file(tmp_path / "p.parquet") as tmp:
            _run_df().to_parquet(tmp)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "d") == 0o777 & ~umask
    for f in (tmp_path / "d" / "data.txt", tmp_path / "d" / "manifest.json", tmp_path / "r.run",
              tmp_path / "r.run.manifest.json", tmp_path / "p.parquet"):
        assert mode(f) == 0o666 & ~umask, f


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_cli_outputs_honour_the_umask(sample_chain, tmp_path, umask):
    pre = lambda: os.umask(umask)  # noqa: E731
    assert run_cli("encode", "--queries", SAMPLE, "--model", FAST_MODEL, "--out", tmp_path / "q",
                   preexec_fn=pre).exit_code == 0
    assert run_cli("query", "--index", sample_chain["flat"], "--queries", tmp_path / "q", "--out",
                   tmp_path / "runs" / "r.run", preexec_fn=pre).exit_code == 0
    for p in tmp_path.rglob("*"):
        want = 0o777 & ~umask if p.is_dir() else 0o666 & ~umask
        assert stat.S_IMODE(p.stat().st_mode) == want, (p, oct(p.stat().st_mode))
    assert {p.name for p in tmp_path.rglob("*")} >= {"q", "embeddings.npy", "runs", "r.run", "r.run.manifest.json"}


# ---------------------------------------------------------------------------------------------------------------
# edited manifests and mismatched files
# ---------------------------------------------------------------------------------------------------------------

def test_embeddings_dimension_differing_from_manifest_is_refused_at_build(vr, sample_chain, tmp_path):
    e = tmp_path / "e"
    shutil.copytree(sample_chain["emb"], e)
    np.save(e / "embeddings.npy", np.ones((2000, 8), np.float32))
    assert_user_error(vr("build-index", "--embeddings", e, "--out", tmp_path / "i"),
                      "has dimension 8", "says 64", "stats.dim")
    assert not (tmp_path / "i").exists() and _hidden(tmp_path) == []


@pytest.mark.parametrize("edit,fragment", [
    (lambda d: d.pop("type"), "key 'type' is missing"),
    (lambda d: d.update(type=7), "key 'type' is missing or not a string"),
    (lambda d: d.update(params=[1]), "key 'params' must be an object"),
    (lambda d: d.update(type="sweep"), "is a 'sweep' artifact, expected 'embeddings'"),
    (lambda d: d["stats"].update(rows=5), "key 'stats.rows'"),
])
def test_edited_manifest_is_one_line_naming_file_and_key(vr, sample_chain, tmp_path, edit, fragment):
    e = tmp_path / "e"
    shutil.copytree(sample_chain["emb"], e)
    data = json.loads((e / "manifest.json").read_text())
    edit(data)
    (e / "manifest.json").write_text(json.dumps(data))
    assert_user_error(vr("build-index", "--embeddings", e, "--out", tmp_path / "i"), fragment, "manifest.json")


@pytest.mark.parametrize("edit,fragment", [
    (lambda p: p.pop("backend"), "key 'params.backend' is missing"),
    (lambda p: p.update(backend="nope"), "key 'params.backend' names 'nope', which is not a vecrecall backend"),
    (lambda p: p.pop("metric"), "key 'params.metric' is missing"),
    (lambda p: p.update(metric=3), "key 'params.metric' is 3, expected a string"),
    (lambda p: p.update(dim="abc"), "key 'params.dim' is 'abc', expected an integer"),
])
def test_edited_index_manifest_is_one_line_at_query(vr, sample_chain, tmp_path, edit, fragment):
    i = tmp_path / "flat"
    shutil.copytree(sample_chain["flat"], i)
    data = json.loads((i / "manifest.json").read_text())
    edit(data["params"])
    (i / "manifest.json").write_text(json.dumps(data))
    assert_user_error(vr("query", "--index", i, "--queries", sample_chain["qemb"], "--out", tmp_path / "r.run"),
                      fragment, "manifest.json")
    assert not (tmp_path / "r.run").exists()


def test_manifest_need_names_file_and_key(sample_chain):
    m = read_manifest(sample_chain["flat"])
    assert m.need("params", "backend") == "faiss"
    with pytest.raises(UserError, match=r"flat/manifest.json: key 'params.nope' is missing"):
        m.need("params", "nope")


def test_run_changed_after_writing_is_refused(tmp_path):
    run = write_run(_run_df(), tmp_path / "r.run", Manifest(type="run"))
    m = run_manifest(run)
    assert m.stats["content_sha256"] == A.sha256_file(run) and m.stats["content_bytes"] == run.stat().st_size
    run.write_text(run.read_text() + "q2 Q0 d9 1 0.5 x\n")
    with pytest.raises(UserError, match="content_bytes"):
        run_manifest(run)


# ---------------------------------------------------------------------------------------------------------------
# interrupted commits are recovered; killed writers' temporaries are cleaned, nothing else
# ---------------------------------------------------------------------------------------------------------------

def test_fallback_swap_killed_between_renames_is_restored_by_readers_and_writers(tmp_path):
    d = _artifact(tmp_path / "x", "old")
    old = tmp_path / f".x.old-{_dead_pid()}-0123abcd"
    os.rename(d, old)  # the state a kill leaves between the two renames of the fallback swap
    assert read_manifest(d).params["value"] == "old" and (d / "data.txt").read_text() == "old"
    os.rename(d, old)
    with pytest.raises(UserError, match="already exists"):  # a writer restores first, then refuses
        _artifact_no_overwrite(d)
    assert (d / "data.txt").read_text() == "old" and _hidden(tmp_path) == []


def test_fallback_swap_replaces_completely(tmp_path, monkeypatch):
    monkeypatch.setenv("VECRECALL_TEST_SWAP_FALLBACK", "1")
    d = _artifact(tmp_path / "x", "old")
    _artifact(d, "new")
    assert (d / "data.txt").read_text() == "new" and _hidden(tmp_path) == []


def test_run_killed_between_run_and_manifest_renames_reads_the_new_manifest(tmp_path):
    run = write_run(_run_df(3), tmp_path / "r.run", Manifest(type="run", params={"k": 3}))
    old_manifest = (tmp_path / "r.run.manifest.json").read_text()
    write_run(_run_df(5), tmp_path / "new.run", Manifest(type="run", params={"k": 5}))
    new_sha = A.sha256_file(tmp_path / "new.run")
    pending = tmp_path / f".r.run.manifest.json.next-{new_sha[:16]}"
    # killed after the run's rename, before the manifest's: new run, old manifest, pending new manifest
    os.replace(tmp_path / "new.run.manifest.json", pending)
    os.replace(tmp_path / "new.run", run)
    assert json.loads(old_manifest)["params"]["k"] == 3
    assert run_manifest(run).params["k"] == 5 and len(read_run(run)) == 5
    with pytest.raises(UserError, match="already exists"):  # refused before any work: nothing touched
        write_run(_run_df(2), run, Manifest(type="run"), overwrite=False)
    assert pending.exists() and run_manifest(run).params["k"] == 5
    write_run(_run_df(2), run, Manifest(type="run", params={"k": 2}))  # the next write tidies up first
    assert _hidden(tmp_path) == [] and run_manifest(run).params["k"] == 2 and len(read_run(run)) == 2


def test_run_killed_before_its_rename_keeps_the_old_manifest(tmp_path):
    run = write_run(_run_df(3), tmp_path / "r.run", Manifest(type="run", params={"k": 3}))
    stale = tmp_path / ".r.run.manifest.json.next-0123456789abcdef"
    stale.write_text(json.dumps(Manifest(type="run", params={"k": 9}).to_dict()))
    assert run_manifest(run).params["k"] == 3
    write_run(_run_df(4), run, Manifest(type="run", params={"k": 4}))
    assert not stale.exists() and run_manifest(run).params["k"] == 4


def test_stale_temporaries_are_cleaned_by_the_next_write_and_nothing_else(tmp_path):
    _artifact(tmp_path / "x", "old")
    dead = _dead_pid()
    ours = [f".x.tmp-{dead}-0123abcd", f".x.trash-{dead}-89abcdef", ".x.lock"]
    theirs = [".x.tmp-notes", f".x.tmp-{dead}-0123abcd.bak", ".xx.tmp-1-0123abcd", "x.tmp-1-0123abcd",
              f".y.tmp-{dead}-0123abcd", f".x.tmp-{os.getppid()}-0123abcd"]  # the last: a live process's
    for name in ours[:2] + theirs:
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("keep me")
    (tmp_path / ".x.lock").write_text(f"{dead}\n")  # a stale lock left by a killed writer
    _artifact(tmp_path / "x", "new")
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & set(ours), left & set(ours)
    assert set(theirs) <= left and (tmp_path / "x" / "data.txt").read_text() == "new"


# ---------------------------------------------------------------------------------------------------------------
# concurrent writers, signals (subprocesses through the real entry point)
# ---------------------------------------------------------------------------------------------------------------

def _wait_for(proc: subprocess.Popen, line: str) -> None:
    assert proc.stderr is not None
    for got in proc.stderr:
        if got.strip() == f"vecrecall-test-swap {line}":
            return
    raise AssertionError(f"never reached {line}: exit {proc.wait()}")


def _encode(out: Path, model: str, *extra: str) -> list[str]:
    return ["encode", "--queries", str(SAMPLE), "--model", model, "--out", str(out), *extra]


def test_second_writer_fails_while_the_first_holds_the_lock(vr, tmp_path):
    out = tmp_path / "q"
    first = spawn(*_encode(out, "hash:32"), env=cli_env(VECRECALL_TEST_SWAP_DELAY="1.5"))
    try:
        _wait_for(first, "written")
        assert_user_error(vr(*_encode(out, "hash:48")), "another vecrecall command (pid", "is writing it")
        assert_user_error(vr(*_encode(out, "hash:48", "--overwrite")), "is writing it")
    finally:
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert load_embeddings(out).vectors.shape[1] == 32 and _hidden(tmp_path) == []
    assert_user_error(vr(*_encode(out, "hash:48")), "already exists")


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                           (signal.SIGINT, 130, "interrupted")])
def test_signal_before_commit_removes_temporaries_and_keeps_the_old_artifact(tmp_path, sig, code, word):
    out = tmp_path / "q"
    assert run_cli(*_encode(out, "hash:32")).exit_code == 0
    proc = spawn(*_encode(out, "hash:48", "--overwrite"), env=cli_env(VECRECALL_TEST_SWAP_DELAY="3"))
    _wait_for(proc, "written")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"{word}; no partial artifact was left" and "Traceback" not in err
    assert load_embeddings(out).vectors.shape[1] == 32 and _hidden(tmp_path) == []


def test_signal_during_commit_is_deferred_until_the_artifact_is_complete(sample_chain, tmp_path):
    out = tmp_path / "r.run"
    proc = spawn("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "3", "--out", out,
                 env=cli_env(VECRECALL_TEST_SWAP_DELAY="1"))
    _wait_for(proc, "manifest-pending")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert f"no partial artifact was left ({out} finished before the interruption)" in err
    assert run_manifest(out).params["k"] == 3 and read_run(out)["rank"].max() == 3
    assert _hidden(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------------
# staged_dir: the API for long writers with resumable partial results (sweep)
# ---------------------------------------------------------------------------------------------------------------

def _stage_rows(stage: A.Staging, rows: list[int]) -> None:
    with atomic_file(stage.path / "rows.json") as tmp:
        tmp.write_text(json.dumps(rows))
    with atomic_file(stage.path / "manifest.json") as tmp:
        tmp.write_text(json.dumps(Manifest(type="toy", stats={"rows": len(rows)}).to_dict()))


def test_staged_dir_keeps_partial_results_and_resumes(tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(RuntimeError):
        with staged_dir(out) as st:
            assert st.path.name == ".sweep.partial" and not st.resumed
            _stage_rows(st, [1, 2])
            raise RuntimeError("killed")
    assert not out.exists() and (tmp_path / ".sweep.partial" / "rows.json").exists()
    assert ".sweep.partial" in A.interruption_note()
    with pytest.raises(UserError, match="--resume to continue it or --overwrite"):
        with staged_dir(out):
            pass
    with staged_dir(out, resume=True) as st:
        assert st.resumed and json.loads((st.path / "rows.json").read_text()) == [1, 2]
        _stage_rows(st, [1, 2, 3])
    assert json.loads((out / "rows.json").read_text()) == [1, 2, 3] and _hidden(tmp_path) == []
    assert json.loads((out / "manifest.json").read_text())["files"] == ["rows.json"]


def test_staged_dir_overwrite_leaves_the_old_result_until_complete(tmp_path):
    out = tmp_path / "sweep"
    with staged_dir(out) as st:
        _stage_rows(st, [1])
    with pytest.raises(UserError, match="already exists"):
        with staged_dir(out):
            pass
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(out, overwrite=True) as st:
            _stage_rows(st, [7, 8])
            assert json.loads((out / "rows.json").read_text()) == [1]
            raise KeyboardInterrupt
    assert json.loads((out / "rows.json").read_text()) == [1]
    with staged_dir(out, overwrite=True) as st:  # --overwrite discards the interrupted partial
        assert not st.resumed and not (st.path / "rows.json").exists()
        _stage_rows(st, [9])
    assert json.loads((out / "rows.json").read_text()) == [9] and _hidden(tmp_path) == []


def test_staged_dir_resume_of_a_complete_result_starts_from_a_copy(tmp_path):
    out = tmp_path / "sweep"
    with staged_dir(out) as st:
        _stage_rows(st, [1])
    with pytest.raises(RuntimeError):
        with staged_dir(out, resume=True) as st:
            assert st.resumed and json.loads((st.path / "rows.json").read_text()) == [1]
            _stage_rows(st, [1, 2])
            raise RuntimeError
    assert json.loads((out / "rows.json").read_text()) == [1]
    with staged_dir(out, resume=True) as st:
        assert json.loads((st.path / "rows.json").read_text()) == [1, 2]
    assert json.loads((out / "rows.json").read_text()) == [1, 2]


def test_staged_dir_empty_partial_is_not_kept(tmp_path):
    with pytest.raises(UserError):
        with staged_dir(tmp_path / "s"):
            raise UserError("bad grid")
    assert _hidden(tmp_path) == []


STAGED_SCRIPT = """
import json, sys
from vecrecall.artifacts import Manifest, atomic_file, staged_dir
out, n, resume, overwrite = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
with staged_dir(out, overwrite=overwrite, resume=resume) as st:
    rows = json.loads((st.path / "rows.json").read_text()) if (st.path / "rows.json").exists() else []
    for i in range(len(rows), n):
        rows.append(i)
        with atomic_file(st.path / "rows.json") as tmp:
            tmp.write_text(json.dumps(rows))
        print(f"row {i}", file=sys.stderr, flush=True)
    with atomic_file(st.path / "manifest.json") as tmp:
        tmp.write_text(json.dumps(Manifest(type="toy", stats={"rows": n}).to_dict()))
"""


def test_staged_dir_killed_mid_overwrite_leaves_old_result_and_resume_finishes(tmp_path):
    out = tmp_path / "sweep"
    run = lambda n, resume, overwrite, **env: subprocess.Popen(  # noqa: E731
        [sys.executable, "-c", STAGED_SCRIPT, str(out), str(n), resume, overwrite], stderr=subprocess.PIPE,
        text=True, env=cli_env(**env))
    assert run(2, "0", "0").wait() == 0
    proc = run(6, "0", "1")
    for line in proc.stderr:
        if line.strip() == "row 3":
            proc.kill()
            break
    proc.wait()
    assert json.loads((out / "rows.json").read_text()) == [0, 1]  # the old result, intact
    assert json.loads((tmp_path / ".sweep.partial" / "rows.json").read_text()) == [0, 1, 2, 3]
    resumed = run(6, "1", "0")
    assert resumed.wait() == 0
    assert "row 3" not in resumed.stderr.read()  # finished rows are skipped
    assert json.loads((out / "rows.json").read_text()) == list(range(6)) and _hidden(tmp_path) == []


def test_files_a_library_adds_inside_a_listed_directory_are_not_foreign(tmp_path):
    d = tmp_path / "x"
    with atomic_dir(d) as tmp:
        (tmp / "db").mkdir()
        (tmp / "db" / "data").write_text("v1")
        write_dir_manifest(tmp, Manifest(type="toy"))
    (d / "db" / "LOCK").write_text("")  # what milvus-lite adds when it opens its database
    with atomic_dir(d, overwrite=True) as tmp:
        (tmp / "db").mkdir()
        (tmp / "db" / "data").write_text("v2")
        write_dir_manifest(tmp, Manifest(type="toy"))
    assert (d / "db" / "data").read_text() == "v2" and not (d / "db" / "LOCK").exists()
    (d / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=r"holds files vecrecall did not write \(notes.txt\)"):
        with atomic_dir(d, overwrite=True):
            pass
    assert (d / "notes.txt").read_text() == "mine"


def test_output_created_by_another_program_meanwhile_is_not_replaced(tmp_path):
    d, f = tmp_path / "x", tmp_path / "r.run"
    with pytest.raises(UserError, match="already exists"):  # checked again at the final rename
        with atomic_dir(d) as tmp:
            (tmp / "data.txt").write_text("ours")
            d.mkdir()
            (d / "theirs.txt").write_text("theirs")
    with pytest.raises(UserError, match="already exists"):
        with atomic_file(f, overwrite=False) as tmp:
            tmp.write_text("ours")
            f.write_text("theirs")
    assert (d / "theirs.txt").read_text() == "theirs" and f.read_text() == "theirs" and _hidden(tmp_path) == []


def test_an_input_is_never_the_output_even_with_overwrite(vr, sample_chain):
    """`build-index --embeddings E --out E --overwrite` replaced the embeddings with the index built from them, and
    `fuse A B --out A --overwrite` replaced run A: an output that is an input, holds one, lies inside an input
    artifact or is an input's manifest is refused before any work, and the inputs stay as they were."""
    d, emb, flat = sample_chain["dir"], sample_chain["emb"], sample_chain["flat"]
    run, other = d / "a.run", d / "b.run"
    for path in (run, other):
        assert vr("query", "--index", flat, "--queries", sample_chain["qemb"], "-k", 5, "--out", path).exit_code == 0
    before = {p: p.read_bytes() for p in (emb / "embeddings.npy", emb / "manifest.json", run, other)}
    cases = [
        (("build-index", "--embeddings", emb, "--out", emb), emb, emb),
        (("build-index", "--embeddings", emb, "--out", d), d, emb),
        (("fuse", run, other, "--out", run), run, run),
        (("fuse", run, other, "--out", f"{other}.manifest.json"), f"{other}.manifest.json", other),
        (("decay", "--run", run, "--corpus", SAMPLE, "--decay-field", "date", "--half-life", "5y", "--out", run), run, run),
        (("query", "--index", flat, "--queries", sample_chain["qemb"], "--out", flat / "x.run"), flat / "x.run", flat),
        (("eval", "--qrels", SAMPLE, run, "-m", "MAP", "--per-query", run.with_suffix(".parquet")), None, None),
    ]
    for args, out, given in cases[:-1]:
        assert_user_error(vr(*args, "--overwrite"), f"{out}: is (or holds, or is part of) the input {given}",
                          "choose another --out")
    assert {p: p.read_bytes() for p in before} == before
    assert not (flat / "x.run").exists()
    assert vr(*cases[-1][0]).exit_code == 0  # an unrelated output beside the inputs is fine


def test_overwrite_replaces_only_files_vecrecall_wrote(vr, sample_chain, tmp_path):
    """--overwrite never replaces a plain file of the user's, a manifest, or a file inside another artifact."""
    q = ("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "5")
    mine = tmp_path / "mine.run"
    mine.write_text("my notes\n")
    assert_user_error(vr(*q, "--out", mine, "--overwrite"), "mine.run: is a file vecrecall did not write")
    assert mine.read_text() == "my notes\n"
    run = tmp_path / "r.run"
    assert vr(*q, "--out", run).exit_code == 0
    assert vr(*q, "--out", run, "--overwrite").exit_code == 0  # its own artifact: replaced
    manifest = tmp_path / "r.run.manifest.json"
    before = manifest.read_bytes()
    assert_user_error(vr(*q, "--out", manifest, "--overwrite"), "is the manifest of r.run")
    assert manifest.read_bytes() == before
    e = tmp_path / "e"
    shutil.copytree(sample_chain["emb"], e)
    ids = (e / "ids.parquet").read_bytes()
    ev = ("eval", "--qrels", SAMPLE, run, "-m", "nDCG@10")
    assert_user_error(vr(*ev, "--per-query", e / "ids.parquet", "--overwrite"), "ids.parquet: is a file vecrecall did not write")
    assert (e / "ids.parquet").read_bytes() == ids
    pq = tmp_path / "pq.parquet"
    assert vr(*ev, "--per-query", pq).exit_code == 0
    assert vr(*ev, "--per-query", pq, "--overwrite").exit_code == 0  # written with its manifest: replaceable
    assert read_manifest(pq).type == "per-query"


@pytest.mark.parametrize("args,message", [
    (("--embeddings", "{qemb}"), "holds query vectors (encoded with --queries)"),
    (("--backend", "bm25", "--corpus", SAMPLE, "--metric", "l2"), "--metric l2: --backend bm25 scores with bm25 only"),
    (("--backend", "bm25", "--corpus", SAMPLE, "--embeddings", "{emb}"), "--backend bm25 indexes text, not vectors"),
    (("--embeddings", "{emb}", "--corpus", SAMPLE), "--corpus: --backend faiss indexes vectors"),
])
def test_build_index_refuses_inputs_it_would_ignore_or_misuse(vr, sample_chain, tmp_path, args, message):
    args = [str(a).format(qemb=sample_chain["qemb"], emb=sample_chain["emb"]) for a in args]
    assert_user_error(vr("build-index", *args, "--out", tmp_path / "i"), message)
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("command", [["fuse", "{run}", "{run}"], ["encode", "--queries", "{sample}", "--model", "hash:8"]])
def test_out_dash_is_refused_not_written_as_a_file(vr, tmp_path, monkeypatch, command):
    """`--out -` is not standard output here: refused before any work, and no file named '-' appears."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "a.run"
    run.write_text("1 Q0 d1 1 2.0 x\n1 Q0 d2 2 1.0 x\n")
    args = [a.format(run=run, sample=SAMPLE) for a in command]
    assert_user_error(vr(*args, "--out", "-"), "--out -: vecrecall writes its outputs to files")
    assert not (tmp_path / "-").exists()
