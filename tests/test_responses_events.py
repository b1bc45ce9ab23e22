"""Responses stream events (_responses_events.py) and their accumulator (_responses_accumulate.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiohelicone._converter import ShapeError, structure, unstructure
from aiohelicone._exceptions import (
    InternalServerError,
    RateLimitError,
    StreamTruncatedError,
)
from aiohelicone._responses_accumulate import (
    ResponseAccumulator,
    has_content,
    response_as_event,
)
from aiohelicone._responses_events import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseIncompleteEvent,
    ResponseOutputItemAddedEvent,
    ResponseRefusalDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    UnknownResponseEvent,
    error_of,
    event_kind,
    parse_event,
)
from aiohelicone._responses_models import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
)
from aiohelicone._sse import SSEDecoder
from aiohelicone.testing import Reply, RequestRecord, ToolCall
from aiohelicone.testing._registry import Attempt
from aiohelicone.testing._responses import _Builder

ATTEMPT = Attempt("gpt-5", "openai", "gpt-5-2025-08-07", "ptb", kind="chat")


def record(body: dict[str, Any]) -> RequestRecord:
    """A Responses request record, as the gateway would make it."""
    return RequestRecord(
        method="POST",
        path="/v1/responses",
        query="",
        headers={},
        body=json.dumps(body).encode(),
        json=body,
        time=0.0,
        endpoint="responses",
        stream=bool(body.get("stream")),
    )


def builder(reply: Reply | None = None, **body: Any) -> _Builder:
    """The fake provider's builder of one answer (its JSON and its events agree)."""
    data = {"model": "gpt-5/openai", "input": "What is the weather in Paris?", **body}
    return _Builder(reply or Reply(), ATTEMPT, record(data), lambda r: "It is sunny in Paris.")


def decode(chunks: list[bytes]) -> list[tuple[str, Any]]:
    """(SSE event name, JSON data) of each event of a served stream."""
    decoder = SSEDecoder()
    out = [(e.event, json.loads(e.data)) for c in chunks for e in decoder.decode(c)]
    assert decoder.flush() is None
    return out


def events_of(b: _Builder) -> list[ResponseStreamEvent]:
    """The typed events of a builder's stream."""
    return [parse_event(name, data) for name, data in decode(b.events())]


def fold(events: list[ResponseStreamEvent]) -> ResponseAccumulator:
    acc = ResponseAccumulator()
    for e in events:
        acc.add(e)
    return acc


BOTH = {"reasoning": {"summary": "auto"}}
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


# -- parsing -----------------------------------------------------------------------------


def test_every_event_of_a_fake_stream_is_typed() -> None:
    """A stream with reasoning, text and a tool call parses into known event classes only."""
    b = builder(
        Reply(text="Sunny.", tool_calls=[ToolCall("get_weather", {"city": "Paris"})]), **BOTH
    )
    pairs = decode(b.events())
    events = [parse_event(name, data) for name, data in pairs]
    assert not any(isinstance(e, UnknownResponseEvent) for e in events)
    assert [e.type for e in events] == [name for name, _ in pairs]
    assert {e.type for e in events} >= {
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    }
    assert [e.sequence_number for e in events] == list(range(len(events)))
    # Each event goes back to exactly the JSON it came from.
    assert [unstructure(e) for e in events] == [data for _, data in pairs]


def test_unknown_event_keeps_its_data() -> None:
    """An event type this version does not model is kept whole."""
    data = {
        "type": "response.output_text.annotation.added",
        "sequence_number": 4,
        "annotation": {"url": "u"},
    }
    e = parse_event("response.output_text.annotation.added", data)
    assert isinstance(e, UnknownResponseEvent)
    assert e.type == "response.output_text.annotation.added" and e.sequence_number == 4
    assert e.data == data


def test_data_type_wins_over_a_disagreeing_event_name() -> None:
    """When event: and the data's type differ, the data's type decides."""
    data = {"type": "response.output_text.delta", "delta": "x", "output_index": 0}
    e = parse_event("response.refusal.delta", data)
    assert isinstance(e, ResponseTextDeltaEvent) and e.delta == "x"


def test_event_name_is_used_when_data_has_no_type() -> None:
    """Without a type in the data, the SSE event name decides (and becomes the type)."""
    e = parse_event("response.refusal.delta", {"delta": "no", "output_index": 1})
    assert isinstance(e, ResponseRefusalDeltaEvent) and e.type == "response.refusal.delta"
    unknown = parse_event("response.future", {"x": 1})
    assert isinstance(unknown, UnknownResponseEvent) and unknown.data == {
        "x": 1,
        "type": "response.future",
    }


def test_no_name_at_all_gives_an_unknown_event() -> None:
    """No type and no event: name (the decoder says "message") is an unnamed unknown event."""
    assert event_kind("message", {"a": 1}) == ""
    assert event_kind(None, {"a": 1}) == ""
    e = parse_event("message", {"a": 1})
    assert isinstance(e, UnknownResponseEvent) and e.type == ""


