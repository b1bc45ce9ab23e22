"""Layer 0 (core): content decoders: undo ``Content-Encoding`` chunk by chunk, without I/O.

Shaped like httpx's ``_decoders.py``: a decoder takes the body's bytes as they arrive,
``decode(data)`` returns the decoded pieces that input completes and ``flush()`` the rest at
the end of the body. Nothing is buffered beyond what the compression format itself holds, so
a compressed stream yields each event as soon as its bytes are in, and one piece is never
larger than :data:`MAX_PIECE` (a small, highly compressed input cannot inflate into one huge
buffer).

What is decoded (RFC 9110 §8.4.1, RFC 8878, RFC 7932):

- ``gzip`` (and its alias ``x-gzip``): several members in a row are one body, as gzip(1)
  reads them; NUL padding after the last member is ignored, anything else is corrupt.
- ``deflate``: the zlib format RFC 9110 prescribes, and the raw deflate that many servers
  send under that name instead; the input is kept until the first output so that the
  switch to raw also works when the body arrives one byte at a time.
- ``br`` with the ``brotli`` package (1.2 or later, for its bounded output) and ``zstd``
  with ``compression.zstd`` (Python 3.14) or its backport ``backports.zstd``; several zstd
  frames in a row are one body. :func:`accept_encoding` names exactly these.
- Stacked codings (``gzip, br``: gzip applied first) are undone in reverse order, up to
  :data:`MAX_CODINGS` of them.

Errors are :class:`DecodingError` (corrupt or truncated data) and its subclass
:class:`UnsupportedEncoding`; ``_transport.py`` turns them into ``ContentDecodingError``.
"""

from __future__ import annotations

import functools
import sys
import zlib
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "MAX_CODINGS",
    "MAX_PIECE",
    "Decoder",
    "DecodingError",
    "UnsupportedEncoding",
    "accept_encoding",
    "make_decoder",
]

#: The largest piece one call returns; more output comes as further pieces.
MAX_PIECE = 1 << 20

#: The most content codings stacked on one answer that are undone.
MAX_CODINGS = 3

# brotli's C decoder may grow its buffer to about twice the limit it is given.
_BROTLI_LIMIT = MAX_PIECE // 2

_ALIASES = {"x-gzip": "gzip"}


class DecodingError(Exception):
    """A body could not be decoded.

    Attributes:
        coding: the content coding at fault, as the answer named it (lower-case).
        problem: what was wrong, in words.
    """

    def __init__(self, coding: str, problem: str) -> None:
        self.coding = coding
        self.problem = problem
        super().__init__(f"{coding}: {problem}")


class UnsupportedEncoding(DecodingError):
    """The answer names a content coding that this installation cannot decode."""


class Decoder(Protocol):
    """An incremental decoder for one answer body."""

    coding: str

    def decode(self, data: bytes) -> list[bytes]:
        """The decoded pieces ``data`` completes (possibly none)."""

    def flush(self) -> list[bytes]:
        """The last pieces, at the end of the body.

        Raises:
            DecodingError: the body ended inside the compressed data.
        """


def _truncated(coding: str) -> DecodingError:
    return DecodingError(coding, "the body ended inside the compressed data (truncated)")


def _corrupt(coding: str, exc: Exception) -> DecodingError:
    return DecodingError(coding, f"the compressed data is corrupt ({exc})")


def _run_zlib(obj: Any, data: bytes, out: list[bytes]) -> None:
    """Feed ``data`` to a zlib decompressobj, collecting output in bounded pieces."""
    piece = obj.decompress(data, MAX_PIECE)
    while piece:
        out.append(piece)
        if not obj.unconsumed_tail:
            break
        piece = obj.decompress(obj.unconsumed_tail, MAX_PIECE)


class _Members:
    """Shared by codings whose body is frames one after another (gzip members, zstd frames):
    ``_obj`` is the current frame's decompressor (None before the first byte), and the body
    may only end at a frame's end."""

    coding: str
    _obj: Any

    def flush(self) -> list[bytes]:
        if self._obj is not None and not self._obj.eof:
            raise _truncated(self.coding)
        return []


