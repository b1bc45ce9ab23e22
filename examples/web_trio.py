"""Stream Helicone answers to a browser from a plain ASGI app on trio (hypercorn's trio worker).

No web framework: the ASGI protocol by hand, so you can see every step. Run it with no key and
no network, on the embedded fake gateway, then open the page::

    pip install aiohelicone hypercorn trio
    python examples/web_trio.py --fake --port 8000
    # browse to http://127.0.0.1:8000/  or:  curl -N 'http://127.0.0.1:8000/chat/stream?message=hi'

Against the real gateway, give a key instead of ``--fake``::

    HELICONE_API_KEY=sk-helicone-... python examples/web_trio.py --port 8000

The routes, settings and error answers are those of ``web_starlette.py``:

- ``GET /`` a page that streams an answer; ``POST /chat`` answers JSON; ``GET|POST
  /chat/stream`` relays the answer as server-sent events (``data:`` per text delta, then
  ``event: done``, or ``event: error`` once the stream has started).
- One ``AsyncHelicone`` owned by the ASGI lifespan (``ChatApp.helicone``), closed at shutdown.
- Each call tagged with the user (``X-User-Id``/``?user=``), the session
  (``X-Session-Id``/``?session=``) and a ``route`` property.
- 429 with ``Retry-After`` passed on; 502 naming the gateway's status; 502/504 when the
  gateway is unreachable or slow; 400 for bad input.
- A browser that goes away cancels the upstream call at once: each request runs in a trio
  nursery next to a task that waits for ``http.disconnect`` and cancels the nursery; the
  upstream ``AsyncStream`` is closed by its ``async with``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from aiohelicone import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncHelicone,
    HeliconeError,
    HeliconeOptions,
    InvalidInputError,
    RateLimitError,
    RateLimitPolicy,
    RetryPolicy,
)

log = logging.getLogger("web_trio")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4000
JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
ROUTES = {"/": ("GET", "HEAD"), "/chat": ("POST",), "/chat/stream": ("GET", "POST")}


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the app reaches the gateway; :meth:`from_env` reads the environment.

    Args:
        api_key: the Helicone key (``HELICONE_API_KEY``); not needed with ``fake``.
        base_url: the gateway URL (``HELICONE_BASE_URL``); None: the library's default.
        fake: start the embedded fake gateway in the lifespan (``AIOHELICONE_FAKE=1``).
        model: the model string sent with every call (``HELICONE_MODEL``).
        max_connections: the most upstream connections the app's pool opens.
        max_keepalive_connections: idle upstream connections kept for reuse.
        timeout: seconds allowed for connecting, and between two reads of an answer.
        pool_timeout: seconds a request may wait for a free pool connection.
        max_retries: retries of connection errors, 429 and 5xx before giving up.
        max_retry_after: the longest ``Retry-After`` worth waiting through inside a request;
            a longer one is passed on to the browser as a 429.
        rate_limit_policy: a Helicone rate-limit policy for every call, e.g. ``10;w=60;s=user``.
    """

    api_key: str | None = None
    base_url: str | None = None
    fake: bool = False
    model: str = "gpt-4o-mini"
    max_connections: int = 20
    max_keepalive_connections: int = 10
    timeout: float = 60.0
    pool_timeout: float = 30.0
    max_retries: int = 1
    max_retry_after: float = 2.0
    rate_limit_policy: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from ``HELICONE_*`` and ``AIOHELICONE_FAKE`` environment variables.

        Args:
            environ: the environment to read.

        Returns:
            The settings, with defaults for everything not set.
        """
        return cls(
            api_key=environ.get("HELICONE_API_KEY") or None,
            base_url=environ.get("HELICONE_BASE_URL") or None,
            fake=environ.get("AIOHELICONE_FAKE", "").lower() in ("1", "true", "yes"),
            model=environ.get("HELICONE_MODEL") or cls.model,
        )


@contextlib.asynccontextmanager
async def open_helicone(settings: Settings) -> AsyncIterator[AsyncHelicone]:
    """The app's one client; with ``settings.fake``, also the fake gateway it talks to.

    Args:
        settings: the app's settings.

    Returns:
        An async context manager yielding the client; leaving it closes the client (and
        then stops the fake gateway).

    Raises:
        HeliconeError: no API key (and not ``fake``).
        InvalidInputError: a bad base URL or rate-limit policy.
    """
    async with contextlib.AsyncExitStack() as stack:
        api_key, base_url = settings.api_key, settings.base_url
        if settings.fake:
            from aiohelicone.testing import FakeGateway, serve

            server = await stack.enter_async_context(serve(FakeGateway(stream_interval=0.05)))
            api_key, base_url = "sk-helicone-fake", f"{server.url}/v1"
            log.info("fake Helicone gateway on %s (no key, no network)", server.url)
        policy = settings.rate_limit_policy
        client = AsyncHelicone(
            api_key=api_key,
            base_url=base_url,
            limits=httpx2.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_keepalive_connections,
            ),
            timeout=httpx2.Timeout(settings.timeout, pool=settings.pool_timeout),
            retry_policy=RetryPolicy(
                max_retries=settings.max_retries, max_retry_after=settings.max_retry_after
            ),
            helicone=HeliconeOptions(rate_limit_policy=RateLimitPolicy.parse(policy))
            if policy
            else None,
        )
        yield await stack.enter_async_context(client)


# -- requests and answers, by hand ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    """What the app needs from one HTTP request.

    Args:
        method: the HTTP method.
        path: the path.
        headers: header names lower-cased (repeated headers: the last one).
        query: query parameters (repeated ones: the last one).
        body: the whole body.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes

    def message(self) -> str:
        """The user's message: ``?message=`` on GET, ``{"message": ...}`` on POST.

        Returns:
            The message text.

        Raises:
            InvalidInputError: no message, not a string, empty or too long.
        """
        if self.method == "POST":
            try:
                data = json.loads(self.body)
            except ValueError:
                raise InvalidInputError("body", 'must be JSON like {"message": "..."}') from None
            message = data.get("message") if isinstance(data, dict) else None
        else:
            message = self.query.get("message")
        if not isinstance(message, str) or not message.strip():
            raise InvalidInputError("message", "must be a non-empty string")
        if len(message) > MAX_MESSAGE_CHARS:
            raise InvalidInputError("message", f"must be at most {MAX_MESSAGE_CHARS} characters")
        return message

    def helicone_options(self) -> HeliconeOptions:
        """Tag the call with who asked, in which session, and on which route.

        A real app takes the user from its own authentication, not from a header the
        browser chooses; this example trusts ``X-User-Id`` to stay short.

        Returns:
            Per-call options, merged by the client over its defaults.

        Raises:
            InvalidInputError: a user or session id that cannot be a header (non-ASCII, say).
        """
        return HeliconeOptions(
            user_id=self.headers.get("x-user-id") or self.query.get("user") or None,
            session_id=self.headers.get("x-session-id") or self.query.get("session") or None,
            properties={"route": self.path},
        )


