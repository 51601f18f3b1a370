"""Usage errors through the installed entry point in a subprocess: one line, exit 2, no traceback, nothing written.

Typer ≥ 0.2x raises its own vendored Click classes (typer._click.exceptions), which a handler matching only
click.ClickException missed; these run the real console script so a parser upgrade cannot bring tracebacks back.
"""

from __future__ import annotations

import pytest

from clirun import assert_one_line_error, run_cli

USAGE = [
    (["query", "--index", "X", "--queries", "Q"], ["Missing option '--out'", "vecrecall query --help"]),
    (["query", "--index", "X", "--queries", "Q", "--out", "OUT", "-k", "abc"], ["'-k'", "not a valid int"]),
    (["encode", "--corpus", "C", "--out", "OUT", "--bogus"], ["No such option: --bogus"]),
    (["encode", "--corpu", "C", "--out", "OUT"], ["No such option: --corpu (Possible options: --corpus)"]),
    (["query", "--bogus"], ["No such option: --bogus (see 'vecrecall query --help')"]),
    (["encode", "--corpus", "--out", "x"], ["--corpus has no value: it took the option --out as its value"]),
    (["encode", "--corpus", "C", "--model", "--out", "x"], ["--model has no value: it took the option --out"]),
    (["nosuchcommand"], ["No such command 'nosuchcommand'"]),
    (["query", "--index"], ["'--index' requires an argument", "(see 'vecrecall query --help')"]),
    (["anncur", "bench", "--index"], ["'--index' requires an argument", "(see 'vecrecall anncur bench --help')"]),
    (["eval", "-m", "nDCG@10"], ["Missing argument", "vecrecall eval --help"]),
    (["build-index", "--embeddings", "E", "--out", "OUT", "--backend"], ["'--backend' requires an argument"]),
]


@pytest.mark.parametrize("args,fragments", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_error_is_one_line_exit_2(tmp_path, args, fragments):
    r = run_cli(*args, cwd=tmp_path)
    err = assert_one_line_error(r, *fragments)
    assert err.startswith("error: "), err
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a lock or temp


def test_bare_vecrecall_prints_help_and_exits_2(tmp_path):
    r = run_cli(cwd=tmp_path)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert "Usage: vecrecall" in r.stdout and "build-index" in r.stdout
    assert r.stderr.strip() == ""


def test_group_without_subcommand_prints_help_and_exits_2(tmp_path):
    r = run_cli("anncur", cwd=tmp_path)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert "Usage: vecrecall anncur" in r.stdout


def test_help_still_exits_0(tmp_path):
    r = run_cli("query", "--help", cwd=tmp_path)
    assert r.exit_code == 0 and "--index" in r.stdout and r.stderr == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_wherever_it_stands(tmp_path, where):
    """--debug before or after the command: the traceback, then the usual line and exit code (2, not a bug's 1)."""
    args = ["query", "--index", "X", "--queries", "Q"]
    r = run_cli(*(["--debug", *args] if where == "before" else [*args, "--debug"]), cwd=tmp_path)
    assert r.exit_code == 2 and "Traceback" in r.stderr and "MissingParameter" in r.stderr, r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: ")
    r = run_cli("info", tmp_path / "nope", *(["--debug"] if where == "after" else []), cwd=tmp_path)
    if where == "after":
        assert r.exit_code == 2 and "Traceback" in r.stderr and "UserError" in r.stderr
        assert r.stderr.rstrip().splitlines()[-1].startswith("error: ")


def test_user_error_is_one_line_exit_2(tmp_path):
    r = run_cli("query", "--index", tmp_path / "nope", "--queries", tmp_path / "q", "--out", tmp_path / "r.run",
                cwd=tmp_path)
    assert_one_line_error(r, "nope")
    assert not (tmp_path / "r.run").exists()


def test_installed_typer_is_in_the_tested_range():
    """The handler is tested against the pinned Typer range; an environment outside it is not what was tested."""
    import re
    import tomllib
    from importlib import metadata

    from conftest import ROOT

    packaging = pytest.importorskip("packaging.specifiers")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if re.match(r"typer\b", d))
    assert packaging.SpecifierSet(spec[len("typer"):]).contains(metadata.version("typer")), spec


def test_ctrl_c_while_the_cli_is_still_importing_is_one_line_no_traceback(tmp_path):
    """A Ctrl-C that lands in the imports (before `main` runs) exits 130 with one line and writes nothing."""
    import signal
    import subprocess
    import time

    from clirun import cli_env, entry_point

    env = cli_env()
    # a sitecustomize that stalls the CLI's `import typer` for 3 s makes the moment reproducible
    (tmp_path / "sitecustomize.py").write_text(
        "import builtins, time\n_imp = builtins.__import__\n"
        "def _slow(name, *a, **k):\n"
        "    if name == 'typer':\n        time.sleep(3)\n"
        "    return _imp(name, *a, **k)\n"
        "builtins.__import__ = _slow\n")
    env["PYTHONPATH"] = f"{tmp_path}:{env.get('PYTHONPATH', '')}"
    proc = subprocess.Popen([*entry_point(), "encode", "--corpus", "x", "--out", str(tmp_path / "e")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() == "interrupted while starting; nothing was written", err
    assert not (tmp_path / "e").exists()