class GzipDecoder(_Members):
    """``gzip``: RFC 1952 members, one after another."""

    coding = "gzip"

    def __init__(self) -> None:
        self._obj: Any = None  # created when a member's first byte arrives
        self._padding = False

    def decode(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            while data:
                if self._padding or (self._obj is not None and self._obj.eof):
                    # Between members: another member starts, or padding ends the body.
                    if self._padding or data[0] == 0:
                        self._padding = True
                        if data.strip(b"\x00"):
                            raise DecodingError(self.coding, "data after the last member")
                        return out
                    self._obj = None
                if self._obj is None:
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                _run_zlib(self._obj, data, out)
                data = self._obj.unused_data if self._obj.eof else b""
        except zlib.error as exc:
            raise _corrupt(self.coding, exc) from exc
        return out


class DeflateDecoder:
    """``deflate``: the zlib format (RFC 1950), or raw deflate (RFC 1951) as sent in practice."""

    coding = "deflate"

    def __init__(self) -> None:
        self._obj: Any = zlib.decompressobj()
        self._seen = False
        # The input so far, until the first output: if the zlib header turns out wrong,
        # it is decoded again as raw deflate. None once the format is settled.
        self._probe: bytes | None = b""

    def decode(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        self._seen = True
        out: list[bytes] = []
        try:
            if self._probe is not None:
                self._probe += data
                try:
                    _run_zlib(self._obj, data, out)
                except zlib.error:
                    if out:
                        raise  # it was zlib after all: the data is corrupt
                    data, self._probe = self._probe, None
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    _run_zlib(self._obj, data, out)
                if out or self._obj.eof:
                    self._probe = None
            elif self._obj.eof:
                self._after_end(data)
            else:
                _run_zlib(self._obj, data, out)
        except zlib.error as exc:
            raise _corrupt(self.coding, exc) from exc
        if self._obj.eof and self._obj.unused_data:
            self._after_end(self._obj.unused_data)
        return out

    def _after_end(self, data: bytes) -> None:
        if data.strip(b"\x00"):
            raise DecodingError(self.coding, "data after the end of the compressed stream")

    def flush(self) -> list[bytes]:
        if self._seen and not self._obj.eof:
            raise _truncated(self.coding)
        return []


class BrotliDecoder:
    """``br``: one brotli stream (RFC 7932)."""

    coding = "br"

    def __init__(self, brotli: Any) -> None:
        self._error: type[Exception] = brotli.error
        self._obj = brotli.Decompressor()
        self._seen = False

    def decode(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        self._seen = True
        obj = self._obj
        out: list[bytes] = []
        try:
            if obj.is_finished():
                raise DecodingError(self.coding, "data after the end of the compressed stream")
            # Empty input drains what a full buffer held back, until nothing is left.
            piece = obj.process(data, output_buffer_limit=_BROTLI_LIMIT)
            while piece:
                out.append(piece)
                piece = obj.process(b"", output_buffer_limit=_BROTLI_LIMIT)
        except self._error as exc:
            raise _corrupt(self.coding, exc) from exc
        return out

    def flush(self) -> list[bytes]:
        if self._seen and not self._obj.is_finished():
            raise _truncated(self.coding)
        return []


class ZstdDecoder(_Members):
    """``zstd``: zstd frames (RFC 8878), one after another."""

    coding = "zstd"

    def __init__(self, zstd: Any) -> None:
        self._new: Callable[[], Any] = zstd.ZstdDecompressor
        self._error: type[Exception] = zstd.ZstdError
        self._obj: Any = None

    def decode(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            while data:
                if self._obj is None or self._obj.eof:
                    self._obj = self._new()
                obj = self._obj
                piece = obj.decompress(data, MAX_PIECE)
                while piece:
                    out.append(piece)
                    if obj.eof or obj.needs_input:
                        break
                    piece = obj.decompress(b"", MAX_PIECE)
                data = obj.unused_data if obj.eof else b""
        except self._error as exc:
            raise _corrupt(self.coding, exc) from exc
        return out


class _Chain:
    """Stacked codings, undone from the last applied to the first."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders
        self.coding = ", ".join(d.coding for d in reversed(decoders))

    def decode(self, data: bytes) -> list[bytes]:
        pieces = [data]
        for decoder in self._decoders:
            pieces = [out for piece in pieces for out in decoder.decode(piece)]
        return pieces

    def flush(self) -> list[bytes]:
        pieces: list[bytes] = []
        for decoder in self._decoders:
            pieces = [out for piece in pieces for out in decoder.decode(piece)]
            pieces += decoder.flush()
        return pieces


@functools.cache
def _brotli() -> Any:
    try:
        import brotli  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    # Before 1.2 the decompressor cannot bound its output (no output_buffer_limit).
    return brotli if hasattr(brotli.Decompressor, "can_accept_more_data") else None


@functools.cache
def zstd_module() -> Any:
    # Only the stdlib's module on 3.14+: before that, "compression" may be anyone's package.
    try:
        if sys.version_info >= (3, 14):
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]
        else:
            from backports import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return zstd


def _factories() -> dict[str, Callable[[], Decoder]]:
    factories: dict[str, Callable[[], Decoder]] = {
        "gzip": GzipDecoder,
        "deflate": DeflateDecoder,
    }
    brotli = _brotli()
    if brotli is not None:
        factories["br"] = functools.partial(BrotliDecoder, brotli)
    zstd = zstd_module()
    if zstd is not None:
        factories["zstd"] = functools.partial(ZstdDecoder, zstd)
    return factories


@functools.cache
def accept_encoding() -> str:
    """The ``Accept-Encoding`` value naming exactly the codings this installation decodes.

    Returns:
        ``"gzip, deflate"``, followed by ``br`` and ``zstd`` when their modules import.
    """
    return ", ".join(_factories())


_OPTIONAL = {"br": "the brotli package (>= 1.2)", "zstd": "the backports.zstd package"}


def make_decoder(content_encoding: str) -> Decoder | None:
    """The decoder for an answer's ``Content-Encoding`` value (None: nothing to undo).

    Args:
        content_encoding: the header's value, e.g. ``"gzip"`` or ``"gzip, br"``
            (repeated headers joined with commas).

    Returns:
        A fresh decoder for one body, or None for no coding (or only ``identity``).

    Raises:
        UnsupportedEncoding: a coding this installation cannot decode, or more than
            :data:`MAX_CODINGS` stacked.
    """
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [_ALIASES.get(c, c) for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > MAX_CODINGS:
        raise UnsupportedEncoding(
            ", ".join(codings), f"more than {MAX_CODINGS} stacked content codings are refused"
        )
    factories = _factories()
    for coding in codings:
        if coding not in factories:
            known = ", ".join(factories)
            hint = f"; install {_OPTIONAL[coding]}" if coding in _OPTIONAL else ""
            raise UnsupportedEncoding(
                coding, f"not a content coding this client can decode (it decodes {known}{hint})"
            )
    decoders = [factories[coding]() for coding in reversed(codings)]
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)
