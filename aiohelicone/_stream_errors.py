"""Layer 0 (core): the error a stream raises for each way it fails, built from what it knows.

Pure: the stream (``_stream_base.py``) passes its counts, what it accumulated and its ids;
these functions word the message and pick the class, so every stream class fails the same
way (the Responses stream words its own cut, from its accumulator).
"""

from __future__ import annotations

from typing import Any

from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ContentDecodingError,
    StreamDeadlineError,
    StreamFirstEventTimeoutError,
    StreamIdleTimeoutError,
    StreamInterruptedError,
    StreamTruncatedError,
)
from ._metadata import HeliconeMetadata

__all__ = ["decoding_cut", "interrupted", "read_error", "truncated"]


def read_error(
    exc: TimeoutError | APIConnectionError,
    *,
    chunks: int,
    past_deadline: bool,
    request_id: str | None,
) -> APIError:
    """The error for a failed read of a stream's body.

    Args:
        exc: a ``TimeoutError`` (a deadline of the stream's, ``anyio.fail_after``) or what
            the transport raised.
        chunks: the chunks read so far.
        past_deadline: for a ``TimeoutError``, whether the total deadline has passed (else
            it was the first-event deadline).
        request_id: the stream's ``Helicone-Request-Id``.
    """
    if not isinstance(exc, APIConnectionError):
        if past_deadline:
            return StreamDeadlineError(
                "The stream ran past its total deadline.", request_id=request_id
            )
        return StreamFirstEventTimeoutError(
            "No event arrived within the first-event timeout.", request_id=request_id
        )
    if isinstance(exc, APITimeoutError):
        if chunks == 0:
            return StreamFirstEventTimeoutError(
                "No event arrived within the read timeout.", request_id=request_id
            )
        return StreamIdleTimeoutError(
            f"The stream was idle for longer than its read (idle) timeout after {chunks} chunks.",
            request_id=request_id,
        )
    return APIConnectionError(
        f"The connection broke after {chunks} chunks: {exc.message}", request_id=request_id
    )


def decoding_cut(
    exc: ContentDecodingError, *, chunks: int, partial: Any, request_id: str | None
) -> StreamTruncatedError:
    """A compressed body that broke mid-stream: a cut stream, with what arrived."""
    problem = getattr(exc.__cause__, "problem", exc.message)
    return StreamTruncatedError(
        f"The stream ended after {chunks} chunks: its {exc.encoding!r} body "
        f"could not be decoded further: {problem}.",
        partial=partial,
        chunks=chunks,
        request_id=request_id,
    )


def truncated(*, chunks: int, partial: Any, request_id: str | None) -> StreamTruncatedError:
    """A chat or text stream whose body ended before ``[DONE]`` and every finish_reason."""
    return StreamTruncatedError(
        f"The stream ended after {chunks} chunks, before [DONE] and before "
        "every choice had a finish_reason.",
        partial=partial,
        chunks=chunks,
        request_id=request_id,
    )


def interrupted(
    cause: APIError,
    *,
    target: str,
    chunks: int,
    partial: Any,
    request_id: str | None,
    helicone: HeliconeMetadata,
) -> StreamInterruptedError:
    """A stream serving a fallback chain that failed after content reached the caller.

    Replaying another target would splice two answers together, so the failure is
    reported with what arrived, and nothing is replayed.
    """
    error = StreamInterruptedError(
        f"The stream from {target} failed after {chunks} chunks; nothing was "
        f"replayed from another target: {cause.message}",
        partial=partial,
        target=target,
        cause=cause,
        request_id=request_id,
    )
    error.helicone = helicone
    return error
