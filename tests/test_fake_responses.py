"""The fake gateway's POST /v1/responses over loopback, read with raw httpx2 (both backends)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx2
import pytest

from aiohelicone._converter import structure
from aiohelicone._exceptions import InternalServerError, RateLimitError
from aiohelicone._responses_accumulate import ResponseAccumulator
from aiohelicone._responses_args import responses_body
from aiohelicone._responses_events import ResponseErrorEvent, error_of, parse_event
from aiohelicone._responses_models import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseReasoningItem,
)
from aiohelicone._sse import SSEDecoder
from aiohelicone.testing import (
    DEFAULT_MODELS,
    Fail,
    FakeGateway,
    InStreamError,
    LoopbackServer,
    ModelInfo,
    Reply,
    Stall,
    ToolCall,
    TruncatedStream,
    serve,
)

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-test1234-abcdefg-hijklmn-opqrstu"
T = TypeVar("T")
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    },
}


def client(server: LoopbackServer, **headers: str) -> httpx2.AsyncClient:
    """A raw httpx2 client on the loopback gateway."""
    return httpx2.AsyncClient(
        base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {KEY}", **headers}
    )


async def post(server: LoopbackServer, body: dict[str, Any], **headers: str) -> httpx2.Response:
    async with client(server, **headers) as c:
        return await c.post("/responses", json=body)


async def stream_events(
    server: LoopbackServer, body: dict[str, Any], **headers: str
) -> tuple[httpx2.Response, list[tuple[str, dict[str, Any]]]]:
    """POST a stream request; the response and its (event name, data) pairs, read incrementally."""
    decoder = SSEDecoder()
    pairs: list[tuple[str, dict[str, Any]]] = []
    async with (
        client(server, **headers) as c,
        c.stream("POST", "/responses", json={**body, "stream": True}) as r,
    ):
        async for chunk in r.aiter_bytes():
            pairs.extend((e.event, json.loads(e.data)) for e in decoder.decode(chunk))
    assert decoder.flush() is None
    return r, pairs


def accumulate(pairs: list[tuple[str, dict[str, Any]]]) -> ResponseAccumulator:
    acc = ResponseAccumulator()
    for name, data in pairs:
        acc.add(parse_event(name, data))
    return acc


def stable(response: Response) -> dict[str, Any]:
    """What two answers to the same request share (ids and times differ)."""
    return {
        "text": response.output_text,
        "types": [item.type for item in response.output],
        "usage": response.usage,
        "status": response.status,
        "model": response.model,
    }


@pytest.fixture
async def served(gateway: FakeGateway) -> AsyncIterator[LoopbackServer]:
    async with serve(gateway) as running:
        yield running


# -- answers -----------------------------------------------------------------------------


async def test_json_answer_is_a_typed_response_with_helicone_headers(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """A non-stream call gets a response object echoing the request, and Helicone headers."""
    body = responses_body(
        model="gpt-4o-mini", input="hello there", instructions="Be brief.", metadata={"k": "v"}
    )
    r = await post(served, body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["helicone-provider"] == "openai"
    assert r.headers["helicone-model"] == "gpt-4o-mini-2024-07-18"
    assert r.headers["helicone-id"]
    response = structure(r.json(), Response)
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.output_text == "You said: hello there"
    assert response.instructions == "Be brief." and response.metadata == {"k": "v"}
    (message,) = response.output
    assert isinstance(message, ResponseOutputMessage) and message.status == "completed"
    assert response.usage is not None
    assert response.usage.input_tokens == 5  # "Be brief." (3) + "hello there" (2)
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert gateway.last_request.endpoint == "responses"
    assert gateway.last_request.attempts[0].outcome == "reply"


async def test_stream_follows_openai_event_order(served: LoopbackServer) -> None:
    """event: names match the data's type, sequence numbers count up, completed ends it."""
    r, pairs = await stream_events(served, {"model": "gpt-4o-mini", "input": "hello there"})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["helicone-provider"] == "openai"
    names = [name for name, _ in pairs]
    assert names == [data["type"] for _, data in pairs]
    assert [data["sequence_number"] for _, data in pairs] == list(range(len(pairs)))
    assert names[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [d["delta"] for n, d in pairs if n == "response.output_text.delta"]
    assert "".join(deltas) == "You said: hello there" and len(deltas) > 1


async def test_stream_accumulates_to_the_json_answer(served: LoopbackServer) -> None:
    """The streamed final response matches a non-stream answer to the same request."""
    body = {"model": "gpt-5/openai", "input": "hello there", "reasoning": {"summary": "auto"}}
    whole = structure((await post(served, body)).json(), Response)
    _, pairs = await stream_events(served, body)
    acc = accumulate(pairs)
    assert acc.finished
    final = acc.result()
    assert final == structure(pairs[-1][1]["response"], Response)
    assert stable(final) == stable(whole)


async def test_reasoning_models_start_with_a_reasoning_item(served: LoopbackServer) -> None:
    """gpt-5 answers with a reasoning item first and counts reasoning tokens."""
    r = await post(served, {"model": "gpt-5", "input": "why?"})
    response = structure(r.json(), Response)
    reasoning, message = response.output
    assert isinstance(reasoning, ResponseReasoningItem) and reasoning.summary == []
    assert isinstance(message, ResponseOutputMessage)
    assert response.usage is not None and response.usage.output_tokens_details is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 16
    assert response.reasoning == {"effort": "medium", "summary": None}


async def test_reasoning_param_asks_for_a_summary(served: LoopbackServer) -> None:
    """reasoning={"summary": "auto"} on any model gives summary events and encrypted state."""
    body = {
        "model": "gpt-4o-mini",
        "input": "why?",
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
    }
    _, pairs = await stream_events(served, body)
    names = [n for n, _ in pairs]
    assert "response.reasoning_summary_text.delta" in names
    final = accumulate(pairs).result()
    reasoning = final.output[0]
    assert isinstance(reasoning, ResponseReasoningItem)
    assert reasoning.summary[0].text.endswith("The user asked about: why?.")
    assert reasoning.encrypted_content is not None
    assert final.reasoning == {"effort": "low", "summary": "auto"}


async def test_tools_make_the_model_call_one(served: LoopbackServer) -> None:
    """With function tools and no scripted text, the answer is a function call fitting the schema."""
    body = {"model": "gpt-4o-mini", "input": "Paris", "tools": [WEATHER]}
    response = structure((await post(served, body)).json(), Response)
    (call,) = response.output
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "get_weather" and call.call_id == "call_0"
    assert json.loads(call.arguments) == {"city": "city 1", "unit": "c"}  # instance_of
    assert response.output_text == ""
    _, pairs = await stream_events(served, body)
    streamed = accumulate(pairs).result().output[0]
    assert isinstance(streamed, ResponseFunctionToolCall)
    assert streamed.arguments == call.arguments
    assert any(n == "response.function_call_arguments.delta" for n, _ in pairs)


async def test_json_schema_format_gets_schema_following_text(served: LoopbackServer) -> None:
    """A json_schema text.format (no scripted text) gets JSON that follows the schema."""
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
        },
        "required": ["title", "tags"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "Doc", "schema": schema, "strict": True}
    body = {"model": "gpt-4o-mini", "input": "hi", "text": {"format": fmt}}
    response = structure((await post(served, body)).json(), Response)
    assert json.loads(response.output_text) == {"title": "title 1", "tags": ["a"]}
    assert response.text == {"format": fmt}
    _, pairs = await stream_events(served, body)
    assert accumulate(pairs).result().output_text == response.output_text


