"""Progress on stderr: plain lines when stderr is not a terminal (CI, nohup, | tee), a live bar with a rate and an eta
when it is (checked through the real entry point on a pseudo-terminal), and faiss's repeated native warnings said once."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import time

import pytest

from clirun import ROOT, cli_env, entry_point, run_cli
from conftest import FAST_MODEL, SAMPLE

PLAIN = re.compile(r"^(?P<what>[\w ]+): (?P<done>[\d,]+)/(?P<total>[\d,]+) (?P<unit>\w+) \((?P<pct>\d+)%\), "
                   r"(?P<rate>[\d,.]+) \w+/s, [\d.ms]+ elapsed, eta [\dms.h]+$")


def plain_env(every: str = "0.001", **extra: str) -> dict[str, str]:
    """Progress on (no VECRECALL_QUIET), a plain line at every 10 % (the interval made tiny so short steps print)."""
    env = cli_env(VECRECALL_PROGRESS_EVERY=every, **extra)
    env.pop("VECRECALL_QUIET", None)
    return env


@pytest.fixture
def loud(monkeypatch):
    monkeypatch.delenv("VECRECALL_QUIET", raising=False)
    monkeypatch.setenv("VECRECALL_PROGRESS_EVERY", "0.001")


# --- the library: vecrecall.progress -----------------------------------------------------------------------------

def test_plain_lines_at_every_tenth_with_rate_and_eta_then_a_last_line(loud, capsys):
    from vecrecall.progress import progress

    with progress("encode corpus", 100, "docs") as advance:
        for _ in range(20):
            time.sleep(0.002)
            advance(5)
    err = capsys.readouterr().err.splitlines()
    steps = [PLAIN.match(line) for line in err[:-1]]
    assert all(steps), err
    pcts = [int(m["pct"]) for m in steps]
    assert pcts == sorted(pcts) and {10, 20, 30, 40, 50, 60, 70, 80, 90} <= set(pcts), pcts  # (+ any 10 s lines)
    assert all(float(m["rate"].replace(",", "")) > 0 for m in steps)
    assert re.fullmatch(r"encode corpus: done 100 docs in [\d.]+s, [\d,.]+ docs/s", err[-1]), err[-1]


def test_a_step_ended_by_an_interruption_says_stopped_not_done(loud, capsys):
    from vecrecall.progress import progress

    with pytest.raises(KeyboardInterrupt):
        with progress("encode corpus", 100, "docs") as advance:
            advance(40)
            time.sleep(0.01)
            raise KeyboardInterrupt
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(r"encode corpus: stopped after 40/100 docs in [\d.]+s, [\d,.]+ docs/s", last), last


def test_plain_line_every_interval_while_nothing_advances(monkeypatch, capsys):
    from vecrecall.progress import progress

    monkeypatch.delenv("VECRECALL_QUIET", raising=False)
    monkeypatch.setenv("VECRECALL_PROGRESS_EVERY", "0.1")
    with progress("encode corpus", 2000, "docs") as advance:
        time.sleep(0.45)  # a slow first block: the ticker still says how long it has been
        advance(2000)
    err = capsys.readouterr().err.splitlines()
    waiting = [line for line in err if line.startswith("encode corpus: 0/2,000 docs (0%), - docs/s, ")]
    assert len(waiting) >= 2, err
    assert err[-1].startswith("encode corpus: done 2,000 docs in ")


def test_a_step_under_a_second_prints_nothing_and_quiet_silences_everything(monkeypatch, capsys):
    from vecrecall.progress import activity, progress

    monkeypatch.delenv("VECRECALL_QUIET", raising=False)
    monkeypatch.delenv("VECRECALL_PROGRESS_EVERY", raising=False)
    with progress("query", 40, "queries") as advance:
        advance(40)
    with activity("build faiss index"):
        pass
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("VECRECALL_QUIET", "1")
    monkeypatch.setenv("VECRECALL_PROGRESS_EVERY", "0.001")
    with progress("query", 40, "queries") as advance:
        time.sleep(0.01)
        advance(40)
    assert capsys.readouterr().err == ""


def test_live_bar_shows_rate_and_eta_after_the_first_step(monkeypatch):
    """On a terminal: rich's own columns show '- it/s' and '-:--:--' until their speed window fills (the finetune
    bar showed '-:--:--' throughout); ours fall back to the average since the start."""
    from rich.console import Console

    import vecrecall.progress as vp

    monkeypatch.delenv("VECRECALL_QUIET", raising=False)
    monkeypatch.setattr(vp, "console", Console(file=io.StringIO(), force_terminal=True, width=140))
    b = vp.bar("train", 100, "steps")
    assert isinstance(b, vp._RichBar)
    try:
        time.sleep(0.05)
        b.update(completed=1, note="loss 0.6931")
        task = b.progress.tasks[0]
        assert task.speed is None  # what rich alone would show as '-'
        columns = {type(c).__name__: c for c in b.progress.columns}
        rate, eta = columns["Rate"].render(task).plain, columns["Eta"].render(task).plain
        assert re.fullmatch(r"[\d,.]+ steps/s", rate), rate
        assert re.fullmatch(r"eta [\d.]+s|eta \d+m\d\ds", eta), eta
    finally:
        b.close()
    assert "loss 0.6931" in vp.console.file.getvalue()


# --- through the real entry point ---------------------------------------------------------------------------------

def run_on_terminal(*args: object, env: dict[str, str], timeout: float = 300) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe: (exit code, stdout, what the terminal got)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([*entry_point(), *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                seen += data
            elif proc.poll() is not None:
                break
        out = proc.stdout.read().decode() if proc.stdout else ""
        rc = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return rc, out, seen.decode("utf-8", "replace")


def frames(term: str) -> list[str]:
    """The successive frames a live display drew (escape sequences removed)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term)
    return [f.strip() for f in re.split(r"[\r\n]+", plain) if f.strip()]


