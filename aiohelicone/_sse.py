"""Layer 0 (core): a sans-I/O decoder for Server-Sent Events (``text/event-stream``).

The decoder turns the raw bytes of a response body into :class:`ServerSentEvent` records,
following the WHATWG HTML Living Standard, §9.2.5 "Parsing an event stream" and §9.2.6
"Interpreting an event stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html).
It does no I/O and imports nothing outside the standard library, so the streaming layer
drives it with whatever chunks the transport hands over::

    decoder = SSEDecoder()
    async for chunk in response.aiter_bytes():
        for event in decoder.decode(chunk):
            ...
    if (partial := decoder.flush()) is not None:
        ...  # the body ended in the middle of an event: report a truncated stream

Where this decoder departs from a browser's ``EventSource``, it is on purpose:

* ``flush()`` hands back an unterminated final block instead of silently dropping it (the
  spec discards it), so the caller can tell a truncated stream from a complete one.
* Events are bounded in size (``max_event_bytes``) and an oversized one raises
  :class:`SSEDecodeError` rather than buffering without limit.
* ``retry`` is reported on the event of the block that carried it; there is no reconnection
  logic here. (A block with no ``data`` dispatches nothing, as the spec says, so a
  ``retry``-only block goes unseen.)

This module sits in the per-chunk hot path, so it works on bytes. Lines are found with
``bytes.splitlines``, which splits on LF, CR and CRLF (exactly the spec's line ends); a CRLF
split across two chunks still counts once. Only field values are decoded, one complete line
at a time, so a UTF-8 sequence split across chunks is never seen half-way. Invalid UTF-8
becomes U+FFFD, as the spec's "UTF-8 decode" does.
"""

from __future__ import annotations

__all__ = ["SSEDecodeError", "SSEDecoder", "ServerSentEvent"]

#: The largest event a decoder accepts by default (16 MiB).
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LF = 10
_CR = 13
_COLON = 58


class ServerSentEvent:
    """One dispatched event of a ``text/event-stream``.

    Instances are treated as immutable: the decoder never changes one after handing it
    out, and neither should callers. They compare equal when all four fields are equal.

    Args:
        event: the event type; ``"message"`` when the block had no (or an empty) ``event``
            field.
        data: the ``data`` lines of the block joined with ``"\\n"``.
        id: the last event ID as of this event (it persists from earlier blocks, and an
            ``id`` field with no value sets it to ``""``); ``None`` if no ``id`` field has
            been seen in the stream.
        retry: the reconnection time in milliseconds from a ``retry`` field of this block,
            or ``None``.
    """

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self,
        event: str = "message",
        data: str = "",
        id: str | None = None,
        retry: int | None = None,
    ) -> None:
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (
            self.data == other.data
            and self.event == other.event
            and self.id == other.id
            and self.retry == other.retry
        )

    def __hash__(self) -> int:
        return hash((self.event, self.data, self.id, self.retry))

    def __repr__(self) -> str:
        return (
            f"ServerSentEvent(event={self.event!r}, data={self.data!r}, "
            f"id={self.id!r}, retry={self.retry!r})"
        )


