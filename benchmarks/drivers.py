"""Benchmark drivers, and the child process that measures one (scenario, driver, backend) run.

``run.py`` starts this file once per measurement, in a fresh interpreter, so that peak RSS
(``ru_maxrss``) belongs to one scenario only::

    python benchmarks/drivers.py --port P --driver httpx2 --backend trio \\
        --kind chat --count 2000 --concurrency 1

It prints one JSON object on stdout: the measurement, or ``{"skipped": reason}`` when the driver's
library is missing or lacks the API (ImportError/AttributeError), or ``{"error": ...}``.

Every driver offers the same three coroutines, ``chat()``, ``stream(chunks)`` and ``aclose()``;
the harness around them (a fixed pool of ``concurrency`` anyio worker tasks pulling from a shared
counter) is identical for all drivers, so its small cost cancels out of the ratios. Imports of
the client library, client construction and a warm-up (which opens the connections) happen
before the measured window; CPU is ``time.process_time()`` over the window. With ``--rounds R``
the window is run R times in the same process (after the one warm-up) and the round with the
median CPU is reported, with every round's CPU per unit beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from _affinity import pin_to_cpu

API_KEY = "sk-helicone-bench"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "hi"}]
CHAT_BODY = {"model": MODEL, "messages": MESSAGES}
STREAM_BODY = {"model": MODEL, "messages": MESSAGES, "stream": True}
TIMEOUT_S = 120.0


class Driver(Protocol):
    """What the harness needs from a client under test."""

    async def chat(self) -> object:
        """Send one chat completion and return the parsed answer."""
        ...

    async def stream(self, chunks: int) -> int:
        """Stream one chat completion of ``chunks`` chunks; return the JSON events parsed."""
        ...

    async def aclose(self) -> None:
        """Close the client and its connections."""
        ...


async def count_chunks(stream: Any) -> int:
    """Read a client library's stream to its end inside ``async with``; the chunk count."""
    n = 0
    async with stream:
        async for _chunk in stream:
            n += 1
    return n


class RawHttpx2:
    """The baseline: a hand-written httpx2 loop that ``json.loads`` what it receives."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        import httpx2

        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx2.AsyncClient(limits=limits, timeout=TIMEOUT_S)
        self._url = f"{base_url}/chat/completions"
        self._headers = {"Authorization": f"Bearer {API_KEY}"}
        self._stream_headers: dict[int, dict[str, str]] = {}

    async def chat(self) -> object:
        r = await self._client.post(self._url, json=CHAT_BODY, headers=self._headers)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        return json.loads(r.content)

    async def stream(self, chunks: int) -> int:
        headers = self._stream_headers.get(chunks)
        if headers is None:
            headers = {**self._headers, "x-bench-chunks": str(chunks)}
            self._stream_headers[chunks] = headers
        n = 0
        loads = json.loads
        async with self._client.stream("POST", self._url, json=STREAM_BODY, headers=headers) as r:
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            async for line in r.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    loads(line[6:])
                    n += 1
        return n

    async def aclose(self) -> None:
        await self._client.aclose()


class AioHelicone:
    """aiohelicone's public API: ``client.chat.completions.create(...)``, typed results.

    It measures the default install, whose JSON decoder is the standard library's, even
    when orjson happens to be installed here; ``aiohelicone-fast`` measures the ``fast``
    extra (orjson).
    """

    model = MODEL
    fast = False

    def __init__(self, base_url: str, concurrency: int) -> None:
        import httpx2

        from aiohelicone import AsyncHelicone

        _choose_json_decoder(fast=self.fast)

        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = AsyncHelicone(
            api_key=API_KEY, base_url=base_url, max_retries=0, limits=limits
        )
        self._create = self._client.chat.completions.create

    async def chat(self) -> object:
        return await self._create(model=self.model, messages=MESSAGES)

    async def stream(self, chunks: int) -> int:
        stream = await self._create(
            model=self.model,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-bench-chunks": str(chunks)},
        )
        return await count_chunks(stream)

    async def aclose(self) -> None:
        await self._client.aclose()


class AioHeliconeChain(AioHelicone):
    """aiohelicone with a two-target fallback chain whose first target answers.

    The server ignores the model, so every call succeeds on the first target: the difference
    to the ``aiohelicone`` row is what the client-side fallback executor costs on success.
    """

    model = "gpt-4o-mini/openai,claude-3.5-haiku/anthropic"


class AioHeliconeFast(AioHelicone):
    """aiohelicone with the ``fast`` extra: orjson decodes answers and stream chunks."""

    fast = True


def _choose_json_decoder(*, fast: bool) -> None:
    # Benchmark-only: pin the decoder aiohelicone would pick with or without the extra.
    try:
        from aiohelicone import _json
    except ImportError:
        if fast:
            raise  # an aiohelicone without the fast extra: skipped
        return  # an aiohelicone from before it: the standard library already
    if fast:
        import orjson  # noqa: F401  (ImportError: skipped)

        _json._LOADS = None  # resolved on first use, to orjson
    else:
        _json._LOADS = json.loads


class OpenAIPython:
    """openai-python's ``AsyncOpenAI`` (optional comparison; asyncio only)."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        import importlib

        import openai

        # openai-python sits on httpx or, in recent releases, httpx2: take Limits from whichever
        # its default client subclasses.
        client_cls = openai.DefaultAsyncHttpxClient
        base = next(c for c in client_cls.__mro__ if c.__name__ == "AsyncClient")
        http = importlib.import_module(base.__module__.split(".")[0])
        limits = http.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        http_client = client_cls(limits=limits, timeout=TIMEOUT_S)
        self._client = openai.AsyncOpenAI(
            api_key=API_KEY, base_url=base_url, max_retries=0, http_client=http_client
        )
        self._create = self._client.chat.completions.create

    async def chat(self) -> object:
        return await self._create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    async def stream(self, chunks: int) -> int:
        stream: Any = await self._create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            extra_headers={"x-bench-chunks": str(chunks)},
        )
        return await count_chunks(stream)

    async def aclose(self) -> None:
        await self._client.close()


