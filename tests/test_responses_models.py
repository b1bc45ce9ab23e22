"""Responses API models (_responses_models.py): structure, round trip, unknown kept."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aiohelicone._converter import ShapeError, structure, unstructure
from aiohelicone._responses_models import (
    InputTokensDetails,
    OutputTokensDetails,
    ReasoningSummaryPart,
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseUsage,
    UnknownContentPart,
    UnknownOutputItem,
)

RESPONSE: dict[str, Any] = {
    "id": "resp_123",
    "object": "response",
    "created_at": 1741476542.0,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": "Be brief.",
    "max_output_tokens": None,
    "model": "gpt-5-2025-08-07",
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Thinking."}],
            "encrypted_content": "gAAAAB...",
        },
        {
            "id": "msg_1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "Hello",
                    "annotations": [
                        {"type": "url_citation", "url": "https://x.test", "start_index": 0}
                    ],
                    "logprobs": [],
                },
                {"type": "refusal", "refusal": "I cannot."},
                {"type": "output_audio", "data": "AAAA", "transcript": "hi"},
            ],
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "id": "ws_1",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": "weather"},
        },
        {
            "id": "msg_2",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": ", world", "annotations": []}],
        },
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 40,
    },
    "user": None,
    "metadata": {"run": "7"},
    "conversation": {"id": "conv_1"},
    "safety_identifier": None,
}


def test_a_full_response_is_typed() -> None:
    """Each output item becomes its own model; usage details are typed."""
    r = structure(RESPONSE, Response)
    reasoning, message, call, search, second = r.output
    assert isinstance(reasoning, ResponseReasoningItem)
    assert reasoning.summary == [ReasoningSummaryPart(text="Thinking.")]
    assert reasoning.encrypted_content == "gAAAAB..."
    assert isinstance(message, ResponseOutputMessage)
    text, refusal, audio = message.content
    assert text == ResponseOutputText(
        text="Hello",
        annotations=[{"type": "url_citation", "url": "https://x.test", "start_index": 0}],
        logprobs=[],
    )
    assert refusal == ResponseOutputRefusal(refusal="I cannot.")
    assert isinstance(audio, UnknownContentPart) and audio.type == "output_audio"
    assert call == ResponseFunctionToolCall(
        call_id="call_1",
        name="get_weather",
        arguments='{"city":"Paris"}',
        id="fc_1",
        status="completed",
    )
    assert isinstance(search, UnknownOutputItem)
    assert isinstance(second, ResponseOutputMessage)
    assert r.usage == ResponseUsage(
        input_tokens=10,
        output_tokens=30,
        total_tokens=40,
        input_tokens_details=InputTokensDetails(cached_tokens=4),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=12),
    )
    assert r.metadata == {"run": "7"}
    assert r.reasoning == {"effort": "medium", "summary": "auto"}
    assert r.status == "completed"


def test_round_trip_is_exact() -> None:
    """unstructure(structure(json)) gives the JSON back: unknown items, parts and keys too."""
    r = structure(copy.deepcopy(RESPONSE), Response)
    assert unstructure(r) == RESPONSE


def test_unknown_fields_and_items_stay_reachable() -> None:
    """New top-level fields land in extra; an unknown item keeps its raw JSON."""
    r = structure(RESPONSE, Response)
    assert r.extra == {"conversation": {"id": "conv_1"}, "safety_identifier": None}
    search = r.output[3]
    assert isinstance(search, UnknownOutputItem)
    assert search.id == "ws_1"
    assert search.raw == RESPONSE["output"][3]
    audio = r.output[1].content[2]  # type: ignore[union-attr]
    assert isinstance(audio, UnknownContentPart)
    assert audio.raw == {"type": "output_audio", "data": "AAAA", "transcript": "hi"}


def test_output_text_joins_message_text_parts_only() -> None:
    """output_text: every output_text part of every message, without refusals or reasoning."""
    assert structure(RESPONSE, Response).output_text == "Hello, world"
    assert Response(id="r").output_text == ""


def test_absent_and_null_are_told_apart() -> None:
    """An absent optional field stays absent on the way out; an explicit null stays null."""
    data = {
        "id": "resp_1",
        "created_at": 1.0,
        "model": "m",
        "object": "response",
        "output": [],
        "error": None,
    }
    r = structure(data, Response)
    assert unstructure(r) == data
    assert "usage" in r.missing and "error" not in r.missing


def test_minimal_items_take_defaults() -> None:
    """Items with only a type (as some converters send them) still structure."""
    r = structure(
        {
            "id": "r",
            "output": [
                {"type": "message"},
                {"type": "function_call"},
                {"type": "reasoning"},
                {"id": "x"},
            ],
        },
        Response,
    )
    message, call, reasoning, untyped = r.output
    assert isinstance(message, ResponseOutputMessage) and message.content == []
    assert isinstance(call, ResponseFunctionToolCall) and call.arguments == ""
    assert isinstance(reasoning, ResponseReasoningItem) and reasoning.summary == []
    assert isinstance(untyped, UnknownOutputItem) and untyped.type == ""


def test_an_int_timestamp_is_accepted() -> None:
    """created_at arrives as an int from OpenAI; it is a float field and compares equal."""
    r = structure({"id": "r", "created_at": 1741476542}, Response)
    assert r.created_at == 1741476542.0


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"output": []}, "id"),
        ({"id": "r", "output": {}}, "output"),
        ({"id": "r", "output": [{"type": "message", "content": "hi"}]}, "output[0].content"),
        (
            {
                "id": "r",
                "output": [{"type": "message", "content": [{"type": "output_text", "text": 3}]}],
            },
            "output[0].content[0].text",
        ),
        (
            {"id": "r", "output": [{"type": "function_call", "arguments": {}}]},
            "output[0].arguments",
        ),
        ({"id": "r", "output": ["message"]}, "output[0]"),
        ({"id": "r", "metadata": []}, "metadata"),
        ({"id": "r", "usage": {"input_tokens": "3"}}, "usage.input_tokens"),
        ({"id": "r", "output": [{"type": "output_text"}], "tools": {}}, "tools"),
    ],
)
def test_wrong_shapes_name_the_path(data: dict[str, Any], path: str) -> None:
    """A value of the wrong type raises ShapeError with its path."""
    with pytest.raises(ShapeError) as info:
        structure(data, Response)
    assert info.value.path == path


def test_models_are_frozen_and_compare_by_value() -> None:
    """Frozen records; extra and missing do not take part in equality."""
    a = structure({"id": "r", "new": 1}, Response)
    b = Response(id="r")
    assert a == b
    with pytest.raises(AttributeError):
        a.id = "x"  # type: ignore[misc]
