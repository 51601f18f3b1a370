"""Progress on stderr (results go to stdout): a live rich bar on a terminal, plain log lines everywhere else.

Where stderr is not an interactive terminal (CI, `nohup`, `| tee`, a dumb terminal) a live bar would print nothing
until the end, so each step instead prints one plain line at every further 10 % of its total or every 10 s, whichever
comes first (at most one a second), and a last line with its time and rate (steps shorter than a second print
nothing; `VECRECALL_PROGRESS_EVERY=SECONDS` sets the interval):

    encode corpus: 1,024/2,000 docs (51%), 84 docs/s, 12s elapsed, eta 12s
    encode corpus: done 2,000 docs in 24s, 83 docs/s

Rates and the eta come from rich's recent-speed estimate when it has one and from the average since the step began
otherwise (a step advanced in a few large blocks still shows a rate). `VECRECALL_QUIET=1` silences all of it.

`progress(description, total, unit)` yields `advance(n)`; `bar(...)` returns the `Bar` itself, for callers that set
the position (`update(completed=…)`) or a note (`note="loss 0.1234"`); `activity(description)` is for a step whose
size is unknown (building an index): a spinner with the elapsed time, or a plain line every 10 s.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Callable, Iterator

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

PLAIN_EVERY_S = 10.0  # a plain line at least this often while a step runs (VECRECALL_PROGRESS_EVERY overrides)…
PLAIN_STEP = 0.10  # …and at every further 10 % of its total…
PLAIN_MIN_GAP_S = 1.0  # …but never more than one a second (and none at all for a step shorter than that)


def _every() -> tuple[float, float]:
    """(seconds between plain lines, least seconds between two lines)."""
    try:
        every = float(os.environ.get("VECRECALL_PROGRESS_EVERY", PLAIN_EVERY_S))
    except ValueError:
        every = PLAIN_EVERY_S
    return max(every, 0.05), min(PLAIN_MIN_GAP_S, max(every, 0.0))


def quiet() -> bool:
    return bool(os.environ.get("VECRECALL_QUIET"))


def live() -> bool:
    """True when stderr is an interactive terminal, where a live bar can redraw itself."""
    return console.is_terminal and not console.is_dumb_terminal


def duration(seconds: float) -> str:
    """3.2 → '3.2s', 75 → '1m15s', 4000 → '1h06m'."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _rate_text(rate: float | None, unit: str) -> str:
    if not rate:
        return f"- {unit}/s"
    return f"{rate:,.1f} {unit}/s" if rate < 10 else f"{rate:,.0f} {unit}/s"


class Bar:
    """One step's progress. `advance(n)` adds n done; `update(completed=…, note=…)` sets the position or the note
    shown beside it; `close()` ends it (the plain form then prints its last line)."""

    def __init__(self, description: str, total: float | None, unit: str) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.completed = 0.0
        self.note = ""
        self.started = time.monotonic()
        self.closed = False
        self.stopped = False  # ended by an error or an interruption, not by finishing

    def advance(self, n: float = 1) -> None:
        self.update(completed=self.completed + n)

    def update(self, completed: float | None = None, note: str | None = None, total: float | None = None) -> None:
        """Set the position, the note beside it, or a new total (a total learnt while running)."""
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        if note is not None:
            self.note = note
        self._show()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._end()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def average_rate(self) -> float | None:
        e = self.elapsed
        return self.completed / e if self.completed and e > 0 else None

    def _show(self) -> None:
        pass

    def _end(self) -> None:
        pass


def _bar_columns(bar: "_RichBar") -> tuple[Any, ...]:
    """The live bar's columns. rich.progress is imported here, only when a live bar is shown (≈ 10 ms of every
    command's start-up otherwise)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, ProgressColumn, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        """Items per second: rich's recent speed, else the average since the start (never '-' once something is
        done)."""

        def render(self, task: Any) -> Text:
            return Text(_rate_text(bar.rate(task), bar.unit), style="progress.data.speed")

    class Eta(ProgressColumn):
        """Time left at the rate shown (rich's own column shows -:--:-- until its speed window fills)."""

        def render(self, task: Any) -> Text:
            if task.finished:
                return Text("")
            rate = bar.rate(task)
            if task.total is None or not rate:
                return Text("eta -", style="progress.remaining")
            return Text(f"eta {duration(max(0.0, task.total - task.completed) / rate)}", style="progress.remaining")

    return (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), Rate(),
            TimeElapsedColumn(), Eta(), TextColumn("{task.fields[note]}"))


class _RichBar(Bar):
    def __init__(self, description: str, total: float | None, unit: str) -> None:
        super().__init__(description, total, unit)
        from rich.progress import Progress

        self.progress = Progress(*_bar_columns(self), console=console, transient=False)
        self.progress.start()
        self.task = self.progress.add_task(description, total=total, note="")

    def rate(self, task: Any) -> float | None:
        return task.finished_speed or task.speed or self.average_rate()

    def _show(self) -> None:
        self.progress.update(self.task, completed=self.completed, note=self.note, total=self.total)

    def _end(self) -> None:
        self.progress.stop()


