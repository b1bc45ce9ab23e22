"""Stream Helicone answers to a browser from a Starlette app (asyncio, served by hypercorn).

Run it with no key and no network, on the embedded fake gateway, then open the page::

    pip install aiohelicone starlette hypercorn
    python examples/web_starlette.py --fake --port 8000
    # browse to http://127.0.0.1:8000/  or:  curl -N 'http://127.0.0.1:8000/chat/stream?message=hi'

Against the real gateway, give a key instead of ``--fake``::

    HELICONE_API_KEY=sk-helicone-... python examples/web_starlette.py --port 8000

What it shows:

- One ``AsyncHelicone`` for the app's lifespan: created at startup, closed (``aclose``) at
  shutdown. Never one per request: each client is a connection pool.
- ``GET /`` a page with a text box that streams the answer from ``/chat/stream``.
- ``POST /chat`` with ``{"message": ...}`` answers ``{"answer": ..., "request_id": ...}``.
- ``GET|POST /chat/stream`` relays the answer as server-sent events: one ``data:`` event per
  text delta (``{"text": ...}``), then ``event: done``.
- Each call is tagged for Helicone with the user (``X-User-Id`` header or ``?user=``), the
  session (``X-Session-Id`` or ``?session=``) and a ``route`` property.
- aiohelicone errors become HTTP answers: rate limited -> 429 with ``Retry-After`` passed on;
  a gateway error status -> 502 naming it; unreachable -> 502; timeout -> 504; bad input ->
  400. Once a stream has started, an ``event: error`` is sent instead.
- A browser that goes away cancels the upstream stream at once, so no tokens are generated
  (and billed) for nobody: Starlette cancels the response on ``http.disconnect`` and the
  upstream ``AsyncStream`` is closed by ``async with`` (and by a background task, in case the
  cancellation arrived before the generator started).

Configuration: ``HELICONE_API_KEY``, ``HELICONE_BASE_URL``, ``HELICONE_MODEL`` and
``AIOHELICONE_FAKE=1`` (same as ``--fake``); pool limits with ``--max-connections`` and
``--max-keepalive``; ``--help`` lists the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx2
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiohelicone import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncHelicone,
    ChatCompletionStream,
    HeliconeError,
    HeliconeOptions,
    InvalidInputError,
    RateLimitError,
    RateLimitPolicy,
    RetryPolicy,
)

log = logging.getLogger("web_starlette")

MAX_MESSAGE_CHARS = 4000
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


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


# -- from a browser request to a Helicone call --------------------------------------------


def helicone_options(request: Request, route: str) -> HeliconeOptions:
    """Tag one call with who asked, in which session, and on which route.

    A real app takes the user from its own authentication, not from a header the browser
    chooses; this example trusts ``X-User-Id`` to stay short.

    Args:
        request: the browser's request.
        route: the app route, sent as the ``route`` property.

    Returns:
        Per-call options, merged by the client over its defaults.

    Raises:
        InvalidInputError: a user or session id that cannot be a header (non-ASCII, say).
    """
    headers, query = request.headers, request.query_params
    return HeliconeOptions(
        user_id=headers.get("x-user-id") or query.get("user") or None,
        session_id=headers.get("x-session-id") or query.get("session") or None,
        properties={"route": route},
    )


async def read_message(request: Request) -> str:
    """The user's message: ``?message=`` on GET, ``{"message": ...}`` on POST.

    Args:
        request: the browser's request.

    Returns:
        The message text.

    Raises:
        InvalidInputError: no message, not a string, empty or too long.
    """
    if request.method == "POST":
        try:
            data = json.loads(await request.body())
        except ValueError:
            raise InvalidInputError("body", 'must be JSON like {"message": "..."}') from None
        message = data.get("message") if isinstance(data, dict) else None
    else:
        message = request.query_params.get("message")
    if not isinstance(message, str) or not message.strip():
        raise InvalidInputError("message", "must be a non-empty string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInputError("message", f"must be at most {MAX_MESSAGE_CHARS} characters")
    return message


def error_answer(exc: HeliconeError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The HTTP status, headers and JSON body that tell the browser what went wrong.

    The browser gets a short message, the upstream status and the Helicone request id (to
    find the request in Helicone); the full error goes to the server log.

    Args:
        exc: the error a call raised.

    Returns:
        ``(status, headers, body)``.
    """
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidInputError):
        status, kind, message = 400, "invalid_input", str(exc)
    elif isinstance(exc, RateLimitError) and exc.reason != "insufficient_credits":
        status, kind, message = 429, "rate_limited", "Too many requests; try again later."
        if exc.retry_after is not None:
            headers["retry-after"] = str(math.ceil(exc.retry_after))
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


