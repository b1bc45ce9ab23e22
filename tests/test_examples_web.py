"""The web-handler examples, served by hypercorn on loopback in front of the fake gateway.

Each test runs against both examples, each on the backend it is written for:
``examples/web_starlette.py`` under hypercorn's asyncio worker, ``examples/web_trio.py``
(plain ASGI, trio nurseries) under hypercorn's trio worker. The browser is an httpx2 client
(or a hand-written HTTP/1.1 one) over real sockets; the gateway is :class:`FakeGateway` served
by ``aiohelicone.testing.serve``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import attrs
import httpx2
import pytest
from hypercorn.config import Config

from aiohelicone import AsyncHelicone, HeliconeError
from aiohelicone.testing import (
    Delay,
    Fail,
    FakeGateway,
    InStreamError,
    InsufficientCredits,
    LoopbackServer,
    Outcome,
    RawResponse,
    Reply,
    SlowDrip,
    Stall,
    TruncatedStream,
    no_retry_waits,
    serve,
)

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKENDS = {"web_starlette": "asyncio", "web_trio": "trio"}
LONG_TEXT = " ".join(["word"] * 200)


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (not a package) once, as module ``<name>``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(
    params=[
        pytest.param("web_starlette", id="starlette-asyncio"),
        pytest.param("web_trio", id="plain-asgi-trio"),
    ]
)
def example(request: pytest.FixtureRequest) -> str:
    """Which example app a test runs against."""
    return str(request.param)


@pytest.fixture
def anyio_backend(example: str) -> str:
    """Each example on its own backend only, overriding conftest's both-backends fixture.

    The Starlette example is served by hypercorn's asyncio worker (its ``main()`` does so),
    so it runs on asyncio; the plain ASGI example cancels with trio nurseries and is served
    by hypercorn's trio worker, so it runs on trio.
    """
    return BACKENDS[example]


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


# -- running an example -----------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@attrs.define
class RunningApp:
    """An example app being served: its URL, the ASGI app and its Helicone client."""

    url: str
    port: int
    app: Any
    helicone: AsyncHelicone


def _client_of(app: Any) -> AsyncHelicone | None:
    if hasattr(app, "state"):  # Starlette
        client: AsyncHelicone | None = getattr(app.state, "helicone", None)
        return client
    try:
        found: AsyncHelicone = app.helicone
    except RuntimeError:
        return None
    return found


def settings_for(example: str, upstream: LoopbackServer | None, **changes: Any) -> Any:
    """The example's Settings pointing at the fake gateway, without retries by default."""
    module = load_example(example)
    base = {"api_key": "sk-helicone-test", "max_retries": 0, "timeout": 5.0}
    if upstream is not None:
        base["base_url"] = f"{upstream.url}/v1"
    return module.Settings(**{**base, **changes})


@asynccontextmanager
async def run_example(example: str, settings: Any) -> AsyncIterator[RunningApp]:
    """Serve the example on a loopback port with hypercorn, lifespan included.

    On exit the server shuts down gracefully (the lifespan closes the client), and any error
    hypercorn logged (an app exception, a failed lifespan) fails the test.
    """
    module = load_example(example)
    app = module.create_app(settings) if example == "web_starlette" else module.ChatApp(settings)
    if example == "web_starlette":
        from hypercorn.asyncio import serve as hypercorn_serve
    else:
        from hypercorn.trio import serve as hypercorn_serve
    # A listening socket handed over by fd: the port is known before hypercorn starts, and
    # connections made before it accepts wait in the backlog.
    sock = socket.socket()
    # As hypercorn does for the sockets it creates (accepted sockets inherit it): without it,
    # Nagle's algorithm meets delayed ACKs and small SSE writes wait 40 ms each.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    port = sock.getsockname()[1]
    errors = _Records()
    error_log = logging.getLogger(f"test_examples_web.hypercorn.{example}")
    error_log.handlers = [errors]
    error_log.propagate = False
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.errorlog = error_log
    config.graceful_timeout = 2.0
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(hypercorn_serve, app, config, shutdown_trigger=stop.wait))
        with anyio.fail_after(5):
            while _client_of(app) is None:
                await anyio.sleep(0.005)
        client = _client_of(app)
        assert client is not None
        running = RunningApp(f"http://127.0.0.1:{port}", port, app, client)
        try:
            yield running
        finally:
            stop.set()
    assert running.helicone.is_closed, "the lifespan closes the client at shutdown"
    assert not errors.records, [r.getMessage() for r in errors.records]


