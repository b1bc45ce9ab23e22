"""Layer 3 (streams): ``ResponseStream``, the stream of a ``responses.create(stream=True)``.

It is an :class:`AsyncStream` (``_stream_base.py``) with the same lifecycle and guarantees
(``break``, cancellation and GC release the connection; :class:`StreamTimeouts` apply; a
whole JSON answer that came instead of a stream is delivered as its terminal event). What
differs from chat streams:

- each event is typed by its ``type`` (or its SSE ``event:`` name when the JSON has none),
  see ``_responses_events.parse_event``; an unknown kind is an :class:`UnknownResponseEvent`;
- an ``error`` event raises the typed status error its ``code`` implies (``in_stream=True``);
- the stream ends normally with ``response.completed``, ``response.incomplete`` or
  ``response.failed`` (a failed response is an answer, as in openai-python, not an
  exception); a body that ends before one of them raises :class:`StreamTruncatedError`
  whose ``partial`` is the :class:`Response` built so far. OpenAI sends no ``[DONE]``; one
  is tolerated;
- a fallback chain may move on until the first event with content (``has_content``: a
  non-empty delta, a finished non-reasoning item, a terminal response).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ._converter import ShapeError
from ._decode import bad_shape
from ._exceptions import StreamTruncatedError
from ._responses_accumulate import ResponseAccumulator, has_content, response_as_event
from ._responses_events import (
    ResponseErrorEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    UnknownResponseEvent,
    error_of,
    parse_event,
)
from ._responses_models import Response
from ._stream_base import AsyncStream

__all__ = ["ResponseStream"]


class ResponseStream(AsyncStream[ResponseStreamEvent]):
    """A stream of typed Responses events (``responses.create(stream=True)``).

    Iterate it for every event, or use :meth:`text_deltas` for just the text; then (or
    instead) ``await stream.get_final_response()`` for the :class:`Response` the events
    amount to (equal to what the non-stream call returns). Use ``async with stream:`` (or
    ``await stream.aclose()``) when you stop early.

    Attributes:
        helicone: Helicone metadata read from the response headers.
        request_id: the ``Helicone-Request-Id`` this client sent.
    """

    # Events are structured by kind in _handle (parse_event); the base's hook is unused.
    _chunk_type = UnknownResponseEvent
    _accumulator_type = ResponseAccumulator
    _answer_type = Response

    __slots__ = ()

    @classmethod
    def _whole_as_chunk(cls, answer: Response) -> ResponseStreamEvent:
        return response_as_event(answer)

    @staticmethod
    def _is_content(chunk: Any) -> bool:
        return has_content(chunk)

    def _handle(self, data: str, name: str | None = None) -> None:
        obj = self._load(data)
        try:
            event = parse_event(name, obj)
        except ShapeError as exc:
            raise bad_shape(
                exc,
                data,
                what="A Responses stream event does not have the expected shape",
                status_code=200,
                request_id=self.request_id,
            ) from exc
        if type(event) is ResponseErrorEvent:
            self._acc.add(event)
            error = error_of(
                event,
                self.helicone.headers if self.helicone else {},
                request_id=self.request_id,
            )
            error.helicone = self.helicone
            raise error
        self._acc.add(event)
        self._pending.append(event)

    def _truncated(self) -> StreamTruncatedError:
        error: StreamTruncatedError = self._acc.truncation_error(self.request_id)
        return error

    @property
    def accumulated(self) -> Response:
        """The :class:`Response` the events so far amount to (``.helicone`` set)."""
        result: Response = super().accumulated
        return result

    async def get_final_response(self) -> Response:
        """Read the rest of the stream and return the :class:`Response` it amounts to.

        Returns:
            The final response (its ``status`` may be ``incomplete`` or ``failed``), with
            ``.helicone`` set.

        Raises:
            StreamTruncatedError: the body ended before a terminal event (``partial`` is
                the response so far).
            APIStatusError: an ``error`` event (a subclass per implied status).
            APIConnectionError, APITimeoutError, APIResponseValidationError: as iteration.
        """
        result: Response = await super().get_final_completion()
        return result

    async def get_final_completion(self) -> Response:
        """The same as :meth:`get_final_response` (the name chat streams use)."""
        return await self.get_final_response()

    def text_deltas(self) -> AsyncIterator[str]:
        """Iterate over just the text deltas (``response.output_text.delta``) as they arrive."""
        return _ResponseTextDeltas(self)


class _ResponseTextDeltas:
    __slots__ = ("_stream",)

    def __init__(self, stream: ResponseStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _ResponseTextDeltas:
        return self

    async def __anext__(self) -> str:
        stream = self._stream
        while True:
            event = await stream.__anext__()
            if type(event) is ResponseTextDeltaEvent and event.delta:
                return event.delta
