"""Layer 8 (test kit): the fake REST API's session names, metrics and tags.

``POST /v1/session/name/query`` groups the logged rows that carry a ``Helicone-Session-Id``
by ``Helicone-Session-Name`` (an ``equals`` on ``nameContains``, as Jawn does despite the
name; at most 50 names); ``POST /v1/session/metrics/query`` gives per-session requests,
duration (whole seconds from the first to the last request) and cost, as 10 equal-width
bins of the sessions at or below the ``pSize`` percentile (ClickHouse's ``histogram(10)``
is adaptive; the fake's bins are simpler) and means over all sessions;
``GET``/``POST /v1/session/{id}/tag`` read and set a session's tag (the newest wins; Jawn
does not check that the session exists, nor does the fake).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._emit import Step
from ._rest_rows import Row, ch_time, matches, number, result

__all__ = ["SESSION_TAG", "SessionTags", "session_metrics", "session_names"]

_QUANTILES = {"p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}

SESSION_TAG = re.compile(r"^/v1/session/(?P<id>[^/]+)/tag$")


def session_names(rows: list[Row], body: Any) -> list[Step]:
    """``POST /v1/session/name/query`` over the logged ``rows``."""
    if not isinstance(body, dict) or not isinstance(body.get("timezoneDifference"), int):
        return result(500, error="Invalid timezone difference")
    window = body.get("timeFilter") or {}
    start = number(window.get("startTimeUnixMs"), 0) / 1000
    end = number(window.get("endTimeUnixMs"), math.inf) / 1000
    wanted = body.get("nameContains") or ""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        properties = row.data["properties"]
        if "Helicone-Session-Id" not in properties:
            continue
        name = properties.get("Helicone-Session-Name", "")
        if wanted and name != wanted:
            continue
        created = math.floor(row.created * 1000) / 1000
        if start <= created <= end and matches(body.get("filter", "all"), row):
            groups.setdefault(name, []).append(row)
    answer = []
    for name, members in list(groups.items())[:50]:
        latencies = [r.data["delay_ms"] for r in members if r.data["delay_ms"] is not None]
        first = ch_time(min(r.created for r in members))
        answer.append(
            {
                "name": name,
                "created_at": first,
                "first_used": first,
                "last_used": ch_time(max(r.created for r in members)),
                "session_count": len(
                    {r.data["properties"]["Helicone-Session-Id"] for r in members}
                ),
                "avg_latency": sum(latencies) / len(latencies) if latencies else 0,
            }
        )
    return result(200, answer)


def _sessions(rows: list[Row], body: dict[str, Any]) -> dict[str, list[Row]]:
    window = body.get("timeFilter") or {}
    start = number(window.get("startTimeUnixMs"), 0) / 1000
    end = number(window.get("endTimeUnixMs"), math.inf) / 1000
    wanted = body.get("nameContains") or ""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        properties = row.data["properties"]
        session = properties.get("Helicone-Session-Id")
        if not session or (wanted and properties.get("Helicone-Session-Name", "") != wanted):
            continue
        created = math.floor(row.created * 1000) / 1000
        if start <= created <= end and matches(body.get("filter", "all"), row):
            groups.setdefault(session, []).append(row)
    return groups


def _histogram(values: list[float], quantile: float) -> list[dict[str, Any]]:
    if not values:
        return []
    ordered = sorted(values)
    # ClickHouse's quantile() interpolates between ranks, as here.
    position = (len(ordered) - 1) * quantile
    low = ordered[math.floor(position)]
    high = ordered[math.ceil(position)]
    cut = low + (high - low) * (position - math.floor(position))
    kept = [v for v in ordered if v <= cut]
    first, last = kept[0], kept[-1]
    if first == last:
        return [{"range_start": str(first), "range_end": str(last), "value": len(kept)}]
    width = (last - first) / 10
    counts = [0] * 10
    for value in kept:
        counts[min(int((value - first) / width), 9)] += 1
    return [
        {
            "range_start": str(first + i * width),
            "range_end": str(first + (i + 1) * width),
            "value": count,
        }
        for i, count in enumerate(counts)
        if count
    ]


def session_metrics(rows: list[Row], body: Any) -> list[Step]:
    """``POST /v1/session/metrics/query`` over the logged ``rows``."""
    if not isinstance(body, dict) or not isinstance(body.get("timezoneDifference"), int):
        return result(500, error="Invalid timezone difference")
    quantile = _QUANTILES.get(body.get("pSize") or "p75")
    if quantile is None:
        return result(500, error="invalid pSize")
    groups = _sessions(rows, body)
    counts = [float(len(members)) for members in groups.values()]
    durations = [
        float(math.floor(max(r.created for r in m)) - math.floor(min(r.created for r in m)))
        for m in groups.values()
    ]
    costs = [sum(r.data["cost"] or 0.0 for r in m) for m in groups.values()]

    def average(values: list[float]) -> list[dict[str, float]]:
        return [{"average": sum(values) / len(values)}] if values else [{"average": 0.0}]

    return result(
        200,
        {
            "session_count": _histogram(counts, quantile),
            "session_duration": _histogram(durations, quantile),
            "session_cost": _histogram(costs, quantile),
            "average": {
                "session_count": average(counts),
                "session_duration": average(durations),
                "session_cost": average(costs),
            },
        },
    )


class SessionTags:
    """Session id -> tag, as set through the API."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}

    def answer(self, method: str, path: str, body: Any) -> list[Step] | None:
        """The answer to a tag call, or None when ``path`` is not one."""
        match = SESSION_TAG.match(path)
        if match is None:
            return None
        session = match["id"]  # ASGI paths arrive percent-decoded
        if method == "GET":
            return result(200, self.tags.get(session))
        if method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("tag"), str):
                return result(500, error="tag must be a string")
            self.tags[session] = body["tag"]
            return result(200)
        return None
