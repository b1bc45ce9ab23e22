"""Layer 8 (test kit): the fake REST API's session names and session tags.

``POST /v1/session/name/query`` groups the logged rows that carry a ``Helicone-Session-Id``
by ``Helicone-Session-Name`` (an ``equals`` on ``nameContains``, as Jawn does despite the
name; at most 50 names); ``GET``/``POST /v1/session/{id}/tag`` read and set a session's tag
(the newest wins; Jawn does not check that the session exists, nor does the fake).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._emit import Step
from ._rest_rows import Row, ch_time, matches, number, result

__all__ = ["SESSION_TAG", "SessionTags", "session_names"]

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