def terminal_env(**extra: str) -> dict[str, str]:
    env = cli_env(COLUMNS="150", TERM="xterm-256color", **extra)
    for key in ("VECRECALL_QUIET", "VECRECALL_PROGRESS_EVERY", "NO_COLOR", "TTY_COMPATIBLE", "FORCE_COLOR"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    d = tmp_path_factory.mktemp("progress")
    env = cli_env(VECRECALL_CACHE_DIR=str(d / "cache"))
    assert run_cli("encode", "--corpus", SAMPLE, "--out", d / "emb", "--model", FAST_MODEL, env=env).exit_code == 0
    assert run_cli("build-index", "--embeddings", d / "emb", "--out", d / "flat", env=env).exit_code == 0
    return d


def test_query_on_a_terminal_draws_a_bar_with_a_rate(chain, tmp_path):
    rc, out, term = run_on_terminal("query", "--index", chain / "flat", "--queries", SAMPLE, "--out", tmp_path / "r.run",
                                    env=terminal_env(VECRECALL_CACHE_DIR=str(chain / "cache")))
    assert rc == 0, term
    assert "\x1b[" in term and "━" in term  # rich drew a live bar (escape sequences, bar glyphs)
    final = frames(term)[-1]  # the frame left on screen
    assert re.search(r"query [━╸╺ ]+40/40 100% [\d,.]+ queries/s", final), final
    assert "-:--:--" not in term
    assert "wrote" in out


def test_piped_stderr_gets_plain_lines_for_encode_build_and_query(chain, tmp_path):
    env = plain_env(VECRECALL_CACHE_DIR=str(tmp_path / "cache"))
    r = run_cli("encode", "--corpus", SAMPLE, "--out", tmp_path / "emb", "--model", FAST_MODEL, env=env)
    assert r.exit_code == 0, r.stderr
    lines = r.stderr.splitlines()
    assert "\x1b[" not in r.stderr  # no terminal control sequences in a log
    assert any(PLAIN.match(line) and line.startswith("encode corpus: 1,024/2,000 docs (51%)") for line in lines), lines
    assert any(line.startswith("encode corpus: done 2,000 docs in ") for line in lines), lines

    r = run_cli("build-index", "--embeddings", tmp_path / "emb", "--index-type", "HNSW", "--out", tmp_path / "hnsw", env=env)
    assert r.exit_code == 0, r.stderr
    assert re.search(r"^build faiss index over 2,000 rows: done in [\d.]+s$", r.stderr, re.M), r.stderr

    r = run_cli("query", "--index", tmp_path / "hnsw", "--queries", SAMPLE, "--out", tmp_path / "r.run", env=env)
    assert r.exit_code == 0, r.stderr
    assert re.search(r"^query: done 40 queries in [\d.]+s, [\d,.]+ queries/s$", r.stderr, re.M), r.stderr


def test_ivfpq_faiss_warnings_said_once_with_a_count(chain, tmp_path):
    """faiss prints one k-means warning per PQ sub-quantizer from C++ (16 here, 48 in the README example)."""
    r = run_cli("build-index", "--embeddings", chain / "emb", "--index-type", "IVFPQ", "--nlist", 16, "--pq-m", 16,
                "--out", tmp_path / "ivfpq", env=cli_env(VECRECALL_CACHE_DIR=str(chain / "cache")))
    assert r.exit_code == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "clustering" in line]
    assert warnings == ["faiss: WARNING clustering 2000 points to 256 centroids: please provide at least 9984 "
                        "training points (×16)"], r.stderr


