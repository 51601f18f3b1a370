"""What native libraries print on the C stderr (file descriptor 2), collected and said once per distinct line.

faiss's k-means prints one identical `WARNING clustering 2000 points to 256 centroids: please provide at least 9984
training points` per PQ sub-quantizer (48 lines for `--pq-m 48`) straight from C++, past Python's `sys.stderr`.
`summarised_stderr("faiss")` points fd 2 at a temporary file while the block runs (Python's own stderr writes, such
as progress bars, keep going to the real stderr), then prints each distinct line once with its count:

    faiss: WARNING clustering 2000 points to 256 centroids: please provide at least 9984 training points (×48)
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections import Counter
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")


def summarise(text: str, source: str) -> list[str]:
    """Distinct non-empty lines of `text` in first-seen order, each prefixed with `source` and suffixed with its count."""
    counts = Counter(line.strip() for line in text.splitlines() if line.strip())
    return [f"{source}: {line}" + (f" (×{n})" if n > 1 else "") for line, n in counts.items()]


def _fd2_is_stderr(stream: Any) -> bool:
    stream = getattr(stream, "rich_proxied_file", stream)  # rich's live display wraps sys.stderr
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def summarised_stderr(source: str) -> Iterator[list[str]]:
    """Collect fd 2 while the block runs; afterwards print its distinct lines once each (with counts) on stderr and
    leave them in the yielded list. A no-op where fd 2 cannot be redirected."""
    lines: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield lines
        return
    python_stderr = sys.stderr
    real: io.TextIOWrapper | None = None
    with tempfile.TemporaryFile() as sink:
        with contextlib.suppress(Exception):
            python_stderr.flush()
        if _fd2_is_stderr(python_stderr):  # Python's own writes keep reaching the terminal/log meanwhile
            real = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding=getattr(
                python_stderr, "encoding", None) or "utf-8", errors="backslashreplace", line_buffering=True,
                write_through=True)
            sys.stderr = real
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if real is not None:
                sys.stderr = python_stderr
                real.close()
            sink.seek(0)
            lines.extend(summarise(sink.read().decode("utf-8", "replace"), source))
            if lines:
                from .progress import console

                for line in lines:
                    console.print(line, markup=False, highlight=False, soft_wrap=True)


def quiet_call(source: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` with its native stderr summarised (see `summarised_stderr`)."""
    with summarised_stderr(source):
        return fn(*args, **kwargs)
