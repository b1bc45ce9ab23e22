"""Compressed answers over real loopback sockets: every path decodes what it advertised.

The fake gateway compresses like a proxy in front of it (``FakeGateway(compress=...)`` and
the ``Compressed`` script step); a small raw-socket server writes a compressed stream one
byte per TCP send. Everything runs on asyncio and trio.
"""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import anyio.lowlevel
import httpx2
import pytest

from aiohelicone import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncHelicone,
    ContentDecodingError,
    InternalServerError,
    StreamTruncatedError,
)
from aiohelicone._decoders import accept_encoding
from aiohelicone.testing import (
    Compressed,
    Fail,
    FakeGateway,
    LoopbackServer,
    RawResponse,
    Reply,
    Stall,
    TruncatedStream,
    fake_client,
    no_retry_waits,
)

pytestmark = pytest.mark.anyio

MODEL = "gpt-4o-mini/openai"
KEY = "sk-helicone-compress"
CODINGS = ["gzip", "deflate", "deflate-raw", "br", "zstd", "gzip, br"]
TEXT = "a compressed answer, " * 20


def ask(text: str = "hi") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(autouse=True)
def no_waits() -> AsyncIterator[None]:
    with no_retry_waits():
        yield


def make_client(url: str, **kwargs: object) -> AsyncHelicone:
    kwargs.setdefault("max_retries", 2)
    return AsyncHelicone(api_key=KEY, base_url=f"{url}/v1", **kwargs)  # type: ignore[arg-type]


async def stream_text(client: AsyncHelicone, **kwargs: object) -> tuple[str, int]:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=ask(),
        stream=True,
        **kwargs,  # type: ignore[call-overload]
    )
    async with stream:
        chunks = [chunk async for chunk in stream]
    text = stream.accumulated.choices[0].message.content
    assert text is not None
    return text, len(chunks)


# -- every coding, every path ----------------------------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
async def test_a_compressed_answer_is_decoded(coding: str) -> None:
    """A JSON answer in each coding (and a stack of two) is decoded."""
    gateway = FakeGateway(compress=coding, responder=TEXT)
    async with gateway.serve() as server, make_client(server.url) as client:
        answer = await client.chat.completions.create(model=MODEL, messages=ask())
    assert answer.choices[0].message.content == TEXT
    assert gateway.last_request.compression == Compressed(coding)
    assert gateway.last_request.headers["accept-encoding"] == accept_encoding()


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("write_size", [None, 1])
async def test_a_compressed_stream_is_decoded(coding: str, write_size: int | None) -> None:
    """A stream in each coding yields every chunk, also when each byte is its own write."""
    gateway = FakeGateway(compress=Compressed(coding, write_size=write_size), responder=TEXT)
    async with gateway.serve() as server, make_client(server.url) as client:
        text, chunks = await stream_text(client)
    assert text == TEXT
    assert chunks == len(gateway.last_request.response_events) - 1  # all but [DONE]
    # Streams still ask for no compression; the proxy compressed it anyway.
    assert gateway.last_request.headers["accept-encoding"] == "identity"