def test_native_stderr_summary_keeps_python_output_on_stderr(tmp_path):
    """Lines written to fd 2 by native code are collected and counted; Python's own stderr output meanwhile still
    reaches stderr as it happens (a progress bar keeps drawing)."""
    code = (
        "import os, sys\n"
        "from vecrecall.native import summarised_stderr\n"
        "with summarised_stderr('lib') as lines:\n"
        "    for _ in range(3): os.write(2, b'WARNING same thing\\n')\n"
        "    os.write(2, b'other\\n')\n"
        "    print('python says hi', file=sys.stderr, flush=True)\n"
        "print('after', lines, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "python says hi", "lib: WARNING same thing (×3)", "lib: other",
        "after ['lib: WARNING same thing (×3)', 'lib: other']",
    ]


@pytest.mark.slow
def test_finetune_progress_shows_an_eta(tmp_path):
    """finetune's bar showed 'eta -:--:--' throughout: on a terminal it shows a time left, and piped each line has
    one. Tiny random model, 40 steps."""
    import json

    from tiny_models import make_tiny_bi_encoder

    model = make_tiny_bi_encoder(tmp_path / "bi", seed=0)
    beir = tmp_path / "beir"
    beir.mkdir()
    docs = [{"_id": f"d{i}", "text": f"laser beam optics {i} photon"} for i in range(40)]
    queries = [{"_id": f"q{i}", "text": f"laser {i}"} for i in range(40)]
    (beir / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (beir / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (beir / "qrels").mkdir()
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(40)))
    args = ["finetune", "--model", model, "--qrels", beir, "--queries", beir, "--corpus", beir, "--batch-size", 4,
            "--max-steps", 40, "--lr", "1e-3", "--no-eval"]
    r = run_cli(*args, "--out", tmp_path / "ft-piped", env=plain_env("0.05", VECRECALL_CACHE_DIR=str(tmp_path / "c")))
    assert r.exit_code == 0, r.stderr
    train = [line for line in r.stderr.splitlines() if line.startswith("train: ")]
    running = [line for line in train if re.match(r"train: ([1-9]|[1-3]\d)/40 ", line)]
    assert running and all(re.search(r"/40 steps \(\d+%\), loss [\d.]+, [\d,.]+ steps/s, .* eta [\d.ms]+$", line)
                           for line in running), train
    assert re.match(r"train: done 40 steps in [\d.ms]+, [\d,.]+ steps/s, loss [\d.]+$", train[-1]), train[-1]

    rc, out, term = run_on_terminal(*args, "--out", tmp_path / "ft-tty",
                                    env=terminal_env(VECRECALL_CACHE_DIR=str(tmp_path / "c")))
    assert rc == 0, term
    assert "-:--:--" not in term
    running = [f for f in frames(term) if re.match(r"train [━╸╺ ]+([1-9]|[1-3]\d)/40 ", f)]
    assert running and all(re.search(r"[\d,.]+ steps/s .*eta [\d.ms]+", f) for f in running), frames(term)


def test_steps_with_status_and_a_total_learnt_while_running(loud, capsys):
    """The interface the sweep uses: status text beside the count, a total that grows."""
    from vecrecall.progress import steps

    with steps("sweep", 10, "settings") as s:
        s.update(status="building IVF {'nlist': 64}")
        for _ in range(5):
            time.sleep(0.002)
            s.update(advance=1)
        s.update(total=20)
        for _ in range(15):
            time.sleep(0.002)
            s.update(advance=1, status="searching")
    err = capsys.readouterr().err.splitlines()
    assert any(re.match(r"sweep: 5/10 settings \(50%\), building IVF \{'nlist': 64\}, ", line) for line in err), err
    assert any(re.match(r"sweep: 1\d/20 settings \(\d+%\), searching, ", line) for line in err), err
    assert re.match(r"sweep: done 20 settings in [\d.]+s, [\d,.]+ settings/s, searching$", err[-1]), err[-1]
