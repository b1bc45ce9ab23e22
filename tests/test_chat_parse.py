"""chat.completions.parse / stream_parse and the reasoning keywords, over loopback (`_chat.py`)."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from typing import Any, Literal

import attrs
import pytest

from aiohelicone import (
    APIStatusError,
    AsyncHelicone,
    BatchRequest,
    InvalidInputError,
    LengthFinishReasonError,
    ParsedChatCompletionStream,
    StreamTruncatedError,
    UnknownProviderWarning,
)
from aiohelicone.testing import FakeGateway, LoopbackServer, Reply, TruncatedStream

MODEL = "gpt-4o-mini/openai"
MESSAGES = [{"role": "user", "content": "Write an invoice"}]
pytestmark = pytest.mark.anyio


class Status(enum.Enum):
    OPEN = "open"
    PAID = "paid"


@attrs.frozen
class Line:
    sku: str
    qty: int


@attrs.frozen
class Customer:
    name: str
    email: str | None


@attrs.frozen
class Invoice:
    number: str
    status: Status
    kind: Literal["sale", "refund"]
    customer: Customer
    lines: list[Line]


@attrs.frozen
class GetWeather:
    """Get the weather of a city."""

    city: str
    days: int


@pytest.fixture
async def client(server: LoopbackServer) -> AsyncIterator[AsyncHelicone]:
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as c:
        yield c


async def test_parse_round_trips_a_nested_class(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """parse sends the class's strict schema and gives an Invoice back."""
    result = await client.chat.completions.parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    )
    invoice = result.choices[0].message.parsed
    assert isinstance(invoice, Invoice) and isinstance(invoice.customer, Customer)
    assert isinstance(invoice.status, Status) and isinstance(invoice.lines[0], Line)
    assert result.parsed == invoice and result.raw is not None
    assert result.helicone is not None
    fmt = gateway.last_request.json["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"] == "Invoice"


async def test_stream_parse_round_trips_a_nested_class(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """stream_parse gives partial text as it comes, then the same Invoice as parse."""
    plain = await client.chat.completions.parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    )
    stream = client.chat.completions.stream_parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    )
    assert isinstance(stream, ParsedChatCompletionStream)
    assert gateway.last_request.json.get("stream") is None  # nothing sent before entry
    async with stream:
        pieces = [text async for text in stream.text_deltas()]
        invoice = await stream.get_final_parsed()
    assert len(pieces) > 1
    assert "".join(pieces) == plain.choices[0].message.content
    assert invoice == plain.parsed
    assert gateway.last_request.json["stream"] is True


