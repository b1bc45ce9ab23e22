"""Layer 0 (core): session names and tags, from Jawn's ``SessionController`` (pure, no I/O).

What the REST API offers beyond ``POST /v1/session/query`` and session feedback
(valhalla/jawn ``controllers/public/sessionController.ts``, ``managers/SessionManager.ts``):

- ``POST /v1/session/name/query``: one row per ``Helicone-Session-Name`` (at most 50, of the
  last 150 days): first and last use, how many sessions, mean latency;
- ``GET /v1/session/{id}/tag`` / ``POST /v1/session/{id}/tag`` ``{"tag": str}``: one tag per
  session (the newest one set wins; None when none was set).

- ``POST /v1/session/metrics/query``: the distribution of requests, duration (seconds) and
  cost per session, as ClickHouse ``histogram(10)`` bins of the sessions at or below a
  percentile (``p75`` by default), and each one's mean over all sessions.

Per-user metrics are ``client.users.metrics`` (``POST /v1/user/metrics/query``). This module
builds the bodies and reads the answers; ``Sessions`` (``_rest.py``) sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ._exceptions import APIResponseValidationError, InvalidInputError
from ._rest_records import _datetime, _float, _str, int_or_none

__all__ = [
    "MAX_TAG_LENGTH",
    "PERCENTILES",
    "HistogramBin",
    "SessionMetrics",
    "SessionName",
    "check_tag",
    "metrics_body",
    "names_body",
    "read_names",
    "read_tag",
]

#: The percentiles ``POST /v1/session/metrics/query`` accepts as ``pSize``.
PERCENTILES = ("p50", "p75", "p95", "p99", "p99.9")

#: The longest tag accepted here (Helicone documents no limit; tags are labels).
MAX_TAG_LENGTH = 1000


@attrs.frozen
class SessionName:
    """One session name's usage (a ``SessionNameResult`` row).

    Attributes:
        name: the ``Helicone-Session-Name`` (``""`` for sessions without one).
        first_used, last_used: its first and last request (UTC).
        session_count: distinct sessions with this name.
        avg_latency_ms: mean request latency.
        raw: the whole row.
    """

    name: str
    first_used: datetime | None = None
    last_used: datetime | None = None
    session_count: int | None = None
    avg_latency_ms: float | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> SessionName:
        """Read a ``SessionNameResult`` row (a missing name reads as ``""``)."""
        return cls(
            name=_str(row.get("name")) or "",
            first_used=_datetime(row.get("first_used") or row.get("created_at")),
            last_used=_datetime(row.get("last_used")),
            session_count=int_or_none(row.get("session_count")),
            avg_latency_ms=_float(row.get("avg_latency")),
            raw=dict(row),
        )


@attrs.frozen
class HistogramBin:
    """One bin of a session histogram: ``count`` sessions with a value in ``[start, end]``.

    ``count`` is ClickHouse's (approximate, adaptive ``histogram(10)``) weight.
    """

    start: float
    end: float
    count: float


def _bins(value: object) -> tuple[HistogramBin, ...]:
    if not isinstance(value, list):
        return ()
    bins = []
    for row in value:
        if isinstance(row, Mapping):
            start, end = _float(row.get("range_start")), _float(row.get("range_end"))
            count = _float(row.get("value"))
            if start is not None and end is not None and count is not None:
                bins.append(HistogramBin(start, end, count))
    return tuple(bins)


def _average(value: object) -> float | None:
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return _float(value[0].get("average"))
    return None


@attrs.frozen
class SessionMetrics:
    """How sessions are distributed (``POST /v1/session/metrics/query``).

    Attributes:
        requests_per_session, duration_seconds, cost_usd: histograms of the sessions at or
            below the percentile asked for.
        average_requests, average_duration_seconds, average_cost_usd: means over all the
            sessions matched (None when there were none).
        raw: the whole answer.
    """

    requests_per_session: tuple[HistogramBin, ...] = ()
    duration_seconds: tuple[HistogramBin, ...] = ()
    cost_usd: tuple[HistogramBin, ...] = ()
    average_requests: float | None = None
    average_duration_seconds: float | None = None
    average_cost_usd: float | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, data: Any) -> SessionMetrics:
        """Read the answer's ``data``.

        Raises:
            APIResponseValidationError: not an object.
        """
        if not isinstance(data, Mapping):
            raise APIResponseValidationError(
                "The REST API's session metrics are not an object", status_code=200, body=data
            )
        average = data.get("average")
        average = average if isinstance(average, Mapping) else {}
        return cls(
            requests_per_session=_bins(data.get("session_count")),
            duration_seconds=_bins(data.get("session_duration")),
            cost_usd=_bins(data.get("session_cost")),
            average_requests=_average(average.get("session_count")),
            average_duration_seconds=_average(average.get("session_duration")),
            average_cost_usd=_average(average.get("session_cost")),
            raw=dict(data),
        )


def metrics_body(
    *,
    name: str | None,
    since: datetime | timedelta | None,
    until: datetime | None,
    filter_json: Any,
    timezone_difference: int,
    percentile: str,
) -> dict[str, Any]:
    """The body of ``POST /v1/session/metrics/query``.

    Raises:
        InvalidInputError: as for :func:`names_body`, or ``percentile`` is not one of
            :data:`PERCENTILES`.
    """
    if percentile not in PERCENTILES:
        raise InvalidInputError("percentile", f"must be one of {', '.join(PERCENTILES)}")
    body = names_body(
        name=name,
        since=since,
        until=until,
        filter_json=filter_json,
        timezone_difference=timezone_difference,
    )
    body["pSize"] = percentile
    return body


def _window(since: datetime | timedelta | None, until: datetime | None) -> dict[str, int] | None:
    if since is None and until is None:
        return None
    start = datetime.now(UTC) - since if isinstance(since, timedelta) else since
    if start is not None and not isinstance(start, datetime):
        raise InvalidInputError("since", "must be a datetime or a timedelta")
    if until is not None and not isinstance(until, datetime):
        raise InvalidInputError("until", "must be a datetime")
    end = until or datetime.now(UTC)
    return {
        "startTimeUnixMs": 0 if start is None else int(_utc(start).timestamp() * 1000),
        "endTimeUnixMs": int(_utc(end).timestamp() * 1000),
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def names_body(
    *,
    name: str | None,
    since: datetime | timedelta | None,
    until: datetime | None,
    filter_json: Any,
    timezone_difference: int,
) -> dict[str, Any]:
    """The body of ``POST /v1/session/name/query``.

    Raises:
        InvalidInputError: ``name`` is not a str, the times are not datetimes (``since``
            may be a timedelta back from now), or ``timezone_difference`` is not an int.
    """
    if name is not None and not isinstance(name, str):
        raise InvalidInputError("name", "must be a str")
    if isinstance(timezone_difference, bool) or not isinstance(timezone_difference, int):
        raise InvalidInputError("timezone_difference", "must be an int")
    body: dict[str, Any] = {"nameContains": name or "", "timezoneDifference": timezone_difference}
    window = _window(since, until)
    if window is not None:
        body["timeFilter"] = window
    if filter_json != "all":
        body["filter"] = filter_json
    return body


def read_names(data: Any) -> list[SessionName]:
    """The session names of an answer's ``data``.

    Raises:
        APIResponseValidationError: not a list of rows.
    """
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise APIResponseValidationError(
            "The REST API's session names are not a list of rows", status_code=200, body=data
        )
    return [SessionName.from_json(row) for row in data]


def read_tag(data: Any) -> str | None:
    """A session's tag from an answer's ``data`` (None: no tag).

    Raises:
        APIResponseValidationError: neither a string nor null.
    """
    if data is not None and not isinstance(data, str):
        raise APIResponseValidationError(
            "The REST API's session tag is not a string", status_code=200, body=data
        )
    return data


def check_tag(tag: object) -> str:
    """A tag to set: a non-empty str of at most :data:`MAX_TAG_LENGTH` characters.

    Raises:
        InvalidInputError: anything else.
    """
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidInputError("tag", "must be a non-empty str")
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidInputError("tag", f"must be at most {MAX_TAG_LENGTH} characters")
    return tag
