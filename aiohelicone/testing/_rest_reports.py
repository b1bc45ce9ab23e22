"""Layer 8 (test kit): the fake REST API's reports: sessions and user metrics.

``POST /v1/session/query`` groups the logged rows by ``Helicone-Session-Id`` within a
millisecond time window; ``POST /v1/user/metrics`` groups them by user within a window in
seconds, with Jawn's checks of ``offset``, ``limit`` and ``sort``. ``_rest_api`` routes the
requests here with the rows it built.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ._emit import Step
from ._rest_rows import Row, ch_time, is_int, matches, number, result

__all__ = ["session_page", "user_metrics"]


def session_page(rows: list[Row], body: Any, *, ignore_offset: bool) -> list[Step]:
    """``POST /v1/session/query``: the sessions of ``rows``, newest first, one page."""
    if not isinstance(body, dict) or not isinstance(body.get("timeFilter"), dict):
        return result(400, error="search, timeFilter, timezoneDifference and filter are required")
    window = body["timeFilter"]
    start = number(window.get("startTimeUnixMs"), 0) / 1000
    end = number(window.get("endTimeUnixMs"), math.inf) / 1000
    search = str(body.get("search") or "").lower()
    groups: dict[str, list[Row]] = {}
    for row in rows:
        session = row.data["properties"].get("Helicone-Session-Id")
        # The window is in whole milliseconds, as the server stores times: a request made
        # in the same millisecond as the query's "now" is inside it.
        created = math.floor(row.created * 1000) / 1000
        if session and start <= created <= end and matches(body.get("filter", "all"), row):
            groups.setdefault(session, []).append(row)
    results = []
    for session, rows in groups.items():
        name = next((r.data["properties"].get("Helicone-Session-Name") for r in rows), None)
        if search and search not in session.lower() and search not in (name or "").lower():
            continue
        if body.get("nameEquals") is not None and name != body["nameEquals"]:
            continue
        latencies = [r.data["delay_ms"] for r in rows if r.data["delay_ms"] is not None]
        users = [r.data["request_user_id"] for r in rows if r.data["request_user_id"]]
        results.append(
            {
                "session_id": session,
                "session_name": name or "",
                "created_at": ch_time(min(r.created for r in rows)),
                "latest_request_created_at": ch_time(max(r.created for r in rows)),
                "total_cost": round(sum(r.data["cost"] or 0.0 for r in rows), 9),
                "total_requests": len(rows),
                "prompt_tokens": sum(r.data["prompt_tokens"] for r in rows),
                "completion_tokens": sum(r.data["completion_tokens"] for r in rows),
                "total_tokens": sum(r.data["total_tokens"] for r in rows),
                "avg_latency": sum(latencies) / len(latencies) if latencies else 0,
                "user_ids": list(dict.fromkeys(users)),
            }
        )
    results.sort(key=lambda s: s["created_at"], reverse=True)
    offset = body.get("offset", 0)
    limit = body.get("limit")
    offset = offset if is_int(offset) and offset >= 0 and not ignore_offset else 0
    page = results[offset:] if not is_int(limit) else results[offset : offset + limit]
    return result(200, page)


def user_metrics(rows: list[Row], body: Any, *, ignore_offset: bool) -> list[Step]:
    """``POST /v1/user/metrics``: per-user totals of ``rows``, sorted, one page."""
    if not isinstance(body, dict):
        return result(400, error="filter, offset and limit are required")
    offset, limit = body.get("offset"), body.get("limit")
    if not is_int(offset) or not is_int(limit) or offset < 0 or limit < 0:
        return result(400, error="filter, offset and limit are required")
    if limit > 1000:
        return result(400, error="Limit cannot be greater than 1000")
    window: dict[str, Any] = body.get("timeFilter") or {}
    if not isinstance(window, dict):
        return result(400, error="timeFilter must be an object")
    start = number(window.get("startTimeUnixSeconds"), 0)
    end = number(window.get("endTimeUnixSeconds"), math.inf)
    groups: dict[str, list[Row]] = {}
    for row in rows:
        user = row.data["request_user_id"]
        # Whole seconds here (this endpoint's window is in seconds).
        if (
            user
            and start <= math.floor(row.created) <= end
            and matches(body.get("filter", "all"), row)
        ):
            groups.setdefault(user, []).append(row)
    users = []
    for user, rows in groups.items():
        days = {datetime.fromtimestamp(r.created, UTC).date() for r in rows}
        prompt = sum(r.data["prompt_tokens"] for r in rows)
        completion = sum(r.data["completion_tokens"] for r in rows)
        users.append(
            {
                "id": user,
                "user_id": user,
                "active_for": len(days),
                "first_active": ch_time(min(r.created for r in rows)),
                "last_active": ch_time(max(r.created for r in rows)),
                "total_requests": len(rows),
                "average_requests_per_day_active": len(rows) / len(days),
                "average_tokens_per_request": (prompt + completion) / len(rows),
                "total_prompt_tokens": prompt,
                "total_completion_tokens": completion,
                "cost": round(sum(r.data["cost"] or 0.0 for r in rows), 9),
            }
        )
    sort: dict[str, Any] = body.get("sort") or {}
    if not isinstance(sort, dict):
        return result(400, error="sort must be an object")
    column, direction = next(iter(sort.items()), ("last_active", "desc"))
    users.sort(
        key=lambda u: (u.get(column) is not None, u.get(column) or 0, u["user_id"]),
        reverse=direction == "desc",
    )
    offset = 0 if ignore_offset else offset
    return result(200, {"users": users[offset : offset + limit], "count": len(users)})
