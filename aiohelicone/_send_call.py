"""Layer 2 (send path): one prepared call, and the per-call options it is made from.

:class:`RequestOptions` bundles the options every ``create`` takes; :class:`Call` is what
:meth:`._send.Sender.prepare` makes of them: everything needed to send the request, and to
send it again. The body's JSON encoding and the checks of the options that go on the wire
as they are (``extra_query``, ``extra_body``, ``max_retries``) live here too; no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._exceptions import InvalidInputError
from ._helicone import HeliconeOptions
from ._retry import RetryPolicy
from ._timeouts import StreamTimeouts, TimeoutArg

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "NO_OPTIONS",
    "OPTION_NAMES",
    "Call",
    "RequestOptions",
    "check_extra_body",
    "check_query",
    "check_retries",
    "encode",
]

_QUERY_SCALARS = (str, int, float, bool)


@attrs.frozen
class RequestOptions:
    """The per-call options every ``create`` takes, bundled once (see the resources).

    ``fallback`` and ``fallback_deadline`` are read by the resources when they route a
    model chain; the rest shape the request itself (:meth:`Sender.prepare`).
    """

    helicone: HeliconeOptions | None = None
    metadata: Mapping[str, Any] | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None
    timeout: TimeoutArg = "default"
    max_retries: int | None = None
    stream_timeouts: StreamTimeouts | None = None
    fallback: object = None
    fallback_deadline: float | None = None


#: A call with no per-call options.
NO_OPTIONS = RequestOptions()

#: The names of the per-call options: the arguments of a resource's ``create()`` that are
#: not body fields (``metadata`` is both: its Helicone keys become headers).
OPTION_NAMES: frozenset[str] = frozenset(attrs.fields_dict(RequestOptions))


@attrs.frozen
class Call:
    """One prepared request: everything needed to send it, and to send it again.

    Attributes:
        timeout: the httpx2 timeout (None: the transport's); for a stream its read
            timeout is already the stream's idle budget.
        stream: the stream budgets, for a stream request (None otherwise).
    """

    method: str
    path: str
    content: bytes | None
    headers: Mapping[str, str]
    request_id: str | None
    timeout: httpx2.Timeout | None
    params: Mapping[str, Any] | None
    retry: RetryPolicy
    stream: StreamTimeouts | None = None


def _json_default(value: object) -> Any:
    raise TypeError(f"a value of type {type(value).__name__} is not JSON serialisable")


def encode(body: Mapping[str, Any]) -> bytes:
    """The compact JSON of a request body.

    Raises:
        InvalidInputError: (field ``body``) a value JSON cannot carry (NaN, an object).
    """
    try:
        return json.dumps(
            body, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
        ).encode()
    except ValueError as exc:
        raise InvalidInputError("body", "contains a non-finite number (NaN or infinity)") from exc
    except TypeError as exc:
        raise InvalidInputError("body", str(exc)) from exc


def check_retries(value: object) -> int:
    """A ``max_retries`` argument, checked.

    Raises:
        InvalidInputError: not a non-negative int.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError("max_retries", f"must be a non-negative int, got {value!r}")
    return value


def check_query(query: object) -> None:
    """``extra_query``: str keys, values of the types a query string can say."""
    if not isinstance(query, Mapping):
        raise InvalidInputError(
            "extra_query", f"must be a mapping of str to values, not {type(query).__name__}"
        )
    for key, value in query.items():
        if not isinstance(key, str):
            raise InvalidInputError("extra_query", f"keys must be str, got {type(key).__name__}")
        items = value if isinstance(value, list | tuple) else (value,)
        for item in items:
            # None is sent as an empty value by httpx2; anything else would go out as its
            # str(), an object's repr included.
            if item is not None and not isinstance(item, _QUERY_SCALARS):
                raise InvalidInputError(
                    f"extra_query[{key!r}]",
                    f"must be a str, int, float, bool or None (or a list of them), "
                    f"not {type(item).__name__}",
                )


def check_extra_body(extra_body: object) -> None:
    if not isinstance(extra_body, Mapping):
        raise InvalidInputError(
            "extra_body", f"must be a mapping of str to values, not {type(extra_body).__name__}"
        )
    for key in extra_body:
        if not isinstance(key, str):
            raise InvalidInputError("extra_body", f"keys must be str, got {type(key).__name__}")
