"""Layer 9 (command line): the progress displays of ``aiohelicone batch``.

tqdm or rich on a terminal when installed (the ``aiohelicone[progress]`` extra), else a
self-rewriting line; a plain line every few seconds when standard error is not a terminal;
nothing with ``--quiet``. Each display is told ``update(done, failed)`` as results come and
``tick()`` about once a second.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Protocol, TextIO

__all__ = ["LineProgress", "PlainProgress", "Progress", "make_progress"]


class Progress(Protocol):
    """What the command tells its progress display."""

    def update(self, done: int, failed: int) -> None:
        """``done`` results so far this run, ``failed`` of them failures."""

    def tick(self) -> None:
        """Called about once a second, also when nothing finished."""

    def close(self) -> None:
        """The run is over."""


def _rate_text(done: int, total: int, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    left = total - done
    eta = f", ETA {_duration(left / rate)}" if rate > 0 and left > 0 else ""
    return f"{rate:.1f}/s{eta}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class PlainProgress:
    """Periodic lines (not a terminal): ``batch: 120/1000 done, 3 failed, 45.2/s, ETA 19s``.

    Args:
        total: requests to run.
        stream: where to write.
        interval: seconds between lines.
        clock: seconds (``time.monotonic``).
    """

    def __init__(
        self, total: int, stream: TextIO, interval: float = 10.0, clock: Any = time.monotonic
    ) -> None:
        self._total = total
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._start = clock()
        self._next = self._start + interval
        self._done = 0
        self._failed = 0

    def update(self, done: int, failed: int) -> None:
        """Note progress; print a line when ``interval`` has passed."""
        self._done, self._failed = done, failed
        self.tick()

    def tick(self) -> None:
        """Print a line when ``interval`` has passed."""
        now = self._clock()
        if now >= self._next:
            self._next = now + self._interval
            self._print(now)

    def close(self) -> None:
        """Nothing to clean up (the summary follows)."""

    def _print(self, now: float) -> None:
        rate = _rate_text(self._done, self._total, now - self._start)
        print(
            f"batch: {self._done}/{self._total} done, {self._failed} failed, {rate}",
            file=self._stream,
            flush=True,
        )


class LineProgress(PlainProgress):
    """A self-rewriting status line for terminals without tqdm or rich."""

    def __init__(self, total: int, stream: TextIO, clock: Any = time.monotonic) -> None:
        super().__init__(total, stream, interval=0.1, clock=clock)
        self._shown = False

    def _print(self, now: float) -> None:
        done, total = self._done, self._total
        width = 24
        filled = width * done // total if total else width
        bar = "#" * filled + "-" * (width - filled)
        rate = _rate_text(done, total, now - self._start)
        self._stream.write(f"\r[{bar}] {done}/{total} {self._failed} failed {rate}\x1b[K")
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._print(self._clock())
        self._stream.write("\n")
        self._stream.flush()


class _TqdmProgress:
    def __init__(self, total: int, stream: TextIO) -> None:
        # Optional dependencies are imported by name: they have no type stubs to check.
        tqdm = importlib.import_module("tqdm").tqdm
        self._bar = tqdm(total=total, file=stream, unit="req", dynamic_ncols=True)
        self._done = 0
        self._failed = -1

    def update(self, done: int, failed: int) -> None:
        self._bar.update(done - self._done)
        self._done = done
        if failed != self._failed:
            self._failed = failed
            self._bar.set_postfix(failed=failed, refresh=False)

    def tick(self) -> None:
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


class _RichProgress:
    def __init__(self, total: int, stream: TextIO) -> None:
        console = importlib.import_module("rich.console")
        rich = importlib.import_module("rich.progress")
        self._progress = rich.Progress(
            rich.BarColumn(),
            rich.MofNCompleteColumn(),
            rich.TextColumn("{task.fields[failed]} failed"),
            rich.TextColumn("{task.fields[rate]}"),
            rich.TimeRemainingColumn(),
            console=console.Console(file=stream),
        )
        self._task = self._progress.add_task("batch", total=total, failed=0, rate="")
        self._start = time.monotonic()
        self._progress.start()

    def update(self, done: int, failed: int) -> None:
        elapsed = time.monotonic() - self._start
        rate = f"{done / elapsed:.1f}/s" if elapsed > 0 else ""
        self._progress.update(self._task, completed=done, failed=failed, rate=rate)

    def tick(self) -> None:
        self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def make_progress(total: int, stream: TextIO, *, interval: float = 10.0) -> Progress:
    """The progress display for ``stream``.

    On a terminal: a tqdm bar, else a rich one, when that library is installed (the
    ``aiohelicone[progress]`` extra), else a self-rewriting line. Elsewhere (a pipe, a log
    file): a plain line every ``interval`` seconds.

    Args:
        total: requests to run.
        stream: where to draw (standard error).
        interval: seconds between plain lines.

    Returns:
        The display.
    """
    if not stream.isatty():
        return PlainProgress(total, stream, interval)
    if _installed("tqdm"):
        return _TqdmProgress(total, stream)
    if _installed("rich"):
        return _RichProgress(total, stream)
    return LineProgress(total, stream)


class _NoProgress:
    def update(self, done: int, failed: int) -> None:
        pass

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass
