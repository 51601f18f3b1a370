"""Usage errors through the installed entry point in a subprocess: one line, exit 2, no traceback, nothing written.

Typer ≥ 0.2x raises its own vendored Click classes (typer._click.exceptions), which a handler matching only
click.ClickException missed; these run the real console script so a parser upgrade cannot bring tracebacks back.
"""

from __future__ import annotations

import pytest

from clirun import assert_one_line_error, run_cli

USAGE = [
    (["query", "--index", "X", "--queries", "Q"], ["Missing option '--out'", "vecrecall query --help"]),
    (["query", "--index", "X", "--queries", "Q", "--out", "OUT", "-k", "abc"], ["'-k'", "valid integer"]),
    (["encode", "--corpus", "C", "--out", "OUT", "--bogus"], ["No such option: --bogus"]),
    (["encode", "--corpu", "C", "--out", "OUT"], ["No such option: --corpu", "--corpus"]),
    (["nosuchcommand"], ["No such command 'nosuchcommand'"]),
    (["query", "--index"], ["'--index' requires an argument"]),
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


def test_debug_shows_the_traceback(tmp_path):
    r = run_cli("--debug", "query", "--index", "X", "--queries", "Q", cwd=tmp_path)
    assert r.exit_code == 1 and "Traceback" in r.stderr and "MissingParameter" in r.stderr


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
