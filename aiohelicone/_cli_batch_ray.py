"""Layer 9 (command line): ``aiohelicone batch --ray [ADDRESS]``, the same input run on Ray Data.

The input was checked (``scan_input``) before this runs, as for every ``batch`` run; the
job itself is :func:`aiohelicone.ray.run_on_ray`, in a worker thread (it blocks while Ray
works), so that the event loop can serve ``--fake`` meanwhile: Ray's actors are other
processes and reach the fake over TCP loopback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["run_ray_command"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 3
EXIT_OUTPUT_LOCKED = 4


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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
    from .ray import run_on_ray

    options: dict[str, Any] = {
        "base_url": base_url,
        "api_key": key,
        "concurrency": args.concurrency,
        "max_requests_per_minute": args.rpm,
        "max_tokens_per_minute": args.tpm,
        "max_retries": args.max_retries,
    }
    started = time.monotonic()

    def job() -> Any:
        return run_on_ray(
            args.input,
            args.output,
            address=args.ray or None,
            actors=args.ray_actors,
            fsync_every=args.fsync_every,
            progress=not args.quiet,
            **options,
        )

    try:
        summary = await anyio.to_thread.run_sync(job)
    except OutputLocked:
        _err(
            f"aiohelicone batch: error: another aiohelicone batch run is using {args.output}; "
            "nothing was sent"
        )
        return EXIT_OUTPUT_LOCKED
    except OutputProblem as exc:
        _err(f"aiohelicone batch: error: {exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # Ray's own failures: the run stopped, what finished is saved
        _err(f"aiohelicone batch: error: the Ray job failed: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    elapsed = time.monotonic() - started
    _err(
        f"aiohelicone batch: finished on Ray: {summary.run} run ({summary.run - summary.failed}"
        f" succeeded, {summary.failed} failed), {summary.skipped} skipped (already in the "
        f"output), in {elapsed:.1f} s"
    )
    _err(
        f"aiohelicone batch: {args.output}: {summary.output_lines - summary.output_failed} of "
        f"{len(ids)} succeeded, {summary.output_failed} failed"
    )
    if summary.output_failed or summary.output_lines < len(ids):
        _err("aiohelicone batch: rerun the same command to try the failed ones again")
        return EXIT_SOME_FAILED
    return EXIT_OK