async def test_refusal_is_a_refusal_part(served: LoopbackServer, gateway: FakeGateway) -> None:
    """Reply(refusal=...) gives a message with one refusal part, streamed as refusal deltas."""
    gateway.script("gpt-4o-mini", [Reply(refusal="No, sorry.")] * 2)
    body = {"model": "gpt-4o-mini", "input": "hi"}
    response = structure((await post(served, body)).json(), Response)
    (message,) = response.output
    assert isinstance(message, ResponseOutputMessage)
    assert message.content == [ResponseOutputRefusal(refusal="No, sorry.")]
    assert response.output_text == ""
    _, pairs = await stream_events(served, body)
    names = [name for name, _ in pairs]
    assert "response.refusal.delta" in names and "response.refusal.done" in names
    (streamed,) = accumulate(pairs).result().output
    assert isinstance(streamed, ResponseOutputMessage)
    assert streamed.content == message.content  # (ids differ between answers)


async def test_no_call_after_a_function_call_output(served: LoopbackServer) -> None:
    """With the tool's output as the last input item, the fake answers with text."""
    items = [
        {"role": "user", "content": "Paris"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    body = {"model": "gpt-4o-mini", "input": items, "tools": [WEATHER]}
    response = structure((await post(served, body)).json(), Response)
    assert [item.type for item in response.output] == ["message"]


async def test_tool_choice_none_answers_with_text(served: LoopbackServer) -> None:
    """tool_choice="none" keeps the model from calling a tool."""
    body = {"model": "gpt-4o-mini", "input": "Paris", "tools": [WEATHER], "tool_choice": "none"}
    response = structure((await post(served, body)).json(), Response)
    assert response.output_text == "You said: Paris"


async def test_scripted_text_and_calls(served: LoopbackServer, gateway: FakeGateway) -> None:
    """A Reply's text and tool calls become a message then function calls, usage overridden."""
    gateway.script(
        "*",
        [
            Reply(
                text="Checking.",
                tool_calls=[ToolCall("a", {"x": 1}, id="c1")],
                usage={"input_tokens": 99},
            )
        ],
    )
    response = structure((await post(served, {"model": "gpt-4o", "input": "x"})).json(), Response)
    _message, call = response.output
    assert response.output_text == "Checking."
    assert isinstance(call, ResponseFunctionToolCall) and call.call_id == "c1"
    assert response.usage is not None and response.usage.input_tokens == 99


async def test_max_output_tokens_makes_it_incomplete(served: LoopbackServer) -> None:
    """A cut text gives status incomplete and a response.incomplete terminal event."""
    body = {"model": "gpt-4o-mini", "input": "one two three four", "max_output_tokens": 2}
    response = structure((await post(served, body)).json(), Response)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "You said"
    _, pairs = await stream_events(served, body)
    assert pairs[-1][0] == "response.incomplete"
    assert accumulate(pairs).terminal == "response.incomplete"


async def test_input_items_are_read_for_the_echo(served: LoopbackServer) -> None:
    """The responder sees the last user item of a list input."""
    body = {
        "model": "gpt-4o-mini",
        "input": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
        ],
    }
    response = structure((await post(served, body)).json(), Response)
    assert response.output_text == "You said: second"


# -- faults, routing, cache, limits ------------------------------------------------------


async def test_truncated_stream_has_no_terminal_event(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """TruncatedStream cuts the events; the accumulator reports it truncated, with the partial."""
    gateway.script("*", [TruncatedStream(after_chunks=6)])
    _, pairs = await stream_events(served, {"model": "gpt-4o-mini", "input": "a b c d e"})
    assert len(pairs) == 6
    acc = accumulate(pairs)
    assert acc.truncated
    error = acc.truncation_error()
    assert error.partial.output_text == "You said:"  # type: ignore[attr-defined]


async def test_aborted_stream_breaks_the_connection(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """TruncatedStream(clean=False) resets the connection after the kept events."""
    gateway.script("*", [TruncatedStream(after_chunks=3, clean=False)])
    decoder = SSEDecoder()
    seen = []
    async with (
        client(served) as c,
        c.stream("POST", "/responses", json={"model": "gpt-4o", "input": "x", "stream": True}) as r,
    ):
        with pytest.raises(httpx2.TransportError):
            async for chunk in r.aiter_bytes():
                seen.extend(decoder.decode(chunk))
    assert [e.event for e in seen] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]


async def test_in_stream_error_is_an_error_event(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """InStreamError sends OpenAI's error event (no [DONE]); it maps to a 500 status error."""
    gateway.script("*", [InStreamError(after_chunks=4)])
    r, pairs = await stream_events(served, {"model": "gpt-4o-mini", "input": "x"})
    assert len(pairs) == 5
    name, data = pairs[-1]
    assert name == "error"
    assert data == {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request. Sorry about that!",
        "param": None,
        "sequence_number": 4,
    }
    event = parse_event(name, data)
    assert isinstance(event, ResponseErrorEvent)
    assert isinstance(error_of(event, r.headers, request_id=None), InternalServerError)
    acc = accumulate(pairs)
    assert acc.error == event and not acc.finished


async def test_scripted_error_json_keeps_its_code(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """A chat-style error script becomes a flat error event whose code maps to 429."""
    error = {"error": {"message": "slow", "type": "rate_limit_error", "code": None}}
    gateway.script("*", [InStreamError(after_chunks=2, error_json=error)])
    r, pairs = await stream_events(served, {"model": "gpt-4o-mini", "input": "x"})
    event = parse_event(*pairs[-1])
    assert isinstance(event, ResponseErrorEvent) and event.code == "rate_limit_error"
    assert isinstance(error_of(event, r.headers, request_id=None), RateLimitError)


async def test_a_chain_falls_back_for_responses(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """gpt-5/openai,claude-sonnet-4/anthropic: a 503 on the first moves to the second."""
    gateway.script("gpt-5/openai", [Fail(503)])
    r = await post(served, {"model": "gpt-5/openai,claude-sonnet-4/anthropic", "input": "hi"})
    assert r.status_code == 200
    assert r.headers["helicone-provider"] == "anthropic"
    assert r.json()["model"] == "claude-sonnet-4-20250514"
    outcomes = [(a.source, a.outcome) for a in gateway.last_request.attempts]
    assert outcomes == [("gpt-5/openai/ptb", "fail"), ("claude-sonnet-4/anthropic/ptb", "reply")]


async def test_every_attempt_failing_gives_the_envelope(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """As for chat, failed attempts aggregate into the gateway's error envelope (400 -> 500)."""
    gateway.script("*", [Fail(400)], repeat=True)
    r = await post(served, {"model": "gpt-4o-mini/openai", "input": "hi", "stream": True})
    assert r.status_code == 500
    assert r.json()["success"] is False
    assert r.json()["error"]["code"] == "request_failed"


async def test_rate_limit_policy_applies(served: LoopbackServer) -> None:
    """Helicone-RateLimit-Policy counts Responses requests: the third of 2;w=60 is a 429."""
    headers = {"helicone-ratelimit-policy": "2;w=60"}
    statuses = [
        (await post(served, {"model": "gpt-4o-mini", "input": "hi"}, **headers)).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_cache_replays_the_same_stream(served: LoopbackServer, gateway: FakeGateway) -> None:
    """A cached Responses stream is replayed event for event, marked as a hit."""
    headers = {"helicone-cache-enabled": "true"}
    body = {"model": "gpt-4o-mini", "input": "cache me"}
    first, pairs1 = await stream_events(served, body, **headers)
    second, pairs2 = await stream_events(served, body, **headers)
    assert first.headers["helicone-cache"] == "MISS"
    assert second.headers["helicone-cache"] == "HIT"
    assert pairs1 == pairs2
    assert gateway.last_request.cache == "HIT"


async def test_stall_mid_stream(served: LoopbackServer, gateway: FakeGateway) -> None:
    """Stall(after_chunks=2) sends two events, then nothing: the client's read times out."""
    gateway.script("*", [Stall(after_chunks=2)])
    decoder = SSEDecoder()
    seen = []
    async with (
        client(served) as c,
        c.stream(
            "POST",
            "/responses",
            json={"model": "gpt-4o", "input": "x", "stream": True},
            timeout=httpx2.Timeout(5.0, read=0.2),
        ) as r,
    ):
        assert r.status_code == 200
        with pytest.raises(httpx2.ReadTimeout):
            async for chunk in r.aiter_bytes():
                seen.extend(decoder.decode(chunk))
    assert [e.event for e in seen] == ["response.created", "response.in_progress"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "gpt-4o-mini"}, "'input' is required"),
        ({"model": "gpt-4o-mini", "input": [1]}, "input[0] must be an object"),
    ],
)
async def test_bodies_without_a_valid_input_fail_the_format_check(
    served: LoopbackServer, body: dict[str, Any], message: str
) -> None:
    """PTB attempts check the Responses body: a 400 invalid_format envelope."""
    r = await post(served, body)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]
    assert r.json()["error"]["details"][0]["type"] == "invalid_format"


async def test_providers_outside_the_responses_whitelist_are_refused() -> None:
    """A provider the gateway does not send Responses requests to fails the format check."""
    models = {**DEFAULT_MODELS, "canopy": ModelInfo({"canopywave": "canopy-1"})}
    gateway = FakeGateway(models=models)
    async with serve(gateway) as running:
        r = await post(running, {"model": "canopy", "input": "hi"})
        async with client(running) as c:
            chat = {"model": "canopy", "messages": [{"role": "user", "content": "hi"}]}
            ok = await c.post("/chat/completions", json=chat)
    assert r.status_code == 400
    assert "not supported for provider canopywave" in r.json()["error"]["message"]
    assert ok.status_code == 200  # the same model on chat completions is fine


async def test_non_chat_models_are_refused(served: LoopbackServer) -> None:
    """An embedding model on /responses fails as the provider would (404 -> 500 envelope)."""
    r = await post(served, {"model": "text-embedding-3-small", "input": "hi"})
    assert r.status_code == 500
    assert "v1/responses" in r.json()["error"]["message"]


async def test_rest_rows_log_responses_usage(served: LoopbackServer) -> None:
    """The REST API logs a Responses call's tokens, streamed or not, under the chat names."""
    r = await post(served, {"model": "gpt-4o-mini", "input": "hello there"})
    usage = r.json()["usage"]
    await stream_events(served, {"model": "gpt-4o-mini", "input": "hello there"})
    async with httpx2.AsyncClient(
        base_url=served.url, headers={"authorization": f"Bearer {KEY}"}
    ) as c:
        rows = (await c.post("/v1/request/query-clickhouse", json={"filter": "all"})).json()
    assert rows["error"] is None and len(rows["data"]) == 2
    for row in rows["data"]:
        assert row["prompt_tokens"] == usage["input_tokens"]
        assert row["completion_tokens"] == usage["output_tokens"]
        assert row["cost"] > 0


# -- openai-python against the fake ------------------------------------------------------


async def with_openai(server: LoopbackServer, call: Callable[[Any], T]) -> T:
    """Run ``call(client)`` with openai-python's sync client in a worker thread (any backend)."""
    openai = pytest.importorskip("openai")

    def run() -> T:
        with openai.OpenAI(api_key=KEY, base_url=f"{server.url}/v1", max_retries=0) as c:
            return call(c)

    return await anyio.to_thread.run_sync(run)


async def test_openai_python_responses_create(served: LoopbackServer) -> None:
    """openai-python's responses.create parses the fake's answer: items, usage, output_text."""
    response = await with_openai(
        served,
        lambda c: c.responses.create(
            model="gpt-5", input="hi", reasoning={"summary": "auto"}, tools=[WEATHER]
        ),
    )
    assert [item.type for item in response.output] == ["reasoning", "function_call"]
    assert response.output[1].name == "get_weather"
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    plain = await with_openai(served, lambda c: c.responses.create(model="gpt-4o", input="hi"))
    assert plain.output_text == "You said: hi"


async def test_openai_python_responses_stream(served: LoopbackServer) -> None:
    """openai-python's responses.stream accumulates the fake's events to the final response."""

    def call(c: Any) -> tuple[list[str], Any]:
        with c.responses.stream(model="gpt-4o-mini", input="hello there") as stream:
            kinds = [event.type for event in stream]
            return kinds, stream.get_final_response()

    kinds, final = await with_openai(served, call)
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "You said: hello there" and final.status == "completed"


async def test_openai_python_sees_a_cut_stream(
    served: LoopbackServer, gateway: FakeGateway
) -> None:
    """A truncated fake stream makes openai-python's stream helper fail (no completed event)."""
    gateway.script("*", [TruncatedStream(after_chunks=4)])

    def call(c: Any) -> None:
        with c.responses.stream(model="gpt-4o-mini", input="hello") as stream:
            for _ in stream:
                pass
            stream.get_final_response()

    with pytest.raises(RuntimeError, match=r"response\.completed"):
        await with_openai(served, call)
