"""Layer 9 (command line): ``aiohelicone batch``, an OpenAI Batch input file run resumably.

Input: one JSON object per line, the OpenAI Batch API input format::

    {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

Output: one line per request, the OpenAI Batch API output format::

    {"id": "batch_req_...", "custom_id": "r1",
     "response": {"status_code": 200, "request_id": "<Helicone request id>", "body": {...}},
     "error": null}

A failed request has ``error: {"code", "message"}``; its ``response`` holds the gateway's
error answer (status, request id, body) when there was one, else null.

How nothing is lost (the input check is ``_cli_batch_input``, the output file
``_batch_output``, the progress displays ``_cli_progress``):

- Every input line is checked before anything is sent: malformed lines and duplicate
  ``custom_id``s are all reported with their line numbers, and the command exits 2.
- Each result is appended as one whole line with a single ``write`` on an ``O_APPEND``
  descriptor as soon as it finishes, from a worker thread (the event loop never waits for
  the disk) and before the next result is taken; the file is ``fsync``-ed every
  ``--fsync-every`` lines and at the end (a kill loses nothing the kernel has; ``fsync`` is
  for power loss).
- A rerun with the same output skips every ``custom_id`` that already has a line. A torn last
  line (the process was killed mid-write) is detected (no final newline) and cut off first.
- ``--retry-failed`` also reruns the ``custom_id``s whose latest line is a failure. New lines
  are appended, and **the latest line for a ``custom_id`` wins**; when the run ends (or is
  interrupted) the file is rewritten atomically (temporary file, ``fsync``, ``os.replace``)
  keeping only each ``custom_id``'s latest line, so a finished file has one line per id. A
  file left uncompacted by a kill is compacted by the next run.
- Ctrl-C (SIGINT) or SIGTERM stops cleanly: in-flight requests are cancelled, everything
  finished is already saved, a summary is printed; exit status 130 (143 for SIGTERM).
- One run per output file (see ``OutputLock``): the run holds an exclusive, non-blocking
  lock on ``<output>.lock`` from before it reads the output until after its compaction, so a
  second run on the same output (which would send every request again, and whose appends a
  compaction would throw away) is refused at once with exit status 4, having sent nothing.

Exit status: 0 every request has a successful line; 3 the run ended but some requests
failed (rerun with ``--retry-failed``); 2 bad input or arguments (nothing was sent);
4 another run is using the output file (nothing was sent); 1 an error stopped the run;
130/143 interrupted.

``--ray [ADDRESS]`` runs the same file on Ray Data (``_cli_batch_ray``, the ``ray`` extra):
``--ray-actors`` actors, each with ``--concurrency`` requests in flight, the budgets divided
among them; the same output file, the same rules and exit statuses (a failed line is
always rerun there: ``--retry-failed`` is implied), the same Ctrl-C/SIGTERM handling (the
job stops after the batch being waited for), and Ray's own progress bars.

For tests, ``--fake`` serves the embedded FakeGateway on loopback; the hidden options
``--fake-latency SECONDS`` and ``--fake-fail-rate FRACTION`` slow it down and make a
deterministic share of requests fail (with a 400).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import zlib
from typing import TYPE_CHECKING, Any

from ._batch_output import (
    OutputFile,
    OutputLock,
    OutputLocked,
    OutputProblem,
    encode_line,
    result_line,
)
from ._cli_batch_input import InputProblems, _requests, scan_input
from ._cli_batch_ray import run_ray_command
from ._cli_exits import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_OUTPUT_LOCKED,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_SOME_FAILED,
    output_locked_message,
)
from ._cli_exits import err as _err
from ._cli_progress import Progress, _NoProgress, make_progress

if TYPE_CHECKING:
    from ._client import AsyncHelicone

__all__ = ["add_batch_parser", "run_batch_command"]

_MAX_PROBLEMS_SHOWN = 50
_SCRIPTED_FAILURE = (
    b'{"error":{"message":"scripted failure (--fake-fail-rate)",'
    b'"type":"invalid_request_error","code":"fake_failure"}}'
)


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
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on Ray Data (the ray extra): a local Ray, or ray.init(ADDRESS); "
        "--concurrency is then per actor",
    )
    parser.add_argument(
        "--ray-actors", type=int, default=2, metavar="N", help="Ray actors with --ray (2)"
    )
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
    if args.ray_actors < 1:
        return "--ray-actors must be at least 1"
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

    if args.ray is not None:
        # run_on_ray takes the output's lock itself, before it starts Ray, and holds it to
        # the end; OutputLocked from it is reported as below.
        return await run_ray_command(args, ids, fake_gateway=_fake_gateway)
    lock = OutputLock(args.output)
    try:
        lock.acquire()
    except OutputLocked:
        _err(output_locked_message(args.output, lock.path))
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
    import anyio

    # The output file's disk work (reads, truncation, writes, fsync, compaction) runs in a
    # worker thread, one call at a time: the event loop never waits for the disk.
    output = OutputFile(args.output, args.fsync_every)
    try:
        await anyio.to_thread.run_sync(output.load)
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
    await anyio.to_thread.run_sync(output.compact)
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
    args: argparse.Namespace, output: OutputFile, todo: set[str], summary: _Summary
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
    output: OutputFile,
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

    await anyio.to_thread.run_sync(output.open)
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
                    line = encode_line(result_line(result))
                    # Shielded: a result taken from the batch is always written, even when
                    # Ctrl-C cancels the run meanwhile (it stops at the next result).
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(output.append, result.id, line, failed)
                    summary.done += 1
                    summary.failed += failed
                    progress.update(summary.done, summary.failed)
            tg.cancel_scope.cancel()
    finally:
        summary.elapsed = time.monotonic() - started
        try:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(output.close)
        finally:
            progress.close()
    return status