class SSEDecodeError(Exception):
    """The event stream cannot be decoded within the configured bounds.

    Raised when one event (the lines of a block, plus an unterminated line still being
    received) grows past ``max_event_bytes``.

    Attributes:
        limit: the ``max_event_bytes`` bound that was exceeded.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"server-sent event larger than max_event_bytes={limit} bytes; "
            "the stream cannot be decoded further"
        )


class SSEDecoder:
    """Incremental decoder from ``text/event-stream`` bytes to events.

    Feed every chunk of the body to :meth:`decode`, then call :meth:`flush` once at the
    end. Any way of cutting the same bytes into chunks yields the same events.

    The size bound counts the bytes of every line of the block being assembled (comments
    included, line terminators not) plus the unterminated line received so far, so memory
    stays bounded even when a single line never ends. Events completed before the
    oversized block are still returned; the :class:`SSEDecodeError` is raised by that call
    if it completed no event, otherwise by the next call to :meth:`decode` or
    :meth:`flush`. After an error every call raises again, until :meth:`flush` resets the
    decoder.

    Args:
        max_event_bytes: the largest event accepted, in bytes (default 16 MiB).

    Raises:
        ValueError: if ``max_event_bytes`` is not a positive integer.
    """

    __slots__ = (
        "_bom",
        "_buf",
        "_cr",
        "_data",
        "_error",
        "_event",
        "_fields",
        "_last_id",
        "_max",
        "_retry",
        "_size",
        "_slow",
    )

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise ValueError(f"max_event_bytes must be an int, got {max_event_bytes!r}")
        if max_event_bytes <= 0:
            raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes}")
        self._max = max_event_bytes
        self._last_id: str | None = None
        self._reset()

    def _reset(self) -> None:
        # Line level: the unterminated line, whether the previous chunk ended in CR (so a
        # leading LF in the next one finishes that CRLF), whether a BOM may still come.
        self._buf = bytearray()
        self._cr = False
        self._bom = True
        # ``_slow`` is true whenever ``decode`` cannot take the fast path: buffered bytes,
        # a pending CR, the stream start (BOM) or a pending error.
        self._slow = True
        self._error: SSEDecodeError | None = None
        # Block level: the data lines, event type and retry of the block being assembled,
        # whether it had any event/id/retry field (for ``flush``), and its size so far.
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._fields = False
        self._size = 0

    def decode(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next chunk of the stream.

        Args:
            chunk: the next bytes of the body, of any length (empty is fine).

        Returns:
            The events completed by this chunk, in stream order (often empty).

        Raises:
            SSEDecodeError: if an event exceeds ``max_event_bytes`` (see the class notes).
        """
        if self._slow:
            lines = self._split_slow(chunk)
        else:
            # Fast path: nothing pending. bytes.splitlines() splits on exactly the three line
            # ends of the spec (LF, CR, CRLF), and nothing else.
            lines = chunk.splitlines()
            if chunk and chunk[-1] != _LF:
                if chunk[-1] == _CR:
                    self._cr = True  # maybe the first half of a CRLF
                else:
                    self._buf += lines.pop()
                self._slow = True

        events: list[ServerSentEvent] = []
        data = self._data
        size = self._size
        limit = self._max
        for line in lines:
            if not line:
                # A blank line ends the block (§9.2.6 "dispatch the event"). A block with
                # an empty data buffer dispatches nothing, even if it set an event type.
                if data:
                    events.append(
                        ServerSentEvent(
                            self._event or "message", "\n".join(data), self._last_id, self._retry
                        )
                    )
                    data.clear()
                if self._fields:
                    self._event = ""
                    self._retry = None
                    self._fields = False
                size = 0
                continue
            size += len(line)
            if size > limit:
                return self._fail(events)
            if line[:6] == b"data: ":
                data.append(line[6:].decode("utf-8", "replace"))
            elif line[0] != 58:  # not a ":" comment
                self._field(line)

        self._size = size
        # The unterminated line counts too (but not a possible BOM still being received).
        if self._buf and size + len(self._buf) > limit and not self._bom:
            return self._fail(events)
        return events

    def flush(self) -> ServerSentEvent | None:
        """Signal the end of the stream and reset the decoder.

        A browser discards a final block that no blank line terminated. This returns it
        instead (a final line without a line terminator included), so that the caller can
        report a truncated stream rather than lose it silently.

        Returns:
            The unterminated final block as an event, or ``None`` if the stream ended on an
            event boundary or the pending block had no ``data``, ``event``, ``id`` or
            ``retry`` field.

        Raises:
            SSEDecodeError: if an event exceeded ``max_event_bytes`` (the decoder is reset
                all the same).
        """
        error = self._error
        # While ``_bom`` is set, ``_buf`` can only hold a partial BOM: no field to process.
        if error is None and self._buf and not self._bom and self._buf[0] != _COLON:
            self._field(bytes(self._buf))
        pending: ServerSentEvent | None = None
        if error is None and (self._data or self._fields):
            pending = ServerSentEvent(
                self._event or "message", "\n".join(self._data), self._last_id, self._retry
            )
        self._last_id = None
        self._reset()
        if error is not None:
            raise error
        return pending

    def _split_slow(self, chunk: bytes) -> list[bytes]:
        """Split a chunk into complete lines, keeping the unterminated rest in ``_buf``."""
        if self._error is not None:
            raise self._error
        if self._bom:
            # The BOM may only appear at the very start of the stream, and may be split.
            if self._buf:
                chunk = bytes(self._buf) + chunk
                self._buf.clear()
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._buf += chunk
                return []
            self._bom = False
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if self._cr and chunk:
            # The previous chunk ended in CR: a leading LF completes that CRLF. (An empty
            # chunk in between changes nothing.)
            self._cr = False
            if chunk[0] == 10:
                chunk = chunk[1:]
        lines = chunk.splitlines()
        tail = b""
        if chunk and chunk[-1] != _LF:
            if chunk[-1] == _CR:
                self._cr = True
            else:
                tail = lines.pop()
        if self._buf and lines:
            lines[0] = bytes(self._buf) + lines[0]
            self._buf.clear()
        self._buf += tail
        self._slow = bool(self._buf) or self._cr
        return lines

    def _field(self, line: bytes) -> None:
        """Process one non-comment line of a block (§9.2.6 "process the field")."""
        colon = line.find(b":")
        if colon < 0:
            name = line
            value = b""
        else:
            name = line[:colon]
            # One space after the colon is dropped, no more.
            value = line[colon + 2 :] if line.startswith(b" ", colon + 1) else line[colon + 1 :]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
            self._fields = True
        elif name == b"id":
            # An ID containing NUL is ignored entirely. The last event ID is not reset at
            # dispatch: it carries over to later events until another ``id`` field.
            if 0 not in value:
                self._last_id = value.decode("utf-8", "replace")
                self._fields = True
        elif name == b"retry" and value.isdigit():
            # bytes.isdigit() is true for ASCII digits only, and false for b"". A value too
            # long for int() (over sys.get_int_max_str_digits()) is ignored like a bad one.
            try:
                self._retry = int(value)
            except ValueError:
                return
            self._fields = True
        # Any other field name is ignored.

    def _fail(self, events: list[ServerSentEvent]) -> list[ServerSentEvent]:
        """Record an oversized event: drop the buffers and raise now or on the next call."""
        error = SSEDecodeError(self._max)
        self._buf.clear()
        self._data.clear()
        self._error = error
        self._slow = True
        if not events:
            raise error
        return events
