"""A Responses API stream: client CPU per event, aiohelicone against raw httpx2.

``server.py`` sends a ``/v1/responses`` stream in OpenAI's form (``event:`` and ``data:``
lines, one HTTP chunk per event, mostly ``response.output_text.delta`` events, no
``[DONE]``). This measures, per event, on both sides:

- **raw httpx2**: ``client.stream(...)``, ``aiter_lines()`` and ``json.loads`` of each
  ``data:`` line (the floor: no typing, no accumulation, no checks);
- **aiohelicone**: ``client.responses.create(stream=True)`` and ``async for event in
  stream``: typed events (``parse_event``), the accumulator building the final
  ``Response``, the truncation and error-event checks.

A chat stream of the same length is measured beside it, so the table shows whether a
Responses stream costs what a chat stream does. Run it as::

    python benchmarks/bench_responses.py [--chunks 5000] [--rounds 7] [--backend asyncio]

It starts ``server.py`` (pinned to the second CPU), pins itself to the first, warms up, then
measures ``rounds`` rounds of one stream per (driver, API), interleaved so that a noisy moment
hits every row alike, and prints the median CPU per event of each row.
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

APIS = ("chat", "responses")


async def measure(port: int, chunks: int, rounds: int) -> dict[tuple[str, str], list[float]]:
    import httpx2

    from aiohelicone import AsyncHelicone, _json

    _json._LOADS = json.loads  # the default install's decoder, as drivers.AioHelicone does
    base = f"http://127.0.0.1:{port}/v1"
    raw = httpx2.AsyncClient(timeout=TIMEOUT_S)
    ours = AsyncHelicone(api_key=API_KEY, base_url=base, max_retries=0)
    headers = {"x-bench-chunks": str(chunks)}
    # The chat stream has chunks + 1 JSON events (a usage chunk), the Responses one chunks.
    expected = {"chat": chunks + 1, "responses": chunks}

    def raw_stream(api: str) -> Callable[[], Awaitable[int]]:
        path = "chat/completions" if api == "chat" else "responses"
        body = STREAM_BODY if api == "chat" else {"model": MODEL, "input": "hi", "stream": True}
        raw_headers = {"authorization": f"Bearer {API_KEY}", **headers}

        async def run() -> int:
            n = 0
            loads = json.loads
            async with raw.stream("POST", f"{base}/{path}", json=body, headers=raw_headers) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        loads(line[6:])
                        n += 1
            return n

        return run

    def our_stream(api: str) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            stream: object
            if api == "chat":
                stream = await ours.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True, extra_headers=headers
                )
            else:
                stream = await ours.responses.create(
                    model=MODEL, input="hi", stream=True, extra_headers=headers
                )
            n = 0
            async with stream:  # type: ignore[attr-defined]
                async for _event in stream:  # type: ignore[attr-defined]
                    n += 1
            return n

        return run

    runs = {
        (driver, api): (raw_stream if driver == "httpx2" else our_stream)(api)
        for driver in ("httpx2", "aiohelicone")
        for api in APIS
    }
    results = await interleaved(runs, rounds, lambda key: expected[key[1]])
    await raw.aclose()
    await ours.aclose()
    return results


def main(argv: list[str] | None = None) -> None:
    args, results = run(__doc__, measure, argv)
    print(
        f"one stream of {args.chunks} events, one SSE event per HTTP chunk, {args.backend}, "
        f"median of {args.rounds} rounds (client CPU µs/event; min in brackets)\n"
    )
    table("API", APIS, results)


if __name__ == "__main__":
    main()
