"""Micro-benchmarks: aiohelicone's SSE decoder against httpx2's SSE parser, per network chunk.

Run with::

    pytest benchmarks/bench_sse.py --benchmark-only

(The normal test run only collects ``tests/``, so this file is never picked up by it.)

What is measured is the pure parsing cost of one chunk, the unit of work in the streaming hot
path: a chunk holding one typical OpenAI-style ``chat.completion.chunk`` event of ~180 bytes.
For httpx2 the cost includes turning bytes into text with an incremental UTF-8 decoder, as
``EventSource`` does through ``Response.iter_text()``; its parser (``httpx2._sse._SSEParser``)
is private, so those benchmarks are skipped if it moves.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

try:
    from aiohelicone._sse import SSEDecoder
except ImportError:  # not installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from aiohelicone._sse import SSEDecoder

CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1710000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},'
    b'"finish_reason":null}]}\n\n'
)
CRLF_CHUNK = CHUNK.replace(b"\n", b"\r\n")
TEN_EVENTS = CHUNK * 10
# One event cut into three network reads, the middle one ending inside a line.
SPLIT = [CHUNK[:50], CHUNK[50:150], CHUNK[150:]]


def _ours() -> Callable[[bytes], list[Any]]:
    decoder = SSEDecoder()
    decoder.decode(b"data: warm-up\n\n")  # past the start-of-stream (BOM) check
    return decoder.decode


def _httpx2() -> Callable[[bytes], list[Any]]:
    sse = pytest.importorskip("httpx2._sse")
    parser_cls = getattr(sse, "_SSEParser", None)
    if parser_cls is None:
        pytest.skip("httpx2._sse._SSEParser is gone")
    parser = parser_cls(1024 * 1024)
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode

    def decode(chunk: bytes) -> list[Any]:
        return list(parser.decode(text(chunk)))

    decode(b"data: warm-up\n\n")
    return decode


DECODERS = {"aiohelicone": _ours, "httpx2": _httpx2}


@pytest.mark.benchmark(group="one event per chunk")
@pytest.mark.parametrize("impl", DECODERS)
def test_one_event_per_chunk(benchmark: Any, impl: str) -> None:
    """One typical ~180-byte event per chunk (the common case)."""
    decode = DECODERS[impl]()
    assert len(benchmark(decode, CHUNK)) == 1


@pytest.mark.benchmark(group="one CRLF event per chunk")
@pytest.mark.parametrize("impl", DECODERS)
def test_one_crlf_event_per_chunk(benchmark: Any, impl: str) -> None:
    """The same event with CRLF line ends (the decoder's slower path)."""
    decode = DECODERS[impl]()
    assert len(benchmark(decode, CRLF_CHUNK)) == 1


@pytest.mark.benchmark(group="ten events per chunk")
@pytest.mark.parametrize("impl", DECODERS)
def test_ten_events_per_chunk(benchmark: Any, impl: str) -> None:
    """Ten events arriving in one chunk (a fast server, a slow reader)."""
    decode = DECODERS[impl]()
    assert len(benchmark(decode, TEN_EVENTS)) == 10


@pytest.mark.benchmark(group="one event in three chunks")
@pytest.mark.parametrize("impl", DECODERS)
def test_event_split_over_three_chunks(benchmark: Any, impl: str) -> None:
    """One event whose bytes arrive in three reads, cut mid-line."""
    decode = DECODERS[impl]()

    def three() -> int:
        return len(decode(SPLIT[0])) + len(decode(SPLIT[1])) + len(decode(SPLIT[2]))

    assert benchmark(three) == 1