def error_response(exc: HeliconeError) -> JSONResponse:
    """:func:`error_answer` as a Starlette response."""
    status, headers, body = error_answer(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def sse(data: Mapping[str, Any], event: str | None = None) -> bytes:
    """One server-sent event. JSON keeps newlines of the text out of the SSE framing."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def sse_events(stream: ChatCompletionStream) -> AsyncIterator[bytes]:
    """Relay a chat stream as server-sent events: text deltas, then ``done`` or ``error``."""
    async with stream:  # closes the upstream stream however this ends, cancellation included
        try:
            async for text in stream.text_deltas():
                yield sse({"text": text})
            choices = stream.accumulated.choices
            finish = choices[0].finish_reason if choices else None
            yield sse({"finish_reason": finish, "request_id": stream.request_id}, event="done")
        except HeliconeError as exc:
            # The status line is long gone: report the error inside the stream.
            status, _, body = error_answer(exc)
            yield sse({"status": status, **body}, event="error")


# -- the routes ---------------------------------------------------------------------------


async def index(request: Request) -> HTMLResponse:
    """``GET /``: the page."""
    return HTMLResponse(PAGE)


async def chat(request: Request) -> Response:
    """``POST /chat``: one answer as JSON."""
    client: AsyncHelicone = request.app.state.helicone
    try:
        message = await read_message(request)
        completion = await client.chat.completions.create(
            model=request.app.state.settings.model,
            messages=[{"role": "user", "content": message}],
            helicone=helicone_options(request, "/chat"),
        )
    except HeliconeError as exc:
        return error_response(exc)
    meta = completion.helicone
    return JSONResponse(
        {
            "answer": completion.choices[0].message.content if completion.choices else "",
            "request_id": meta.request_id if meta else None,
        }
    )


async def chat_stream(request: Request) -> Response:
    """``GET|POST /chat/stream``: the answer as server-sent events."""
    client: AsyncHelicone = request.app.state.helicone
    try:
        message = await read_message(request)
        # Opened before the response starts, so that errors up to the first byte (429,
        # bad key, unreachable) are still real HTTP statuses.
        stream = await client.chat.completions.create(
            model=request.app.state.settings.model,
            messages=[{"role": "user", "content": message}],
            stream=True,
            helicone=helicone_options(request, "/chat/stream"),
        )
    except HeliconeError as exc:
        return error_response(exc)
    return StreamingResponse(
        sse_events(stream),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        # Runs after a disconnect too: closes the upstream stream even when the browser left
        # before the generator started (aclose is idempotent).
        background=BackgroundTask(stream.aclose),
    )


def create_app(settings: Settings) -> Starlette:
    """The Starlette app; its lifespan owns the one ``AsyncHelicone`` (``app.state.helicone``).

    Args:
        settings: how to reach the gateway.

    Returns:
        The ASGI app.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_helicone(settings) as client:
            app.state.helicone = client
            yield

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/chat", chat, methods=["POST"]),
            Route("/chat/stream", chat_stream, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>aiohelicone chat</title>
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


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the app with hypercorn's asyncio worker until Ctrl-C.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description="Stream Helicone answers to a browser.")
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
    # hypercorn handles Ctrl-C: it stops accepting, then runs the lifespan's shutdown,
    # which closes the client before the event loop goes away.
    # hypercorn types ASGI scopes as TypedDicts, Starlette as mappings: both are ASGI 3.
    asyncio.run(serve(create_app(settings), config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
