"""Answers read whole, over a real loopback socket: deadlines, size caps, errors in 2xx bodies.

A JSON answer to a stream request (not ``text/event-stream``) is read as one body: the
stream's first-event and total deadlines bound it, the read timeout (idle) bounds each gap,
and it is capped like one event. Every other answer is capped at ``max_response_bytes``. A
2xx body that reports an error (a non-null ``error``) raises the status error it implies.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from aiohelicone import (
    APIResponseValidationError,
    AsyncHelicone,
    InternalServerError,
    RateLimitError,
    StreamDeadlineError,
    StreamFirstEventTimeoutError,
    StreamTimeouts,
)
from aiohelicone.testing import (
    Fail,
    FakeGateway,
    InStreamError,
    LoopbackServer,
    RawResponse,
    Reply,
    no_retry_waits,
)

pytestmark = pytest.mark.anyio

MODEL = "gpt-4o-mini/openai"
CHAIN = "gpt-4o-mini/openai,claude-3.5-haiku/anthropic"
MESSAGES = [{"role": "user", "content": "hello"}]
JSON = "application/json"
MiB = 1024 * 1024
#: Guards only: a regression fails the test instead of hanging it; nothing is timed.
GUARD = 10.0


def completion(content: str = "whole", **extra: Any) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        **extra,
    }


def pieces(data: bytes, count: int) -> list[bytes]:
    size = -(-len(data) // count)
    return [data[i : i + size] for i in range(0, len(data), size)]


def trickle(count: int, interval: float) -> RawResponse:
    """A JSON completion (not a stream) sent in ``count`` pieces, ``interval`` s apart."""
    body = json.dumps(completion()).encode()
    return RawResponse(200, pieces(body, count), content_type=JSON, chunk_interval=interval)


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


def make_client(server: LoopbackServer, **kwargs: Any) -> AsyncHelicone:
    kwargs.setdefault("max_retries", 0)
    return AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1", **kwargs)


@pytest.fixture
async def client(server: LoopbackServer) -> AsyncIterator[AsyncHelicone]:
    async with make_client(server) as c:
        yield c


async def stream_all(client: AsyncHelicone, **kwargs: Any) -> Any:
    """Open a stream and read it to its end; returns what it amounts to."""
    with anyio.fail_after(GUARD):
        stream = await client.chat.completions.create(
            model=kwargs.pop("model", MODEL), messages=MESSAGES, stream=True, **kwargs
        )
        return await stream.get_final_completion()


# -- deadlines of a JSON answer to a stream request -----------------------------------------


async def test_total_deadline_bounds_a_json_answer(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """A JSON answer that trickles past the stream's total deadline raises StreamDeadlineError."""
    gateway.script(MODEL, [trickle(count=10, interval=0.3)])
    with pytest.raises(StreamDeadlineError):
        await stream_all(client, stream_timeouts=StreamTimeouts(total=0.5))
    with anyio.fail_after(GUARD):
        while server.connections_open:  # the trickling answer's connection was dropped
            await anyio.sleep(0.01)


