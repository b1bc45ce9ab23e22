"""Layer 8 (test kit): the fake gateway's fixed texts and small stateless rules.

What :class:`~._gateway.FakeGateway` says and decides without its own state: the
gateway's error texts, request-id validation (``getValidUUID``), JSON read as
``JSON.parse`` reads it, header folding, scripted outcome queues, attempt notes, error
bodies, and the ASGI lifespan handshake.
"""

from __future__ import annotations

import json
import re
import uuid
from http import HTTPStatus
from typing import Any

import attrs

from ._emit import Receive, Scope, Send, Step, response
from ._outcomes import (
    Fail,
    InStreamError,
    Outcome,
    Reply,
    SlowDrip,
    Stall,
    TruncatedStream,
)
from ._ratelimit import RateLimitPolicy
from ._records import AttemptRecord, RequestRecord
from ._registry import Attempt
from ._wire import TEXT_TYPE, dumps, openai_error

__all__ = [
    "INVALID_BODY",
    "INVALID_MODEL_TYPE",
    "LEGACY_RATE_LIMITED",
    "METHOD_NOT_ALLOWED",
    "MODELS_PATHS",
    "NO_PROVIDERS",
    "REPLAYED_HEADERS",
    "Script",
    "cacheable",
    "fail_body",
    "header_pairs",
    "helicone_id",
    "js_truthy",
    "lifespan",
    "note_attempt",
    "outcome_kind",
    "parse_json",
    "phrase",
    "segment_value",
    "text_answer",
]

INVALID_BODY = "Invalid body or missing model. See supported models at https://helicone.ai/models"
INVALID_MODEL_TYPE = (
    "Invalid model type. Model must be a string. See supported models at https://helicone.ai/models"
)
NO_PROVIDERS = (
    "No available providers for the requested models. "
    "Check provider names and see supported models at https://helicone.ai/models"
)
METHOD_NOT_ALLOWED = "Method not allowed. AI Gateway only accepts POST requests."
LEGACY_RATE_LIMITED = "Helicone user was rate limit via Helicone-RateLimit-Policy header"
MODELS_PATHS = frozenset({"/v1/models", "/models"})
_UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE
)


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN and Infinity


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_strict_constant)
    except ValueError:
        return None


def js_truthy(value: object) -> bool:
    if isinstance(value, (dict, list)):
        return True
    return bool(value)


def header_pairs(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


@attrs.define
class Script:
    outcomes: tuple[Outcome, ...]
    repeat: bool
    position: int = 0

    def next(self) -> Outcome | None:
        if self.position < len(self.outcomes):
            self.position += 1
            return self.outcomes[self.position - 1]
        if self.repeat and self.outcomes:
            self.position = 1
            return self.outcomes[0]
        return None

    @property
    def remaining(self) -> int:
        return len(self.outcomes) - self.position


REPLAYED_HEADERS = frozenset(
    {
        "content-type",
        "helicone-status",
        "helicone-provider",
        "helicone-model",
        "helicone-gateway-mode",
    }
)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def text_answer(status: int, text: str, *headers: tuple[str, str]) -> list[Step]:
    return response(status, TEXT_TYPE, text.encode(), *headers)


def helicone_id(requested: str | None) -> str:
    # getValidUUID: anything but a v1-5 UUID is silently replaced by a random one.
    if requested is not None and _UUID_RE.match(requested.strip()):
        return requested.strip().lower()
    return str(uuid.uuid4())


def segment_value(policy: RateLimitPolicy, record: RequestRecord) -> str | None:
    if policy.segment is None:
        return "global"
    if policy.segment == "user":
        return record.user_id
    return record.properties.get(policy.segment)


def note_attempt(record: RequestRecord, attempt: Attempt, outcome: str, status: int | None) -> None:
    record.attempts.append(
        AttemptRecord(
            attempt.source, attempt.provider, attempt.model, attempt.provider_model, outcome, status
        )
    )


def fail_body(fail: Fail) -> bytes:
    if fail.body is None:
        message = fail.message or phrase(fail.status)
        return dumps(openai_error(message, fail.status))
    if isinstance(fail.body, bytes):
        return fail.body
    if isinstance(fail.body, str):
        return fail.body.encode()
    return dumps(dict(fail.body))


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def outcome_kind(outcome: Outcome) -> str:
    names = {
        Reply: "reply",
        Stall: "stall",
        SlowDrip: "slow_drip",
        TruncatedStream: "truncated_stream",
        InStreamError: "in_stream_error",
    }
    return names.get(type(outcome), type(outcome).__name__.lower())


def cacheable(outcome: Outcome) -> bool:
    return isinstance(outcome, (Reply, SlowDrip))
