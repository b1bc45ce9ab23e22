"""aiohelicone.testing's client helpers: fake_client (in process) and serve_client (loopback)."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from aiohelicone import AsyncHelicone, AuthenticationError, RetryPolicy, _retry
from aiohelicone.testing import (
    FAKE_API_KEY,
    Fail,
    FakeGateway,
    ServedFake,
    fake_client,
    no_retry_waits,
    serve_client,
)

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_fake_client_talks_to_the_gateway_in_process() -> None:
    """fake_client: requests reach the given gateway with the fake key, no socket."""
    gateway = FakeGateway()
    async with fake_client(gateway) as client:
        assert isinstance(client, AsyncHelicone)
        response = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert response.choices[0].message.content == "You said: hi"
    assert gateway.last_request.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert gateway.last_request.path == "/v1/chat/completions"


async def test_fake_client_closes_its_http_client() -> None:
    """fake_client: the client owns its httpx2 client, so aclose() closes it."""
    client = fake_client()
    http = client.http_client
    await client.aclose()
    assert client.is_closed and http.is_closed


async def test_fake_client_streams_whole_but_complete() -> None:
    """fake_client: a stream arrives (buffered by ASGITransport) with every chunk and usage."""
    async with fake_client() as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
        async with stream:
            chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: hi"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_fake_client_passes_client_arguments() -> None:
    """fake_client: api_key and other AsyncHelicone arguments go through."""
    gateway = FakeGateway(api_keys={"sk-helicone-right"})
    gateway.script("openai", [Fail(503)], repeat=True)
    async with fake_client(gateway, api_key="sk-helicone-wrong", max_retries=0) as client:
        with pytest.raises(AuthenticationError):
            await client.chat.completions.create(model="gpt-4o-mini/openai", messages=MESSAGES)
    assert len(gateway.requests) == 1
    with pytest.raises(TypeError, match="http_client"):
        fake_client(gateway, http_client=None)
    with pytest.raises(TypeError, match="transport"):
        fake_client(gateway, transport=httpx2.ASGITransport(app=gateway))


async def test_serve_client_serves_over_loopback() -> None:
    """serve_client: a real loopback server, a client pointed at it, both closed at exit."""
    gateway = FakeGateway()
    async with serve_client(gateway) as served:
        assert isinstance(served, ServedFake)
        client, got, server = served
        assert got is gateway
        assert server.url.startswith("http://127.0.0.1:")
        assert client.base_url == f"{server.url}/v1"
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert server.connections_total == 1
    assert client.is_closed
    assert gateway.last_request.headers["host"] == server.url.removeprefix("http://")
    assert server.errors == []
    with pytest.raises(httpx2.ConnectError):
        async with httpx2.AsyncClient() as http:
            await http.get(f"{server.url}/v1/models")


async def test_serve_client_makes_a_gateway() -> None:
    """serve_client: without a gateway it serves a fresh FakeGateway."""
    async with serve_client(max_retries=0) as (client, gateway, _server):
        models = await client.models.list()
    assert isinstance(gateway, FakeGateway)
    assert gateway.last_request.endpoint == "models"
    assert any(model.id == "gpt-4o-mini" for model in models.data)


async def test_no_retry_waits_retries_at_once_with_the_same_decisions() -> None:
    """no_retry_waits: an hour of backoff is skipped; the retries and their waits stay."""
    gateway = FakeGateway()
    gateway.script("gpt-4o-mini/openai", [Fail(503), Fail(503)])
    waits: list[float] = []
    policy = RetryPolicy(initial_delay=3600.0, max_delay=3600.0, jitter=0.0)
    async with fake_client(
        gateway, retry_policy=policy, on_retry=lambda e, n, w: waits.append(w)
    ) as client:
        # fail_after only guards against a hang; nothing here measures time.
        with no_retry_waits(), anyio.fail_after(60):
            answer = await client.chat.completions.create(
                model="gpt-4o-mini/openai", messages=MESSAGES
            )
    assert answer.choices[0].message.content == "You said: hi"
    assert waits == [3600.0, 3600.0]
    assert len(gateway.requests) == 3


def test_no_retry_waits_nests_and_restores_the_setting() -> None:
    """no_retry_waits: nested blocks keep waits off; leaving (even by an error) restores."""
    assert _retry._waits_enabled
    with no_retry_waits():
        assert not _retry._waits_enabled
        with no_retry_waits():
            assert not _retry._waits_enabled
        assert not _retry._waits_enabled
    assert _retry._waits_enabled
    with pytest.raises(RuntimeError), no_retry_waits():
        raise RuntimeError("boom")
    assert _retry._waits_enabled
