"""responses.parse / stream_parse into attrs classes, over loopback (`_responses_parse.py`)."""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import attrs
import pytest

from aiohelicone import (
    APIStatusError,
    AsyncHelicone,
    ContentFilterFinishReasonError,
    InvalidInputError,
    LengthFinishReasonError,
    ParsedResponse,
    ParsedResponseFunctionToolCall,
    ParsedResponseOutputMessage,
    ParsedResponseOutputText,
    ParsedResponseStream,
    ResponseOutputRefusal,
    ResponseReasoningItem,
    StreamTruncatedError,
    StructuredOutputError,
    UnknownProviderWarning,
    parse_response,
    responses_function_tool_for,
    text_format_for,
)
from aiohelicone.testing import FakeGateway, LoopbackServer, Reply, ToolCall, TruncatedStream

MODEL = "gpt-4o-mini/openai"
INPUT = "Write an invoice"
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
    """An invoice."""

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


async def parse_both(client: AsyncHelicone, stream: bool, **kwargs: Any) -> ParsedResponse[Any]:
    """responses.parse, or stream_parse read to its end."""
    if not stream:
        return await client.responses.parse(model=MODEL, input=INPUT, **kwargs)
    async with client.responses.stream_parse(model=MODEL, input=INPUT, **kwargs) as opened:
        return await opened.get_final_response()


