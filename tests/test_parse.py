"""Structured outputs read back into attrs classes (`_parse.py`), offline on the fake gateway."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import attrs
import pytest

from aiohelicone import (
    APIResponseValidationError,
    AsyncHelicone,
    ChatCompletion,
    ChatCompletionMessageToolCall,
    ContentFilterFinishReasonError,
    LengthFinishReasonError,
    StructuredOutputError,
)
from aiohelicone._converter import structure
from aiohelicone._models import Function
from aiohelicone._parse import parse_arguments, parse_chat_completion, parse_content
from aiohelicone._schema import function_tool_for, response_format_for
from aiohelicone.testing import FakeGateway, LoopbackServer, Reply

MODEL = "gpt-4o-mini/openai"
MESSAGES = [{"role": "user", "content": "Write an invoice"}]


class Status(enum.Enum):
    OPEN = "open"
    PAID = "paid"


@attrs.frozen
class Line:
    sku: str
    qty: int
    price: float


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
    parent: Invoice | None


@attrs.frozen
class GetWeather:
    """Get the weather of a city."""

    city: str
    days: int = attrs.field(validator=attrs.validators.ge(1))


def completion(
    content: str | None,
    *,
    refusal: str | None = None,
    finish_reason: str = "stop",
    tool_calls: list[dict[str, Any]] | None = None,
) -> ChatCompletion:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return structure(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        },
        ChatCompletion,
    )


GOOD = {
    "number": "A-1",
    "status": "paid",
    "kind": "sale",
    "customer": {"name": "Ada", "email": None},
    "lines": [{"sku": "x", "qty": 2, "price": 1.5}],
    "parent": None,
}


def test_content_is_structured_into_the_class() -> None:
    """Valid JSON becomes the attrs instance, enums and nested classes included."""
    result = parse_chat_completion(completion(json.dumps(GOOD)), Invoice)
    invoice = result.choices[0].message.parsed
    assert invoice == Invoice(
        "A-1", Status.PAID, "sale", Customer("Ada", None), [Line("x", 2, 1.5)], None
    )
    assert result.parsed is invoice
    assert result.choices[0].message.content == json.dumps(GOOD)
    assert result.usage is not None and result.usage.total_tokens == 8


def test_refusal_gives_none_and_keeps_the_refusal() -> None:
    """A refusal is not an error: parsed is None, the refusal text stays."""
    result = parse_chat_completion(completion(None, refusal="I can't help with that"), Invoice)
    message = result.choices[0].message
    assert message.parsed is None
    assert message.refusal == "I can't help with that"


@pytest.mark.parametrize(
    ("content", "path", "words"),
    [
        ('{"number": "A-1", ', "", "not JSON"),
        (
            json.dumps({**GOOD, "lines": [{"sku": "x", "qty": "2", "price": 1}]}),
            "lines[0].qty",
            "integer",
        ),
        (json.dumps({**GOOD, "extra": 1}), "", "unexpected key"),
        (json.dumps({**GOOD, "status": "lost"}), "status", "not one of"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "parent"}), "parent", "missing"),
    ],
)
def test_json_that_does_not_fit_raises_with_the_raw_text(
    content: str, path: str, words: str
) -> None:
    """Bad JSON or a wrong shape: StructuredOutputError carrying the raw text and the path."""
    with pytest.raises(StructuredOutputError) as caught:
        parse_chat_completion(completion(content), Invoice)
    error = caught.value
    assert isinstance(error, APIResponseValidationError)
    assert error.raw == content and error.body == content
    assert error.path == path
    assert words in error.problem
    assert error.target == "Invoice"


def test_length_finish_reason_is_a_typed_error() -> None:
    """A cut-off answer raises LengthFinishReasonError rather than a JSON crash."""
    with pytest.raises(LengthFinishReasonError) as caught:
        parse_chat_completion(completion('{"number": "A', finish_reason="length"), Invoice)
    assert caught.value.raw == '{"number": "A'
    assert caught.value.usage is not None and caught.value.usage.completion_tokens == 5
    assert "token limit" in str(caught.value)


def test_content_filter_is_a_typed_error() -> None:
    """finish_reason content_filter raises its own StructuredOutputError subclass."""
    with pytest.raises(ContentFilterFinishReasonError):
        parse_chat_completion(completion(None, finish_reason="content_filter"), Invoice)


def test_tool_call_arguments_are_structured() -> None:
    """Known tools get parsed_arguments; unknown ones keep only the raw text."""
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "GetWeather", "arguments": '{"city": "Paris", "days": 2}'},
        },
        {"id": "c2", "type": "function", "function": {"name": "other", "arguments": "{}"}},
    ]
    result = parse_chat_completion(
        completion(None, tool_calls=calls, finish_reason="tool_calls"), tools=[GetWeather]
    )
    first, second = result.choices[0].message.tool_calls or []
    assert first.function.parsed_arguments == GetWeather("Paris", 2)
    assert second.function.parsed_arguments is None and second.function.arguments == "{}"
    assert result.parsed is None


def test_a_validator_failure_is_a_structured_output_error() -> None:
    """The class's own validators run; their failure is reported like a shape error."""
    arguments = '{"city": "P", "days": 0}'
    call = ChatCompletionMessageToolCall(id="c", function=Function(name="g", arguments=arguments))
    with pytest.raises(StructuredOutputError) as caught:
        parse_arguments(call, GetWeather)
    assert "days" in caught.value.problem


