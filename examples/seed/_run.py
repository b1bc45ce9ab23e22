"""What every seed example does when run as a script: ``main(client)``, once.

With ``HELICONE_API_KEY`` set it talks to the real gateway; without it, to the embedded fake
gateway served on loopback (no key, no network). Each example ends with::

    if __name__ == "__main__":
        from _run import run  # this file; `python examples/seed/X.py` puts it on sys.path

        run(main)
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from aiohelicone import AsyncHelicone
from aiohelicone.testing import FakeGateway, serve_client


def run(
    main: Callable[[AsyncHelicone], Awaitable[object]],
    *,
    real: Callable[[], AsyncHelicone] = AsyncHelicone,
    gateway: FakeGateway | None = None,
    **fake_client_options: Any,
) -> None:
    """Run ``main`` with a client for the real gateway, or else for the fake one.

    Args:
        main: the example, taking the client.
        real: builds the client for the real gateway (default: ``AsyncHelicone()``, which
            reads ``HELICONE_API_KEY``).
        gateway: the fake gateway to serve (default: a fresh ``FakeGateway()``).
        **fake_client_options: ``AsyncHelicone`` arguments of the fake's client.
    """

    async def _run() -> None:
        if os.environ.get("HELICONE_API_KEY"):  # the real gateway
            async with real() as client:
                await main(client)
        else:  # serve(FakeGateway()) on loopback, and a client pointed at it
            async with serve_client(gateway, **fake_client_options) as fake:
                await main(fake.client)

    anyio.run(_run)
