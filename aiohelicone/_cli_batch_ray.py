"""Layer 9 (command line): ``aiohelicone batch --ray [ADDRESS]``, the same input run on Ray Data.

The input was checked (``scan_input``) before this runs, as for every ``batch`` run; the
job itself is :func:`aiohelicone.ray.run_on_ray`, in a worker thread (it blocks while Ray
works), so that the event loop can serve ``--fake`` meanwhile: Ray's actors are other
processes and reach the fake over TCP loopback. ``run_on_ray`` takes the output's lock
before it starts Ray and holds it to the end (exit status 4 when another run has it).

SIGINT/SIGTERM set ``run_on_ray``'s ``stop`` event: the job ends after the batch being
waited for, with everything finished saved, the output compacted and the lock released,
and the command exits 130 (143). Further signals meanwhile are only acknowledged, so the
compaction is never cut short.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

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

__all__ = ["run_ray_command"]


async def run_ray_command(
    args: argparse.Namespace, ids: list[str], *, fake_gateway: Callable[[argparse.Namespace], Any]
) -> int:
    """Run the checked input of ``aiohelicone batch --ray``; returns the exit status.

    ``fake_gateway`` builds the ``--fake`` gateway from the arguments (the command's own, so
    both runs fake the same way; passed in rather than imported, which would be a cycle).
    """
    try:
        import aiohelicone.ray  # noqa: F401 - fails early, and clearly, without the extra
    except ImportError as exc:
        _err(f"aiohelicone batch: error: {exc}")
        return EXIT_BAD_INPUT
    if args.fake:
        from .testing import serve

        # 0.0.0.0 is not needed: a local Ray's actors run on this machine.
        async with serve(fake_gateway(args)) as server:
            return await _run(args, ids, f"{server.url}/v1", "sk-helicone-fake")
    return await _run(args, ids, args.base_url, None)


async def _run(args: argparse.Namespace, ids: list[str], base_url: str | None, key: Any) -> int:
    import anyio

    from ._batch_output import OutputLocked, OutputProblem
    from .ray import RayRunSummary, run_on_ray

    options: dict[str, Any] = {
        "base_url": base_url,
        "api_key": key,
        "concurrency": args.concurrency,
        "max_requests_per_minute": args.rpm,
        "max_tokens_per_minute": args.tpm,
        "max_retries": args.max_retries,
    }
    started = time.monotonic()
    stop = threading.Event()
    signals_seen: list[int] = []

    def job() -> RayRunSummary:
        return run_on_ray(
            args.input,
            args.output,
            address=args.ray or None,
            actors=args.ray_actors,
            fsync_every=args.fsync_every,
            progress=not args.quiet,
            stop=stop,
            **options,
        )

    async def watch_signals() -> None:
        # The receiver stays open until the job's thread has returned: a second Ctrl-C is
        # taken here too (no KeyboardInterrupt in the middle of the compaction).
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
            async for signum in received:
                if not signals_seen:
                    signals_seen.append(signum)
                    stop.set()
                    _err(
                        f"aiohelicone batch: {signal.Signals(signum).name}: stopping after the "
                        "batch being waited for; what finished is saved"
                    )
                else:
                    _err("aiohelicone batch: still stopping: saving and compacting the output")

    summary: RayRunSummary | None = None
    failure: str | None = None
    async with anyio.create_task_group() as tg:
        if sys.platform != "win32":
            tg.start_soon(watch_signals)
        try:
            summary = await anyio.to_thread.run_sync(job)
        except OutputLocked as exc:
            _err(output_locked_message(args.output, str(exc)))
            return EXIT_OUTPUT_LOCKED
        except OutputProblem as exc:
            _err(f"aiohelicone batch: error: {exc}")
            return EXIT_BAD_INPUT
        except Exception as exc:  # Ray's own failures: the run stopped, what finished is saved
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            tg.cancel_scope.cancel()
    elapsed = time.monotonic() - started
    if signals_seen:  # interrupted, even if Ray failed as it was stopped
        name = signal.Signals(signals_seen[0]).name
        if summary is not None:
            _err(
                f"aiohelicone batch: interrupted by {name} on Ray: {summary.run} run "
                f"({summary.run - summary.failed} succeeded, {summary.failed} failed), "
                f"{summary.skipped} skipped (already in the output), in {elapsed:.1f} s"
            )
            _print_output(args.output, ids, summary)
        else:
            _err(f"aiohelicone batch: interrupted by {name} on Ray ({failure})")
        _err("aiohelicone batch: rerun the same command to resume")
        return EXIT_SIGINT if signals_seen[0] == signal.SIGINT else EXIT_SIGTERM
    if summary is None:
        _err(f"aiohelicone batch: error: the Ray job failed: {failure}")
        return EXIT_ERROR
    _err(
        f"aiohelicone batch: finished on Ray: {summary.run} run ({summary.run - summary.failed}"
        f" succeeded, {summary.failed} failed), {summary.skipped} skipped (already in the "
        f"output), in {elapsed:.1f} s"
    )
    _print_output(args.output, ids, summary)
    if summary.output_failed or summary.output_lines < len(ids):
        _err("aiohelicone batch: rerun the same command to try the failed ones again")
        return EXIT_SOME_FAILED
    return EXIT_OK


def _print_output(path: str, ids: list[str], summary: Any) -> None:
    _err(
        f"aiohelicone batch: {path}: {summary.output_lines - summary.output_failed} of "
        f"{len(ids)} succeeded, {summary.output_failed} failed, "
        f"{max(len(ids) - summary.output_lines, 0)} not run yet"
    )
