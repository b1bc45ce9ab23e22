"""Transport helpers that need no network."""

from __future__ import annotations

from aiohelicone._transport import plain_headers


def test_plain_headers_lowercases_and_joins_repeats() -> None:
    """Response headers become a plain dict: lower-case names, repeats joined like httpx2."""
    raw = [
        (b"Helicone-Id", b"abc"),
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"X-Odd", "caf\u00e9".encode("latin-1")),
    ]
    assert plain_headers(raw) == {
        "helicone-id": "abc",
        "set-cookie": "a=1, b=2",
        "x-odd": "caf\u00e9",
    }
