"""Helicone's REST API (``api.helicone.ai``, "Jawn"): feedback, scores, properties and queries.

The gateway call is half of Helicone; this module is the other half (../shared/helicone-api.md
§7)::

    client.requests.feedback / score / set_property / get / query / count
    client.sessions.feedback / query
    client.users.metrics

Sending: REST calls go through a second :class:`Transport` that shares the client's
connection pool (so ``aclose`` and a caller's ``http_client`` cover both), on the REST base
URL, always authenticated with ``Authorization: Bearer <api_key>``: the Helicone key, also
when the client talks to a legacy proxy with ``provider_api_key`` (there the gateway gets the
key in ``Helicone-Auth``; the REST API only reads ``Authorization``). Retries use the client's
policy and ``_with_retries``; httpx2 errors are mapped in ``_transport.py`` as for the gateway.

Answers are tsoa ``Result`` objects, ``{"data": ..., "error": ...}``. Errors:

- a non-2xx status raises the gateway's status classes (``BadRequestError``,
  ``InternalServerError``...), message taken from the Result's ``error`` string. Jawn answers
  *every* failure of a controller with 500 (an unknown request id included), so expect
  ``InternalServerError`` there, not ``NotFoundError``. A Result-shaped error is the
  application's final word and is not retried (except 408/429/502/503/504); a 5xx without
  a Result body (a proxy, a load balancer) is retried like a gateway 5xx;
- a 2xx whose Result carries an ``error`` raises :class:`HeliconeAPIError` (an
  ``APIStatusError`` whose ``status_code`` is that 2xx).

Request queries only accept filters wrapped in a table key: a leaf
``{"model": {"equals": ...}}`` without ``{"request_response_rmt": ...}`` around it silently
matches nothing. :class:`RequestFilter` always wraps, and raw mappings are checked for it.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import attrs

from ._exceptions import APIError, APIResponseValidationError, APIStatusError, InvalidInputError
from ._helicone import HeliconeMetadata
from ._rest_url import (
    DEFAULT_REST_BASE_URL as DEFAULT_REST_BASE_URL,
)
from ._rest_url import (
    EU_REST_BASE_URL as EU_REST_BASE_URL,
)
from ._rest_url import (
    REST_BASE_URL_ENV as REST_BASE_URL_ENV,
)
from ._rest_url import (
    resolve_rest_base_url as resolve_rest_base_url,
)
from ._transport import RawResponse, Transport

if TYPE_CHECKING:
    import httpx2

    from ._client import AsyncHelicone, _Call

__all__ = [
    "DEFAULT_REST_BASE_URL",
    "EU_REST_BASE_URL",
    "AsyncPager",
    "HeliconeAPIError",
    "LoggedRequest",
    "RequestFilter",
    "Requests",
    "RestConnection",
    "SessionSummary",
    "Sessions",
    "UserMetrics",
    "Users",
    "resolve_rest_base_url",
]

#: ``cache_reference_id`` of a request that was not served from the cache.
DEFAULT_UUID = "00000000-0000-0000-0000-000000000000"
#: Jawn caps one page of a request or user query at 1000 rows.
MAX_PAGE_SIZE = 1000
_FEEDBACK_SCORE = "helicone-score-feedback"
_RETRIED_RESULT_STATUS = frozenset({408, 429, 502, 503, 504})

T = TypeVar("T")


class HeliconeAPIError(APIStatusError):
    """The REST API answered 2xx, but its ``{"data", "error"}`` Result carried an error.

    Non-2xx REST answers raise the usual status classes (``BadRequestError``...);
    ``status_code`` here is the 2xx status that came with the error.
    """


# -- sending ---------------------------------------------------------------------------------


class RestConnection:
    """Sends REST calls for one :class:`AsyncHelicone` (shares its pool and retry policy).

    Args:
        client: the client.
        api_key: the Helicone key, sent as ``Authorization: Bearer`` (never shown).
        base_url: the REST API base URL (see :func:`resolve_rest_base_url`).
        default_headers: headers sent with every call (the client's).
    """

    __slots__ = ("_client", "_transport")

    def __init__(
        self,
        client: AsyncHelicone,
        api_key: str,
        base_url: str,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._transport = Transport(
            base_url=base_url,
            auth_headers={"authorization": f"Bearer {api_key}"},
            default_headers=default_headers,
            timeout=client._transport.timeout,
            limits=None,
            http_client=client.http_client,
        )

    @property
    def base_url(self) -> str:
        """The REST API base URL."""
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"<RestConnection base_url={self.base_url!r}>"

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> Any:
        """Send one call and return the Result's ``data``.

        Raises:
            APIStatusError: a non-2xx answer (a subclass per status).
            HeliconeAPIError: a 2xx answer whose Result carries an error.
            APIConnectionError: the API could not be reached.
            APIResponseValidationError: the answer was not JSON.
        """
        from ._client import _Call, _check_retries, _encode
        from ._streaming import StreamTimeouts
        from ._transport import make_timeout

        retry = self._client.retry_policy
        if max_retries is not None:
            retry = attrs.evolve(retry, max_retries=_check_retries(max_retries))
        call = _Call(
            method=method,
            path=path,
            content=None if body is None else _encode(dict(body)),
            headers={},
            request_id=None,
            timeout=None if timeout == "default" else make_timeout(timeout),
            params=params,
            retry=retry,
            stream_timeouts=StreamTimeouts(),
        )

        async def once() -> RawResponse:
            raw = await self._transport.request(
                method,
                path,
                content=call.content,
                headers=call.headers,
                params=params,
                timeout=call.timeout,
            )
            if raw.status_code >= 400 and not _final_result(raw):
                raise self._client._status_error(raw, call)
            return raw

        raw = await self._client._with_retries(call, once)
        return self._unwrap(raw, call)

    def _unwrap(self, raw: RawResponse, call: _Call) -> Any:
        if raw.status_code >= 400:
            raise self._client._status_error(raw, call)
        if not raw.content.strip():
            return None
        try:
            data = json.loads(raw.content)
        except ValueError as exc:
            raise APIResponseValidationError(
                f"The REST API answered {raw.status_code} with a body that is not JSON: "
                f"{raw.content[:200].decode('utf-8', errors='replace')!r}",
                status_code=raw.status_code,
                body=raw.content.decode("utf-8", errors="replace"),
            ) from exc
        if isinstance(data, dict) and data.get("error") is not None:
            error = HeliconeAPIError(
                str(data["error"]), status_code=raw.status_code, body=data, headers=raw.headers
            )
            error.helicone = HeliconeMetadata.from_headers(raw.headers, sent_request_id=None)
            raise error
        if isinstance(data, dict) and "data" in data:
            return data["data"]
        return data


def _final_result(raw: RawResponse) -> bool:
    """Whether an error answer is the application's own Result (retrying will not help)."""
    if raw.status_code in _RETRIED_RESULT_STATUS:
        return False
    try:
        data = json.loads(raw.content)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), str) and "data" in data


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
        InvalidInputError: no id can be found in ``ref``.
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
    return _path_id(field, value)


