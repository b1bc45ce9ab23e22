"""Layer 0 (core): response headers -> :class:`HeliconeMetadata` (no I/O; helicone-api.md §4).

:meth:`HeliconeMetadata.from_headers` reads ``Helicone-Id``, the cache and rate-limit headers,
and tolerates any garbage: an unparseable value becomes None, never an error, because an
answer that arrived must not be lost over a header this version does not understand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from ._wait_headers import parse_wait

__all__ = ["CacheInfo", "HeliconeMetadata", "RateLimitInfo", "metadata_from_lowered"]


@attrs.frozen
class CacheInfo:
    """What the ``Helicone-Cache*`` response headers said.

    Attributes:
        hit: True for ``HIT``, False for ``MISS`` (sent only when a cache read was asked
            for), None when the header was absent or unreadable.
        bucket_index: ``Helicone-Cache-Bucket-Idx``, which stored response was served.
        latency_ms: ``Helicone-Cache-Latency``, the original latency of a cached answer.
    """

    hit: bool | None = None
    bucket_index: int | None = None
    latency_ms: float | None = None


@attrs.frozen
class RateLimitInfo:
    """What the ``Helicone-RateLimit-*`` response headers said.

    Attributes:
        limit: the quota.
        remaining: what is left in the current window.
        policy: the normalised policy the gateway applied.
        reset: seconds until the window resets (undocumented; sent when > 0), read like
            ``Retry-After``: finite, non-negative, at most a year.
    """

    limit: float | None = None
    remaining: float | None = None
    policy: str | None = None
    reset: float | None = None


_NO_CACHE = CacheInfo()


def _last(value: object) -> str | None:
    # Duplicated headers arrive comma-joined (a cache hit replays the stored headers and
    # appends its own), so the last element is the freshest.
    if not isinstance(value, str):
        return None
    text = value.rpartition(",")[2].strip()
    return text or None


def _to_float(value: object) -> float | None:
    text = _last(value)
    # float() also takes "1_000" and non-ASCII digits; HTTP numbers are plain ASCII.
    if text is None or "_" in text or not text.isascii():
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _to_wait(value: object) -> float | None:
    # The same reading as every other server-requested wait (finite, >= 0, capped).
    text = _last(value)
    return None if text is None else parse_wait(text)


def _to_index(value: object) -> int | None:
    text = _last(value)
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def _cache_hit(value: object) -> bool | None:
    if value == "MISS":  # the common answers, without splitting
        return False
    if value == "HIT":
        return True
    if not isinstance(value, str):
        return None
    states = {part.strip().upper() for part in value.split(",")}
    if "HIT" in states:
        return True
    if "MISS" in states:
        return False
    return None


def _pick_request_id(value: object, sent: str | None) -> str | None:
    if (
        isinstance(value, str)
        and sent is not None
        and "," in value
        and any(part.strip().lower() == sent.lower() for part in value.split(","))
    ):
        return sent
    return _last(value) or sent


_RATE_LIMIT_KEYS = frozenset(
    {
        "helicone-ratelimit-limit",
        "helicone-ratelimit-remaining",
        "helicone-ratelimit-policy",
        "helicone-ratelimit-reset",
    }
)


@attrs.frozen
class HeliconeMetadata:
    """Helicone's view of one response, read from its headers.

    Attributes:
        request_id: ``Helicone-Id``, else the ``Helicone-Request-Id`` that was sent.
        cache: the cache headers (all None when caching was not involved).
        rate_limit: the rate-limit headers, None when there were none.
        provider: ``Helicone-Provider``, the provider that served the request.
        model: ``Helicone-Model``, the provider's model id.
        gateway_mode: ``Helicone-Gateway-Mode``, ``BYOK`` or ``PTB``.
        status: ``Helicone-Status``, ``success`` or ``failed``.
        headers: every response header, names lower-cased.
        attempts: the attempts of a client-side fallback chain, in order (empty otherwise).
    """

    request_id: str | None = None
    cache: CacheInfo = _NO_CACHE
    rate_limit: RateLimitInfo | None = None
    provider: str | None = None
    model: str | None = None
    gateway_mode: str | None = None
    status: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    attempts: tuple[Any, ...] = ()

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, str], *, sent_request_id: str | None
    ) -> HeliconeMetadata:
        """Read the metadata from response headers; never raises on bad values.

        Args:
            headers: the response headers (an ``httpx2.Headers`` or any mapping).
            sent_request_id: the ``Helicone-Request-Id`` this client sent.

        Returns:
            The metadata; a header that is absent or unreadable gives None.
        """
        lowered = {str(name).lower(): value for name, value in headers.items()}
        return metadata_from_lowered(lowered, sent_request_id)


def metadata_from_lowered(lowered: dict[str, str], sent_request_id: str | None) -> HeliconeMetadata:
    """:meth:`HeliconeMetadata.from_headers` for a dict whose names are already lower-case.

    The transport's ``plain_headers`` builds such a dict; this is the per-request path, so
    it skips the copy.
    """
    get = lowered.get
    cache = _NO_CACHE
    cache_raw = get("helicone-cache")
    bucket_raw = get("helicone-cache-bucket-idx")
    latency_raw = get("helicone-cache-latency")
    if cache_raw is not None or bucket_raw is not None or latency_raw is not None:
        cache = CacheInfo(_cache_hit(cache_raw), _to_index(bucket_raw), _to_float(latency_raw))
    rate_limit = None
    if not _RATE_LIMIT_KEYS.isdisjoint(lowered):
        rate_limit = RateLimitInfo(
            _to_float(get("helicone-ratelimit-limit")),
            _to_float(get("helicone-ratelimit-remaining")),
            _last(get("helicone-ratelimit-policy")),
            _to_wait(get("helicone-ratelimit-reset")),
        )
    return HeliconeMetadata(
        request_id=_pick_request_id(get("helicone-id"), sent_request_id),
        cache=cache,
        rate_limit=rate_limit,
        provider=_last(get("helicone-provider")),
        model=_last(get("helicone-model")),
        gateway_mode=_last(get("helicone-gateway-mode")),
        status=_last(get("helicone-status")),
        headers=lowered,
    )
