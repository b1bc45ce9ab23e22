"""Client instructions per request and per chunk, counted by valgrind: ratios that noise can't move.

Timing on a shared 2-core VM moves by 20-60% from one run to the next (see README.md), so a
ratio of 1.05x and one of 1.25x can both be the same code. ``valgrind --tool=callgrind`` counts
the instructions the client process executes, whatever else the machine is doing: the same
code gives the same count to within about 3% (event-loop wake-ups still depend on timing). This script measures each (scenario, driver, backend) twice, with a
small and a large count of units, and reports the difference per unit, so start-up, imports
and warm-up cancel out::

    python benchmarks/instructions.py                    # four scenarios, both backends
    python benchmarks/instructions.py --only stream_1 --backends asyncio --jobs 1

What it does not see: time in the kernel (socket system calls, the same for every driver,
which makes these ratios a little *larger* than CPU-time ratios), cache misses and memory.
The server is ``server.py`` in its own process, not under valgrind. Needs ``valgrind``
(Debian/Ubuntu: ``apt-get install valgrind``); valgrind runs the client ~50x slower, so the
counts are small (chat_c1: 50 and 250 requests; chat_c64: 64 and 320; stream_1: one stream
of 500 and of 2,500 chunks; stream_c32: 32 and 160 streams of 50 chunks) and a full run takes
about fifteen minutes with two jobs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import BASELINE, BenchServer, child_env, precompile  # noqa: E402

#: scenario -> (kind, small count, large count, concurrency, chunks per stream or 0): the
#: counts are requests, or streams; stream_1 instead varies the chunks of its one stream.
SCENARIOS = {
    "chat_c1": ("chat", 50, 250, 1, 0),
    "chat_c64": ("chat", 64, 320, 64, 0),
    "stream_1": ("stream", 500, 2500, 1, 0),
    "stream_c32": ("stream", 32, 160, 32, 50),
}
DRIVERS = ("httpx2", "aiohelicone")
_COLLECTED = re.compile(r"Collected : (\d+)")


def count_instructions(port: int, scenario: str, driver: str, backend: str, count: int) -> int:
    """Instructions the client process executes for a whole run of ``count`` (see SCENARIOS)."""
    kind, _, _, concurrency, chunks = SCENARIOS[scenario]
    if kind == "stream" and not chunks:
        shape = ["--count=1", f"--chunks={count}", "--concurrency=1"]
    else:
        shape = [f"--count={count}", f"--chunks={chunks or 50}", f"--concurrency={concurrency}"]
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(HERE / "drivers.py"),
        f"--port={port}",
        f"--driver={driver}",
        f"--backend={backend}",
        f"--kind={kind}",
        "--no-pin",
        *shape,
    ]
    # A fixed hash seed: string hashing otherwise varies the count a little between runs.
    env = child_env() | {"PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    found = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{driver} {kind} {backend}: exit {proc.returncode}: {tail}")
    return int(found.group(1))


def per_unit(port: int, scenario: str, driver: str, backend: str) -> float:
    """Instructions per unit: the difference between a large and a small run, per unit."""
    _, small, large, _, chunks = SCENARIOS[scenario]
    low = count_instructions(port, scenario, driver, backend, small)
    high = count_instructions(port, scenario, driver, backend, large)
    units = (large - small) * (chunks + 1 if chunks else 1)  # + the usage chunk of a stream
    return (high - low) / units


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help=", ".join(SCENARIOS))
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    scenarios = [s for s in args.only.split(",") if s]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    backends = [b for b in args.backends.split(",") if b]
    jobs = [(s, d, b) for s in scenarios for b in backends for d in DRIVERS]
    # Compile every module first, or the first (small) run would pay for it alone.
    precompile(["httpx2", "httpcore2", "h11", "anyio", "attrs", "cattrs", "aiohelicone", "trio"])
    server = BenchServer(events_per_chunk=1)
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            counts = dict(
                zip(jobs, pool.map(lambda job: per_unit(server.port, *job), jobs), strict=True)
            )
    finally:
        server.close()
    print("| scenario | backend | driver | instructions per unit | x raw |")
    print("|---|---|---|---:|---:|")
    for scenario, driver, backend in jobs:
        value = counts[(scenario, driver, backend)]
        base = counts[(scenario, BASELINE, backend)]
        unit = "request" if SCENARIOS[scenario][0] == "chat" else "chunk"
        print(
            f"| {scenario} | {backend} | {driver} | {value / 1000:,.1f}k / {unit} "
            f"| {value / base:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