async def test_the_issue_reproduction_two_chunks_a_finish_and_done() -> None:
    """The issue's case: a gzip SSE body with two content chunks, a finish and [DONE]."""
    events = [
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n',
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n',
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    gateway = FakeGateway()
    raw = RawResponse(
        200,
        body=[gzip.compress(b"".join(events))],
        headers={"content-encoding": "gzip"},
        content_type="text/event-stream",
    )
    gateway.script("*", [raw])
    async with gateway.serve() as server, make_client(server.url) as client:
        text, chunks = await stream_text(client)
    assert (text, chunks) == ("Hello", 3)


async def test_a_callers_client_build_request_path_decodes_too(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """With a caller's http_client (httpx2's build_request path) answers are decoded by us."""
    gateway.script("*", [Compressed("deflate-raw", write_size=1), Compressed("zstd")])
    async with httpx2.AsyncClient() as http, make_client(server.url, http_client=http) as client:
        text, _ = await stream_text(client)
        answer = await client.chat.completions.create(model=MODEL, messages=ask())
    assert text == answer.choices[0].message.content == "You said: hi"
    assert gateway.last_request.headers["accept-encoding"] == accept_encoding()


async def test_rest_answers_are_decoded() -> None:
    """The REST API's answers (through the caller-client path) are decoded too."""
    gateway = FakeGateway(compress="br")
    async with (
        gateway.serve() as server,
        make_client(server.url, rest_base_url=server.url) as client,
    ):
        done = await client.chat.completions.create(model=MODEL, messages=ask())
        assert done.helicone is not None and done.helicone.request_id is not None
        await client.requests.feedback(done, True)
        logged = await client.requests.get(done.helicone.request_id)
    assert logged.feedback is True
    assert all(record.compression is not None for record in gateway.requests)


async def test_a_fallback_attempt_is_decoded() -> None:
    """A client-side fallback chain decodes the error it moved on from and the answer."""
    gateway = FakeGateway(compress="gzip")
    gateway.script("gpt-4o-mini/openai", [Fail(503)])
    async with gateway.serve() as server, make_client(server.url, max_retries=0) as client:
        answer = await client.chat.completions.create(
            model="gpt-4o-mini/openai,claude-3.5-haiku/anthropic", messages=ask()
        )
        stream = await client.chat.completions.create(
            model="gpt-4o-mini/openai,claude-3.5-haiku/anthropic", messages=ask(), stream=True
        )
        async with stream:
            assert [chunk async for chunk in stream]
    assert answer.choices[0].message.content == "You said: hi"
    assert answer.helicone is not None
    assert [a.outcome for a in answer.helicone.attempts][-1] == "ok"
    assert len(answer.helicone.attempts) == 2
    assert stream.accumulated.choices[0].message.content == "You said: hi"


async def test_a_compressed_error_body_is_read_and_retried() -> None:
    """A 503 whose body is gzip is parsed (its message shows) and retried as a 503 is."""
    gateway = FakeGateway(compress="gzip", passthrough_errors=True)
    gateway.script(MODEL, [Fail(503, message="upstream overloaded")], repeat=True)
    async with gateway.serve() as server, make_client(server.url) as client:
        with pytest.raises(InternalServerError, match="upstream overloaded"):
            await client.chat.completions.create(model=MODEL, messages=ask())
    assert len(gateway.requests) == 3  # the first try and two retries


# -- codings that cannot be decoded ----------------------------------------------------------


def snappy(content_type: str) -> RawResponse:
    return RawResponse(
        200,
        body=b"\xff\x06\x00\x00sNaPpY binary",
        headers={"content-encoding": "snappy"},
        content_type=content_type,
    )


async def test_an_unknown_coding_raises_naming_it_and_is_not_retried() -> None:
    """``content-encoding: snappy`` raises ContentDecodingError, not a JSON error; one try."""
    gateway = FakeGateway()
    gateway.script("*", [snappy("application/json")], repeat=True)
    async with gateway.serve() as server, make_client(server.url) as client:
        with pytest.raises(ContentDecodingError, match="snappy") as caught:
            await client.chat.completions.create(model=MODEL, messages=ask())
    assert caught.value.encoding == "snappy"
    assert caught.value.unsupported is True
    assert caught.value.status_code == 200
    assert "sNaPpY" not in str(caught.value)
    assert len(gateway.requests) == 1


async def test_an_unknown_coding_on_a_stream_is_not_a_truncation() -> None:
    """A snappy event stream raises ContentDecodingError before any chunk, not a cut."""
    gateway = FakeGateway()
    gateway.script("*", [snappy("text/event-stream")], repeat=True)
    async with gateway.serve() as server, make_client(server.url) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=ask(), stream=True)
        with pytest.raises(ContentDecodingError, match="snappy") as caught:
            async with stream:
                async for _ in stream:
                    pass
    assert not isinstance(caught.value, StreamTruncatedError)
    assert len(gateway.requests) == 1


async def test_an_unknown_coding_does_not_fall_back() -> None:
    """The next target would come through the same encoding hop: the chain stops there."""
    gateway = FakeGateway()
    gateway.script("gpt-4o-mini/openai", [snappy("application/json")])
    async with gateway.serve() as server, make_client(server.url, max_retries=0) as client:
        with pytest.raises(ContentDecodingError):
            await client.chat.completions.create(
                model="gpt-4o-mini/openai,claude-3.5-haiku/anthropic", messages=ask()
            )
    assert len(gateway.requests) == 1


# -- corrupt bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "corrupt", "problem"),
    [
        ("gzip", "checksum", "corrupt"),
        ("deflate", "checksum", "corrupt"),
        ("gzip", "truncate", "truncated"),
        ("deflate-raw", "truncate", "truncated"),
        ("br", "truncate", "truncated"),
        ("zstd", "truncate", "truncated"),
    ],
)
async def test_a_corrupt_answer_raises_naming_the_coding(
    coding: str, corrupt: str, problem: str
) -> None:
    """A bad trailer or a cut compressed body raises ContentDecodingError; not retried."""
    gateway = FakeGateway()
    gateway.script("*", [Compressed(coding, corrupt=corrupt)], repeat=True)
    async with gateway.serve() as server, make_client(server.url) as client:
        with pytest.raises(ContentDecodingError, match=problem) as caught:
            await client.chat.completions.create(model=MODEL, messages=ask())
    name = "deflate" if coding == "deflate-raw" else coding
    assert caught.value.encoding == name
    assert caught.value.unsupported is False
    assert isinstance(caught.value, APIResponseValidationError)
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
async def test_a_cut_compressed_stream_keeps_its_partial_output(coding: str) -> None:
    """A stream whose compressed data ends early is a cut stream: partial text, the cause."""
    gateway = FakeGateway(responder=TEXT)
    gateway.script("*", [Compressed(coding, corrupt="truncate", write_size=3)])
    async with gateway.serve() as server, make_client(server.url) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=ask(), stream=True)
        received: list[str] = []
        with pytest.raises(StreamTruncatedError, match=f"'{coding}' body") as caught:
            async for chunk in stream.text_deltas():
                received.append(chunk)
    partial = caught.value.partial.choices[0].message.content  # type: ignore[attr-defined]
    assert partial == "".join(received)
    assert TEXT.startswith(partial) and partial
    cause = caught.value.__cause__
    assert isinstance(cause, ContentDecodingError) and cause.encoding == coding


