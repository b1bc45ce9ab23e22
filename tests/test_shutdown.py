"""A stream still open when the interpreter exits is finalised quietly (no traceback at exit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys

    import anyio

    from aiohelicone.testing import serve_client

    KEPT = []


    async def main() -> None:
        async with serve_client() as (client, gateway, server):
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            await stream.__anext__()
            KEPT.append(stream)  # never closed: finalised while the interpreter shuts down


    anyio.run(main, backend=sys.argv[1])
    print("ran")
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_open_stream_at_exit_is_finalised_without_a_traceback(backend: str) -> None:
    """The stream's finaliser at interpreter exit neither imports nor raises."""
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ran"
    assert "Exception ignored" not in proc.stderr
    assert "aiohelicone" not in proc.stderr
