"""Layer 0 (core): the REST API's refusals, typed by what Jawn's middleware really answers.

Before a controller runs (whose failures are ``{"data": null, "error": "..."}`` Results with
500), Helicone's REST server (valhalla/jawn ``middleware/auth.ts``, ``ratelimitter.ts``;
issue #18) refuses a call in three ways, each typed here as a subclass of the status class
the gateway uses, so ``except AuthenticationError`` and friends keep working::

    AuthenticationError
    └── RestAuthenticationError   401 JSON {"error": ..., "trace": "isAuthenticated.error"}:
                                  no key, an unknown key, or one lacking the permission the
                                  call needs (every POST, queries included, needs write)
    BadRequestError
    └── InvalidTokenError         400 text/plain "Invalid token.": authentication threw
    RateLimitError
    └── RestRateLimitError        429 {"error": "Too many requests..."}: the plan's limit
                                  (1,000 / 10,000 / 100,000 calls per 5 minutes), with
                                  Retry-After and RateLimit-* headers

A 5xx stays :class:`InternalServerError`. Pure: the connection (``_rest_connection.py``)
calls :func:`rest_status_error` on the status error its send path built. Messages are built
from the status, the server's words and the call's method, never from the key (errors scrub
registered secrets from everything they hold, ``_exceptions.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
)

__all__ = [
    "InvalidTokenError",
    "RestAuthenticationError",
    "RestRateLimitError",
    "rest_status_error",
]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

WRITE_PERMISSION_HINT = (
    "Helicone's REST API needs a key with write permission for every POST, queries "
    "included: a read-only key gets this 401 (check the key's permissions in Helicone's "
    "settings, or use a read-write secret key)"
)


class RestAuthenticationError(AuthenticationError):
    """The REST API refused the key (401).

    Attributes:
        trace: the middleware's ``trace`` (``"isAuthenticated.error"``), if sent.
        write_permission_hint: True when the call was a POST/PUT: the key may be valid
            but lack write permission, which every POST needs (the message says so).
    """

    def __init__(
        self,
        message: str,
        *,
        trace: str | None = None,
        write_permission_hint: bool = False,
        **kwargs: Any,
    ) -> None:
        self.trace = trace
        self.write_permission_hint = write_permission_hint
        super().__init__(message, **kwargs)


class InvalidTokenError(BadRequestError):
    """The REST API could not read the ``Authorization`` token at all (400 ``Invalid token.``)."""


class RestRateLimitError(RateLimitError):
    """The REST API's own rate limit (429): wait ``retry_after`` seconds.

    ``reason`` is ``"rest_api_limit"`` and ``helicone_generated`` is True.

    Attributes:
        limit: calls allowed per window (``RateLimit-Limit``), if sent.
        remaining: calls left (``RateLimit-Remaining``), if sent.
        reset: seconds until the window resets (``RateLimit-Reset``), if sent.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = "rest_api_limit"
        self.helicone_generated = True
        lowered = {k.lower(): v for k, v in self.headers.items()}
        self.limit = _int(lowered.get("ratelimit-limit"))
        self.remaining = _int(lowered.get("ratelimit-remaining"))
        self.reset = _int(lowered.get("ratelimit-reset"))


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _kwargs(error: APIStatusError) -> dict[str, Any]:
    return {
        "status_code": error.status_code,
        "body": error.body,
        "headers": error.headers,
        "request_id": error.request_id,
        "code": error.code,
        "type": error.type,
        "param": error.param,
        "details": error.details,
        "retry_after": error.retry_after,
    }


def rest_status_error(error: APIStatusError, method: str) -> APIStatusError:
    """The REST-specific error for a status error of a REST call (else ``error`` itself).

    Args:
        error: what the send path built from the answer.
        method: the call's HTTP method (a POST's 401 gets the write-permission hint).

    Returns:
        A :class:`RestAuthenticationError`, :class:`InvalidTokenError` or
        :class:`RestRateLimitError` (``.helicone`` carried over), or ``error`` unchanged.
    """
    body = error.body
    built: APIStatusError
    if error.status_code == 401:
        trace = body.get("trace") if isinstance(body, Mapping) else None
        said = body.get("error") if isinstance(body, Mapping) else None
        hint = method.upper() in _WRITE_METHODS
        parts = ["the REST API refused the key"]
        if isinstance(said, str) and said:
            parts.append(f": {said}")
        if isinstance(trace, str):
            parts.append(f" (trace {trace})")
        if hint:
            parts.append(f". {WRITE_PERMISSION_HINT}")
        built = RestAuthenticationError(
            "".join(parts),
            trace=trace if isinstance(trace, str) else None,
            write_permission_hint=hint,
            **_kwargs(error),
        )
    elif (
        error.status_code == 400
        and isinstance(body, str)
        and body.strip().rstrip(".").lower() == "invalid token"
    ):
        built = InvalidTokenError(
            "the REST API could not read the Authorization token (Invalid token.): send "
            "Authorization: Bearer <a Helicone secret key, sk-...>",
            **_kwargs(error),
        )
    elif error.status_code == 429:
        built = RestRateLimitError(
            f"{error.message} (Helicone's REST API rate limit)", **_kwargs(error)
        )
    else:
        return error
    built.helicone = error.helicone
    return built
