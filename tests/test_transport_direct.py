"""The transport's direct request path (our own pool) sends what httpx2's build_request would.

For its own pool, ``Transport`` writes the header list itself instead of letting httpx2 merge
headers on every request (see ``_transport.Transport._direct_request``). These tests check,
over a real loopback socket, that the request on the wire is the same: every header once,
call headers overriding the client's, and the unusual cases (query parameters, cookies)
still handled; and that what httpx2's ``send`` does (proxies from the environment,
redirects, cookies from answers, auth, hooks, timeouts) happens on this path too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from aiohelicone import APIResponseValidationError, APITimeoutError, AsyncHelicone
from aiohelicone.testing import Delay, FakeGateway, LoopbackServer, RawResponse, Reply

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


# -- what httpx2 does for a request, on the direct path too (see Transport._direct_request) --

PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variables from the machine running the tests."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_default_params_set_on_the_pool_later_are_sent(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """Query parameters set on client.http_client.params go out, as build_request merges them."""
    async with make_client(server) as client:
        client.http_client.params = {"api-version": "2025-01"}
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.query == "api-version=2025-01"


async def test_an_environment_proxy_is_used(
    server: LoopbackServer, gateway: FakeGateway, clean_proxy_env: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY (trust_env) routes our own pool's direct requests through the proxy."""
    clean_proxy_env.setenv("HTTP_PROXY", server.url)  # the fake answers proxy requests too
    async with AsyncHelicone(api_key=KEY, base_url="http://gateway.invalid/v1") as client:
        assert client._transport._direct
        answer = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert answer.choices
    seen = gateway.last_request
    assert seen.path == "http://gateway.invalid/v1/chat/completions"  # absolute-form target
    assert seen.headers["host"] == "gateway.invalid"


async def test_no_proxy_bypasses_the_environment_proxy(
    server: LoopbackServer, gateway: FakeGateway, clean_proxy_env: pytest.MonkeyPatch
) -> None:
    """A host in NO_PROXY is reached directly although HTTP_PROXY names a dead proxy."""
    clean_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    clean_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    async with make_client(server) as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.path == "/v1/chat/completions"


async def test_the_environment_is_read_when_the_client_is_built(
    server: LoopbackServer, gateway: FakeGateway, clean_proxy_env: pytest.MonkeyPatch
) -> None:
    """A proxy variable set after construction is not seen (httpx2 reads it once)."""
    async with make_client(server) as client:
        clean_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.path == "/v1/chat/completions"


async def test_a_callers_client_without_trust_env_ignores_proxies(
    server: LoopbackServer, gateway: FakeGateway, clean_proxy_env: pytest.MonkeyPatch
) -> None:
    """A caller's client built with trust_env=False goes direct whatever HTTP_PROXY says."""
    clean_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    async with (
        httpx2.AsyncClient(trust_env=False) as http,
        make_client(server, http_client=http) as client,
    ):
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.path == "/v1/chat/completions"


async def test_redirects_are_not_followed(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A 307 is not followed (the pool has follow_redirects=False): one request, an error."""
    gateway.script(MODEL, [RawResponse(307, headers={"location": f"{server.url}/v1/other"})])
    async with make_client(server) as client:
        with pytest.raises(APIResponseValidationError, match="307"):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert [r.path for r in gateway.requests] == ["/v1/chat/completions"]


async def test_our_pool_speaks_http11_and_runs_response_hooks(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """Response hooks run on the direct path; our pool never uses HTTP/2."""
    versions: list[str] = []

    async def hook(response: httpx2.Response) -> None:
        versions.append(response.http_version)

    async with make_client(server) as client:
        client.http_client.event_hooks["response"].append(hook)
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            assert [chunk async for chunk in stream]
    assert versions == ["HTTP/1.1", "HTTP/1.1"]


async def test_set_cookie_is_kept_and_sent_back(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A Set-Cookie answer fills the jar on the direct path; the next request sends it."""
    gateway.script(MODEL, [Reply(headers={"set-cookie": "lb=node-1; Path=/"}), Reply()])
    async with make_client(server) as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert "cookie" not in gateway.last_request.headers
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.headers["cookie"] == "lb=node-1"


class _Signer(httpx2.Auth):
    def auth_flow(self, request: httpx2.Request) -> Iterator[httpx2.Request]:
        request.headers["x-signed"] = request.method
        yield request


async def test_auth_set_on_the_pool_is_applied(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """An httpx2.Auth set on client.http_client.auth runs for direct requests (send does it)."""
    async with make_client(server) as client:
        client.http_client.auth = _Signer()
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert gateway.last_request.headers["x-signed"] == "POST"


async def test_the_pools_timeout_applies_to_direct_requests(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A request without a per-call timeout gets the pool's (the client's) timeout."""
    gateway.script(MODEL, [Delay(2.0, then=Reply())])
    async with make_client(server, timeout=0.2) as client:
        with pytest.raises(APITimeoutError):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)


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
        "connection",
        "accept",
        "accept-encoding",
        "user-agent",
        "helicone-auth",
        "authorization",
        "content-type",
    ]
    assert direct.headers["helicone-auth"] == built.headers["helicone-auth"] == f"Bearer {KEY}"
    assert direct.headers["authorization"] == "Bearer sk-openai-direct-0123456789"