# -- round trips on the fake gateway, through the public client, both backends -------------


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_nested_class_round_trips_on_the_fake(
    stream: bool, server: LoopbackServer, gateway: FakeGateway
) -> None:
    """The fake answers the schema with fitting JSON; parse gives an Invoice either way."""
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as client:
        fmt = response_format_for(Invoice)
        if stream:
            answer = await (
                await client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, response_format=fmt, stream=True
                )
            ).get_final_completion()
        else:
            answer = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, response_format=fmt
            )
    invoice = parse_content(answer, Invoice)
    assert isinstance(invoice, Invoice)
    assert isinstance(invoice.customer, Customer) and isinstance(invoice.status, Status)
    assert invoice.lines and isinstance(invoice.lines[0], Line)
    assert gateway.last_request.json["response_format"]["json_schema"]["strict"] is True


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_tool_round_trips_on_the_fake(
    stream: bool, server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A strict tool from an attrs class: the fake calls it with arguments that structure."""
    tools = [function_tool_for(GetWeather)]
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as client:
        if stream:
            answer = await (
                await client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, tools=tools, stream=True
                )
            ).get_final_completion()
        else:
            answer = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, tools=tools
            )
        after = await client.chat.completions.create(
            model=MODEL,
            messages=[*MESSAGES, {"role": "tool", "tool_call_id": "call_0", "content": "sunny"}],
            tools=tools,
        )
    result = parse_chat_completion(answer, tools={"GetWeather": GetWeather})
    (call,) = result.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)
    assert result.choices[0].finish_reason == "tool_calls"
    # After the tool's result the fake answers in words, so an agent loop ends.
    assert after.choices[0].message.tool_calls is None


@pytest.mark.anyio
async def test_truncated_schema_answer_raises_length_error(server: LoopbackServer) -> None:
    """max_tokens cutting the fake's JSON gives LengthFinishReasonError, not a crash."""
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as client:
        answer = await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            response_format=response_format_for(Invoice),
            max_tokens=4,
        )
    with pytest.raises(LengthFinishReasonError) as caught:
        parse_chat_completion(answer, Invoice)
    assert caught.value.raw == answer.choices[0].message.content


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_scripted_refusal_parses_to_none(
    stream: bool, server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A refusal from the fake, streamed or not: parsed is None and the refusal is kept."""
    gateway.script("*", [Reply(refusal="I can't help with that.")])
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as client:
        fmt = response_format_for(Invoice)
        if stream:
            answer = await (
                await client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, response_format=fmt, stream=True
                )
            ).get_final_completion()
        else:
            answer = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, response_format=fmt
            )
    message = parse_chat_completion(answer, Invoice).choices[0].message
    assert message.parsed is None
    assert (message.refusal, message.content) == ("I can't help with that.", None)
