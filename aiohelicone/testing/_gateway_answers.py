"""Layer 8 (test kit): the fake gateway's answers: success headers, cache replays, envelopes.

How one attempt's result is laid out as ASGI steps once :class:`~._gateway.FakeGateway`
has decided it: the success headers (``Helicone-*``), a cache hit replayed, the AI
gateway's error envelope, a rate-limit 429, a passthrough provider error.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ._cache import CachedResponse, CacheSettings
from ._emit import Body, Start, Step, response
from ._gateway_rules import LEGACY_RATE_LIMITED, fail_body
from ._outcomes import Fail, Reply
from ._provider import Answer
from ._records import RequestRecord
from ._registry import Attempt
from ._wire import JSON_TYPE, AttemptError, dumps, envelope

__all__ = [
    "envelope_answer",
    "mark_served",
    "passthrough_fail",
    "rate_limited_answer",
    "replay_answer",
    "success_headers",
]


def mark_served(record: RequestRecord, attempt: Attempt) -> None:
    record.provider = attempt.provider
    record.provider_model = attempt.provider_model
    record.gateway_mode = attempt.mode.upper()


def success_headers(
    record: RequestRecord,
    attempt: Attempt,
    answer: Answer,
    limit_headers: tuple[tuple[str, str], ...],
    cache: CacheSettings | None,
    reply: Reply,
) -> tuple[tuple[str, str], ...]:
    headers = [
        ("content-type", answer.content_type),
        ("helicone-id", record.helicone_id or str(uuid.uuid4())),
        ("helicone-status", "success"),
        ("helicone-provider", attempt.provider),
        ("helicone-model", attempt.provider_model),
        ("helicone-gateway-mode", attempt.mode.upper()),
        *limit_headers,
    ]
    if cache is not None and cache.read:
        headers.append(("helicone-cache", "MISS"))
    headers.extend((reply.headers or {}).items())
    return tuple(headers)


def replay_answer(record: RequestRecord, index: int, hit: CachedResponse) -> list[Step]:
    record.cache = "HIT"
    record.response_events = hit.chunks
    stored = dict(hit.headers)
    record.provider = stored.get("helicone-provider")
    record.provider_model = stored.get("helicone-model")
    record.gateway_mode = stored.get("helicone-gateway-mode")
    headers = (
        *hit.headers,
        ("helicone-id", record.helicone_id or str(uuid.uuid4())),
        ("helicone-cache", "HIT"),
        ("helicone-cache-bucket-idx", str(index)),
        ("helicone-cache-latency", str(hit.latency_ms)),
    )
    return [Start(hit.status, headers), *map(Body, hit.chunks)]


def envelope_answer(errors: Sequence[AttemptError]) -> list[Step]:
    status, body = envelope(errors)
    return response(status, JSON_TYPE, body)


def rate_limited_answer(
    error: AttemptError,
    limit_headers: tuple[tuple[str, str], ...],
    *,
    passthrough: bool,
    limit_headers_on_429: bool,
) -> list[Step]:
    """A rate-limit policy's 429: the legacy proxies' text, or the AI gateway's envelope."""
    extra = (("x-helicone-error", "rate_limited"), *limit_headers)
    if passthrough:
        return response(429, JSON_TYPE, dumps({"message": LEGACY_RATE_LIMITED}), *extra)
    status, body = envelope([error])
    return response(status, JSON_TYPE, body, *(extra if limit_headers_on_429 else ()))


def passthrough_fail(fail: Fail, record: RequestRecord) -> list[Step]:
    headers = [("content-type", fail.content_type or JSON_TYPE)]
    headers.extend((k, v) for k, v in (fail.headers or {}).items() if k != "content-type")
    headers.append(("helicone-id", record.helicone_id or str(uuid.uuid4())))
    return [Start(fail.status, tuple(headers)), Body(fail_body(fail))]
