"""What the single-stream benchmarks share: the loopback server, and interleaved rounds.

``bench_compressed.py`` and ``bench_responses.py`` both start ``server.py`` in its own
process and time a handful of stream runs against each other, round after round, rotating
the order so that a noisy moment hits every row alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _affinity import pin_to_cpu  # noqa: E402

K = TypeVar("K")


def start_server() -> tuple[subprocess.Popen[str], int]:
    """Start ``server.py`` on a free port; return the process and its port."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


async def interleaved(
    runs: Mapping[K, Callable[[], Awaitable[int]]],
    rounds: int,
    expected: Callable[[K], int],
) -> dict[K, list[float]]:
    """Client CPU µs per event of each run, ``rounds`` times, after one warm-up round.

    Each run returns how many events it read, which must be ``expected(key)``.
    """
    results: dict[K, list[float]] = {key: [] for key in runs}
    for key, run in runs.items():  # warm-up: connections, imports, caches
        assert await run() == expected(key), key
    for index in range(rounds):
        order = list(runs.items())
        order = order[index % len(order) :] + order[: index % len(order)]
        for key, run in order:
            c0 = time.process_time()
            count = await run()
            c1 = time.process_time()
            assert count == expected(key), (key, count)
            results[key].append((c1 - c0) / count * 1e6)
    return results


def run(
    doc: str,
    measure: Callable[[int, int, int], Awaitable[dict[tuple[str, str], list[float]]]],
    argv: list[str] | None,
) -> tuple[argparse.Namespace, dict[tuple[str, str], list[float]]]:
    """Parse ``--chunks/--rounds/--backend``, start the server, and run ``measure`` pinned.

    ``measure(port, chunks, rounds)`` returns µs per event by (driver, row).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    args = parser.parse_args(argv)
    proc, port = start_server()
    try:
        import anyio

        pin_to_cpu(0)
        results = anyio.run(measure, port, args.chunks, args.rounds, backend=args.backend)
    finally:
        proc.terminate()
        proc.wait()
    return args, results


def table(
    first_column: str, rows: tuple[str, ...], results: dict[tuple[str, str], list[float]]
) -> dict[tuple[str, str], float]:
    """Print the raw-vs-aiohelicone table of ``rows``; return the medians."""
    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"| {first_column} | raw httpx2 | aiohelicone | ratio | paired |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        raw, ours = median["httpx2", row], median["aiohelicone", row]
        # Per round, the two rows ran next to each other: their ratio cancels slow drift.
        paired = statistics.median(
            o / r for o, r in zip(results["aiohelicone", row], results["httpx2", row], strict=True)
        )
        print(
            f"| {row} | {raw:.1f} ({min(results['httpx2', row]):.1f}) "
            f"| {ours:.1f} ({min(results['aiohelicone', row]):.1f}) "
            f"| {ours / raw:.2f}x | {paired:.2f}x |"
        )
    return median
