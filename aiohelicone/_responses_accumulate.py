"""Layer 0 (core): the :class:`Response` a stream of Responses events amounts to (pure, no I/O).

:class:`ResponseAccumulator` has the interface the stream classes of ``_stream_base.py``
expect of an accumulator (``add``, ``chunks``, ``finished``, ``result()``), plus what is
particular to Responses streams (``terminal``, ``error``, :meth:`truncation_error`).

How the response is built, in the order openai-python's stream helper uses:

- ``response.created`` / ``response.in_progress`` give the response as it stands (its
  settings, ``status: "in_progress"``, usually no output);
- ``response.output_item.added`` starts item ``output_index``; content parts, reasoning
  summary parts, text, refusal, summary and argument deltas fill it in;
- ``response.output_item.done`` replaces the partial item by the complete one;
- ``response.completed`` / ``response.incomplete`` / ``response.failed`` carry the final
  response, which *is* the result: it equals (``==``) what a non-stream call returns. If its
  ``output`` is empty or absent while the stream built items (some converters leave it
  out), the items built from the stream are used.

A stream that ends before one of those three terminal events is truncated:
:attr:`ResponseAccumulator.finished` stays False and :meth:`~ResponseAccumulator.result`
is the partial response (``status`` as last reported, normally ``"in_progress"``). Events
for an item that was never added are applied to a placeholder rather than refused: a
partial answer is worth more than an exception about event order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._exceptions import StreamTruncatedError
from ._responses_events import (
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryPartDoneEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningSummaryTextDoneEvent,
    ResponseRefusalDeltaEvent,
    ResponseRefusalDoneEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from ._responses_models import (
    ReasoningSummaryPart,
    Response,
    ResponseContentPart,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
)

__all__ = [
    "TERMINAL_EVENTS",
    "ResponseAccumulator",
    "has_content",
    "response_as_event",
]

#: The events that end a Responses stream normally.
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})

_FINAL = (ResponseCompletedEvent, ResponseIncompleteEvent, ResponseFailedEvent)
_DELTAS = (
    ResponseTextDeltaEvent,
    ResponseRefusalDeltaEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseReasoningSummaryTextDeltaEvent,
)


class _Part:
    """A content part (or summary part) being filled: its model plus text pieces."""

    __slots__ = ("model", "pieces")

    def __init__(self, model: Any) -> None:
        self.model = model
        self.pieces: list[str] = []

    def build(self) -> Any:
        if not self.pieces:
            return self.model
        joined = "".join(self.pieces)
        if type(self.model) is ResponseOutputRefusal:
            return attrs.evolve(self.model, refusal=self.model.refusal + joined)
        return attrs.evolve(self.model, text=self.model.text + joined)


class _Item:
    """An output item being filled from deltas (until ``output_item.done`` replaces it)."""

    __slots__ = ("arguments", "done", "model", "parts", "summary")

    def __init__(self, model: ResponseOutputItem) -> None:
        self.model: ResponseOutputItem = model
        self.done: ResponseOutputItem | None = None
        self.parts: dict[int, _Part] = {}
        self.summary: dict[int, _Part] = {}
        self.arguments: list[str] = []
        if type(model) is ResponseOutputMessage:
            self.parts = {i: _Part(p) for i, p in enumerate(model.content)}
        elif type(model) is ResponseReasoningItem:
            self.summary = {i: _Part(p) for i, p in enumerate(model.summary)}

    def part(self, index: int, kind: type) -> _Part:
        part = self.parts.get(index)
        if part is None:
            part = self.parts[index] = _Part(kind())
        return part

    def summary_part(self, index: int) -> _Part:
        part = self.summary.get(index)
        if part is None:
            part = self.summary[index] = _Part(ReasoningSummaryPart())
        return part

    def build(self) -> ResponseOutputItem:
        if self.done is not None:
            return self.done
        model = self.model
        if type(model) is ResponseOutputMessage:
            content: list[ResponseContentPart] = [p.build() for _, p in sorted(self.parts.items())]
            return attrs.evolve(model, content=content)
        if type(model) is ResponseReasoningItem:
            summary = [p.build() for _, p in sorted(self.summary.items())]
            return attrs.evolve(model, summary=summary)
        if type(model) is ResponseFunctionToolCall and self.arguments:
            return attrs.evolve(model, arguments=model.arguments + "".join(self.arguments))
        return model


class ResponseAccumulator:
    """Builds the :class:`Response` a stream of Responses events amounts to.

    Attributes:
        chunks: how many events were added.
        terminal: the type of the terminal event seen (``"response.completed"``...), or None.
        error: the ``error`` event, once one arrived (the stream raises for it).
    """

    __slots__ = ("_base", "_final", "_items", "chunks", "error", "terminal")

    def __init__(self) -> None:
        self._base: Response | None = None
        self._final: Response | None = None
        self._items: dict[int, _Item] = {}
        self.chunks = 0
        self.terminal: str | None = None
        self.error: ResponseErrorEvent | None = None

    # -- feeding -------------------------------------------------------------------------

    def add(self, event: ResponseStreamEvent) -> None:
        """Fold one event in (unknown events are counted and otherwise ignored)."""
        self.chunks += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _text_delta(self, event: ResponseTextDeltaEvent) -> None:
        part = self._item(event.output_index).part(event.content_index, ResponseOutputText)
        part.pieces.append(event.delta)

    def _refusal_delta(self, event: ResponseRefusalDeltaEvent) -> None:
        part = self._item(event.output_index).part(event.content_index, ResponseOutputRefusal)
        part.pieces.append(event.delta)

    def _arguments_delta(self, event: ResponseFunctionCallArgumentsDeltaEvent) -> None:
        self._item(event.output_index, ResponseFunctionToolCall).arguments.append(event.delta)

    def _summary_delta(self, event: ResponseReasoningSummaryTextDeltaEvent) -> None:
        item = self._item(event.output_index, ResponseReasoningItem)
        item.summary_part(event.summary_index).pieces.append(event.delta)

    def _item_added(self, event: ResponseOutputItemAddedEvent) -> None:
        self._items[event.output_index] = _Item(event.item)

    def _item_done(self, event: ResponseOutputItemDoneEvent) -> None:
        self._item(event.output_index).done = event.item

    def _part(self, event: ResponseContentPartAddedEvent | ResponseContentPartDoneEvent) -> None:
        # The added part is empty; the done part is complete: either way it replaces
        # what the deltas had built for that index.
        self._item(event.output_index).parts[event.content_index] = _Part(event.part)

    def _summary_part(
        self, event: ResponseReasoningSummaryPartAddedEvent | ResponseReasoningSummaryPartDoneEvent
    ) -> None:
        item = self._item(event.output_index, ResponseReasoningItem)
        item.summary[event.summary_index] = _Part(event.part)

    def _text_done(self, event: ResponseTextDoneEvent) -> None:
        item = self._item(event.output_index)
        old = item.parts.get(event.content_index)
        model = old.model if old is not None and type(old.model) is ResponseOutputText else None
        done = ResponseOutputText(text=event.text) if model is None else model
        item.parts[event.content_index] = _Part(attrs.evolve(done, text=event.text))

    def _refusal_done(self, event: ResponseRefusalDoneEvent) -> None:
        item = self._item(event.output_index)
        item.parts[event.content_index] = _Part(ResponseOutputRefusal(refusal=event.refusal))

    def _summary_done(self, event: ResponseReasoningSummaryTextDoneEvent) -> None:
        item = self._item(event.output_index, ResponseReasoningItem)
        item.summary[event.summary_index] = _Part(ReasoningSummaryPart(text=event.text))

    def _arguments_done(self, event: ResponseFunctionCallArgumentsDoneEvent) -> None:
        item = self._item(event.output_index, ResponseFunctionToolCall)
        item.arguments = []
        if type(item.model) is ResponseFunctionToolCall:
            name = item.model.name if event.name is None else event.name
            item.model = attrs.evolve(item.model, arguments=event.arguments, name=name)

    def _lifecycle(self, event: ResponseCreatedEvent | ResponseInProgressEvent) -> None:
        self._base = event.response

    def _final_event(
        self, event: ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent
    ) -> None:
        self._final = event.response
        self.terminal = event.type

    def _error(self, event: ResponseErrorEvent) -> None:
        self.error = event

    def _item(self, index: int, kind: type = ResponseOutputMessage) -> _Item:
        item = self._items.get(index)
        if item is None:
            item = self._items[index] = _Item(kind())
        return item

    # -- reading ----------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether a terminal event (completed, incomplete or failed) arrived."""
        return self.terminal is not None

    @property
    def truncated(self) -> bool:
        """Whether the stream, if it ended now, ended too early (no terminal event)."""
        return self.terminal is None

    def output(self) -> list[ResponseOutputItem]:
        """The output items built from the stream so far, in ``output_index`` order."""
        return [item.build() for _, item in sorted(self._items.items())]

    def text(self) -> str:
        """The text of every ``output_text`` part so far (as ``Response.output_text``)."""
        return self.result().output_text

    def result(self) -> Response:
        """The response so far: the terminal event's once it came, else the partial one."""
        final = self._final
        if final is not None:
            if not final.output and self._items:
                return attrs.evolve(final, output=self.output())
            return final
        base = self._base if self._base is not None else Response(id="", status="in_progress")
        return attrs.evolve(base, output=self.output())

    def truncation_error(self, request_id: str | None = None) -> StreamTruncatedError:
        """The error for a stream that ended now, before its terminal event.

        Args:
            request_id: the request id the client sent.

        Returns:
            A :class:`StreamTruncatedError` whose ``partial`` is :meth:`result`.
        """
        return StreamTruncatedError(
            f"The Responses stream ended after {self.chunks} events, before "
            "response.completed, response.incomplete or response.failed.",
            partial=self.result(),
            chunks=self.chunks,
            request_id=request_id,
        )