async def test_refusal_parses_to_none(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A refusal, streamed or not, gives parsed None and keeps the refusal text."""
    gateway.script("*", [Reply(refusal="I can't help with that.")] * 2)
    plain = await client.chat.completions.parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    )
    async with client.chat.completions.stream_parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    ) as stream:
        streamed = await stream.get_final_completion()
    for result in (plain, streamed):
        assert result.choices[0].message.parsed is None
        assert result.choices[0].message.refusal == "I can't help with that."


async def test_length_is_a_typed_error(client: AsyncHelicone) -> None:
    """JSON cut off by max_tokens raises LengthFinishReasonError, streamed or not."""
    with pytest.raises(LengthFinishReasonError) as plain:
        await client.chat.completions.parse(
            model=MODEL, messages=MESSAGES, response_format=Invoice, max_tokens=4
        )
    assert plain.value.raw
    async with client.chat.completions.stream_parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice, max_tokens=4
    ) as stream:
        with pytest.raises(LengthFinishReasonError):
            await stream.get_final_parsed()


async def test_truncated_stream_still_raises(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A stream cut before its end raises StreamTruncatedError, not a parse error."""
    gateway.script("*", [TruncatedStream(after_chunks=3)])
    async with client.chat.completions.stream_parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    ) as stream:
        with pytest.raises(StreamTruncatedError):
            await stream.get_final_parsed()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_tools_parse_into_argument_classes(
    stream: bool, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Attrs classes as tools become strict tools; their calls get parsed_arguments."""
    extra = {"type": "function", "function": {"name": "other", "parameters": {}}}
    if stream:
        async with client.chat.completions.stream_parse(
            model=MODEL, messages=MESSAGES, tools=[GetWeather, extra]
        ) as opened:
            result = await opened.get_final_completion()
    else:
        result = await client.chat.completions.parse(
            model=MODEL, messages=MESSAGES, tools=[GetWeather, extra]
        )
    assert result.parsed is None
    (call,) = result.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)
    tools = gateway.last_request.json["tools"]
    assert tools[0]["function"]["name"] == "GetWeather"
    assert tools[0]["function"]["strict"] is True and tools[1] == extra


async def test_keywords_reach_the_wire(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """reasoning_effort, reasoning_options and verbosity go into the body as given."""
    answer = await client.chat.completions.create(
        model="claude-sonnet-4/anthropic",
        messages=MESSAGES,
        reasoning_effort="high",
        reasoning_options={"budget_tokens": 4096},
        verbosity="low",
    )
    body = gateway.last_request.json
    assert body["reasoning_effort"] == "high"
    assert body["reasoning_options"] == {"budget_tokens": 4096}
    assert body["verbosity"] == "low"
    assert answer.choices[0].message.reasoning  # the fake reasons when asked
    await client.chat.completions.parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice, reasoning_effort="low"
    )
    assert gateway.last_request.json["reasoning_effort"] == "low"


BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"reasoning_effort": "max"}, "reasoning_effort"),
    ({"reasoning_effort": 3}, "reasoning_effort"),
    ({"reasoning_options": 8000}, "reasoning_options"),
    ({"reasoning_options": {"budget_tokens": 0}}, "reasoning_options.budget_tokens"),
    ({"reasoning_options": {"budget_tokens": True}}, "reasoning_options.budget_tokens"),
    ({"reasoning_options": {"budget_tokens": "8000"}}, "reasoning_options.budget_tokens"),
    ({"reasoning_options": {"budget": 8000}}, "reasoning_options.budget"),
    ({"verbosity": "verbose"}, "verbosity"),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD_ARGUMENTS)
async def test_bad_values_are_refused_before_sending(
    kwargs: dict[str, Any], field: str, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A bad keyword raises InvalidInputError naming it, from create, parse and
    stream_parse, and nothing is sent."""
    with pytest.raises(InvalidInputError) as created:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs)
    with pytest.raises(InvalidInputError) as parsed:
        await client.chat.completions.parse(
            model=MODEL, messages=MESSAGES, response_format=Invoice, **kwargs
        )
    with pytest.raises(InvalidInputError) as streamed:
        client.chat.completions.stream_parse(
            model=MODEL, messages=MESSAGES, response_format=Invoice, **kwargs
        )
    assert created.value.field == parsed.value.field == streamed.value.field == field
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": int}, "response_format"),
        ({"tools": [int]}, "tools[0]"),
        ({"tools": GetWeather}, "tools"),
        ({"stream": True}, "stream"),
    ],
)
async def test_parse_refuses_what_it_cannot_parse(
    kwargs: dict[str, Any], field: str, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """parse takes attrs classes (or tool mappings), not schemas of its own, and no stream."""
    with pytest.raises(InvalidInputError) as caught:
        await client.chat.completions.parse(model=MODEL, messages=MESSAGES, **kwargs)
    assert caught.value.field == field
    assert gateway.requests == []


def test_batch_body_with_bad_reasoning_effort_is_refused() -> None:
    """A batch body gets the same checks: a bad reasoning_effort is refused when built."""
    with pytest.raises(InvalidInputError) as caught:
        BatchRequest(
            "chat.completions",
            {"model": MODEL, "messages": MESSAGES, "reasoning_effort": "extreme"},
        )
    assert caught.value.field == "body.reasoning_effort"
    with pytest.raises(InvalidInputError) as options:
        BatchRequest(
            "chat.completions",
            {"model": MODEL, "messages": MESSAGES, "reasoning_options": {"budget_tokens": -1}},
        )
    assert options.value.field == "body.reasoning_options.budget_tokens"


# -- legacy proxies: streams ask for usage ------------------------------------------------


@pytest.mark.parametrize(
    ("legacy", "kwargs", "expected"),
    [
        (True, {}, {"include_usage": True}),
        (True, {"stream_options": {"include_usage": False}}, {"include_usage": False}),
        (True, {"extra_body": {"stream_options": {}}}, {}),
        (False, {}, None),
    ],
    ids=["legacy", "legacy-caller-set", "legacy-extra-body", "gateway"],
)
async def test_legacy_streams_include_usage(
    legacy: bool,
    kwargs: dict[str, Any],
    expected: dict[str, Any] | None,
    server: LoopbackServer,
    gateway: FakeGateway,
) -> None:
    """With provider_api_key a stream sends include_usage unless the caller set stream_options."""
    provider = {"provider_api_key": "sk-openai-test"} if legacy else {}
    async with AsyncHelicone(
        api_key="sk-helicone-test", base_url=f"{server.url}/v1", **provider
    ) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, **kwargs
        )
        await stream.get_final_completion()
        assert gateway.last_request.json.get("stream_options") == expected
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert "stream_options" not in gateway.last_request.json  # only streams


async def test_unknown_provider_warning_points_at_the_caller(client: AsyncHelicone) -> None:
    """parse and stream_parse warn about a model string from the caller's line, as create does."""
    with pytest.warns(UnknownProviderWarning) as caught:
        client.chat.completions.stream_parse(
            model="gpt-4o-mini/nosuchprovider", messages=MESSAGES, response_format=Invoice
        )
    assert caught[0].filename == __file__
    # (the fake has no such provider: the call fails after the warning)
    with pytest.warns(UnknownProviderWarning) as caught, pytest.raises(APIStatusError):
        await client.chat.completions.parse(
            model="gpt-4o-mini/otherprovider", messages=MESSAGES, response_format=GetWeather
        )
    assert caught[0].filename == __file__


async def test_stream_parse_is_used_inside_async_with(client: AsyncHelicone) -> None:
    """Outside `async with` the stream says how to use it; it opens only once."""
    stream = client.chat.completions.stream_parse(
        model=MODEL, messages=MESSAGES, response_format=Invoice
    )
    with pytest.raises(RuntimeError, match="async with"):
        stream.text_deltas()
    async with stream:
        assert stream.helicone is not None
        with pytest.raises(RuntimeError, match="opened already"):
            await stream.__aenter__()
        assert [chunk async for chunk in stream]
        assert stream.stream.accumulated.choices[0].message.content