def _path_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(field, "must be a non-empty str")
    if any(c.isspace() for c in value):
        raise InvalidInputError(field, "must not contain whitespace")
    return urllib.parse.quote(value, safe="")


# -- filters ---------------------------------------------------------------------------------

_TEXT_OPS = ("equals", "not_equals", "like", "ilike", "contains", "not_contains")
_NUMBER_OPS = ("equals", "not_equals", "gte", "lte", "gt", "lt")
_TIME_OPS = ("equals", "gte", "lte", "gt", "lt")
_TABLES = frozenset(
    {
        "request_response_rmt",
        "sessions_request_response_rmt",
        "user_metrics",
        "request",
        "response",
        "feedback",
        "properties",
        "values",
        "cache_hits",
        "request_response_search",
    }
)


class RequestFilter:
    """A request filter for Helicone's query endpoints: build it, combine with ``&`` and ``|``.

    Every condition becomes its own leaf, wrapped as ``{"request_response_rmt": {...}}`` (the
    only shape ``query-clickhouse`` honours: an unwrapped leaf silently matches nothing, and
    Jawn reads only the first field and operator of a leaf). Several operators in one call
    are joined with ``and``::

        f = RequestFilter.model("gpt-4o-mini") & RequestFilter.latency(gte=500)
        f = f & (RequestFilter.user("alice") | RequestFilter.property("env", "prod"))

    Text conditions take ``equals`` (positional) or ``not_equals``, ``like``, ``ilike``,
    ``contains`` (case-insensitive), ``not_contains``; number conditions ``equals``,
    ``not_equals``, ``gte``, ``lte``, ``gt``, ``lt``.
    """

    __slots__ = ()

    def to_json(self) -> Any:
        """The ``FilterNode`` JSON Helicone expects.

        Returns:
            ``"all"``, a wrapped leaf, or a ``{"left", "operator", "right"}`` branch.
        """
        raise NotImplementedError

    def __and__(self, other: RequestFilter) -> RequestFilter:
        return _combine(self, "and", other)

    def __or__(self, other: RequestFilter) -> RequestFilter:
        return _combine(self, "or", other)

    # -- builders ----------------------------------------------------------------------------

    @classmethod
    def all(cls) -> RequestFilter:
        """Every request (``"all"``)."""
        return _ALL

    @classmethod
    def model(cls, equals: str | None = None, **ops: str) -> RequestFilter:
        """The request's model, e.g. ``RequestFilter.model(contains="gpt-4o")``.

        Raises:
            InvalidInputError: no operator, an unknown one, or a value of the wrong type.
        """
        return _conditions("model", None, _TEXT_OPS, str, equals, ops)

    @classmethod
    def provider(cls, equals: str | None = None, **ops: str) -> RequestFilter:
        """The provider that served the request (Helicone may store it upper-case, e.g.
        ``OPENAI``: ``RequestFilter.provider(ilike="openai")`` matches both)."""
        return _conditions("provider", None, _TEXT_OPS, str, equals, ops)

    @classmethod
    def user(cls, equals: str | None = None, **ops: str) -> RequestFilter:
        """The ``Helicone-User-Id`` of the request."""
        return _conditions("user_id", None, _TEXT_OPS, str, equals, ops)

    @classmethod
    def request_id(cls, equals: str | None = None, **ops: str) -> RequestFilter:
        """The Helicone request id."""
        return _conditions("request_id", None, _TEXT_OPS, str, equals, ops)

    @classmethod
    def property(cls, name: str, equals: str | None = None, **ops: str) -> RequestFilter:
        """A custom property (``Helicone-Property-<name>``).

        Raises:
            InvalidInputError: ``name`` is empty, or an operator is wrong.
        """
        if not isinstance(name, str) or not name:
            raise InvalidInputError("name", "must be a non-empty str")
        return _conditions("properties", name, _TEXT_OPS, str, equals, ops)

    @classmethod
    def status(cls, equals: int | None = None, **ops: int) -> RequestFilter:
        """The HTTP status Helicone logged, e.g. ``RequestFilter.status(gte=400)``."""
        return _conditions("status", None, _NUMBER_OPS, int, equals, ops)

    @classmethod
    def latency(cls, equals: float | None = None, **ops: float) -> RequestFilter:
        """The whole request's latency in milliseconds."""
        return _conditions("latency", None, _NUMBER_OPS, float, equals, ops)

    @classmethod
    def time_to_first_token(cls, equals: float | None = None, **ops: float) -> RequestFilter:
        """Time to the first token, in milliseconds."""
        return _conditions("time_to_first_token", None, _NUMBER_OPS, float, equals, ops)

    @classmethod
    def cost(cls, equals: float | None = None, **ops: float) -> RequestFilter:
        """The request's cost in USD (Helicone converts it to its stored precision)."""
        return _conditions("cost", None, _NUMBER_OPS, float, equals, ops)

    @classmethod
    def total_tokens(cls, equals: int | None = None, **ops: int) -> RequestFilter:
        """Prompt plus completion tokens."""
        return _conditions("total_tokens", None, _NUMBER_OPS, int, equals, ops)

    @classmethod
    def cached(cls, value: bool = True) -> RequestFilter:
        """Served from Helicone's cache (``True``) or not (``False``).

        Raises:
            InvalidInputError: ``value`` is not a bool.
        """
        if not isinstance(value, bool):
            raise InvalidInputError("cached", "must be a bool")
        return _Leaf("cached", None, "equals", value)

    @classmethod
    def feedback(cls, rating: bool) -> RequestFilter:
        """Requests rated thumbs up (``True``) or down (``False``) with feedback.

        Raises:
            InvalidInputError: ``rating`` is not a bool.
        """
        if not isinstance(rating, bool):
            raise InvalidInputError("rating", "must be a bool")
        # The dashboard's own shape: the rating lives in scores as "1"/"0".
        return _Leaf("scores", _FEEDBACK_SCORE, "equals", "1" if rating else "0")

    @classmethod
    def created_after(cls, when: datetime | timedelta) -> RequestFilter:
        """Created at or after ``when`` (a datetime, or a timedelta back from now).

        Naive datetimes are taken as UTC.
        """
        return _Leaf("request_created_at", None, "gte", _timestamp("when", when))

    @classmethod
    def created_before(cls, when: datetime | timedelta) -> RequestFilter:
        """Created at or before ``when`` (a datetime, or a timedelta back from now)."""
        return _Leaf("request_created_at", None, "lte", _timestamp("when", when))

    @classmethod
    def created_between(
        cls, start: datetime | timedelta, end: datetime | timedelta
    ) -> RequestFilter:
        """Created within ``[start, end]`` (two leaves, as Helicone requires)."""
        return cls.created_after(start) & cls.created_before(end)


