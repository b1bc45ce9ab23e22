"""AsyncStream over a real loopback socket: closing, cancellation, truncation, errors, timeouts."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from aiohelicone import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncHelicone,
    ChatCompletionStream,
    InternalServerError,
    RateLimitError,
    StreamDeadlineError,
    StreamFirstEventTimeoutError,
    StreamIdleTimeoutError,
    StreamTimeouts,
    StreamTruncatedError,
)
from aiohelicone.testing import (
    Fail,
    FakeGateway,
    InStreamError,
    LoopbackServer,
    RawResponse,
    Reply,
    Reset,
    SlowDrip,
    Stall,
    ToolCall,
    TruncatedStream,
    no_retry_waits,
)

pytestmark = pytest.mark.anyio

MODEL = "gpt-4o-mini/openai"
MESSAGES = [{"role": "user", "content": "Tell me a story"}]
SSE = "text/event-stream"


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body)}\n\n".encode()


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


@pytest.fixture
async def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def client(server: LoopbackServer) -> AsyncIterator[AsyncHelicone]:
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as c:
        yield c


async def open_stream(client: AsyncHelicone, **kwargs: Any) -> ChatCompletionStream:
    return await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, **kwargs
    )


async def wait_for_zero_connections(server: LoopbackServer, within: float = 1.0) -> None:
    with anyio.fail_after(within):
        while server.connections_open:
            await anyio.sleep(0.01)


# -- basics and accumulation -------------------------------------------------------------


async def test_stream_yields_chunks_and_accumulates(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A stream yields typed chunks; the final completion has content, finish reason, usage."""
    gateway.script(MODEL, [Reply(text="Once upon a time there was a gateway.")])
    stream = await open_stream(client)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    final = stream.accumulated
    assert "".join(p or "" for p in pieces) == "Once upon a time there was a gateway."
    assert len(pieces) > 2, "the fake gateway sends several content chunks"
    assert final.choices[0].message.content == "Once upon a time there was a gateway."
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens > 0
    assert stream.helicone.request_id == gateway.last_request.helicone_id


