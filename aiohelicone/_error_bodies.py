"""Layer 0 (core): error bodies read in every shape Helicone and providers send (pure).

What an error answer says (its message, code, type, param and the gateway's per-attempt
``details``), kept apart from the exception tree in ``_exceptions.py``, which builds the
typed errors from a :class:`ParsedErrorBody`. Keys a server echoes back are scrubbed here,
before any excerpt is cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from ._secrets import scrub, scrub_text

__all__ = [
    "ErrorDetail",
    "ParsedErrorBody",
    "implied_status",
    "parse_error_body",
    "parse_error_data",
    "reports_error",
]

_BODY_EXCERPT = 500


@attrs.frozen
class ErrorDetail:
    """One failed attempt inside the gateway, from ``error.details[]`` of its envelope.

    Attributes:
        type: ``invalid_format``, ``missing_provider_key``, ``request_failed``,
            ``rate_limited``, ``invalid_prompt``, ``model_not_supported``,
            ``insufficient_credit_limit``, ``disallowed`` or a value added later.
        message: the attempt's message.
        status_code: the provider's status for that attempt, when given.
        source: which attempt, e.g. ``gpt-4o/openai/byok``.
    """

    type: str | None = None
    message: str | None = None
    status_code: int | None = None
    source: str | None = None


@attrs.frozen
class ParsedErrorBody:
    """What an error body says, whatever shape it came in."""

    message: str
    body: object
    code: str | None = None
    type: str | None = None
    param: str | None = None
    details: tuple[ErrorDetail, ...] = ()


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def parse_error_body(raw: bytes, status_code: int) -> ParsedErrorBody:
    """Read an error body in any of the shapes Helicone and providers send.

    Shapes handled (../shared/helicone-api.md §5):
    - the AI gateway envelope ``{"success": false, "error": {"code", "message", "details"}}``;
    - OpenAI's ``{"error": {"message", "type", "param", "code"}}`` (also the Rust gateway's);
    - ``{"error": "<string>"}`` (prompt errors) and the legacy proxies'
      ``{"error": ..., "message": ...}`` or ``{"message": ...}``;
    - plain text or HTML (errors raised before routing): kept as text.
    """
    # Scrubbed before the excerpt is cut, so that the cut cannot fall inside a key.
    text = scrub_text(raw.decode("utf-8", errors="replace"))
    try:
        data: object = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        excerpt = text.strip()[:_BODY_EXCERPT] or f"HTTP {status_code} with an empty body"
        return ParsedErrorBody(message=excerpt, body=text if data is None else data)
    return parse_error_data(data)


def parse_error_data(data: Mapping[str, Any]) -> ParsedErrorBody:
    """Read an error body that is already decoded JSON (an object); see parse_error_body."""
    # A key may be JSON-escaped in the raw text (a quote in it): scrub the decoded strings.
    data = scrub(data)
    error = data.get("error")
    if isinstance(error, dict):
        details = tuple(
            ErrorDetail(
                type=_str_or_none(d.get("type")),
                message=_str_or_none(d.get("message")),
                status_code=_int_or_none(d.get("statusCode", d.get("status_code"))),
                source=_str_or_none(d.get("source")),
            )
            for d in (error.get("details") or [])
            if isinstance(d, dict)
        )
        message = _str_or_none(error.get("message")) or json.dumps(error)[:_BODY_EXCERPT]
        return ParsedErrorBody(
            message=message,
            body=data,
            code=_str_or_none(error.get("code")),
            type=_str_or_none(error.get("type")),
            param=_str_or_none(error.get("param")),
            details=details,
        )
    message = (
        _str_or_none(data.get("message")) or _str_or_none(error) or json.dumps(data)[:_BODY_EXCERPT]
    )
    if isinstance(error, str) and isinstance(data.get("message"), str) and error != message:
        message = f"{error}: {message}"
    return ParsedErrorBody(message=message, body=data, code=_str_or_none(data.get("code")))


# -- errors reported inside a 2xx answer ------------------------------------------------

# OpenAI / Anthropic / gateway error types and codes, and the status each stands for.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "permission_denied": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "rate_limited": 429,
    "insufficient_quota": 429,
    "timeout": 408,
    "overloaded_error": 503,
    "server_error": 500,
    "api_error": 500,
}


def reports_error(data: Mapping[str, Any]) -> bool:
    """Whether a JSON object from a 2xx answer (a stream event or a body) reports an error.

    It does when its ``error`` is not null and it carries no ``choices``. ``"error": null``
    is what some providers put in every object (a usage chunk after a complete answer, a
    completion), so it never counts. The one rule for streams, a JSON answer sent instead
    of a stream, and plain answers; hot paths test ``"error" in data`` first.
    """
    return data.get("error") is not None and not data.get("choices")


def implied_status(error: object) -> int:
    """The HTTP status an ``error`` object in a 2xx answer stands for (500 when it says none).

    An integer 4xx/5xx in ``status_code``, ``status``, ``statusCode`` or ``code`` wins; then a
    known ``type`` or ``code`` string (``rate_limit_error`` is 429, ...).
    """
    if isinstance(error, dict):
        for key in ("status_code", "status", "statusCode", "code"):
            value = error.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
                return value
        for key in ("type", "code"):
            value = error.get(key)
            if isinstance(value, str) and value in _ERROR_TYPE_STATUS:
                return _ERROR_TYPE_STATUS[value]
    return 500