@asynccontextmanager
async def browser(app: RunningApp, connections: int = 10) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser stand-in: an httpx2 client over real sockets."""
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    # verify=False: plain HTTP on loopback, and it spares building a TLS context per test.
    async with httpx2.AsyncClient(
        base_url=app.url, timeout=10, limits=limits, verify=False
    ) as client:
        yield client


async def wait_until(predicate: Callable[[], bool], within: float = 1.0) -> None:
    with anyio.fail_after(within):
        while not predicate():
            await anyio.sleep(0.005)


def pool_state(client: AsyncHelicone) -> tuple[int, int]:
    """(busy, idle) connections in the client's httpcore2 pool (httpx2 internals)."""
    pool = getattr(client.http_client, "_transport")._pool  # noqa: B009
    connections = list(pool.connections)
    idle = sum(1 for c in connections if c.is_idle())
    return len(connections) - idle, idle


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, JSON data) pairs of a server-sent-events body."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        events.append((event, json.loads(data)))
    return events


def streamed_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(data["text"] for event, data in events if event == "message")


# -- disconnects ------------------------------------------------------------------------


async def test_browser_disconnect_closes_upstream_stream_within_a_second(example: str) -> None:
    """A browser leaving after a few events closes the upstream stream at once; nothing leaks."""
    gateway = FakeGateway()
    gateway.script("*", [SlowDrip(0.05, Reply(text=LONG_TEXT))])
    async with (
        serve(gateway) as upstream,
        run_example(example, settings_for(example, upstream)) as app,
    ):
        # A browser written by hand over a TCP socket: it leaves exactly when the socket is
        # closed. (An httpx2 response abandoned mid-body leaves nested async generators for
        # trio to warn about, which would be the test's own doing.)
        async with await anyio.connect_tcp("127.0.0.1", app.port) as browser_socket:
            await browser_socket.send(
                b"GET /chat/stream?message=hi HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
            )
            received = b""
            while received.count(b"\ndata: ") < 3:
                received += await browser_socket.receive()
        assert received.startswith(b"HTTP/1.1 200")
        assert b"content-type: text/event-stream" in received.lower()
        left_at = time.monotonic()
        record = gateway.last_request
        await wait_until(lambda: record.closed_by_client_at is not None, within=1.0)
        assert record.closed_by_client_at is not None
        assert record.closed_by_client_at - left_at < 1.0
        assert record.completed_at is None, "the 200-word answer was not streamed to the end"
        # No stray upstream connection: nothing busy in the app's pool, and every socket the
        # fake gateway still has open is an idle keep-alive the pool knows about.
        await wait_until(lambda: pool_state(app.helicone)[0] == 0)
        await wait_until(lambda: upstream.connections_open == pool_state(app.helicone)[1])
        assert upstream.connections_open == 0, "a stream cut short cannot be reused"


