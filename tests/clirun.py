"""Run the installed `vecrecall` console script in a subprocess, on this checkout's code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def entry_point() -> list[str]:
    """The console script beside this interpreter (what `pip install` made), else the same entry function."""
    script = Path(sys.executable).with_name("vecrecall")
    if script.exists():
        return [str(script)]
    found = shutil.which("vecrecall")
    if found:
        return [found]
    return [sys.executable, "-c", "from vecrecall.cli.app import main; main()"]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["VECRECALL_QUIET"] = "1"
    for key in ("VECRECALL_DEBUG", "VECRECALL_TEST_SWAP_DELAY", "VECRECALL_TEST_SWAP_FALLBACK"):
        env.pop(key, None)
    env.update(extra)
    return env


@dataclass
class Proc:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: object, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300,
            **popen: object) -> Proc:
    r = subprocess.run([*entry_point(), *map(str, args)], capture_output=True, text=True, env=env or cli_env(),
                       cwd=cwd, timeout=timeout, **popen)
    return Proc(r.returncode, r.stdout, r.stderr)


def spawn(*args: object, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([*entry_point(), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or cli_env(), cwd=cwd)


def assert_one_line_error(r: Proc, *fragments: str, code: int = 2) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr, r.stderr
    assert len(err.splitlines()) == 1, err
    for f in fragments:
        assert f in err, (f, err)
    return err
