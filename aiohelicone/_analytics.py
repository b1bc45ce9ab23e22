"""Layer 0 (core): client-side analytics of logged requests: cost, volume, latency, errors, cache.

Pure and synchronous at the core (:func:`summarize` over any iterable of
:class:`LoggedRequest`), with :func:`analyze` to consume an async query page by page::

    report = await analyze(client.requests.query(RequestFilter.created_after(timedelta(days=1))))
    report.total.cost, report.total.latency.p90, report.groups[0].key

Definitions (all over the records given):

- a request is an error when its status is missing or outside 200-399
  (:attr:`LoggedRequest.is_error`); ``error_rate = errors / requests``;
- ``cache_hit_rate = cached / requests``;
- latency percentiles use linear interpolation between the closest ranks (numpy's default,
  ``statistics.quantiles(method="inclusive")``) over the requests that have a latency;
- volume buckets start at multiples of the bucket size since the Unix epoch (UTC); empty
  buckets between the first and the last request are included;
- ``estimate=`` (a function of a record, e.g. :func:`registry_estimator` over
  ``await client.models.registry()``) prices the requests whose log has no cost
  (``cost is None``); those go to ``estimated_cost`` / ``estimated``, never into ``cost``,
  which stays what Helicone logged.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ._exceptions import InvalidInputError
from ._rest_records import LoggedRequest

__all__ = [
    "GroupStats",
    "LatencyStats",
    "Report",
    "VolumeBucket",
    "analyze",
    "cache_hit_rate",
    "cost_by",
    "error_rate",
    "group_key",
    "latency_stats",
    "percentile",
    "registry_estimator",
    "summarize",
    "volume",
]

#: The group of records that lack the grouping key (no user, no such property...).
NO_KEY = "(none)"

#: A function pricing a record whose log has no cost: USD, or None when it cannot.
Estimator = Callable[[LoggedRequest], float | None]


def registry_estimator(registry: Any) -> Estimator:
    """An ``estimate=`` function from Helicone's model registry.

    Args:
        registry: a :class:`ModelRegistry` (``await client.models.registry()``).

    Returns:
        A function giving the registry's base-price cost of a record's tokens at its
        model and provider, or None when the model or its tokens are unknown.
    """

    def estimate(record: LoggedRequest) -> float | None:
        if record.model is None or record.cached:
            return None
        if record.prompt_tokens is None and record.completion_tokens is None:
            return None
        found = registry.get(record.model)
        if found is None:
            return None
        pricing = found.pricing(record.provider) or found.pricing()
        if pricing is None:
            return None
        cost: float = pricing.cost(record.prompt_tokens or 0, record.completion_tokens or 0)
        return cost

    return estimate


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile by linear interpolation between the closest ranks.

    Args:
        values: the sample (any order).
        q: the percentile, 0 to 100.

    Returns:
        The percentile, or None for an empty sample.

    Raises:
        InvalidInputError: ``q`` is outside 0-100.
    """
    if not 0 <= q <= 100:
        raise InvalidInputError("q", f"must be between 0 and 100, got {q!r}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@attrs.frozen
class LatencyStats:
    """Latency of a group of requests, in milliseconds (None when none had a latency).

    Attributes:
        count: requests with a latency.
        mean, p50, p90, p99: the mean and percentiles.
    """

    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


def latency_stats(values: Sequence[float]) -> LatencyStats:
    """Mean and p50/p90/p99 of latencies.

    Args:
        values: latencies in milliseconds.

    Returns:
        The :class:`LatencyStats`.
    """
    if not values:
        return LatencyStats()
    return LatencyStats(
        count=len(values),
        mean=sum(values) / len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
    )


@attrs.frozen
class GroupStats:
    """Totals for the requests sharing one key (or for all of them).

    Attributes:
        key: the group's key (:data:`NO_KEY` for records without one; ``"total"``).
        requests, errors, cached: counts.
        cost: USD as logged (requests without a cost count as 0).
        prompt_tokens, completion_tokens: token totals.
        latency: latency statistics.
        estimated: requests whose log had no cost and were priced by ``estimate=``.
        estimated_cost: their estimated USD (not included in ``cost``).
    """

    key: str
    requests: int = 0
    errors: int = 0
    cached: int = 0
    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: LatencyStats = LatencyStats()
    estimated: int = 0
    estimated_cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def error_rate(self) -> float | None:
        """``errors / requests`` (None for no requests)."""
        return self.errors / self.requests if self.requests else None

    @property
    def cache_hit_rate(self) -> float | None:
        """``cached / requests`` (None for no requests)."""
        return self.cached / self.requests if self.requests else None


@attrs.frozen
class VolumeBucket:
    """Requests that started within ``[start, start + bucket)``.

    Attributes:
        start: the bucket's start (UTC).
        requests, errors: counts.
        cost: USD.
    """

    start: datetime
    requests: int = 0
    errors: int = 0
    cost: float = 0.0


@attrs.frozen
class Report:
    """Everything :func:`summarize` computes.

    Attributes:
        by: the grouping (``model``, ``provider``, ``user``, ``session``,
            ``property:<name>``).
        total: all requests together.
        groups: one entry per key, most expensive first (then most requests, then key).
        bucket: the volume bucket size.
        volume: requests per bucket, oldest first.
        first, last: the oldest and newest ``created_at`` seen.
        undated: requests without ``created_at`` (left out of ``volume``).
    """

    by: str
    total: GroupStats
    groups: tuple[GroupStats, ...]
    bucket: timedelta
    volume: tuple[VolumeBucket, ...]
    first: datetime | None = None
    last: datetime | None = None
    undated: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (ISO dates, rates included).

        Returns:
            Plain dicts, lists, numbers and strings.
        """

        def group(g: GroupStats) -> dict[str, Any]:
            return {
                "key": g.key,
                "requests": g.requests,
                "errors": g.errors,
                "error_rate": g.error_rate,
                "cached": g.cached,
                "cache_hit_rate": g.cache_hit_rate,
                "cost_usd": g.cost,
                "prompt_tokens": g.prompt_tokens,
                "completion_tokens": g.completion_tokens,
                "total_tokens": g.total_tokens,
                "latency_ms": attrs.asdict(g.latency),
                "estimated_requests": g.estimated,
                "estimated_cost_usd": g.estimated_cost,
            }

        return {
            "by": self.by,
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            "total": group(self.total),
            "groups": [group(g) for g in self.groups],
            "bucket_seconds": self.bucket.total_seconds(),
            "volume": [
                {
                    "start": b.start.isoformat(),
                    "requests": b.requests,
                    "errors": b.errors,
                    "cost_usd": b.cost,
                }
                for b in self.volume
            ],
            "undated": self.undated,
        }


def group_key(by: str) -> Callable[[LoggedRequest], str | None]:
    """The function that reads a record's key for a grouping.

    Args:
        by: ``model``, ``provider``, ``user``, ``session`` or ``property:<name>`` (the
            property name is matched case-insensitively).

    Returns:
        A function of a record returning its key, or None when it has none.

    Raises:
        InvalidInputError: an unknown grouping.
    """
    if by.startswith("property:") and len(by) > len("property:"):
        name = by[len("property:") :]
        return lambda r: r.property(name)
    keys: dict[str, Callable[[LoggedRequest], str | None]] = {
        "model": lambda r: r.model,
        "provider": lambda r: r.provider,
        "user": lambda r: r.user_id,
        "session": lambda r: r.session_id,
    }
    if by not in keys:
        raise InvalidInputError(
            "by", f"must be model, provider, user, session or property:<name>, got {by!r}"
        )
    return keys[by]


@attrs.define
class _Acc:
    requests: int = 0
    errors: int = 0
    cached: int = 0
    cost: float = 0.0
    prompt: int = 0
    completion: int = 0
    latencies: list[float] = attrs.Factory(list)
    estimated: int = 0
    estimated_cost: float = 0.0

    def add(self, r: LoggedRequest, estimate: float | None = None) -> None:
        if estimate is not None:
            self.estimated += 1
            self.estimated_cost += estimate
        self.requests += 1
        self.errors += r.is_error
        self.cached += r.cached
        self.cost += r.cost or 0.0
        self.prompt += r.prompt_tokens or 0
        self.completion += r.completion_tokens or 0
        if r.latency_ms is not None:
            self.latencies.append(float(r.latency_ms))

    def stats(self, key: str) -> GroupStats:
        return GroupStats(
            key=key,
            requests=self.requests,
            errors=self.errors,
            cached=self.cached,
            cost=round(self.cost, 12),
            prompt_tokens=self.prompt,
            completion_tokens=self.completion,
            latency=latency_stats(self.latencies),
            estimated=self.estimated,
            estimated_cost=round(self.estimated_cost, 12),
        )


class _Summary:
    """The one-pass accumulator behind :func:`summarize` and :func:`analyze`."""

    def __init__(self, by: str, bucket: timedelta, estimate: Estimator | None = None) -> None:
        if not isinstance(bucket, timedelta) or bucket <= timedelta(0):
            raise InvalidInputError("bucket", "must be a positive timedelta")
        if estimate is not None and not callable(estimate):
            raise InvalidInputError("estimate", "must be a function of a LoggedRequest or None")
        self.estimate = estimate
        self.by = by
        self.key = group_key(by)
        self.bucket = bucket
        self.total = _Acc()
        self.groups: dict[str, _Acc] = {}
        self.buckets: dict[int, list[float]] = {}
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.undated = 0

    def add(self, record: LoggedRequest) -> None:
        if not isinstance(record, LoggedRequest):
            raise InvalidInputError("records", f"expected LoggedRequest, got {type(record)}")
        guess = None
        if self.estimate is not None and record.cost is None:
            guess = self.estimate(record)
        self.total.add(record, guess)
        self.groups.setdefault(self.key(record) or NO_KEY, _Acc()).add(record, guess)
        when = record.created_at
        if when is None:
            self.undated += 1
            return
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        index = math.floor(when.timestamp() / self.bucket.total_seconds())
        counts = self.buckets.setdefault(index, [0, 0, 0.0])
        counts[0] += 1
        counts[1] += record.is_error
        counts[2] += record.cost or 0.0

    def report(self) -> Report:
        groups = sorted(
            (acc.stats(key) for key, acc in self.groups.items()),
            key=lambda g: (-g.cost, -g.requests, g.key),
        )
        size = self.bucket.total_seconds()
        volume = []
        if self.buckets:
            for index in range(min(self.buckets), max(self.buckets) + 1):
                requests, errors, cost = self.buckets.get(index, [0, 0, 0.0])
                volume.append(
                    VolumeBucket(
                        start=datetime.fromtimestamp(index * size, UTC),
                        requests=int(requests),
                        errors=int(errors),
                        cost=round(cost, 12),
                    )
                )
        return Report(
            by=self.by,
            total=self.total.stats("total"),
            groups=tuple(groups),
            bucket=self.bucket,
            volume=tuple(volume),
            first=self.first,
            last=self.last,
            undated=self.undated,
        )


def summarize(
    records: Iterable[LoggedRequest],
    *,
    by: str = "model",
    bucket: timedelta = timedelta(hours=1),
    estimate: Estimator | None = None,
) -> Report:
    """Cost, volume, latency, error and cache statistics of ``records``, in one pass.

    Args:
        records: logged requests.
        by: the grouping (see :func:`group_key`).
        bucket: the volume bucket size.
        estimate: prices records whose log has no cost (see the module docstring).

    Returns:
        The :class:`Report`.

    Raises:
        InvalidInputError: an unknown grouping, a bad bucket, or a record that is not a
            :class:`LoggedRequest`.
    """
    summary = _Summary(by, bucket, estimate)
    for record in records:
        summary.add(record)
    return summary.report()


async def analyze(
    records: AsyncIterable[LoggedRequest] | Iterable[LoggedRequest],
    *,
    by: str = "model",
    bucket: timedelta = timedelta(hours=1),
    estimate: Estimator | None = None,
) -> Report:
    """:func:`summarize` over an async iterable, e.g. ``client.requests.query(...)``.

    Args:
        records: logged requests (async or not); a query is consumed page by page.
        by: the grouping (see :func:`group_key`).
        bucket: the volume bucket size.
        estimate: as for :func:`summarize`.

    Returns:
        The :class:`Report`.

    Raises:
        InvalidInputError: as for :func:`summarize`.
        APIError: the query failed while being read.
    """
    summary = _Summary(by, bucket, estimate)
    if isinstance(records, AsyncIterable):
        async for record in records:
            summary.add(record)
    else:
        for record in records:
            summary.add(record)
    return summary.report()


def cost_by(records: Iterable[LoggedRequest], by: str = "model") -> dict[str, float]:
    """Total cost (USD) per key, most expensive first.

    Args:
        records: logged requests.
        by: the grouping (see :func:`group_key`).

    Returns:
        key -> USD.
    """
    return {g.key: g.cost for g in summarize(records, by=by).groups}


def volume(
    records: Iterable[LoggedRequest], bucket: timedelta = timedelta(hours=1)
) -> tuple[VolumeBucket, ...]:
    """Requests per time bucket (see the module docstring).

    Args:
        records: logged requests.
        bucket: the bucket size.

    Returns:
        The buckets, oldest first.
    """
    return summarize(records, bucket=bucket).volume


def error_rate(records: Iterable[LoggedRequest]) -> float | None:
    """The fraction of requests that failed (None for no requests)."""
    return summarize(records).total.error_rate


def cache_hit_rate(records: Iterable[LoggedRequest]) -> float | None:
    """The fraction of requests served from Helicone's cache (None for no requests)."""
    return summarize(records).total.cache_hit_rate
