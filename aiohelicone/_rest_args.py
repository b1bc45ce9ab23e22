"""Layer 0 (core): the REST API's arguments, checked before anything is sent (no I/O).

Request ids (from a string, metadata, anything with ``.helicone``, or an error), path
segments, paging, ratings, scores and time ranges, each refused with a typed
:class:`InvalidInputError` naming the argument.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ._exceptions import APIError, InvalidInputError
from ._metadata import HeliconeMetadata

__all__ = [
    "MAX_PAGE_SIZE",
    "RequestRef",
    "SupportsHelicone",
    "paging",
    "path_id",
    "rating_value",
    "request_id_of",
    "scores_body",
    "session_path_id",
    "short_text",
    "time_range",
]

#: Jawn caps one page of a request or user query at 1000 rows.
MAX_PAGE_SIZE = 1000


# -- request ids -----------------------------------------------------------------------------


class SupportsHelicone(Protocol):
    """Anything that carries ``.helicone`` metadata: completions, streams, errors."""

    @property
    def helicone(self) -> HeliconeMetadata | None: ...


RequestRef = str | HeliconeMetadata | SupportsHelicone | APIError


def request_id_of(ref: RequestRef, field: str = "request_id") -> str:
    """The Helicone request id named by ``ref``.

    Args:
        ref: an id, a :class:`HeliconeMetadata`, or a result, stream or error that carries
            ``.helicone`` (an error without it may still carry ``.request_id``).
        field: the argument name used in errors.

    Returns:
        The id.

    Raises:
        InvalidInputError: no id can be found in ``ref``, or it is not a UUID or a token of
            letters, digits and ``. _ ~ -`` (``"."`` and ``".."`` are refused: in a URL path
            they would name another endpoint).
    """
    value: object = ref
    if isinstance(ref, HeliconeMetadata):
        value = ref.request_id
    elif not isinstance(ref, str):
        meta = getattr(ref, "helicone", None)
        value = meta.request_id if isinstance(meta, HeliconeMetadata) else None
        if value is None and isinstance(ref, APIError):
            value = ref.request_id
        if value is None:
            raise InvalidInputError(field, f"{type(ref).__name__} carries no Helicone request id")
    return path_id(field, value)


# What may go into a URL path segment. Every id is checked before the URL is built: a path
# segment "." or ".." is removed by URL normalisation (RFC 3986 §5.2.4), so an id ".." would
# send the call, with the key, to another endpoint (``/v1/request/../feedback`` is
# ``/v1/feedback``).
#
# Helicone's request ids are UUIDs (``Helicone-Id``; the gateway replaces a ``Helicone-Request-Id``
# that is not one), so a request id must be a token of RFC 3986 unreserved characters, which
# covers UUIDs and needs no percent-encoding. Session ids are the caller's own
# ``Helicone-Session-Id`` strings: any header-safe text, percent-encoded.
_PATH_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,256}")
_MAX_SESSION_ID = 1024


def path_id(field: str, value: object) -> str:
    """A request id for a URL path segment: a UUID or a token of ``A-Z a-z 0-9 . _ ~ -``."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(field, "must be a non-empty str")
    if not _PATH_TOKEN.fullmatch(value):
        raise InvalidInputError(
            field,
            f"must be a Helicone request id (a UUID, or up to 256 letters, digits and . _ ~ -), "
            f"got {short_text(value)}",
        )
    refuse_dots(field, value)
    return value


def session_path_id(field: str, value: object) -> str:
    """A session id for a URL path segment: header-safe text, percent-encoded."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(field, "must be a non-empty str")
    if len(value) > _MAX_SESSION_ID:
        raise InvalidInputError(field, f"must be at most {_MAX_SESSION_ID} characters")
    if not (value.isascii() and value.isprintable()):
        # What a Helicone-Session-Id header can carry: printable ASCII.
        raise InvalidInputError(field, f"must be printable ASCII, got {short_text(value)}")
    if value != value.strip():
        raise InvalidInputError(field, "must not start or end with whitespace")
    refuse_dots(field, value)
    return urllib.parse.quote(value, safe="")


def refuse_dots(field: str, value: str) -> None:
    # Only "." and ".." are dot-segments, but servers differ on longer runs: refuse them all.
    if not value.strip("."):
        raise InvalidInputError(
            field, f"{value!r} is a path dot-segment and would name another endpoint"
        )


def short_text(value: str) -> str:
    return repr(value) if len(value) <= 80 else f"{value[:77]!r}... ({len(value)} characters)"


# -- arguments -------------------------------------------------------------------------------


def paging(offset: object, limit: object, page_size: object) -> tuple[int, int | None, int]:
    for name, value in (("offset", offset), ("page_size", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInputError(name, f"must be a non-negative int, got {value!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInputError("limit", f"must be a non-negative int or None, got {limit!r}")
    assert isinstance(offset, int)
    assert isinstance(page_size, int)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    return offset, limit, page_size


def rating_value(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError("rating", f"must be a bool, got {type(value).__name__}")
    return value


def scores_body(scores: object) -> dict[str, int | bool]:
    if not isinstance(scores, Mapping) or not scores:
        raise InvalidInputError("scores", "must be a non-empty mapping of name -> int or bool")
    out: dict[str, int | bool] = {}
    for name, value in scores.items():
        if not isinstance(name, str) or not name:
            raise InvalidInputError("scores", "names must be non-empty str")
        field = f"scores[{name!r}]"
        if isinstance(value, bool):
            out[name] = value
        elif isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise InvalidInputError(field, "is outside the 64-bit integer range")
            out[name] = value
        elif isinstance(value, float):
            example = (
                f"round({value!r} * 100) = {round(value * 100)}" if math.isfinite(value) else ""
            )
            raise InvalidInputError(
                field,
                f"is a float ({value!r}); Helicone stores scores as integers or booleans only: "
                f"scale it to an int yourself, e.g. {example or 'multiply by 100 and round'}",
            )
        else:
            raise InvalidInputError(field, f"must be an int or a bool, got {type(value).__name__}")
    return out


def time_range(
    since: datetime | timedelta | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    start = None
    if since is not None:
        start = datetime.now(UTC) - since if isinstance(since, timedelta) else since
        if not isinstance(start, datetime):
            raise InvalidInputError("since", "must be a datetime or a timedelta")
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    if until is not None:
        if not isinstance(until, datetime):
            raise InvalidInputError("until", "must be a datetime")
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
    return start, until
