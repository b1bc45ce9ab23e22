"""Layer 0 (core): REST API records: logged requests, sessions, user metrics; the pager.

Rows come from ClickHouse or Postgres, so the readers here are lenient: 64-bit integers may
arrive quoted, dates as ISO 8601 or ClickHouse's ``2026-11-27 14:00:35.123``, JSON columns as
strings. A field that cannot be read becomes None; only a row without its id is refused.
Every record keeps the whole row in ``raw`` for the fields this version does not name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from ._exceptions import APIResponseValidationError

__all__ = [
    "DEFAULT_UUID",
    "FEEDBACK_SCORE",
    "AsyncPager",
    "LoggedRequest",
    "SessionSummary",
    "UserMetrics",
    "int_or_none",
]

#: ``cache_reference_id`` of a request that was not served from the cache.
DEFAULT_UUID = "00000000-0000-0000-0000-000000000000"
#: The score name Helicone stores a request's thumbs-up/down feedback under.
FEEDBACK_SCORE = "helicone-score-feedback"

T = TypeVar("T")


# -- reading row values ----------------------------------------------------------------------


def int_or_none(value: object) -> int | None:
    """An integer column as Helicone sends it (maybe quoted, maybe a float), else None."""
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
            number = 1 if value is True else 0 if value is False else int_or_none(value)
            if number is not None:
                scores[str(name)] = number
        feedback_score = scores.pop(FEEDBACK_SCORE, None)
        feedback = row.get("feedback_rating")
        if not isinstance(feedback, bool):
            feedback = None if feedback_score is None else bool(feedback_score)
        cache_ref = _str(row.get("cache_reference_id"))
        prompt = int_or_none(row.get("prompt_tokens"))
        completion = int_or_none(row.get("completion_tokens"))
        total = int_or_none(row.get("total_tokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return cls(
            request_id=request_id,
            created_at=_datetime(row.get("request_created_at")),
            model=_str(row.get("request_model") or row.get("model") or row.get("response_model")),
            provider=_str(row.get("provider")),
            status=int_or_none(row.get("response_status")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            cost=_float(row["cost"] if row.get("cost") is not None else row.get("costUSD")),
            latency_ms=int_or_none(row.get("delay_ms")),
            time_to_first_token_ms=int_or_none(row.get("time_to_first_token")),
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
            total_requests=int_or_none(row.get("total_requests")),
            prompt_tokens=int_or_none(row.get("prompt_tokens")),
            completion_tokens=int_or_none(row.get("completion_tokens")),
            total_tokens=int_or_none(row.get("total_tokens")),
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
            total_requests=int_or_none(row.get("total_requests")),
            average_requests_per_day_active=_float(row.get("average_requests_per_day_active")),
            average_tokens_per_request=_float(row.get("average_tokens_per_request")),
            total_prompt_tokens=int_or_none(row.get("total_prompt_tokens")),
            total_completion_tokens=int_or_none(row.get("total_completion_tokens")),
            cost=_float(row.get("cost")),
            raw=dict(row),
        )


# -- pagination ------------------------------------------------------------------------------


class AsyncPager(Generic[T]):
    """An async iterator over every row of a paginated query; pages are fetched on demand.

    ``async for row in client.requests.query(...)``. It is single-use, like a stream. Pages
    use ``offset``/``limit``; with a ``created_at`` sort, rows logged while you iterate can
    shift later pages (a row may repeat or be skipped): bound the time range to avoid that.

    The query ends at a page shorter than asked for, at one longer than asked for (the
    server ignored ``limit``), and at one that repeats the start of the previous page (the
    server ignored ``offset``): asking again would repeat it forever.

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
        self._previous: list[Any] = []
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
        # A page that repeats the previous one's first rows means the endpoint ignored the
        # offset: every further page would be the same. Rows carry their ids, so two real
        # pages never compare equal. (A prefix, as a limit can make the last page smaller.)
        if rows and rows == self._previous[: len(rows)]:
            self._done = True
            return
        self._previous = rows
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
