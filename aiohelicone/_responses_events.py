"""Layer 0 (core): typed events of a Responses API stream, from (SSE ``event:`` name, JSON data).

A Responses stream is ``event: <type>`` / ``data: {"type": "<type>", ...}`` pairs, with a
``sequence_number`` in each event, and no ``data: [DONE]`` at the end (OpenAI's order: the
response is created, each output item is added, filled by deltas and done, then one of
``response.completed``, ``response.incomplete`` or ``response.failed`` ends it). Events this
version does not model become :class:`UnknownResponseEvent`, with every key kept.

Which name decides the event's kind (:func:`event_kind`):

1. The data's ``type``, when it is a non-empty string. It is what the event is structured
   from (openai-python dispatches on it too), while the ``event:`` line is framing that a
   proxy may rewrite or drop. A disagreeing ``event:`` name is ignored.
2. Otherwise the SSE ``event:`` name, unless it is absent (the decoder reports ``message``,
   the SSE default). The event is then built with that ``type``.
3. Otherwise, data carrying a non-null ``error`` (the chat-style ``{"error": {...}}`` a
   gateway may send in any stream) is an ``error`` event.

An ``error`` event whose data nests the error (``{"error": {"message", "type", "code"}}``)
instead of OpenAI's flat ``{"type": "error", "message", "code", "param"}`` is read as the
flat form (the nested ``type`` becomes the ``code`` when ``code`` is null).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import attrs

from ._converter import ShapeError, structure_hook, unstructure
from ._exceptions import APIStatusError, error_in_answer
from ._models import _extra_field, _missing_field
from ._responses_models import (
    ReasoningSummaryPart,
    Response,
    ResponseContentPart,
    ResponseOutputItem,
)

__all__ = [
    "ResponseCompletedEvent",
    "ResponseContentPartAddedEvent",
    "ResponseContentPartDoneEvent",
    "ResponseCreatedEvent",
    "ResponseErrorEvent",
    "ResponseFailedEvent",
    "ResponseFunctionCallArgumentsDeltaEvent",
    "ResponseFunctionCallArgumentsDoneEvent",
    "ResponseInProgressEvent",
    "ResponseIncompleteEvent",
    "ResponseOutputItemAddedEvent",
    "ResponseOutputItemDoneEvent",
    "ResponseReasoningSummaryPartAddedEvent",
    "ResponseReasoningSummaryPartDoneEvent",
    "ResponseReasoningSummaryTextDeltaEvent",
    "ResponseReasoningSummaryTextDoneEvent",
    "ResponseRefusalDeltaEvent",
    "ResponseRefusalDoneEvent",
    "ResponseStreamEvent",
    "ResponseTextDeltaEvent",
    "ResponseTextDoneEvent",
    "UnknownResponseEvent",
    "error_of",
    "event_kind",
    "parse_event",
]


# -- lifecycle events (each carries the whole response as it stands) ---------------------


@attrs.frozen(weakref_slot=False)
class ResponseCreatedEvent:
    """``response.created``: the response exists (``status: "in_progress"``, no output)."""

    response: Response
    sequence_number: int | None = None
    type: str = "response.created"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseInProgressEvent:
    """``response.in_progress``: generation started."""

    response: Response
    sequence_number: int | None = None
    type: str = "response.in_progress"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseCompletedEvent:
    """``response.completed``: the final response (the same object a non-stream call gives)."""

    response: Response
    sequence_number: int | None = None
    type: str = "response.completed"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseIncompleteEvent:
    """``response.incomplete``: the final response, cut short (see ``incomplete_details``)."""

    response: Response
    sequence_number: int | None = None
    type: str = "response.incomplete"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseFailedEvent:
    """``response.failed``: the final response, failed (see its ``error``)."""

    response: Response
    sequence_number: int | None = None
    type: str = "response.failed"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


# -- output items and content parts ---------------------------------------------------------


@attrs.frozen(weakref_slot=False)
class ResponseOutputItemAddedEvent:
    """``response.output_item.added``: item ``output_index`` starts (mostly empty)."""

    item: ResponseOutputItem
    output_index: int = 0
    sequence_number: int | None = None
    type: str = "response.output_item.added"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseOutputItemDoneEvent:
    """``response.output_item.done``: item ``output_index``, complete."""

    item: ResponseOutputItem
    output_index: int = 0
    sequence_number: int | None = None
    type: str = "response.output_item.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseContentPartAddedEvent:
    """``response.content_part.added``: part ``content_index`` of a message starts."""

    part: ResponseContentPart
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int | None = None
    type: str = "response.content_part.added"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseContentPartDoneEvent:
    """``response.content_part.done``: part ``content_index`` of a message, complete."""

    part: ResponseContentPart
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int | None = None
    type: str = "response.content_part.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseTextDeltaEvent:
    """``response.output_text.delta``: more text for an ``output_text`` part."""

    delta: str = ""
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    logprobs: Any = None
    sequence_number: int | None = None
    type: str = "response.output_text.delta"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseTextDoneEvent:
    """``response.output_text.done``: the whole text of an ``output_text`` part."""

    text: str = ""
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    logprobs: Any = None
    sequence_number: int | None = None
    type: str = "response.output_text.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseRefusalDeltaEvent:
    """``response.refusal.delta``: more text of a refusal part."""

    delta: str = ""
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int | None = None
    type: str = "response.refusal.delta"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseRefusalDoneEvent:
    """``response.refusal.done``: the whole refusal."""

    refusal: str = ""
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int | None = None
    type: str = "response.refusal.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseFunctionCallArgumentsDeltaEvent:
    """``response.function_call_arguments.delta``: a fragment of a call's arguments."""

    delta: str = ""
    item_id: str = ""
    output_index: int = 0
    sequence_number: int | None = None
    type: str = "response.function_call_arguments.delta"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseFunctionCallArgumentsDoneEvent:
    """``response.function_call_arguments.done``: a call's whole arguments."""

    arguments: str = ""
    item_id: str = ""
    output_index: int = 0
    name: str | None = None
    sequence_number: int | None = None
    type: str = "response.function_call_arguments.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseReasoningSummaryPartAddedEvent:
    """``response.reasoning_summary_part.added``: summary part ``summary_index`` starts."""

    part: ReasoningSummaryPart
    item_id: str = ""
    output_index: int = 0
    summary_index: int = 0
    sequence_number: int | None = None
    type: str = "response.reasoning_summary_part.added"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseReasoningSummaryPartDoneEvent:
    """``response.reasoning_summary_part.done``: summary part ``summary_index``, complete."""

    part: ReasoningSummaryPart
    item_id: str = ""
    output_index: int = 0
    summary_index: int = 0
    sequence_number: int | None = None
    type: str = "response.reasoning_summary_part.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseReasoningSummaryTextDeltaEvent:
    """``response.reasoning_summary_text.delta``: more text of a reasoning summary part."""

    delta: str = ""
    item_id: str = ""
    output_index: int = 0
    summary_index: int = 0
    sequence_number: int | None = None
    type: str = "response.reasoning_summary_text.delta"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseReasoningSummaryTextDoneEvent:
    """``response.reasoning_summary_text.done``: the whole text of a summary part."""

    text: str = ""
    item_id: str = ""
    output_index: int = 0
    summary_index: int = 0
    sequence_number: int | None = None
    type: str = "response.reasoning_summary_text.done"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseErrorEvent:
    """``error``: the stream failed (the stream raises the status error it implies)."""

    message: str = ""
    code: str | None = None
    param: str | None = None
    sequence_number: int | None = None
    type: str = "error"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class UnknownResponseEvent:
    """An event of a ``type`` this version does not model; every key is kept.

    Attributes:
        type: the event's kind (see :func:`event_kind`).
        extra: every other key of its data.
    """

    type: str = ""
    sequence_number: int | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    @property
    def data(self) -> dict[str, Any]:
        """The event's JSON data, as it arrived (plus ``type`` if it came from ``event:``)."""
        data: dict[str, Any] = unstructure(self)
        return data