def test_wire_shapes_are_flat() -> None:
    """text.format and function tools have the Responses (flat) shape, schemas from _schema."""
    fmt = text_format_for(Invoice)
    assert list(fmt) == ["type", "name", "schema", "strict"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "Invoice" and fmt["strict"] is True
    assert fmt["schema"]["additionalProperties"] is False
    assert text_format_for(Invoice, name="inv", description="d")["description"] == "d"
    tool = responses_function_tool_for(GetWeather)
    assert tool == {
        "type": "function",
        "name": "GetWeather",
        "description": "Get the weather of a city.",
        "parameters": tool["parameters"],
        "strict": True,
    }
    assert set(tool["parameters"]["required"]) == {"city", "days"}


async def test_parse_round_trips_a_nested_class(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """parse sends text.format with the class's strict schema and gives an Invoice back."""
    result = await client.responses.parse(
        model=MODEL, input=INPUT, text_format=Invoice, text={"verbosity": "low"}
    )
    invoice = result.output_parsed
    assert isinstance(invoice, Invoice) and isinstance(invoice.customer, Customer)
    assert isinstance(invoice.status, Status) and isinstance(invoice.lines[0], Line)
    (message,) = result.output
    assert isinstance(message, ParsedResponseOutputMessage)
    (part,) = message.content
    assert isinstance(part, ParsedResponseOutputText) and part.parsed == invoice
    assert result.output_text == part.text and json.loads(part.text)["number"]
    assert result.raw is not None and result.raw.output_text == part.text
    assert result.helicone is not None and result.status == "completed"
    sent = gateway.last_request.json
    assert sent["text"] == {"verbosity": "low", "format": text_format_for(Invoice)}
    assert "stream" not in sent


async def test_stream_parse_round_trips_a_nested_class(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """stream_parse gives the JSON piece by piece, then the same Invoice as parse."""
    plain = await client.responses.parse(model=MODEL, input=INPUT, text_format=Invoice)
    count = len(gateway.requests)
    stream = client.responses.stream_parse(model=MODEL, input=INPUT, text_format=Invoice)
    assert isinstance(stream, ParsedResponseStream)
    assert len(gateway.requests) == count  # nothing sent before entry
    async with stream:
        pieces = [text async for text in stream.text_deltas()]
        final = await stream.get_final_response()
    assert len(pieces) > 1 and "".join(pieces) == plain.output_text
    assert final.output_parsed == plain.output_parsed
    assert gateway.last_request.json["stream"] is True
    async with client.responses.stream_parse(
        model=MODEL, input=INPUT, text_format=Invoice
    ) as again:
        assert isinstance(await again.get_final_parsed(), Invoice)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_refusal_parses_to_none(
    stream: bool, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A refusal item gives output_parsed None and keeps the refusal part."""
    gateway.script("*", [Reply(refusal="I can't help with that.")])
    result = await parse_both(client, stream, text_format=Invoice)
    assert result.output_parsed is None
    (message,) = result.output
    assert isinstance(message, ParsedResponseOutputMessage)
    assert message.content == [ResponseOutputRefusal(refusal="I can't help with that.")]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_incomplete_is_a_typed_error(stream: bool, client: AsyncHelicone) -> None:
    """JSON cut off by max_output_tokens raises LengthFinishReasonError with the text."""
    with pytest.raises(LengthFinishReasonError) as caught:
        await parse_both(client, stream, text_format=Invoice, max_output_tokens=4)
    assert caught.value.raw and caught.value.target == "Invoice"
    assert caught.value.completion.incomplete_details.reason == "max_output_tokens"
    tokens = caught.value.completion.usage.output_tokens
    assert f"after {tokens} output tokens" in str(caught.value)
    assert "max_output_tokens" in str(caught.value) and "finish_reason" not in str(caught.value)


async def test_content_filter_is_a_typed_error(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """incomplete_details.reason content_filter raises ContentFilterFinishReasonError."""
    gateway.script("*", [Reply(text='{"number": ', finish_reason="content_filter")])
    with pytest.raises(ContentFilterFinishReasonError) as caught:
        await client.responses.parse(model=MODEL, input=INPUT, text_format=Invoice)
    assert caught.value.raw == '{"number": '


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("not json", ""),
        ('{"number": "1"}', "status"),  # the first missing key
        (
            '{"number": "1", "status": "lost", "kind": "sale", '
            '"customer": {"name": "a", "email": null}, "lines": []}',
            "status",
        ),
    ],
    ids=["not-json", "missing", "bad-enum"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_bad_json_raises_with_the_raw_text(
    text: str, path: str, stream: bool, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A scripted answer that does not fit raises StructuredOutputError carrying it."""
    gateway.script("*", [Reply(text=text)])
    with pytest.raises(StructuredOutputError) as caught:
        await parse_both(client, stream, text_format=Invoice)
    assert type(caught.value) is StructuredOutputError
    assert caught.value.raw == text and caught.value.target == "Invoice"
    assert caught.value.path == path


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_tools_parse_into_argument_classes(
    stream: bool, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Attrs classes as tools become flat strict tools; their calls get parsed_arguments."""
    extra = {"type": "function", "name": "other", "parameters": {}}
    result = await parse_both(client, stream, tools=[GetWeather, extra])
    assert result.output_parsed is None
    (call,) = result.output
    assert isinstance(call, ParsedResponseFunctionToolCall)
    assert isinstance(call.parsed_arguments, GetWeather) and call.name == "GetWeather"
    assert json.loads(call.arguments) == attrs.asdict(call.parsed_arguments)
    tools = gateway.last_request.json["tools"]
    assert tools == [responses_function_tool_for(GetWeather), extra]


async def test_tool_mappings_stay_unparsed_and_bad_arguments_raise(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A call of a mapping tool keeps parsed_arguments None; bad arguments of a class raise."""
    extra = {"type": "function", "name": "other", "parameters": {}}
    gateway.script("*", [Reply(tool_calls=[ToolCall("other", '{"x": 1}')])])
    result = await client.responses.parse(model=MODEL, input=INPUT, tools=[GetWeather, extra])
    (call,) = result.output
    assert isinstance(call, ParsedResponseFunctionToolCall) and call.parsed_arguments is None
    gateway.script("*", [Reply(tool_calls=[ToolCall("GetWeather", '{"city": "Oslo"}')])])
    with pytest.raises(StructuredOutputError) as caught:
        await client.responses.parse(model=MODEL, input=INPUT, tools=[GetWeather])
    assert caught.value.raw == '{"city": "Oslo"}' and caught.value.target == "GetWeather"


async def test_agent_loop_ends_after_a_function_call_output(client: AsyncHelicone) -> None:
    """With the tool's output as the last input item, the fake answers with the format."""
    first = await client.responses.parse(
        model=MODEL, input=INPUT, tools=[GetWeather], text_format=Invoice
    )
    (call,) = first.output
    assert isinstance(call, ParsedResponseFunctionToolCall)
    second = await client.responses.parse(
        model=MODEL,
        input=[
            {"role": "user", "content": INPUT},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=[GetWeather],
        text_format=Invoice,
    )
    assert isinstance(second.output_parsed, Invoice)


async def test_reasoning_items_pass_through(client: AsyncHelicone) -> None:
    """A reasoning model's reasoning item stays as received, before the parsed message."""
    result = await client.responses.parse(
        model="o4-mini", input=INPUT, text_format=Invoice, reasoning={"effort": "low"}
    )
    assert isinstance(result.output[0], ResponseReasoningItem)
    assert isinstance(result.output_parsed, Invoice)


async def test_truncated_stream_still_raises(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A stream cut before its terminal event raises StreamTruncatedError, not a parse error."""
    gateway.script("*", [TruncatedStream(after_chunks=5)])
    async with client.responses.stream_parse(
        model=MODEL, input=INPUT, text_format=Invoice
    ) as stream:
        with pytest.raises(StreamTruncatedError):
            await stream.get_final_parsed()


def test_phase_other_than_final_answer_is_not_parsed() -> None:
    """A commentary message (phase set, not final_answer) keeps parsed None (pure)."""
    from aiohelicone._converter import structure
    from aiohelicone._responses_models import Response

    def response(phase: str | None) -> Response:
        item: dict[str, Any] = {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "thinking aloud", "annotations": []}],
        }
        if phase is not None:
            item["phase"] = phase
        return structure({"id": "resp_1", "status": "completed", "output": [item]}, Response)

    assert parse_response(response("commentary"), Invoice).output_parsed is None
    with pytest.raises(StructuredOutputError):
        parse_response(response("final_answer"), Invoice)
    assert parse_response(response(None)).output_parsed is None  # no class: nothing read


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text_format": {"type": "json_schema"}}, "text_format"),
        ({"text_format": int}, "text_format"),
        ({"text_format": Invoice, "text": {"format": {"type": "text"}}}, "text.format"),
        ({"text_format": Invoice, "text": "json"}, "text"),
        ({"tools": [int]}, "tools[0]"),
        ({"tools": GetWeather}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0]"),
        ({"stream": True}, "stream"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"input": []}, "input"),
    ],
)
async def test_bad_arguments_are_refused_with_nothing_sent(
    kwargs: dict[str, Any], field: str, client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """parse and stream_parse raise InvalidInputError naming the field, before sending."""
    arguments = {"model": MODEL, "input": INPUT, **kwargs}
    with pytest.raises(InvalidInputError) as parsed:
        await client.responses.parse(**arguments)
    with pytest.raises(InvalidInputError) as streamed:
        client.responses.stream_parse(**arguments)
    assert parsed.value.field == streamed.value.field == field
    assert gateway.requests == []


async def test_unknown_provider_warning_points_at_the_caller(client: AsyncHelicone) -> None:
    """create, parse and stream_parse warn about a model string from the caller's line."""
    with pytest.warns(UnknownProviderWarning) as caught:
        client.responses.stream_parse(
            model="gpt-4o-mini/nosuchprovider", input=INPUT, text_format=Invoice
        )
    assert caught[0].filename == __file__
    # (the fake has no such provider: the calls fail after the warning)
    with pytest.warns(UnknownProviderWarning) as caught, pytest.raises(APIStatusError):
        await client.responses.parse(
            model="gpt-4o-mini/otherprovider", input=INPUT, text_format=Invoice
        )
    assert caught[0].filename == __file__
    with pytest.warns(UnknownProviderWarning) as caught, pytest.raises(APIStatusError):
        await client.responses.create(model="gpt-4o-mini/thirdprovider", input=INPUT)
    assert caught[0].filename == __file__


async def test_stream_parse_is_used_inside_async_with(client: AsyncHelicone) -> None:
    """Outside `async with` the stream says how to use it; it opens only once."""
    stream = client.responses.stream_parse(model=MODEL, input=INPUT, text_format=Invoice)
    with pytest.raises(RuntimeError, match="async with"):
        stream.text_deltas()
    async with stream:
        assert stream.helicone is not None
        with pytest.raises(RuntimeError, match="opened already"):
            await stream.__aenter__()
        assert [event async for event in stream]
        assert stream.stream.accumulated.output_text
