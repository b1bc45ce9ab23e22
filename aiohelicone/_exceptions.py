"""Layer 0 (core): the aiohelicone exception tree.

Names follow openai-python so that existing ``except`` clauses carry over::

    HeliconeError
    ├── InvalidInputError (also a ValueError)  bad arguments, refused before sending
    └── APIError
        ├── APIStatusError                     the gateway answered with an error status
        │   ├── BadRequestError                400
        │   ├── AuthenticationError            401
        │   ├── PermissionDeniedError          403
        │   ├── NotFoundError                  404
        │   ├── ConflictError                  409
        │   ├── UnprocessableEntityError       422
        │   ├── RateLimitError                 429
        │   └── InternalServerError            >= 500
        ├── APIConnectionError                 no usable answer: refused, reset, cut off
        │   └── APITimeoutError
        │       ├── StreamFirstEventTimeoutError   no event within the first-event budget
        │       ├── StreamIdleTimeoutError         too long between two events
        │       └── StreamDeadlineError            the whole stream took too long
        ├── APIResponseValidationError         an answer that is not what the API promises
        │   ├── ContentDecodingError           its Content-Encoding is unknown here, or corrupt
        │   └── StructuredOutputError          the model's JSON does not fit the requested class
        │       ├── LengthFinishReasonError        cut off at the token limit before it was whole
        │       └── ContentFilterFinishReasonError stopped by the provider's content filter
        ├── StreamTruncatedError               the stream ended before it was complete
        ├── StreamInterruptedError             a fallback stream failed after yielding content
        └── FallbackExhaustedError             every target of a fallback chain failed

Errors carry structure (status, request id, body, gateway error details) and build their
message from it; the error bodies they are read from are parsed in ``_error_bodies.py``.
Nothing here imports httpx2: the one place where httpx2 exceptions become these is
``_transport.py``. The API key never appears in any message or attribute: every
error passes its message, body and headers through ``_secrets.scrub`` when it is built, so a
key a server echoes back is masked (``sk-hel...***``) whichever path built the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._error_bodies import (
    ErrorDetail,
    ParsedErrorBody,
    implied_status,
    parse_error_body,
    parse_error_data,
    reports_error,
)
from ._secrets import scrub, scrub_text

if TYPE_CHECKING:
    from ._metadata import HeliconeMetadata

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContentDecodingError",
    "ContentFilterFinishReasonError",
    "ErrorDetail",
    "FallbackExhaustedError",
    "HeliconeError",
    "InternalServerError",
    "InvalidInputError",
    "LengthFinishReasonError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamDeadlineError",
    "StreamFirstEventTimeoutError",
    "StreamIdleTimeoutError",
    "StreamInterruptedError",
    "StreamTruncatedError",
    "StructuredOutputError",
    "UnprocessableEntityError",
    "error_from_parsed",
    "error_in_answer",
    "implied_status",
    "make_status_error",
    "parse_error_body",
    "parse_error_data",
    "reports_error",
    "status_error_class",
    "ParsedErrorBody",
]


class HeliconeError(Exception):
    """Base class of every error aiohelicone raises."""


class InvalidInputError(HeliconeError, ValueError):
    """An argument was refused before anything was sent.

    Attributes:
        field: the name of the argument or option that was wrong (dotted for nested ones).
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class APIError(HeliconeError):
    """An error talking to the gateway.

    Attributes:
        message: the human-readable message.
        request_id: the ``Helicone-Request-Id`` this client sent (use it for feedback/scores).
        helicone: Helicone metadata, when known: read from the error response's headers,
            and/or ``attempts`` of a client-side fallback chain (None otherwise).
    """

    helicone: HeliconeMetadata | None = None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        message = scrub_text(message)
        self.message = message
        self.request_id = request_id
        super().__init__(message)


