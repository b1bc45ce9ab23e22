"""Layer 8 (test kit): a tiny HTTP/1.1 server for ASGI apps on anyio, for loopback tests.

Enough of HTTP/1.1 to serve the fake gateway to httpx2, openai-python or curl: request
bodies by ``Content-Length`` or chunked; keep-alive; answers with ``Content-Length`` when
the app sends the body in one message, else ``Transfer-Encoding: chunked`` with every ASGI
body message written to the socket at once (streams arrive as they are sent); an
``http.disconnect`` for the app as soon as the client goes away; and the
``"aiohelicone.abort"`` extension, which closes the socket with a reset (``SO_LINGER`` 0).

Limits, as users run it in CI next to other programs (all set through :func:`serve`): the
request head must arrive within ``header_timeout`` (10 s; a client that sent part of it gets
408, an idle keep-alive connection is just closed) and be at most ``max_header_size`` bytes
(64 KiB, counted exactly, 431); a body over ``max_body_size`` (32 MiB) gets 413 before it is
read. Request framing follows RFC 9112 §6.3 strictly: ``Content-Length`` is digits only,
duplicates must agree, and ``Transfer-Encoding`` with ``Content-Length`` is refused (400).
Refusals close the connection. The framing rules are in ``_http11`` (pure); this module
is the serving loop: sockets, keep-alive, the ASGI exchange.

Not a production server: no TLS, no pipelining guarantees, no HTTP/2, no websockets.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from urllib.parse import unquote

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

from ._emit import ABORT_EXTENSION, Message, Receive, Scope, Send
from ._http11 import HEXDIGITS, _BadRequest, _body_length, _parse_head, _reason, _RequestHead

__all__ = ["LoopbackServer", "serve"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_HEADER_SIZE = 64 * 1024
DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024
# After refusing a request, how long unread request bytes are drained before closing.
_LINGER = 2.0
_NETWORK_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


class ClientDisconnected(OSError):
    """Raised by ``send`` when the client has gone away (ASGI asks for an OSError)."""


class LoopbackServer:
    """A running loopback server, as yielded by :func:`serve`.

    Attributes:
        host: the bound address.
        port: the bound port.
        connections_open: TCP connections open right now.
        connections_total: TCP connections accepted since start.
        errors: exceptions the app raised (the server answered 500 or dropped the
            connection); tests can assert it stays empty.
        header_timeout, max_header_size, max_body_size: the limits given to :func:`serve`.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        header_timeout: float | None = DEFAULT_HEADER_TIMEOUT,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.connections_open = 0
        self.connections_total = 0
        self.errors: list[BaseException] = []
        self._app = app

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"<LoopbackServer {self.url} open={self.connections_open}>"

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections_open += 1
        self.connections_total += 1
        try:
            await _Connection(self, stream).run()
        except _NETWORK_ERRORS:
            pass
        except Exception as exc:  # an app bug must not take the server down
            self.errors.append(exc)
        finally:
            self.connections_open -= 1
            with anyio.CancelScope(shield=True):
                await stream.aclose()


@asynccontextmanager
async def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    header_timeout: float | None = DEFAULT_HEADER_TIMEOUT,
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> AsyncIterator[LoopbackServer]:
    """Serve an ASGI app over HTTP/1.1 on a loopback port for the duration of the block.

    Works on asyncio and trio. On exit every connection is closed and every app task
    cancelled.

    Args:
        app: the ASGI 3 app (e.g. a :class:`FakeGateway`).
        host: the address to bind.
        port: the port; 0 picks a free one.
        header_timeout: seconds a request head (request line and headers) may take to
            arrive, counted from the connection or the previous answer; a client that sent
            part of it gets 408, an idle one is closed. None: no deadline.
        max_header_size: the most bytes a request head may have, final blank line
            included (larger: 431).
        max_body_size: the most bytes a request body may have (larger: 413, answered
            before the body is read when ``Content-Length`` declares it).

    Returns:
        An async context manager yielding the :class:`LoopbackServer` (see its ``url``).

    Raises:
        ValueError: a limit is not positive.
        OSError: the address could not be bound.
    """
    if header_timeout is not None and not header_timeout > 0:
        raise ValueError(f"header_timeout must be > 0 or None, got {header_timeout!r}")
    for name, limit in (("max_header_size", max_header_size), ("max_body_size", max_body_size)):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"{name} must be a positive int, got {limit!r}")
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    error: Exception | None = None
    async with listener:
        server = LoopbackServer(
            app,
            host,
            listener.extra(SocketAttribute.local_port),
            header_timeout=header_timeout,
            max_header_size=max_header_size,
            max_body_size=max_body_size,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, server._handle)
            try:
                yield server
            except Exception as exc:
                # Re-raised below, outside the task group, so that the caller gets its own
                # exception (an assertion, say) rather than an ExceptionGroup around it.
                error = exc
            finally:
                tg.cancel_scope.cancel()
    if error is not None:
        raise error


