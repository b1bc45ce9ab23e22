"""A gzip-compressed stream: client CPU per chunk, aiohelicone against raw httpx2.

A proxy that compresses ``text/event-stream`` (issue 19) sends each event as a gzip
sync-flushed piece. This measures what decoding that costs per chunk, on both sides:

- **raw httpx2**: ``client.stream(...)``, ``aiter_lines()`` over httpx2's own gzip decoding,
  and ``json.loads`` of each ``data:`` line (the ``drivers.RawHttpx2`` loop);
- **aiohelicone**: ``stream=True`` and ``async for chunk in stream``, decoded by
  ``aiohelicone._decoders`` piece by piece, typed chunks (the ``drivers.AioHelicone`` loop).

Each is also run on the same stream uncompressed, so the table shows the ratio to raw httpx2
with and without gzip, and what gzip adds to each. Run it as::

    python benchmarks/bench_compressed.py [--chunks 5000] [--rounds 7] [--backend asyncio]

It starts ``server.py`` (pinned to the second CPU), pins itself to the first, warms up, then
measures ``rounds`` rounds of one stream per (driver, encoding), interleaved so that a noisy
moment hits every row alike, and prints the median CPU per chunk of each row.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # run from a checkout without an install

from _paired import interleaved, run, table  # noqa: E402
from drivers import API_KEY, MESSAGES, MODEL, STREAM_BODY, TIMEOUT_S  # noqa: E402

ENCODINGS = ("identity", "gzip")


async def measure(port: int, chunks: int, rounds: int) -> dict[tuple[str, str], list[float]]:
    import httpx2

    from aiohelicone import AsyncHelicone, _json

    _json._LOADS = json.loads  # the default install's decoder, as drivers.AioHelicone does
    base = f"http://127.0.0.1:{port}/v1"
    raw = httpx2.AsyncClient(timeout=TIMEOUT_S)
    ours = AsyncHelicone(api_key=API_KEY, base_url=base, max_retries=0)

    def raw_stream(encoding: str) -> Callable[[], Awaitable[int]]:
        headers = {"authorization": f"Bearer {API_KEY}", "x-bench-chunks": str(chunks)}
        if encoding != "identity":
            headers["x-bench-encoding"] = encoding

        async def run() -> int:
            n = 0
            loads = json.loads
            async with raw.stream(
                "POST", f"{base}/chat/completions", json=STREAM_BODY, headers=headers
            ) as r:
                assert r.headers.get("content-encoding", "identity") == encoding
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        loads(line[6:])
                        n += 1
            return n

        return run

    def our_stream(encoding: str) -> Callable[[], Awaitable[int]]:
        headers = {"x-bench-chunks": str(chunks)}
        if encoding != "identity":
            headers["x-bench-encoding"] = encoding

        async def run() -> int:
            stream = await ours.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, extra_headers=headers
            )
            n = 0
            async with stream:
                async for _chunk in stream:
                    n += 1
            return n

        return run

    runs = {
        (driver, encoding): (raw_stream if driver == "httpx2" else our_stream)(encoding)
        for driver in ("httpx2", "aiohelicone")
        for encoding in ENCODINGS
    }
    results = await interleaved(runs, rounds, lambda key: chunks + 1)
    await raw.aclose()
    await ours.aclose()
    return results


def main(argv: list[str] | None = None) -> None:
    args, results = run(__doc__, measure, argv)
    print(
        f"one stream of {args.chunks} chunks, one SSE event per HTTP chunk, {args.backend}, "
        f"median of {args.rounds} rounds (client CPU µs/chunk; min in brackets)\n"
    )
    median = table("encoding", ENCODINGS, results)
    for driver in ("httpx2", "aiohelicone"):
        added = median[driver, "gzip"] - median[driver, "identity"]
        print(f"\ngzip adds {added:.1f} µs/chunk to {driver}", end="")
    print()


if __name__ == "__main__":
    main()
