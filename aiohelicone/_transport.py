"""Layer 1 (transport): owns the ``httpx2.AsyncClient``; the one place httpx2 errors are mapped.

Everything that touches httpx2 lives here, so that:

- ``import aiohelicone`` does not import httpx2 (it is imported when a client is built);
- every httpx2 exception becomes an aiohelicone one at exactly one boundary
  (:func:`._transport_errors.map_transport_error`, used by this module and by
  ``_stream_response.py``, the open answer's body reader), chained ``from`` the original;
- auth headers are added per request, so a caller-supplied client is used as it is;
- every answer body is read raw and decoded here, by ``_decoders.py``, on every path
  (one request, stream, REST, our own pool or a caller's client): httpx2's own decoding
  never runs. It would ignore a truncated gzip body, drop all but the first gzip member,
  let a coding it cannot decode through as binary "content", and raise ``DecodingError``,
  an ``httpx2.HTTPError`` that would read as a retryable connection error. Requests
  advertise exactly what ``_decoders`` can decode; streams ask for ``identity`` (a
  compressing hop may hold tokens back to fill its blocks) but are decoded all the same
  when a proxy compresses them anyway.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._exceptions import (
    APIConnectionError,
    InvalidInputError,
)
from ._stream_response import StreamingResponse as StreamingResponse
from ._timeouts import TimeoutArg as TimeoutArg
from ._transport_errors import map_transport_error as map_transport_error
from ._version import __version__

if TYPE_CHECKING:
    import httpx2


__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_WRITE_TIMEOUT",
    "Outgoing",
    "RawResponse",
    "StreamingResponse",
    "Transport",
    "TimeoutArg",
    "check_url",
    "map_transport_error",
    "plain_headers",
]

#: Defaults fit for LLM calls: a slow model may think for a long time before its first byte,
#: but ten minutes (openai-python's default) hides dead connections far too long.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 120.0
DEFAULT_WRITE_TIMEOUT = 30.0
DEFAULT_POOL_TIMEOUT = 30.0

#: The most of one answer a client reads (decoded bytes), unless ``max_response_bytes`` says
#: otherwise: well above the largest legitimate answer (2048 embeddings of 3072 floats,
#: pretty-printed, are about 140 MB), and a bound on what a broken or hostile server can
#: make the client buffer.
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024

_USER_AGENT = "aiohelicone/{} python/{}.{}.{}".format(__version__, *sys.version_info[:3])


class Outgoing(Protocol):
    """A prepared request, as :class:`Transport` sends it (``_send.Call`` is one).

    ``timeout`` is the one to use in both modes: for a stream request the send path has
    already put the stream's idle budget in its read timeout.
    """

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def content(self) -> bytes | None: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def params(self) -> Mapping[str, Any] | None: ...
    @property
    def timeout(self) -> httpx2.Timeout | None: ...
    @property
    def request_id(self) -> str | None: ...


@attrs.frozen
class RawResponse:
    """A complete answer: status, headers (names lower-case, see ``plain_headers``), body."""

    status_code: int
    headers: dict[str, str]
    content: bytes


_MAX_CACHED_URLS = 32
_STREAM_HEADERS = {"accept": "text/event-stream", "accept-encoding": "identity"}


def _request_headers(call: Outgoing, stream: bool) -> dict[str, str]:
    """What a request adds to the pool's headers: body and stream headers, then the call's."""
    headers: dict[str, str] = {}
    if call.content is not None:
        headers["content-type"] = "application/json"
    if stream:
        headers.update(_STREAM_HEADERS)
    headers.update(call.headers)
    return headers


def plain_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Response headers as a plain dict: lower-case names, repeated ones joined with ", ".

    One pass over the raw bytes: an ``httpx2.Headers`` lookup works out its encoding again on
    every access, which showed up in the per-request profile. Header bytes are decoded as
    latin-1, which maps every byte (what HTTP allows beyond ASCII is opaque anyway).
    """
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = headers.get(key)
        headers[key] = text if previous is None else f"{previous}, {text}"
    return headers


def check_url(field: str, url: str) -> None:
    """Refuse a base URL httpx2 would reject later, on the first request, with a raw error.

    Raises:
        InvalidInputError: not http(s), not parseable (``http://[::1/v1``), no host, or a
            port outside 1-65535 (asyncio would fail the connect with an ``OverflowError``
            inside an exception group).
    """
    import httpx2

    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInputError(field, f"must be an http(s) URL, got {url!r}")
    try:
        parsed = httpx2.URL(url)
        port = parsed.port
    except (httpx2.InvalidURL, ValueError) as exc:
        raise InvalidInputError(field, f"is not a valid URL: {exc}") from None
    if not parsed.host:
        raise InvalidInputError(field, f"has no host: {url!r}")
    if port is not None and not 0 < port < 65536:
        raise InvalidInputError(field, f"port {port} is outside 1-65535")


