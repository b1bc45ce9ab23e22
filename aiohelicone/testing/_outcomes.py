"""Layer 8 (test kit): scripted outcomes: what one attempt does (:meth:`FakeGateway.script`).

Two families:

- *Gateway-level* outcomes keep the gateway's own logic: :class:`Reply` (the provider
  answers), :class:`Fail` (the provider refuses; the gateway records it and falls back to the
  next attempt, then aggregates the failures into its error envelope),
  :class:`InsufficientCredits` (Helicone's own 429: no fallback when first), and the
  wrappers :class:`Delay` and :class:`Respond`.
- *Wire-level* outcomes describe what reaches the client and end the request there:
  :class:`RawResponse`, :class:`Stall`, :class:`SlowDrip`, :class:`TruncatedStream`,
  :class:`InStreamError` and :class:`Reset`; :class:`Compressed` wraps any outcome and
  compresses the answer it leads to, as a proxy in front of the gateway would.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

__all__ = [
    "Compressed",
    "Delay",
    "Fail",
    "InStreamError",
    "InsufficientCredits",
    "Outcome",
    "RawResponse",
    "Reply",
    "Reset",
    "Respond",
    "SlowDrip",
    "Stall",
    "ToolCall",
    "TruncatedStream",
]


def _arguments_json(value: str | Mapping[str, Any]) -> str:
    return value if isinstance(value, str) else json.dumps(dict(value), separators=(",", ":"))


def _non_negative(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0 or math.isnan(value):
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _optional_headers(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if value is None else {k.lower(): v for k, v in value.items()}


@attrs.frozen
class ToolCall:
    """A function call the scripted model makes.

    Args:
        name: the function name.
        arguments: the JSON arguments, as a string (sent verbatim, even if invalid JSON)
            or a mapping (serialised).
        id: the call id; default ``call_<n>`` derived from the position.
    """

    name: str
    arguments: str = attrs.field(default="{}", converter=_arguments_json)
    id: str | None = None


def _tool_calls(value: Iterable[ToolCall] | None) -> tuple[ToolCall, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class Reply:
    """The provider answers successfully.

    Args:
        text: the content; a sequence gives one text per choice (``n``). None asks the
            gateway's ``responder`` (or, when the body asks for it, gives JSON following its
            ``json_schema`` response format, or calls one of its ``tools``: see
            ``_structured.py``). With ``tool_calls`` and no text the content is null.
        tool_calls: function calls to return (chat only); streamed as fragments
            interleaved by index.
        finish_reason: default ``"tool_calls"`` with tool calls, ``"length"`` when
            ``max_tokens`` cut the text, else ``"stop"``.
        usage: keys that override the computed ``usage``.
        delay: seconds before the answer starts (provider latency).
        headers: provider response headers passed through to the client.
        refusal: the model refuses: ``message.refusal`` holds this text (streamed as
            ``delta.refusal`` pieces) and the content is null.
    """

    text: str | Sequence[str] | None = None
    tool_calls: tuple[ToolCall, ...] | None = attrs.field(default=None, converter=_tool_calls)
    finish_reason: str | None = None
    usage: Mapping[str, int] | None = None
    delay: float = attrs.field(default=0.0, validator=_non_negative)
    headers: Mapping[str, str] | None = attrs.field(default=None, converter=_optional_headers)
    refusal: str | None = None


def _error_status(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 400 <= value <= 599:
        raise ValueError(f"{attribute.name} must be an HTTP error status (400-599), got {value}")


@attrs.frozen
class Fail:
    """The provider answers with an error status.

    The gateway reads the provider's message (``error.message`` of the body, else
    ``Request failed with status N``), records the attempt and falls back; when every attempt
    failed it answers with its envelope and status rules (a provider 400 surfaces as 500).
    With ``FakeGateway(passthrough_errors=True)`` (legacy proxies) the provider's answer is
    sent as is instead, and nothing else is tried.

    Args:
        status: the provider's status, 400-599.
        body: the provider's body (bytes, text, or JSON-able mapping); default an
            OpenAI-style ``{"error": {...}}`` with ``message``.
        headers: provider headers (only visible with ``passthrough_errors``).
        content_type: default ``application/json``.
        message: the error message for the default body.

    Raises:
        ValueError: ``status`` is not 400-599.
    """

    status: int = attrs.field(validator=_error_status)
    body: bytes | str | Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = attrs.field(default=None, converter=_optional_headers)
    content_type: str | None = None
    message: str | None = None


@attrs.frozen
class InsufficientCredits:
    """Helicone's wallet refuses the PTB attempt (an ``insufficient_credit_limit`` 429).

    On the first attempt the gateway stops (no fallback): 429 ``Insufficient credits``.
    """


@attrs.frozen
class RawResponse:
    """Send exactly this as the gateway's answer, bypassing all gateway logic.

    Args:
        status: the HTTP status.
        body: the body; a sequence of byte strings is sent as separate chunks.
        headers: response headers (no Helicone headers are added).
        content_type: the ``content-type`` header, if any.
        chunk_interval: seconds between chunks.
    """

    status: int
    body: bytes | str | Sequence[bytes] = b""
    headers: Mapping[str, str] | None = attrs.field(default=None, converter=_optional_headers)
    content_type: str | None = None
    chunk_interval: float = attrs.field(default=0.0, validator=_non_negative)


@attrs.frozen
class Stall:
    """Accept the request, then send nothing for ``seconds``.

    Args:
        seconds: how long; ``math.inf`` (default) stalls until the client gives up.
        after_chunks: None stalls before the status line; ``k`` sends the headers and the
            first ``k`` stream events (for a JSON answer, ``k`` = 0: headers only) first.
            After a finite stall the answer completes normally.
    """

    seconds: float = attrs.field(default=math.inf, validator=_non_negative)
    after_chunks: int | None = None


@attrs.frozen
class Delay:
    """Wait, then behave as ``then`` (which may be a :class:`Fail`, and fall back after it).

    Args:
        seconds: the wait.
        then: the outcome after the wait.
    """

    seconds: float = attrs.field(validator=_non_negative)
    then: Outcome = attrs.field(factory=Reply)


@attrs.frozen
class SlowDrip:
    """A successful answer whose chunks are spaced by ``interval`` seconds.

    For a JSON answer the body is sent in eight pieces spaced the same way.

    Args:
        interval: seconds between chunks.
        reply: the answer to drip.
    """

    interval: float = attrs.field(validator=_non_negative)
    reply: Reply = attrs.field(factory=Reply)


@attrs.frozen
class TruncatedStream:
    """The answer stops after ``after_chunks`` stream events, without ``data: [DONE]``.

    For a JSON answer, half of the body is sent.

    Args:
        after_chunks: how many events reach the client.
        clean: True ends the HTTP body normally; False aborts the connection.
        reply: the answer that gets cut.
    """

    after_chunks: int = 1
    clean: bool = True
    reply: Reply = attrs.field(factory=Reply)


@attrs.frozen
class InStreamError:
    """After ``after_chunks`` events the stream carries ``data: {"error": ...}``.

    For a non-streaming request the error JSON is sent as a 200 body.

    Args:
        after_chunks: events before the error.
        error_json: the event's JSON; default an OpenAI ``server_error``.
        done: whether ``data: [DONE]`` follows the error (the gateway's normaliser adds it).
    """

    after_chunks: int = 1
    error_json: Mapping[str, Any] | None = None
    done: bool = True


def _positive_or_none(
    _instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be >= 1 or None, got {value!r}")


def _corruption(_instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value not in (None, "checksum", "truncate"):
        raise ValueError(f"{attribute.name} must be None, 'checksum' or 'truncate', got {value!r}")


@attrs.frozen
class Compressed:
    """A compressing proxy between the gateway and the client: ``then``'s answer, compressed.

    The answer gets ``Content-Encoding``, loses its ``Content-Length`` (a one-piece answer
    is sent with the compressed length, a stream chunked) and each body piece is compressed
    and flushed on its own, so stream events still leave one by one. It compresses whatever
    the client's ``Accept-Encoding`` says, like the proxies that compress streams sent
    with ``identity``. ``FakeGateway(compress=...)`` applies one to every answer.

    Args:
        coding: ``"gzip"``, ``"deflate"`` (zlib format), ``"deflate-raw"`` (raw deflate,
            labelled ``deflate``), ``"br"`` (needs ``brotli``), ``"zstd"`` (needs
            ``backports.zstd`` before Python 3.14), or several applied in order
            (``"gzip, br"``).
        then: the outcome whose answer is compressed (it may fail, stall or cut the stream).
        corrupt: ``"checksum"`` flips a bit of the gzip/zlib trailer's checksum;
            ``"truncate"`` ends the body halfway through its last compressed piece (the
            HTTP framing still ends cleanly). None sends it intact.
        write_size: send the compressed body in writes of this many bytes (1: every byte
            its own write and chunk); None: one write per piece.
        header: send this ``Content-Encoding`` value instead of the codings' names (with
            the body compressed as ``coding`` says), e.g. to label it wrongly.

    Raises:
        ValueError: ``corrupt`` or ``write_size`` is not one of the values above.
    """

    coding: str = "gzip"
    then: Outcome = attrs.field(factory=Reply)
    corrupt: str | None = attrs.field(default=None, validator=_corruption)
    write_size: int | None = attrs.field(default=None, validator=_positive_or_none)
    header: str | None = None


@attrs.frozen
class Reset:
    """Abort the TCP connection without answering (RST on the loopback server)."""


@attrs.frozen
class Respond:
    """Let user code decide: ``func(record)`` returns an outcome or a text (a :class:`Reply`).

    Args:
        func: called with the :class:`RequestRecord`; may be a coroutine function.
    """

    # The record is typed Any here: ``_records`` names :class:`Compressed` for its
    # ``compression`` field, and importing it back would close an import cycle.
    func: Callable[[Any], Outcome | str | Awaitable[Outcome | str]]


Outcome: TypeAlias = (
    Reply
    | Compressed
    | Fail
    | InsufficientCredits
    | RawResponse
    | Stall
    | Delay
    | SlowDrip
    | TruncatedStream
    | InStreamError
    | Reset
    | Respond
)
