"""Layer 8 (test kit): ``Helicone-RateLimit-Policy`` as the gateway enforces it (§3, §4).

Policy grammar and bucket arithmetic follow worker/src/lib/rate-limit (policyParser.ts,
bucketClient.ts, BucketRateLimiterDO.ts): a token bucket of ``quota`` tokens refilled at
``quota / window`` per second, one bucket per (segment, segment value, unit). An invalid
policy, or a missing segment value, fails open: no limiting and no headers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import attrs

# policyParser.ts, case-insensitive; ASCII classes because JS \d and \w are ASCII.
_POLICY_RE = re.compile(
    r"^([0-9]+(?:\.[0-9]+)?);w=([0-9]+)(?:;u=(request|cents))?(?:;s=([A-Za-z0-9_-]+))?$",
    re.IGNORECASE,
)
MIN_WINDOW = 60
MAX_WINDOW = 31_536_000


def js_number(value: float) -> str:
    """Format a number as JavaScript's ``toString`` does for these values."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@attrs.frozen
class RateLimitPolicy:
    """A parsed policy.

    Attributes:
        quota: requests (or cents) per window.
        window: seconds, 60 to 31,536,000.
        unit: ``"request"`` or ``"cents"``.
        segment: None (global), ``"user"``, or a property name (lower-case).
    """

    quota: float
    window: int
    unit: str
    segment: str | None

    @property
    def normalized(self) -> str:
        """The ``Helicone-RateLimit-Policy`` response value (defaults left out)."""
        text = f"{js_number(self.quota)};w={self.window}"
        if self.unit != "request":
            text += f";u={self.unit}"
        if self.segment is not None:
            text += f";s={self.segment}"
        return text


def parse_policy(value: str | None) -> RateLimitPolicy | None:
    """Parse a policy header; None when absent or invalid (fail open)."""
    if value is None or not value.strip():
        return None
    match = _POLICY_RE.match(value.strip())
    if match is None:
        return None
    quota = float(match.group(1))
    window = int(match.group(2))
    if quota <= 0 or not MIN_WINDOW <= window <= MAX_WINDOW:
        return None
    unit = (match.group(3) or "request").lower()
    segment = match.group(4).lower() if match.group(4) else None
    return RateLimitPolicy(quota, window, unit, segment)


@attrs.frozen
class RateLimitResult:
    """The decision for one request and the headers that report it."""

    allowed: bool
    headers: tuple[tuple[str, str], ...]


@attrs.define
class _Bucket:
    tokens: float
    last: float
    policy: RateLimitPolicy


class RateLimiter:
    """Token buckets keyed by (segment kind, segment value, unit)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def _bucket(self, policy: RateLimitPolicy, segment_value: str) -> _Bucket:
        now = self._clock()
        kind = "global" if policy.segment is None else policy.segment
        key = (kind, segment_value, policy.unit)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(policy.quota, now, policy)
        elif bucket.policy != policy:
            # A changed policy keeps the tokens, clamped to the new capacity.
            bucket.tokens = min(bucket.tokens, policy.quota)
            bucket.policy = policy
            bucket.last = now
        elapsed = now - bucket.last
        if elapsed > 0:
            rate = policy.quota / policy.window
            bucket.tokens = min(policy.quota, bucket.tokens + elapsed * rate)
            bucket.last = now
        return bucket

    def check(self, policy: RateLimitPolicy, segment_value: str) -> RateLimitResult:
        """Take one request (or, for cents, check any budget is left) from the bucket."""
        bucket = self._bucket(policy, segment_value)
        if policy.unit == "cents":
            allowed = bucket.tokens > 0
        else:
            allowed = bucket.tokens >= 1
            if allowed:
                bucket.tokens = max(0.0, bucket.tokens - 1)
        return RateLimitResult(allowed, self._headers(policy, bucket))

    def record_cost(self, policy: RateLimitPolicy, segment_value: str, cents: float) -> None:
        """Deduct a served request's cost from a cents bucket (may go negative)."""
        if policy.unit == "cents":
            self._bucket(policy, segment_value).tokens -= cents

    @staticmethod
    def _headers(policy: RateLimitPolicy, bucket: _Bucket) -> tuple[tuple[str, str], ...]:
        remaining = max(0, math.floor(bucket.tokens))
        needed = policy.quota - bucket.tokens
        reset = 0 if needed <= 0 else math.ceil(needed / (policy.quota / policy.window))
        headers = [
            ("helicone-ratelimit-limit", js_number(policy.quota)),
            ("helicone-ratelimit-remaining", str(remaining)),
            ("helicone-ratelimit-policy", policy.normalized),
        ]
        if reset > 0:
            headers.append(("helicone-ratelimit-reset", str(reset)))
        return tuple(headers)

    def clear(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()
