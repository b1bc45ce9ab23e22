"""Answers read whole, over a real loopback socket: size caps, errors reported in 2xx bodies.

Every answer is capped at ``max_response_bytes``. A 2xx body that reports an error (a
non-null ``error``) raises the status error it implies.
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
    _retry,
)
from aiohelicone.testing import (
    Fail,
    FakeGateway,
    InStreamError,
    LoopbackServer,
    RawResponse,
    Reply,
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


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with _retry.waits_disabled():
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


# -- size caps ---------------------------------------------------------------------------------


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
