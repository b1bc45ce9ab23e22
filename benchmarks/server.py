"""A fast loopback fake of the Helicone AI Gateway, for benchmarks only.

The point of this server is to cost almost nothing, so that the client under test is the
bottleneck. Every answer is serialised once, at start-up (or once per distinct stream length),
and a request is handled by a few ``bytes.find`` calls and one ``transport.write``. It runs in
its own process, pinned to the second CPU when there are two, with the client on the first.

Endpoints (all HTTP/1.1, keep-alive; request bodies must carry ``Content-Length``):

- ``POST /v1/chat/completions``: a ~600-byte ``chat.completion`` with ``usage`` and the Helicone
  response headers (``Helicone-Id``, ``Helicone-Provider``, ``Helicone-Model``). When the body
  contains ``"stream":true`` (or ``"stream": true``) it answers ``text/event-stream`` instead,
  in chunked transfer-encoding, one HTTP chunk per SSE event (``--events-per-chunk`` groups
  them): N ``chat.completion.chunk`` events of ~190 bytes each (N from the ``x-bench-chunks``
  request header, default 50), a final usage chunk with empty ``choices``, then
  ``data: [DONE]``. With the request header ``x-bench-encoding: gzip`` the stream is sent
  with ``content-encoding: gzip`` as a compressing proxy sends it: each HTTP chunk is one
  gzip sync-flushed piece (whatever the request's ``Accept-Encoding`` says).
- ``POST /v1/responses`` with ``"stream":true``: a Responses API event stream in OpenAI's
  order, ``event:`` and ``data:`` lines, one HTTP chunk per event: ``response.created``,
  ``response.in_progress``, the message item and its part added, ``response.output_text.delta``
  events (one word each, ~150 bytes), the text, part and item done, ``response.completed``
  (with the whole response and usage); N events in all (``x-bench-chunks``), no ``[DONE]``.
- ``POST /v1/embeddings``: a small ``list`` of one 8-float embedding with ``usage``.
- ``GET /_bench/stats``: ``{"cpu_s": <server process CPU seconds>, "requests": <count>,
  "max_in_flight": <most chat answers waiting at once>}``, so a benchmark can check how busy
  the server was during its measured window; ``POST /_bench/reset`` zeroes ``max_in_flight``
  and forgets the fault script's attempts.

Two options make it a slow, faulty provider (for ``bench_ray.py``), for whole chat answers:

- ``--latency-ms N`` answers each one N ms after its request arrived (as a provider's time to
  answer), without holding the connection's later requests back; ``max_in_flight`` then shows
  how many requests a client really kept in flight.
- ``--faults`` answers by the row number in the first message's content (``"r<n>"``): row
  n % 50 == 7 gets a 429 (``X-Helicone-Error: rate_limited``, no ``Retry-After``, as the
  gateway sends a rate-limit hit) on its first attempt, n % 50 == 13 a 503 on its first
  attempt, and n % 100 == 99 a 500 (``all_attempts_failed``) on every attempt.

Run it as ``python benchmarks/server.py [--port 0] [--events-per-chunk 1]``; it prints the bound
port on stdout (one line, just the number) once it is ready, and stops on SIGTERM, SIGINT or
end of stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
import zlib

from _affinity import pin_to_cpu

HELICONE_ID = "3f8a1c2e-7b4d-4e9a-9c61-2d5f0e8b7a13"
MODEL = "gpt-4o-mini-2024-07-18"
CHUNK_MODEL = "gpt-4o-mini"
CREATED = 1764240000
DEFAULT_CHUNKS = 50
MAX_CHUNKS = 1_000_000
_STREAM_CACHE_LIMIT = 32

_COMMON_HEADERS = (
    f"helicone-id: {HELICONE_ID}\r\n"
    "helicone-provider: openai\r\n"
    f"helicone-model: {MODEL}\r\n"
    "helicone-cache: MISS\r\n"
    "x-request-id: req_8c2a9e1f4b7d4a3c9e0f1a2b3c4d5e6f\r\n"
)


def _json(obj: object) -> bytes:
    # Compact separators, as OpenAI and the gateway send them.
    return json.dumps(obj, separators=(",", ":")).encode()


def _chat_completion_body() -> bytes:
    return _json(
        {
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Hello! How can I help you today?",
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 21,
                "total_tokens": 30,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_0ba0d124f1",
        }
    )


def _embedding_body() -> bytes:
    return _json(
        {
            "object": "list",
            "data": [
                {
                    "object": "embedding",
                    "index": 0,
                    "embedding": [
                        0.0023064255,
                        -0.009327292,
                        0.015797347,
                        -0.0077780345,
                        -0.0046922187,
                        0.014438018,
                        -0.012458436,
                        0.0040152483,
                    ],
                }
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )


def _response(status: str, content_type: str, body: bytes, *, helicone: bool = True) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        f"content-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\n"
        f"{_COMMON_HEADERS if helicone else ''}"
        "\r\n"
    )
    return head.encode() + body


CHAT_RESPONSE = _response("200 OK", "application/json", _chat_completion_body())
EMBEDDING_RESPONSE = _response("200 OK", "application/json", _embedding_body())
NOT_FOUND = _response(
    "404 Not Found",
    "application/json",
    _json({"success": False, "error": {"code": "not_found", "message": "no such route"}}),
    helicone=False,
)
BAD_REQUEST = _response(
    "400 Bad Request",
    "application/json",
    _json({"success": False, "error": {"code": "bad_request", "message": "malformed request"}}),
    helicone=False,
)
LENGTH_REQUIRED = _response(
    "411 Length Required",
    "application/json",
    _json({"success": False, "error": {"code": "length_required", "message": "need length"}}),
    helicone=False,
)

_STREAM_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "content-type: text/event-stream; charset=utf-8\r\n"
    "cache-control: no-cache\r\n"
    "transfer-encoding: chunked\r\n"
    f"{_COMMON_HEADERS}"
    "\r\n"
).encode()

# Tokens cycled through the content deltas; short words as a real model emits them.
_WORDS = (" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".")


def _sse_event(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def _chunk_payload(delta: dict[str, object], finish_reason: str | None) -> bytes:
    # ~195 bytes for a one-word delta, the size of a typical gateway chunk.
    return _json(
        {
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": CHUNK_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )


def _build_stream_events() -> tuple[bytes, list[bytes], bytes, list[bytes]]:
    first = _sse_event(_chunk_payload({"role": "assistant", "content": "", "refusal": None}, None))
    middle = [_sse_event(_chunk_payload({"content": word}, None)) for word in _WORDS]
    last = _sse_event(_chunk_payload({}, "stop"))
    usage = _json(
        {
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": CHUNK_MODEL,
            "choices": [],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 5000,
                "total_tokens": 5009,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
        }
    )
    return first, middle, last, [_sse_event(usage), _sse_event(b"[DONE]")]


_FIRST, _MIDDLE, _LAST, _TAIL = _build_stream_events()
_stream_cache: dict[tuple[int, bytes], bytes] = {}
# SSE events per HTTP chunk; 0 puts the whole stream in one chunk. Set by --events-per-chunk.
EVENTS_PER_CHUNK = 1


def stream_response(chunks: int, encoding: bytes = b"") -> bytes:
    """Return the whole pre-serialised streaming answer with ``chunks`` completion chunks.

    The first chunk carries the role, the last one ``finish_reason``; in between, content
    deltas. A usage chunk (empty ``choices``) and ``[DONE]`` follow, so the client sees
    ``chunks + 1`` JSON events. By default each SSE event is one HTTP chunk, as a gateway that
    flushes every event writes it; ``EVENTS_PER_CHUNK`` groups them. Answers are cached per
    length. ``encoding`` ``b"gzip"`` compresses each HTTP chunk as one sync-flushed piece.
    """
    key = (chunks, encoding)
    cached = _stream_cache.get(key)
    if cached is not None:
        return cached
    events = []
    if chunks >= 1:
        events.append(_FIRST)
    events.extend(_MIDDLE[i % len(_MIDDLE)] for i in range(max(chunks - 2, 0)))
    if chunks >= 2:
        events.append(_LAST)
    events.extend(_TAIL)
    step = EVENTS_PER_CHUNK or len(events)
    pieces = [b"".join(events[i : i + step]) for i in range(0, len(events), step)]
    head = _STREAM_HEAD
    if encoding == b"gzip":
        head = head.replace(b"\r\n\r\n", b"\r\ncontent-encoding: gzip\r\n\r\n")
        gz = zlib.compressobj(wbits=31)
        pieces = [gz.compress(piece) + gz.flush(zlib.Z_SYNC_FLUSH) for piece in pieces]
        pieces[-1] += gz.flush()
    parts = [head]
    parts.extend(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    parts.append(b"0\r\n\r\n")
    data = b"".join(parts)
    if len(_stream_cache) >= _STREAM_CACHE_LIMIT:
        _stream_cache.clear()
    _stream_cache[key] = data
    return data


def _responses_events(chunks: int) -> list[bytes]:
    """The ``chunks`` events of a Responses stream (at least the 8 around the deltas)."""
    deltas = max(chunks - 8, 1)
    words = [_WORDS[i % len(_WORDS)] for i in range(deltas)]
    text = "".join(words)
    rid, mid = "resp_68af2c3e9b7c8190a1d2e3f4a5b6c7d8", "msg_68af2c3f1e2d8190b3c4d5e6f7a8b9c0"
    base = {
        "id": rid,
        "object": "response",
        "created_at": CREATED,
        "model": MODEL,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "error": None,
        "incomplete_details": None,
    }
    part = {"type": "output_text", "text": "", "annotations": []}
    item = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    done_part = {**part, "text": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    final = {
        **base,
        "status": "completed",
        "output": [done_item],
        "usage": {
            "input_tokens": 9,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": deltas,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 9 + deltas,
        },
    }
    at = {"item_id": mid, "output_index": 0, "content_index": 0}
    payloads: list[dict[str, object]] = [
        {"type": "response.created", "response": base},
        {"type": "response.in_progress", "response": base},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **at, "part": part},
    ]
    payloads += [
        {"type": "response.output_text.delta", **at, "delta": word, "logprobs": []}
        for word in words
    ]
    payloads += [
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": done_part},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item},
        {"type": "response.completed", "response": final},
    ]
    return [
        b"event: %s\ndata: %s\n\n" % (str(p["type"]).encode(), _json({**p, "sequence_number": n}))
        for n, p in enumerate(payloads)
    ]


def responses_stream_response(chunks: int) -> bytes:
    """The whole pre-serialised Responses stream of ``chunks`` events (cached per length)."""
    key = (chunks, b"responses")
    cached = _stream_cache.get(key)
    if cached is not None:
        return cached
    parts = [_STREAM_HEAD]
    parts.extend(b"%x\r\n%s\r\n" % (len(e), e) for e in _responses_events(chunks))
    parts.append(b"0\r\n\r\n")
    data = b"".join(parts)
    if len(_stream_cache) >= _STREAM_CACHE_LIMIT:
        _stream_cache.clear()
    _stream_cache[key] = data
    return data


class _Stats:
    requests = 0
    in_flight = 0
    max_in_flight = 0


# Set by --latency-ms and --faults (see the module docstring).
LATENCY_S = 0.0
FAULTS = False
_attempts: dict[int, int] = {}
_ROW = re.compile(rb'"content":\s*"r(\d+)"')


def _error(status: str, code: str, message: str, extra: str = "") -> bytes:
    body = _json({"error": {"message": message, "type": code, "param": None, "code": code}})
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


RATE_LIMITED = _error(
    "429 Too Many Requests", "rate_limited", "Rate limited", "x-helicone-error: rate_limited\r\n"
)
UNAVAILABLE = _error("503 Service Unavailable", "service_unavailable", "provider unavailable")
ALL_FAILED = _error("500 Internal Server Error", "all_attempts_failed", "all attempts failed")


def fault_answer(body: bytes) -> bytes | None:
    """The fault script's answer to a chat request, or None for a normal answer."""
    match = _ROW.search(body)
    if match is None:
        return None
    row = int(match.group(1))
    seen = _attempts.get(row, 0)
    _attempts[row] = seen + 1
    if row % 50 == 7 and seen == 0:
        return RATE_LIMITED
    if row % 50 == 13 and seen == 0:
        return UNAVAILABLE
    if row % 100 == 99:
        return ALL_FAILED
    return None