class _PlainBar(Bar):
    def __init__(self, description: str, total: float | None, unit: str) -> None:
        super().__init__(description, total, unit)
        self.lock = threading.Lock()
        self.last_line = self.started
        self.last_step = 0  # the last 10 % mark printed
        self.stop = threading.Event()
        self.every, self.gap = _every()
        # A line every PLAIN_EVERY_S even when the caller advances rarely (a slow first block).
        self.ticker = threading.Thread(target=self._tick, name="vecrecall-progress", daemon=True)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(self.every / 2):
            with self.lock:
                if not self.closed and time.monotonic() - self.last_line >= self.every:
                    self._line()

    def _line(self) -> None:
        done, total = self.completed, self.total
        parts = [f"{done:,.0f}/{total:,.0f} {self.unit} ({done / total:.0%})" if total else f"{done:,.0f} {self.unit}"]
        if self.note:
            parts.append(self.note)
        rate = self.average_rate()
        parts.append(_rate_text(rate, self.unit))
        parts.append(f"{duration(self.elapsed)} elapsed")
        if total and rate:
            parts.append(f"eta {duration(max(0.0, total - done) / rate)}")
        console.print(f"{self.description}: " + ", ".join(parts), markup=False, highlight=False, soft_wrap=True)
        self.last_line = time.monotonic()

    def _show(self) -> None:
        with self.lock:
            now = time.monotonic()
            step = int(self.completed / self.total / PLAIN_STEP + 1e-9) if self.total else 0
            due = now - self.last_line >= self.every or step > self.last_step
            if due and now - self.last_line >= self.gap and not (self.total and self.completed >= self.total):
                self.last_step = step
                self._line()

    def _end(self) -> None:
        self.stop.set()
        with self.lock:
            if self.last_line == self.started and self.elapsed < self.gap:
                return  # a step shorter than a second needs no line
            rate = self.average_rate()
            note = f", {self.note}" if self.note else ""
            done = f"{self.completed:,.0f}" + (f"/{self.total:,.0f}" if self.total and self.completed < self.total else "")
            ended = "stopped after" if self.stopped else "done"
            console.print(f"{self.description}: {ended} {done} {self.unit} in {duration(self.elapsed)}"
                          f"{', ' + _rate_text(rate, self.unit) if rate else ''}{note}",
                          markup=False, highlight=False, soft_wrap=True)


def bar(description: str, total: float | None, unit: str = "items") -> Bar:
    """A started progress display for one step (close it); silent under VECRECALL_QUIET."""
    if quiet():
        return Bar(description, total, unit)
    return _RichBar(description, total, unit) if live() else _PlainBar(description, total, unit)


@contextlib.contextmanager
def progress(description: str, total: float | None, unit: str = "items") -> Iterator[Callable[[float], None]]:
    """A progress display on stderr for one step; yields `advance(n)`."""
    b = bar(description, total, unit)
    try:
        yield b.advance
    except BaseException:
        b.stopped = True
        raise
    finally:
        b.close()


class _Steps:
    """`update(completed=None, advance=0, status=None, total=None)` on a Bar: the interface `steps` yields."""

    def __init__(self, b: Bar) -> None:
        self.bar = b

    def update(self, completed: float | None = None, advance: float = 0.0, status: str | None = None,
               total: float | None = None) -> None:
        done = (self.bar.completed if completed is None else completed) + advance
        self.bar.update(completed=done, note=status, total=total)


@contextlib.contextmanager
def steps(description: str, total: float, unit: str = "items") -> Iterator[_Steps]:
    """Progress with a status text (shown as the note): yields an object with `update(completed=None, advance=0,
    status=None, total=None)`; otherwise as `progress` (the sweep's interface)."""
    b = bar(description, total, unit)
    try:
        yield _Steps(b)
    except BaseException:
        b.stopped = True
        raise
    finally:
        b.close()


class _Activity:
    """A step of unknown size: a spinner with the elapsed time, or a plain line every PLAIN_EVERY_S."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.spinner: Any = None
        self.ticker: threading.Thread | None = None

    def __enter__(self) -> "_Activity":
        if quiet():
            return self
        if live():
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.spinner = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                    console=console, transient=True)
            self.spinner.start()
            self.spinner.add_task(self.description, total=None)
        else:
            self.ticker = threading.Thread(target=self._tick, name="vecrecall-activity", daemon=True)
            self.ticker.start()
        return self

    def _tick(self) -> None:
        while not self.stop.wait(_every()[0]):
            console.print(f"{self.description}: {duration(time.monotonic() - self.started)} elapsed",
                          markup=False, highlight=False, soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.spinner is not None:
            self.spinner.stop()
        if self.ticker is not None:
            self.ticker.join()
            if exc[0] is None and time.monotonic() - self.started >= _every()[1]:  # under a second: no line
                console.print(f"{self.description}: done in {duration(time.monotonic() - self.started)}",
                              markup=False, highlight=False, soft_wrap=True)


def activity(description: str) -> contextlib.AbstractContextManager[Any]:
    """Progress for a step that cannot count its work (e.g. a native index build)."""
    return _Activity(description)
