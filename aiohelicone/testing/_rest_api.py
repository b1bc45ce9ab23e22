"""The fake's Helicone REST API ("Jawn", ``api.helicone.ai``) and its prompt store.

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

Choices where Jawn's behaviour is unknown: a float score is refused with 400 (the docs say
integers only; the code's type is ``number``); scores and feedback are visible at once (the
real API takes minutes); auth is ``Authorization: Bearer <key>`` (a ``pk-`` key is refused:
public keys cannot read); leaves on other tables (``request``, ``feedback``...) match nothing.
"""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeGuard

import attrs

from ._emit import Body, Sleep, Step, response
from ._records import RequestRecord
from ._wire import JSON_TYPE, TEXT_TYPE, dumps

__all__ = [
    "DEFAULT_PRICE",
    "PRICES",
    "PromptStore",
    "PromptVersion",
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
DEFAULT_UUID = "00000000-0000-0000-0000-000000000000"
_PLACEHOLDER = {
    "helicone_message": "fetching body from signed_url... contact engineering@helicone.ai "
    "for more information"
}
_FEEDBACK = "helicone-score-feedback"
_LLM_ENDPOINTS = frozenset({"chat", "completions", "embeddings"})
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
    """The ``usage`` object of an answer (a JSON body, or the last SSE event carrying one)."""
    for event in reversed(events):
        payload = _event_json(event)
        if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
            return dict(payload["usage"])
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
    if text.startswith("data:"):
        text = text[5:].strip()
    try:
        return json.loads(text)
    except ValueError:
        return None


def _ch_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- prompts ---------------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\{\{\s*hc\s*:\s*([a-zA-Z_-][a-zA-Z0-9_-]*)\s*:\s*([a-zA-Z_-][a-zA-Z0-9_-]*)\s*\}\}"
)
_JS_NUMBER = re.compile(r"[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)|0[xX][0-9a-fA-F]+")
_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no"})
_PROMPT_FIELDS = ("prompt_id", "version_id", "environment", "inputs")


@attrs.frozen
class PromptVersion:
    """One stored version of a prompt.

    Attributes:
        id: the version id (``version_id`` in requests).
        prompt_id: the prompt it belongs to.
        number: 1 for the first version, then 2, 3...
        body: the stored chat body (``model``, ``messages`` with ``{{hc:name:type}}``
            variables, any other parameter).
    """

    id: str
    prompt_id: str
    number: int
    body: Mapping[str, Any]