class BenchProtocol(asyncio.Protocol):
    """One connection: parse HTTP/1.1 requests from a buffer, write pre-serialised answers."""

    __slots__ = ("_buf", "_transport")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while self._transport is not None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    self._finish(BAD_REQUEST, close=True)
                return
            if not self._handle(end):
                return

    def _finish(self, answer: bytes, *, close: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.write(answer)
        _Stats.requests += 1
        if close:
            transport.close()
            self._transport = None

    def _answer_later(self, answer: bytes, close: bool) -> None:
        _Stats.in_flight += 1
        _Stats.max_in_flight = max(_Stats.max_in_flight, _Stats.in_flight)
        asyncio.get_running_loop().call_later(LATENCY_S, self._answered, answer, close)

    def _answered(self, answer: bytes, close: bool) -> None:
        _Stats.in_flight -= 1
        self._finish(answer, close=close)

    def _handle(self, end: int) -> bool:
        """Handle the request whose head ends at ``end``; False when its body is incomplete."""
        buf = self._buf
        head = bytes(buf[:end])
        lines = head.split(b"\r\n")
        try:
            method, target, version = lines[0].split(b" ", 2)
        except ValueError:
            self._finish(BAD_REQUEST, close=True)
            return False
        length = 0
        chunks = DEFAULT_CHUNKS
        encoding = b""
        close = version != b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"x-bench-chunks":
                chunks = min(max(int(value), 0), MAX_CHUNKS)
            elif name == b"x-bench-encoding":
                encoding = value.strip().lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                self._finish(LENGTH_REQUIRED, close=True)
                return False
        body_start = end + 4
        if len(buf) < body_start + length:
            return False
        body = bytes(buf[body_start : body_start + length])
        del buf[: body_start + length]

        path = target.split(b"?", 1)[0]
        if method == b"POST" and path.endswith(b"/chat/completions"):
            if b'"stream":true' in body or b'"stream": true' in body:
                self._finish(stream_response(chunks, encoding), close=close)
            else:
                answer = (FAULTS and fault_answer(body)) or CHAT_RESPONSE
                if LATENCY_S:
                    self._answer_later(answer, close)
                else:
                    self._finish(answer, close=close)
        elif method == b"POST" and path.endswith(b"/responses"):
            self._finish(responses_stream_response(chunks), close=close)
        elif method == b"POST" and path.endswith(b"/embeddings"):
            self._finish(EMBEDDING_RESPONSE, close=close)
        elif method == b"GET" and path == b"/_bench/stats":
            stats = _json(
                {
                    "cpu_s": time.process_time(),
                    "requests": _Stats.requests,
                    "max_in_flight": _Stats.max_in_flight,
                }
            )
            self._finish(
                _response("200 OK", "application/json", stats, helicone=False), close=close
            )
        elif method == b"POST" and path == b"/_bench/reset":
            _Stats.max_in_flight = _Stats.in_flight
            _attempts.clear()
            self._finish(
                _response("200 OK", "application/json", b"{}", helicone=False), close=close
            )
        else:
            self._finish(NOT_FOUND, close=close)
        return True


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT or end of stdin, printing the bound port once ready."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BenchProtocol, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(bound, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def _stdin_readable() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    if not sys.stdin.isatty():
        # A stdin that cannot be polled (e.g. a regular file): rely on signals.
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            loop.add_reader(sys.stdin.fileno(), _stdin_readable)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPU 1")
    parser.add_argument(
        "--events-per-chunk",
        type=int,
        default=1,
        help="SSE events per HTTP chunk in streams (default 1; 0 = the whole stream in one)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="answer whole chat completions this long after their request (default 0)",
    )
    parser.add_argument(
        "--faults", action="store_true", help="the fault script of the module docstring"
    )
    args = parser.parse_args(argv)
    global EVENTS_PER_CHUNK, LATENCY_S, FAULTS
    EVENTS_PER_CHUNK = max(args.events_per_chunk, 0)
    LATENCY_S = max(args.latency_ms, 0.0) / 1000
    FAULTS = args.faults
    if not args.no_pin:
        pin_to_cpu(1)
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