async def test_first_event_deadline_bounds_a_json_answer(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """The whole JSON body is the first event: first_event bounds the time until it is in."""
    gateway.script(MODEL, [trickle(count=10, interval=0.3)])
    with pytest.raises(StreamFirstEventTimeoutError):
        await stream_all(client, stream_timeouts=StreamTimeouts(first_event=0.5, total=30))


async def test_idle_budget_bounds_each_gap_of_a_json_answer(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A gap longer than idle inside a JSON answer raises a stream timeout, as before an event."""
    gateway.script(MODEL, [trickle(count=3, interval=3.0)])
    with pytest.raises(StreamFirstEventTimeoutError, match="read timeout"):
        await stream_all(client, stream_timeouts=StreamTimeouts(idle=0.3))


async def test_json_answer_within_its_budgets_is_delivered(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A trickling JSON answer that arrives within every budget is delivered as one chunk."""
    gateway.script(MODEL, [trickle(count=5, interval=0.02)])
    final = await stream_all(client, stream_timeouts=StreamTimeouts(first_event=5, idle=2, total=5))
    assert final.choices[0].message.content == "whole"


async def test_fallback_moves_on_when_a_json_answer_misses_the_deadline(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """In a client-side chain, the target whose JSON answer trickles too long gives way."""
    gateway.script(MODEL, [trickle(count=10, interval=0.3)])
    gateway.script("claude-3.5-haiku/anthropic", [Reply("from b")])
    final = await stream_all(client, model=CHAIN, stream_timeouts=StreamTimeouts(first_event=0.5))
    assert final.choices[0].message.content == "from b"
    assert [a.outcome for a in final.helicone.attempts] == ["StreamFirstEventTimeoutError", "ok"]


# -- size caps ---------------------------------------------------------------------------------


async def test_json_answer_to_a_stream_request_is_capped_like_an_event(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A JSON answer to a stream request larger than the event cap (16 MiB) is refused."""
    body = json.dumps(completion("x" * (17 * MiB))).encode()
    gateway.script(MODEL, [RawResponse(200, pieces(body, 17), content_type=JSON)])
    with pytest.raises(APIResponseValidationError, match="larger than 16777216 bytes") as info:
        await stream_all(client)
    assert info.value.status_code == 200
    assert info.value.body is None  # nothing of the oversized body is kept


async def test_max_response_bytes_caps_a_json_answer_to_a_stream_request(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A lower max_response_bytes caps a JSON answer to a stream request too."""
    body = json.dumps(completion("x" * 200_000)).encode()
    gateway.script(MODEL, [RawResponse(200, pieces(body, 4), content_type=JSON)])
    async with make_client(server, max_response_bytes=64 * 1024) as client:
        with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
            await stream_all(client)


async def test_max_response_bytes_caps_an_answer(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A non-stream answer larger than max_response_bytes raises, whatever its status."""
    body = json.dumps(completion("x" * 200_000)).encode()
    gateway.script(
        MODEL,
        [
            RawResponse(200, pieces(body, 4), content_type=JSON),
            RawResponse(500, pieces(body, 4), content_type=JSON),
            Reply("small"),
        ],
    )
    async with make_client(server, max_response_bytes=64 * 1024) as client:
        for status in (200, 500):
            with anyio.fail_after(GUARD), pytest.raises(APIResponseValidationError) as info:
                await client.chat.completions.create(model=MODEL, messages=MESSAGES)
            assert info.value.status_code == status
            assert "larger than 65536 bytes" in info.value.message
        with anyio.fail_after(GUARD):
            small = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert small.choices[0].message.content == "small"


async def test_error_body_on_a_stream_request_is_capped(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """An error status answering a stream request has its body capped too."""
    body = json.dumps({"error": {"message": "x" * 200_000}}).encode()
    gateway.script(MODEL, [RawResponse(503, pieces(body, 4), content_type=JSON)])
    async with make_client(server, max_response_bytes=64 * 1024) as client:
        with pytest.raises(APIResponseValidationError, match="larger than 65536") as info:
            await stream_all(client)
    assert info.value.status_code == 503


async def test_answer_at_the_cap_is_read(server: LoopbackServer, gateway: FakeGateway) -> None:
    """An answer of exactly max_response_bytes is read (the cap is inclusive)."""
    body = json.dumps(completion("x" * 1000)).encode()
    gateway.script(MODEL, [RawResponse(200, pieces(body, 3), content_type=JSON)])
    async with make_client(server, max_response_bytes=len(body)) as client:
        with anyio.fail_after(GUARD):
            result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert result.choices[0].message.content == "x" * 1000


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_max_response_bytes_is_validated(bad: object) -> None:
    """max_response_bytes must be a positive int (or None)."""
    from aiohelicone import InvalidInputError

    with pytest.raises(InvalidInputError, match="max_response_bytes"):
        AsyncHelicone(api_key="sk-helicone-test", max_response_bytes=bad)  # type: ignore[arg-type]


# -- errors reported inside a 2xx body ----------------------------------------------------------


async def test_error_in_a_200_body_raises_its_status_error(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A non-stream 200 whose body is {"error": {...}} raises the status error it implies."""
    error = {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit"}}
    gateway.script(MODEL, [InStreamError(error_json=error), InStreamError()])
    with pytest.raises(RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert info.value.in_body and not info.value.in_stream
    assert info.value.status_code == 429
    assert info.value.message == "slow down"
    assert info.value.code == "rate_limit"
    assert info.value.helicone is not None
    assert info.value.request_id == gateway.last_request.helicone_id
    with pytest.raises(InternalServerError) as server_error:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert server_error.value.in_body


async def test_gateway_envelope_in_a_200_body_keeps_its_details(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """The gateway's error envelope in a 200 body is parsed as for an error status."""
    envelope = {
        "success": False,
        "error": {
            "code": "request_failed",
            "message": "upstream broke",
            "details": [{"type": "request_failed", "message": "boom", "statusCode": 503}],
        },
    }
    gateway.script(MODEL, [RawResponse(200, json.dumps(envelope), content_type=JSON)])
    with pytest.raises(InternalServerError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert info.value.code == "request_failed"
    assert [d.status_code for d in info.value.details] == [503]
    assert info.value.in_body


async def test_null_error_in_a_200_body_is_a_normal_answer(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A completion with "error": null parses normally, non-stream and instead of a stream."""
    body = json.dumps(completion("fine", error=None))
    gateway.script(MODEL, [RawResponse(200, body, content_type=JSON)] * 2)
    result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert result.choices[0].message.content == "fine"
    final = await stream_all(client)
    assert final.choices[0].message.content == "fine"


async def test_error_in_a_200_body_falls_back_in_a_chain(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """In a client-side chain a 200 error body counts as the error it implies (500 moves on)."""
    gateway.script(MODEL, [InStreamError()])
    gateway.script("claude-3.5-haiku/anthropic", [Reply("from b")])
    result = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert result.choices[0].message.content == "from b"
    assert result.helicone is not None
    assert [a.outcome for a in result.helicone.attempts] == ["500", "ok"]


async def test_provider_error_status_is_unchanged(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """An error status (not a 200 body) is not flagged in_body."""
    gateway.script(MODEL, [Fail(429)])
    with pytest.raises(RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert not info.value.in_body


async def test_body_read_by_a_response_hook_is_still_the_answer(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A caller's http_client whose response hook reads the body still gets the answer."""
    import httpx2

    seen: list[bytes] = []

    async def hook(response: httpx2.Response) -> None:
        seen.append(await response.aread())

    gateway.script(MODEL, [Reply("hooked")])
    async with (
        httpx2.AsyncClient(event_hooks={"response": [hook]}) as http,
        make_client(server, http_client=http, max_response_bytes=1024 * 1024) as client,
    ):
        with anyio.fail_after(GUARD):
            result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert result.choices[0].message.content == "hooked"
    assert len(seen) == 1 and b"hooked" in seen[0]
