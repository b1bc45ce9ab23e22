"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiohelicone.testing import FakeGateway, LoopbackServer, serve


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Both backends, named explicitly so a missing trio install fails loudly."""
    return str(request.param)


@pytest.fixture
def gateway() -> FakeGateway:
    """A fresh fake gateway (a test module may override it, e.g. with API keys)."""
    return FakeGateway()


@pytest.fixture
async def server(gateway: FakeGateway) -> AsyncIterator[LoopbackServer]:
    """``gateway`` served on a loopback port for the duration of the test."""
    async with serve(gateway) as running:
        yield running