ResponseStreamEvent: TypeAlias = (
    ResponseCreatedEvent
    | ResponseInProgressEvent
    | ResponseCompletedEvent
    | ResponseIncompleteEvent
    | ResponseFailedEvent
    | ResponseOutputItemAddedEvent
    | ResponseOutputItemDoneEvent
    | ResponseContentPartAddedEvent
    | ResponseContentPartDoneEvent
    | ResponseTextDeltaEvent
    | ResponseTextDoneEvent
    | ResponseRefusalDeltaEvent
    | ResponseRefusalDoneEvent
    | ResponseFunctionCallArgumentsDeltaEvent
    | ResponseFunctionCallArgumentsDoneEvent
    | ResponseReasoningSummaryPartAddedEvent
    | ResponseReasoningSummaryPartDoneEvent
    | ResponseReasoningSummaryTextDeltaEvent
    | ResponseReasoningSummaryTextDoneEvent
    | ResponseErrorEvent
    | UnknownResponseEvent
)

_EVENT_CLASSES: tuple[type, ...] = (
    ResponseCreatedEvent,
    ResponseInProgressEvent,
    ResponseCompletedEvent,
    ResponseIncompleteEvent,
    ResponseFailedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseRefusalDeltaEvent,
    ResponseRefusalDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryPartDoneEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningSummaryTextDoneEvent,
    ResponseErrorEvent,
)

