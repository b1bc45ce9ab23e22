"""The transport's direct request path (our own pool) sends what httpx2's build_request would.

For its own pool, ``Transport`` writes the header list itself instead of letting httpx2 merge
headers on every request (see ``_transport.Transport._direct_request``). These tests check,
over a real loopback socket, that the request on the wire is the same: every header once,
call headers overriding the client's, and the unusual cases (query parameters, cookies)
still handled.
"""

from __future__ import annotations

import httpx2
import pytest

from aiohelicone import APITimeoutError, AsyncHelicone
from aiohelicone.testing import Delay, FakeGateway, LoopbackServer, Reply

pytestmark = pytest.mark.anyio

MODEL = "gpt-4o-mini/openai"
MESSAGES = [{"role": "user", "content": "hi"}]
KEY = "sk-helicone-direct"


def make_client(server: LoopbackServer, **kwargs: object) -> AsyncHelicone:
    return AsyncHelicone(api_key=KEY, base_url=f"{server.url}/v1", max_retries=0, **kwargs)  # type: ignore[arg-type]


async def test_plain_request_headers(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A chat request carries host, auth, JSON content headers and the request id, once each."""
    async with make_client(server) as client:
        answer = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    seen = gateway.last_request
    assert seen.headers["host"] == server.url.removeprefix("http://")
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == str(len(seen.body))
    assert seen.headers["user-agent"].startswith("aiohelicone/")
    assert answer.helicone is not None
    assert seen.headers["helicone-request-id"] == answer.helicone.request_id
    assert not any(", " in seen.headers[name] for name in ("accept", "user-agent", "host"))


async def test_stream_request_headers(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A stream asks for text/event-stream without compression, replacing the defaults."""
    async with make_client(server) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            chunks = [chunk async for chunk in stream]
    assert chunks
    seen = gateway.last_request
    assert seen.headers["accept"] == "text/event-stream"
    assert seen.headers["accept-encoding"] == "identity"


async def test_call_headers_override_stream_headers(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """An Accept given for a stream replaces the stream's own, instead of being sent twice."""
    async with make_client(server) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            extra_headers={"Accept": "text/event-stream; charset=utf-8"},
        )
        async with stream:
            assert [chunk async for chunk in stream]
    assert gateway.last_request.headers["accept"] == "text/event-stream; charset=utf-8"


async def test_call_headers_override_client_headers(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """extra_headers replace the client's value of the same header instead of adding one."""
    async with make_client(server, default_headers={"X-Team": "a"}) as client:
        await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            extra_headers={"User-Agent": "mine/1.0", "X-Team": "b", "Accept": "*/*"},
        )
    seen = gateway.last_request
    assert seen.headers["user-agent"] == "mine/1.0"
    assert seen.headers["x-team"] == "b"
    assert seen.headers["accept"] == "*/*"


async def test_headers_added_to_the_pool_are_sent(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A header set on client.http_client after construction still goes out."""
    async with make_client(server) as client:
        client.http_client.headers["x-added-later"] = "yes"
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.headers["x-added-later"] == "yes"


async def test_query_parameters_are_sent(server: LoopbackServer, gateway: FakeGateway) -> None:
    """extra_query reaches the server's query string."""
    async with make_client(server) as client:
        await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, extra_query={"api-version": "2024-10"}
        )
    assert gateway.last_request.query == "api-version=2024-10"


async def test_cookies_in_the_jar_are_sent(server: LoopbackServer, gateway: FakeGateway) -> None:
    """Cookies in the pool's jar are sent, as httpx2 would."""
    async with make_client(server) as client:
        client.http_client.cookies.set("lb", "node-3", domain="127.0.0.1")
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.headers.get("cookie") == "lb=node-3"


async def test_request_hooks_see_the_whole_request(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """An event hook added to the pool sees the body and headers that are sent."""
    seen: list[httpx2.Request] = []

    async def hook(request: httpx2.Request) -> None:
        seen.append(request)

    async with make_client(server) as client:
        client.http_client.event_hooks["request"].append(hook)
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (request,) = seen
    assert request.content == gateway.last_request.body
    assert (
        request.headers["helicone-request-id"]
        == gateway.last_request.headers["helicone-request-id"]
    )


async def test_models_list_is_a_bodiless_get(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A GET goes out without a body or content headers."""
    async with make_client(server) as client:
        models = await client.models.list()
    assert models.data
    seen = gateway.last_request
    assert seen.method == "GET"
    assert seen.body == b""
    assert "content-type" not in seen.headers


async def test_per_call_timeout_is_applied(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A per-call timeout shorter than the answer's delay raises APITimeoutError."""
    gateway.script(MODEL, [Delay(2.0, then=Reply())])
    async with make_client(server) as client:
        with pytest.raises(APITimeoutError):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES, timeout=0.2)


async def test_auth_headers_are_sent_where_they_were(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """The keys are no pool headers, yet each request sends them once, right after the pool's
    own headers, on the direct path and on build_request's (query parameters) alike."""
    async with make_client(server, provider_api_key="sk-openai-direct-0123456789") as client:
        assert "helicone-auth" not in client.http_client.headers
        assert "authorization" not in client.http_client.headers
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_query={"q": 1})
    direct, built = gateway.requests
    assert list(direct.headers) == list(built.headers)
    assert list(direct.headers)[:8] == [
        "host",
        "accept-encoding",
        "connection",
        "accept",
        "user-agent",
        "helicone-auth",
        "authorization",
        "content-type",
    ]
    assert direct.headers["helicone-auth"] == built.headers["helicone-auth"] == f"Bearer {KEY}"
    assert direct.headers["authorization"] == "Bearer sk-openai-direct-0123456789"
