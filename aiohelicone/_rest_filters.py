"""Layer 0 (core): filters and sort orders of Helicone's REST query endpoints (no I/O).

Request queries only accept filters wrapped in a table key: a leaf
``{"model": {"equals": ...}}`` without ``{"request_response_rmt": ...}`` around it silently
matches nothing. :class:`RequestFilter` always wraps, and raw mappings are checked for it
(:func:`filter_json`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs

from ._exceptions import InvalidInputError
from ._rest_records import FEEDBACK_SCORE

__all__ = [
    "REQUEST_SORT_KEYS",
    "USER_SORT_KEYS",
    "FilterArg",
    "RequestFilter",
    "filter_json",
    "sort_order",
]

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
        return _Leaf("scores", FEEDBACK_SCORE, "equals", "1" if rating else "0")

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


REQUEST_SORT_KEYS = frozenset(
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

USER_SORT_KEYS = frozenset(
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


def sort_order(value: Mapping[str, str] | None, allowed: frozenset[str] | None) -> dict[str, str]:
    """``sort=`` as the API's ``{column: "asc" | "desc"}``, with one ``allowed`` column."""
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
