"""client.responses over loopback against the fake gateway, on asyncio and trio."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiohelicone import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncHelicone,
    BatchRequest,
    FallbackExhaustedError,
    HeliconeOptions,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseStream,
    ResponseTextDeltaEvent,
    StreamFirstEventTimeoutError,
    StreamIdleTimeoutError,
    StreamInterruptedError,
    StreamTimeouts,
    StreamTruncatedError,
    UnknownResponseEvent,
    collect_batch,
)
from aiohelicone._cli_batch_input import InputProblems, scan_input
from aiohelicone.cli import main
from aiohelicone.testing import (
    FakeGateway,
    InStreamError,
    LoopbackServer,
    RawResponse,
    Reply,
    SlowDrip,
    Stall,
    ToolCall,
    TruncatedStream,
    no_retry_waits,
)

pytestmark = pytest.mark.anyio

MODEL = "gpt-4o-mini"
JSON = "application/json"


def raw_error(status: int, message: str = "no") -> RawResponse:
    """An error answer sent as is (the gateway's own envelope rules do not apply)."""
    return RawResponse(status, json.dumps({"error": {"message": message}}), content_type=JSON)


A = "gpt-5/openai"
B = "claude-sonnet-4/anthropic"
CHAIN = f"{A},{B}"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
async def client(server: LoopbackServer) -> AsyncIterator[AsyncHelicone]:
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as c:
        yield c


def stable(response: Response) -> dict[str, Any]:
    """What two answers to the same request share (ids and times differ)."""
    return {
        "text": response.output_text,
        "types": [item.type for item in response.output],
        "usage": response.usage,
        "status": response.status,
        "model": response.model,
    }


async def wait_for_zero_connections(server: LoopbackServer) -> None:
    with anyio.fail_after(2):
        while server.connections_open:
            await anyio.sleep(0.01)


# -- whole answers -----------------------------------------------------------------------


async def test_create_returns_a_typed_response(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A non-stream call POSTs /v1/responses and returns a Response with .helicone."""
    response = await client.responses.create(
        model=MODEL, input="hello there", instructions="Be brief.", temperature=0.5
    )
    assert isinstance(response, Response)
    assert response.status == "completed"
    assert response.output_text == "You said: hello there"
    assert response.usage is not None and response.usage.input_tokens == 5
    assert response.helicone is not None
    assert response.helicone.provider == "openai"
    assert response.helicone.request_id
    record = gateway.last_request
    assert record.path == "/v1/responses" and record.endpoint == "responses"
    assert record.json == {
        "model": MODEL,
        "input": "hello there",
        "instructions": "Be brief.",
        "temperature": 0.5,
    }


async def test_tools_give_function_calls(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A scripted tool call comes back as a ResponseFunctionToolCall item."""
    gateway.script(MODEL, [Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')])])
    response = await client.responses.create(
        model=MODEL, input="weather?", tools=[WEATHER], tool_choice="auto"
    )
    calls = [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert gateway.last_request.json is not None
    assert gateway.last_request.json["tools"] == [WEATHER]


async def test_reasoning_items_come_first(client: AsyncHelicone) -> None:
    """A reasoning request starts its output with a reasoning item with a summary."""
    response = await client.responses.create(
        model="o4-mini", input="think", reasoning={"effort": "low", "summary": "auto"}
    )
    first, *rest = response.output
    assert isinstance(first, ResponseReasoningItem) and first.summary
    assert any(isinstance(item, ResponseOutputMessage) for item in rest)
    assert response.usage is not None
    assert response.usage.output_tokens_details is not None


async def test_max_output_tokens_makes_it_incomplete(client: AsyncHelicone) -> None:
    """max_output_tokens cuts the text: status incomplete, with the reason."""
    response = await client.responses.create(
        model=MODEL, input="one two three four five six", max_output_tokens=2
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


async def test_a_failed_response_is_an_answer(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A 200 response with status failed and an error is returned, not raised (openai-python)."""
    body = {
        "id": "resp_1",
        "object": "response",
        "status": "failed",
        "output": [],
        "error": {"code": "server_error", "message": "boom"},
    }
    gateway.script(MODEL, [RawResponse(200, json.dumps(body), content_type=JSON)])
    response = await client.responses.create(model=MODEL, input="x")
    assert response.status == "failed"
    assert response.error is not None and response.error.message == "boom"


async def test_helicone_options_and_metadata(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """helicone= and Helicone-named metadata keys become headers; the rest is body metadata."""
    await client.responses.create(
        model=MODEL,
        input="x",
        helicone=HeliconeOptions(user_id="u-1", properties={"app": "demo"}),
        metadata={"Helicone-Session-Id": "s-1", "topic": "weather"},
    )
    record = gateway.last_request
    assert record.user_id == "u-1"
    assert record.properties == {"app": "demo"}
    assert record.session_id == "s-1"
    assert record.json is not None and record.json["metadata"] == {"topic": "weather"}


async def test_429_is_retried(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A 429 is retried and the retry serves."""
    gateway.script(MODEL, [raw_error(429)])
    with no_retry_waits():
        response = await client.responses.create(model=MODEL, input="x")
    assert response.status == "completed"
    assert len(gateway.requests) == 2


async def test_error_status_raises_typed_error_with_helicone(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """An error status raises its subclass, with .helicone set."""
    gateway.script(MODEL, [raw_error(429)], repeat=True)
    with no_retry_waits(), pytest.raises(RateLimitError) as caught:
        await client.responses.create(model=MODEL, input="x", max_retries=0)
    assert caught.value.helicone is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input": []}, "input"),
        ({"input": "x", "temperature": 3}, "temperature"),
        ({"input": "x", "truncation": "sometimes"}, "truncation"),
        ({"input": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0]"),
        ({"input": "x", "metadata": {"k": 1}}, "metadata['k']"),
        ({"input": "x", "max_retries": -1}, "max_retries"),
        ({"input": "x", "extra_body": {1: 2}}, "extra_body"),
    ],
)
async def test_bad_arguments_send_nothing(
    client: AsyncHelicone, gateway: FakeGateway, kwargs: dict[str, Any], field: str
) -> None:
    """A wrong argument raises InvalidInputError naming it, before anything is sent."""
    with pytest.raises(InvalidInputError) as caught:
        await client.responses.create(model=MODEL, **kwargs)
    assert caught.value.field.startswith(field)
    assert gateway.requests == []


# -- streams -----------------------------------------------------------------------------


async def test_stream_deltas_and_final_response_equal_the_answer(client: AsyncHelicone) -> None:
    """text_deltas() gives the text; get_final_response() equals the non-stream answer."""
    whole = await client.responses.create(model=MODEL, input="hello there")
    stream = await client.responses.create(model=MODEL, input="hello there", stream=True)
    assert isinstance(stream, ResponseStream)
    deltas = [d async for d in stream.text_deltas()]
    assert "".join(deltas) == "You said: hello there"
    final = await stream.get_final_response()
    assert stable(final) == stable(whole)
    assert final.helicone is not None and final.helicone.provider == "openai"


async def test_stream_yields_typed_events_in_order(client: AsyncHelicone) -> None:
    """Iteration yields typed events: created first, completed last."""
    stream = await client.responses.create(model=MODEL, input="hi", stream=True)
    events = [event async for event in stream]
    assert isinstance(events[0], ResponseCreatedEvent)
    assert isinstance(events[-1], ResponseCompletedEvent)
    assert any(isinstance(e, ResponseTextDeltaEvent) for e in events)
    assert stream.accumulated.output_text == "You said: hi"


async def test_streamed_function_call_and_reasoning(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A stream builds reasoning items and function calls (arguments from their deltas)."""
    gateway.script("o4-mini", [Reply(tool_calls=[ToolCall("get_weather", '{"city": "Oslo"}')])])
    stream = await client.responses.create(
        model="o4-mini",
        input="weather?",
        tools=[WEATHER],
        reasoning={"summary": "auto"},
        stream=True,
    )
    final = await stream.get_final_response()
    kinds = [type(item) for item in final.output]
    assert kinds[0] is ResponseReasoningItem
    (call,) = [item for item in final.output if isinstance(item, ResponseFunctionToolCall)]
    assert json.loads(call.arguments) == {"city": "Oslo"}


async def test_stream_incomplete_ends_normally(client: AsyncHelicone) -> None:
    """A stream ending in response.incomplete is a normal end, status incomplete."""
    stream = await client.responses.create(
        model=MODEL, input="one two three four", max_output_tokens=2, stream=True
    )
    final = await stream.get_final_response()
    assert final.status == "incomplete"


@pytest.mark.parametrize("clean", [True, False])
async def test_truncated_stream_raises_with_partial(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer, clean: bool
) -> None:
    """A body cut before a terminal event raises StreamTruncatedError with the partial."""
    gateway.script(MODEL, [TruncatedStream(after_chunks=6, clean=clean)])
    stream = await client.responses.create(model=MODEL, input="a b c d e", stream=True)
    with pytest.raises((StreamTruncatedError, APIConnectionError)) as caught:
        await stream.get_final_response()
    if clean:
        assert isinstance(caught.value, StreamTruncatedError)
        assert caught.value.chunks == 6
        assert isinstance(caught.value.partial, Response)
        assert caught.value.partial.output_text == "You said:"
        # The HTTP body was complete: the connection went back to the pool.
        assert (await client.responses.create(model=MODEL, input="x")).status == "completed"
        assert server.connections_total == 1
    else:
        await wait_for_zero_connections(server)


async def test_error_event_raises_the_typed_status_error(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """An error event raises the status error its code implies; the connection is freed."""
    gateway.script(MODEL, [InStreamError(after_chunks=4)])
    stream = await client.responses.create(model=MODEL, input="x", stream=True)
    with pytest.raises(InternalServerError) as caught:
        async for _ in stream:
            pass
    assert caught.value.helicone is not None
    await wait_for_zero_connections(server)


async def test_rate_limit_error_event(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """An error event with a rate-limit code raises RateLimitError."""
    error = {"error": {"message": "slow", "type": "rate_limit_error", "code": None}}
    gateway.script(MODEL, [InStreamError(after_chunks=3, error_json=error)])
    stream = await client.responses.create(model=MODEL, input="x", stream=True)
    with pytest.raises(RateLimitError):
        await stream.get_final_response()


async def test_streams_reuse_one_connection(client: AsyncHelicone, server: LoopbackServer) -> None:
    """A stream read to its end (no [DONE]) hands its connection back: 20 streams, one socket."""
    for _ in range(20):
        stream = await client.responses.create(model=MODEL, input="hi", stream=True)
        async for _event in stream:
            pass
    assert server.connections_total == 1


async def test_break_with_async_with_closes_connection(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """Leaving `async with` after `break` closes the connection; the server sees it."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    stream = await client.responses.create(model=MODEL, input="x", stream=True)
    async with stream:
        async for _ in stream:
            break
    await wait_for_zero_connections(server)
    assert gateway.last_request.closed_by_client_at is not None


@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
async def test_dropped_stream_releases_connection_without_gc(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """A stream dropped unclosed (gc off) releases its socket; the next call works."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    gc.disable()
    try:
        stream = await client.responses.create(model=MODEL, input="x", stream=True)
        async for _ in stream:
            break
        del stream
        await wait_for_zero_connections(server)
    finally:
        gc.enable()
    assert gateway.last_request.closed_by_client_at is not None
    response = await client.responses.create(model=MODEL, input="again", timeout=5)
    assert response.status == "completed"


async def test_cancellation_closes_connection(
    client: AsyncHelicone, gateway: FakeGateway, server: LoopbackServer
) -> None:
    """Cancelling mid-stream closes the connection and the cancellation propagates."""
    gateway.script(MODEL, [SlowDrip(0.05, Reply(text=" ".join(["word"] * 200)))])
    received: list[Any] = []
    with anyio.move_on_after(0.3) as scope:
        stream = await client.responses.create(model=MODEL, input="x", stream=True)
        async for event in stream:
            received.append(event)
    assert scope.cancelled_caught and received
    await wait_for_zero_connections(server)


async def test_stream_timeouts_apply(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A stall mid-stream past the idle budget raises StreamIdleTimeoutError."""
    gateway.script(MODEL, [Stall(after_chunks=3)])
    stream = await client.responses.create(
        model=MODEL, input="x", stream=True, stream_timeouts=StreamTimeouts(idle=0.2)
    )
    with pytest.raises(StreamIdleTimeoutError):
        await stream.get_final_response()


async def test_first_event_timeout_applies(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """No event within the first-event budget raises StreamFirstEventTimeoutError."""
    gateway.script(MODEL, [Stall(after_chunks=0)])
    with pytest.raises(StreamFirstEventTimeoutError):
        stream = await client.responses.create(
            model=MODEL, input="x", stream=True, stream_timeouts=StreamTimeouts(first_event=0.2)
        )
        await stream.get_final_response()


async def test_json_answer_to_a_stream_request(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A JSON response sent instead of a stream is delivered as its terminal event."""
    whole = await client.responses.create(model=MODEL, input="hi")
    body = json.dumps(_wire(whole))
    gateway.script(MODEL, [RawResponse(200, body, content_type=JSON)])
    stream = await client.responses.create(model=MODEL, input="hi", stream=True)
    events = [event async for event in stream]
    assert [type(e) for e in events] == [ResponseCompletedEvent]
    assert stream.accumulated.output_text == whole.output_text


def _wire(response: Response) -> dict[str, Any]:
    from aiohelicone._converter import unstructure

    data: dict[str, Any] = unstructure(response)
    return data


# -- client-side fallback chains -------------------------------------------------------


async def test_chain_falls_back_non_stream(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """gpt-5/openai,claude-sonnet-4/anthropic: a 503 on the first moves on; attempts listed."""
    gateway.script(A, [raw_error(503)], repeat=True)
    with no_retry_waits():
        response = await client.responses.create(model=CHAIN, input="hi")
    assert response.helicone is not None
    assert [(a.target, a.outcome) for a in response.helicone.attempts] == [
        (A, "503"),
        (B, "ok"),
    ]
    assert response.helicone.provider == "anthropic"
    assert [r.json["model"] for r in gateway.requests if r.json] == [A, A, A, B]


async def test_chain_falls_back_stream_before_content(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """An error event before any content moves a stream chain on to the next target."""
    gateway.script(A, [InStreamError(after_chunks=2)], repeat=True)
    with no_retry_waits():
        stream = await client.responses.create(model=CHAIN, input="hi", stream=True)
    final = await stream.get_final_response()
    assert final.output_text == "You said: hi"
    assert stream.helicone.attempts[-1].target == B
    assert len(stream.helicone.attempts) == 2


async def test_chain_stream_failure_after_content_is_interrupted(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A failure after content raises StreamInterruptedError with the partial response."""
    gateway.script(A, [InStreamError(after_chunks=7)])
    stream = await client.responses.create(model=CHAIN, input="a b c d e f", stream=True)
    with pytest.raises(StreamInterruptedError) as caught:
        await stream.get_final_response()
    assert isinstance(caught.value.partial, Response)
    assert caught.value.partial.output_text
    assert caught.value.target == A


async def test_chain_exhausted(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Every target failing raises FallbackExhaustedError listing them."""
    gateway.script("*", [raw_error(503)], repeat=True)
    with no_retry_waits(), pytest.raises(FallbackExhaustedError) as caught:
        await client.responses.create(model=CHAIN, input="hi", max_retries=0)
    assert [a.target for a in caught.value.attempts] == [A, B]


# -- batch -------------------------------------------------------------------------------


async def test_batch_runs_responses_requests(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """BatchRequest("responses", ...) is sent through client.responses.create."""
    requests = [
        BatchRequest("responses", {"model": MODEL, "input": f"msg {i}", "store": False})
        for i in range(3)
    ]
    results = await collect_batch(client, requests)
    assert [r.ok for r in results] == [True, True, True]
    assert [r.response.output_text for r in results] == [f"You said: msg {i}" for i in range(3)]
    assert {r.path for r in gateway.requests} == {"/v1/responses"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": MODEL}, "body.input"),
        ({"model": MODEL, "input": "x", "stream": True}, "body.stream"),
        ({"model": MODEL, "input": "x", "max_output_tokens": 0}, "body.max_output_tokens"),
        ({"model": MODEL, "input": "x", "metadata": {"k": 1}}, "body.metadata['k']"),
    ],
)
def test_batch_request_checks_a_responses_body(body: dict[str, Any], field: str) -> None:
    """A responses body is checked when the BatchRequest is built (nothing is sent)."""
    with pytest.raises(InvalidInputError) as caught:
        BatchRequest("/v1/responses", body)
    assert caught.value.field == field


def test_cli_batch_reads_v1_responses_lines(tmp_path: Path) -> None:
    """`aiohelicone batch` sends `url: /v1/responses` lines and writes Response bodies."""
    source = tmp_path / "in.jsonl"
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/responses", "body": body}
        for i, body in enumerate(
            [
                {"model": MODEL, "input": "hello"},
                {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            ]
        )
    ]
    lines[1]["url"] = "/v1/chat/completions"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(source), "-o", str(out), "--fake", "-q"]) == 0
    written = {line["custom_id"]: line for line in map(json.loads, out.read_text().splitlines())}
    body = written["r0"]["response"]["body"]
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["output"][0]["content"][0]["text"] == "You said: hello"
    assert written["r1"]["response"]["body"]["object"] == "chat.completion"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**lines[0], "body": {"model": MODEL, "input": []}}) + "\n")
    with pytest.raises(InputProblems) as info:
        scan_input(str(bad))
    assert info.value.problems[0][0] == 1
    assert info.value.problems[0][1].startswith("body.input")


# -- hand-written streams ----------------------------------------------------------------

SSE = "text/event-stream"
_BASE = {"id": "resp_1", "object": "response", "model": MODEL, "status": "in_progress"}


def sse(kind: str, **data: Any) -> str:
    """One Responses event as the wire carries it (event: and data: lines)."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


async def test_a_failed_stream_ends_normally(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """response.failed ends the stream normally: the final response has status failed."""
    failed = {**_BASE, "status": "failed", "error": {"code": "server_error", "message": "no"}}
    body = [sse("response.created", response=_BASE), sse("response.failed", response=failed)]
    gateway.script(MODEL, [RawResponse(200, [b.encode() for b in body], content_type=SSE)])
    stream = await client.responses.create(model=MODEL, input="x", stream=True)
    final = await stream.get_final_response()
    assert final.status == "failed"
    assert final.error is not None and final.error.message == "no"


async def test_unknown_events_are_kept_and_done_is_tolerated(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """An unknown event kind is an UnknownResponseEvent with its data; a [DONE] line is fine."""
    done = {**_BASE, "status": "completed"}
    body = [
        sse("response.created", response=_BASE),
        sse("response.web_search_call.searching", item_id="ws_1", output_index=0),
        sse("response.completed", response=done),
        "data: [DONE]\n\n",
    ]
    gateway.script(MODEL, [RawResponse(200, [b.encode() for b in body], content_type=SSE)])
    stream = await client.responses.create(model=MODEL, input="x", stream=True)
    events = [event async for event in stream]
    assert len(events) == 3
    unknown = events[1]
    assert isinstance(unknown, UnknownResponseEvent)
    assert unknown.type == "response.web_search_call.searching"
    assert unknown.data["item_id"] == "ws_1"
    assert stream.accumulated.status == "completed"


async def test_a_corrupt_event_is_a_validation_error(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """An event whose JSON is broken, or of the wrong shape, raises APIResponseValidationError."""
    for bad in ("event: response.created\ndata: {oops\n\n", sse("response.created", response=3)):
        gateway.script(MODEL, [RawResponse(200, [bad.encode()], content_type=SSE)])
        stream = await client.responses.create(model=MODEL, input="x", stream=True)
        with pytest.raises(APIResponseValidationError):
            await stream.get_final_response()
