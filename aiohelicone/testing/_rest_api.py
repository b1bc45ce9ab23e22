"""Layer 8 (test kit): the fake's Helicone REST API ("Jawn", ``api.helicone.ai``).

The real REST API lives on another host (``https://api.helicone.ai``); the fake serves it on
the same ASGI app as the gateway, under ``/v1/request``, ``/v1/session`` and ``/v1/user``
(paths the gateway never uses). Point the client at it with
``AsyncHelicone(base_url=server.url + "/v1", rest_base_url=server.url)``.

Every request the gateway routed (it has a ``Helicone-Id``) is a logged row, built from its
:class:`RequestRecord` when asked for:

- ``cost`` comes from :data:`PRICES` (USD per million tokens, input and output; made-up,
  stable numbers, not Helicone's live prices; other models cost :data:`DEFAULT_PRICE`).
  Cache hits and failed requests cost 0. Tokens are the answer's ``usage``.
- ``delay_ms`` is the time from the request's arrival to its last byte, on the gateway's
  ``clock``; ``time_to_first_token`` (streams only) is the planned wait before the first
  body chunk (scripted delays and stalls), so it is exact and needs no real waiting.
- ``request_created_at`` is :attr:`RestAPI.wall_clock` (``time.time``; replace it to test
  time ranges) at arrival, written the ClickHouse way (``2026-11-27 14:00:35.123``).
- properties are the ``Helicone-Property-*`` headers (names lower-cased, as Cloudflare
  delivers them) plus ``Helicone-Session-Id``/``-Path``/``-Name``.

Faithful to Jawn (../shared/helicone-api.md §7, valhalla/jawn and packages/filters):

- answers are ``{"data", "error"}`` Results, and *every* controller failure is a 500 (an
  unknown request id included);
- ``query-clickhouse`` honours only leaves wrapped in ``request_response_rmt``: an unwrapped
  leaf (``{"model": {...}}``) silently matches nothing; inside a leaf only the first field
  and its first operator count, and an unknown field is ignored (matches everything);
- ``limit`` above 1000 is a 500 ``invalid limit``; user metrics refuse it with 400.

Query filters and sort orders are applied in ``_rest_rows.py``; the prompts that chat requests
expand live in ``_prompts.py`` (:attr:`RestAPI.prompts`).

Choices where Jawn's behaviour is unknown: a float score is refused with 400 (the docs say
integers only; the code's type is ``number``); scores and feedback are visible at once (the
real API takes minutes); leaves on other tables (``request``, ``feedback``...) match nothing.
How calls are refused (401 JSON, 400 ``Invalid token.``, 429 with ``Retry-After`` and
``RateLimit-*``; read-only keys and a rate limit scriptable): ``_rest_auth.py``.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ._emit import Body, Sleep, Step, response
from ._prompts import PromptStore, js_string
from ._records import RequestRecord
from ._registry import DEFAULT_MODELS, ModelInfo
from ._registry_api import REGISTRY_PATH, registry_data
from ._rest_auth import RestGate
from ._rest_reports import session_page, user_metrics
from ._rest_rows import (
    DEFAULT_UUID,
    FEEDBACK_SCORE,
    FilterError,
    Row,
    ch_time,
    is_int,
    matches,
    result,
    sorted_rows,
)
from ._session_tags import SessionTags, session_metrics, session_names
from ._wire import JSON_TYPE, TEXT_TYPE, dumps

__all__ = [
    "DEFAULT_PRICE",
    "PRICES",
    "RestAPI",
    "cost_usd",
    "first_body_delay",
    "usage_of",
]

#: USD per million tokens (input, output) by registry model name. Illustrative only.
PRICES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1-nano": (0.10, 0.40),
        "claude-3.5-haiku": (0.80, 4.00),
        "claude-3.5-sonnet-v2": (3.00, 15.00),
        "claude-3-5-sonnet-20241022": (3.00, 15.00),
        "claude-sonnet-4": (3.00, 15.00),
        "gemini-2.5-flash": (0.30, 2.50),
        "llama-3.3-70b": (0.59, 0.79),
        "deepseek-reasoner": (0.55, 2.19),
        "gpt-3.5-turbo-instruct": (1.50, 2.00),
        "text-embedding-3-small": (0.02, 0.0),
        "text-embedding-3-large": (0.13, 0.0),
    }
)
#: The price of a model missing from :data:`PRICES`.
DEFAULT_PRICE = (1.00, 2.00)
_PLACEHOLDER = {
    "helicone_message": "fetching body from signed_url... contact engineering@helicone.ai "
    "for more information"
}
_LLM_ENDPOINTS = frozenset({"chat", "responses", "completions", "embeddings"})
_SESSION_HEADERS = (
    ("helicone-session-id", "Helicone-Session-Id"),
    ("helicone-session-path", "Helicone-Session-Path"),
    ("helicone-session-name", "Helicone-Session-Name"),
)


def cost_usd(model: str | None, prompt_tokens: int, completion_tokens: int) -> float:
    """The fake's cost of a request, from :data:`PRICES`.

    Args:
        model: the registry model name (unknown or None: :data:`DEFAULT_PRICE`).
        prompt_tokens: input tokens.
        completion_tokens: output tokens.

    Returns:
        USD, rounded to Helicone's precision (1e-9).
    """
    price_in, price_out = PRICES.get(model or "", DEFAULT_PRICE)
    return round((prompt_tokens * price_in + completion_tokens * price_out) / 1e6, 9)


def usage_of(events: Sequence[bytes]) -> dict[str, Any] | None:
    """The ``usage`` object of an answer (a JSON body, or the last SSE event carrying one).

    A Responses answer's usage (``input_tokens``/``output_tokens``, at the top of the body
    or in a stream's final ``response``) is given the chat names Helicone logs it under.
    """
    for event in reversed(events):
        payload = _event_json(event)
        if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
            payload = payload["response"]
        if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
            usage = dict(payload["usage"])
            if "input_tokens" in usage and "prompt_tokens" not in usage:
                usage["prompt_tokens"] = usage["input_tokens"]
                usage["completion_tokens"] = usage.get("output_tokens", 0)
            return usage
    return None


def first_body_delay(steps: Sequence[Step]) -> float | None:
    """Seconds planned before the first body chunk (None: no body, or an endless stall)."""
    total = 0.0
    for step in steps:
        if isinstance(step, Sleep):
            if math.isinf(step.seconds):
                return None
            total += step.seconds
        elif isinstance(step, Body):
            return total
    return None


def _event_json(event: bytes) -> Any:
    text = event.decode("utf-8", errors="replace").strip()
    if text.startswith("event:"):  # a Responses event: its data line follows
        text = next((line for line in text.splitlines() if line.startswith("data:")), "")
    if text.startswith("data:"):
        text = text[5:].strip()
    try:
        return json.loads(text)
    except ValueError:
        return None


# -- the REST API ----------------------------------------------------------------------------

_REQUEST_PATH = re.compile(r"^/v1/request/(?P<id>[^/]+)(?P<action>/feedback|/score|/property)?$")
_SESSION_FEEDBACK = re.compile(r"^/v1/session/(?P<id>[^/]+)/feedback$")


class RestAPI:
    """The fake REST API: serves logged rows built from the gateway's request records.

    Args:
        records: the gateway's request list (read when asked, never copied).
        api_keys: keys accepted, as for the gateway (None: any non-empty ``sk-`` key).

    Attributes:
        prompts: the :class:`PromptStore` the gateway expands prompts from.
        wall_clock: Unix seconds, stamped on each request as it arrives.
        feedback: request id -> rating, as set through the API.
        scores: request id -> scores (booleans stored as 1/0).
        properties: request id -> properties set after the fact.
        session_feedback: session id -> rating.
        session_tags: the sessions' tags (``session_tags.tags``: session id -> tag).
        ignore_offset: a fault to test pagers with: when True, the request, session and
            user queries ignore ``offset`` and always answer the first page.
        models: the registry served at ``GET /v1/public/model-registry/models`` (the
            gateway's), priced from :data:`PRICES`.
        uncosted: model names whose rows are logged with ``cost: null``: a stand-in for
            logs Helicone could not price, to test cost estimates with.
        gate: authentication, read-only keys (``gate.read_only_keys``) and the rate limit
            (``gate.rate_limit(limit, window)``), answered as Jawn's middleware does
            (``_rest_auth.py``).
    """

    def __init__(
        self,
        records: Sequence[RequestRecord],
        api_keys: Collection[str] | None = None,
        models: Mapping[str, ModelInfo] = DEFAULT_MODELS,
    ) -> None:
        self._records = records
        self._api_keys = api_keys
        self.models = models
        self.uncosted: set[str] = set()
        self.prompts = PromptStore()
        self.wall_clock: Callable[[], float] = time.time
        self.gate = RestGate(api_keys, lambda: self.wall_clock())
        self.feedback: dict[str, bool] = {}
        self.scores: dict[str, dict[str, int]] = {}
        self.properties: dict[str, dict[str, str]] = {}
        self.session_feedback: dict[str, bool] = {}
        self.session_tags = SessionTags()
        self.ignore_offset = False

    def clear(self) -> None:
        """Forget feedback, scores, properties and prompts."""
        self.feedback.clear()
        self.scores.clear()
        self.properties.clear()
        self.session_feedback.clear()
        self.session_tags.tags.clear()
        self.prompts.clear()

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` belongs to the REST API rather than the gateway."""
        return path.startswith(("/v1/request/", "/v1/session/", "/v1/user/", "/v1/public/"))

    def rows(self, *, bodies: bool = False) -> list[dict[str, Any]]:
        """Every logged request as the API would return it, oldest first.

        Args:
            bodies: include the request and response bodies.

        Returns:
            ``HeliconeRequest`` rows.
        """
        return [row.data for row in self._rows(bodies=bodies)]

    # -- gateway hook ------------------------------------------------------------------------

    def expand_prompt(self, record: RequestRecord) -> list[Step] | None:
        """Expand a chat request's prompt in place; the 400 answer when that fails."""
        data = record.json
        if not isinstance(data, dict) or data.get("prompt_id") is None:
            return None
        if record.headers.get("helicone-gateway-body-mapping", "").upper() == "NO_MAPPING":
            return None
        expanded = self.prompts.expand(data)
        if isinstance(expanded, str):
            return response(400, JSON_TYPE, dumps({"error": expanded}))
        record.json, version = expanded
        record.prompt_id, record.prompt_version_id = version.prompt_id, version.id
        return None

    # -- routing -----------------------------------------------------------------------------

    def answer(self, record: RequestRecord) -> list[Step]:
        """Answer one REST call."""
        if record.path.rstrip("/") == REGISTRY_PATH and record.method == "GET":
            # Public: Jawn serves it without authentication.
            return result(200, registry_data(self.models, PRICES, DEFAULT_PRICE))
        refusal = self.gate.check(record.method, record.headers)
        if refusal is not None:
            return refusal
        method, path, body = record.method, record.path.rstrip("/"), record.json
        if method == "POST":
            handler = {
                "/v1/request/query-clickhouse": self._query,
                "/v1/request/query": self._query,
                "/v1/request/count/query": self._count,
                "/v1/session/query": self._sessions,
                "/v1/session/name/query": self._session_names,
                "/v1/session/metrics/query": self._session_metrics,
                "/v1/user/metrics/query": self._users,
            }.get(path)
            if handler is not None:
                try:
                    return handler(body)
                except FilterError as exc:
                    return result(500, error=str(exc))
        tagged = self.session_tags.answer(method, path, body)
        if tagged is not None:
            return tagged
        match = _SESSION_FEEDBACK.match(path)
        if match is not None and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("rating"), bool):
                return result(400, error="rating must be a boolean")
            self.session_feedback[match["id"]] = body["rating"]
            return result(200)
        match = _REQUEST_PATH.match(path)
        if match is not None:
            action = (method, match["action"])
            if action == ("GET", None):
                return self._get(match["id"], "includeBody=true" in record.query)
            if action == ("POST", "/feedback"):
                return self._feedback(match["id"], body)
            if action == ("POST", "/score"):
                return self._score(match["id"], body)
            if action == ("PUT", "/property"):
                return self._property(match["id"], body)
        return response(404, TEXT_TYPE, f"Cannot {method} {record.path}".encode())

    # -- single requests ---------------------------------------------------------------------

    def _find(self, request_id: str) -> RequestRecord | None:
        return next((r for r in self._logged() if r.helicone_id == request_id), None)

    def _get(self, request_id: str, bodies: bool) -> list[Step]:
        record = self._find(request_id)
        if record is None:
            return result(500, error="Request not found")
        return result(200, self._row(record, 0, bodies=bodies).data)

    def _feedback(self, request_id: str, body: Any) -> list[Step]:
        if not isinstance(body, dict) or not isinstance(body.get("rating"), bool):
            return result(400, error="rating must be a boolean")
        if self._find(request_id) is None:
            return result(500, error="Request not found")
        self.feedback[request_id] = body["rating"]
        return result(200)

    def _score(self, request_id: str, body: Any) -> list[Step]:
        scores = body.get("scores") if isinstance(body, dict) else None
        if not isinstance(scores, dict):
            return result(400, error="scores must be an object")
        for name, value in scores.items():
            if not isinstance(value, (bool, int)):
                return result(
                    400,
                    error=f"Score '{name}' is {js_string(value)}: scores must be integers or "
                    "booleans (scale floats yourself, e.g. x100)",
                )
        if self._find(request_id) is None:
            return result(500, error="Error adding scores to request.")
        stored = self.scores.setdefault(request_id, {})
        stored.update({name: int(value) for name, value in scores.items()})
        return result(201)

    def _property(self, request_id: str, body: Any) -> list[Step]:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("key", "value")
        ):
            return result(400, error="key and value must be strings")
        if self._find(request_id) is None:
            return result(500, error="Request not found")
        self.properties.setdefault(request_id, {})[body["key"]] = body["value"]
        return result(200)

    # -- queries -----------------------------------------------------------------------------

    def _query(self, body: Any) -> list[Step]:
        if not isinstance(body, dict) or "filter" not in body:
            return result(400, error="filter is required")
        offset, limit = body.get("offset", 0), body.get("limit", 100)
        if not is_int(offset) or not is_int(limit):
            return result(500, error="Invalid offset or limit")
        if not 0 <= limit <= 1000 or offset < 0:
            return result(500, error="invalid limit")
        rows = [r for r in self._rows(bodies=False) if matches(body["filter"], r)]
        if body.get("isCached") is True:
            rows = [r for r in rows if r.data["cache_reference_id"] != DEFAULT_UUID]
        rows = sorted_rows(rows, body.get("sort"))
        offset = 0 if self.ignore_offset else offset
        return result(200, [r.data for r in rows[offset : offset + limit]])

    def _count(self, body: Any) -> list[Step]:
        if not isinstance(body, dict) or "filter" not in body:
            return result(400, error="filter is required")
        return result(200, sum(1 for r in self._rows(bodies=False) if matches(body["filter"], r)))

    def _sessions(self, body: Any) -> list[Step]:
        return session_page(self._rows(bodies=False), body, ignore_offset=self.ignore_offset)

    def _session_names(self, body: Any) -> list[Step]:
        return session_names(self._rows(bodies=False), body)

    def _session_metrics(self, body: Any) -> list[Step]:
        return session_metrics(self._rows(bodies=False), body)

    def _users(self, body: Any) -> list[Step]:
        return user_metrics(self._rows(bodies=False), body, ignore_offset=self.ignore_offset)

    # -- rows --------------------------------------------------------------------------------

    def _logged(self) -> list[RequestRecord]:
        return [
            r for r in self._records if r.endpoint in _LLM_ENDPOINTS and r.helicone_id is not None
        ]

    def _rows(self, *, bodies: bool) -> list[Row]:
        return [self._row(record, i, bodies=bodies) for i, record in enumerate(self._logged())]

    def _row(self, record: RequestRecord, index: int, *, bodies: bool) -> Row:
        request_id = record.helicone_id or ""
        usage = usage_of(record.response_events) or {}
        prompt = _count_of(usage.get("prompt_tokens"))
        completion = _count_of(usage.get("completion_tokens"))
        cached = record.cache == "HIT"
        status = record.status if record.status is not None else -1
        # The registry model of the attempt that served (or last failed), as Helicone logs it.
        model = record.attempts[-1].model if record.attempts else record.model
        cost: float | None = (
            0.0 if cached or not 200 <= status < 300 else cost_usd(model, prompt, completion)
        )
        if model in self.uncosted:
            cost = None
        latency = None
        if record.completed_at is not None:
            latency = round((record.completed_at - record.time) * 1000)
        ttft = None
        if record.stream and record.first_byte_delay is not None:
            ttft = round(record.first_byte_delay * 1000)
        created = record.created_at if record.created_at is not None else 0.0
        properties = dict(record.properties)
        for header, name in _SESSION_HEADERS:
            if header in record.headers:
                properties[name] = record.headers[header]
        properties.update(self.properties.get(request_id, {}))
        scores = dict(self.scores.get(request_id, {}))
        if request_id in self.feedback:
            scores[FEEDBACK_SCORE] = int(self.feedback[request_id])
        reference = DEFAULT_UUID
        if cached:
            reference = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aiohelicone-cache:{request_id}"))
        data: dict[str, Any] = {
            "request_id": request_id,
            "request_created_at": ch_time(created),
            "response_created_at": ch_time(created + (latency or 0) / 1000),
            "response_status": status,
            "request_model": model,
            "provider": record.provider,
            "request_user_id": record.user_id,
            "request_properties": properties,
            "properties": properties,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_cache_read_tokens": 0,
            "prompt_cache_write_tokens": 0,
            "cost": cost,
            "delay_ms": latency,
            "time_to_first_token": ttft,
            "scores": scores,
            "cache_enabled": record.cache is not None,
            "cache_reference_id": reference,
            "prompt_id": record.prompt_id,
            "prompt_version": record.prompt_version_id,
            "request_path": record.path,
            "target_url": None,
            "country_code": None,
            "asset_ids": [],
            "storage_location": "clickhouse",
            "request_body": record.json if bodies else _PLACEHOLDER,
            "response_body": _response_body(record.response_events) if bodies else _PLACEHOLDER,
        }
        return Row(data, created, index)


def _count_of(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _response_body(events: Sequence[bytes]) -> Any:
    if len(events) == 1 and not events[0].startswith(b"data:"):
        return _event_json(events[0])
    chunks = [_event_json(e) for e in events]
    return [c for c in chunks if isinstance(c, dict)]