class _Connection:
    """One TCP connection: a loop of request, app call, response."""

    def __init__(self, server: LoopbackServer, stream: anyio.abc.SocketStream) -> None:
        self._server = server
        self._stream = stream
        self._buffer = bytearray()
        self._peer_gone = False
        self._aborted = False

    async def run(self) -> None:
        while not self._peer_gone and not self._aborted:
            try:
                with anyio.move_on_after(self._server.header_timeout) as deadline:
                    head = await self._read_head()
                if deadline.cancelled_caught:
                    # Slowloris: a head that never completes holds the connection. An idle
                    # keep-alive connection is closed without an answer (a 408 there could
                    # be read as the answer to the client's next request).
                    if self._buffer:
                        raise _BadRequest(408, "request header timeout")
                    return
                if head is None:
                    return
                body = await self._read_body(head)
            except _BadRequest as exc:
                await self._simple(exc.status, str(exc))
                await self._linger()
                return
            keep_alive = await self._respond(head, body)
            if not keep_alive:
                return

    # -- reading ----------------------------------------------------------------------------

    async def _fill(self) -> bool:
        try:
            data = await self._stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            self._peer_gone = True
            return False
        self._buffer += data
        return True

    async def _read_head(self) -> _RequestHead | None:
        limit = self._server.max_header_size
        searched = 0  # where the blank line can start that earlier searches did not see
        while True:
            end = self._buffer.find(b"\r\n\r\n", searched)
            if end >= 0 and end + 4 <= limit:
                data = bytes(self._buffer[:end])
                del self._buffer[: end + 4]
                return _parse_head(data)
            # The head (blank line included) would be over the limit: no blank line ends
            # within the first ``limit`` bytes. Counted exactly, however the bytes arrive.
            if end >= 0 or len(self._buffer) >= limit:
                raise _BadRequest(431, "request header fields too large")
            searched = max(0, len(self._buffer) - 3)
            if not await self._fill():
                return None

    async def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not await self._fill():
                raise anyio.EndOfStream
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > self._server.max_header_size:
                raise _BadRequest(400, "chunk line too long")
            if not await self._fill():
                raise anyio.EndOfStream
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    async def _read_body(self, head: _RequestHead) -> bytes:
        # Framing first: a refused body is refused before "100 Continue" invites it.
        size = _body_length(head, self._server.max_body_size)
        if (head.header(b"expect") or b"").lower() == b"100-continue":
            await self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if size is None:
            return await self._read_chunked()
        return await self._read_exactly(size)

    async def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        limit = self._server.max_body_size
        while True:
            # chunk-size = 1*HEXDIG, then optional extensions after BWS ";" (RFC 9112 §7.1).
            size_text = (await self._read_line()).split(b";", 1)[0].rstrip(b" \t")
            if not HEXDIGITS.fullmatch(size_text):
                raise _BadRequest(400, "invalid chunk size")
            size = int(size_text, 16)
            if size == 0:
                trailers = 0
                while line := await self._read_line():  # trailers, up to the blank line
                    trailers += len(line) + 2
                    if trailers > self._server.max_header_size:
                        raise _BadRequest(431, "request trailer fields too large")
                return b"".join(parts)
            total += size
            if total > limit:
                raise _BadRequest(413, f"request body over {limit} bytes")
            parts.append(await self._read_exactly(size))
            if await self._read_line():
                raise _BadRequest(400, "missing CRLF after chunk")

    # -- one exchange -----------------------------------------------------------------------

    async def _respond(self, head: _RequestHead, body: bytes) -> bool:
        exchange = _Exchange(self, head, body)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_peer, exchange)
            try:
                await self._server._app(exchange.scope(), exchange.receive, exchange.send)
            except Exception as exc:
                self._server.errors.append(exc)
                if not exchange.head_sent and not self._aborted and not self._peer_gone:
                    await self._simple(500, "Internal Server Error")
                exchange.keep_alive = False
            tg.cancel_scope.cancel()
        if not exchange.complete:
            return False
        return exchange.keep_alive and not self._peer_gone and not self._aborted

    async def _watch_peer(self, exchange: _Exchange) -> None:
        # Reading while the app runs is how a departed client is noticed; bytes that do
        # arrive (a pipelined request) are kept for the next exchange.
        try:
            while await self._fill():
                pass
        except _NETWORK_ERRORS:
            self._peer_gone = True
        exchange.disconnected.set()

    async def _write(self, data: bytes) -> None:
        try:
            await self._stream.send(data)
        except _NETWORK_ERRORS as exc:
            self._peer_gone = True
            raise ClientDisconnected("the client closed the connection") from exc

    async def _simple(self, status: int, text: str) -> None:
        body = text.encode()
        head = (
            f"HTTP/1.1 {status} {_reason(status)}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        with suppress(ClientDisconnected):
            await self._write(head.encode() + body)

    async def _linger(self) -> None:
        # Closing with unread request bytes makes the kernel send a reset, which can destroy
        # the refusal before the client reads it (RFC 9112 §9.6): half-close, then discard
        # whatever still arrives, for a moment.
        with suppress(*_NETWORK_ERRORS), anyio.move_on_after(_LINGER):
            await self._stream.send_eof()
            while True:
                await self._stream.receive()

    async def abort(self) -> None:
        """Close the socket with a reset rather than a FIN."""
        self._aborted = True
        raw = self._stream.extra(SocketAttribute.raw_socket, None)
        if raw is not None:
            with suppress(OSError):
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()


class _Exchange:
    """The ASGI side of one request: ``scope``, ``receive`` and ``send``."""

    def __init__(self, conn: _Connection, head: _RequestHead, body: bytes) -> None:
        self._conn = conn
        self._head = head
        self._body: bytes | None = body
        self.disconnected = anyio.Event()
        self.head_sent = False
        self.complete = False
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunked = False
        self._started = False
        connection = (head.header(b"connection") or b"").lower()
        if head.version == "HTTP/1.0":
            self.keep_alive = connection == b"keep-alive"
        else:
            self.keep_alive = connection != b"close"

    def scope(self) -> Scope:
        path, _, query = self._head.target.partition("?")
        stream = self._conn._stream
        server = self._conn._server
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": self._head.version[5:],
            "method": self._head.method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": list(self._head.headers),
            "client": stream.extra(SocketAttribute.remote_address, None),
            "server": (server.host, server.port),
            "extensions": {ABORT_EXTENSION: {}},
            "state": {},
        }

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == ABORT_EXTENSION:
            self.keep_alive = False
            await self._conn.abort()
            self.disconnected.set()
            return
        if self._conn._aborted or self._conn._peer_gone:
            raise ClientDisconnected("the client closed the connection")
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("http.response.start sent twice")
            self._started = True
            self._status = int(message["status"])
            self._headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", [])]
        elif kind == "http.response.body":
            if not self._started or self.complete:
                raise RuntimeError("http.response.body out of order")
            await self._send_body(bytes(message.get("body", b"")), message.get("more_body", False))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")

    async def _send_body(self, body: bytes, more: bool) -> None:
        head_only = self._head.method == "HEAD"
        out = b""
        if not self.head_sent:
            out = self._head_bytes(len(body) if not more else None)
            self.head_sent = True
        if head_only:
            body = b""
        if self._chunked:
            if body:
                out += f"{len(body):x}\r\n".encode() + body + b"\r\n"
            if not more and not head_only:
                out += b"0\r\n\r\n"
        else:
            out += body
        if not more:
            self.complete = True
        if out:
            await self._conn._write(out)
        if not more:
            self.disconnected.set()

    def _head_bytes(self, length: int | None) -> bytes:
        names = {k for k, _ in self._headers}
        headers = list(self._headers)
        if b"content-length" not in names:
            if length is None and self._head.version == "HTTP/1.0":
                self.keep_alive = False  # no chunked coding in 1.0: the close ends the body
            elif length is None:
                self._chunked = True
                headers = [h for h in headers if h[0] != b"transfer-encoding"]
                headers.append((b"transfer-encoding", b"chunked"))
            else:
                headers.append((b"content-length", str(length).encode()))
        if not self.keep_alive:
            headers.append((b"connection", b"close"))
        lines = [f"HTTP/1.1 {self._status} {_reason(self._status)}".encode()]
        lines.extend(k + b": " + v for k, v in headers)
        return b"\r\n".join(lines) + b"\r\n\r\n"