async def test_a_bad_checksum_after_done_does_not_undo_a_complete_stream() -> None:
    """After [DONE] the rest is only drained (as for any stream), so a bad trailer is moot."""
    gateway = FakeGateway(responder=TEXT)
    gateway.script("*", [Compressed("gzip", corrupt="checksum", write_size=3)])
    async with gateway.serve() as server, make_client(server.url) as client:
        text, _ = await stream_text(client)
    assert text == TEXT


async def test_a_compressed_stream_cut_by_the_server_is_truncated() -> None:
    """A compressed stream whose connection is reset is the usual broken connection."""
    gateway = FakeGateway()
    gateway.script("*", [Compressed("gzip", then=TruncatedStream(after_chunks=2, clean=False))])
    async with gateway.serve() as server, make_client(server.url) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=ask(), stream=True)
        with pytest.raises(APIConnectionError, match="broke after 2 chunks"):
            async with stream:
                async for _ in stream:
                    pass
    assert stream.accumulated.choices[0].message.content == "You"


async def test_a_proxy_labelling_raw_deflate_as_deflate_is_understood() -> None:
    """Raw deflate sent as ``deflate`` (a common server bug) decodes, one byte at a time."""
    gateway = FakeGateway()
    gateway.script("*", [Compressed("deflate-raw", write_size=1, then=Reply(text=TEXT))])
    async with gateway.serve() as server, make_client(server.url) as client:
        answer = await client.chat.completions.create(model=MODEL, messages=ask())
    assert answer.choices[0].message.content == TEXT


