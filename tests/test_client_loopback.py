"""AsyncHelicone over a real loopback socket: pooling, limits, timeouts, resets, cancellation."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import anyio
import httpx2
import pytest

from aiohelicone import APIConnectionError, APITimeoutError, AsyncHelicone
from aiohelicone.testing import (
    Delay,
    FakeGateway,
    LoopbackServer,
    Reply,
    Reset,
    Stall,
    no_retry_waits,
)

pytestmark = pytest.mark.anyio

MODEL = "gpt-4o-mini/openai"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


def make_client(server: LoopbackServer, **kwargs: object) -> AsyncHelicone:
    return AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1", **kwargs)  # type: ignore[arg-type]


async def test_sequential_requests_share_one_connection(server: LoopbackServer) -> None:
    """The pool keeps the connection alive between calls."""
    async with make_client(server) as client:
        for _ in range(20):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert server.connections_total == 1


async def test_concurrency_stays_within_pool_limits(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """40 concurrent calls through a 5-connection pool open at most 5 connections."""
    gateway.script(MODEL, [Delay(0.05)], repeat=True)
    limits = httpx2.Limits(max_connections=5, max_keepalive_connections=5)
    results = []
    async with make_client(server, limits=limits) as client:

        async def one() -> None:
            results.append(await client.chat.completions.create(model=MODEL, messages=MESSAGES))

        async with anyio.create_task_group() as tg:
            for _ in range(40):
                tg.start_soon(one)
    assert len(results) == 40
    assert server.connections_total <= 5


async def test_read_timeout_raises_api_timeout_error(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A server that never answers trips the read timeout, retried, then APITimeoutError."""
    gateway.script(MODEL, [Stall(seconds=5)], repeat=True)
    async with make_client(server, timeout=0.2, max_retries=1) as client:
        with anyio.fail_after(3), pytest.raises(APITimeoutError):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(gateway.requests) == 2


async def test_connection_reset_is_retried(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A TCP reset before the answer is a connection error, retried on a new connection."""
    gateway.script(MODEL, [Reset(), Reply(text="second time lucky")])
    async with make_client(server) as client:
        result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert result.choices[0].message.content == "second time lucky"
    assert server.connections_total == 2


async def test_repeated_resets_raise_connection_error(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """Resets beyond the retry budget raise APIConnectionError (not a timeout)."""
    gateway.script(MODEL, [Reset()], repeat=True)
    async with make_client(server, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert not isinstance(info.value, APITimeoutError)
    assert len(gateway.requests) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_a_connection_error() -> None:
    """Nothing listening: APIConnectionError after the retries, quickly."""
    with anyio.fail_after(5):
        async with AsyncHelicone(
            api_key="sk-helicone-test",
            base_url=f"http://127.0.0.1:{_free_port()}/v1",
            max_retries=1,
        ) as client:
            with pytest.raises(APIConnectionError):
                await client.chat.completions.create(model=MODEL, messages=MESSAGES)


async def test_cancelled_call_closes_its_connection(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """Cancelling an in-flight call drops its connection; the cancellation propagates."""
    gateway.script(MODEL, [Stall(seconds=5)])
    async with make_client(server) as client:
        with anyio.move_on_after(0.2) as scope:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert scope.cancelled_caught
        with anyio.fail_after(1):
            while server.connections_open:
                await anyio.sleep(0.01)
        result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert result.choices


async def test_aclose_releases_every_connection(server: LoopbackServer) -> None:
    """Closing the client closes its pooled connections."""
    client = make_client(server)
    await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert server.connections_open == 1
    await client.aclose()
    with anyio.fail_after(1):
        while server.connections_open:
            await anyio.sleep(0.01)
