"""Layer 8 (test kit): ``FakeGateway``: an offline, deterministic Helicone gateway, an ASGI 3 app.

Behaviour follows ../shared/helicone-api.md (the "doc" below). Choices made where the doc is
silent or UNCERTAIN, all deliberate:

- ``/completions`` and ``/embeddings`` are served (as the legacy proxies do) when
  ``legacy_endpoints=True``. With ``legacy_endpoints=False`` they are treated like the real
  cloud gateway treats any POST: as a chat completion. Their bodies have no ``messages``, so
  every PTB attempt fails the gateway's schema check and the answer is the envelope's 400
  (``invalid_format``). Both legacy endpoints still go through model-string routing here.
- Any other POST path is a chat completion (the real gateway ignores the path), except
  paths containing ``v1/responses``: the Responses API (``_responses.py``), routed,
  rate-limited, cached and scripted as chat is. Its PTB attempts check the body's ``input``
  and the provider against the gateway's Responses whitelist (``invalid_format``).
- ``Helicone-Id`` and the ``Helicone-Provider``/``-Model``/``-Gateway-Mode``/``-Status``
  headers are on answers a provider served (and cache hits). Error envelopes are built fresh
  by the gateway (ErrorForwarder), so they carry only ``content-type``.
- A policy-limited 429 carries ``X-Helicone-Error: rate_limited`` and the
  ``Helicone-RateLimit-*`` headers when ``rate_limit_error_headers=True`` (the default). The
  gateway code suggests they are absent (doc §9 question 2): pass False to test that case.
- Rate limits and the cache are checked where the worker checks them, inside each attempt
  that reaches a provider: each such attempt takes a token; a 429 on the first attempt
  stops the request, a later one counts as a failed attempt. The cache key is computed from
  the client's request, so only the first executed attempt can hit.
- Chat answers not scripted otherwise follow the body: reasoning (``message.reasoning``,
  ``reasoning_details``) for ``reasoning_effort``/``reasoning_options`` or a reasoning model,
  images for ``modalities: ["image", ...]`` or an image model (``_outputs.py``); JSON that
  follows a ``json_schema`` response format, and a call of a requested tool with arguments
  that follow its parameters (``_structured.py``).
- Unknown models without a provider, unknown providers and excluded providers are skipped
  silently (as AttemptBuilder does). When no attempt is left the answer is 500
  ``No available providers...``; the skipped specs are listed in ``record.notes``.
"""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from ._cache import CacheConfigError, CachedResponse, CacheSettings, ResponseCache, cache_key
from ._cache import cache_settings as read_cache_settings
from ._emit import Abort, Receive, Scope, Send, Sleep, Start, Step, emit, read_body, response
from ._gateway_answers import (
    envelope_answer,
    mark_served,
    passthrough_fail,
    rate_limited_answer,
    replay_answer,
    success_headers,
)
from ._gateway_rules import (
    INVALID_BODY,
    INVALID_MODEL_TYPE,
    METHOD_NOT_ALLOWED,
    MODELS_PATHS,
    NO_PROVIDERS,
    REPLAYED_HEADERS,
    Script,
    cacheable,
    fail_body,
    header_pairs,
    helicone_id,
    js_truthy,
    lifespan,
    note_attempt,
    outcome_kind,
    parse_json,
    segment_value,
    text_answer,
)
from ._outcomes import (
    Compressed,
    Delay,
    Fail,
    InsufficientCredits,
    Outcome,
    RawResponse,
    Reply,
    Reset,
    Respond,
)
from ._plan import raw_steps, reply_of, shape
from ._provider import Provider, chat_format_problem
from ._ratelimit import RateLimiter, parse_policy
from ._records import RequestRecord
from ._registry import (
    DEFAULT_MODELS,
    MODEL_ALIASES,
    PROVIDERS,
    Attempt,
    ModelInfo,
    ModelStringError,
    build_attempts,
    parse_model_field,
)
from ._responses import responses_format_problem
from ._rest_api import RestAPI, first_body_delay
from ._wire import (
    JSON_TYPE,
    AttemptError,
    dumps,
    provider_message,
)

if TYPE_CHECKING:
    from ._server import LoopbackServer

__all__ = ["FakeGateway", "echo"]


def echo(record: RequestRecord) -> str:
    """The default responder: a sentence built from the last user message (or prompt).

    Args:
        record: the request.

    Returns:
        ``"You said: <text>"``, or a greeting when there is no user text.
    """
    text = record.last_user_message
    return f"You said: {text}" if text else "Hello from the fake Helicone gateway."


