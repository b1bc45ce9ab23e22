"""Layer 6 (batch engine): the durable output file of ``aiohelicone batch`` and Ray jobs.

The results file in the OpenAI Batch output format, and what makes it safe to kill and
rerun (the command's docstring, ``_cli_batch``, gives the rules as a user sees them):

- :class:`OutputLock`: one run per output file (an exclusive lock on ``<output>.lock``).
- :meth:`OutputFile.load`: a torn last line is cut off; which ``custom_id``s are done, and
  which failed (``--retry-failed``), is read back.
- :meth:`OutputFile.append`: each result is one whole line in a single ``write`` on an
  ``O_APPEND`` descriptor, ``fsync``-ed every ``fsync_every`` lines.
- :meth:`OutputFile.compact`: the file is rewritten atomically keeping each id's latest line.

Everything here blocks on the disk; the command calls it from a worker thread
(``anyio.to_thread.run_sync``), one call at a time, so the event loop never waits for a
``write`` or an ``fsync`` and the lines keep the order the results came in.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import uuid
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from ._batch_items import BatchResult

__all__ = ["OutputLocked", "OutputProblem", "result_line"]

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class OutputLocked(Exception):
    """Another run holds the lock of this output file."""


class OutputLock:
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


class OutputFile:
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
        """Append one whole line (one ``write`` call), note its outcome, and ``fsync`` once
        ``fsync_every`` lines were appended since the last ``fsync``.

        Blocking (a ``write`` may wait for the disk, an ``fsync`` takes milliseconds): the
        command runs it in a worker thread, one call at a time and in result order, and
        takes the next result only once the line is written.
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
        if self.sync_due:
            self.sync()

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


def encode_line(line: dict[str, Any]) -> bytes:
    # json.dumps escapes control characters, so the line holds no raw newline.
    text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
    return (text + "\n").encode()