class APIStatusError(APIError):
    """The gateway answered with a 4xx or 5xx status (or sent an error inside a stream).

    Attributes:
        status_code: the HTTP status (for an in-stream error, the status it implies).
        body: the parsed JSON body, or the raw text when the body was not JSON.
        headers: the response headers.
        code: the gateway or provider error code (``error.code``), if any.
        type: the OpenAI-style ``error.type``, if any.
        param: the OpenAI-style ``error.param``, if any.
        details: the gateway's per-attempt details (its envelope's ``error.details``).
        in_stream: True when the error arrived inside a 200 event stream.
        in_body: True when the error was reported in the body of a 2xx answer (an
            in-stream event, or a ``{"error": {...}}`` body) rather than by an error status:
            ``status_code`` is then the status the error implies (its ``status``/``code``
            or ``type``; 500 when it says none), not the HTTP status.
        retry_after: seconds the server asked us to wait before trying again
            (``retry-after-ms``, ``Retry-After`` or ``Helicone-RateLimit-Reset``), or None.
        helicone: Helicone metadata read from the response headers (set by the client).
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        details: tuple[ErrorDetail, ...] = (),
        in_stream: bool = False,
        in_body: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        self.body = scrub(body)
        self.headers: Mapping[str, str] = scrub(dict(headers or {}))
        self.code = code
        self.type = type
        self.param = param
        self.details = details
        self.in_stream = in_stream
        self.in_body = in_body or in_stream
        self.helicone: HeliconeMetadata | None = None
        where = " (in stream)" if in_stream else " (in a 2xx answer)" if in_body else ""
        text = f"Error code: {status_code}{where} - {message}"
        if code:
            text += f" [code={code}]"
        if details:
            text += " attempts: " + "; ".join(
                f"{d.source or '?'} -> {d.status_code or '?'} {d.type or ''}".rstrip()
                for d in details
            )
        super().__init__(text, request_id=request_id)
        self.message = scrub_text(message)


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the Helicone key (or a BYOK provider key) was refused."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429.

    Attributes:
        retry_after: seconds the server asked us to wait, when it said (None otherwise).
            Every :class:`APIStatusError` has it; for a 429 it is the one to read.
        helicone_generated: True when Helicone itself refused (a rate-limit policy hit,
            marked ``X-Helicone-Error: rate_limited``, or credits ran out), as opposed to
            a provider's 429 passed on. Retrying elsewhere does not help in that case.
        reason: ``"rate_limit_policy"``, ``"insufficient_credits"``, ``"provider"`` or None.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = _rate_limit_reason(self)
        self.helicone_generated = self.reason in ("rate_limit_policy", "insufficient_credits")


class InternalServerError(APIStatusError):
    """HTTP 500 or above."""


class APIConnectionError(APIError):
    """The gateway could not be reached, or the connection broke before a full answer."""

    def __init__(
        self, message: str = "Connection error.", *, request_id: str | None = None
    ) -> None:
        super().__init__(message, request_id=request_id)


class APITimeoutError(APIConnectionError):
    """A timeout fired (connect, read, write or pool; or a stream budget, see subclasses)."""

    def __init__(
        self, message: str = "Request timed out.", *, request_id: str | None = None
    ) -> None:
        super().__init__(message, request_id=request_id)


class StreamFirstEventTimeoutError(APITimeoutError):
    """No event arrived within the stream's first-event budget."""


class StreamIdleTimeoutError(APITimeoutError):
    """The gap between two stream events exceeded the read (idle) timeout."""


class StreamDeadlineError(APITimeoutError):
    """The whole stream ran past its total deadline."""


