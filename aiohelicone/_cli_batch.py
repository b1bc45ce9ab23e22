"""``aiohelicone batch``: run an OpenAI Batch API input file through the gateway, resumably.

Input: one JSON object per line, the OpenAI Batch API input format::

    {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

Output: one line per request, the OpenAI Batch API output format::

    {"id": "batch_req_...", "custom_id": "r1",
     "response": {"status_code": 200, "request_id": "<Helicone request id>", "body": {...}},
     "error": null}

A failed request has ``error: {"code", "message"}``; its ``response`` holds the gateway's
error answer (status, request id, body) when there was one, else null.

How nothing is lost (see ``_OutputFile``):

- Every input line is checked before anything is sent: malformed lines and duplicate
  ``custom_id``s are all reported with their line numbers, and the command exits 2.
- Each result is appended as one whole line with a single ``write`` on an ``O_APPEND``
  descriptor as soon as it finishes; the file is ``fsync``-ed every ``--fsync-every`` lines
  and at the end (a kill loses nothing the kernel has; ``fsync`` is for power loss).
- A rerun with the same output skips every ``custom_id`` that already has a line. A torn last
  line (the process was killed mid-write) is detected (no final newline) and cut off first.
- ``--retry-failed`` also reruns the ``custom_id``s whose latest line is a failure. New lines
  are appended, and **the latest line for a ``custom_id`` wins**; when the run ends (or is
  interrupted) the file is rewritten atomically (temporary file, ``fsync``, ``os.replace``)
  keeping only each ``custom_id``'s latest line, so a finished file has one line per id. A
  file left uncompacted by a kill is compacted by the next run.
- Ctrl-C (SIGINT) or SIGTERM stops cleanly: in-flight requests are cancelled, everything
  finished is already saved, a summary is printed; exit status 130 (143 for SIGTERM).
- One run per output file (see ``_OutputLock``): the run holds an exclusive, non-blocking
  lock on ``<output>.lock`` from before it reads the output until after its compaction, so a
  second run on the same output (which would send every request again, and whose appends a
  compaction would throw away) is refused at once with exit status 4, having sent nothing.

Exit status: 0 every request has a successful line; 3 the run ended but some requests
failed (rerun with ``--retry-failed``); 2 bad input or arguments (nothing was sent);
4 another run is using the output file (nothing was sent); 1 an error stopped the run;
130/143 interrupted.

For tests, ``--fake`` serves the embedded FakeGateway on loopback; the hidden options
``--fake-latency SECONDS`` and ``--fake-fail-rate FRACTION`` slow it down and make a
deterministic share of requests fail (with a 400).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import signal
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TextIO

if TYPE_CHECKING:
    from ._batch import BatchRequest, BatchResult
    from ._client import AsyncHelicone

__all__ = ["add_batch_parser", "run_batch_command"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 3
EXIT_OUTPUT_LOCKED = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_MAX_PROBLEMS_SHOWN = 50
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SCRIPTED_FAILURE = (
    b'{"error":{"message":"scripted failure (--fake-fail-rate)",'
    b'"type":"invalid_request_error","code":"fake_failure"}}'
)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the input file ---------------------------------------------------------------------------


class InputProblems(Exception):
    """Lines of the input file that cannot be run (each ``(line number, message)``)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")


