"""Layer 8 (test kit): compress a planned answer as a compressing proxy would.

A proxy (a CDN, a corporate gateway) that compresses an answer sets ``Content-Encoding``,
drops the upstream ``Content-Length`` (the server frames the new body: a one-piece answer
gets the compressed length, a stream goes out chunked) and, for a stream, flushes the
compressor after every upstream piece so that each event leaves at once (a sync flush,
as nginx's gzip filter does on each buffer it passes on). Pure: steps in, steps out.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from ._emit import Abort, Body, Start, Step
from ._outcomes import Compressed

__all__ = ["CODINGS", "compress_steps", "header_value"]

#: Codings the fake can apply. ``deflate-raw`` is raw deflate (RFC 1951) sent under the
#: name ``deflate``, as many servers do; ``deflate`` is the zlib format RFC 9110 asks for.
CODINGS = ("gzip", "deflate", "deflate-raw", "br", "zstd")


class _Encoder:
    """One coding's compressor: ``piece`` for a flushed piece, ``finish`` for the end."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._obj: Any
        if coding in ("gzip", "deflate", "deflate-raw"):
            wbits = {"gzip": 31, "deflate": 15, "deflate-raw": -15}[coding]
            self._obj = zlib.compressobj(wbits=wbits)
        elif coding == "br":
            import brotli  # type: ignore[import-untyped,unused-ignore]

            self._obj = brotli.Compressor()
        elif coding == "zstd":
            from aiohelicone._decoders import zstd_module

            zstd = zstd_module()
            if zstd is None:
                raise ImportError("zstd compression needs backports.zstd (or Python 3.14)")
            self._zstd = zstd
            self._obj = zstd.ZstdCompressor()
        else:
            raise ValueError(f"unknown coding {coding!r}; the fake applies {', '.join(CODINGS)}")

    def piece(self, data: bytes) -> bytes:
        if self.coding == "br":
            return bytes(self._obj.process(data) + self._obj.flush())
        if self.coding == "zstd":
            return bytes(self._obj.compress(data, mode=self._zstd.ZstdCompressor.FLUSH_BLOCK))
        return bytes(self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH))

    def finish(self) -> bytes:
        if self.coding == "br":
            return bytes(self._obj.finish())
        if self.coding == "zstd":
            return bytes(self._obj.flush(mode=self._zstd.ZstdCompressor.FLUSH_FRAME))
        return bytes(self._obj.flush())


def _codings(spec: Compressed) -> list[str]:
    return [c.strip() for c in spec.coding.split(",") if c.strip()]


def header_value(spec: Compressed) -> str:
    """The ``Content-Encoding`` value ``spec`` puts on the answer.

    Args:
        spec: the compression.

    Returns:
        E.g. ``"gzip"``, ``"deflate"`` (also for ``deflate-raw``) or ``"gzip, br"``.

    Raises:
        ValueError: a coding the fake cannot apply (``brotli`` or ``zstd`` not installed
            raise ImportError instead).
    """
    if spec.header is not None:
        return spec.header
    names = []
    for coding in _codings(spec):
        _Encoder(coding)  # fails early, with the reason, for a coding it cannot apply
        names.append("deflate" if coding == "deflate-raw" else coding)
    return ", ".join(names)


def _corrupt_checksum(data: bytes, codings: list[str]) -> bytes:
    # gzip ends with CRC-32 then the length, zlib with the Adler-32: flip a checksum bit.
    offset = {"gzip": 8, "deflate": 4}.get(codings[-1])
    if offset is None or len(data) < offset:
        raise ValueError("corrupt='checksum' needs gzip or deflate as the last coding")
    damaged = bytearray(data)
    damaged[-offset] ^= 0x01
    return bytes(damaged)


def compress_steps(steps: Sequence[Step], spec: Compressed) -> list[Step]:
    """``steps`` with every body compressed as ``spec`` says.

    Args:
        steps: the planned answer.
        spec: the compression (codings, corruption, write size).

    Returns:
        The new steps: the same status and sleeps, ``content-encoding`` set,
        ``content-length`` dropped, each body piece compressed and flushed. An answer
        that aborts keeps its abort, and its compressed data stays unfinished.
    """
    codings = _codings(spec)
    encoders = [_Encoder(coding) for coding in codings]
    name = header_value(spec)
    bodies = [i for i, step in enumerate(steps) if isinstance(step, Body)]
    aborts = any(isinstance(step, Abort) for step in steps)
    last = bodies[-1] if bodies and not aborts else None
    out: list[Step] = []
    for index, step in enumerate(steps):
        if isinstance(step, Start):
            kept = [h for h in step.headers if h[0] not in ("content-length", "content-encoding")]
            out.append(Start(step.status, (*kept, ("content-encoding", name))))
            continue
        if not isinstance(step, Body):
            out.append(step)
            continue
        data = step.data
        for encoder in encoders:
            data = encoder.piece(data)
            if index == last:
                data += encoder.finish() if spec.corrupt != "truncate" else b""
        if index == last and spec.corrupt == "checksum":
            data = _corrupt_checksum(data, codings)
        if index == last and spec.corrupt == "truncate":
            data = data[: len(data) // 2]  # the body ends inside the last piece
        size = spec.write_size or len(data) or 1
        out.extend(Body(data[i : i + size]) for i in range(0, len(data), size))
    return out