async def test_get_final_completion_and_text_deltas(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """get_final_completion() reads the rest; text_deltas() yields only text."""
    gateway.script(MODEL, [Reply(text="Hello there, world"), Reply(text="abc def")])
    stream = await open_stream(client)
    final = await stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there, world"
    assert final.helicone is not None
    stream = await open_stream(client)
    texts = [t async for t in stream.text_deltas()]
    assert "".join(texts) == "abc def"
    assert all(texts)


async def test_tool_call_fragments_are_assembled(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Tool-call id, name and argument fragments interleaved by index build whole calls."""
    gateway.script(
        MODEL,
        [
            Reply(
                tool_calls=(
                    ToolCall(name="get_weather", arguments={"city": "Paris", "unit": "c"}),
                    ToolCall(name="get_time", arguments={"tz": "Europe/Paris"}),
                )
            )
        ],
    )
    stream = await open_stream(client, tools=[{"type": "function", "function": {"name": "x"}}])
    final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 2
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "c"}
    assert json.loads(calls[1].function.arguments) == {"tz": "Europe/Paris"}
    assert all(c.id for c in calls)
    assert final.choices[0].finish_reason == "tool_calls"


async def test_n_choices_accumulate_separately(client: AsyncHelicone) -> None:
    """n>1 streams keep each choice apart."""
    stream = await open_stream(client, n=2)
    final = await stream.get_final_completion()
    assert [c.index for c in final.choices] == [0, 1]
    assert all(c.message.content for c in final.choices)


async def test_text_completion_stream(client: AsyncHelicone) -> None:
    """completions.create(stream=True) streams Completion chunks too."""
    stream = await client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Once upon a time", stream=True
    )
    final = await stream.get_final_completion()
    assert final.choices[0].text
    assert final.choices[0].finish_reason is not None


# -- connections -------------------------------------------------------------------------


async def test_streams_reuse_one_connection(client: AsyncHelicone, server: LoopbackServer) -> None:
    """After [DONE] the connection goes back to the pool: 100 streams use one TCP connection."""
    for _ in range(100):
        stream = await open_stream(client)
        async for _chunk in stream:
            pass
    assert server.connections_total == 1


async def test_break_with_async_with_closes_connection(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """Leaving `async with` after `break` closes the connection and the server sees it."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    stream = await open_stream(client)
    async with stream:
        async for _ in stream:
            break
    await wait_for_zero_connections(server)
    record = gateway.last_request
    assert record.closed_by_client_at is not None


# trio itself warns (ResourceWarning) about the httpcore2 async generator of a stream
# that was dropped unclosed, and finalises it: that warning is for the user's code.
@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
async def test_dropped_stream_releases_connection_without_gc(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """`break` and drop the stream unclosed with gc disabled: the socket is released promptly."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    gc.disable()
    try:
        stream = await open_stream(client)
        async for _ in stream:
            break
        del stream
        await wait_for_zero_connections(server)
    finally:
        gc.enable()
    assert gateway.last_request.closed_by_client_at is not None
    # The pool slot came back: the next request works on a single-connection pool.
    result = await client.chat.completions.create(model=MODEL, messages=MESSAGES, timeout=5)
    assert result.choices


async def test_cancellation_closes_connection_and_propagates(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """Cancelling a task mid-stream closes the connection and re-raises the cancellation."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    received: list[Any] = []
    with anyio.move_on_after(0.3) as scope:
        stream = await open_stream(client)
        async for item in stream:
            received.append(item)
    assert scope.cancelled_caught
    assert received, "some chunks arrived before the cancel"
    await wait_for_zero_connections(server)


async def test_aclose_from_another_task(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """aclose() from another task while one iterates ends the iteration cleanly."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    stream = await open_stream(client)
    count = 0

    async def consume() -> None:
        nonlocal count
        try:
            async for _ in stream:
                count += 1
        except APIConnectionError:
            pass  # the read was interrupted by the close: acceptable, not a hang

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            while count == 0:  # wait for the iteration to be under way (no fixed sleep)
                await anyio.sleep(0.01)
            await stream.aclose()
    assert 0 < count < 100  # the close ended it, long before the 200 dripped words
    await wait_for_zero_connections(server)


# -- truncation and errors ---------------------------------------------------------------


@pytest.mark.parametrize("clean", [True, False])
async def test_truncated_stream_raises_with_partial(
    client: AsyncHelicone, gateway: FakeGateway, clean: bool
) -> None:
    """A body ending before [DONE] and a finish_reason raises StreamTruncatedError."""
    gateway.script(MODEL, [TruncatedStream(after_chunks=3, clean=clean)])
    stream = await open_stream(client)
    seen = 0
    with pytest.raises((StreamTruncatedError, APIConnectionError)) as info:
        async for _ in stream:
            seen += 1
    if clean:
        assert isinstance(info.value, StreamTruncatedError)
        assert info.value.chunks == 3
        assert info.value.partial.choices[0].message.content
    assert seen >= 1


async def test_finish_reason_without_done_completes(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A body that ends after a finish_reason but without [DONE] completes normally."""
    body = [chunk("Hi"), chunk(" there", finish="stop")]
    gateway.script(MODEL, [RawResponse(200, body, content_type=SSE)])
    stream = await open_stream(client)
    final = await stream.get_final_completion()
    assert final.choices[0].message.content == "Hi there"


async def test_lone_surrogate_in_a_delta_is_kept(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Half an emoji (a lone surrogate escape) in a delta is read, whichever JSON decoder."""
    body = [chunk("smile \ud83d"), chunk("\ude00", finish="stop")]
    gateway.script(MODEL, [RawResponse(200, body, content_type=SSE)])
    stream = await open_stream(client)
    final = await stream.get_final_completion()
    # The same str json.loads gives: the two halves, as two code points.
    assert final.choices[0].message.content == "smile \ud83d\ude00"


async def test_last_event_without_blank_line_is_not_lost(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A final event cut before its blank line is still used when it is complete JSON."""
    body = [chunk("Hi"), chunk(" there", finish="stop").rstrip(b"\n")]
    gateway.script(MODEL, [RawResponse(200, body, content_type=SSE)])
    final = await (await open_stream(client)).get_final_completion()
    assert final.choices[0].message.content == "Hi there"
    assert final.choices[0].finish_reason == "stop"


async def test_event_only_block_is_not_an_error(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Legal SSE with an event-only block or comments does not break JSON parsing."""
    body = [
        b": keep-alive\n\n",
        b"event: ping\n\n",
        chunk("ok", finish="stop"),
        b"data: [DONE]\n\n",
    ]
    gateway.script(MODEL, [RawResponse(200, body, content_type=SSE)])
    final = await (await open_stream(client)).get_final_completion()
    assert final.choices[0].message.content == "ok"


async def test_corrupt_event_raises_validation_error(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """A corrupt JSON event raises APIResponseValidationError, never JSONDecodeError."""
    body = [chunk("a"), b"data: {not json\n\n", chunk("b", finish="stop")]
    gateway.script(MODEL, [RawResponse(200, body, content_type=SSE)])
    stream = await open_stream(client)
    with pytest.raises(APIResponseValidationError, match="not valid JSON"):
        async for _ in stream:
            pass
    await wait_for_zero_connections(server)


async def test_in_stream_error_raises_its_status_class(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """{"error": ...} inside a stream raises the class the status would, flagged in_stream."""
    error = {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit"}}
    gateway.script(MODEL, [InStreamError(after_chunks=2, error_json=error)])
    stream = await open_stream(client)
    with pytest.raises(RateLimitError) as info:
        async for _ in stream:
            pass
    assert info.value.in_stream
    assert info.value.message == "slow down"
    gateway.script(MODEL, [InStreamError(after_chunks=1)])
    with pytest.raises(InternalServerError):
        await (await open_stream(client)).get_final_completion()


async def test_null_error_in_a_chunk_is_not_an_error(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A usage chunk (or any chunk) with "error": null after a complete answer is no error."""
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    body = [
        chunk("Hi", error=None),
        chunk(" there", finish="stop"),
        b"data: "
        + json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                      "model": "m", "choices": [], "usage": usage, "error": None}).encode()
        + b"\n\n",
        b"data: [DONE]\n\n",
    ]  # fmt: skip
    gateway.script(MODEL, [RawResponse(200, body, content_type=SSE)])
    final = await (await open_stream(client)).get_final_completion()
    assert final.choices[0].message.content == "Hi there"
    assert final.usage is not None and final.usage.total_tokens == 5


async def test_in_stream_error_is_flagged_in_body(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """An in-stream error is flagged in_stream and in_body (the HTTP status was 200)."""
    gateway.script(MODEL, [InStreamError(after_chunks=1)])
    with pytest.raises(InternalServerError) as info:
        await (await open_stream(client)).get_final_completion()
    assert info.value.in_stream and info.value.in_body
    assert "(in stream)" in str(info.value)


async def test_json_error_with_200_is_not_an_empty_stream(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A 200 carrying a JSON error body (not SSE) raises that error."""
    error = {"error": {"message": "quota", "type": "insufficient_quota"}}
    gateway.script(MODEL, [RawResponse(200, json.dumps(error), content_type="application/json")])
    with pytest.raises(RateLimitError, match="quota"):
        await open_stream(client)


async def test_json_completion_instead_of_stream_is_delivered(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A 200 JSON completion answering a stream request is delivered as one chunk."""
    completion = {
        "id": "x",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "whole"},
                "finish_reason": "stop",
            }
        ],
    }
    gateway.script(
        MODEL, [RawResponse(200, json.dumps(completion), content_type="application/json")]
    )
    stream = await open_stream(client)
    chunks = [c async for c in stream]
    assert len(chunks) == 1
    assert stream.accumulated.choices[0].message.content == "whole"


async def test_non_sse_non_json_200_raises(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """An HTML 200 to a stream request raises APIResponseValidationError."""
    gateway.script(MODEL, [RawResponse(200, "<html>oops</html>", content_type="text/html")])
    with pytest.raises(APIResponseValidationError, match="neither"):
        await open_stream(client)


async def test_reset_mid_stream_raises_connection_error(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A connection reset after some events raises APIConnectionError (not a silent end)."""
    gateway.script(MODEL, [TruncatedStream(after_chunks=2, clean=False)])
    stream = await open_stream(client)
    with pytest.raises((APIConnectionError, StreamTruncatedError)):
        async for _ in stream:
            pass


# -- retries and timeouts ----------------------------------------------------------------


async def test_retries_before_first_byte(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A 503 or a reset before the stream starts is retried like any call."""
    gateway.script(MODEL, [Fail(503), Reset(), Reply(text="after retries")])
    final = await (await open_stream(client)).get_final_completion()
    assert final.choices[0].message.content == "after retries"


async def test_error_status_on_stream_request_raises_typed_error(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A non-2xx before the stream raises the typed status error after retries."""
    gateway.script(MODEL, [Fail(503)], repeat=True)
    with pytest.raises(InternalServerError):
        await open_stream(client, max_retries=1)


async def test_first_event_timeout(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """No event within the first-event budget raises StreamFirstEventTimeoutError."""
    gateway.script(MODEL, [Stall(seconds=5, after_chunks=0)])
    with pytest.raises(StreamFirstEventTimeoutError):
        stream = await open_stream(client, stream_timeouts=StreamTimeouts(first_event=0.2))
        async for _ in stream:
            pass


async def test_idle_timeout_between_events(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A gap longer than the idle budget after some events raises StreamIdleTimeoutError."""
    gateway.script(MODEL, [Stall(seconds=5, after_chunks=2)])
    stream = await open_stream(client, stream_timeouts=StreamTimeouts(idle=0.2), max_retries=0)
    with pytest.raises(StreamIdleTimeoutError):
        async for _ in stream:
            pass


async def test_slow_stream_within_idle_budget_completes(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A slow stream whose every gap is within the idle budget completes."""
    gateway.script(MODEL, [SlowDrip(0.1, Reply(text="a b c d e"))])
    stream = await open_stream(client, stream_timeouts=StreamTimeouts(idle=0.5))
    final = await stream.get_final_completion()
    assert final.choices[0].message.content == "a b c d e"


async def test_total_deadline(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """The total deadline bounds the whole stream even when every gap is short."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["w"] * 100)))])
    stream = await open_stream(client, stream_timeouts=StreamTimeouts(total=0.3))
    with pytest.raises(StreamDeadlineError):
        async for _ in stream:
            pass


async def test_stream_timeouts_validate() -> None:
    """Non-positive budgets are refused."""
    with pytest.raises(ValueError, match="first_event"):
        StreamTimeouts(first_event=0)