@attrs.frozen
class _All(RequestFilter):
    def to_json(self) -> Any:
        return "all"


_ALL = _All()


@attrs.frozen
class _Leaf(RequestFilter):
    field: str
    key: str | None
    op: str
    value: Any

    def to_json(self) -> Any:
        condition = {self.op.replace("_", "-"): self.value}
        inner = condition if self.key is None else {self.key: condition}
        return {"request_response_rmt": {self.field: inner}}


@attrs.frozen
class _Branch(RequestFilter):
    left: RequestFilter
    operator: Literal["and", "or"]
    right: RequestFilter

    def to_json(self) -> Any:
        return {
            "left": self.left.to_json(),
            "operator": self.operator,
            "right": self.right.to_json(),
        }


def _combine(left: RequestFilter, operator: Literal["and", "or"], right: object) -> RequestFilter:
    if not isinstance(right, RequestFilter):
        raise InvalidInputError("filter", f"cannot combine with {type(right).__name__}")
    if isinstance(left, _All) or isinstance(right, _All):
        if operator == "or":
            return _ALL
        return right if isinstance(left, _All) else left
    return _Branch(left, operator, right)


def _conditions(
    field: str,
    key: str | None,
    allowed: tuple[str, ...],
    kind: type,
    equals: object,
    ops: Mapping[str, object],
) -> RequestFilter:
    given = dict(ops)
    if equals is not None:
        given["equals"] = equals
    if not given:
        raise InvalidInputError(field, f"give a value or one of: {', '.join(allowed)}")
    result: RequestFilter | None = None
    for op, value in given.items():
        if op not in allowed:
            raise InvalidInputError(f"{field}.{op}", f"unknown operator; use {', '.join(allowed)}")
        leaf = _Leaf(field, key, op, _filter_value(f"{field}.{op}", kind, value))
        result = leaf if result is None else _Branch(result, "and", leaf)
    assert result is not None
    return result