class APIResponseValidationError(APIError):
    """The answer was not what the API promises (invalid JSON, wrong shape, empty body).

    Attributes:
        status_code: the HTTP status of the answer.
        body: the raw text of the answer (or of the offending stream event).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = scrub(body)
        super().__init__(message, request_id=request_id)


class ContentDecodingError(APIResponseValidationError):
    """The answer's body could not be decoded from its ``Content-Encoding``.

    Either the answer names a coding this installation cannot decode (``unsupported``:
    e.g. ``snappy``, or ``br`` without the ``compression`` extra), or the compressed data is
    corrupt or cut short (a bad gzip trailer, a truncated deflate stream). It is never
    retried: the same answer would come back the same way. A stream whose compressed body
    breaks after it started raises :class:`StreamTruncatedError` with what arrived instead,
    with this error as its ``__cause__``.

    Attributes:
        encoding: the content coding at fault, as the answer named it (``"gzip"``).
        unsupported: True when the coding is not one this client decodes (then the body
            was not read), False when the data was corrupt.
        status_code: the HTTP status of the answer.
        body: None (the raw body is binary and is not kept).
    """

    def __init__(
        self,
        message: str,
        *,
        encoding: str,
        unsupported: bool,
        status_code: int,
        request_id: str | None = None,
    ) -> None:
        self.encoding = encoding
        self.unsupported = unsupported
        super().__init__(message, status_code=status_code, body=None, request_id=request_id)


class StructuredOutputError(APIResponseValidationError):
    """The model's answer could not be read as the requested structure.

    Raised by parsing (``chat.completions.parse``) when the message content, or a tool
    call's arguments, is not JSON or does not fit the attrs class asked for. ``body`` and
    ``raw`` hold the text the model sent, so nothing is lost.

    Attributes:
        raw: the text the model sent (content, or the tool call's ``arguments``), with
            any registered secret masked.
        target: the qualified name of the class it was structured into.
        path: where in the JSON the problem is (``lines[0].price``; empty for the root).
        problem: what was wrong.
        completion: the whole answer (a ``ChatCompletion``; a ``Response`` from
            ``responses.parse``), or None.
    """

    def __init__(
        self,
        problem: str,
        *,
        raw: str | None,
        target: str,
        path: str = "",
        completion: object = None,
        request_id: str | None = None,
    ) -> None:
        # Masked like every error's body: a model can echo a key it was shown.
        self.raw = None if raw is None else scrub_text(raw)
        self.target = target
        self.path = path
        self.problem = problem
        self.completion = completion
        where = f" at {path}" if path else ""
        super().__init__(
            f"the answer does not fit {target}{where}: {problem}",
            status_code=200,
            body=raw,
            request_id=request_id,
        )


class LengthFinishReasonError(StructuredOutputError):
    """The answer stopped at the token limit (``finish_reason == "length"``; for a Response,
    ``incomplete_details.reason == "max_output_tokens"``) before it was whole, so it cannot be
    parsed: raise ``max_completion_tokens`` (``max_output_tokens``) or ask for less.

    Attributes:
        usage: the answer's token usage (a ``Usage`` or ``ResponseUsage``), or None.
    """

    def __init__(
        self,
        *,
        raw: str | None,
        target: str,
        completion: object = None,
        request_id: str | None = None,
    ) -> None:
        self.usage = getattr(completion, "usage", None)
        # A chat completion counts completion_tokens and says finish_reason 'length'; a
        # Response counts output_tokens and says incomplete_details.reason 'max_output_tokens'.
        if getattr(completion, "object", None) == "response":
            tokens = getattr(self.usage, "output_tokens", None)
            spent = f" after {tokens} output tokens" if tokens is not None else ""
            why = "status 'incomplete', reason 'max_output_tokens'"
        else:
            tokens = getattr(self.usage, "completion_tokens", None)
            spent = f" after {tokens} completion tokens" if tokens is not None else ""
            why = "finish_reason 'length'"
        super().__init__(
            f"the answer was cut off at the token limit{spent} ({why})",
            raw=raw,
            target=target,
            completion=completion,
            request_id=request_id,
        )


class ContentFilterFinishReasonError(StructuredOutputError):
    """The provider's content filter stopped the answer (``finish_reason ==
    "content_filter"``), so it cannot be parsed."""

    def __init__(
        self,
        *,
        raw: str | None,
        target: str,
        completion: object = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            "the provider's content filter stopped the answer (finish_reason 'content_filter')",
            raw=raw,
            target=target,
            completion=completion,
            request_id=request_id,
        )


class StreamTruncatedError(APIError):
    """The stream ended (cleanly or not) before it was complete.

    Attributes:
        partial: what arrived before the cut, accumulated (a ``ChatCompletion`` or
            ``Completion`` with whatever content and tool-call fragments arrived).
        chunks: how many chunks were received.
    """

    def __init__(
        self, message: str, *, partial: object, chunks: int, request_id: str | None = None
    ) -> None:
        self.partial = partial
        self.chunks = chunks
        super().__init__(message, request_id=request_id)


class StreamInterruptedError(APIError):
    """A fallback stream failed after content reached the caller; nothing was replayed.

    Attributes:
        partial: the accumulated output that reached the caller (a ``ChatCompletion`` or
            ``Completion``).
        target: the model spec of the target that failed, e.g. ``gpt-4o-mini/openai``.
        cause: the error that ended the stream (also ``__cause__``).
        helicone: the stream's metadata; ``helicone.attempts`` is the chain's attempt log
            up to the target that was serving.
    """

    def __init__(
        self,
        message: str,
        *,
        partial: object,
        target: str,
        cause: BaseException,
        request_id: str | None = None,
    ) -> None:
        self.partial = partial
        self.target = target
        self.cause = cause
        super().__init__(message, request_id=request_id)


class FallbackExhaustedError(APIError):
    """Every target of a fallback chain failed (or the chain's deadline ran out).

    The message summarises the attempts, e.g. ``every target of the fallback chain
    failed (2 attempts): gpt-4o-mini/openai: 500; claude-3.5-haiku/anthropic:
    APIConnectionError``. The last target's error is also ``__cause__``.

    Attributes:
        attempts: every attempt, in order: ``Attempt`` records with the target, outcome,
            status, error, elapsed time and request id (also ``helicone.attempts``).
        reason: why the chain stopped, when it was not simply that every target failed
            (the deadline ran out, every target was cooling down); None otherwise.
    """

    def __init__(self, attempts: tuple[Any, ...], *, reason: str | None = None) -> None:
        self.attempts = attempts
        self.reason = reason
        head = reason or f"every target of the fallback chain failed ({len(attempts)} attempts)"
        lines = "; ".join(f"{a.target}: {a.outcome}" for a in attempts)
        request_id = next(
            (a.request_id for a in reversed(attempts) if a.request_id is not None), None
        )
        super().__init__(f"{head}: {lines}" if lines else head, request_id=request_id)


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def _rate_limit_reason(err: APIStatusError) -> str | None:
    lowered = {k.lower(): v for k, v in err.headers.items()}
    if lowered.get("x-helicone-error", "").lower() == "rate_limited":
        return "rate_limit_policy"
    if any(d.type == "insufficient_credit_limit" for d in err.details) or (
        "insufficient credit" in err.message.lower()
    ):
        return "insufficient_credits"
    # A policy hit answered by the AI gateway's error aggregation may lack the
    # X-Helicone-Error header; its attempt detail is then typed "rate_limited", while a
    # provider's 429 is typed "request_failed" (../shared/helicone-api.md §5.2).
    if err.details and any(d.type == "rate_limited" for d in err.details):
        return "rate_limit_policy"
    if err.code == "rate_limited" and not err.details:
        return "rate_limit_policy"
    return "provider"


def error_in_answer(
    data: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    request_id: str | None,
    in_stream: bool = False,
    retry_after: float | None = None,
) -> APIStatusError:
    """The status error for an object that :func:`reports_error`, flagged ``in_body``."""
    return error_from_parsed(
        implied_status(data.get("error")),
        parse_error_data(data),
        headers,
        request_id=request_id,
        retry_after=retry_after,
        in_stream=in_stream,
        in_body=True,
    )


def make_status_error(
    status_code: int,
    raw: bytes,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
    retry_after: float | None = None,
    in_stream: bool = False,
) -> APIStatusError:
    """Build the typed error for an error answer."""
    parsed = parse_error_body(raw, status_code)
    return error_from_parsed(
        status_code,
        parsed,
        headers,
        request_id=request_id,
        retry_after=retry_after,
        in_stream=in_stream,
    )


def error_from_parsed(
    status_code: int,
    parsed: ParsedErrorBody,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
    retry_after: float | None = None,
    in_stream: bool = False,
    in_body: bool = False,
) -> APIStatusError:
    """Build the typed error from an already parsed body."""
    cls = status_error_class(status_code)
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "body": parsed.body,
        "headers": headers,
        "request_id": request_id,
        "code": parsed.code,
        "type": parsed.type,
        "param": parsed.param,
        "details": parsed.details,
        "in_stream": in_stream,
        "in_body": in_body,
        "retry_after": retry_after,
    }
    return cls(parsed.message, **kwargs)