class PromptStore:
    """The prompts (2025 prompts) the fake gateway expands, as Helicone's does (§3.1).

    A request with ``prompt_id`` gets the stored body merged in: the stored messages come
    first, then the request's; request parameters override stored ones; ``{{hc:name:type}}``
    variables are filled from ``inputs``. Version choice: ``environment`` wins over
    ``version_id``; neither means the ``production`` version. Jawn's JavaScript quirks are
    kept: a falsy input (``0``, ``""``, ``False``) leaves its variable unreplaced in message
    text, and values are written as JavaScript would (``True`` -> ``true``).
    """

    def __init__(self) -> None:
        self._versions: dict[str, list[PromptVersion]] = {}
        self._environments: dict[str, dict[str, str]] = {}

    def create(
        self,
        body: Mapping[str, Any],
        *,
        prompt_id: str | None = None,
        environments: Sequence[str] = ("production",),
    ) -> PromptVersion:
        """Store a new prompt and its first version.

        Args:
            body: the chat body to store.
            prompt_id: its id (default: 6 random hex characters).
            environments: environments that point at this first version.

        Returns:
            The first :class:`PromptVersion`.

        Raises:
            ValueError: the id is taken, or ``body`` is not a mapping.
        """
        prompt_id = prompt_id or secrets.token_hex(3)
        if prompt_id in self._versions:
            raise ValueError(f"prompt {prompt_id!r} already exists")
        self._versions[prompt_id] = []
        self._environments[prompt_id] = {}
        return self.add_version(prompt_id, body, environments=environments)

    def add_version(
        self, prompt_id: str, body: Mapping[str, Any], *, environments: Sequence[str] = ()
    ) -> PromptVersion:
        """Store a new version of an existing prompt.

        Args:
            prompt_id: the prompt.
            body: the chat body of this version.
            environments: environments to point at it (e.g. ``("staging",)``).

        Returns:
            The new :class:`PromptVersion`.

        Raises:
            KeyError: no such prompt.
            ValueError: ``body`` is not a mapping.
        """
        if not isinstance(body, Mapping):
            raise ValueError("a prompt body must be a mapping")
        versions = self._versions[prompt_id]
        version = PromptVersion(
            str(uuid.uuid4()), prompt_id, len(versions) + 1, copy.deepcopy(dict(body))
        )
        versions.append(version)
        for environment in environments:
            self._environments[prompt_id][environment] = version.id
        return version

    def deploy(self, version: PromptVersion, environment: str) -> None:
        """Point ``environment`` of the version's prompt at ``version``."""
        self._environments[version.prompt_id][environment] = version.id

    def resolve(
        self, prompt_id: str, version_id: str | None = None, environment: str | None = None
    ) -> PromptVersion:
        """The version a request names (``environment`` > ``version_id`` > production).

        Raises:
            LookupError: no such prompt, version or environment (the message says which).
        """
        versions = self._versions.get(prompt_id)
        if versions is None:
            raise LookupError(f"Prompt '{prompt_id}' not found")
        wanted = version_id
        if environment is not None or version_id is None:
            name = environment or "production"
            wanted = self._environments[prompt_id].get(name)
            if wanted is None:
                raise LookupError(f"Prompt '{prompt_id}' has no version in environment '{name}'")
        for version in versions:
            if version.id == wanted:
                return version
        raise LookupError(f"Prompt version '{wanted}' not found for prompt '{prompt_id}'")

    def clear(self) -> None:
        """Forget every prompt."""
        self._versions.clear()
        self._environments.clear()

    def expand(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], PromptVersion] | str:
        """Merge a request's prompt into its body.

        Args:
            data: the request body (with ``prompt_id`` and maybe ``version_id``,
                ``environment``, ``inputs``).

        Returns:
            The merged body and the version used, or the error message of the gateway's 400.
        """
        prompt_id, version_id, environment = (
            data.get("prompt_id"),
            data.get("version_id"),
            data.get("environment"),
        )
        if not isinstance(prompt_id, str) or not all(
            v is None or isinstance(v, str) for v in (version_id, environment)
        ):
            return "prompt_id, version_id and environment must be strings"
        inputs = data.get("inputs") or {}
        if not isinstance(inputs, dict):
            return "inputs must be an object"
        try:
            version = self.resolve(prompt_id, version_id, environment)
        except LookupError as exc:
            return str(exc)
        source = copy.deepcopy(dict(version.body))
        errors: list[tuple[str, str, Any]] = []
        messages = []
        for message in [*(source.get("messages") or []), *(data.get("messages") or [])]:
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                text, problems = _substitute_text(message["content"], inputs)
                errors.extend(problems)
                message = {**message, "content": text}
            messages.append(message)
        merged = {**source, **{k: v for k, v in data.items() if k not in _PROMPT_FIELDS}}
        merged["messages"] = messages
        response_format = data.get("response_format")
        if response_format is None:
            response_format = source.get("response_format")
        merged.pop("response_format", None)
        if response_format is not None:
            merged["response_format"] = _substitute_json(response_format, inputs, errors)
        tools = [*(source.get("tools") or []), *(data.get("tools") or [])]
        merged.pop("tools", None)
        if tools:
            merged["tools"] = _substitute_json(tools, inputs, errors)
        if errors:
            return "; ".join(
                f"Variable '{name}' is '{kind}' but got '{_js_string(value)}'"
                for name, kind, value in errors
            )
        return merged, version


def _js_truthy(value: object) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return isinstance(value, (dict, list)) or bool(value)