def test_chat_style_error_data_is_an_error_event() -> None:
    """{"error": {...}} with no type (nor event name) is an error event, flattened."""
    e = parse_event(
        "message",
        {"error": {"message": "slow down", "code": "rate_limit_exceeded", "type": "requests"}},
    )
    assert isinstance(e, ResponseErrorEvent)
    assert (e.message, e.code, e.param) == ("slow down", "rate_limit_exceeded", None)
    typed = parse_event(
        "error", {"error": {"message": "m", "type": "rate_limit_error", "code": None}}
    )
    assert isinstance(typed, ResponseErrorEvent) and typed.code == "rate_limit_error"
    assert isinstance(error_of(typed, {}, request_id=None), RateLimitError)


def test_openai_error_event() -> None:
    """OpenAI's flat error event parses as is."""
    data = {
        "type": "error",
        "code": "server_error",
        "message": "boom",
        "param": None,
        "sequence_number": 3,
    }
    e = parse_event("error", data)
    assert e == ResponseErrorEvent(message="boom", code="server_error", sequence_number=3)
    assert unstructure(e) == data


def test_error_event_maps_to_the_typed_status_error() -> None:
    """error_of gives the status error the code implies, flagged in_stream."""
    rate = parse_event("error", {"type": "error", "code": "rate_limit_exceeded", "message": "slow"})
    err = error_of(rate, {"x-test": "1"}, request_id="req-1")  # type: ignore[arg-type]
    assert isinstance(err, RateLimitError)
    assert err.status_code == 429 and err.in_stream and err.request_id == "req-1"
    assert err.message == "slow" and err.code == "rate_limit_exceeded"
    other = parse_event("error", {"type": "error", "code": "weird", "message": "?"})
    assert isinstance(error_of(other, {}, request_id=None), InternalServerError)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "data", "path"),
    [
        ("response.created", {"type": "response.created"}, "response"),
        ("x", [1], ""),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": 1}, "delta"),
        (
            "response.output_item.added",
            {"type": "response.output_item.added", "item": {"type": "message", "content": {}}},
            "item.content",
        ),
    ],
)
def test_malformed_known_events_raise_shape_errors(name: str, data: Any, path: str) -> None:
    """A known event with a wrong field raises ShapeError naming it."""
    with pytest.raises(ShapeError) as info:
        parse_event(name, data)
    assert info.value.path == path


# -- accumulating ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "body"),
    [
        (Reply(), {}),
        (Reply(), BOTH),
        (Reply(), {"tools": [TOOL]}),
        (Reply(text="Sunny.", tool_calls=[ToolCall("a", {"x": 1}), ToolCall("b", "{}")]), BOTH),
        (Reply(text="one two three four five"), {"max_output_tokens": 2}),
    ],
)
def test_final_response_equals_the_non_stream_answer(reply: Reply, body: dict[str, Any]) -> None:
    """The accumulated final response == the JSON answer for the same fake response."""
    b = builder(reply, **body)
    whole = structure(json.loads(json.dumps(b.response(final=True))), Response)
    acc = fold(events_of(b))
    assert acc.finished and not acc.truncated
    assert acc.result() == whole
    assert unstructure(acc.result()) == unstructure(whole)
    assert acc.text() == whole.output_text