def _parse_line(raw: bytes) -> BatchRequest:
    from ._batch import BatchRequest
    from ._exceptions import InvalidInputError

    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidInputError("line", "is not UTF-8") from None
    except ValueError as exc:
        raise InvalidInputError("line", f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInputError("line", f"must be a JSON object, got {type(data).__name__}")
    return BatchRequest.from_openai(data)


def scan_input(path: str) -> list[str]:
    """Check every line of an input file before anything is sent.

    Args:
        path: the JSONL file (blank lines are ignored).

    Returns:
        The ``custom_id``s, in file order.

    Raises:
        InputProblems: malformed lines or duplicate ``custom_id``s (all of them).
        OSError: the file cannot be read.
    """
    from ._exceptions import InvalidInputError

    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    ids: list[str] = []
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                request = _parse_line(raw)
            except InvalidInputError as exc:
                problems.append((number, str(exc)))
                continue
            custom_id = request.id
            assert custom_id is not None  # from_openai requires it
            seen = first_line.get(custom_id)
            if seen is not None:
                problems.append(
                    (number, f"duplicate custom_id {custom_id!r} (first on line {seen})")
                )
                continue
            first_line[custom_id] = number
            ids.append(custom_id)
    if problems:
        raise InputProblems(problems)
    return ids


def _requests(path: str, wanted: set[str]) -> Iterator[BatchRequest]:
    """The requests to run, read lazily from the (already checked) input file."""
    with open(path, "rb") as file:
        for raw in file:
            if not raw.strip():
                continue
            request = _parse_line(raw)
            if request.id in wanted:
                yield request


# -- the output file --------------------------------------------------------------------------


class OutputLocked(Exception):
    """Another run holds the lock of this output file."""


class _OutputLock:
    """An exclusive lock on ``<output>.lock``, held for a whole run (load, appends, compaction).

    POSIX: ``fcntl.flock`` (``LOCK_EX | LOCK_NB``). Its lock belongs to the open file
    description, so it also excludes a second run in the same process, and the kernel drops
    it when the process dies (a killed run leaves no stale lock). Windows: ``msvcrt.locking``
    of the lock file's first byte (``LK_NBLCK``), also released when the process exits. On a
    file system without working locks (some network mounts) ``flock`` may lock only locally.

    The lock file is left in place, empty: removing it would let a third run lock a new file
    while the second still holds the old one.
    """

    def __init__(self, output: str) -> None:
        self.path = output + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            OutputLocked: another run holds it.
            OSError: the lock file cannot be created.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_nowait(fd)
        except OSError:
            os.close(fd)
            raise OutputLocked(self.path) from None
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (closing the descriptor releases it)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _lock_nowait(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class OutputProblem(Exception):
    """The output file holds something this command did not write."""


def _is_failure(line: dict[str, Any]) -> bool:
    if line.get("error") is not None:
        return True
    response = line.get("response")
    status = response.get("status_code") if isinstance(response, dict) else None
    return not isinstance(status, int) or status >= 400


class _OutputFile:
    """The results file: its current state, and appends that survive a kill."""

    def __init__(self, path: str, fsync_every: int) -> None:
        self.path = path
        self.fsync_every = fsync_every
        self.latest_failed: dict[str, bool] = {}
        self.superseded = 0
        self.torn_bytes = 0
        self._fd: int | None = None
        self._unsynced = 0

    def load(self) -> None:
        """Cut a torn last line, then read which ``custom_id``s are done or failed.

        Raises:
            OutputProblem: a line (other than a torn last one) is not a result line.
            OSError: the file cannot be read or truncated.
        """
        _remove_quietly(self._compact_path())
        try:
            file = open(self.path, "r+b")  # noqa: SIM115 - closed below, after truncating
        except FileNotFoundError:
            return
        with file:
            size = file.seek(0, os.SEEK_END)
            keep = _last_newline_end(file, size)
            if keep < size:
                self.torn_bytes = size - keep
                file.truncate(keep)
                file.flush()
                os.fsync(file.fileno())
            file.seek(0)
            for number, raw in enumerate(file, start=1):
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
                custom_id = data.get("custom_id") if isinstance(data, dict) else None
                if not isinstance(custom_id, str):
                    raise OutputProblem(
                        f"{self.path} line {number} is not a batch result line; "
                        "refusing to add to a file this command did not write"
                    )
                assert isinstance(data, dict)
                if custom_id in self.latest_failed:
                    self.superseded += 1
                self.latest_failed[custom_id] = _is_failure(data)

    def open(self) -> None:
        """Open for appending (created if missing)."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, custom_id: str, line: bytes, failed: bool) -> None:
        """Append one whole line (one ``write`` call) and note its outcome.

        The caller runs :meth:`sync` when :attr:`sync_due` says so (the command does it in
        a worker thread: an ``fsync`` can take milliseconds, a ``write`` to the page cache
        takes microseconds and stays on the event loop).
        """
        assert self._fd is not None
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if custom_id in self.latest_failed:
            self.superseded += 1
        self.latest_failed[custom_id] = failed
        self._unsynced += 1

    @property
    def sync_due(self) -> bool:
        """Whether ``fsync_every`` lines were appended since the last ``fsync``."""
        return bool(self.fsync_every) and self._unsynced >= self.fsync_every

    def sync(self) -> None:
        """``fsync`` what was appended since the last one."""
        if self._fd is not None and self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0

    def close(self) -> None:
        """Sync and close the append descriptor."""
        if self._fd is not None:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = None

    def compact(self) -> None:
        """Rewrite the file atomically with only the latest line of each ``custom_id``."""
        if not self.superseded:
            return
        last: dict[str, int] = {}
        with open(self.path, "rb") as file:
            for number, raw in enumerate(file):
                last[json.loads(raw)["custom_id"]] = number
        temporary = self._compact_path()
        with open(self.path, "rb") as source, open(temporary, "wb") as target:
            for number, raw in enumerate(source):
                if last[json.loads(raw)["custom_id"]] == number:
                    target.write(raw)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, self.path)
        _fsync_directory(self.path)
        self.superseded = 0

    def _compact_path(self) -> str:
        head, tail = os.path.split(self.path)
        return os.path.join(head, f".{tail}.compacting")


def _last_newline_end(file: BinaryIO, size: int) -> int:
    """The offset just after the last ``\\n`` of the file (0 when there is none)."""
    position = size
    while position > 0:
        step = min(65536, position)
        position -= step
        file.seek(position)
        chunk = file.read(step)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return position + found + 1
    return 0


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _fsync_directory(path: str) -> None:
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:  # not possible on every platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def result_line(result: BatchResult) -> dict[str, Any]:
    """The OpenAI Batch output line for a result.

    Args:
        result: a finished request.

    Returns:
        ``{"id", "custom_id", "response", "error"}``, ready for ``json.dumps``.
    """
    from ._converter import unstructure

    response: dict[str, Any] | None
    error: dict[str, Any] | None = None
    if result.error is None:
        response = {
            "status_code": 200,
            "request_id": result.request_id,
            "body": unstructure(result.response),
        }
    else:
        exc = result.error
        status = getattr(exc, "status_code", None)
        response = None
        if isinstance(status, int):
            response = {
                "status_code": status,
                "request_id": getattr(exc, "request_id", None),
                "body": getattr(exc, "body", None),
            }
        error = {"code": _error_code(exc), "message": str(exc)}
    return {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": result.id,
        "response": response,
        "error": error,
    }


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    # APIConnectionError -> api_connection, RateLimitError -> rate_limit
    name = type(exc).__name__.removesuffix("Error") or type(exc).__name__
    return _WORD_BOUNDARY.sub("_", name).lower()


def _encode(line: dict[str, Any]) -> bytes:
    # json.dumps escapes control characters, so the line holds no raw newline.
    text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
    return (text + "\n").encode()


# -- progress ---------------------------------------------------------------------------------


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


# -- the command ------------------------------------------------------------------------------


def add_batch_parser(sub: Any) -> None:
    """Register ``batch`` on the command line's subparsers.

    Args:
        sub: the ``argparse`` subparsers action of ``aiohelicone``.
    """
    parser = sub.add_parser(
        "batch",
        help="run an OpenAI Batch API input file (JSONL) concurrently, resumably",
        description="Run an OpenAI Batch API input file through the gateway and write the "
        "OpenAI Batch output format. Rerun the same command to resume after a crash or Ctrl-C.",
        epilog="exit status: 0 all succeeded, 3 some failed (see --retry-failed), "
        "2 bad input (nothing sent), 4 another run is using OUTPUT (nothing sent), "
        "1 error, 130 interrupted",
    )
    parser.add_argument("input", metavar="INPUT.jsonl", help="OpenAI Batch API input file")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT.jsonl", help="results (appended)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    parser.add_argument("--rpm", type=float, help="client-side requests per minute budget")
    parser.add_argument("--tpm", type=float, help="client-side tokens per minute budget")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="also rerun requests whose latest result failed (their lines are replaced)",
    )
    parser.add_argument("--max-retries", type=int, help="client retries per request (2)")
    parser.add_argument(
        "--fsync-every",
        type=int,
        default=100,
        metavar="N",
        help="fsync the output every N lines (0: only at the end; default 100)",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between progress lines when stderr is not a terminal (10)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress, summary only")
    parser.add_argument(
        "--base-url",
        default=None,
        help="gateway URL (default: HELICONE_BASE_URL or the Helicone AI gateway)",
    )
    parser.add_argument("--fake", action="store_true", help="use the embedded fake gateway")
    # For tests of the command itself: a slow and failing fake gateway.
    parser.add_argument("--fake-latency", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--fake-fail-rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.set_defaults(func=run_batch_command)


def _check_args(args: argparse.Namespace) -> str | None:
    if args.concurrency < 1:
        return "--concurrency must be at least 1"
    for name in ("rpm", "tpm"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            return f"--{name} must be positive"
    if args.max_retries is not None and args.max_retries < 0:
        return "--max-retries must not be negative"
    if args.fsync_every < 0:
        return "--fsync-every must not be negative"
    if not 0.0 <= args.fake_fail_rate <= 1.0 or args.fake_latency < 0:
        return "--fake-fail-rate must be in [0, 1] and --fake-latency >= 0"
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        return "INPUT and OUTPUT must be different files"
    return None


async def run_batch_command(args: argparse.Namespace) -> int:
    """``aiohelicone batch``: see the module docstring.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status.
    """
    problem = _check_args(args)
    if problem is not None:
        _err(f"aiohelicone batch: error: {problem}")
        return EXIT_BAD_INPUT
    try:
        ids = scan_input(args.input)
    except InputProblems as exc:
        for number, message in exc.problems[:_MAX_PROBLEMS_SHOWN]:
            _err(f"{args.input}:{number}: {message}")
        more = len(exc.problems) - _MAX_PROBLEMS_SHOWN
        if more > 0:
            _err(f"... and {more} more")
        _err(f"aiohelicone batch: {len(exc.problems)} bad input line(s); nothing was sent")
        return EXIT_BAD_INPUT
    except OSError as exc:
        _err(f"aiohelicone batch: error: cannot read {args.input}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT

    lock = _OutputLock(args.output)
    try:
        lock.acquire()
    except OutputLocked:
        _err(
            f"aiohelicone batch: error: another aiohelicone batch run is using {args.output} "
            f"(it holds {lock.path}); nothing was sent. Wait for it to finish, or give this "
            "run another --output"
        )
        return EXIT_OUTPUT_LOCKED
    except OSError as exc:
        _err(f"aiohelicone batch: error: cannot lock {lock.path}: {exc.strerror or exc}")
        return EXIT_ERROR
    try:
        return await _run_locked(args, ids)
    finally:
        lock.release()


async def _run_locked(args: argparse.Namespace, ids: list[str]) -> int:
    """The run, once this process holds the output's lock."""
    output = _OutputFile(args.output, args.fsync_every)
    try:
        output.load()
    except OutputProblem as exc:
        _err(f"aiohelicone batch: error: {exc}")
        return EXIT_BAD_INPUT
    if output.torn_bytes:
        _err(
            f"aiohelicone batch: dropped a torn last line ({output.torn_bytes} bytes) "
            f"left in {args.output} by an interrupted run"
        )
    previous = output.latest_failed
    todo = {i for i in ids if i not in previous or (args.retry_failed and previous[i])}
    skipped = len(ids) - len(todo)

    summary = _Summary(total=len(ids), skipped=skipped, todo=len(todo))
    status = EXIT_OK
    if todo:
        status = await _run(args, output, todo, summary)
    output.compact()
    summary.print(args.output, ids, output.latest_failed)
    if status != EXIT_OK:
        return status
    if any(output.latest_failed.get(i, True) for i in ids):
        return EXIT_SOME_FAILED
    return EXIT_OK


class _Summary:
    def __init__(self, *, total: int, skipped: int, todo: int) -> None:
        self.total = total
        self.skipped = skipped
        self.todo = todo
        self.done = 0
        self.failed = 0
        self.elapsed = 0.0
        self.interrupted: str | None = None

    def print(self, path: str, ids: list[str], latest_failed: dict[str, bool]) -> None:
        succeeded = self.done - self.failed
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        head = f"interrupted by {self.interrupted}" if self.interrupted else "finished"
        _err(
            f"aiohelicone batch: {head}: {self.done} of {self.todo} run "
            f"({succeeded} succeeded, {self.failed} failed), {self.skipped} skipped "
            f"(already in the output), in {self.elapsed:.1f} s ({rate:.1f}/s)"
        )
        still_failed = sum(1 for i in ids if latest_failed.get(i, False))
        missing = sum(1 for i in ids if i not in latest_failed)
        _err(
            f"aiohelicone batch: {path}: {len(ids) - still_failed - missing} of {self.total} "
            f"succeeded, {still_failed} failed, {missing} not run yet"
        )
        if missing:
            _err("aiohelicone batch: rerun the same command to continue")
        elif still_failed:
            _err("aiohelicone batch: rerun with --retry-failed to try the failed ones again")


async def _run(
    args: argparse.Namespace, output: _OutputFile, todo: set[str], summary: _Summary
) -> int:
    from ._client import AsyncHelicone

    if args.fake:
        from .testing import serve

        async with (
            serve(_fake_gateway(args)) as server,
            AsyncHelicone(
                api_key="sk-helicone-fake",
                base_url=f"{server.url}/v1",
                max_retries=args.max_retries,
            ) as client,
        ):
            return await _run_with(client, args, output, todo, summary)
    async with AsyncHelicone(base_url=args.base_url, max_retries=args.max_retries) as client:
        return await _run_with(client, args, output, todo, summary)


def _fake_gateway(args: argparse.Namespace) -> Any:
    from .testing import Delay, FakeGateway, RawResponse, Reply, Respond
    from .testing._records import RequestRecord

    latency: float = args.fake_latency
    threshold = int(args.fake_fail_rate * 1000)
    gateway = FakeGateway()
    if latency or threshold:

        def decide(record: RequestRecord) -> Any:
            outcome: Any = Reply()
            if zlib.crc32(record.body) % 1000 < threshold:
                outcome = RawResponse(400, body=_SCRIPTED_FAILURE, content_type="application/json")
            return Delay(latency, outcome) if latency else outcome

        gateway.script("*", [Respond(decide)], repeat=True)
    return gateway


async def _run_with(
    client: AsyncHelicone,
    args: argparse.Namespace,
    output: _OutputFile,
    todo: set[str],
    summary: _Summary,
) -> int:
    import anyio

    from ._batch import run_batch

    progress: Progress = (
        _NoProgress()
        if args.quiet
        else make_progress(len(todo), sys.stderr, interval=args.progress_interval)
    )
    started = time.monotonic()
    status = EXIT_OK

    async def watch_signals(scope: anyio.CancelScope) -> None:
        nonlocal status
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                status = EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM
                summary.interrupted = signal.Signals(signum).name
                scope.cancel()
                return

    async def tick() -> None:
        while True:
            await anyio.sleep(1.0)
            progress.tick()

    output.open()
    try:
        async with anyio.create_task_group() as tg:
            if hasattr(signal, "SIGTERM") and sys.platform != "win32":
                tg.start_soon(watch_signals, tg.cancel_scope)
            tg.start_soon(tick)
            async with run_batch(
                client,
                _requests(args.input, todo),
                concurrency=args.concurrency,
                max_requests_per_minute=args.rpm,
                max_tokens_per_minute=args.tpm,
            ) as results:
                async for result in results:
                    failed = result.error is not None
                    output.append(result.id, _encode(result_line(result)), failed)
                    if output.sync_due:
                        await anyio.to_thread.run_sync(output.sync)
                    summary.done += 1
                    summary.failed += failed
                    progress.update(summary.done, summary.failed)
            tg.cancel_scope.cancel()
    finally:
        summary.elapsed = time.monotonic() - started
        output.close()
        progress.close()
    return status