_A = ResponseAccumulator
_HANDLERS: dict[type, Callable[[ResponseAccumulator, Any], None]] = {
    ResponseTextDeltaEvent: _A._text_delta,
    ResponseRefusalDeltaEvent: _A._refusal_delta,
    ResponseFunctionCallArgumentsDeltaEvent: _A._arguments_delta,
    ResponseReasoningSummaryTextDeltaEvent: _A._summary_delta,
    ResponseOutputItemAddedEvent: _A._item_added,
    ResponseOutputItemDoneEvent: _A._item_done,
    ResponseContentPartAddedEvent: _A._part,
    ResponseContentPartDoneEvent: _A._part,
    ResponseReasoningSummaryPartAddedEvent: _A._summary_part,
    ResponseReasoningSummaryPartDoneEvent: _A._summary_part,
    ResponseTextDoneEvent: _A._text_done,
    ResponseRefusalDoneEvent: _A._refusal_done,
    ResponseReasoningSummaryTextDoneEvent: _A._summary_done,
    ResponseFunctionCallArgumentsDoneEvent: _A._arguments_done,
    ResponseCreatedEvent: _A._lifecycle,
    ResponseInProgressEvent: _A._lifecycle,
    ResponseCompletedEvent: _A._final_event,
    ResponseIncompleteEvent: _A._final_event,
    ResponseFailedEvent: _A._final_event,
    ResponseErrorEvent: _A._error,
}


def has_content(event: Any) -> bool:
    """Whether an event carries content the caller would see.

    Content is a non-empty text, refusal, argument or reasoning-summary delta, a finished
    output item other than a reasoning item (whose visible part, its summary, arrives as
    deltas), or a terminal response. A fallback chain may move on to another target only
    while no such event reached the caller (``response.created``, ``response.in_progress``
    and added-but-empty items do not count).
    """
    kind = type(event)
    if kind in _DELTAS:
        return bool(event.delta)
    if kind is ResponseOutputItemDoneEvent:
        return type(event.item) is not ResponseReasoningItem
    return kind in _FINAL


def response_as_event(
    response: Response,
) -> ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent:
    """The terminal event a whole (non-stream) response amounts to, by its ``status``.

    For a JSON answer that came instead of a stream: fed to the accumulator, its result is
    ``response`` itself.
    """
    if response.status == "incomplete":
        return ResponseIncompleteEvent(response=response)
    if response.status == "failed":
        return ResponseFailedEvent(response=response)
    return ResponseCompletedEvent(response=response)
