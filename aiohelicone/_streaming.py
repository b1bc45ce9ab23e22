"""Stream objects: ``AsyncStream`` over a server-sent-events answer.

What the chunks amount to is built by the accumulators of ``_accumulate.py``.

Guarantees, each tested over a real loopback socket on asyncio and trio:

- The HTTP response is closed when iteration ends, breaks (``async with``/``aclose``), raises
  or is cancelled; cancellation is re-raised unchanged.
- A stream dropped without closing releases its connection when it is freed (it is a plain
  class, not an async generator, so there is no reference cycle to wait for the collector).
- After ``data: [DONE]`` the rest of the body is drained briefly so the connection goes back
  to the pool.
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
- A 200 that is not ``text/event-stream`` is read as a normal answer: an error body raises,
  a completion is delivered as chunks; it is never an empty "successful" stream. That body
  is the stream's one event: the stream's deadlines bound it (see :class:`StreamTimeouts`)
  and it is capped like an event (16 MiB, or ``max_response_bytes`` when lower).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._accumulate import (
    ChatCompletionAccumulator,
    CompletionAccumulator,
    completion_as_chunk,
    has_content,
)
from ._converter import ShapeError, structure, structure_hook
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ContentDecodingError,
    StreamDeadlineError,
    StreamFirstEventTimeoutError,
    StreamIdleTimeoutError,
    StreamInterruptedError,
    StreamTruncatedError,
    error_in_answer,
    reports_error,
)
from ._json import loads_function
from ._metadata import HeliconeMetadata
from ._models import ChatCompletion, ChatCompletionChunk, Completion
from ._sse import DEFAULT_MAX_EVENT_BYTES, SSEDecodeError, SSEDecoder

if TYPE_CHECKING:
    from ._client import AsyncHelicone, _Call
    from ._transport import StreamingResponse

__all__ = [
    "AsyncStream",
    "ChatCompletionStream",
    "CompletionStream",
    "StreamTimeouts",
    "open_stream",
]

T = TypeVar("T")

#: How long, and how much, we read after ``[DONE]`` to hand the connection back to the pool.
_DRAIN_SECONDS = 0.25
_DRAIN_BYTES = 64 * 1024


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    ):
        raise ValueError(f"{attribute.name} must be a positive number of seconds or None")


@attrs.frozen
class StreamTimeouts:
    """Time budgets of a stream, on top of the connect/write/pool timeouts.

    Args:
        first_event: seconds from sending the request to the first event (None: the read
            timeout applies alone).
        idle: longest gap between two reads of the stream, in seconds (None: the client's
            read timeout). A slow stream whose gaps each stay within it completes.
        total: a deadline for the whole stream, in seconds from the request (None: none).

    An answer to a stream request that is not an event stream (a JSON completion or error
    sent instead) is one event that arrives when its whole body has: ``first_event`` and
    ``total`` bound the time from the request until the body is complete
    (:class:`StreamFirstEventTimeoutError`, :class:`StreamDeadlineError`), and ``idle``
    bounds each gap while it arrives (a gap too long raises
    :class:`StreamFirstEventTimeoutError`, as it does before a stream's first event).
    """

    first_event: float | None = attrs.field(default=None, validator=_positive_or_none)
    idle: float | None = attrs.field(default=None, validator=_positive_or_none)
    total: float | None = attrs.field(default=None, validator=_positive_or_none)


# -- the stream ------------------------------------------------------------------------


class AsyncStream(Generic[T]):
    """An async iterator over the chunks of a streamed answer.

    Use ``async with stream:`` (or ``await stream.aclose()``) to release the connection
    when you stop early; a stream read to its end closes itself.

    Attributes:
        helicone: Helicone metadata read from the response headers.
        request_id: the ``Helicone-Request-Id`` this client sent.
    """

    __slots__ = (
        "_acc",
        "_closed",
        "_deadline",
        "_decoder",
        "_done",
        "_fallback_target",
        "_first_event",
        "_hook",
        "_loads",
        "_pending",
        "_response",
        "_synthetic",
        "helicone",
        "request_id",
    )

    def __init__(
        self,
        response: StreamingResponse,
        *,
        kind: str,
        request_id: str | None,
        helicone: HeliconeMetadata,
        timeouts: StreamTimeouts,
        started: float,
    ) -> None:
        self._response: StreamingResponse | None = response
        self._decoder = SSEDecoder()
        self._pending: list[Any] = []
        self._done = False
        self._closed = False
        self._synthetic = False
        # Set by a client-side fallback chain once this stream serves it (_fallback.py).
        self._fallback_target: str | None = None
        self.request_id = request_id
        self.helicone = helicone
        self._acc: ChatCompletionAccumulator | CompletionAccumulator
        self._hook: Callable[[Any], Any]
        self._loads = loads_function()
        if kind == "chat":
            self._acc = ChatCompletionAccumulator()
            self._hook = structure_hook(ChatCompletionChunk)
        else:
            self._acc = CompletionAccumulator()
            self._hook = structure_hook(Completion)
        self._first_event = None if timeouts.first_event is None else started + timeouts.first_event
        self._deadline = None if timeouts.total is None else started + timeouts.total

    # -- iteration -----------------------------------------------------------------------

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        pending = self._pending
        while not pending:
            if self._done:
                raise StopAsyncIteration
            try:
                await self._fill()
            except BaseException as exc:
                await self._close_shielded()
                if self._fallback_target is not None and isinstance(exc, APIError):
                    raise self._interrupted(exc) from exc
                raise
        item: T = pending.pop(0)
        return item

    def _interrupted(self, cause: APIError) -> StreamInterruptedError:
        # Content already reached the caller: replaying another model would splice two
        # answers together, so the failure is reported with what arrived.
        target = self._fallback_target or "?"
        error = StreamInterruptedError(
            f"The stream from {target} failed after {self._acc.chunks} chunks; nothing was "
            f"replayed from another target: {cause.message}",
            partial=self.accumulated,
            target=target,
            cause=cause,
            request_id=self.request_id,
        )
        error.helicone = self.helicone
        return error

    async def _read_ahead(self) -> None:
        """Read, without yielding, until a chunk with content (or the end) is pending.

        "Content" is text, a refusal, a tool call or a finish reason: a role-only first
        chunk does not count. The chunks read stay pending and reach the caller first.
        Used by fallback chains, which may still move on while this raises.
        """
        try:
            while not self._done and not any(map(has_content, self._pending)):
                await self._fill()
        except BaseException:
            await self._close_shielded()
            raise

    async def _fill(self) -> None:
        response = self._response
        if response is None:
            self._done = True
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
                self._done = True
                await self._drain()
                return
            self._handle(data)

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
        if not isinstance(exc, APIConnectionError):  # a deadline of ours (anyio.fail_after)
            import anyio

            if self._deadline is not None and anyio.current_time() >= self._deadline:
                return StreamDeadlineError(
                    "The stream ran past its total deadline.", request_id=self.request_id
                )
            return StreamFirstEventTimeoutError(
                "No event arrived within the first-event timeout.", request_id=self.request_id
            )
        if isinstance(exc, APITimeoutError):
            if self._acc.chunks == 0:
                return StreamFirstEventTimeoutError(
                    "No event arrived within the read timeout.", request_id=self.request_id
                )
            return StreamIdleTimeoutError(
                "The stream was idle for longer than its read (idle) timeout after "
                f"{self._acc.chunks} chunks.",
                request_id=self.request_id,
            )
        return APIConnectionError(
            f"The connection broke after {self._acc.chunks} chunks: {exc.message}",
            request_id=self.request_id,
        )

    def _decoding_cut(self, exc: ContentDecodingError) -> StreamTruncatedError:
        """A compressed body that broke mid-stream: a cut stream, with what arrived."""
        problem = getattr(exc.__cause__, "problem", exc.message)
        return StreamTruncatedError(
            f"The stream ended after {self._acc.chunks} chunks: its {exc.encoding!r} body "
            f"could not be decoded further: {problem}.",
            partial=self._acc.result(),
            chunks=self._acc.chunks,
            request_id=self.request_id,
        )

    def _handle(self, data: str) -> None:
        try:
            obj = self._loads(data)
        except ValueError as exc:
            raise APIResponseValidationError(
                f"A stream event is not valid JSON: {data[:200]!r}",
                status_code=200,
                body=data,
                request_id=self.request_id,
            ) from exc
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
            raise APIResponseValidationError(
                f"A stream event does not have the expected shape: {exc}",
                status_code=200,
                body=data,
                request_id=self.request_id,
            ) from exc
        self._acc.add(chunk)
        self._pending.append(chunk)

    def _end_of_body(self) -> None:
        self._done = True
        tail = self._decoder.flush()
        if tail is not None and tail.data and tail.data != "[DONE]":
            # The body ended inside an event. If that event is complete JSON, use it:
            # the cut came after the last byte that mattered.
            with contextlib.suppress(APIResponseValidationError):
                self._handle(tail.data)
        if self._synthetic or self._acc.finished:
            return
        partial = self._acc.result()
        raise StreamTruncatedError(
            f"The stream ended after {self._acc.chunks} chunks, before [DONE] and before "
            "every choice had a finish_reason.",
            partial=partial,
            chunks=self._acc.chunks,
            request_id=self.request_id,
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
        """Close the stream and release its connection (safe to call twice, from any task)."""
        self._done = True
        self._closed = True
        response, self._response = self._response, None
        if response is not None:
            await _close_response(response)

    async def _close_shielded(self) -> None:
        self._done = True
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

    async def _read_whole(self, response: StreamingResponse, max_bytes: int | None) -> bytes:
        """Read an answer that is not an event stream, within the stream's budgets; close it.

        The whole body is the stream's first (and only) event: the first-event and total
        deadlines bound the time until all of it has arrived, the read timeout (the idle
        budget) bounds each gap, and it is capped like one event (``DEFAULT_MAX_EVENT_BYTES``,
        or the client's ``max_response_bytes`` when that is lower).
        """
        import anyio

        if max_bytes is None or max_bytes > DEFAULT_MAX_EVENT_BYTES:
            limit, name = DEFAULT_MAX_EVENT_BYTES, "the event cap of a stream"
        else:
            limit, name = max_bytes, "max_response_bytes"
        deadline = self._first_event
        if self._deadline is not None:
            deadline = self._deadline if deadline is None else min(deadline, self._deadline)
        try:
            if deadline is None:
                return await response.read(limit, limit_name=name)
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                return await response.read(limit, limit_name=name)
        except (TimeoutError, APIConnectionError) as exc:
            raise self._read_error(exc) from exc
        finally:
            await self._close_shielded()

    def _deliver_whole(self, data: Any, status: int) -> None:
        """Turn a JSON completion that came instead of a stream into chunks."""
        self._synthetic = True
        try:
            if isinstance(self._acc, ChatCompletionAccumulator):
                completion = structure(data, ChatCompletion)
                chunk: Any = completion_as_chunk(completion)
            else:
                chunk = structure(data, Completion)
        except ShapeError as exc:
            raise APIResponseValidationError(
                f"The gateway answered {status} with JSON that is neither a stream nor a "
                f"completion: {exc}",
                status_code=status,
                body=data,
                request_id=self.request_id,
            ) from exc
        self._acc.add(chunk)
        self._pending.append(chunk)
        self._done = True


class ChatCompletionStream(AsyncStream[ChatCompletionChunk]):
    """A stream of :class:`ChatCompletionChunk` (``chat.completions.create(stream=True)``)."""

    __slots__ = ()

    @property
    def accumulated(self) -> ChatCompletion:
        """The :class:`ChatCompletion` the chunks so far amount to."""
        result: ChatCompletion = super().accumulated
        return result

    async def get_final_completion(self) -> ChatCompletion:
        """Read the rest of the stream and return the :class:`ChatCompletion` it amounts to.

        Returns:
            The accumulated completion, with ``.helicone`` set.

        Raises:
            StreamTruncatedError, APIStatusError, APIConnectionError, APITimeoutError,
            APIResponseValidationError: as iteration would.
        """
        result: ChatCompletion = await super().get_final_completion()
        return result


class CompletionStream(AsyncStream[Completion]):
    """A stream of text :class:`Completion` chunks (``completions.create(stream=True)``)."""

    __slots__ = ()

    @property
    def accumulated(self) -> Completion:
        """The :class:`Completion` the chunks so far amount to."""
        result: Completion = super().accumulated
        return result

    async def get_final_completion(self) -> Completion:
        """Read the rest of the stream and return the :class:`Completion` it amounts to.

        Returns:
            The accumulated completion, with ``.helicone`` set.

        Raises:
            StreamTruncatedError, APIStatusError, APIConnectionError, APITimeoutError,
            APIResponseValidationError: as iteration would.
        """
        result: Completion = await super().get_final_completion()
        return result


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


async def open_stream(client: AsyncHelicone, call: _Call, kind: str) -> AsyncStream[Any]:
    """Send a streaming request (with retries before the first byte) and wrap the answer."""
    import anyio

    started = anyio.current_time()
    timeouts = client._stream_timeouts(call)
    budgets = [b for b in (timeouts.first_event, timeouts.total) if b is not None]
    if budgets:
        # The first-event and total budgets run from the request, so they cover the wait
        # for the response headers (and any retries before them) too.
        try:
            with anyio.fail_after(min(budgets)):
                response = await client._open_with_retries(call)
        except TimeoutError as exc:
            cls_ = (
                StreamFirstEventTimeoutError
                if timeouts.first_event is not None and timeouts.first_event == min(budgets)
                else StreamDeadlineError
            )
            raise cls_(
                f"No answer within the stream's {min(budgets)} s budget.",
                request_id=call.request_id,
            ) from exc
    else:
        response = await client._open_with_retries(call)
    meta = HeliconeMetadata.from_headers(response.headers, sent_request_id=call.request_id)
    cls: type[AsyncStream[Any]] = ChatCompletionStream if kind == "chat" else CompletionStream
    stream = cls(
        response,
        kind=kind,
        request_id=call.request_id,
        helicone=meta,
        timeouts=timeouts,
        started=started,
    )
    ctype = response.headers.get("content-type", "")
    if "text/event-stream" not in ctype:
        # Not a stream: read it as a normal answer, so it is never an empty "success".
        body = await stream._read_whole(response, client._transport.max_response_bytes)
        stream._done = False
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise APIResponseValidationError(
                f"The gateway answered {response.status_code} ({ctype or 'no content type'}) "
                f"to a stream request with a body that is neither an event stream nor JSON: "
                f"{body[:200]!r}",
                status_code=response.status_code,
                body=body.decode("utf-8", errors="replace"),
                request_id=call.request_id,
            ) from exc
        if type(data) is dict and reports_error(data):
            error = error_in_answer(data, response.headers, request_id=call.request_id)
            error.helicone = meta
            raise error
        stream._deliver_whole(data, response.status_code)
    return stream