def test_deltas_alone_rebuild_the_output() -> None:
    """Without output_item.done and the terminal event, the deltas give the same content."""
    b = builder(
        Reply(text="Sunny and warm.", tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
        **BOTH,
    )
    events = events_of(b)
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    kept = [
        e
        for e in events
        if e.type
        not in (
            "response.output_item.done",
            "response.completed",
            "response.output_text.done",
            "response.content_part.done",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.function_call_arguments.done",
        )
    ]
    acc = fold(kept)
    assert not acc.finished and acc.truncated
    partial = acc.result()
    assert partial.status == "in_progress"
    assert partial.output_text == final.response.output_text == "Sunny and warm."
    reasoning, message, call = partial.output
    want_reasoning, _, want_call = final.response.output
    assert isinstance(reasoning, ResponseReasoningItem) and isinstance(
        want_reasoning, ResponseReasoningItem
    )
    assert reasoning.summary == want_reasoning.summary
    assert isinstance(call, ResponseFunctionToolCall) and isinstance(
        want_call, ResponseFunctionToolCall
    )
    assert (call.name, call.call_id, call.arguments) == (
        want_call.name,
        want_call.call_id,
        want_call.arguments,
    )
    assert isinstance(message, ResponseOutputMessage)


def test_truncated_stream_reports_the_partial_response() -> None:
    """A stream cut before its terminal event is truncated; the error carries the partial."""
    b = builder(Reply(text="alpha beta gamma delta"))
    events = events_of(b)
    deltas = [i for i, e in enumerate(events) if isinstance(e, ResponseTextDeltaEvent)]
    acc = fold(events[: deltas[1] + 1])
    assert acc.truncated and acc.terminal is None
    error = acc.truncation_error(request_id="req-9")
    assert isinstance(error, StreamTruncatedError)
    assert error.chunks == deltas[1] + 1 and error.request_id == "req-9"
    assert isinstance(error.partial, Response)
    assert error.partial.output_text == "alpha beta"
    assert error.partial.id == events[0].response.id  # type: ignore[union-attr]


def test_incomplete_and_failed_are_terminal() -> None:
    """response.incomplete and response.failed end a stream normally, with their response."""
    b = builder(Reply(text="one two three"), max_output_tokens=1)
    acc = fold(events_of(b))
    assert acc.terminal == "response.incomplete"
    assert acc.result().status == "incomplete"
    assert acc.result().incomplete_details is not None
    assert acc.result().incomplete_details.reason == "max_output_tokens"
    failed = ResponseFailedEvent(
        response=structure(
            {"id": "r", "status": "failed", "error": {"code": "server_error", "message": "x"}},
            Response,
        )
    )
    acc = fold([failed])
    assert acc.finished and acc.terminal == "response.failed"
    assert acc.result().error is not None and acc.result().error.code == "server_error"


def test_error_event_is_recorded_not_terminal() -> None:
    """An error event is kept for the stream to raise; it does not finish the stream."""
    acc = fold([parse_event("error", {"type": "error", "message": "boom"})])
    assert acc.error is not None and acc.error.message == "boom"
    assert not acc.finished


def test_terminal_response_without_output_uses_the_streamed_items() -> None:
    """A completed event whose response omits output gets the items built from the stream."""
    b = builder(Reply(text="Hi there"))
    events = events_of(b)
    last = decode(b.events())[-1][1]
    del last["response"]["output"]
    events[-1] = parse_event("response.completed", last)
    result = fold(events).result()
    assert result.output_text == "Hi there" and result.status == "completed"


def test_events_for_items_never_added_are_still_kept() -> None:
    """Deltas for an output index with no output_item.added fill a placeholder item."""
    acc = fold(
        [
            ResponseTextDeltaEvent(delta="Hel", output_index=0),
            ResponseTextDeltaEvent(delta="lo", output_index=0),
            ResponseRefusalDeltaEvent(delta="No.", output_index=0, content_index=1),
            ResponseFunctionCallArgumentsDeltaEvent(delta='{"a":', output_index=1),
            ResponseFunctionCallArgumentsDeltaEvent(delta="1}", output_index=1),
        ]
    )
    message, call = acc.result().output
    assert isinstance(message, ResponseOutputMessage)
    assert message.content == [
        ResponseOutputText(text="Hello"),
        ResponseOutputRefusal(refusal="No."),
    ]
    assert isinstance(call, ResponseFunctionToolCall) and call.arguments == '{"a":1}'
    assert acc.result().id == "" and acc.result().status == "in_progress"


def test_unknown_events_are_counted_and_ignored() -> None:
    """Unknown events count as chunks and change nothing."""
    acc = fold([parse_event("response.future", {"x": 1})])
    assert acc.chunks == 1 and acc.result().output == []


def test_has_content_marks_the_first_content_event() -> None:
    """Lifecycle and empty events are not content; a delta, a done item or the end are."""
    events = events_of(builder(Reply(text="Hi")))
    flags = [has_content(e) for e in events]
    assert flags[:3] == [False, False, False]  # created, in_progress, output_item.added
    first = flags.index(True)
    assert isinstance(events[first], ResponseTextDeltaEvent)
    assert has_content(events[-1])
    assert not has_content(ResponseTextDeltaEvent(delta=""))


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        ("completed", ResponseCompletedEvent),
        (None, ResponseCompletedEvent),
        ("incomplete", ResponseIncompleteEvent),
        ("failed", ResponseFailedEvent),
    ],
)
def test_a_whole_response_becomes_its_terminal_event(status: str | None, cls: type) -> None:
    """A JSON answer sent instead of a stream accumulates to itself."""
    whole = Response(
        id="r",
        status=status,
        output=[ResponseOutputMessage(content=[ResponseOutputText(text="x")])],
    )
    event = response_as_event(whole)
    assert type(event) is cls
    acc = fold([event])
    assert acc.finished and acc.result() == whole


def test_created_event_sets_the_partial_response() -> None:
    """Before any item, the partial response is what response.created said."""
    created = ResponseCreatedEvent(response=Response(id="resp_1", model="m", status="in_progress"))
    acc = fold([created, ResponseOutputItemAddedEvent(item=ResponseOutputMessage(id="msg"))])
    result = acc.result()
    assert (result.id, result.model, result.status) == ("resp_1", "m", "in_progress")
    assert result.output == [ResponseOutputMessage(id="msg")]