def make_timeout(value: Any) -> httpx2.Timeout:
    """Turn a timeout argument into an ``httpx2.Timeout``; None means no timeout at all."""
    import httpx2

    if isinstance(value, httpx2.Timeout):
        return value
    if value is None:
        return httpx2.Timeout(None)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise TypeError(
            f"timeout must be a positive number of seconds, an httpx2.Timeout or None, "
            f"got {value!r}"
        )
    return httpx2.Timeout(float(value))


def default_timeout() -> httpx2.Timeout:
    """The client's default timeouts (see the module constants)."""
    import httpx2

    return httpx2.Timeout(
        connect=DEFAULT_CONNECT_TIMEOUT,
        read=DEFAULT_READ_TIMEOUT,
        write=DEFAULT_WRITE_TIMEOUT,
        pool=DEFAULT_POOL_TIMEOUT,
    )


class Transport:
    """Sends requests over one pooled ``httpx2.AsyncClient``.

    Args:
        base_url: prefix of every request path (no trailing slash needed).
        auth_headers: headers that authenticate every request (never logged or shown).
        default_headers: headers added to every request.
        timeout: the default timeouts.
        limits: pool limits for a client we create.
        http_client: a caller's client, used as it is and never closed by us.
        max_response_bytes: the most of one answer :meth:`request` reads (None: no cap).
        transport: an ``httpx2.AsyncBaseTransport`` for the client we create (which we own
            and close), e.g. ``httpx2.ASGITransport`` for in-process tests.

    Raises:
        TypeError: a wrong type, or both ``http_client`` and ``transport``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth_headers: Mapping[str, str],
        default_headers: Mapping[str, str] | None,
        timeout: httpx2.Timeout,
        limits: httpx2.Limits | None,
        http_client: httpx2.AsyncClient | None,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        import httpx2

        if transport is not None:
            if http_client is not None:
                raise TypeError("pass http_client or transport, not both")
            if not isinstance(transport, httpx2.AsyncBaseTransport):
                raise TypeError(
                    f"transport must be an httpx2.AsyncBaseTransport, got "
                    f"{type(transport).__name__}"
                )

        if http_client is not None and not isinstance(http_client, httpx2.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx2.AsyncClient, got {type(http_client).__name__}"
            )
        if limits is not None and not isinstance(limits, httpx2.Limits):
            raise TypeError(f"limits must be an httpx2.Limits, got {type(limits).__name__}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        from ._decoders import accept_encoding

        self.max_response_bytes = max_response_bytes
        headers: dict[str, str] = {
            "accept": "application/json",
            # Exactly what _decoders can undo (httpx2's default names what httpx2 decodes).
            "accept-encoding": accept_encoding(),
            "user-agent": _USER_AGENT,
            **{k.lower(): v for k, v in (default_headers or {}).items()},
        }
        auth = {k.lower(): v for k, v in auth_headers.items()}
        self._owns_client = http_client is None
        # Our own pool carries the fixed headers, so requests can be built directly for it.
        self._direct = http_client is None
        # Per-path URLs, parsed once (httpx2 parses a str URL on every request).
        self._urls: dict[str, httpx2.URL] = {}
        if http_client is None:
            # Our own pool carries the fixed headers itself, so a request adds only its own
            # (httpx2 merges per-request headers over the client's, one by one). The keys are
            # not among them: httpx2's Headers repr masks only Authorization, and the pool's
            # headers are public (client.http_client.headers), so they are added per request,
            # right after the pool's, where they used to sit: the bytes sent are the same.
            self._headers: dict[str, str] = auth
            self._auth_raw = [(k.encode("ascii"), v.encode("ascii")) for k, v in auth.items()]
            self._client = httpx2.AsyncClient(
                headers=headers,
                timeout=timeout,
                limits=limits or httpx2.Limits(max_connections=100, max_keepalive_connections=20),
                follow_redirects=False,
                transport=transport,
            )
        else:
            self._headers = {**headers, **auth}
            self._auth_raw = []
            self._client = http_client

    @property
    def http_client(self) -> httpx2.AsyncClient:
        """The underlying pooled client."""
        return self._client

    @property
    def closed(self) -> bool:
        """Whether the underlying client is closed."""
        return self._client.is_closed

    async def request(self, call: Outgoing) -> RawResponse:
        """Send a request and read the whole answer, decoded from its content coding.

        Raises:
            APITimeoutError: a connect, read, write or pool timeout fired.
            APIConnectionError: the connection failed or broke.
            APIResponseValidationError: the answer is larger than ``max_response_bytes``.
            ContentDecodingError: the body's content coding is unknown here, or corrupt.
        """
        response = await self._send(call, stream=False)
        content = await StreamingResponse(response, call.request_id).read(self.max_response_bytes)
        # One pass over httpx2's Headers (each lookup there re-decodes): a plain dict with
        # lower-case names, repeated headers joined with ", ".
        return RawResponse(response.status_code, plain_headers(response.headers.raw), content)

    async def open_stream(self, call: Outgoing) -> StreamingResponse:
        """Send a request and return once the headers arrived.

        The caller must close the returned response (``aclose``).
        """
        response = await self._send(call, stream=True)
        return StreamingResponse(response, call.request_id)

    async def _send(self, call: Outgoing, *, stream: bool) -> httpx2.Response:
        if self._client.is_closed:
            raise APIConnectionError("The client is closed; create a new AsyncHelicone.")
        request = self._direct_request(call, stream) if self._direct else None
        if request is None:
            request = self._built_request(call, stream)
        try:
            # Always an httpx2 stream: the body is read (and decoded) by StreamingResponse.
            return await self._client.send(request, stream=True)
        except Exception as exc:
            map_transport_error(exc, call.request_id)

    def _direct_request(self, call: Outgoing, stream: bool) -> httpx2.Request | None:
        """The request for our own pool, built without httpx2's per-request merging.

        ``build_request`` copies and merges the client's headers, re-parses the URL and
        re-encodes the body on every call; that was a tenth of a request's client CPU. Here
        the final header list is written directly (the client's headers, overridden by the
        call's), the URL is parsed once per path, and the body goes in as a ``ByteStream``.
        Returns None (use ``build_request``) when anything unusual is involved: query
        parameters (the call's, or defaults set on the pool's ``params``), cookies in the
        jar, request event hooks (which may read ``request.content``), or a header value
        that is not ASCII.

        What httpx2 does for a request, and how this path compares (each is tested in
        ``tests/test_transport_direct.py``):

        - ``build_request`` merging: headers, cookies, query parameters and the base URL
          are merged above; cookies and parameters by falling back to ``build_request``.
        - Timeouts: ``send`` puts the pool's timeout on a request that carries none, as it
          would for a built one.
        - Auth (``http_client.auth``, or credentials in the URL), redirects (never followed:
          the pool has ``follow_redirects=False``), the ``Set-Cookie`` of answers into the
          jar, response event hooks and the choice of a proxy for the URL all happen in
          ``send``, so both paths get them.
        - Proxies from the environment (``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``,
          ``trust_env``): httpx2 reads them once, when the pool is created, and ``send``
          picks the proxy per URL. Both paths therefore use the environment as it was
          when the client was built; later changes to it are not seen (as with httpx2).
        - Content decoding: deliberately ours on both paths (see the module docstring).
        - HTTP/2: deliberately not used by our own pool (HTTP/1.1 only, and h2 is not a
          dependency); pass an ``http_client`` built with ``http2=True`` for it, which
          takes the ``build_request`` path.
        """
        import httpx2

        client = self._client
        if call.params or client.params or client.cookies or client.event_hooks["request"]:
            return None
        url = self._urls.get(call.path)
        if url is None:
            url = httpx2.URL(f"{self.base_url}/{call.path}")
            if len(self._urls) < _MAX_CACHED_URLS:  # the gateway's few endpoints
                self._urls[call.path] = url
        content = call.content
        ours: list[tuple[bytes, bytes]] = [(b"host", url.netloc)]
        try:
            ours += [
                (k.encode("ascii"), v.encode("ascii"))
                for k, v in _request_headers(call, stream).items()
            ]
        except UnicodeEncodeError:
            return None
        taken = {name for name, _ in ours}
        headers = [item for item in client.headers.raw if item[0].lower() not in taken]
        headers += self._auth_raw
        headers += ours
        if content is not None:
            headers.append((b"content-length", str(len(content)).encode()))
        timeout = call.timeout
        return httpx2.Request(
            call.method,
            url,
            headers=headers,
            stream=httpx2.ByteStream(content or b""),
            extensions={} if timeout is None else {"timeout": timeout.as_dict()},
        )

    def _built_request(self, call: Outgoing, stream: bool) -> httpx2.Request:
        headers = {**self._headers, **_request_headers(call, stream)}
        timeout = call.timeout
        return self._client.build_request(
            call.method,
            f"{self.base_url}/{call.path}",
            content=call.content,
            headers=headers,
            params=call.params,
            timeout=timeout if timeout is not None else self.timeout,
        )

    async def aclose(self) -> None:
        """Close the pool if we own it (a caller's client is left open)."""
        if self._owns_client:
            await self._client.aclose()
