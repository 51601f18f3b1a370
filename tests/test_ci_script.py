""".ci/run: the README's two set-up commands in a fresh virtualenv, and a pytest that collects nothing fails CI.

The script runs with stub `python3`, `python`, `pip`, `vecrecall` and `pytest` first on PATH (each logs its call),
so the test checks its control flow in a second, not the real install."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CI_LOG"
if [ "$(basename "$0")" = python3 ] && [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin"; : > "$3/bin/activate"; fi
if [ "$(basename "$0")" = pytest ]; then exit "$PYTEST_RC"; fi
exit 0
"""


def _run(tmp_path: Path, pytest_rc: int) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python3", "python", "pip", "vecrecall", "pytest"):
        stub = bin_dir / name
        stub.write_text(STUB)
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / f"calls-{pytest_rc}.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CI_LOG": str(log), "PYTEST_RC": str(pytest_rc),
           "TMPDIR": str(tmp_path)}
    r = subprocess.run(["bash", str(ROOT / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=60)
    return r, log.read_text().splitlines()


@pytest.mark.parametrize("pytest_rc,ci_rc", [(0, 0), (1, 1), (5, 1)])
def test_ci_runs_the_readme_commands_and_fails_when_pytest_collects_nothing(tmp_path, pytest_rc, ci_rc):
    r, calls = _run(tmp_path, pytest_rc)
    assert r.returncode == ci_rc, (r.stdout, r.stderr)
    assert any(c.startswith("python3 -m venv") for c in calls), calls
    assert 'pip install -q -e .[dev]' in calls, calls  # README command 1: install …
    assert any(c.startswith("vecrecall demo --out") for c in calls), calls  # … and the demo
    assert calls[-1] == "pytest -q", calls  # README command 2
    if pytest_rc == 5:
        assert "pytest collected no tests: failing CI" in r.stderr
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[dev]" && vecrecall demo' in readme and "\npytest -q" in readme