async def test_disconnect_while_waiting_for_upstream_headers(example: str) -> None:
    """A browser leaving before the gateway's headers still ends the upstream request early.

    The trio app cancels the call at once; Starlette notices the disconnect when its
    response starts, i.e. when the gateway's headers arrive, and closes the stream then.
    """
    gateway = FakeGateway()
    gateway.script("*", [Delay(0.3, SlowDrip(0.05, Reply(text=LONG_TEXT)))])
    async with (
        serve(gateway) as upstream,
        run_example(example, settings_for(example, upstream)) as app,
        browser(app) as http,
    ):
        async with anyio.create_task_group() as tg:

            async def browse() -> None:
                await http.get("/chat/stream", params={"message": "hi"})

            tg.start_soon(browse)
            # Leave once the app's call reached the gateway (not after a fixed time, which a
            # loaded machine may not honour), well before the gateway's 0.3 s delay is over.
            await wait_until(lambda: gateway.requests != [], 5.0)
            tg.cancel_scope.cancel()
        await wait_until(lambda: upstream.connections_open == 0, 3.0)
        assert gateway.last_request.completed_at is None
        assert gateway.last_request.closed_by_client_at is not None
        assert pool_state(app.helicone) == (0, 0)


# -- concurrency ------------------------------------------------------------------------


async def test_200_concurrent_streams_share_one_bounded_pool(example: str) -> None:
    """200 browsers at once all get their own full answer over at most 20 upstream connections."""
    gateway = FakeGateway()
    async with serve(gateway) as upstream:
        settings = settings_for(example, upstream, max_connections=20, max_keepalive_connections=20)
        async with run_example(example, settings) as app:
            peak = 0
            answers: dict[int, tuple[int, str]] = {}

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, upstream.connections_open)
                    await anyio.sleep(0.005)

            async def one(i: int) -> None:
                # One client per browser, as in life (one shared 200-connection pool would
                # spend most of the test's time in its own bookkeeping).
                async with browser(app, 1) as http:
                    response = await http.post(
                        "/chat/stream", json={"message": f"m{i}"}, headers={"x-user-id": f"u{i}"}
                    )
                answers[i] = (response.status_code, response.text)

            async with anyio.create_task_group() as sampler:
                sampler.start_soon(sample)
                async with anyio.create_task_group() as tg:
                    for i in range(200):
                        tg.start_soon(one, i)
                sampler.cancel_scope.cancel()

            assert len(answers) == 200
            for i, (status, body) in answers.items():
                events = parse_sse(body)
                assert status == 200, body
                assert streamed_text(events) == f"You said: m{i}"
                assert events[-1][0] == "done"
            assert len(gateway.requests) == 200
            assert peak == 20, f"the pool filled up to its limit and no further ({peak})"
            assert upstream.connections_total <= 20
            assert pool_state(app.helicone)[0] == 0


# -- errors -----------------------------------------------------------------------------

RATE_LIMITED = RawResponse(
    429,
    body=json.dumps({"error": {"message": "Rate limited", "type": "rate_limit_error"}}),
    content_type="application/json",
    headers={"retry-after": "7"},
)
PATHS = ("/chat", "/chat/stream")


async def test_rate_limit_is_429_with_retry_after_passed_on(example: str) -> None:
    """A 429 whose Retry-After is too long to wait through reaches the browser as 429 + header."""
    gateway = FakeGateway()
    gateway.script("*", [RATE_LIMITED], repeat=True)
    async with (
        serve(gateway) as upstream,
        run_example(example, settings_for(example, upstream, max_retries=2)) as app,
        browser(app) as http,
    ):
        for path in PATHS:
            response = await http.post(path, json={"message": "hi"})
            assert response.status_code == 429, path
            assert response.headers["retry-after"] == "7", path
            error = response.json()["error"]
            assert error["type"] == "rate_limited" and error["upstream_status"] == 429
            assert error["request_id"]
    assert len(gateway.requests) == 2, "7 s is over max_retry_after: no retry inside a request"


async def test_helicone_rate_limit_policy_reset_becomes_retry_after(example: str) -> None:
    """A per-user Helicone policy refusal carries its reset time to the browser as Retry-After."""
    gateway = FakeGateway()
    async with serve(gateway) as upstream:
        settings = settings_for(example, upstream, rate_limit_policy="1;w=60;s=user")
        async with run_example(example, settings) as app, browser(app) as http:
            first = await http.post("/chat", json={"message": "a"}, headers={"x-user-id": "ann"})
            second = await http.post("/chat", json={"message": "b"}, headers={"x-user-id": "ann"})
            other = await http.post("/chat", json={"message": "c"}, headers={"x-user-id": "bob"})
    assert first.status_code == 200 and other.status_code == 200
    assert second.status_code == 429
    assert 0 < int(second.headers["retry-after"]) <= 60
    assert gateway.requests[1].rate_limited


