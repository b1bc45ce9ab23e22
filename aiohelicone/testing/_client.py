"""Layer 8 (test kit): an ``AsyncHelicone`` wired to a :class:`FakeGateway` (in process, loopback).

Two ways, for two kinds of test:

- :func:`fake_client` sends through ``httpx2.ASGITransport``: no socket, no port, the
  fastest. That transport buffers each whole answer before the client sees its first byte,
  so streams work (every chunk arrives, in order) but not incrementally: idle timeouts,
  slow drips, resets and mid-stream cancellation need real sockets.
- :func:`serve_client` serves the gateway on a free loopback port (``127.0.0.1``) and points
  a client at it, for everything that needs real sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from aiohelicone import AsyncHelicone

from ._gateway import FakeGateway
from ._server import LoopbackServer, serve

__all__ = ["FAKE_API_KEY", "ServedFake", "fake_client", "serve_client"]

#: The API key the helpers give their clients (any non-empty key passes the fake's auth
#: unless the gateway was built with ``api_keys=``; pass ``api_key=`` then).
FAKE_API_KEY = "sk-helicone-fake"

# Never resolved: ASGITransport hands every request to the app, whatever the host.
_IN_PROCESS_URL = "http://fake-helicone.invalid/v1"


def fake_client(gateway: FakeGateway | None = None, **client_kwargs: Any) -> AsyncHelicone:
    """An :class:`AsyncHelicone` that sends every request to ``gateway``, in process.

    Example::

        gateway = FakeGateway()
        async with fake_client(gateway, max_retries=0) as client:
            await client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert gateway.last_request.headers["authorization"] == "Bearer sk-helicone-fake"

    Requests to the REST API (``client.requests`` ...) reach the same gateway, which
    emulates it. Streams are delivered whole (see the module docstring); use
    :func:`serve_client` for timing-sensitive stream tests.

    Args:
        gateway: the fake to talk to; a fresh :class:`FakeGateway` when None (pass your
            own to script it and to inspect ``gateway.requests``).
        **client_kwargs: any :class:`AsyncHelicone` argument but ``http_client`` and
            ``transport``;
            ``api_key`` defaults to :data:`FAKE_API_KEY` and ``base_url`` to a placeholder
            host that is never resolved.

    Returns:
        The client; close it with ``async with`` or ``await client.aclose()``.

    Raises:
        TypeError: ``http_client`` or ``transport`` was given (the helper supplies its
            own), or another argument is wrong for :class:`AsyncHelicone`.
        HeliconeError: an argument was refused by :class:`AsyncHelicone`.
    """
    import httpx2

    for name in ("http_client", "transport"):
        if name in client_kwargs:
            raise TypeError(f"fake_client() supplies its own {name}")
    client_kwargs.setdefault("api_key", FAKE_API_KEY)
    client_kwargs.setdefault("base_url", _IN_PROCESS_URL)
    app = gateway if gateway is not None else FakeGateway()
    # Handed over with the public ``transport=``: the client builds its pool on it and owns
    # it (``client.aclose()`` closes it, ``is_closed`` is true).
    return AsyncHelicone(transport=httpx2.ASGITransport(app=app), **client_kwargs)


class ServedFake(NamedTuple):
    """What :func:`serve_client` yields; unpack it as ``(client, gateway, server)``.

    Attributes:
        client: an :class:`AsyncHelicone` pointed at the server.
        gateway: the :class:`FakeGateway` being served (script it, read its requests).
        server: the :class:`LoopbackServer` (``url``, connection counters, ``errors``).
    """

    client: AsyncHelicone
    gateway: FakeGateway
    server: LoopbackServer


@asynccontextmanager
async def serve_client(
    gateway: FakeGateway | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **client_kwargs: Any,
) -> AsyncIterator[ServedFake]:
    """Serve ``gateway`` on loopback and yield a client pointed at it (asyncio and trio).

    Example::

        async with serve_client() as (client, gateway, server):
            stream = await client.chat.completions.create(..., stream=True)
            # other programs (openai-python, curl) can use server.url + "/v1" too

    On exit the client is closed, then the server (every connection, every app task).

    Args:
        gateway: the fake to serve; a fresh :class:`FakeGateway` when None.
        host: the address to bind.
        port: the port; 0 picks a free one.
        **client_kwargs: any :class:`AsyncHelicone` argument; ``api_key`` defaults to
            :data:`FAKE_API_KEY`, ``base_url`` to the server's ``/v1`` and
            ``rest_base_url`` to the server (the fake emulates the REST API too).

    Returns:
        An async context manager yielding a :class:`ServedFake`.

    Raises:
        OSError: the address could not be bound.
        TypeError, HeliconeError: an argument was refused by :class:`AsyncHelicone`.
    """
    app = gateway if gateway is not None else FakeGateway()
    async with serve(app, host=host, port=port) as server:
        client_kwargs.setdefault("api_key", FAKE_API_KEY)
        client_kwargs.setdefault("base_url", f"{server.url}/v1")
        if "region" not in client_kwargs:
            client_kwargs.setdefault("rest_base_url", server.url)
        async with AsyncHelicone(**client_kwargs) as client:
            yield ServedFake(client, app, server)
