"""Rich progress bars and the shared stderr console (results go to stdout, progress to stderr)."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


class _Rate(TextColumn):
    def __init__(self, unit: str) -> None:
        super().__init__("")
        self.unit = unit

    def render(self, task):  # type: ignore[override]
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s", style="cyan")


@contextlib.contextmanager
def progress(description: str, total: float | None, unit: str = "items") -> Iterator[Callable[[float], None]]:
    """A progress bar on stderr; yields `advance(n)`. Silent when VECRECALL_QUIET is set."""
    if os.environ.get("VECRECALL_QUIET"):
        yield lambda n=1: None
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        _Rate(unit), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        console=console, transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


# ---------------------------------------------------------------------------------------------------------------
# Progress with a status text, as a bar on a terminal and as plain lines in logs (sweep; to be generalised)
# ---------------------------------------------------------------------------------------------------------------

class PlainLines:
    """Progress for a log (stderr not a terminal: CI, nohup, `| tee`): one plain line when `every_s` seconds have
    passed or another `step` of the total is done, and one at the end; no control characters."""

    def __init__(self, description: str, total: float, unit: str, every_s: float = 10.0, step: float = 0.1,
                 write: Callable[[str], None] | None = None) -> None:
        import sys
        import time

        self.description, self.total, self.unit = description, float(total), unit
        self.every_s, self.step = every_s, step
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.clock = time.monotonic
        self.t0 = self.last_t = self.clock()
        self.completed = 0.0
        self.last_frac = 0.0
        self.status = ""

    def _frac(self) -> float:
        frac = self.completed / self.total if self.total > 0 else 1.0
        return 1.0 if frac > 1 - 1e-9 else frac  # fractions of a step add up to 0.999…

    def line(self) -> str:
        elapsed = self.clock() - self.t0
        frac = self._frac()
        left = f", ~{_clock(elapsed / frac * (1 - frac))} left" if 0 < frac < 1 else ""
        status = f" · {self.status}" if self.status else ""
        return (f"{self.description}: {self.completed:,.0f}/{self.total:,.0f} {self.unit} ({frac:.0%}), "
                f"{_clock(elapsed)} elapsed{left}{status}")

    def update(self, completed: float | None = None, advance: float = 0.0, status: str | None = None,
               total: float | None = None) -> None:
        if total is not None:
            self.total = float(total)
        self.completed = (self.completed if completed is None else float(completed)) + advance
        if status is not None:
            self.status = status
        frac = self._frac()
        now = self.clock()
        if now - self.last_t >= self.every_s or frac - self.last_frac >= self.step - 1e-9:
            self.write(self.line())
            self.last_t, self.last_frac = now, frac

    def finish(self) -> None:
        """The closing line, unless the last one written already said 100%."""
        if self.last_frac < 1.0:
            self.write(self.line())
            self.last_frac = 1.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class _RichSteps:
    def __init__(self, bar: Progress, task: Any) -> None:
        self.bar, self.task = bar, task

    def update(self, completed: float | None = None, advance: float = 0.0, status: str | None = None,
               total: float | None = None) -> None:
        kw: dict[str, Any] = {} if status is None else {"status": status}
        if total is not None:
            kw["total"] = total
        if completed is not None:
            kw["completed"] = completed + advance
        elif advance:
            kw["advance"] = advance
        self.bar.update(self.task, **kw)


class _NoSteps:
    def update(self, completed: float | None = None, advance: float = 0.0, status: str | None = None,
               total: float | None = None) -> None:
        pass


@contextlib.contextmanager
def steps(description: str, total: float, unit: str = "items") -> Iterator[Any]:
    """Progress over a total known up front, with a status text; yields an object with
    `update(completed=None, advance=0, status=None, total=None)`. A bar on a terminal, plain lines (`PlainLines`) when stderr
    is not one, nothing when VECRECALL_QUIET is set."""
    if os.environ.get("VECRECALL_QUIET"):
        yield _NoSteps()
        return
    if not console.is_terminal:
        plain = PlainLines(description, total, unit)
        yield plain
        plain.finish()
        return
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                   console=console, transient=False)
    with bar:
        yield _RichSteps(bar, bar.add_task(description, total=total, status=""))
