"""Layer 0 (core): reading answers in one place: JSON, typed models, status errors.

Every body the client reads goes through here: whole gateway answers (``_send.py``), stream
events (``_stream_base.py``) and JSON bodies sent instead of a stream (``_stream_open.py``),
REST Results (``_rest_connection.py``). So there is one JSON loader (orjson when installed, see
``_json.py``), one way a body that is not JSON or not of the expected shape becomes an
:class:`APIResponseValidationError` (chained to the parser's error, with an excerpt), and
one place an error answer becomes its typed :class:`APIStatusError` with ``.helicone`` set.
Pure: no I/O, no httpx2 or anyio import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._converter import ShapeError
from ._exceptions import (
    APIResponseValidationError,
    APIStatusError,
    ParsedErrorBody,
    error_from_parsed,
    error_in_answer,
    parse_error_body,
)
from ._json import loads_function
from ._metadata import HeliconeMetadata, metadata_from_lowered
from ._retry import retry_after_seconds
from ._secrets import scrub

__all__ = [
    "answer_error",
    "bad_shape",
    "helicone_of",
    "not_json",
    "parse_json",
    "status_error",
    "structured",
]

M = TypeVar("M")

_EXCERPT = 200


def _text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def not_json(
    data: str | bytes,
    *,
    status_code: int,
    request_id: str | None,
    source: str | None = "The gateway",
    content_type: str | None = None,
    problem: str = "with a body that is not JSON",
) -> APIResponseValidationError:
    """The error for a text that is not JSON (raise it ``from`` the parser's error).

    Args:
        data: the text (a body, or one stream event's data).
        status_code: the HTTP status that came with it.
        request_id: the ``Helicone-Request-Id`` sent (None for REST calls).
        source: who answered, as the message starts (``"The gateway"``, ``"The REST
            API"``); None for a stream event, whose message is ``problem`` alone.
        content_type: the answer's content type, shown in the message when given.
        problem: what was wrong, as the message says it.

    Returns:
        The error, with an excerpt of the text in its message and the text as ``body``.
    """
    excerpt = _text(data[:_EXCERPT])
    if source is None:
        message = f"{problem}: {excerpt!r}"
    else:
        shown = f" ({content_type})" if content_type is not None else ""
        message = f"{source} answered {status_code}{shown} {problem}: {excerpt!r}"
    return APIResponseValidationError(
        message, status_code=status_code, body=_text(data), request_id=request_id
    )


def parse_json(
    data: str | bytes,
    *,
    status_code: int,
    request_id: str | None,
    source: str | None = "The gateway",
    content_type: str | None = None,
    problem: str = "with a body that is not JSON",
    empty: str = "error",
) -> Any:
    """Parse a JSON text, or raise the validation error that says what came instead.

    Args:
        data, status_code, request_id, source, content_type, problem: as for
            :func:`not_json`.
        empty: for a blank text: ``"error"`` (raise "... with an empty body"), ``"none"``
            (return None), or ``"parse"`` (let the parser refuse it).

    Returns:
        The parsed value.

    Raises:
        APIResponseValidationError: the text is not JSON (or blank, with ``empty="error"``),
            chained to the parser's error.
    """
    if empty != "parse" and not data.strip():
        if empty == "none":
            return None
        raise APIResponseValidationError(
            f"{source} answered {status_code} with an empty body.",
            status_code=status_code,
            body="",
            request_id=request_id,
        )
    try:
        return loads_function()(data)
    except ValueError as exc:
        raise not_json(
            data,
            status_code=status_code,
            request_id=request_id,
            source=source,
            content_type=content_type,
            problem=problem,
        ) from exc


def bad_shape(
    exc: ShapeError, data: Any, *, what: str, status_code: int, request_id: str | None
) -> APIResponseValidationError:
    """The error for JSON of the wrong shape (raise it ``from`` ``exc``).

    Args:
        exc: the converter's error (names the path that is wrong).
        data: what the error carries as ``body``.
        what: the message's beginning, e.g. ``"The gateway's answer does not have the
            expected shape"``; the shape error is appended.
        status_code, request_id: as for :func:`not_json`.

    Returns:
        The error.
    """
    return APIResponseValidationError(
        f"{what}: {exc}", status_code=status_code, body=data, request_id=request_id
    )


def structured(
    data: Any,
    hook: Callable[[Any], M],
    *,
    what: str,
    status_code: int,
    request_id: str | None,
    body: Any = None,
) -> M:
    """``hook(data)`` (a converter hook, see ``_converter.py``), or the validation error.

    Args:
        data: the parsed JSON.
        hook: builds the typed model; raises :class:`ShapeError` on a wrong shape.
        what, status_code, request_id: as for :func:`bad_shape`.
        body: the ``body`` the error carries (default: ``data``).

    Returns:
        The model.

    Raises:
        APIResponseValidationError: ``data`` does not have the expected shape.
    """
    try:
        return hook(data)
    except ShapeError as exc:
        raise bad_shape(
            exc,
            data if body is None else body,
            what=what,
            status_code=status_code,
            request_id=request_id,
        ) from exc


def helicone_of(headers: Mapping[str, str], request_id: str | None) -> HeliconeMetadata:
    """The ``.helicone`` metadata of an answer.

    Args:
        headers: response headers: a plain ``dict`` must have lower-case names (what
            ``_transport.plain_headers`` builds; read without a copy, the per-request
            path), any other mapping (``httpx2.Headers``) is lowered here.
        request_id: the ``Helicone-Request-Id`` that was sent.

    Returns:
        The metadata.
    """
    if type(headers) is dict:
        return metadata_from_lowered(headers, request_id)
    return HeliconeMetadata.from_headers(headers, sent_request_id=request_id)


def status_error(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes | None,
    request_id: str | None,
    *,
    parsed: ParsedErrorBody | None = None,
    retry_after: bool = True,
) -> APIStatusError:
    """The typed error for an error answer, with ``.helicone`` set: built only here.

    Args:
        status_code: the status the error stands for.
        headers: response headers with lower-case names.
        content: the raw body (ignored when ``parsed`` is given).
        request_id: the ``Helicone-Request-Id`` that was sent.
        parsed: an already parsed error body (a JSON error sent instead of a stream).
        retry_after: read the server's wait (``Retry-After`` and friends) into
            ``retry_after``.

    Returns:
        An :class:`APIStatusError` subclass for the status.
    """
    # The error scrubs its own message, body and headers (_exceptions.py); the metadata
    # keeps the response headers too, and a server may echo a key there.
    headers = scrub(headers)
    if parsed is None:
        parsed = parse_error_body(content or b"", status_code)
    error = error_from_parsed(
        status_code,
        parsed,
        headers,
        request_id=request_id,
        retry_after=retry_after_seconds(headers) if retry_after else None,
    )
    error.helicone = helicone_of(headers, request_id)
    return error


def answer_error(
    data: Mapping[str, Any],
    headers: Mapping[str, str],
    request_id: str | None,
    *,
    helicone: HeliconeMetadata | None = None,
    retry_after: bool = False,
) -> APIStatusError:
    """The status error a 2xx answer's ``{"error": {...}}`` body reports, ``.helicone`` set.

    For a ``data`` that ``reports_error`` (``_exceptions.py``): the error is flagged
    ``in_body`` and its status is the one the error object implies.

    Args:
        data: the parsed body.
        headers: the answer's headers.
        request_id: the ``Helicone-Request-Id`` that was sent.
        helicone: the answer's metadata, when already read (default: from ``headers``).
        retry_after: read the server's wait into ``retry_after``.

    Returns:
        An :class:`APIStatusError` subclass for the implied status.
    """
    error = error_in_answer(
        data,
        headers,
        request_id=request_id,
        retry_after=retry_after_seconds(headers) if retry_after else None,
    )
    error.helicone = helicone if helicone is not None else helicone_of(headers, request_id)
    return error