#: Event ``type`` -> its model class.
EVENT_TYPES: Mapping[str, type] = {
    str(attrs.fields_dict(cls)["type"].default): cls for cls in _EVENT_CLASSES
}

# The decoder's name for a block without an ``event:`` field (the SSE default).
_NO_EVENT_NAME = "message"


def event_kind(event: str | None, data: Mapping[str, Any]) -> str:
    """The kind of a stream event (the rules are in the module docstring).

    Args:
        event: the SSE ``event:`` name (``"message"`` or None when absent).
        data: the event's decoded JSON object.

    Returns:
        The kind, e.g. ``"response.output_text.delta"``; ``""`` when nothing names it.
    """
    kind = data.get("type")
    if type(kind) is str and kind:
        return kind
    if event and event != _NO_EVENT_NAME:
        return event
    if data.get("error") is not None:
        return "error"
    return ""


# Compiled structure functions per event kind, built on first use (the converter is lazy).
_HOOKS: dict[str, Callable[[Any], Any]] = {}


def _build_hooks() -> None:
    for kind, cls in EVENT_TYPES.items():
        _HOOKS[kind] = structure_hook(cls)
    _HOOKS[""] = structure_hook(UnknownResponseEvent)


def parse_event(event: str | None, data: object) -> ResponseStreamEvent:
    """Structure one Responses stream event.

    Args:
        event: the SSE ``event:`` name (``"message"`` or None when the block had none).
        data: the event's decoded JSON.

    Returns:
        The typed event; :class:`UnknownResponseEvent` for a kind not modelled here.

    Raises:
        ShapeError: ``data`` is not an object, or a known event's field has the wrong type
            (the path names it, e.g. ``response.output[0].content``).
    """
    if type(data) is not dict:
        raise ShapeError("", f"expected an object (a stream event), got {type(data).__name__}")
    kind = data.get("type")
    if type(kind) is not str or not kind:
        kind = event_kind(event, data)
        data = {**data, "type": kind}
    if kind == "error":
        data = _flat_error(data)
    if not _HOOKS:
        _build_hooks()
    hook = _HOOKS.get(kind) or _HOOKS[""]
    result: ResponseStreamEvent = hook(data)
    return result


def _flat_error(data: dict[str, Any]) -> dict[str, Any]:
    nested = data.get("error")
    if "message" in data or not isinstance(nested, dict):
        return data
    flat = {k: v for k, v in data.items() if k != "error"}
    message = nested.get("message")
    flat["message"] = (
        message if isinstance(message, str) else ("" if message is None else str(message))
    )
    # OpenAI's chat errors have a ``type`` (``rate_limit_error``) and often a null ``code``:
    # the flat event has only ``code``, so the type stands in for it.
    code = nested.get("code")
    if code is None:
        code = nested.get("type")
    flat["code"] = None if code is None else str(code)
    param = nested.get("param")
    flat["param"] = None if param is None else str(param)
    return flat


def error_of(
    event: ResponseErrorEvent,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
) -> APIStatusError:
    """The typed status error an ``error`` event stands for (``in_stream=True``).

    The status comes from the event's ``code`` as for chat streams' in-stream errors
    (``rate_limit_exceeded`` is 429, ``server_error`` 500, an unknown code 500), see
    ``_exceptions.implied_status``; ``body`` is the event's JSON.

    Args:
        event: the ``error`` event.
        headers: the stream's response headers.
        request_id: the request id the client sent.

    Returns:
        The error to raise (a :class:`RateLimitError`, :class:`InternalServerError`...).
    """
    payload = {
        "error": {"message": event.message, "code": event.code, "param": event.param},
        **{k: v for k, v in unstructure(event).items() if k not in ("message", "code", "param")},
    }
    return error_in_answer(payload, headers, request_id=request_id, in_stream=True)
