"""``AsyncHelicone``: the client object, its lifecycle and its send path.

The send path is a chain of small steps, each owning one concern::

    create(...)                      resources (_resources.py): check arguments, build the body
      -> _Call (prepared request)    Helicone headers, request id, encoded body
      -> AsyncHelicone._send         retries and backoff (_retry.py)
           -> Transport.request      one HTTP exchange, httpx2 errors mapped (_transport.py)
      -> _decode                     status -> typed error, JSON -> typed model + .helicone
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from . import _retry
from ._converter import ShapeError, structure
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    HeliconeError,
    InvalidInputError,
    error_in_answer,
    make_status_error,
    reports_error,
)
from ._header_values import check_headers, check_secret
from ._helicone import HeliconeOptions, resolve_helicone
from ._json import loads_function
from ._metadata import HeliconeMetadata
from ._modelstring import ModelChain
from ._resources import Chat, Completions, Embeddings, Models
from ._rest_url import resolve_rest_base_url
from ._retry import RetryPolicy
from ._secrets import register as register_secrets
from ._secrets import scrub
from ._streaming import StreamTimeouts
from ._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    RawResponse,
    Transport,
    check_url,
    default_timeout,
    make_timeout,
)

if TYPE_CHECKING:
    import httpx2

    from ._fallback import Attempt, ChainPlan, FallbackMode, FallbackPolicy, TargetHealth
    from ._rest import Requests, RestConnection, Sessions, Users
    from ._transport import StreamingResponse

__all__ = ["DEFAULT_BASE_URL", "AsyncHelicone"]

DEFAULT_BASE_URL = "https://ai-gateway.helicone.ai/v1"

M = TypeVar("M")
R = TypeVar("R")


def _json_default(value: object) -> Any:
    raise TypeError(f"a value of type {type(value).__name__} is not JSON serialisable")


def _encode(body: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(
            body, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
        ).encode()
    except ValueError as exc:
        raise InvalidInputError("body", "contains a non-finite number (NaN or infinity)") from exc
    except TypeError as exc:
        raise InvalidInputError("body", str(exc)) from exc


@attrs.frozen
class _Call:
    """One prepared request: everything needed to send it, and to send it again."""

    method: str
    path: str
    content: bytes | None
    headers: Mapping[str, str]
    request_id: str | None
    timeout: httpx2.Timeout | None
    params: Mapping[str, Any] | None
    retry: RetryPolicy
    stream_timeouts: StreamTimeouts

    @property
    def stream_timeout(self) -> httpx2.Timeout | None:
        """The httpx2 timeout for a stream: the read timeout becomes the idle budget."""
        idle = self.stream_timeouts.idle
        if idle is None:
            return self.timeout
        return _with_read_timeout(self.timeout, idle)


class AsyncHelicone:
    """An async client for the Helicone AI Gateway (OpenAI-compatible).

    Use it as ``async with AsyncHelicone() as client:`` or close it with ``await client.aclose()``.
    One client holds one connection pool: create it once (per process, or per web app
    lifespan) and share it between tasks.

    Args:
        api_key: the Helicone API key; defaults to the ``HELICONE_API_KEY`` environment variable.
            It, ``provider_api_key`` and the options' ``posthog_key`` are masked
            (``sk-hel...***``) in every error, whatever a server echoes back.
        base_url: the gateway URL; defaults to ``HELICONE_BASE_URL``, then
            ``https://ai-gateway.helicone.ai/v1``.
        timeout: seconds for every phase, an ``httpx2.Timeout``, or None for no timeout.
            Default: connect 10 s, read 120 s, write 30 s, pool 30 s.
        max_retries: retries after the first try for retryable failures (see ``_retry``).
        retry_policy: the full retry policy (its ``max_retries`` is overridden by
            ``max_retries`` when that is given explicitly).
        http_client: an ``httpx2.AsyncClient`` to use as it is (never closed by us).
        limits: an ``httpx2.Limits`` for the pool we create.
        default_headers: headers sent with every request (checked as
            ``HeliconeOptions.extra_headers`` are: no auth or framing headers).
        helicone: default :class:`HeliconeOptions` for every call (per-call options win).
        provider_api_key: legacy-proxy auth (``oai.helicone.ai`` and friends): the Helicone key
            is then sent as ``Helicone-Auth: Bearer <api_key>`` and this key as
            ``Authorization: Bearer <provider_api_key>``.
        stream_timeouts: default :class:`StreamTimeouts` (first event, idle, total) of streams.
        fallback: how multi-target model strings (``"a/openai,b/anthropic"``) run:
            ``"client"`` (default: one target per request, in order, with the attempt log
            in ``.helicone.attempts``; see :func:`should_fall_back` for what moves on),
            ``"gateway"`` (the whole string in one request), or a :class:`FallbackPolicy`
            (mode, deadline, predicate, cool-down). Single targets are never affected.
        fallback_deadline: seconds for a whole client-side chain (None: no limit).
        on_attempt: called with each :class:`Attempt` of a client-side chain once it ended
            (a plain function; an exception from it is logged and ignored).
        rest_base_url: Helicone's REST API (``client.requests``, ``.sessions``, ``.users``);
            default ``HELICONE_REST_BASE_URL`` (our invention), else
            ``https://eu.api.helicone.ai`` for an EU key, else ``https://api.helicone.ai``.
            It always gets the Helicone key as ``Authorization: Bearer``.
        region: ``"eu"`` (``https://eu.api.helicone.ai``) or ``"us"``, instead of
            ``rest_base_url``.
        max_response_bytes: the most of one answer the client reads, in decoded bytes
            (default 256 MiB; None: no cap). A larger answer raises
            :class:`APIResponseValidationError`. An answer to a stream request that is not
            an event stream is capped like one stream event, at 16 MiB or this if lower.

    Raises:
        HeliconeError: no API key was given and ``HELICONE_API_KEY`` is not set.
        InvalidInputError: a key is not header-safe (control characters, whitespace at
            either end; the key is never echoed), a URL is malformed or its port out of
            range, or ``default_headers`` holds a header the checks refuse (see
            ``HeliconeOptions.extra_headers``).
        TypeError: ``http_client`` is not an ``httpx2.AsyncClient`` (or another argument has
            the wrong type).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx2.AsyncClient | None = None,
        limits: httpx2.Limits | None = None,
        default_headers: Mapping[str, str] | None = None,
        helicone: HeliconeOptions | None = None,
        provider_api_key: str | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy = "client",
        fallback_deadline: float | None = None,
        on_attempt: Callable[[Attempt], object] | None = None,
        rest_base_url: str | None = None,
        region: Literal["us", "eu"] | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("HELICONE_API_KEY")
        if not api_key:
            raise HeliconeError(
                "No API key: pass api_key=... or set the HELICONE_API_KEY environment variable."
            )
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        # As strictly as Helicone option values: a key the HTTP layer refuses would come
        # back inside its error message, whole.
        check_secret("api_key", api_key)
        if provider_api_key is not None:
            check_secret("provider_api_key", provider_api_key)
        if base_url is None:
            base_url = os.environ.get("HELICONE_BASE_URL") or DEFAULT_BASE_URL
        check_url("base_url", base_url)
        rest_url = resolve_rest_base_url(rest_base_url, region, api_key)
        check_url("rest_base_url", rest_url)
        if helicone is not None and not isinstance(helicone, HeliconeOptions):
            raise TypeError(f"helicone must be HeliconeOptions, got {type(helicone).__name__}")
        if default_headers is not None:
            default_headers = check_headers("default_headers", default_headers)
        # Masked in every error built from now on (see _secrets.py), while this client lives.
        secrets = (api_key, provider_api_key, helicone.posthog_key if helicone else None)
        self._secrets = {secret for secret in secrets if secret is not None}
        register_secrets(self, secrets)
        policy = retry_policy or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=_check_retries(max_retries))
        self._retry = policy
        self._options = helicone
        if stream_timeouts is not None and not isinstance(stream_timeouts, StreamTimeouts):
            raise TypeError("stream_timeouts must be a StreamTimeouts")
        self._stream_defaults = stream_timeouts or StreamTimeouts()
        # The fallback machinery (_fallback.py) loads when a chain first runs; until then the
        # default policy is just its mode.
        self._fallback_policy: FallbackPolicy | None = None
        self._fallback_mode: str = "client"
        if fallback != "client" or fallback_deadline is not None:
            from ._fallback import FallbackPolicy, resolve_policy

            self._fallback_policy = resolve_policy(FallbackPolicy(), fallback, fallback_deadline)
            self._fallback_mode = self._fallback_policy.mode
        if on_attempt is not None and not callable(on_attempt):
            raise TypeError("on_attempt must be a callable taking an Attempt")
        self._on_attempt = on_attempt
        self._health: TargetHealth | None = None
        self._legacy_auth = provider_api_key is not None
        if provider_api_key is not None:
            auth = {
                "helicone-auth": f"Bearer {api_key}",
                "authorization": f"Bearer {provider_api_key}",
            }
        else:
            auth = {"authorization": f"Bearer {api_key}"}
        self._transport = Transport(
            base_url=base_url,
            auth_headers=auth,
            default_headers=default_headers,
            timeout=default_timeout() if timeout == "default" else make_timeout(timeout),
            limits=limits,
            http_client=http_client,
            max_response_bytes=_check_max_bytes(max_response_bytes),
        )
        self.chat = Chat(self)
        self.completions = Completions(self)
        self.embeddings = Embeddings(self)
        self.models = Models(self)
        # The REST resources (client.requests, .sessions, .users) are built on first use, so
        # that a client that only calls the gateway never imports them (see _rest.py).
        self._rest_config = (api_key, rest_url, default_headers)
        self._rest: RestConnection | None = None
        self._rest_resources: tuple[Requests, Sessions, Users] | None = None

    # -- REST resources (built on first use) -----------------------------------------------

    def _rest_api(self) -> tuple[Requests, Sessions, Users]:
        resources = self._rest_resources
        if resources is None:
            from ._rest import Requests, RestConnection, Sessions, Users

            api_key, rest_url, default_headers = self._rest_config
            self._rest = RestConnection(self, api_key, rest_url, default_headers)
            resources = self._rest_resources = (
                Requests(self._rest),
                Sessions(self._rest),
                Users(self._rest),
            )
        return resources

    @property
    def requests(self) -> Requests:
        """Helicone's REST API for logged requests: feedback, scores, properties, queries."""
        return self._rest_api()[0]

    @property
    def sessions(self) -> Sessions:
        """Helicone's REST API for sessions: feedback and queries."""
        return self._rest_api()[1]

    @property
    def users(self) -> Users:
        """Helicone's REST API for per-user metrics."""
        return self._rest_api()[2]

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncHelicone:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a caller-supplied ``http_client`` is left open)."""
        await self._transport.aclose()

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._transport.closed

    @property
    def base_url(self) -> str:
        """The gateway URL every path is appended to."""
        return self._transport.base_url

    @property
    def http_client(self) -> httpx2.AsyncClient:
        """The pooled ``httpx2.AsyncClient`` this client sends through."""
        return self._transport.http_client

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy of this client."""
        return self._retry

    @property
    def helicone(self) -> HeliconeOptions | None:
        """The default Helicone options of this client."""
        return self._options

    def __repr__(self) -> str:
        auth = "legacy-proxy" if self._legacy_auth else "gateway"
        return f"<AsyncHelicone base_url={self.base_url!r} auth={auth} api_key=<hidden>>"

    # -- the send path ---------------------------------------------------------------------

    def _prepare(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        helicone: HeliconeOptions | None = None,
        metadata: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
    ) -> _Call:
        if helicone is not None and not isinstance(helicone, HeliconeOptions):
            raise InvalidInputError("helicone", "must be a HeliconeOptions")
        resolved = resolve_helicone(
            self._options,
            helicone,
            metadata,
            body_user=body.get("user") if body is not None else None,
        )
        headers = resolved.headers
        if extra_headers is not None:
            checked = check_headers("extra_headers", extra_headers)
            if checked:
                headers = {**headers, **checked}
        if extra_query is not None:
            _check_query(extra_query)
        if stream_timeouts is not None and not isinstance(stream_timeouts, StreamTimeouts):
            raise InvalidInputError(
                "stream_timeouts",
                f"must be a StreamTimeouts, not {type(stream_timeouts).__name__}",
            )
        content = None
        if body is not None:
            if resolved.body_metadata is not None:
                body["metadata"] = resolved.body_metadata
            if extra_body is not None:
                _check_extra_body(extra_body)
                body.update(extra_body)
            content = _encode(body)
        retry = self._retry
        if max_retries is not None:
            retry = attrs.evolve(retry, max_retries=_check_retries(max_retries))
        call = _Call(
            method=method,
            path=path,
            content=content,
            headers=headers,
            request_id=resolved.request_id,
            timeout=_call_timeout(timeout),
            params=extra_query,
            retry=retry,
            stream_timeouts=stream_timeouts or self._stream_defaults,
        )
        posthog = headers.get(_POSTHOG_HEADER) or headers.get(_POSTHOG_HEADER_LOWER)
        if posthog is not None and posthog not in self._secrets:
            # A key given to one call: owned by the client, since a stream's error events
            # arrive after the prepared call is gone.
            self._secrets.add(posthog)
            register_secrets(self, (posthog,))
        return call

    async def _with_retries(self, call: _Call, once: Callable[[], Awaitable[R]]) -> R:
        """Run ``once`` until it succeeds, a failure is final, or retries run out."""
        policy = call.retry
        retries = 0
        while True:
            try:
                return await once()
            except APIConnectionError:  # includes timeouts
                if retries >= policy.max_retries:
                    raise
                wait = policy.backoff(retries)
            except APIStatusError as error:
                if retries >= policy.max_retries or not policy.should_retry_status(error):
                    raise
                asked = error.retry_after  # parsed once, when the error was built
                if asked is not None and asked > policy.max_retry_after:
                    raise
                wait = asked if asked is not None else policy.backoff(retries)
            await _retry.sleep(wait)
            retries += 1

    async def _send(self, call: _Call) -> RawResponse:
        """Send with retries; returns a 2xx/3xx answer or raises the typed error."""

        async def once() -> RawResponse:
            raw = await self._transport.request(call)
            if raw.status_code >= 400:
                raise self._status_error(raw, call)
            return raw

        return await self._with_retries(call, once)

    async def _open_with_retries(self, call: _Call) -> StreamingResponse:
        """Open a stream with retries before its first byte; returns a 2xx answer."""

        async def once() -> StreamingResponse:
            response = await self._transport.open_stream(call)
            if response.status_code < 400:
                return response
            try:
                body = await response.read(self._transport.max_response_bytes)
            finally:
                await response.aclose()
            raise self._status_error(
                RawResponse(response.status_code, dict(response.headers.items()), body), call
            )

        return await self._with_retries(call, once)

    def _stream_timeouts(self, call: _Call) -> StreamTimeouts:
        return call.stream_timeouts

    def _status_error(self, raw: RawResponse, call: _Call) -> APIStatusError:
        # The error scrubs its own message, body and headers (_exceptions.py); the metadata
        # keeps the response headers too, and a server may echo a key there.
        headers = scrub(raw.headers)
        error = make_status_error(
            raw.status_code,
            raw.content,
            headers,
            request_id=call.request_id,
            retry_after=_retry.retry_after_seconds(headers),
        )
        error.helicone = HeliconeMetadata._from_lowered(headers, call.request_id)
        return error

    def _decode(self, raw: RawResponse, cls: type[M], call: _Call) -> M:
        data = _parse_json(raw, call.request_id)
        if type(data) is dict and "error" in data and reports_error(data):
            raise self._error_in_body(data, raw, call)
        try:
            result = structure(data, cls)
        except ShapeError as exc:
            raise APIResponseValidationError(
                f"The gateway's answer does not have the expected shape: {exc}",
                status_code=raw.status_code,
                body=data,
                request_id=call.request_id,
            ) from exc
        meta = HeliconeMetadata._from_lowered(raw.headers, call.request_id)
        object.__setattr__(result, "helicone", meta)
        return result

    def _error_in_body(self, data: dict[str, Any], raw: RawResponse, call: _Call) -> APIStatusError:
        """The status error a 2xx answer's ``{"error": {...}}`` body reports (``in_body``)."""
        error = error_in_answer(
            data,
            raw.headers,
            request_id=call.request_id,
            retry_after=_retry.retry_after_seconds(raw.headers),
        )
        error.helicone = HeliconeMetadata._from_lowered(raw.headers, call.request_id)
        return error

    async def _request(self, cls: type[M], call: _Call) -> M:
        raw = await self._send(call)
        return self._decode(raw, cls, call)

    async def _stream(self, call: _Call, kind: str) -> Any:
        from ._streaming import open_stream

        return await open_stream(self, call, kind)

    # -- fallback chains (_fallback.py) ------------------------------------------------------

    def _fallback_plan(
        self, chain: ModelChain, fallback: object, deadline: float | None
    ) -> ChainPlan | None:
        """The client-side chain to run, or None to send ``str(chain)`` as one request."""
        if (fallback is None and deadline is None) and (
            len(chain.targets) == 1 or self._fallback_mode == "gateway"
        ):
            return None  # the fast path: nothing is built or imported
        from ._fallback import ChainPlan, resolve_policy

        policy = resolve_policy(self._default_fallback(), fallback, deadline)
        if len(chain.targets) == 1 or policy.mode == "gateway":
            return None
        return ChainPlan(chain, policy)

    def _default_fallback(self) -> FallbackPolicy:
        policy = self._fallback_policy
        if policy is None:
            from ._fallback import FallbackPolicy

            policy = self._fallback_policy = FallbackPolicy()
        return policy

    @property
    def _target_health(self) -> TargetHealth:
        """Per-client failure counts for the fallback cool-down (built on first use)."""
        health = self._health
        if health is None:
            from ._fallback import TargetHealth

            health = self._health = TargetHealth()
        return health

    async def _run_chain(
        self,
        plan: ChainPlan,
        body: dict[str, Any],
        call: _Call,
        result: type[M] | str,
        *,
        helicone: HeliconeOptions | None,
        metadata: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Any:
        """Run ``plan``; ``result`` is the answer model, or the stream kind for streams."""
        if body.get("model") != plan.first_wire:
            # extra_body replaced the model: send the request as the caller wrote it.
            if isinstance(result, str):
                return await self._stream(call, result)
            return await self._request(result, call)

        from ._fallback import request_chain, request_id_fixed, stream_chain

        def fixed() -> bool:
            return request_id_fixed(self._options, helicone, metadata, extra_headers)

        if isinstance(result, str):
            return await stream_chain(self, result, plan, body, call, fixed_request_id=fixed)
        return await request_chain(self, result, plan, body, call, fixed_request_id=fixed)


def _parse_json(raw: RawResponse, request_id: str | None) -> Any:
    text = raw.content
    if not text.strip():
        raise APIResponseValidationError(
            f"The gateway answered {raw.status_code} with an empty body.",
            status_code=raw.status_code,
            body="",
            request_id=request_id,
        )
    try:
        return loads_function()(text)
    except ValueError as exc:
        excerpt = text[:200].decode("utf-8", errors="replace")
        ctype = raw.headers.get("content-type", "?")
        raise APIResponseValidationError(
            f"The gateway answered {raw.status_code} ({ctype}) with a body that is not JSON: "
            f"{excerpt!r}",
            status_code=raw.status_code,
            body=text.decode("utf-8", errors="replace"),
            request_id=request_id,
        ) from exc


def _with_read_timeout(timeout: httpx2.Timeout | None, read: float) -> httpx2.Timeout:
    import httpx2

    base = timeout if timeout is not None else default_timeout()
    return httpx2.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


_POSTHOG_HEADER = "Helicone-Posthog-Key"
_POSTHOG_HEADER_LOWER = _POSTHOG_HEADER.lower()
_QUERY_SCALARS = (str, int, float, bool)


def _call_timeout(value: object) -> httpx2.Timeout | None:
    """A per-call ``timeout=`` (None: the client's)."""
    if isinstance(value, str) and value == "default":
        return None
    try:
        return make_timeout(value)
    except TypeError as exc:
        raise InvalidInputError("timeout", str(exc).removeprefix("timeout ")) from None


def _check_query(query: object) -> None:
    """``extra_query``: str keys, values of the types a query string can say."""
    if not isinstance(query, Mapping):
        raise InvalidInputError(
            "extra_query", f"must be a mapping of str to values, not {type(query).__name__}"
        )
    for key, value in query.items():
        if not isinstance(key, str):
            raise InvalidInputError("extra_query", f"keys must be str, got {type(key).__name__}")
        items = value if isinstance(value, list | tuple) else (value,)
        for item in items:
            # None is sent as an empty value by httpx2; anything else would go out as its
            # str(), an object's repr included.
            if item is not None and not isinstance(item, _QUERY_SCALARS):
                raise InvalidInputError(
                    f"extra_query[{key!r}]",
                    f"must be a str, int, float, bool or None (or a list of them), "
                    f"not {type(item).__name__}",
                )


def _check_extra_body(extra_body: object) -> None:
    if not isinstance(extra_body, Mapping):
        raise InvalidInputError(
            "extra_body", f"must be a mapping of str to values, not {type(extra_body).__name__}"
        )
    for key in extra_body:
        if not isinstance(key, str):
            raise InvalidInputError("extra_body", f"keys must be str, got {type(key).__name__}")


def _check_max_bytes(value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidInputError(
            "max_response_bytes", f"must be a positive int or None, got {value!r}"
        )
    return value


def _check_retries(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError("max_retries", f"must be a non-negative int, got {value!r}")
    return value