def _filter_value(field: str, kind: type, value: object) -> object:
    if kind is str:
        if not isinstance(value, str):
            raise InvalidInputError(field, f"must be a str, got {type(value).__name__}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(field, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidInputError(field, "must be finite")
    if kind is int and not float(value).is_integer():
        raise InvalidInputError(field, f"must be an int, got {value!r}")
    return int(value) if kind is int else value


def _timestamp(field: str, when: object) -> str:
    if isinstance(when, timedelta):
        when = datetime.now(UTC) - when
    if not isinstance(when, datetime):
        raise InvalidInputError(field, "must be a datetime or a timedelta")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # What the dashboard sends (JavaScript's Date.toISOString()).
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


FilterArg = RequestFilter | Mapping[str, Any] | Literal["all"] | None


def filter_json(value: FilterArg, field: str = "filter") -> Any:
    """The wire form of a filter argument, refusing raw leaves that lack a table key.

    Args:
        value: a :class:`RequestFilter`, None / ``"all"``, or a raw ``FilterNode`` mapping.
        field: the argument name used in errors.

    Returns:
        The JSON value to send.

    Raises:
        InvalidInputError: a raw leaf is not wrapped in a table key (Helicone would silently
            return no rows), or the mapping is not a filter at all.
    """
    if value is None or value == "all":
        return "all"
    if isinstance(value, RequestFilter):
        return value.to_json()
    if isinstance(value, Mapping):
        _check_node(field, value)
        try:
            return json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(field, f"is not JSON: {exc}") from exc
    raise InvalidInputError(field, f"must be a RequestFilter or a mapping, got {type(value)}")


def _check_node(path: str, node: object) -> None:
    if node == "all":
        return
    if not isinstance(node, Mapping) or not node:
        raise InvalidInputError(path, "must be 'all', a leaf or a {left, operator, right} branch")
    if "left" in node or "right" in node or "operator" in node:
        if node.get("operator") not in ("and", "or"):
            raise InvalidInputError(f"{path}.operator", "must be 'and' or 'or'")
        _check_node(f"{path}.left", node.get("left"))
        _check_node(f"{path}.right", node.get("right"))
        return
    unknown = sorted(str(k) for k in node if k not in _TABLES)
    if unknown:
        raise InvalidInputError(
            path,
            f"leaf keys {unknown} are not table names; Helicone silently returns no rows for "
            'such a leaf: wrap it, e.g. {"request_response_rmt": {"model": {"equals": ...}}}, '
            "or build it with RequestFilter",
        )


_SORT_KEYS = frozenset(
    {
        "created_at",
        "cache_created_at",
        "latency",
        "last_active",
        "total_tokens",
        "completion_tokens",
        "prompt_tokens",
        "user_id",
        "body_model",
        "is_cached",
        "request_prompt",
        "response_text",
        "cost",
    }
)


def _sort(value: Mapping[str, str] | None, allowed: frozenset[str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) != 1:
        raise InvalidInputError("sort", "must map one column to 'asc' or 'desc'")
    ((key, direction),) = value.items()
    if allowed is not None and key not in allowed:
        raise InvalidInputError("sort", f"unknown column {key!r}; use {', '.join(sorted(allowed))}")
    if direction not in ("asc", "desc"):
        raise InvalidInputError(f"sort[{key!r}]", "must be 'asc' or 'desc'")
    return {key: direction}


# -- records ---------------------------------------------------------------------------------


def _int(value: object) -> int | None:
    # ClickHouse quotes 64-bit integers in JSON; Postgres gives numbers.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) else None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _datetime(value: object) -> datetime | None:
    """ISO 8601 (``2026-11-27T14:00:35.123Z``) or ClickHouse's ``2026-11-27 14:00:35.123``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _mapping(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def _lookup(mapping: Mapping[str, str], name: str) -> str | None:
    if name in mapping:
        return mapping[name]
    lowered = name.lower()
    return next((v for k, v in mapping.items() if k.lower() == lowered), None)


def _body(value: object) -> Any:
    if isinstance(value, Mapping) and set(value) == {"helicone_message"}:
        return None  # a placeholder, not the body ("fetching body from signed_url...")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@attrs.frozen
class LoggedRequest:
    """One request as Helicone logged it (a ``HeliconeRequest`` row).

    Attributes:
        request_id: the Helicone request id.
        created_at: when the request was made (UTC).
        model: the model (``request_model``, else ``model``, else ``response_model``).
        provider: the provider that served it.
        status: the HTTP status logged (negative or 0 for requests that never completed).
        prompt_tokens, completion_tokens, total_tokens: token counts.
        cost: the cost in USD.
        latency_ms: the whole request's latency (``delay_ms``).
        time_to_first_token_ms: time to the first token of a stream.
        user_id: the ``Helicone-User-Id``.
        properties: custom properties (and Helicone's session properties).
        scores: integer scores (booleans arrive as 1/0), feedback excluded.
        feedback: the thumbs-up/down rating, if any.
        cached: served from Helicone's cache.
        prompt_id: the Helicone prompt used, if any.
        request_body, response_body: the bodies, when the API included them.
        raw: the whole row as the API sent it (fields this version does not name).
    """

    request_id: str
    created_at: datetime | None = None
    model: str | None = None
    provider: str | None = None
    status: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    user_id: str | None = None
    properties: Mapping[str, str] = attrs.field(factory=dict)
    scores: Mapping[str, int] = attrs.field(factory=dict)
    feedback: bool | None = None
    cached: bool = False
    prompt_id: str | None = None
    request_body: Any = attrs.field(default=None, repr=False)
    response_body: Any = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def is_error(self) -> bool:
        """Whether the request failed: a status outside 200-399, or none logged."""
        return self.status is None or not 200 <= self.status < 400

    @property
    def session_id(self) -> str | None:
        """The ``Helicone-Session-Id`` (stored by Helicone as a property)."""
        return _lookup(self.properties, "Helicone-Session-Id")

    def property(self, name: str) -> str | None:
        """A custom property by name, matched case-insensitively (Helicone may lower-case
        header names).

        Args:
            name: the property name (without the ``Helicone-Property-`` prefix).

        Returns:
            Its value, or None.
        """
        return _lookup(self.properties, name)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> LoggedRequest:
        """Read a ``HeliconeRequest`` row, tolerating quoted numbers and either date style.

        Args:
            row: the row.

        Returns:
            The record.

        Raises:
            ValueError: ``row`` has no ``request_id``.
        """
        request_id = _str(row.get("request_id"))
        if request_id is None:
            raise ValueError("a HeliconeRequest row without request_id")
        props = _mapping(row.get("request_properties")) or _mapping(row.get("properties"))
        scores: dict[str, int] = {}
        for name, value in _mapping(row.get("scores")).items():
            if isinstance(value, Mapping):  # Postgres: {"value": n, "valueType": t}
                value = value.get("value")
            number = 1 if value is True else 0 if value is False else _int(value)
            if number is not None:
                scores[str(name)] = number
        feedback_score = scores.pop(_FEEDBACK_SCORE, None)
        feedback = row.get("feedback_rating")
        if not isinstance(feedback, bool):
            feedback = None if feedback_score is None else bool(feedback_score)
        cache_ref = _str(row.get("cache_reference_id"))
        prompt = _int(row.get("prompt_tokens"))
        completion = _int(row.get("completion_tokens"))
        total = _int(row.get("total_tokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return cls(
            request_id=request_id,
            created_at=_datetime(row.get("request_created_at")),
            model=_str(row.get("request_model") or row.get("model") or row.get("response_model")),
            provider=_str(row.get("provider")),
            status=_int(row.get("response_status")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            cost=_float(row["cost"] if row.get("cost") is not None else row.get("costUSD")),
            latency_ms=_int(row.get("delay_ms")),
            time_to_first_token_ms=_int(row.get("time_to_first_token")),
            user_id=_str(row.get("request_user_id")),
            properties={str(k): str(v) for k, v in props.items() if v is not None},
            scores=scores,
            feedback=feedback,
            cached=cache_ref is not None and cache_ref != DEFAULT_UUID,
            prompt_id=_str(row.get("prompt_id")),
            request_body=_body(row.get("request_body")),
            response_body=_body(row.get("response_body")),
            raw=dict(row),
        )


@attrs.frozen
class SessionSummary:
    """One session's totals (a ``SessionResult`` row of ``POST /v1/session/query``).

    Attributes:
        session_id, session_name: the ``Helicone-Session-Id`` / ``-Name``.
        created_at, latest_request_created_at: its first and last request (UTC).
        total_cost: USD.
        total_requests, prompt_tokens, completion_tokens, total_tokens: totals.
        avg_latency_ms: mean request latency.
        user_ids: the users seen in the session.
        raw: the whole row.
    """

    session_id: str
    session_name: str | None = None
    created_at: datetime | None = None
    latest_request_created_at: datetime | None = None
    total_cost: float | None = None
    total_requests: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    avg_latency_ms: float | None = None
    user_ids: tuple[str, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> SessionSummary:
        """Read a ``SessionResult`` row.

        Raises:
            ValueError: the row has no ``session_id``.
        """
        session_id = _str(row.get("session_id"))
        if session_id is None:
            raise ValueError("a SessionResult row without session_id")
        users = row.get("user_ids")
        return cls(
            session_id=session_id,
            session_name=_str(row.get("session_name")),
            created_at=_datetime(row.get("created_at")),
            latest_request_created_at=_datetime(row.get("latest_request_created_at")),
            total_cost=_float(row.get("total_cost")),
            total_requests=_int(row.get("total_requests")),
            prompt_tokens=_int(row.get("prompt_tokens")),
            completion_tokens=_int(row.get("completion_tokens")),
            total_tokens=_int(row.get("total_tokens")),
            avg_latency_ms=_float(row.get("avg_latency")),
            user_ids=tuple(str(u) for u in users) if isinstance(users, list) else (),
            raw=dict(row),
        )


@attrs.frozen
class UserMetrics:
    """One user's metrics (a ``UserMetricsResult`` of ``POST /v1/user/metrics/query``).

    Attributes:
        user_id: the ``Helicone-User-Id``.
        first_active, last_active: first and last request (UTC).
        active_for: days active.
        total_requests: requests made.
        average_requests_per_day_active, average_tokens_per_request: averages.
        total_prompt_tokens, total_completion_tokens: token totals.
        cost: USD.
        raw: the whole row.
    """

    user_id: str
    first_active: datetime | None = None
    last_active: datetime | None = None
    active_for: float | None = None
    total_requests: int | None = None
    average_requests_per_day_active: float | None = None
    average_tokens_per_request: float | None = None
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None
    cost: float | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> UserMetrics:
        """Read a ``UserMetricsResult`` row.

        Raises:
            ValueError: the row has no ``user_id``.
        """
        user_id = _str(row.get("user_id"))
        if user_id is None:
            raise ValueError("a UserMetricsResult row without user_id")
        return cls(
            user_id=user_id,
            first_active=_datetime(row.get("first_active")),
            last_active=_datetime(row.get("last_active")),
            active_for=_float(row.get("active_for")),
            total_requests=_int(row.get("total_requests")),
            average_requests_per_day_active=_float(row.get("average_requests_per_day_active")),
            average_tokens_per_request=_float(row.get("average_tokens_per_request")),
            total_prompt_tokens=_int(row.get("total_prompt_tokens")),
            total_completion_tokens=_int(row.get("total_completion_tokens")),
            cost=_float(row.get("cost")),
            raw=dict(row),
        )


# -- pagination ------------------------------------------------------------------------------


class AsyncPager(Generic[T]):
    """An async iterator over every row of a paginated query; pages are fetched on demand.

    ``async for row in client.requests.query(...)``. It is single-use, like a stream. Pages
    use ``offset``/``limit``; with a ``created_at`` sort, rows logged while you iterate can
    shift later pages (a row may repeat or be skipped): bound the time range to avoid that.

    Attributes:
        pages_fetched: how many pages were requested so far.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[list[Any]]],
        parse: Callable[[Mapping[str, Any]], T],
        *,
        offset: int,
        limit: int | None,
        page_size: int,
        what: str,
    ) -> None:
        self._fetch = fetch
        self._parse = parse
        self._offset = offset
        self._left = limit
        self._page_size = page_size
        self._what = what
        self._buffer: list[T] = []
        self._done = limit == 0
        self.pages_fetched = 0

    def __aiter__(self) -> AsyncPager[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopAsyncIteration
            await self._next_page()
        return self._buffer.pop(0)

    async def _next_page(self) -> None:
        size = self._page_size if self._left is None else min(self._page_size, self._left)
        rows = await self._fetch(self._offset, size)
        self.pages_fetched += 1
        if not isinstance(rows, list):
            raise APIResponseValidationError(
                f"The REST API answered a {self._what} query with {type(rows).__name__}, "
                "not a list",
                status_code=200,
                body=rows,
            )
        items: list[T] = []
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise APIResponseValidationError(
                    f"{self._what} row {self._offset + index} is not an object",
                    status_code=200,
                    body=row,
                )
            try:
                items.append(self._parse(row))
            except ValueError as exc:
                raise APIResponseValidationError(
                    f"{self._what} row {self._offset + index}: {exc}", status_code=200, body=row
                ) from exc
        # A short page ends the query; so does a page longer than asked for (an endpoint
        # that ignores limit returned everything: asking again would repeat it).
        if len(items) != size:
            self._done = True
        if self._left is not None:
            items = items[: self._left]
            self._left -= len(items)
            self._done = self._done or self._left <= 0
        self._offset += len(items)
        self._buffer.extend(items)

    async def to_list(self) -> list[T]:
        """Fetch every remaining row.

        Returns:
            The rows, in the API's order.
        """
        return [item async for item in self]


def _paging(offset: object, limit: object, page_size: object) -> tuple[int, int | None, int]:
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


def _rating(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError("rating", f"must be a bool, got {type(value).__name__}")
    return value


def _scores(scores: object) -> dict[str, int | bool]:
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


def _time_range(
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


# -- resources -------------------------------------------------------------------------------


class _RestResource:
    __slots__ = ("_rest",)

    def __init__(self, rest: RestConnection) -> None:
        self._rest = rest


class Requests(_RestResource):
    """``client.requests``: feedback, scores, properties and queries on logged requests.

    Every method takes the request as an id or as anything carrying ``.helicone`` (a
    completion, a stream, an ``APIStatusError``).
    """

    __slots__ = ()

    async def feedback(
        self,
        request_id: RequestRef,
        rating: bool,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> None:
        """Rate a request thumbs up (``True``) or down (``POST /v1/request/{id}/feedback``).

        Args:
            request_id: the request (an id, or a result or error carrying ``.helicone``).
            rating: True for a positive rating.
            timeout, max_retries: per call.

        Raises:
            InvalidInputError: no request id, or ``rating`` is not a bool.
            APIStatusError: the API refused (an unknown id is a 500 from Helicone).
            HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/request/{request_id_of(request_id)}/feedback"
        body = {"rating": _rating(rating)}
        await self._rest.call("POST", path, body=body, timeout=timeout, max_retries=max_retries)

    async def score(
        self,
        request_id: RequestRef,
        scores: Mapping[str, int | bool],
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> None:
        """Attach scores to a request (``POST /v1/request/{id}/score``).

        Helicone stores integers and booleans only; a float is refused here, before
        sending: scale it (``round(0.92 * 100)``). Helicone processes scores with a delay
        (about 10 minutes, docs/features/advanced-usage/scores.mdx).

        Args:
            request_id: the request.
            scores: name -> int or bool, e.g. ``{"accuracy": 92, "grounded": True}``.
            timeout, max_retries: per call.

        Raises:
            InvalidInputError: no request id, an empty mapping, or a value that is not an
                int or a bool (floats included).
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/request/{request_id_of(request_id)}/score"
        body = {"scores": _scores(scores)}
        await self._rest.call("POST", path, body=body, timeout=timeout, max_retries=max_retries)

    async def set_property(
        self,
        request_id: RequestRef,
        key: str,
        value: str,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> None:
        """Add or change a custom property after the fact (``PUT /v1/request/{id}/property``).

        Args:
            request_id: the request.
            key: the property name.
            value: its value.
            timeout, max_retries: per call.

        Raises:
            InvalidInputError: no request id, or ``key``/``value`` is not a (non-empty) str.
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        if not isinstance(key, str) or not key:
            raise InvalidInputError("key", "must be a non-empty str")
        if not isinstance(value, str):
            raise InvalidInputError("value", f"must be a str, got {type(value).__name__}")
        path = f"v1/request/{request_id_of(request_id)}/property"
        body = {"key": key, "value": value}
        await self._rest.call("PUT", path, body=body, timeout=timeout, max_retries=max_retries)

    async def get(
        self,
        request_id: RequestRef,
        *,
        include_body: bool = False,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> LoggedRequest:
        """Fetch one logged request (``GET /v1/request/{id}``).

        Args:
            request_id: the request.
            include_body: also fetch the request and response bodies.
            timeout, max_retries: per call.

        Returns:
            The :class:`LoggedRequest`.

        Raises:
            InvalidInputError: no request id.
            APIStatusError: the API refused (an unknown id is a 500 from Helicone).
            APIResponseValidationError: the answer was not a request row.
            HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/request/{request_id_of(request_id)}"
        params = {"includeBody": "true" if include_body else "false"}
        data = await self._rest.call(
            "GET", path, params=params, timeout=timeout, max_retries=max_retries
        )
        if not isinstance(data, Mapping):
            raise APIResponseValidationError(
                "The REST API's request answer is not an object", status_code=200, body=data
            )
        try:
            return LoggedRequest.from_json(data)
        except ValueError as exc:
            raise APIResponseValidationError(str(exc), status_code=200, body=data) from exc

    def query(
        self,
        filter: FilterArg = None,
        *,
        sort: Mapping[str, Literal["asc", "desc"]] | None = None,
        limit: int | None = None,
        offset: int = 0,
        page_size: int = 100,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> AsyncPager[LoggedRequest]:
        """Query logged requests (``POST /v1/request/query-clickhouse``), page by page.

        Args:
            filter: a :class:`RequestFilter` (or a raw ``FilterNode`` mapping, checked for
                the ``request_response_rmt`` wrapper); None means every request.
            sort: one column and direction, e.g. ``{"cost": "desc"}`` (default: Helicone's,
                newest first).
            limit: stop after this many rows (None: all of them).
            offset: rows to skip first.
            page_size: rows per call (1-1000).
            timeout, max_retries: per page.

        Returns:
            An :class:`AsyncPager` of :class:`LoggedRequest` (``async for``).

        Raises:
            InvalidInputError: a bad argument (raised here, before anything is sent).
            APIStatusError, HeliconeAPIError, APIConnectionError,
            APIResponseValidationError: while iterating.
        """
        body: dict[str, Any] = {"filter": filter_json(filter)}
        sort_json = _sort(sort, _SORT_KEYS)
        if sort_json:
            body["sort"] = sort_json
        start, most, size = _paging(offset, limit, page_size)

        async def fetch(at: int, count: int) -> list[Any]:
            page = {**body, "offset": at, "limit": count}
            data = await self._rest.call(
                "POST",
                "v1/request/query-clickhouse",
                body=page,
                timeout=timeout,
                max_retries=max_retries,
            )
            return data if isinstance(data, list) else [] if data is None else data

        return AsyncPager(
            fetch, LoggedRequest.from_json, offset=start, limit=most, page_size=size, what="request"
        )

    async def count(
        self,
        filter: FilterArg = None,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> int:
        """Count logged requests matching ``filter`` (``POST /v1/request/count/query``).

        Args:
            filter: as for :meth:`query`.
            timeout, max_retries: per call.

        Returns:
            The count.

        Raises:
            InvalidInputError, APIStatusError, HeliconeAPIError, APIConnectionError,
            APIResponseValidationError: as for :meth:`query`.
        """
        body = {"filter": filter_json(filter)}
        data = await self._rest.call(
            "POST", "v1/request/count/query", body=body, timeout=timeout, max_retries=max_retries
        )
        number = _int(data)
        if number is None:
            raise APIResponseValidationError(
                "The REST API's count is not a number", status_code=200, body=data
            )
        return number


class Sessions(_RestResource):
    """``client.sessions``: session feedback and session metrics."""

    __slots__ = ()

    async def feedback(
        self,
        session_id: str,
        rating: bool,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> None:
        """Rate a whole session (``POST /v1/session/{id}/feedback``).

        Args:
            session_id: the ``Helicone-Session-Id``.
            rating: True for a positive rating.
            timeout, max_retries: per call.

        Raises:
            InvalidInputError: an empty id, or ``rating`` is not a bool.
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/session/{_path_id('session_id', session_id)}/feedback"
        body = {"rating": _rating(rating)}
        await self._rest.call("POST", path, body=body, timeout=timeout, max_retries=max_retries)

    def query(
        self,
        *,
        search: str = "",
        name: str | None = None,
        since: datetime | timedelta | None = None,
        until: datetime | None = None,
        filter: FilterArg = None,
        timezone_difference: int = 0,
        limit: int | None = None,
        offset: int = 0,
        page_size: int = 100,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> AsyncPager[SessionSummary]:
        """Query sessions and their totals (``POST /v1/session/query``).

        Args:
            search: a text the session id or name must contain.
            name: only sessions with exactly this ``Helicone-Session-Name``.
            since: sessions from this time (a datetime, or a timedelta back from now;
                default: all time).
            until: sessions up to this time (default: now).
            filter: a :class:`RequestFilter` on the sessions' requests.
            timezone_difference: the dashboard's timezone offset, passed through.
            limit, offset, page_size: as for :meth:`Requests.query`.
            timeout, max_retries: per page.

        Returns:
            An :class:`AsyncPager` of :class:`SessionSummary`.

        Raises:
            InvalidInputError, APIStatusError, HeliconeAPIError, APIConnectionError,
            APIResponseValidationError: as for :meth:`Requests.query`.
        """
        if not isinstance(search, str):
            raise InvalidInputError("search", "must be a str")
        if name is not None and not isinstance(name, str):
            raise InvalidInputError("name", "must be a str")
        if isinstance(timezone_difference, bool) or not isinstance(timezone_difference, int):
            raise InvalidInputError("timezone_difference", "must be an int")
        start, end = _time_range(since, until)
        body: dict[str, Any] = {
            "search": search,
            "timeFilter": {
                "startTimeUnixMs": 0 if start is None else int(start.timestamp() * 1000),
                "endTimeUnixMs": int((end or datetime.now(UTC)).timestamp() * 1000),
            },
            "timezoneDifference": timezone_difference,
            "filter": filter_json(filter),
        }
        if name is not None:
            body["nameEquals"] = name
        first, most, size = _paging(offset, limit, page_size)

        async def fetch(at: int, count: int) -> list[Any]:
            page = {**body, "offset": at, "limit": count}
            data = await self._rest.call(
                "POST", "v1/session/query", body=page, timeout=timeout, max_retries=max_retries
            )
            return [] if data is None else data

        return AsyncPager(
            fetch,
            SessionSummary.from_json,
            offset=first,
            limit=most,
            page_size=size,
            what="session",
        )


_USER_SORT_KEYS = frozenset(
    {
        "user_id",
        "first_active",
        "last_active",
        "total_requests",
        "average_requests_per_day_active",
        "average_tokens_per_request",
        "total_completion_tokens",
        "total_prompt_tokens",
        "cost",
    }
)


class Users(_RestResource):
    """``client.users``: per-user metrics."""

    __slots__ = ()

    def metrics(
        self,
        *,
        filter: FilterArg = None,
        since: datetime | timedelta | None = None,
        until: datetime | None = None,
        sort: Mapping[str, Literal["asc", "desc"]] | None = None,
        timezone_difference_minutes: int = 0,
        limit: int | None = None,
        offset: int = 0,
        page_size: int = 100,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> AsyncPager[UserMetrics]:
        """Per-user metrics (``POST /v1/user/metrics/query``), page by page.

        Args:
            filter: a :class:`RequestFilter` on the users' requests.
            since, until: the time range (sent as ``timeFilter`` in Unix seconds).
            sort: one column and direction, e.g. ``{"cost": "desc"}``.
            timezone_difference_minutes: passed through.
            limit, offset, page_size: as for :meth:`Requests.query`.
            timeout, max_retries: per page.

        Returns:
            An :class:`AsyncPager` of :class:`UserMetrics`.

        Raises:
            InvalidInputError, APIStatusError, HeliconeAPIError, APIConnectionError,
            APIResponseValidationError: as for :meth:`Requests.query`.
        """
        body: dict[str, Any] = {"filter": filter_json(filter)}
        start, end = _time_range(since, until)
        if start is not None or end is not None:
            body["timeFilter"] = {
                "startTimeUnixSeconds": 0 if start is None else int(start.timestamp()),
                "endTimeUnixSeconds": int((end or datetime.now(UTC)).timestamp()),
            }
        if isinstance(timezone_difference_minutes, bool) or not isinstance(
            timezone_difference_minutes, int
        ):
            raise InvalidInputError("timezone_difference_minutes", "must be an int")
        body["timeZoneDifferenceMinutes"] = timezone_difference_minutes
        sort_json = _sort(sort, _USER_SORT_KEYS)
        if sort_json:
            body["sort"] = sort_json
        first, most, size = _paging(offset, limit, page_size)

        async def fetch(at: int, count: int) -> list[Any]:
            page = {**body, "offset": at, "limit": count}
            data = await self._rest.call(
                "POST", "v1/user/metrics/query", body=page, timeout=timeout, max_retries=max_retries
            )
            users = data.get("users") if isinstance(data, Mapping) else data
            return [] if users is None else users

        return AsyncPager(
            fetch, UserMetrics.from_json, offset=first, limit=most, page_size=size, what="user"
        )
