"""Layer 8 (test kit): HTTP/1.1 request framing for the loopback server (pure, no I/O).

The request head's parsing and the body's length by RFC 9112 §6.3, strictly:
``Content-Length`` is digits only, duplicates must agree, and ``Transfer-Encoding`` with
``Content-Length`` is refused. Errors are :class:`_BadRequest` with the status to answer;
``_server`` does the reading and writing.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import attrs

__all__: list[str] = []

DIGITS = re.compile(rb"[0-9]+")
HEXDIGITS = re.compile(rb"[0-9A-Fa-f]+")


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


@attrs.frozen
class _RequestHead:
    method: str
    target: str
    version: str
    headers: tuple[tuple[bytes, bytes], ...]

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def values(self, name: bytes) -> list[bytes]:
        """Every value of a header that may repeat, its comma-separated lists split."""
        return [
            item.strip() for key, value in self.headers if key == name for item in value.split(b",")
        ]


def _parse_head(data: bytes) -> _RequestHead:
    """Parse a request line and headers (without the final blank line)."""
    lines = data.split(b"\r\n")
    try:
        method, target, version = lines[0].decode("ascii").split(" ")
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest(400, "malformed request line") from None
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(505, "unsupported HTTP version")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(400, "malformed header line")
        headers.append((name.lower(), value.strip()))
    return _RequestHead(method.upper(), target, version, tuple(headers))


def _body_length(head: _RequestHead, max_body: int) -> int | None:
    """The request body's length, or None when it is chunked (RFC 9112 §6.3).

    Raises:
        _BadRequest: 400 for framing that could be read two ways, 501 for a transfer coding
            other than chunked, 413 for a declared length over ``max_body``.
    """
    codings = [coding.lower() for coding in head.values(b"transfer-encoding")]
    lengths = head.values(b"content-length")
    if codings:
        if lengths:
            # §6.3 item 3: both present is the shape of request smuggling ("ought to be
            # handled as an error"): a server that guesses differs from the next hop.
            raise _BadRequest(400, "transfer-encoding and content-length together")
        if codings[-1] != b"chunked" or b"chunked" in codings[:-1]:
            # §6.3 item 4: without chunked last, the length cannot be determined.
            raise _BadRequest(400, "chunked must be the final transfer coding, once")
        if len(codings) > 1:
            raise _BadRequest(501, "unsupported transfer-encoding")
        return None
    if not lengths:
        return 0
    # Content-Length = 1*DIGIT (RFC 9110 §8.6): no sign, no underscore, no hex (Python's
    # int() takes all three). Repeated values must agree (§8.6 allows collapsing those).
    if not all(DIGITS.fullmatch(value) for value in lengths):
        raise _BadRequest(400, "invalid content-length")
    values = {value.lstrip(b"0") for value in lengths}
    if len(values) != 1:
        raise _BadRequest(400, "conflicting content-length values")
    digits = values.pop()
    if len(digits) > len(str(max_body)) or int(digits or b"0") > max_body:
        raise _BadRequest(413, f"request body over {max_body} bytes")
    return int(digits or b"0")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
