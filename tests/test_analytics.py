"""Client-side analytics: percentiles, grouping, rates, volume buckets, async input."""

from __future__ import annotations

import json
import statistics
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiohelicone import InvalidInputError, LoggedRequest, analyze, summarize
from aiohelicone._analytics import (
    NO_KEY,
    cache_hit_rate,
    cost_by,
    error_rate,
    latency_stats,
    percentile,
    volume,
)

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def rec(n: int, **kw: Any) -> LoggedRequest:
    fields: dict[str, Any] = {
        "request_id": f"r{n}",
        "created_at": T0 + timedelta(minutes=10 * n),
        "model": "gpt-4o-mini",
        "status": 200,
        "cost": 0.001,
        "latency_ms": 100,
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    fields.update(kw)
    return LoggedRequest(**fields)


RECORDS = [
    rec(0, latency_ms=100, user_id="ann", properties={"Env": "prod"}),
    rec(1, latency_ms=200, user_id="ann", properties={"env": "dev"}),
    rec(2, model="gpt-4o", cost=0.01, latency_ms=300, user_id="bob", status=500),
    rec(3, model="gpt-4o", cost=0.02, latency_ms=400, cached=True),
    rec(4, cost=None, latency_ms=None, status=None),
]


def test_percentile_interpolates_like_numpy() -> None:
    """Linear interpolation between closest ranks (numpy's default)."""
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    assert percentile(values, 90) == pytest.approx(cuts[8])
    with pytest.raises(InvalidInputError):
        percentile(values, 101)


def test_latency_stats() -> None:
    """Mean and percentiles of a sample; an empty one has only count 0."""
    stats = latency_stats([100.0, 200.0, 300.0, 400.0])
    assert (stats.count, stats.mean, stats.p50) == (4, 250.0, 250.0)
    assert stats.p99 == pytest.approx(397.0)
    empty = latency_stats([])
    assert (empty.count, empty.p50) == (0, None)


def test_summary_by_model() -> None:
    """Per-model cost, counts, rates and tokens; most expensive group first."""
    report = summarize(RECORDS, by="model")
    assert [g.key for g in report.groups] == ["gpt-4o", "gpt-4o-mini"]
    big, small = report.groups
    assert big.cost == pytest.approx(0.03)
    assert (big.requests, big.errors, big.cached) == (2, 1, 1)
    assert big.error_rate == 0.5
    assert big.cache_hit_rate == 0.5
    assert small.requests == 3
    assert small.errors == 1  # no status logged counts as an error
    assert small.latency.count == 2
    assert small.latency.p50 == 150.0
    total = report.total
    assert total.key == "total"
    assert (total.requests, total.errors, total.cached) == (5, 2, 1)
    assert total.cost == pytest.approx(0.032)
    assert total.total_tokens == 75
    assert total.latency.p90 == pytest.approx(370.0)
    assert (report.first, report.last) == (T0, T0 + timedelta(minutes=40))


def test_groupings_by_user_property_provider_session() -> None:
    """Missing keys group as (none); property names match case-insensitively."""
    by_user = summarize(RECORDS, by="user")
    assert {g.key: g.requests for g in by_user.groups} == {"ann": 2, "bob": 1, NO_KEY: 2}
    by_env = summarize(RECORDS, by="property:env")
    assert {g.key: g.requests for g in by_env.groups} == {"prod": 1, "dev": 1, NO_KEY: 3}
    assert summarize(RECORDS, by="provider").groups[0].key == NO_KEY
    session = rec(9, properties={"helicone-session-id": "s1"})
    assert summarize([session], by="session").groups[0].key == "s1"
    for bad in ("color", "property:", ""):
        with pytest.raises(InvalidInputError):
            summarize(RECORDS, by=bad)


def test_volume_buckets_are_aligned_and_gapless() -> None:
    """Buckets start on multiples of their size; empty ones in between are kept."""
    records = [rec(0), rec(1), rec(12, status=429), rec(99, created_at=None)]
    buckets = volume(records, bucket=timedelta(hours=1))
    assert [b.start for b in buckets] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert [b.requests for b in buckets] == [2, 0, 1]
    assert [b.errors for b in buckets] == [0, 0, 1]
    report = summarize(records, bucket=timedelta(minutes=30))
    assert report.undated == 1
    assert report.volume[0].start == T0
    assert sum(b.requests for b in report.volume) == 3
    with pytest.raises(InvalidInputError):
        summarize(records, bucket=timedelta(0))


def test_helpers_and_empty_input() -> None:
    """cost_by/error_rate/cache_hit_rate; no records gives empty groups and None rates."""
    assert cost_by(RECORDS) == pytest.approx({"gpt-4o": 0.03, "gpt-4o-mini": 0.002})
    assert error_rate(RECORDS) == 0.4
    assert cache_hit_rate(RECORDS) == 0.2
    empty = summarize([])
    assert (empty.total.requests, empty.groups, empty.volume) == (0, (), ())
    assert empty.total.error_rate is None
    assert error_rate([]) is None
    with pytest.raises(InvalidInputError):
        summarize([{"request_id": "x"}])  # type: ignore[list-item]


def test_report_as_dict_is_json() -> None:
    """as_dict() is JSON-serialisable and carries rates and percentiles."""
    data = json.loads(json.dumps(summarize(RECORDS).as_dict()))
    assert data["total"]["requests"] == 5
    assert data["total"]["error_rate"] == 0.4
    assert data["groups"][0]["latency_ms"]["p50"] == 350.0
    assert data["volume"][0]["start"] == T0.isoformat()


@pytest.mark.anyio
async def test_analyze_consumes_async_iterables(anyio_backend: str) -> None:
    """analyze() over an async iterator equals summarize() over the same records."""

    async def stream() -> AsyncIterator[LoggedRequest]:
        for record in RECORDS:
            yield record

    assert await analyze(stream(), by="user") == summarize(RECORDS, by="user")
    assert await analyze(RECORDS) == summarize(RECORDS)