def _js_string(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _compatible(value: object, kind: str) -> bool:
    if kind == "number":
        if isinstance(value, (int, float)):
            return True
        if isinstance(value, list) and len(value) <= 1:
            return not value or _compatible(_js_string(value[0]), kind)
        return isinstance(value, str) and (
            not value.strip() or _JS_NUMBER.fullmatch(value.strip()) is not None
        )
    if kind == "boolean":
        return isinstance(value, bool) or (
            isinstance(value, str) and value.lower() in _BOOLEAN_WORDS
        )
    return True


def _substitute_text(
    template: str, inputs: Mapping[str, Any]
) -> tuple[str, list[tuple[str, str, Any]]]:
    errors = []
    seen: set[str] = set()
    for match in _VARIABLE.finditer(template):
        name, kind = match.group(1), match.group(2)
        if name in seen:
            continue
        seen.add(name)
        value = inputs.get(name)
        if _js_truthy(value) and not _compatible(value, kind):
            errors.append((name, kind, value))
    if errors:
        return template, errors

    def fill(match: re.Match[str]) -> str:
        value = inputs.get(match.group(1))
        return _js_string(value) if _js_truthy(value) else match.group(0)

    return _VARIABLE.sub(fill, template), []


def _substitute_json(value: Any, inputs: Mapping[str, Any], errors: list[Any]) -> Any:
    # substituteVariablesJSON: here a missing input is an error too, and a string that is
    # exactly one variable takes the input's own type.
    problems = []
    seen: set[str] = set()
    for match in _VARIABLE.finditer(json.dumps(value)):
        name, kind = match.group(1), match.group(2)
        if name not in seen:
            seen.add(name)
            given = inputs.get(name)
            if not _js_truthy(given) or not _compatible(given, kind):
                problems.append((name, kind, given))
    if problems:
        errors.extend(problems)
        return value
    return _replace_json(value, inputs, errors)


def _replace_json(value: Any, inputs: Mapping[str, Any], errors: list[Any]) -> Any:
    def regex(text: str) -> str:
        return _VARIABLE.sub(
            lambda m: m.group(0) if inputs.get(m.group(1)) is None else _js_string(inputs[m[1]]),
            text,
        )

    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value)
        if whole is not None and inputs.get(whole.group(1)) is not None:
            return inputs[whole.group(1)]
        return regex(value)
    if isinstance(value, list):
        return [_replace_json(item, inputs, errors) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            whole = _VARIABLE.fullmatch(key)
            if whole is not None and _js_truthy(inputs.get(whole.group(1))):
                given = inputs[whole.group(1)]
                if not isinstance(given, str):
                    errors.append((whole.group(1), "string", given))
                    continue
                key = given
            elif whole is None:
                key = regex(key)
            out[key] = _replace_json(item, inputs, errors)
        return out
    return value


# -- the REST API ----------------------------------------------------------------------------

_REQUEST_PATH = re.compile(r"^/v1/request/(?P<id>[^/]+)(?P<action>/feedback|/score|/property)?$")
_SESSION_FEEDBACK = re.compile(r"^/v1/session/(?P<id>[^/]+)/feedback$")
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


class _FilterError(Exception):
    pass


@attrs.frozen
class _Row:
    data: dict[str, Any]
    created: float
    index: int


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
    """

    def __init__(
        self, records: Sequence[RequestRecord], api_keys: Collection[str] | None = None
    ) -> None:
        self._records = records
        self._api_keys = api_keys
        self.prompts = PromptStore()
        self.wall_clock: Callable[[], float] = time.time
        self.feedback: dict[str, bool] = {}
        self.scores: dict[str, dict[str, int]] = {}
        self.properties: dict[str, dict[str, str]] = {}
        self.session_feedback: dict[str, bool] = {}

    def clear(self) -> None:
        """Forget feedback, scores, properties and prompts."""
        self.feedback.clear()
        self.scores.clear()
        self.properties.clear()
        self.session_feedback.clear()
        self.prompts.clear()

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` belongs to the REST API rather than the gateway."""
        return path.startswith(("/v1/request/", "/v1/session/", "/v1/user/"))

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
        refusal = self._authenticate(record.headers)
        if refusal is not None:
            return _result(401, error=refusal)
        method, path, body = record.method, record.path.rstrip("/"), record.json
        if method == "POST":
            handler = {
                "/v1/request/query-clickhouse": self._query,
                "/v1/request/query": self._query,
                "/v1/request/count/query": self._count,
                "/v1/session/query": self._sessions,
                "/v1/user/metrics/query": self._users,
            }.get(path)
            if handler is not None:
                try:
                    return handler(body)
                except _FilterError as exc:
                    return _result(500, error=str(exc))
        match = _SESSION_FEEDBACK.match(path)
        if match is not None and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("rating"), bool):
                return _result(400, error="rating must be a boolean")
            self.session_feedback[match["id"]] = body["rating"]
            return _result(200)
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

    def _authenticate(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get("authorization", "").strip()
        key = value[7:].strip() if value.lower().startswith("bearer ") else ""
        if not key:
            return "Unauthorized: send Authorization: Bearer <Helicone API key>"
        if key.startswith("pk-"):
            return "Unauthorized: public keys (pk-) cannot use the REST API; use a secret key"
        if self._api_keys is not None and key not in self._api_keys:
            return "Unauthorized"
        return None

    # -- single requests ---------------------------------------------------------------------

    def _find(self, request_id: str) -> RequestRecord | None:
        return next((r for r in self._logged() if r.helicone_id == request_id), None)

    def _get(self, request_id: str, bodies: bool) -> list[Step]:
        record = self._find(request_id)
        if record is None:
            return _result(500, error="Request not found")
        return _result(200, self._row(record, 0, bodies=bodies).data)

    def _feedback(self, request_id: str, body: Any) -> list[Step]:
        if not isinstance(body, dict) or not isinstance(body.get("rating"), bool):
            return _result(400, error="rating must be a boolean")
        if self._find(request_id) is None:
            return _result(500, error="Request not found")
        self.feedback[request_id] = body["rating"]
        return _result(200)

    def _score(self, request_id: str, body: Any) -> list[Step]:
        scores = body.get("scores") if isinstance(body, dict) else None
        if not isinstance(scores, dict):
            return _result(400, error="scores must be an object")
        for name, value in scores.items():
            if not isinstance(value, (bool, int)):
                return _result(
                    400,
                    error=f"Score '{name}' is {_js_string(value)}: scores must be integers or "
                    "booleans (scale floats yourself, e.g. x100)",
                )
        if self._find(request_id) is None:
            return _result(500, error="Error adding scores to request.")
        stored = self.scores.setdefault(request_id, {})
        stored.update({name: int(value) for name, value in scores.items()})
        return _result(201)

    def _property(self, request_id: str, body: Any) -> list[Step]:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("key", "value")
        ):
            return _result(400, error="key and value must be strings")
        if self._find(request_id) is None:
            return _result(500, error="Request not found")
        self.properties.setdefault(request_id, {})[body["key"]] = body["value"]
        return _result(200)

    # -- queries -----------------------------------------------------------------------------

    def _query(self, body: Any) -> list[Step]:
        if not isinstance(body, dict) or "filter" not in body:
            return _result(400, error="filter is required")
        offset, limit = body.get("offset", 0), body.get("limit", 100)
        if not _is_int(offset) or not _is_int(limit):
            return _result(500, error="Invalid offset or limit")
        if not 0 <= limit <= 1000 or offset < 0:
            return _result(500, error="invalid limit")
        rows = [r for r in self._rows(bodies=False) if _matches(body["filter"], r)]
        if body.get("isCached") is True:
            rows = [r for r in rows if r.data["cache_reference_id"] != DEFAULT_UUID]
        rows = _sorted(rows, body.get("sort"))
        return _result(200, [r.data for r in rows[offset : offset + limit]])

    def _count(self, body: Any) -> list[Step]:
        if not isinstance(body, dict) or "filter" not in body:
            return _result(400, error="filter is required")
        return _result(200, sum(1 for r in self._rows(bodies=False) if _matches(body["filter"], r)))

    def _sessions(self, body: Any) -> list[Step]:
        if not isinstance(body, dict) or not isinstance(body.get("timeFilter"), dict):
            return _result(
                400, error="search, timeFilter, timezoneDifference and filter are required"
            )
        window = body["timeFilter"]
        start = _number(window.get("startTimeUnixMs"), 0) / 1000
        end = _number(window.get("endTimeUnixMs"), math.inf) / 1000
        search = str(body.get("search") or "").lower()
        groups: dict[str, list[_Row]] = {}
        for row in self._rows(bodies=False):
            session = row.data["properties"].get("Helicone-Session-Id")
            if session and start <= row.created <= end and _matches(body.get("filter", "all"), row):
                groups.setdefault(session, []).append(row)
        results = []
        for session, rows in groups.items():
            name = next((r.data["properties"].get("Helicone-Session-Name") for r in rows), None)
            if search and search not in session.lower() and search not in (name or "").lower():
                continue
            if body.get("nameEquals") is not None and name != body["nameEquals"]:
                continue
            latencies = [r.data["delay_ms"] for r in rows if r.data["delay_ms"] is not None]
            users = [r.data["request_user_id"] for r in rows if r.data["request_user_id"]]
            results.append(
                {
                    "session_id": session,
                    "session_name": name or "",
                    "created_at": _ch_time(min(r.created for r in rows)),
                    "latest_request_created_at": _ch_time(max(r.created for r in rows)),
                    "total_cost": round(sum(r.data["cost"] for r in rows), 9),
                    "total_requests": len(rows),
                    "prompt_tokens": sum(r.data["prompt_tokens"] for r in rows),
                    "completion_tokens": sum(r.data["completion_tokens"] for r in rows),
                    "total_tokens": sum(r.data["total_tokens"] for r in rows),
                    "avg_latency": sum(latencies) / len(latencies) if latencies else 0,
                    "user_ids": list(dict.fromkeys(users)),
                }
            )
        results.sort(key=lambda s: s["created_at"], reverse=True)
        offset = body.get("offset", 0)
        limit = body.get("limit")
        offset = offset if _is_int(offset) and offset >= 0 else 0
        page = results[offset:] if not _is_int(limit) else results[offset : offset + limit]
        return _result(200, page)

    def _users(self, body: Any) -> list[Step]:
        if not isinstance(body, dict):
            return _result(400, error="filter, offset and limit are required")
        offset, limit = body.get("offset"), body.get("limit")
        if not _is_int(offset) or not _is_int(limit) or offset < 0 or limit < 0:
            return _result(400, error="filter, offset and limit are required")
        if limit > 1000:
            return _result(400, error="Limit cannot be greater than 1000")
        window: dict[str, Any] = body.get("timeFilter") or {}
        if not isinstance(window, dict):
            return _result(400, error="timeFilter must be an object")
        start = _number(window.get("startTimeUnixSeconds"), 0)
        end = _number(window.get("endTimeUnixSeconds"), math.inf)
        groups: dict[str, list[_Row]] = {}
        for row in self._rows(bodies=False):
            user = row.data["request_user_id"]
            if user and start <= row.created <= end and _matches(body.get("filter", "all"), row):
                groups.setdefault(user, []).append(row)
        users = []
        for user, rows in groups.items():
            days = {datetime.fromtimestamp(r.created, UTC).date() for r in rows}
            prompt = sum(r.data["prompt_tokens"] for r in rows)
            completion = sum(r.data["completion_tokens"] for r in rows)
            users.append(
                {
                    "id": user,
                    "user_id": user,
                    "active_for": len(days),
                    "first_active": _ch_time(min(r.created for r in rows)),
                    "last_active": _ch_time(max(r.created for r in rows)),
                    "total_requests": len(rows),
                    "average_requests_per_day_active": len(rows) / len(days),
                    "average_tokens_per_request": (prompt + completion) / len(rows),
                    "total_prompt_tokens": prompt,
                    "total_completion_tokens": completion,
                    "cost": round(sum(r.data["cost"] for r in rows), 9),
                }
            )
        sort: dict[str, Any] = body.get("sort") or {}
        if not isinstance(sort, dict):
            return _result(400, error="sort must be an object")
        column, direction = next(iter(sort.items()), ("last_active", "desc"))
        users.sort(
            key=lambda u: (u.get(column) is not None, u.get(column) or 0, u["user_id"]),
            reverse=direction == "desc",
        )
        return _result(200, {"users": users[offset : offset + limit], "count": len(users)})

    # -- rows --------------------------------------------------------------------------------

    def _logged(self) -> list[RequestRecord]:
        return [
            r for r in self._records if r.endpoint in _LLM_ENDPOINTS and r.helicone_id is not None
        ]

    def _rows(self, *, bodies: bool) -> list[_Row]:
        return [self._row(record, i, bodies=bodies) for i, record in enumerate(self._logged())]

    def _row(self, record: RequestRecord, index: int, *, bodies: bool) -> _Row:
        request_id = record.helicone_id or ""
        usage = usage_of(record.response_events) or {}
        prompt = _count_of(usage.get("prompt_tokens"))
        completion = _count_of(usage.get("completion_tokens"))
        cached = record.cache == "HIT"
        status = record.status if record.status is not None else -1
        # The registry model of the attempt that served (or last failed), as Helicone logs it.
        model = record.attempts[-1].model if record.attempts else record.model
        cost = 0.0 if cached or not 200 <= status < 300 else cost_usd(model, prompt, completion)
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
            scores[_FEEDBACK] = int(self.feedback[request_id])
        reference = DEFAULT_UUID
        if cached:
            reference = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aiohelicone-cache:{request_id}"))
        data: dict[str, Any] = {
            "request_id": request_id,
            "request_created_at": _ch_time(created),
            "response_created_at": _ch_time(created + (latency or 0) / 1000),
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
        return _Row(data, created, index)


def _result(status: int, data: Any = None, *, error: str | None = None) -> list[Step]:
    return response(status, JSON_TYPE, dumps({"data": data, "error": error}))


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def _count_of(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _response_body(events: Sequence[bytes]) -> Any:
    if len(events) == 1 and not events[0].startswith(b"data:"):
        return _event_json(events[0])
    chunks = [_event_json(e) for e in events]
    return [c for c in chunks if isinstance(c, dict)]


# -- filters (packages/filters/filters.ts, request_response_rmt mapping) ---------------------


def _matches(node: Any, row: _Row) -> bool:
    if node == "all":
        return True
    if not isinstance(node, dict):
        raise _FilterError(f"Invalid filter node: {json.dumps(node)[:100]}")
    if "left" in node:
        if node.get("operator") not in ("and", "or"):
            raise _FilterError("Invalid filter: only OR is supported")
        left = _matches(node["left"], row)
        if node["operator"] == "and":
            return left and _matches(node.get("right"), row)
        return left or _matches(node.get("right"), row)
    for table, condition in node.items():
        if table != "request_response_rmt":
            # Unwrapped leaves and tables the fake does not emulate: no rows.
            return False
        if not isinstance(condition, dict) or not _rmt_condition(condition, row):
            return False
    return True


def _first(operators: Any) -> tuple[str, Any]:
    if not isinstance(operators, dict) or not operators:
        raise _FilterError(f"Invalid operator {json.dumps(operators)}")
    return next(iter(operators.items()))


def _rmt_condition(condition: dict[str, Any], row: _Row) -> bool:
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
            raise _FilterError("Cached filter only supports 'equals' operator")
        cached: bool = data["cache_reference_id"] != DEFAULT_UUID
        return cached == (expected is True)
    if condition.get("cost"):
        op, expected = _first(condition["cost"])
        if isinstance(expected, bool) or not isinstance(expected, (int, float)):
            raise _FilterError("cost filters take a number")
        return _compare_number(round(data["cost"] * 1e9), op, math.floor(expected * 1e9))
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
    if column == _FEEDBACK:
        return _FEEDBACK in data["scores"] and _compare_number(
            data["scores"][_FEEDBACK], op, int(expected) if isinstance(expected, bool) else expected
        )
    if column in _TIME_COLUMNS:
        when = _parse_time(expected)
        if when is None:
            raise _FilterError(f"Cannot parse {expected!r} as a DateTime")
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


def _sorted(rows: list[_Row], sort: Any) -> list[_Row]:
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