async def read_request(scope: Scope, receive: Receive) -> Request | None:
    """Read the request line, headers and whole body; None when the client left first.

    Raises:
        InvalidInputError: the body is larger than ``MAX_BODY_BYTES``.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidInputError("body", f"must be at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    headers = {
        bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1") for k, v in scope["headers"]
    }
    query = dict(parse_qsl(bytes(scope["query_string"]).decode("latin-1")))
    return Request(scope["method"], scope["path"], headers, query, b"".join(chunks))


def error_answer(exc: HeliconeError) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
    """The HTTP status, headers and JSON body that tell the browser what went wrong.

    The browser gets a short message, the upstream status and the Helicone request id (to
    find the request in Helicone); the full error goes to the server log.

    Args:
        exc: the error a call raised.

    Returns:
        ``(status, headers, body)``.
    """
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, InvalidInputError):
        status, kind, message = 400, "invalid_input", str(exc)
    elif isinstance(exc, RateLimitError) and exc.reason != "insufficient_credits":
        status, kind, message = 429, "rate_limited", "Too many requests; try again later."
        if exc.retry_after is not None:
            headers.append((b"retry-after", str(math.ceil(exc.retry_after)).encode()))
    elif isinstance(exc, APIStatusError):
        # Our gateway call failed (bad key, no credits, provider down): the browser's request
        # was fine, so this is a bad gateway, whatever 4xx/5xx the gateway answered.
        status, kind = 502, "upstream_error"
        message = f"The AI gateway answered {exc.status_code}."
    elif isinstance(exc, APITimeoutError):
        status, kind, message = 504, "upstream_timeout", "The AI gateway did not answer in time."
    elif isinstance(exc, APIConnectionError):
        # Refused, reset, or cut off mid-answer.
        status, kind = 502, "upstream_connection_error"
        message = "The connection to the AI gateway failed."
    else:  # a truncated stream, an answer of the wrong shape
        status, kind, message = 502, "upstream_error", "The AI gateway's answer was unusable."
    error: dict[str, Any] = {"type": kind, "message": message}
    if isinstance(exc, APIStatusError):
        error["upstream_status"] = exc.status_code
    request_id = getattr(exc, "request_id", None)
    if request_id:
        error["request_id"] = request_id
    if status >= 500 or status == 429:
        log.warning("gateway call failed: %s", exc)
    return status, headers, {"error": error}


async def send_whole(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    """Send a complete answer in one body message."""
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, data: object, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a JSON answer."""
    await send_whole(send, status, json.dumps(data).encode(), [JSON_TYPE, *headers])


