"""What the single-stream benchmarks share: the loopback server, and interleaved rounds.

``bench_compressed.py`` and ``bench_responses.py`` both start ``server.py`` in its own
process and time a handful of stream runs against each other, round after round, rotating
the order so that a noisy moment hits every row alike.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent

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
