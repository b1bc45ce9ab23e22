"""Layer 5 (client): ``AsyncHelicone``, the public face: configuration, lifecycle, resources.

The client composes the parts below it and adds no behaviour of its own::

    Transport   (_transport.py)   the httpx2 pool; the one httpx2 -> aiohelicone error map
    Sender      (_send.py)        prepared calls, retries, status errors, decoding
    Router      (_routing.py)     client-side fallback chains over the sender
    resources   (_chat.py)        chat.completions (parse in _chat_parse.py)
                (_resources.py)   completions, embeddings, models
                (_responses.py)   responses
    REST        (_rest.py)        requests, sessions, users: built on first use

A request's walk from ``create()`` to the socket and back: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from ._chat import Chat
from ._exceptions import HeliconeError, InvalidInputError
from ._header_values import check_headers, check_secret
from ._helicone import HeliconeOptions
from ._resources import Completions, Embeddings, Models
from ._rest_url import resolve_rest_base_url
from ._retry import RetryPolicy
from ._routing import Router
from ._secrets import register as register_secrets
from ._send import OnRetry, Sender, check_retries
from ._timeouts import StreamTimeouts, TimeoutArg
from ._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Transport,
    check_url,
    default_timeout,
    make_timeout,
)

if TYPE_CHECKING:
    import httpx2

    from ._fallback_policy import Attempt, FallbackMode, FallbackPolicy
    from ._responses import Responses
    from ._rest import Requests, RestConnection, Sessions, Users

__all__ = ["DEFAULT_BASE_URL", "AsyncHelicone"]

DEFAULT_BASE_URL = "https://ai-gateway.helicone.ai/v1"


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
        transport: an ``httpx2.AsyncBaseTransport`` for the pool we create, which the
            client owns and closes: ``httpx2.ASGITransport(app=...)`` to test against an
            app in process (``aiohelicone.testing.fake_client`` does), or
            ``httpx2.MockTransport``. Not together with ``http_client``.
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
        on_retry: called before each retry as ``on_retry(error, retry, wait)``: the
            :class:`APIError` that caused it, the retry's number (1 for the first) and
            the seconds about to be waited (a plain function; an exception from it is
            logged and ignored). Retries are also logged at DEBUG on the ``aiohelicone``
            logger.
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
        TypeError: ``http_client`` is not an ``httpx2.AsyncClient``, ``transport`` was given
            with it, or another argument has the wrong type.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        limits: httpx2.Limits | None = None,
        default_headers: Mapping[str, str] | None = None,
        helicone: HeliconeOptions | None = None,
        provider_api_key: str | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy = "client",
        fallback_deadline: float | None = None,
        on_attempt: Callable[[Attempt], object] | None = None,
        on_retry: OnRetry | None = None,
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
        # Masked in every error built from now on (see _secrets.py), while this client (and
        # its sender, which adds the posthog keys calls bring) lives.
        secrets = (api_key, provider_api_key, helicone.posthog_key if helicone else None)
        register_secrets(self, secrets)
        policy = retry_policy or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=check_retries(max_retries))
        if stream_timeouts is not None and not isinstance(stream_timeouts, StreamTimeouts):
            raise TypeError("stream_timeouts must be a StreamTimeouts")
        if on_retry is not None and not callable(on_retry):
            raise TypeError("on_retry must be a callable taking (error, retry, wait)")
        self._legacy_auth = provider_api_key is not None
        if provider_api_key is not None:
            auth = {
                "helicone-auth": f"Bearer {api_key}",
                "authorization": f"Bearer {provider_api_key}",
            }
        else:
            auth = {"authorization": f"Bearer {api_key}"}
        transport_ = Transport(
            base_url=base_url,
            auth_headers=auth,
            default_headers=default_headers,
            timeout=default_timeout() if timeout == "default" else make_timeout(timeout),
            limits=limits,
            http_client=http_client,
            transport=transport,
            max_response_bytes=_check_max_bytes(max_response_bytes),
        )
        self._transport = transport_
        self._sender = Sender(
            transport_,
            retry=policy,
            helicone=helicone,
            stream_timeouts=stream_timeouts,
            on_retry=on_retry,
            secrets=secrets,
        )
        router = Router(self._sender, fallback, fallback_deadline, on_attempt)
        self.chat = Chat(self._sender, router, legacy_proxy=self._legacy_auth)
        self.completions = Completions(self._sender, router)
        self.embeddings = Embeddings(self._sender, router)
        self.models = Models(self._sender, router, rest=self._rest_connection)
        # client.responses is built on first use, so that `import aiohelicone` does not
        # load the Responses models and events.
        self._router = router
        self._responses: Responses | None = None
        # The REST resources (client.requests, .sessions, .users) are built on first use, so
        # that a client that only calls the gateway never imports them (see _rest.py).
        self._rest_config = (api_key, rest_url, default_headers)
        self._rest: RestConnection | None = None
        self._rest_resources: tuple[Requests, Sessions, Users] | None = None

    @property
    def responses(self) -> Responses:
        """The Responses API (``POST /v1/responses``): ``client.responses.create(...)``."""
        resources = self._responses
        if resources is None:
            from ._responses import Responses

            resources = self._responses = Responses(self._sender, self._router)
        return resources

    # -- REST resources (built on first use) -----------------------------------------------

    def _rest_connection(self) -> RestConnection:
        rest = self._rest
        if rest is None:
            from ._rest_connection import RestConnection

            api_key, rest_url, default_headers = self._rest_config
            rest = self._rest = RestConnection(self._sender, api_key, rest_url, default_headers)
        return rest

    def _rest_api(self) -> tuple[Requests, Sessions, Users]:
        resources = self._rest_resources
        if resources is None:
            from ._rest import Requests, Sessions, Users

            rest = self._rest_connection()
            resources = self._rest_resources = (Requests(rest), Sessions(rest), Users(rest))
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
        return self._sender.retry_policy

    @property
    def helicone(self) -> HeliconeOptions | None:
        """The default Helicone options of this client."""
        return self._sender.helicone

    def __repr__(self) -> str:
        auth = "legacy-proxy" if self._legacy_auth else "gateway"
        return f"<AsyncHelicone base_url={self.base_url!r} auth={auth} api_key=<hidden>>"


def _check_max_bytes(value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidInputError(
            "max_response_bytes", f"must be a positive int or None, got {value!r}"
        )
    return value
