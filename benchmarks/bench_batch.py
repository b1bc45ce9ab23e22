"""Issue 7's batch benchmark: ``run_batch`` against a hand-written raw-httpx2 loop.

    python benchmarks/bench_batch.py [--count 10000] [--concurrency 256] [--reps 3]
                                     [--backends asyncio,trio] [--json out.json]

It starts the fast loopback server (``server.py``, pinned to the second CPU), then, for each
repetition and backend, runs every driver in a **fresh** child process pinned to the first CPU
(``python benchmarks/bench_batch.py --child DRIVER ...``), rotating the order each repetition.
Each child builds its client, warms it up with ``concurrency`` requests (which opens the
connections), then sends ``count`` chat completions with at most ``concurrency`` in flight and
reports wall time, throughput, client CPU and peak RSS (``ru_maxrss``, imports included).

Drivers:

- ``raw-gather``: the baseline of the issue: what people write today. One httpx2
  ``AsyncClient``; ``asyncio.gather`` of one coroutine per request, each holding an
  ``asyncio.Semaphore(concurrency)`` around ``await client.post(...)`` + ``json.loads``
  (on trio, which has no gather: a nursery of one task per request and a semaphore).
- ``raw-pool``: the same raw calls from a fixed pool of ``concurrency`` worker tasks (the
  harness of ``drivers.py``): the cheapest hand-written loop, shown for reference.
- ``client-pool``: aiohelicone's client (``client.chat.completions.create``) from the same
  fixed pool of workers: what the client costs, so that ``run_batch - client-pool`` is what
  the batch machinery costs (shown for reference).
- ``run_batch``: ``aiohelicone.run_batch(client, requests, concurrency=N)`` over a lazy
  generator of OpenAI Batch input lines, through the typed client (``max_retries=0``); every
  result is checked to be a success.

Every driver's pool allows ``concurrency`` connections. The floors (issue 7): run_batch at
least 0.9x raw-gather's requests/s and at most 1.2x its peak MB, medians over the
repetitions, same run. The exit status is 1 when a floor is missed or a child failed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _affinity import pin_to_cpu  # noqa: E402

API_KEY = "sk-helicone-bench"
MODEL = "gpt-4o-mini"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
DRIVERS = ("raw-gather", "raw-pool", "client-pool", "run_batch")
BASELINE = "raw-gather"
MIN_RATE_RATIO = 0.9
MAX_MEMORY_RATIO = 1.2


# -- the child: one measured run -----------------------------------------------------------


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _lines(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
               "body": BODY}  # fmt: skip


async def _raw(args: argparse.Namespace, *, pool: bool) -> dict[str, float]:
    import anyio
    import httpx2

    n = args.concurrency
    limits = httpx2.Limits(max_connections=n, max_keepalive_connections=n)
    url = f"http://127.0.0.1:{args.port}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx2.AsyncClient(limits=limits, timeout=120.0) as client:

        async def one() -> object:
            r = await client.post(url, json=BODY, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            return json.loads(r.content)

        async def gather(count: int) -> int:
            if args.backend == "asyncio":
                import asyncio

                semaphore = asyncio.Semaphore(n)

                async def limited() -> object:
                    async with semaphore:
                        return await one()

                return len(await asyncio.gather(*(limited() for _ in range(count))))
            # trio has no gather: a nursery of tasks and a semaphore is the same thing.
            done = 0
            limiter = anyio.Semaphore(n)

            async def task() -> None:
                nonlocal done
                async with limiter:
                    await one()
                done += 1

            async with anyio.create_task_group() as tg:
                for _ in range(count):
                    tg.start_soon(task)
            return done

        async def workers(count: int) -> int:
            remaining = count
            done = 0

            async def worker() -> None:
                nonlocal remaining, done
                while remaining > 0:
                    remaining -= 1
                    await one()
                    done += 1

            async with anyio.create_task_group() as tg:
                for _ in range(min(n, count)):
                    tg.start_soon(worker)
            return done

        run = workers if pool else gather
        await run(n)  # warm-up: open the connections
        return await _timed(run, args.count)


async def _batch(args: argparse.Namespace) -> dict[str, float]:
    import anyio
    import httpx2

    from aiohelicone import AsyncHelicone, run_batch

    n = args.concurrency
    limits = httpx2.Limits(max_connections=n, max_keepalive_connections=n)
    base_url = f"http://127.0.0.1:{args.port}/v1"
    async with AsyncHelicone(api_key=API_KEY, base_url=base_url, max_retries=0, limits=limits) as c:
        create = c.chat.completions.create
        messages = BODY["messages"]

        async def pool(count: int) -> int:
            remaining = count
            done = 0

            async def worker() -> None:
                nonlocal remaining, done
                while remaining > 0:
                    remaining -= 1
                    await create(model=MODEL, messages=messages)
                    done += 1

            async with anyio.create_task_group() as tg:
                for _ in range(min(n, count)):
                    tg.start_soon(worker)
            return done

        async def run(count: int) -> int:
            done = 0
            async with run_batch(c, _lines(count), concurrency=n) as results:
                async for result in results:
                    if result.error is not None:
                        raise RuntimeError(f"batch item failed: {result.error!r}")
                    done += 1
            return done

        chosen = pool if args.child == "client-pool" else run
        await chosen(n)
        return await _timed(chosen, args.count)


async def _timed(run: Any, count: int) -> dict[str, float]:
    t0 = time.perf_counter()
    c0 = time.process_time()
    done = await run(count)
    cpu = time.process_time() - c0
    wall = time.perf_counter() - t0
    if done != count:
        raise RuntimeError(f"expected {count} results, got {done}")
    return {
        "wall_s": wall,
        "rate_per_s": count / wall,
        "cpu_us_per_req": cpu / count * 1e6,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child(args: argparse.Namespace) -> None:
    """Measure one driver in this (fresh) process; print one JSON line."""
    if not args.no_pin:
        pin_to_cpu(0)
    import anyio

    if args.child in ("run_batch", "client-pool"):
        result = anyio.run(_batch, args, backend=args.backend)
    else:
        result = anyio.run(lambda: _raw(args, pool=args.child == "raw-pool"), backend=args.backend)
    print(json.dumps(result))


# -- the parent: server, repetitions, report ---------------------------------------------------


def _measure(driver: str, backend: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--child={driver}",
        f"--port={port}",
        f"--backend={backend}",
        f"--count={args.count}",
        f"--concurrency={args.concurrency}",
    ]
    if args.no_pin:
        command.append("--no-pin")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.timeout)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def parent(args: argparse.Namespace) -> int:
    """Run every driver ``--reps`` times per backend and print the medians and ratios."""
    backends = args.backends.split(",")
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    failed = False
    from run import BenchServer  # the same loopback server process as benchmarks/run.py

    server = BenchServer(events_per_chunk=1)
    try:
        for rep in range(args.reps):
            for backend in backends:
                order = DRIVERS[rep % len(DRIVERS) :] + DRIVERS[: rep % len(DRIVERS)]
                for driver in order:
                    result = _measure(driver, backend, server.port, args)
                    print(f"[{rep + 1}/{args.reps}] {backend} {driver}: {result}", file=sys.stderr)
                    if "error" in result:
                        failed = True
                    else:
                        runs.setdefault((backend, driver), []).append(result)
    finally:
        server.close()

    medians: dict[tuple[str, str], dict[str, float]] = {
        key: {m: statistics.median(r[m] for r in rs) for m in rs[0]} for key, rs in runs.items()
    }
    print(
        f"\n{args.count} chat completions, concurrency {args.concurrency}, "
        f"median of {args.reps} fresh processes per row\n"
    )
    print("| backend | driver | req/s | x raw-gather | CPU µs/req | peak MB | x raw-gather |")
    print("|---|---|---:|---:|---:|---:|---:|")
    verdicts: list[str] = []
    for backend in backends:
        base = medians.get((backend, BASELINE))
        for driver in DRIVERS:
            m = medians.get((backend, driver))
            if m is None:
                continue
            rate_x = m["rate_per_s"] / base["rate_per_s"] if base else float("nan")
            mem_x = m["peak_rss_mb"] / base["peak_rss_mb"] if base else float("nan")
            print(
                f"| {backend} | {driver} | {m['rate_per_s']:.0f} | {rate_x:.2f}x | "
                f"{m['cpu_us_per_req']:.0f} | {m['peak_rss_mb']:.1f} | {mem_x:.2f}x |"
            )
            if driver == "run_batch" and base:
                ok = rate_x >= MIN_RATE_RATIO and mem_x <= MAX_MEMORY_RATIO
                failed = failed or not ok
                verdicts.append(
                    f"{backend}: throughput {rate_x:.2f}x (floor {MIN_RATE_RATIO}x), "
                    f"peak memory {mem_x:.2f}x (ceiling {MAX_MEMORY_RATIO}x): "
                    f"{'PASS' if ok else 'FAIL'}"
                )
    print()
    for line in verdicts:
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"runs": {f"{b}/{d}": rs for (b, d), rs in runs.items()}, "args": vars(args)},
                indent=2,
            )
        )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run_batch vs a raw httpx2 loop (issue 7).")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--json", help="write every run's numbers to this file")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per child")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    parser.add_argument("--child", choices=DRIVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="asyncio", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
