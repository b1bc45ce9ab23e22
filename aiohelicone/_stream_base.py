"""Layer 3 (streams): ``AsyncStream``, the base of every stream: lifecycle, reading, SSE pump.

A stream class carries what differs between APIs: the model each event becomes
(``_chunk_type``), the accumulator that builds what the chunks amount to
(``_accumulator_type``, from ``_accumulate.py``), the whole answer a non-stream reply is read
as (``_answer_type``) and how it becomes chunks (``_whole_as_chunk``).
``ChatCompletionStream`` and ``CompletionStream`` (``_streaming.py``) are two;
``ResponseStream`` (``_responses_stream.py``) is the third, which also reads each event's SSE
``event:`` name (:meth:`AsyncStream._handle`) and has its own test of content
(:meth:`AsyncStream._is_content`) and of a cut stream (:meth:`AsyncStream._truncated`). A
stream is opened by the send path (``Sender.request(call, cast_to, stream_cls=...)`` calls
:meth:`AsyncStream.open`), which sends through ``Sender.send(call, stream=True)`` within the
stream's budgets, and reads a whole answer that came instead (``_stream_open.py``); the
fallback layer uses :func:`read_ahead`, :func:`stream_status` and :func:`serve_fallback`,
never a stream's private attributes.

Lifecycle: one constructor, one state (``_state``: reading, ended, closed) and one close
method (:meth:`AsyncStream.aclose`), which every path that ends a stream goes through.

Guarantees, each tested over a real loopback socket on asyncio and trio:

- The HTTP response is closed when iteration ends, breaks (``async with``/``aclose``), raises
  or is cancelled; cancellation is re-raised unchanged.
- A stream dropped without closing releases its connection when it is freed (it is a plain
  class, not an async generator, so there is no reference cycle to wait for the collector).
- After ``data: [DONE]`` the rest of the body is drained briefly so the connection goes back
  to the pool.
- A body read to its end without ``[DONE]`` (Responses streams never send one) is released
  at once, so its connection goes back to the pool too.
- A body that ends before ``[DONE]`` while some choice has no ``finish_reason`` raises
  :class:`StreamTruncatedError` with what arrived; a body that ends after every choice
  finished (without ``[DONE]``, as some gateways do) completes normally.
- A compressed body (a proxy compressed it although streams ask for ``identity``) is
  decoded piece by piece as it arrives (``_transport.py``). One whose compressed data
  breaks (a bad gzip trailer, a truncated deflate stream) raises
  :class:`StreamTruncatedError` with what was decoded before, and the
  :class:`ContentDecodingError` naming the coding as its cause: a careful caller already
  handles a cut stream, and this is one. A coding the client cannot decode at all raises
  :class:`ContentDecodingError` before the first chunk.
- An event whose ``error`` is not null (and that has no ``choices``) raises the status error
  that error implies (``in_stream=True``); ``"error": null``, as in some usage chunks, is no
  error. A corrupt event raises :class:`APIResponseValidationError`, never a raw JSON error.
- A 200 that is not ``text/event-stream`` is read as a normal answer (``_stream_open.py``);
  it is never an empty "successful" stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import attrs

from ._accumulate import has_content
from ._converter import ShapeError, structure_hook
from ._decode import bad_shape, helicone_of, not_json
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    ContentDecodingError,
    StreamInterruptedError,
    StreamTruncatedError,
    error_in_answer,
    reports_error,
)
from ._json import loads_function
from ._metadata import HeliconeMetadata
from ._sse import SSEDecodeError, SSEDecoder
from ._stream_errors import decoding_cut, interrupted, read_error, truncated
from ._stream_open import read_whole, send_stream, whole_answer, whole_answer_data
from ._timeouts import StreamTimeouts

if TYPE_CHECKING:
    from typing import Self

    from ._send import Call, Sender
    from ._transport import StreamingResponse

__all__ = ["AsyncStream", "read_ahead", "serve_fallback", "stream_status"]

T = TypeVar("T")

# A stream's state: reading its body; ended (the body was read to its end, or the answer
# came whole; chunks may still be pending); closed (by the caller or by an error).
_READING = "reading"
_ENDED = "ended"
_CLOSED = "closed"

#: How long, and how much, we read after ``[DONE]`` to hand the connection back to the pool.
_DRAIN_SECONDS = 0.25
_DRAIN_BYTES = 64 * 1024


# -- the stream ------------------------------------------------------------------------


class AsyncStream(Generic[T]):
    """An async iterator over the chunks of a streamed answer.

    Use ``async with stream:`` (or ``await stream.aclose()``) to release the connection
    when you stop early; a stream read to its end closes itself.

    Attributes:
        helicone: Helicone metadata read from the response headers.
        request_id: the ``Helicone-Request-Id`` this client sent.
    """

    # What a stream class says about its API (the Responses stream sets its own):
    #: the model each event's JSON becomes;
    _chunk_type: ClassVar[type[Any]]
    #: builds what the chunks amount to (``add``, ``chunks``, ``finished``, ``result()``);
    _accumulator_type: ClassVar[type[Any]]
    #: the model a whole (non-stream) answer is read as, when one comes instead.
    _answer_type: ClassVar[type[Any]]

    __slots__ = (
        "_acc",
        "_deadline",
        "_decoder",
        "_fallback_target",
        "_first_event",
        "_hook",
        "_loads",
        "_pending",
        "_response",
        "_state",
        "helicone",
        "request_id",
    )

    def __init__(
        self,
        response: StreamingResponse | None,
        *,
        request_id: str | None,
        helicone: HeliconeMetadata,
        timeouts: StreamTimeouts,
        started: float,
    ) -> None:
        """A stream over ``response`` (None: an answer that came whole, see ``open_stream``)."""
        self._response = response
        self._state = _READING if response is not None else _ENDED
        self._decoder = SSEDecoder()
        self._pending: list[Any] = []
        # Set by a client-side fallback chain once this stream serves it (serve_fallback).
        self._fallback_target: str | None = None
        self.request_id = request_id
        self.helicone = helicone
        self._acc = self._accumulator_type()
        self._hook: Callable[[Any], Any] = structure_hook(self._chunk_type)
        self._loads = loads_function()
        self._first_event = None if timeouts.first_event is None else started + timeouts.first_event
        self._deadline = None if timeouts.total is None else started + timeouts.total

    @classmethod
    async def open(cls, sender: Sender, call: Call) -> Self:
        """Send ``call`` (a stream request) and return the stream over its answer.

        The send path's constructor (``Sender.request(..., stream_cls=cls)`` calls it);
        users get streams from ``create(..., stream=True)``.

        Args:
            sender: the send path to send through (retries before the first byte).
            call: the prepared stream request.

        Returns:
            The open stream.

        Raises:
            APIStatusError, APIConnectionError, APIResponseValidationError,
            StreamFirstEventTimeoutError, StreamDeadlineError: no stream could be opened.
        """
        response, timeouts, started = await send_stream(sender, call)
        meta = helicone_of(response.headers, call.request_id)
        ctype = response.headers.get("content-type", "")
        stream = cls(
            response, request_id=call.request_id, helicone=meta, timeouts=timeouts, started=started
        )
        if "text/event-stream" in ctype:
            return stream
        # Not a stream: read it as a normal answer, so it is never an empty "success".
        body = await stream._read_whole(response, sender.transport.max_response_bytes)
        data = whole_answer_data(
            body,
            status=response.status_code,
            headers=response.headers,
            content_type=ctype,
            request_id=call.request_id,
            helicone=meta,
        )
        stream._deliver_whole(data, response.status_code)
        return stream

    # -- iteration -----------------------------------------------------------------------

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        pending = self._pending
        while not pending:
            if self._state is not _READING:
                raise StopAsyncIteration
            try:
                await self._fill()
            except BaseException as exc:
                await self.aclose()
                if self._fallback_target is not None and isinstance(exc, APIError):
                    raise self._interrupted(exc) from exc
                raise
        item: T = pending.pop(0)
        return item

    def _interrupted(self, cause: APIError) -> StreamInterruptedError:
        # Content already reached the caller: the failure is reported with what arrived.
        return interrupted(
            cause,
            target=self._fallback_target or "?",
            chunks=self._acc.chunks,
            partial=self.accumulated,
            request_id=self.request_id,
            helicone=self.helicone,
        )

    async def _read_ahead(self) -> None:
        """Read, without yielding, until a chunk with content (or the end) is pending.

        "Content" is text, a refusal, a tool call or a finish reason: a role-only first
        chunk does not count. The chunks read stay pending and reach the caller first.
        Used by fallback chains, which may still move on while this raises.
        """
        try:
            is_content = self._is_content
            while self._state is _READING and not any(map(is_content, self._pending)):
                await self._fill()
        except BaseException:
            await self.aclose()
            raise

    async def _fill(self) -> None:
        response = self._response
        if response is None:  # closed by another task meanwhile
            self._state = _CLOSED
            return
        try:
            if self._acc.chunks and self._deadline is None:
                chunk = await response.next_chunk()  # the per-chunk path: nothing to watch
            else:
                chunk = await self._read_within_deadline(response)
        except (TimeoutError, APIConnectionError) as exc:
            raise self._read_error(exc) from exc
        except ContentDecodingError as exc:
            if exc.unsupported:
                raise  # nothing was read: the coding itself is the problem
            raise self._decoding_cut(exc) from exc
        if chunk is None:
            self._end_of_body()
            # Read to its end (a Responses stream has no [DONE]): release it now, not at GC.
            await self.aclose()
            return
        try:
            events = self._decoder.decode(chunk)
        except SSEDecodeError as exc:
            raise APIResponseValidationError(
                f"Invalid event stream: {exc}",
                status_code=response.status_code,
                request_id=self.request_id,
            ) from exc
        for event in events:
            data = event.data
            if data == "[DONE]":
                self._state = _ENDED
                await self._drain()
                return
            self._handle(data, event.event)

    async def _read_within_deadline(self, response: StreamingResponse) -> bytes | None:
        """The next piece of the body, within the first-event and total deadlines."""
        deadline = self._first_event if self._acc.chunks == 0 else None
        if self._deadline is not None:
            deadline = self._deadline if deadline is None else min(deadline, self._deadline)
        if deadline is None:
            return await response.next_chunk()
        import anyio

        with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
            return await response.next_chunk()

    def _read_error(self, exc: TimeoutError | APIConnectionError) -> APIError:
        """The error to raise for a failed read of the body."""
        past_deadline = False
        if not isinstance(exc, APIConnectionError) and self._deadline is not None:
            import anyio  # a deadline of ours (anyio.fail_after): which one?

            past_deadline = anyio.current_time() >= self._deadline
        return read_error(
            exc, chunks=self._acc.chunks, past_deadline=past_deadline, request_id=self.request_id
        )

    def _decoding_cut(self, exc: ContentDecodingError) -> StreamTruncatedError:
        """A compressed body that broke mid-stream: a cut stream, with what arrived."""
        return decoding_cut(
            exc, chunks=self._acc.chunks, partial=self._acc.result(), request_id=self.request_id
        )

    @staticmethod
    def _is_content(chunk: Any) -> bool:
        """Whether a chunk carries content (a fallback chain may move on until one does)."""
        return has_content(chunk)

    def _load(self, data: str) -> Any:
        """One event's ``data`` as JSON (an ``APIResponseValidationError`` when it is not)."""
        try:
            return self._loads(data)
        except ValueError as exc:
            raise not_json(
                data,
                status_code=200,
                request_id=self.request_id,
                source=None,
                problem="A stream event is not valid JSON",
            ) from exc

    def _handle(self, data: str, name: str | None = None) -> None:
        """Decode one event's ``data`` into a pending chunk (``name``: its SSE ``event:``)."""
        obj = self._load(data)
        # The key test first: an ordinary chunk pays nothing more for the error rule.
        if type(obj) is dict and "error" in obj and reports_error(obj):
            raise error_in_answer(
                obj,
                self.helicone.headers if self.helicone else {},
                request_id=self.request_id,
                in_stream=True,
            )
        try:
            chunk = self._hook(obj)
        except ShapeError as exc:
            raise bad_shape(
                exc,
                data,
                what="A stream event does not have the expected shape",
                status_code=200,
                request_id=self.request_id,
            ) from exc
        self._acc.add(chunk)
        self._pending.append(chunk)

    def _end_of_body(self) -> None:
        self._state = _ENDED
        tail = self._decoder.flush()
        if tail is not None and tail.data and tail.data != "[DONE]":
            # The body ended inside an event. If that event is complete JSON, use it:
            # the cut came after the last byte that mattered.
            with contextlib.suppress(APIResponseValidationError):
                self._handle(tail.data, tail.event)
        if self._acc.finished:
            return
        raise self._truncated()

    def _truncated(self) -> StreamTruncatedError:
        """The error for a body that ended before the stream finished."""
        return truncated(
            chunks=self._acc.chunks, partial=self._acc.result(), request_id=self.request_id
        )

    async def _drain(self) -> None:
        import anyio

        response, self._response = self._response, None
        if response is None:
            return
        try:
            with anyio.move_on_after(_DRAIN_SECONDS):
                read = 0
                while read <= _DRAIN_BYTES:
                    piece = await response.next_chunk()
                    if piece is None:
                        break
                    read += len(piece)
        except APIError:
            pass  # the answer was complete; a broken tail does not matter
        finally:
            await _close_response(response)

    # -- closing -------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the stream and release its connection (safe to call twice, from any task).

        Chunks already read (a fallback chain reads ahead) are still delivered; nothing
        more is read. The close is shielded from cancellation, so the connection is
        released even when the closing task is being cancelled.
        """
        if self._state is _READING:
            self._state = _CLOSED
        response, self._response = self._response, None
        if response is not None:
            await _close_response(response)

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Dropped without closing (e.g. `break` and forget). No event loop work here:
        # shut the socket down so the server stops at once, and free the pool slot.
        response = getattr(self, "_response", None)
        if response is not None:
            self._response = None
            response.abandon()

    # -- accumulated results ---------------------------------------------------------------

    @property
    def accumulated(self) -> Any:
        """What the stream amounts to so far (a ``ChatCompletion`` or ``Completion``)."""
        result = self._acc.result()
        object.__setattr__(result, "helicone", self.helicone)
        return result

    async def get_final_completion(self) -> Any:
        """Read the rest of the stream and return the completion it amounts to.

        Returns:
            A :class:`ChatCompletion` for chat streams, a :class:`Completion` for text.

        Raises:
            StreamTruncatedError, APIStatusError, APIConnectionError, APITimeoutError,
            APIResponseValidationError: as iteration would.
        """
        async for _ in self:
            pass
        return self.accumulated

    def text_deltas(self) -> AsyncIterator[str]:
        """Iterate over just the text of choice 0 as it arrives (skips empty deltas)."""
        return _TextDeltas(self)

    # -- non-SSE answers --------------------------------------------------------------------

    @classmethod
    def _whole_as_chunk(cls, answer: Any) -> Any:
        """The one chunk a whole answer (``_answer_type``) is delivered as."""
        return answer

    async def _read_whole(self, response: StreamingResponse, max_bytes: int | None) -> bytes:
        """Read an answer that is not an event stream, within the stream's budgets; close it.

        The whole body is the stream's first (and only) event: the first-event and total
        deadlines bound the time until all of it has arrived, the read timeout (the idle
        budget) bounds each gap, and it is capped like one event (``read_whole``).
        """
        deadline = self._first_event
        if self._deadline is not None:
            deadline = self._deadline if deadline is None else min(deadline, self._deadline)
        try:
            return await read_whole(response, max_bytes, deadline)
        except (TimeoutError, APIConnectionError) as exc:
            raise self._read_error(exc) from exc
        finally:
            await self.aclose()
            # The answer came whole: what it holds is delivered as chunks (_deliver_whole).
            self._state = _ENDED

    def _deliver_whole(self, data: Any, status: int) -> None:
        """Turn a JSON answer that came instead of a stream into chunks."""
        answer = whole_answer(data, self._answer_type, status, self.request_id)
        chunk = self._whole_as_chunk(answer)
        self._acc.add(chunk)
        self._pending.append(chunk)


class _TextDeltas:
    __slots__ = ("_stream",)

    def __init__(self, stream: AsyncStream[Any]) -> None:
        self._stream = stream

    def __aiter__(self) -> _TextDeltas:
        return self

    async def __anext__(self) -> str:
        while True:
            chunk = await self._stream.__anext__()
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                text = choice.delta.content if hasattr(choice, "delta") else choice.text
                if text:
                    return str(text)


async def _close_response(response: StreamingResponse) -> None:
    import anyio

    with anyio.CancelScope(shield=True):
        await response.aclose()


# -- for the fallback layer (chains fail over until the first content) ----------------------


async def read_ahead(stream: AsyncStream[Any]) -> None:
    """Read, without yielding, until a chunk with content (or the end) is pending.

    Args:
        stream: a stream no chunk of which reached the caller yet.

    Raises:
        APIError: what reading raised (the stream is closed then).
    """
    await stream._read_ahead()


def stream_status(stream: AsyncStream[Any]) -> int | None:
    """The HTTP status of a stream's answer (None once its response is released)."""
    response = stream._response
    return response.status_code if response is not None else None


def serve_fallback(stream: AsyncStream[Any], target: str, attempts: tuple[Any, ...]) -> None:
    """Mark ``stream`` as serving a client-side chain for ``target``.

    Its ``.helicone.attempts`` becomes ``attempts``, and a failure after its first content
    raises :class:`StreamInterruptedError` (nothing is replayed from another target).
    """
    stream.helicone = attrs.evolve(stream.helicone, attempts=attempts)
    stream._fallback_target = target