async def send_error(send: Send, exc: HeliconeError) -> None:
    """Send the HTTP answer for an error (see :func:`error_answer`)."""
    status, headers, body = error_answer(exc)
    await send_json(send, status, body, headers)


def sse(data: Mapping[str, Any], event: str | None = None) -> bytes:
    """One server-sent event. JSON keeps newlines of the text out of the SSE framing."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    """Wait for ``http.disconnect`` (the browser went away), then cancel ``scope``."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


# -- the app --------------------------------------------------------------------------------


class ChatApp:
    """The ASGI app. Its lifespan owns the one :class:`AsyncHelicone` (:attr:`helicone`).

    Args:
        settings: how to reach the gateway.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: AsyncHelicone | None = None

    @property
    def helicone(self) -> AsyncHelicone:
        """The app's client.

        Raises:
            RuntimeError: outside the lifespan (before startup or after shutdown).
        """
        if self._client is None:
            raise RuntimeError("the app's lifespan is not running: no Helicone client")
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        async with contextlib.AsyncExitStack() as stack:
            try:
                self._client = await stack.enter_async_context(open_helicone(self.settings))
            except Exception as exc:  # e.g. no API key: hypercorn reports it and exits
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown: hypercorn has finished every request
            self._client = None
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path not in ROUTES:
            await send_json(send, 404, {"error": {"type": "not_found", "message": path}})
            return
        if method not in ROUTES[path]:
            allow = (b"allow", ", ".join(ROUTES[path]).encode())
            await send_json(send, 405, {"error": {"type": "method_not_allowed"}}, [allow])
            return
        if path == "/":
            await send_whole(send, 200, PAGE.encode(), [(b"content-type", b"text/html")])
            return
        try:
            request = await read_request(scope, receive)
        except InvalidInputError as exc:
            await send_error(send, exc)
            return
        if request is None:
            return
        handler = self._chat if path == "/chat" else self._chat_stream
        # The handler runs next to a watcher: a browser that leaves cancels it, and with it
        # the upstream call (its `async with` closes the connection to the gateway).
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_on_disconnect, receive, nursery.cancel_scope)
            await handler(request, send)
            nursery.cancel_scope.cancel()

    async def _chat(self, request: Request, send: Send) -> None:
        try:
            completion = await self.helicone.chat.completions.create(
                model=self.settings.model,
                messages=[{"role": "user", "content": request.message()}],
                helicone=request.helicone_options(),
            )
        except HeliconeError as exc:
            await send_error(send, exc)
            return
        meta = completion.helicone
        answer = completion.choices[0].message.content if completion.choices else ""
        request_id = meta.request_id if meta else None
        await send_json(send, 200, {"answer": answer, "request_id": request_id})

    async def _chat_stream(self, request: Request, send: Send) -> None:
        try:
            # Opened before the response starts, so that errors up to the first byte (429,
            # bad key, unreachable) are still real HTTP statuses.
            stream = await self.helicone.chat.completions.create(
                model=self.settings.model,
                messages=[{"role": "user", "content": request.message()}],
                stream=True,
                helicone=request.helicone_options(),
            )
        except HeliconeError as exc:
            await send_error(send, exc)
            return
        async with stream:  # closes the upstream stream however this ends
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            try:
                async for text in stream.text_deltas():
                    event = sse({"text": text})
                    await send({"type": "http.response.body", "body": event, "more_body": True})
                choices = stream.accumulated.choices
                done = {
                    "finish_reason": choices[0].finish_reason if choices else None,
                    "request_id": stream.request_id,
                }
                event = sse(done, event="done")
            except HeliconeError as exc:
                # The status line is long gone: report the error inside the stream.
                status, _, body = error_answer(exc)
                event = sse({"status": status, **body}, event="error")
            await send({"type": "http.response.body", "body": event})


PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>aiohelicone chat (trio)</title>
<style>body{font:16px system-ui;max-width:40em;margin:2em auto}#answer{white-space:pre-wrap}
input{width:30em}</style>
<h1>Ask</h1>
<form id="ask"><input id="message" value="Tell me about Helicone" autofocus>
<button>Send</button></form>
<p id="answer"></p><p id="status"></p>
<script>
const session = crypto.randomUUID();
const $ = (id) => document.getElementById(id);
$("ask").onsubmit = async (ev) => {
  ev.preventDefault();
  $("answer").textContent = ""; $("status").textContent = "...";
  const resp = await fetch("/chat/stream", {
    method: "POST",
    headers: {"content-type": "application/json", "x-user-id": "browser-demo",
              "x-session-id": session},
    body: JSON.stringify({message: $("message").value}),
  });
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({error: {}}));
    const wait = resp.headers.get("retry-after");
    $("status").textContent = `HTTP ${resp.status}: ${body.error.message || ""}` +
      (wait ? ` (retry after ${wait} s)` : "");
    return;
  }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      const payload = JSON.parse(data || "{}");
      if (event === "message") $("answer").textContent += payload.text;
      if (event === "done") $("status").textContent = `done (${payload.finish_reason})`;
      if (event === "error") $("status").textContent = `error: ${payload.error.message}`;
    }
  }
};
</script>
</html>
"""