@pytest.mark.parametrize(
    ("gateway_options", "outcome", "status", "kind", "upstream_status"),
    [
        pytest.param({}, Stall(), 504, "upstream_timeout", None, id="timeout"),
        pytest.param({}, Fail(503), 502, "upstream_error", 500, id="provider-503"),
        pytest.param(
            {"api_keys": {"sk-other"}}, None, 502, "upstream_error", 401, id="gateway-401"
        ),
        pytest.param({}, InsufficientCredits(), 502, "upstream_error", 429, id="no-credits"),
    ],
)
async def test_upstream_failures_map_to_gateway_statuses(
    example: str,
    gateway_options: dict[str, Any],
    outcome: Any,
    status: int,
    kind: str,
    upstream_status: int | None,
) -> None:
    """Gateway timeouts are 504; gateway 4xx/5xx (provider down, bad key) are 502 naming it.

    A provider's 503 reaches us as the gateway's 500 (it normalises provider errors), and
    exhausted credits are a 502, not a 429: waiting does not add credit.
    """
    gateway = FakeGateway(**gateway_options)
    if outcome is not None:
        gateway.script("*", [outcome], repeat=True)
    async with serve(gateway) as upstream:
        # A short read timeout only where the gateway stalls: elsewhere a busy CI machine
        # could turn a slow answer into a 504.
        timeout = 0.2 if isinstance(outcome, Stall) else 5.0
        settings = settings_for(example, upstream, timeout=timeout)
        async with run_example(example, settings) as app, browser(app) as http:
            for path in PATHS:
                response = await http.post(path, json={"message": "hi"})
                assert response.status_code == status, path
                error = response.json()["error"]
                assert error["type"] == kind
                assert error.get("upstream_status") == upstream_status
                assert "retry-after" not in response.headers
                assert "sk-helicone-test" not in response.text


async def test_unreachable_gateway_is_502(example: str) -> None:
    """A gateway nobody listens on is a 502 ``upstream_connection_error``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = settings_for(example, None, base_url=f"http://127.0.0.1:{closed_port}/v1")
    async with run_example(example, settings) as app, browser(app) as http:
        response = await http.post("/chat", json={"message": "hi"})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_connection_error"


async def test_invalid_input_is_400_and_nothing_is_sent(example: str) -> None:
    """Input the app or the library refuses is a 400 naming the field; the gateway sees nothing."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"json": {"message": ""}}, "message"),
        ({"json": {"text": "hi"}}, "message"),
        ({"content": b"not json"}, "body"),
        ({"json": {"message": "hi"}, "params": {"user": "zo\u00eb"}}, "helicone.user_id"),
        ({"json": {"message": "hi"}, "headers": {"x-session-id": "\x7f"}}, "helicone.session_id"),
    ]
    gateway = FakeGateway()
    async with (
        serve(gateway) as upstream,
        run_example(example, settings_for(example, upstream)) as app,
        browser(app) as http,
    ):
        for request_args, field in cases:
            response = await http.post("/chat/stream", **request_args)
            assert response.status_code == 400, request_args
            error = response.json()["error"]
            assert error["type"] == "invalid_input"
            assert error["message"].startswith(f"{field}:"), error
    assert gateway.requests == []


