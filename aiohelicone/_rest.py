"""Layer 4 (REST): Helicone's REST API ("Jawn"): feedback, scores, properties and queries.

The gateway call is half of Helicone; this module is the other half (../shared/helicone-api.md
§7)::

    client.requests.feedback / score / set_property / get / query / count
    client.sessions.feedback / query / names / metrics / tag / set_tag
    client.users.metrics

The parts: ``_rest_connection.py`` sends (the client's pool, retry policy and error map,
authenticated with the Helicone key), ``_rest_filters.py`` builds and checks filters and sort
orders, ``_rest_records.py`` reads rows into records and pages through them; this module holds
the resources and checks their arguments.

Answers are tsoa ``Result`` objects, ``{"data": ..., "error": ...}``. Errors:

- a non-2xx status raises the gateway's status classes (``BadRequestError``,
  ``InternalServerError``...), message taken from the Result's ``error`` string. Jawn answers
  *every* failure of a controller with 500 (an unknown request id included), so expect
  ``InternalServerError`` there, not ``NotFoundError``. A Result-shaped error is the
  application's final word and is not retried (except 408/429/502/503/504); a 5xx without
  a Result body (a proxy, a load balancer) is retried like a gateway 5xx;
- a 2xx whose Result carries an ``error`` raises :class:`HeliconeAPIError` (an
  ``APIStatusError`` whose ``status_code`` is that 2xx).

Request queries only accept filters wrapped in a table key (``{"request_response_rmt": ...}``);
an unwrapped leaf silently matches nothing. :class:`RequestFilter` always wraps, and raw
mappings are checked for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import APIResponseValidationError, InvalidInputError
from ._rest_args import (
    MAX_PAGE_SIZE as MAX_PAGE_SIZE,
)
from ._rest_args import (
    RequestRef as RequestRef,
)
from ._rest_args import (
    SupportsHelicone as SupportsHelicone,
)
from ._rest_args import (
    paging,
    rating_value,
    scores_body,
    session_path_id,
    time_range,
)
from ._rest_args import (
    request_id_of as request_id_of,
)
from ._rest_connection import HeliconeAPIError as HeliconeAPIError
from ._rest_connection import RestConnection as RestConnection
from ._rest_filters import REQUEST_SORT_KEYS, USER_SORT_KEYS, FilterArg, filter_json, sort_order
from ._rest_filters import RequestFilter as RequestFilter
from ._rest_records import DEFAULT_UUID as DEFAULT_UUID
from ._rest_records import AsyncPager as AsyncPager
from ._rest_records import LoggedRequest as LoggedRequest
from ._rest_records import SessionSummary as SessionSummary
from ._rest_records import UserMetrics as UserMetrics
from ._rest_records import int_or_none
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
from ._session_names import HistogramBin as HistogramBin
from ._session_names import SessionMetrics as SessionMetrics
from ._session_names import SessionName as SessionName
from ._session_names import check_tag, metrics_body, names_body, read_names, read_tag

if TYPE_CHECKING:
    import httpx2

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
            InvalidInputError: no valid request id, or ``rating`` is not a bool.
            APIStatusError: the API refused (an unknown id is a 500 from Helicone).
            HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/request/{request_id_of(request_id)}/feedback"
        body = {"rating": rating_value(rating)}
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
            InvalidInputError: no valid request id, an empty mapping, or a value that is not an
                int or a bool (floats included).
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/request/{request_id_of(request_id)}/score"
        body = {"scores": scores_body(scores)}
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
            InvalidInputError: no valid request id, or ``key``/``value`` is not a (non-empty) str.
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
            InvalidInputError: no valid request id.
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
        sort_json = sort_order(sort, REQUEST_SORT_KEYS)
        if sort_json:
            body["sort"] = sort_json
        start, most, size = paging(offset, limit, page_size)

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
        number = int_or_none(data)
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
            session_id: the ``Helicone-Session-Id`` (printable ASCII; percent-encoded in the
                URL).
            rating: True for a positive rating.
            timeout, max_retries: per call.

        Raises:
            InvalidInputError: an empty id, one a header could not carry, ``"."`` or ``".."``
                (which would name another endpoint), or ``rating`` is not a bool.
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring.
        """
        path = f"v1/session/{session_path_id('session_id', session_id)}/feedback"
        body = {"rating": rating_value(rating)}
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
        start, end = time_range(since, until)
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
        first, most, size = paging(offset, limit, page_size)

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

    async def names(
        self,
        *,
        name: str | None = None,
        since: datetime | timedelta | None = None,
        until: datetime | None = None,
        filter: FilterArg = None,
        timezone_difference: int = 0,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> list[SessionName]:
        """Session names and their use (``POST /v1/session/name/query``).

        One row per ``Helicone-Session-Name`` seen in the last 150 days (at most 50; Jawn
        does not page this query): distinct sessions, first and last use, mean latency.

        Args:
            name: only this name (Jawn compares it exactly, although the field is called
                ``nameContains``).
            since, until: the time range (default: no range).
            filter: a :class:`RequestFilter` on the sessions' requests.
            timezone_difference: the dashboard's timezone offset, passed through.
            timeout, max_retries: per call.

        Returns:
            The :class:`SessionName` rows.

        Raises:
            InvalidInputError: a bad argument.
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring.
            APIResponseValidationError: the answer is not a list of rows.
        """
        body = names_body(
            name=name,
            since=since,
            until=until,
            filter_json=filter_json(filter),
            timezone_difference=timezone_difference,
        )
        data = await self._rest.call(
            "POST", "v1/session/name/query", body=body, timeout=timeout, max_retries=max_retries
        )
        return read_names(data)

    async def metrics(
        self,
        *,
        name: str | None = None,
        since: datetime | timedelta | None = None,
        until: datetime | None = None,
        filter: FilterArg = None,
        percentile: Literal["p50", "p75", "p95", "p99", "p99.9"] = "p75",
        timezone_difference: int = 0,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> SessionMetrics:
        """How sessions are distributed (``POST /v1/session/metrics/query``).

        Histograms of requests, duration and cost per session (of the sessions at or
        below ``percentile``, so outliers do not flatten the bins), and their means.

        Args:
            name: only sessions with this ``Helicone-Session-Name``.
            since, until, filter, timezone_difference: as for :meth:`names`.
            percentile: the cut-off of the histograms.
            timeout, max_retries: per call.

        Returns:
            The :class:`SessionMetrics`.

        Raises:
            InvalidInputError: a bad argument.
            APIStatusError, HeliconeAPIError, APIConnectionError,
            APIResponseValidationError: see the module docstring.
        """
        body = metrics_body(
            name=name,
            since=since,
            until=until,
            filter_json=filter_json(filter),
            timezone_difference=timezone_difference,
            percentile=percentile,
        )
        data = await self._rest.call(
            "POST", "v1/session/metrics/query", body=body, timeout=timeout, max_retries=max_retries
        )
        return SessionMetrics.from_json(data)

    async def tag(
        self,
        session_id: str,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> str | None:
        """A session's tag (``GET /v1/session/{id}/tag``): the newest set, or None.

        Raises:
            InvalidInputError: an id that cannot name a session (see :meth:`feedback`).
            APIStatusError, HeliconeAPIError, APIConnectionError,
            APIResponseValidationError: see the module docstring.
        """
        path = f"v1/session/{session_path_id('session_id', session_id)}/tag"
        data = await self._rest.call("GET", path, timeout=timeout, max_retries=max_retries)
        return read_tag(data)

    async def set_tag(
        self,
        session_id: str,
        tag: str,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> None:
        """Tag a session (``POST /v1/session/{id}/tag``); a newer tag replaces it.

        Raises:
            InvalidInputError: a bad id, or ``tag`` is not a non-empty str.
            APIStatusError, HeliconeAPIError, APIConnectionError: see the module docstring
                (a read-only key gets ``RestAuthenticationError``: this is a POST).
        """
        path = f"v1/session/{session_path_id('session_id', session_id)}/tag"
        body = {"tag": check_tag(tag)}
        await self._rest.call("POST", path, body=body, timeout=timeout, max_retries=max_retries)


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
        start, end = time_range(since, until)
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
        sort_json = sort_order(sort, USER_SORT_KEYS)
        if sort_json:
            body["sort"] = sort_json
        first, most, size = paging(offset, limit, page_size)

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