async def until_signal() -> None:
    """Return on Ctrl-C or SIGTERM: hypercorn's cue for a graceful shutdown."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the app with hypercorn's trio worker until Ctrl-C.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description="Stream Helicone answers to a browser (trio).")
    parser.add_argument(
        "--fake", action="store_true", help="use the embedded fake gateway (no key, no network)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", help="model string (default: HELICONE_MODEL or gpt-4o-mini)")
    parser.add_argument("--max-connections", type=int, default=Settings.max_connections)
    parser.add_argument("--max-keepalive", type=int, default=Settings.max_keepalive_connections)
    parser.add_argument("--rate-limit-policy", help="Helicone policy per call, e.g. 10;w=60;s=user")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    settings = dataclasses.replace(
        settings,
        fake=args.fake or settings.fake,
        model=args.model or settings.model,
        max_connections=args.max_connections,
        max_keepalive_connections=args.max_keepalive,
        rate_limit_policy=args.rate_limit_policy,
    )
    if not settings.fake and not settings.api_key:
        parser.error("set HELICONE_API_KEY (and HELICONE_BASE_URL if needed), or pass --fake")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = "-"
    print(f"Open http://{args.host}:{args.port}/ in a browser (Ctrl-C stops).")
    # On Ctrl-C hypercorn stops accepting, lets requests finish, then runs the lifespan's
    # shutdown, which closes the client.
    app = ChatApp(settings)
    # hypercorn types ASGI scopes as TypedDicts, this app as plain mappings: both are ASGI 3.
    trio.run(partial(serve, app, config, shutdown_trigger=until_signal))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
