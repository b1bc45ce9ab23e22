"""Layer 8 (test kit): rows of the fake REST API, and the filters and sorts Jawn applies.

Filters follow ``packages/filters/filters.ts`` with the ``request_response_rmt`` mapping:
only leaves wrapped in ``request_response_rmt`` match (an unwrapped leaf, or a table the fake
does not emulate, matches no row); inside a leaf only the first field and its first operator
count, and an unknown field adds no condition. A malformed filter raises
:class:`FilterError`, which the API answers with a 500, as Jawn does.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, TypeGuard

import attrs

from ._emit import Step, response
from ._wire import JSON_TYPE, dumps

__all__ = [
    "DEFAULT_UUID",
    "FEEDBACK_SCORE",
    "FilterError",
    "Row",
    "ch_time",
    "is_int",
    "matches",
    "number",
    "result",
    "sorted_rows",
]

#: ``cache_reference_id`` of a row not served from the cache.
DEFAULT_UUID = "00000000-0000-0000-0000-000000000000"
#: The score a request's feedback rating is stored under.
FEEDBACK_SCORE = "helicone-score-feedback"

_TEXT_COLUMNS = {
    "model": "request_model",
    "provider": "provider",
    "user_id": "request_user_id",
    "request_id": "request_id",
    "cache_reference_id": "cache_reference_id",
    "prompt_id": "prompt_id",
    "prompt_version": "prompt_version",
    "target_url": "target_url",
    "country_code": "country_code",
    "request_referrer": "request_referrer",
}
_NUMBER_COLUMNS = {
    "status": "response_status",
    "latency": "delay_ms",
    "time_to_first_token": "time_to_first_token",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "prompt_cache_read_tokens": "prompt_cache_read_tokens",
    "prompt_cache_write_tokens": "prompt_cache_write_tokens",
}
_BOOL_COLUMNS = {"cache_enabled": "cache_enabled", "threat": "threat"}
_TIME_COLUMNS = frozenset({"request_created_at", "response_created_at"})
_REQUEST_SORTS = {
    "latency": "delay_ms",
    "cost": "cost",
    "total_tokens": "total_tokens",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "user_id": "request_user_id",
    "body_model": "request_model",
}


class FilterError(Exception):
    pass


@attrs.frozen
class Row:
    data: dict[str, Any]
    created: float
    index: int


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def matches(node: Any, row: Row) -> bool:
    if node == "all":
        return True
    if not isinstance(node, dict):
        raise FilterError(f"Invalid filter node: {json.dumps(node)[:100]}")
    if "left" in node:
        if node.get("operator") not in ("and", "or"):
            raise FilterError("Invalid filter: only OR is supported")
        left = matches(node["left"], row)
        if node["operator"] == "and":
            return left and matches(node.get("right"), row)
        return left or matches(node.get("right"), row)
    for table, condition in node.items():
        if table != "request_response_rmt":
            # Unwrapped leaves and tables the fake does not emulate: no rows.
            return False
        if not isinstance(condition, dict) or not _rmt_condition(condition, row):
            return False
    return True


def _first(operators: Any) -> tuple[str, Any]:
    if not isinstance(operators, dict) or not operators:
        raise FilterError(f"Invalid operator {json.dumps(operators)}")
    return next(iter(operators.items()))


def _rmt_condition(condition: dict[str, Any], row: Row) -> bool:
    data = row.data
    for nested in ("properties", "scores"):
        if condition.get(nested):
            name, operators = next(iter(condition[nested].items()))
            op, expected = _first(operators)
            values: dict[str, Any] = data[nested]
            if nested == "scores":
                return name in values and _compare_number(values[name], op, expected)
            return _compare_text(values.get(name, ""), op, expected)
    if condition.get("cached"):
        op, expected = _first(condition["cached"])
        if op != "equals":
            raise FilterError("Cached filter only supports 'equals' operator")
        cached: bool = data["cache_reference_id"] != DEFAULT_UUID
        return cached == (expected is True)
    if condition.get("cost"):
        op, expected = _first(condition["cost"])
        if isinstance(expected, bool) or not isinstance(expected, (int, float)):
            raise FilterError("cost filters take a number")
        return _compare_number(round((data["cost"] or 0.0) * 1e9), op, math.floor(expected * 1e9))
    column = next(iter(condition), None)
    if column is None:
        return True
    op, expected = _first(condition[column])
    if column in _TEXT_COLUMNS:
        return _compare_text(data[_TEXT_COLUMNS[column]], op, expected)
    if column in _NUMBER_COLUMNS:
        return _compare_number(data[_NUMBER_COLUMNS[column]], op, expected)
    if column in _BOOL_COLUMNS:
        return op == "equals" and data.get(_BOOL_COLUMNS[column]) is bool(expected)
    if column == FEEDBACK_SCORE:
        return FEEDBACK_SCORE in data["scores"] and _compare_number(
            data["scores"][FEEDBACK_SCORE],
            op,
            int(expected) if isinstance(expected, bool) else expected,
        )
    if column in _TIME_COLUMNS:
        when = _parse_time(expected)
        if when is None:
            raise FilterError(f"Cannot parse {expected!r} as a DateTime")
        offset = 0.0 if column == "request_created_at" else (data["delay_ms"] or 0) / 1000
        return _compare_number(row.created + offset, op, when.timestamp())
    return True  # an unknown column adds no condition at all (and so matches every row)


def _compare_number(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    try:
        value, target = float(actual), float(expected)
    except (TypeError, ValueError):
        return False
    return {
        "equals": value == target,
        "not-equals": value != target,
        "gte": value >= target,
        "lte": value <= target,
        "gt": value > target,
        "lt": value < target,
    }.get(op, False)


def _compare_text(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    value, target = str(actual), str(expected)
    if op == "equals":
        return value == target
    if op == "not-equals":
        return value != target
    if op in ("contains", "not-contains"):  # ILIKE '%target%'
        return (target.lower() in value.lower()) == (op == "contains")
    if op in ("like", "ilike"):
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in target)
        flags = re.IGNORECASE | re.DOTALL if op == "ilike" else re.DOTALL
        return re.fullmatch(pattern, value, flags) is not None
    return _compare_number(actual, op, expected)


def sorted_rows(rows: list[Row], sort: Any) -> list[Row]:
    column, direction = "created_at", "desc"
    if isinstance(sort, dict) and sort:
        column, direction = next(iter(sort.items()))
    descending = direction == "desc"
    if column == "created_at":
        return sorted(rows, key=lambda r: (r.created, r.index), reverse=descending)
    if column == "is_cached":
        return sorted(
            rows,
            key=lambda r: (r.data["cache_reference_id"] != DEFAULT_UUID, r.index),
            reverse=descending,
        )
    field = _REQUEST_SORTS.get(column)
    if field is None:
        return rows
    return sorted(
        rows,
        key=lambda r: (r.data[field] is not None, r.data[field] or 0, r.index),
        reverse=descending,
    )


def result(status: int, data: Any = None, *, error: str | None = None) -> list[Step]:
    """A Jawn ``{"data", "error"}`` Result answer."""
    return response(status, JSON_TYPE, dumps({"data": data, "error": error}))


def is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: object, default: float) -> float:
    """A JSON number as a float, or ``default`` for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def ch_time(seconds: float) -> str:
    """A time the ClickHouse way: ``2026-11-27 14:00:35.123`` (UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
