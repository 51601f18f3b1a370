"""Whole-process measurements for the bench scripts: wall time and peak resident memory of one child process.

Peak RSS is the kernel's high-water mark of the command's resident set (VmHWM: anonymous memory plus the file pages
it has mapped and touched), imports included, as GNU time (`/usr/bin/time -f %M`) reports it. The command is started
by `time` rather than forked from this process, because a forked child's `ru_maxrss` also counts the pages it shared
with its parent before `exec` (here a Python process with numpy loaded, ≈90 MB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"  # GNU time


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    rc: int
    stderr: str
    cpu_s: float = 0.0  # user + system seconds of the command (less sensitive than wall time to other load)

    def check(self, what: str) -> "Measured":
        if self.rc != 0:
            sys.exit(f"{what} failed (exit {self.rc}):\n{self.stderr[-3000:]}")
        return self


def run_measured(cmd: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None) -> Measured:
    """Run `cmd` to completion: wall seconds, peak RSS in MB, exit code, stderr, CPU seconds."""
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    err_path, rss_path = tmp / f"vr-bench-{os.getpid()}.stderr", tmp / f"vr-bench-{os.getpid()}.rss"
    with open(err_path, "w+b") as err:
        t0 = time.perf_counter()
        rc = subprocess.call([TIME, "-f", "%M %U %S", "-o", str(rss_path), *cmd], stdout=subprocess.DEVNULL,
                             stderr=err, env=env, cwd=cwd)
        seconds = time.perf_counter() - t0
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    kb, user, system = map(float, rss_path.read_text().split()[-3:])
    err_path.unlink(missing_ok=True)
    rss_path.unlink(missing_ok=True)
    return Measured(seconds, kb / 1024, rc, text, user + system)


def process_env() -> dict[str, str]:
    """The environment for timed vecrecall processes: quiet, and free to write .pyc files on the untimed warm-up
    run, as a wheel install has them (PYTHONDONTWRITEBYTECODE, set in some environments, would otherwise make every
    run recompile vecrecall's modules: ≈ 0.07 s of a 0.4 s `vecrecall query`)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"VECRECALL_QUIET": "1"}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