class FakeGateway:
    """An offline Helicone AI gateway: an ASGI 3 app for tests.

    Use it in process with ``httpx2.ASGITransport(app=gateway)`` (which buffers whole
    answers), or over real sockets with :meth:`serve` (incremental streams, resets, stalls).

    Args:
        api_keys: Helicone keys accepted; None accepts any non-empty key. A refused key
            gets 401 ``Invalid Helicone API key``.
        models: the model registry (default :data:`DEFAULT_MODELS`).
        aliases: legacy model names rewritten before routing.
        byok_providers: providers (``"azure"``) or deployments (``"azure/<id>"``) the org
            has its own key for: they get a BYOK attempt before PTB, and may serve models
            unknown to the registry (passthrough).
        responder: the text of answers not scripted otherwise: a fixed string, or a callable
            taking the :class:`RequestRecord` (default :func:`echo`).
        legacy_endpoints: serve ``/completions`` and ``/embeddings`` (see module docs).
        passthrough_errors: behave like the legacy proxies for provider errors: the first
            :class:`Fail` is sent as the provider sent it, and nothing else is tried.
        rate_limit_error_headers: put ``X-Helicone-Error: rate_limited`` and the
            ``Helicone-RateLimit-*`` headers on a policy 429.
        stream_interval: seconds between stream events of ordinary replies.
        embedding_dimensions: embedding size when the request gives none (default: the
            model's, e.g. 1536).
        request_cost_cents: what each served request costs against ``u=cents`` policies.
        clock: seconds, for cache TTLs, rate-limit refills and record timestamps
            (default ``time.monotonic``); inject one to test expiry without sleeping.
        seed: seeds the choice of a cache bucket slot.
        compress: compress every answer as a proxy in front of the gateway would: a coding
            (``"gzip"``, ``"deflate"``, ``"deflate-raw"``, ``"br"``, ``"zstd"``) or a
            :class:`Compressed` (its ``then`` is ignored). A :class:`Compressed` script
            step overrides it for one request.

    Attributes:
        requests: every request received, in order (REST API calls too, with
            ``endpoint == "rest"``).
        clock: the clock in use.
        rest: the REST API served under ``/v1/request``, ``/v1/session`` and ``/v1/user``
            (:class:`RestAPI`: logged rows with costs, feedback, scores; see
            ``_rest_api.py``). Point a client's ``rest_base_url`` at the server's URL.
        prompts: the stored prompts that requests with ``prompt_id`` expand
            (:class:`PromptStore`).
    """

    def __init__(
        self,
        *,
        api_keys: Collection[str] | None = None,
        models: Mapping[str, ModelInfo] | None = None,
        aliases: Mapping[str, str] = MODEL_ALIASES,
        byok_providers: Collection[str] = (),
        responder: str | Callable[[RequestRecord], str] = echo,
        legacy_endpoints: bool = True,
        passthrough_errors: bool = False,
        rate_limit_error_headers: bool = True,
        stream_interval: float = 0.0,
        embedding_dimensions: int | None = None,
        request_cost_cents: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        compress: str | Compressed | None = None,
    ) -> None:
        from ._compress import header_value

        self.requests: list[RequestRecord] = []
        self._compress = Compressed(compress) if isinstance(compress, str) else compress
        if self._compress is not None:
            header_value(self._compress)  # an unknown coding fails here, not per request
        self.clock = clock
        self._api_keys = None if api_keys is None else frozenset(api_keys)
        self._models = DEFAULT_MODELS if models is None else dict(models)
        self._aliases = dict(aliases)
        self._byok = frozenset(byok_providers)
        self._provider = Provider(
            responder=(lambda _record: responder) if isinstance(responder, str) else responder,
            dimensions={name: info.dimensions for name, info in self._models.items()},
            embedding_dimensions=embedding_dimensions,
        )
        self._legacy = legacy_endpoints
        self._passthrough = passthrough_errors
        self._limit_headers_on_429 = rate_limit_error_headers
        self._stream_interval = stream_interval
        self._cost = request_cost_cents
        self._seed = seed
        self._scripts: dict[str, Script] = {}
        self._cache = ResponseCache(clock, random.Random(seed))
        self._limiter = RateLimiter(clock)
        self.rest = RestAPI(self.requests, self._api_keys, models=self._models)
        self.prompts = self.rest.prompts

    # -- public API -----------------------------------------------------------------------

    def script(self, target: str, outcomes: Sequence[Outcome], *, repeat: bool = False) -> None:
        """Script what the attempts on ``target`` do, one outcome per attempt, in order.

        Lookup order for an attempt: ``"model/provider"``, ``"model"``, ``"provider"``,
        ``"*"``; the first script with an outcome left is used. When none is left the
        attempt replies normally (:class:`Reply`). Scripting a target again replaces it.

        Args:
            target: ``"gpt-4o-mini/openai"``, ``"gpt-4o-mini"``, ``"openai"`` or ``"*"``.
            outcomes: the outcomes, consumed one per attempt.
            repeat: start over when the sequence is exhausted.

        Raises:
            ValueError: ``target`` names an unknown provider, or ``repeat`` with no outcomes.
        """
        parts = target.split("/")
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in PROVIDERS) or not parts[0]:
            raise ValueError(
                f"script target {target!r}: expected 'model/provider', 'model', "
                "'provider' or '*', with a known provider"
            )
        if repeat and not outcomes:
            raise ValueError("repeat=True needs at least one outcome")
        self._scripts[target] = Script(tuple(outcomes), repeat)

    def remaining(self, target: str) -> int:
        """How many scripted outcomes of ``target`` are not used yet (0 if unscripted)."""
        script = self._scripts.get(target)
        return 0 if script is None else script.remaining

    @property
    def last_request(self) -> RequestRecord:
        """The most recent request.

        Raises:
            LookupError: no request was received yet.
        """
        if not self.requests:
            raise LookupError("the fake gateway has received no request")
        return self.requests[-1]

    def clear(self) -> None:
        """Forget the recorded requests (scripts, cache and rate limits stay)."""
        self.requests.clear()

    def reset(self) -> None:
        """Forget everything: records, scripts, cached answers, rate-limit buckets, and the
        REST API's feedback, scores and prompts."""
        self.requests.clear()
        self.rest.clear()
        self._scripts.clear()
        self._cache.clear()
        self._limiter.clear()

    def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        header_timeout: float | None = 10.0,
        max_header_size: int = 64 * 1024,
        max_body_size: int = 32 * 1024 * 1024,
    ) -> AbstractAsyncContextManager[LoopbackServer]:
        """Serve this gateway on a loopback port: ``async with gateway.serve() as server``.

        Args:
            host: the address to bind.
            port: the port; 0 picks a free one (see ``server.url``).
            header_timeout, max_header_size, max_body_size: the server's limits (see
                :func:`aiohelicone.testing.serve`).

        Returns:
            An async context manager yielding the running :class:`LoopbackServer`.

        Raises:
            ValueError: a limit is not positive (when entered).
        """
        from ._server import serve

        return serve(
            self,
            host=host,
            port=port,
            header_timeout=header_timeout,
            max_header_size=max_header_size,
            max_body_size=max_body_size,
        )

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point (``http`` and ``lifespan`` scopes)."""
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        record = self._record(scope, body)
        self.requests.append(record)
        steps = await self._answer(record)
        record.first_byte_delay = first_body_delay(steps)
        if record.compression is None and self._compress is not None:
            record.compression = self._compress
        if record.compression is not None:
            from ._compress import compress_steps

            steps = compress_steps(steps, record.compression)
        await emit(steps, scope, receive, send, record, self.clock)

    # -- request handling -------------------------------------------------------------------

    def _record(self, scope: Scope, body: bytes) -> RequestRecord:
        headers = header_pairs(scope)
        data = parse_json(body)
        user = headers.get("helicone-user-id")
        if user is None and isinstance(data, dict) and isinstance(data.get("user"), str):
            user = data["user"]
        prefix = "helicone-property-"
        return RequestRecord(
            method=str(scope.get("method", "GET")).upper(),
            path=str(scope.get("path", "/")),
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
            headers=headers,
            body=body,
            json=data,
            time=self.clock(),
            stream=isinstance(data, dict) and data.get("stream") is True,
            properties={k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)},
            user_id=user,
            session_id=headers.get("helicone-session-id"),
            session_path=headers.get("helicone-session-path"),
            session_name=headers.get("helicone-session-name"),
            created_at=self.rest.wall_clock(),
        )

    async def _answer(self, record: RequestRecord) -> list[Step]:
        if self.rest.handles(record.path):
            record.endpoint = "rest"
            return self.rest.answer(record)
        if record.method == "GET" and record.path in MODELS_PATHS:
            record.endpoint = "models"
            return response(200, JSON_TYPE, dumps(self._models_list()))
        if record.method != "POST":
            return text_answer(405, METHOD_NOT_ALLOWED, ("allow", "POST, GET"))
        endpoint = self._endpoint(record.path)
        record.endpoint = endpoint
        refusal = self._authenticate(record.headers, endpoint)
        if refusal is not None:
            return text_answer(401, refusal)
        prompt_error = self.rest.expand_prompt(record) if endpoint == "chat" else None
        if prompt_error is not None:
            return prompt_error
        data = record.json
        if not isinstance(data, dict) or not js_truthy(data.get("model")):
            return text_answer(400, INVALID_BODY)
        if not isinstance(data["model"], str):
            return text_answer(400, INVALID_MODEL_TYPE)
        try:
            specs, excluded = parse_model_field(data["model"])
            cache = read_cache_settings(record.headers)
        except (ModelStringError, CacheConfigError) as exc:
            status = 500 if isinstance(exc, CacheConfigError) else 400
            return text_answer(status, str(exc))
        attempts, notes = build_attempts(specs, excluded, self._models, self._byok, self._aliases)
        record.notes.extend(notes)
        record.helicone_id = helicone_id(record.headers.get("helicone-request-id"))
        if not attempts:
            error = AttemptError("request_failed", NO_PROVIDERS, 400, "No available providers")
            return envelope_answer([error])
        return await self._walk(record, endpoint, attempts, cache)

    def _endpoint(self, path: str) -> str:
        if "v1/responses" in path.lower():
            return "responses"
        trimmed = path.rstrip("/")
        if self._legacy and trimmed in ("/v1/completions", "/completions"):
            return "completions"
        if self._legacy and trimmed in ("/v1/embeddings", "/embeddings"):
            return "embeddings"
        return "chat"

    def _authenticate(self, headers: Mapping[str, str], endpoint: str) -> str | None:
        # The gateway needs a non-empty Authorization, x-api-key or api-key even when
        # Helicone-Auth (which takes precedence) carries the key; the legacy proxies
        # authenticate with Helicone-Auth alone.
        names = ["authorization", "x-api-key", "api-key"]
        if endpoint in ("completions", "embeddings"):
            names.append("helicone-auth")
        if not any(headers.get(name, "").strip() for name in names):
            return "Invalid Helicone API key (hshed)"
        if self._api_keys is None:
            return None
        for name in ("helicone-auth", "authorization", "x-api-key", "api-key"):
            value = headers.get(name, "").strip()
            if value:
                key = value[7:].strip() if value.lower().startswith("bearer ") else value
                return None if key in self._api_keys else "Invalid Helicone API key"
        return "Invalid Helicone API key"

    def _models_list(self) -> dict[str, Any]:
        data = [
            {
                "id": name,
                "object": "model",
                "created": 1_700_000_000,
                "owned_by": next(iter(info.providers), "helicone"),
            }
            for name, info in self._models.items()
        ]
        return {"object": "list", "data": data}

    async def _walk(
        self,
        record: RequestRecord,
        endpoint: str,
        attempts: Sequence[Attempt],
        cache: CacheSettings | None,
    ) -> list[Step]:
        errors: list[AttemptError] = []
        prefix: list[Step] = []
        policy = parse_policy(record.headers.get("helicone-ratelimit-policy"))
        segment = None if policy is None else segment_value(policy, record)
        key = None
        if cache is not None:
            key = cache_key(cache, record.path, record.body, record.json, record.headers)

        for attempt in attempts:
            if attempt.mode == "ptb" and endpoint in ("chat", "responses"):
                problem = (
                    chat_format_problem(record.json)
                    if endpoint == "chat"
                    else responses_format_problem(record.json, attempt.provider)
                )
                if problem is not None:
                    # The gateway records schema failures without a source.
                    errors.append(AttemptError("invalid_format", problem, 400))
                    note_attempt(record, attempt, "invalid_format", 400)
                    continue

            limit_headers: tuple[tuple[str, str], ...] = ()
            if policy is not None and segment is not None:
                result = self._limiter.check(policy, segment)
                limit_headers = result.headers
                if not result.allowed:
                    record.rate_limited = True
                    note_attempt(record, attempt, "rate_limited", 429)
                    error = AttemptError(
                        "rate_limited", "Request failed with status 429", 429, attempt.source
                    )
                    if not errors:
                        return prefix + rate_limited_answer(
                            error,
                            limit_headers,
                            passthrough=self._passthrough,
                            limit_headers_on_429=self._limit_headers_on_429,
                        )
                    errors.append(error)
                    continue

            if cache is not None and key is not None and cache.read:
                hit = self._cache.lookup(key, cache.bucket_size)
                if hit is not None:
                    note_attempt(record, attempt, "cache_hit", 200)
                    return prefix + replay_answer(record, *hit)
                record.cache = "MISS"

            outcome, sleeps = await self._resolve(self._next_outcome(attempt), record)
            prefix.extend(Sleep(s) for s in sleeps)
            result_steps = self._apply(
                outcome, attempt, record, endpoint, limit_headers, cache, key, prefix
            )
            if isinstance(result_steps, AttemptError):
                if isinstance(outcome, InsufficientCredits) and not errors:
                    return prefix + envelope_answer([result_steps])
                errors.append(result_steps)
                continue
            if policy is not None and segment is not None:
                self._limiter.record_cost(policy, segment, self._cost)
            return prefix + result_steps
        return prefix + envelope_answer(errors)

    def _next_outcome(self, attempt: Attempt) -> Outcome:
        for key in (attempt.target, attempt.model, attempt.provider, "*"):
            script = self._scripts.get(key)
            if script is not None:
                outcome = script.next()
                if outcome is not None:
                    return outcome
        return Reply()

    @staticmethod
    async def _resolve(outcome: Outcome, record: RequestRecord) -> tuple[Outcome, list[float]]:
        sleeps: list[float] = []
        while isinstance(outcome, (Respond, Delay, Compressed)):
            if isinstance(outcome, Compressed):
                record.compression = outcome  # applied to the answer, whatever it becomes
                outcome = outcome.then
                continue
            if isinstance(outcome, Delay):
                sleeps.append(outcome.seconds)
                outcome = outcome.then
                continue
            produced = outcome.func(record)
            if inspect.isawaitable(produced):
                produced = await produced
            outcome = Reply(text=produced) if isinstance(produced, str) else produced
        return outcome, sleeps

    def _apply(
        self,
        outcome: Outcome,
        attempt: Attempt,
        record: RequestRecord,
        endpoint: str,
        limit_headers: tuple[tuple[str, str], ...],
        cache: CacheSettings | None,
        key: str | None,
        prefix: Sequence[Step],
    ) -> list[Step] | AttemptError:
        if isinstance(outcome, Fail):
            note_attempt(record, attempt, "fail", outcome.status)
            if self._passthrough:
                return passthrough_fail(outcome, record)
            body = fail_body(outcome)
            message = provider_message(body, outcome.status)
            return AttemptError("request_failed", message, outcome.status, attempt.source)
        if isinstance(outcome, InsufficientCredits):
            note_attempt(record, attempt, "insufficient_credits", 429)
            return AttemptError(
                "insufficient_credit_limit", "Insufficient credits", 429, attempt.source
            )
        if isinstance(outcome, Reset):
            note_attempt(record, attempt, "reset", None)
            return [Abort()]
        if isinstance(outcome, RawResponse):
            note_attempt(record, attempt, "raw", outcome.status)
            mark_served(record, attempt)
            return raw_steps(outcome)

        reply = reply_of(outcome)
        answer = self._provider.answer(reply, attempt, record, endpoint)
        if isinstance(answer, AttemptError):
            note_attempt(record, attempt, "fail", answer.status)
            if self._passthrough:
                fail = Fail(answer.status, message=answer.message)
                return passthrough_fail(fail, record)
            return answer

        note_attempt(record, attempt, outcome_kind(outcome), 200)
        mark_served(record, attempt)
        record.response_events = answer.events
        headers = success_headers(record, attempt, answer, limit_headers, cache, reply)
        start = Start(200, headers)
        events = list(answer.events)
        steps = shape(
            outcome, start, events, answer.stream, self._stream_interval, answer.error_event
        )
        if cache is not None and key is not None and cache.save and cacheable(outcome):
            latency = sum(s.seconds for s in (*prefix, *steps) if isinstance(s, Sleep))
            stored = CachedResponse(
                status=200,
                headers=tuple(h for h in headers if h[0] in REPLAYED_HEADERS),
                chunks=tuple(events),
                latency_ms=round(latency * 1000),
                expires_at=self.clock() + cache.ttl,
            )
            self._cache.store(key, cache.bucket_size, stored)
        return steps

    # -- answers ----------------------------------------------------------------------------