# -- one byte per TCP write ------------------------------------------------------------------


def sse_body(text: str) -> bytes:
    words = text.split(" ")
    events = [
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"%s "}}]}\n\n' % w.encode()
        for w in words
    ]
    events.append(
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    )
    return b"".join(events) + b"data: [DONE]\n\n"


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


@asynccontextmanager
async def byte_server(head: bytes, body: bytes) -> AsyncIterator[str]:
    """Answer every request with ``head`` then ``body``, one byte per send, then close."""

    async def handle(client: anyio.abc.SocketStream) -> None:
        async with client:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await client.receive()
            await client.send(head)
            for index in range(len(body)):
                await client.send(body[index : index + 1])
                await anyio.lowlevel.checkpoint()  # let the reader run between bytes

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        yield f"http://127.0.0.1:{port}"
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [("gzip", gzip.compress), ("deflate", raw_deflate), ("deflate", zlib.compress)],
)
async def test_one_byte_tcp_writes_of_a_compressed_stream(
    coding: str, encode: Callable[[bytes], bytes]
) -> None:
    """A close-delimited compressed stream sent one byte per TCP write decodes fully."""
    text = "one byte at a time over the wire"
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"content-encoding: " + coding.encode() + b"\r\nconnection: close\r\n\r\n"
    )
    async with byte_server(head, encode(sse_body(text))) as url, make_client(url) as client:
        streamed, chunks = await stream_text(client)
    assert streamed == text + " "
    assert chunks == len(text.split(" ")) + 1


# -- the fake's options ----------------------------------------------------------------------


async def test_the_in_process_transport_is_decoded_too() -> None:
    """fake_client (httpx2's ASGITransport, no socket) gets decoded answers and streams."""
    gateway = FakeGateway(compress="gzip", responder=TEXT)
    async with fake_client(gateway) as client:
        answer = await client.chat.completions.create(model=MODEL, messages=ask())
        text, _ = await stream_text(client)
    assert answer.choices[0].message.content == text == TEXT


async def test_a_header_override_labels_the_body() -> None:
    """``header=`` sends another name: ``x-gzip`` is read as gzip, a wrong label is corrupt."""
    gateway = FakeGateway()
    gateway.script("*", [Compressed("gzip", header="x-gzip"), Compressed("gzip", header="br")])
    async with gateway.serve() as server, make_client(server.url) as client:
        answer = await client.chat.completions.create(model=MODEL, messages=ask())
        with pytest.raises(ContentDecodingError) as caught:
            await client.chat.completions.create(model=MODEL, messages=ask())
    assert answer.choices[0].message.content == "You said: hi"
    assert (caught.value.encoding, caught.value.unsupported) == ("br", False)


def test_the_fakes_compression_options_are_checked() -> None:
    """Unknown codings, corruptions and write sizes are refused when the fake is set up."""
    with pytest.raises(ValueError, match="snappy"):
        FakeGateway(compress="snappy")
    with pytest.raises(ValueError, match="corrupt"):
        Compressed("gzip", corrupt="scramble")
    with pytest.raises(ValueError, match="write_size"):
        Compressed("gzip", write_size=0)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
async def test_compressed_chunks_arrive_before_the_body_ends(coding: str) -> None:
    """Nothing waits for the whole body: chunks sent before a stall are read during it."""
    gateway = FakeGateway()
    gateway.script("*", [Compressed(coding, then=Stall(math.inf, after_chunks=2))])
    async with gateway.serve() as server, make_client(server.url) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=ask(), stream=True)
        async with stream:
            with anyio.fail_after(10):  # a guard against a hang, not a timing assertion
                first = [await stream.__anext__(), await stream.__anext__()]
    assert first[1].choices[0].delta.content == "You"
    assert gateway.last_request.completed_at is None  # the server was still stalling