def _batch_requests(count: int) -> Iterator[dict[str, Any]]:
    # OpenAI Batch API input lines, which run_batch accepts as mappings (as its command line
    # reads them from JSONL); BatchRequest objects would do as well.
    for i in range(count):
        yield {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
               "body": CHAT_BODY}  # fmt: skip


class AioHeliconeBatch(AioHelicone):
    """aiohelicone's ``run_batch`` (issue 7): the whole chat scenario in one call."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        import aiohelicone

        self._run_batch = aiohelicone.run_batch  # AttributeError -> skipped
        super().__init__(base_url, concurrency)

    async def run_chat_batch(self, count: int, concurrency: int) -> int:
        done = 0
        batch = self._run_batch(self._client, _batch_requests(count), concurrency=concurrency)
        async with batch as results:
            async for result in results:
                if result.error is not None:
                    raise RuntimeError(f"batch item failed: {result.error!r}")
                done += 1
        return done


DRIVERS: dict[str, Callable[[str, int], Driver]] = {
    "httpx2": RawHttpx2,
    "aiohelicone": AioHelicone,
    "aiohelicone-chain": AioHeliconeChain,
    "aiohelicone-fast": AioHeliconeFast,
    "aiohelicone-batch": AioHeliconeBatch,
    "openai": OpenAIPython,
}


async def run_chat(driver: Driver, count: int, concurrency: int) -> int:
    """Send ``count`` chat requests with at most ``concurrency`` in flight; return ``count``."""
    import anyio

    batch = getattr(driver, "run_chat_batch", None)
    if batch is not None:
        done: int = await batch(count, concurrency)
        return done
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await driver.chat()

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, count)):
            tg.start_soon(worker)
    return count


async def run_streams(driver: Driver, count: int, chunks: int, concurrency: int) -> int:
    """Run ``count`` streams of ``chunks`` chunks, ``concurrency`` at a time; return events."""
    import anyio

    remaining = count
    events = 0

    async def worker() -> None:
        nonlocal remaining, events
        while remaining > 0:
            remaining -= 1
            n = await driver.stream(chunks)  # not `events += await ...`: that reads events first
            events += n

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, count)):
            tg.start_soon(worker)
    return events


def server_stats(port: int) -> dict[str, float]:
    """Ask the bench server for its CPU seconds so far (blocking; outside measured windows)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /_bench/stats HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    result: dict[str, float] = json.loads(data.partition(b"\r\n\r\n")[2])
    return result


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the driver, warm it up, and measure one scenario run."""
    base_url = f"http://127.0.0.1:{args.port}/v1"
    driver = DRIVERS[args.driver](base_url, args.concurrency)
    try:
        if args.kind == "chat":
            expected = args.count
            await run_chat(driver, min(args.count, max(args.concurrency, 20)), args.concurrency)
        else:
            expected = args.count * (args.chunks + 1)  # content chunks + the usage chunk
            warm = min(args.count, args.concurrency)
            await run_streams(driver, warm, min(args.chunks, 50), args.concurrency)
        rounds = []
        for _ in range(args.rounds):
            before = server_stats(args.port)
            t0 = time.perf_counter()
            c0 = time.process_time()
            if args.kind == "chat":
                units = await run_chat(driver, args.count, args.concurrency)
            else:
                units = await run_streams(driver, args.count, args.chunks, args.concurrency)
            c1 = time.process_time()
            t1 = time.perf_counter()
            after = server_stats(args.port)
            if units != expected:
                raise RuntimeError(f"expected {expected} units, got {units}")
            rounds.append((c1 - c0, t1 - t0, after["cpu_s"] - before["cpu_s"]))
    finally:
        await driver.aclose()
    # The round with the median CPU stands for this process (one round: that round).
    rounds.sort()
    cpu, wall, server_cpu = rounds[len(rounds) // 2]
    return {
        "units": expected,
        "rounds": len(rounds),
        "round_cpu_us_per_unit": [r[0] / expected * 1e6 for r in rounds],
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_us_per_unit": cpu / expected * 1e6,
        "rate_per_s": expected / wall,
        "client_cpu_pct": 100 * cpu / wall,
        "server_cpu_pct": 100 * server_cpu / wall,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure one benchmark run (used by run.py).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--driver", choices=sorted(DRIVERS), required=True)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--kind", choices=["chat", "stream"], required=True)
    parser.add_argument("--count", type=int, required=True, help="requests or streams")
    parser.add_argument("--chunks", type=int, default=50, help="chunks per stream")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=1, help="measured rounds in this process; the median is kept"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPU 0")
    args = parser.parse_args(argv)
    if not args.no_pin:
        pin_to_cpu(0)
    import anyio

    try:
        result = anyio.run(measure, args, backend=args.backend)
    except Exception as exc:
        traceback.print_exc()
        leaf = _first_leaf(exc)
        reason = f"{type(leaf).__name__}: {leaf}"
        if isinstance(leaf, ImportError | AttributeError):
            # The library is not there yet, or lacks this API: skip, do not fail the run.
            print(json.dumps({"skipped": reason}))
            return
        print(json.dumps({"error": reason}))
        sys.exit(1)
    print(json.dumps(result))


def _first_leaf(exc: BaseException) -> BaseException:
    # Task groups wrap errors in ExceptionGroups; the first leaf names the cause.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


if __name__ == "__main__":
    main()