async def test_error_after_first_byte_is_an_sse_error_event(example: str) -> None:
    """Once the stream started, a failure arrives as ``event: error`` after the text so far."""
    cases: list[tuple[Outcome, str]] = [
        (InStreamError(after_chunks=3), "upstream_error"),
        (TruncatedStream(after_chunks=3), "upstream_error"),
        (TruncatedStream(after_chunks=3, clean=False), "upstream_connection_error"),
    ]
    gateway = FakeGateway()
    async with (
        serve(gateway) as upstream,
        run_example(example, settings_for(example, upstream)) as app,
        browser(app) as http,
    ):
        for outcome, kind in cases:
            gateway.script("*", [outcome])
            response = await http.get("/chat/stream", params={"message": "tell me more"})
            assert response.status_code == 200
            events = parse_sse(response.text)
            assert len(events) > 1, "some text arrived before the error"
            assert [e for e, _ in events[:-1]] == ["message"] * (len(events) - 1)
            last_event, data = events[-1]
            assert last_event == "error", outcome
            assert data["status"] == 502 and data["error"]["type"] == kind, outcome


# -- Helicone properties ----------------------------------------------------------------


async def test_request_user_and_session_reach_the_gateway(example: str) -> None:
    """The browser's user and session, and the route, arrive as Helicone headers."""
    tags = {"x-user-id": "user-42", "x-session-id": "sess-1"}
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/chat/stream", {"json": {"message": "hi"}, "headers": tags}),
        (
            "GET",
            "/chat/stream",
            {"params": {"message": "hi", "user": "user-42", "session": "sess-1"}},
        ),
        ("POST", "/chat", {"json": {"message": "hi"}, "headers": tags}),
    ]
    gateway = FakeGateway()
    async with (
        serve(gateway) as upstream,
        run_example(example, settings_for(example, upstream)) as app,
        browser(app) as http,
    ):
        for method, path, request_args in cases:
            response = await http.request(method, path, **request_args)
            assert response.status_code == 200
            record = gateway.last_request
            assert record.user_id == "user-42", (method, path)
            assert record.session_id == "sess-1"
            assert record.properties == {"route": path}
            if path == "/chat":
                assert response.json() == {
                    "answer": "You said: hi",
                    "request_id": record.helicone_id,
                }
            else:
                assert parse_sse(response.text)[-1] == (
                    "done",
                    {"finish_reason": "stop", "request_id": record.helicone_id},
                )


# -- lifespan and the --fake switch -----------------------------------------------------


async def test_fake_mode_serves_page_and_streams_with_one_client(example: str) -> None:
    """``--fake`` starts the embedded gateway in the lifespan; the page and a stream work."""
    settings = load_example(example).Settings(fake=True)
    async with run_example(example, settings) as app, browser(app) as http:
        page = await http.get("/")
        first = await http.get("/chat/stream", params={"message": "hello web"})
        second = await http.post("/chat", json={"message": "again"})
        assert _client_of(app.app) is app.helicone, "one client for the whole lifespan"
        assert not app.helicone.is_closed
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/chat/stream" in page.text and "x-session-id" in page.text
    assert streamed_text(parse_sse(first.text)) == "You said: hello web"
    assert second.json()["answer"] == "You said: again"
    assert app.helicone.is_closed


def test_settings_from_env(example: str) -> None:
    """Settings read HELICONE_API_KEY, HELICONE_BASE_URL, HELICONE_MODEL and AIOHELICONE_FAKE."""
    settings_cls = load_example(example).Settings
    env = {
        "HELICONE_API_KEY": "sk-helicone-env",
        "HELICONE_BASE_URL": "http://127.0.0.1:9/v1",
        "HELICONE_MODEL": "claude-3-5-haiku",
        "AIOHELICONE_FAKE": "1",
    }
    settings = settings_cls.from_env(env)
    assert settings.api_key == "sk-helicone-env"
    assert settings.base_url == "http://127.0.0.1:9/v1"
    assert settings.model == "claude-3-5-haiku"
    assert settings.fake is True
    assert settings_cls.from_env({}) == settings_cls()


async def test_missing_key_fails_at_startup(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key (and without --fake) the client cannot be built: startup fails loudly."""
    monkeypatch.delenv("HELICONE_API_KEY", raising=False)
    module = load_example(example)
    with pytest.raises(HeliconeError, match="No API key"):
        async with module.open_helicone(module.Settings()):
            pass
