"""Layer 8 (test kit): the fake gateway's response cache (helicone-api.md §3 and §4).

Semantics taken from the worker (util/cache/cacheFunctions.ts): the key hashes the cache
seed, the path, the body text and the ``Helicone-Cache-*``/``Helicone-Auth``/
``Authorization`` headers; a bucket of size N has N slots. While any slot is free the
request is a MISS (and its answer fills the first free slot); once all are full it is a HIT
served from a random slot.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping

import attrs

DEFAULT_TTL = 604_800  # 7 days
MAX_TTL = 31_536_000  # 365 days
MAX_BUCKET_SIZE = 20

_MAX_AGE_RE = re.compile(r"(?:^|[\s,])(?:s-maxage|max-age)=(\d+)", re.IGNORECASE)


class CacheConfigError(Exception):
    """The cache headers are refused (the gateway answers 500, plain text)."""


@attrs.frozen
class CacheSettings:
    """What the request's headers ask of the cache."""

    read: bool
    save: bool
    ttl: float
    bucket_size: int
    seed: str | None
    ignore_keys: tuple[str, ...]


def cache_settings(headers: Mapping[str, str]) -> CacheSettings | None:
    """Read the cache headers (names lower-case).

    ``Helicone-Cache-Enabled`` (case-insensitive ``true``) turns on read and write;
    ``Helicone-Cache-Read``/``-Save: true`` turn on one side (undocumented, in code).

    ``Helicone-Cache-Ignore-Keys`` is parsed as the gateway does, as JSON after wrapping it in
    ``[ ]`` (issue #5768). The documented unquoted form (``a,b``) is not valid JSON; what the
    real gateway then does is UNCERTAIN. The fake ignores the header in that case (the key
    covers the whole body) and the request still succeeds.

    Returns:
        The settings, or None when the cache is not used.

    Raises:
        CacheConfigError: ``Helicone-Cache-Bucket-Max-Size`` above 20.
    """
    enabled = headers.get("helicone-cache-enabled", "").lower() == "true"
    read = enabled or headers.get("helicone-cache-read") == "true"
    save = enabled or headers.get("helicone-cache-save") == "true"
    if not (read or save):
        return None
    try:
        bucket = int(headers.get("helicone-cache-bucket-max-size", "1"))
    except ValueError:
        bucket = 1
    if bucket > MAX_BUCKET_SIZE:
        raise CacheConfigError("Cache bucket size cannot be greater than 20")
    match = _MAX_AGE_RE.search(headers.get("cache-control", ""))
    ttl = min(int(match.group(1)), MAX_TTL) if match else DEFAULT_TTL
    return CacheSettings(
        read=read,
        save=save,
        ttl=ttl,
        bucket_size=max(bucket, 1),
        seed=headers.get("helicone-cache-seed"),
        ignore_keys=_ignore_keys(headers.get("helicone-cache-ignore-keys")),
    )


def _ignore_keys(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        parsed = json.loads(f"[{value}]")
    except ValueError:
        return ()
    return tuple(k for k in parsed if isinstance(k, str))


def cache_key(
    settings: CacheSettings, path: str, body: bytes, parsed: object, headers: Mapping[str, str]
) -> str:
    """The bucket's base key (the slot index is added by the cache)."""
    text = body.decode("utf-8", errors="replace")
    if settings.ignore_keys and isinstance(parsed, dict):
        kept = {k: v for k, v in parsed.items() if k not in settings.ignore_keys}
        text = json.dumps(kept, separators=(",", ":"))
    keyed = sorted(
        (k, v)
        for k, v in headers.items()
        if k.startswith("helicone-cache") or k in ("helicone-auth", "authorization")
    )
    material = (settings.seed or "") + path + text + json.dumps(keyed)
    return hashlib.sha256(material.encode()).hexdigest()


@attrs.frozen
class CachedResponse:
    """A stored answer: replayed byte for byte, chunk for chunk."""

    status: int
    headers: tuple[tuple[str, str], ...]
    chunks: tuple[bytes, ...]
    latency_ms: int
    expires_at: float


class ResponseCache:
    """Buckets of stored answers with TTLs read from an injectable clock."""

    def __init__(self, clock: Callable[[], float], rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._slots: dict[tuple[str, int], CachedResponse] = {}

    def _live(self, key: str, index: int) -> CachedResponse | None:
        entry = self._slots.get((key, index))
        if entry is not None and entry.expires_at <= self._clock():
            del self._slots[(key, index)]
            return None
        return entry

    def lookup(self, key: str, bucket_size: int) -> tuple[int, CachedResponse] | None:
        """A HIT (slot index, answer) when every slot of the bucket is filled, else None."""
        entries = [self._live(key, i) for i in range(bucket_size)]
        full = [e for e in entries if e is not None]
        if len(full) < bucket_size:
            return None
        index = self._rng.randrange(len(full))
        return index, full[index]

    def store(self, key: str, bucket_size: int, response: CachedResponse) -> int | None:
        """Fill the first free slot; returns its index, or None when the bucket is full."""
        for index in range(bucket_size):
            if self._live(key, index) is None:
                self._slots[(key, index)] = response
                return index
        return None

    def clear(self) -> None:
        """Forget everything."""
        self._slots.clear()

    def __len__(self) -> int:
        return len(self._slots)
