"""Wall-clock seconds and the process's peak resident memory per phase of a long command (finetune)."""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterator


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


@dataclass
class Phases:
    """Seconds per named phase and the peak RSS reached by the end of each. `begin(name)` ends the running phase and
    starts `name`; `end()` ends it; `with span(name):` times a block. A phase that runs again adds to its seconds.
    The peak is a high-water mark, so the phase where it jumps is the one that needed the memory."""

    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    _running: tuple[str, float] | None = None

    def begin(self, name: str) -> None:
        self.end()
        self._running = (name, time.perf_counter())

    def end(self) -> None:
        if self._running is not None:
            name, t0 = self._running
            self._running = None
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            self.peak_mb[name] = round(peak_rss_mb(), 1)

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        outer = self._running[0] if self._running else None
        self.begin(name)
        try:
            yield
        finally:
            self.end()
            if outer is not None:
                self.begin(outer)

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": {k: round(v, 2) for k, v in self.seconds.items()}, "peak_rss_mb": dict(self.peak_mb)}

    def summary(self) -> str:
        """One line: `phase 1.2s · phase 30.4s · … · total 40.1s · peak RSS 1.3 GiB`."""
        parts = [f"{k} {v:.1f}s" for k, v in self.seconds.items()]
        peak = max(self.peak_mb.values(), default=peak_rss_mb())
        return " · ".join([*parts, f"total {sum(self.seconds.values()):.1f}s", f"peak RSS {peak / 1024:.2f} GiB"])
