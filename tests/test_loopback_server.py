"""The loopback server over real sockets: incremental streams, keep-alive, resets, stalls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any

import anyio
import anyio.abc
import httpx2
import pytest

from aiohelicone.testing import (
    FakeGateway,
    LoopbackServer,
    Reply,
    Reset,
    SlowDrip,
    Stall,
    TruncatedStream,
    serve,
)
from aiohelicone.testing._emit import Receive, Scope, Send

pytestmark = pytest.mark.anyio

AUTH = {"authorization": "Bearer sk-helicone-test"}
BROKEN = (httpx2.ReadError, httpx2.RemoteProtocolError)


def body(stream: bool = False, **extra: Any) -> dict[str, Any]:
    """A chat completion body."""
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        **extra,
    }


async def wait_until(predicate: Callable[[], object], timeout: float = 2.0) -> None:
    """Poll until ``predicate()`` is truthy."""
    deadline = anyio.current_time() + timeout
    while True:
        if predicate():
            return
        if anyio.current_time() > deadline:
            raise TimeoutError("condition not met in time")
        await anyio.sleep(0.01)


async def raw_exchange(server: LoopbackServer, request: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    stream = await anyio.connect_tcp(server.host, server.port)
    data = b""
    async with stream:
        await stream.send(request)
        with anyio.fail_after(2):
            try:
                while True:
                    data += await stream.receive()
            except anyio.EndOfStream:
                pass
    return data


async def collect(client: httpx2.AsyncClient, url: str, sink: list[str]) -> None:
    """Stream a chat completion, appending each data line to ``sink``."""
    async with client.stream("POST", url, json=body(stream=True)) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                sink.append(line)


async def test_stream_events_arrive_incrementally() -> None:
    """Events sent 0.05 s apart arrive spaced, not buffered into one read."""
    gw = FakeGateway(responder="a b c", stream_interval=0.05)
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        arrivals = []
        url = server.url + "/v1/chat/completions"
        async with c.stream("POST", url, json=body(stream=True)) as r:
            assert r.headers["transfer-encoding"] == "chunked"
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    arrivals.append(anyio.current_time())
    # role, 3 deltas, finish, usage, [DONE]: 7 events, 6 gaps of 0.05 s
    assert len(arrivals) == 7
    assert arrivals[-1] - arrivals[0] >= 0.25
    assert arrivals[1] - arrivals[0] >= 0.03


async def test_keep_alive_reuses_one_connection() -> None:
    """20 sequential requests (JSON and streams) use a single TCP connection."""
    gw = FakeGateway()
    async with gw.serve() as server:
        async with httpx2.AsyncClient(base_url=server.url + "/v1", headers=AUTH) as c:
            for i in range(20):
                r = await c.post("/chat/completions", json=body(stream=i % 2 == 1))
                assert r.status_code == 200
            assert r.text.endswith("data: [DONE]\n\n")
            assert server.connections_total == 1
            assert server.connections_open == 1
        await wait_until(lambda: server.connections_open == 0)
    assert server.errors == []


async def test_json_answers_have_content_length() -> None:
    """A one-message body is sent with Content-Length."""
    gw = FakeGateway()
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        r = await c.post(server.url + "/v1/chat/completions", json=body())
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.json()["object"] == "chat.completion"


async def test_chunked_request_body_is_read() -> None:
    """A chunked upload is decoded before the app sees it."""
    gw = FakeGateway()

    async def upload() -> AsyncIterator[bytes]:
        data = json.dumps(body()).encode()
        for i in range(0, len(data), 7):
            yield data[i : i + 7]

    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        r = await c.post(server.url + "/v1/chat/completions", content=upload())
    assert r.status_code == 200
    assert gw.last_request.headers["transfer-encoding"] == "chunked"
    assert gw.last_request.json == body()


async def test_reset_breaks_the_connection() -> None:
    """Reset(): the client gets a read or protocol error, and can reconnect."""
    gw = FakeGateway()
    gw.script("*", [Reset()])
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        url = server.url + "/v1/chat/completions"
        with pytest.raises(BROKEN):
            await c.post(url, json=body())
        again = await c.post(url, json=body())
    assert again.status_code == 200
    assert gw.requests[0].aborted
    assert server.connections_total == 2


async def test_unclean_truncation_mid_stream() -> None:
    """TruncatedStream(clean=False): some events, then a broken connection."""
    gw = FakeGateway()
    gw.script("*", [TruncatedStream(after_chunks=2, clean=False)])
    got: list[str] = []
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        url = server.url + "/v1/chat/completions"
        with pytest.raises(BROKEN):
            await collect(c, url, got)
    assert len(got) == 2


async def test_clean_truncation_ends_without_done() -> None:
    """TruncatedStream(clean=True): a complete HTTP body that lacks [DONE]."""
    gw = FakeGateway()
    gw.script("*", [TruncatedStream(after_chunks=3)])
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        r = await c.post(server.url + "/v1/chat/completions", json=body(stream=True))
    assert r.text.count("data: ") == 3
    assert "[DONE]" not in r.text


async def test_stall_hits_the_client_read_timeout() -> None:
    """Stall(): the client's read timeout fires, and the gateway sees it leave."""
    gw = FakeGateway()
    gw.script("*", [Stall()])
    timeout = httpx2.Timeout(5.0, read=0.2)
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH, timeout=timeout) as c:
        with pytest.raises(httpx2.ReadTimeout):
            await c.post(server.url + "/v1/chat/completions", json=body())
        await wait_until(lambda: gw.last_request.closed_by_client_at is not None)
    assert gw.last_request.status is None


async def test_stall_mid_stream_is_an_idle_gap() -> None:
    """Stall(after_chunks=2): two events arrive, then nothing until the read timeout."""
    gw = FakeGateway()
    gw.script("*", [Stall(after_chunks=2)])
    got: list[str] = []
    timeout = httpx2.Timeout(5.0, read=0.2)
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH, timeout=timeout) as c:
        url = server.url + "/v1/chat/completions"
        with pytest.raises(httpx2.ReadTimeout):
            await collect(c, url, got)
    assert len(got) == 2


async def test_client_disconnect_mid_stream_is_seen_within_a_second() -> None:
    """Closing the socket mid-stream stops the gateway's stream promptly.

    A raw socket rather than httpx2: breaking out of httpx2's nested line/text/byte
    iterators leaves inner async generators unfinished, which trio reports as a warning.
    """
    gw = FakeGateway(responder=" ".join(["word"] * 50))
    gw.script("*", [SlowDrip(0.05)])
    payload = json.dumps(body(stream=True)).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    ) % (len(payload), payload)
    async with gw.serve() as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(request)
            received = b""
            with anyio.fail_after(2):
                while received.count(b"data: ") < 3:
                    received += await stream.receive()
        left_at = gw.clock()
        record = gw.last_request
        await wait_until(lambda: record.closed_by_client_at is not None, timeout=1.0)
        assert record.closed_by_client_at is not None
        assert record.closed_by_client_at - left_at < 1.0
        assert record.completed_at is None
        await wait_until(lambda: server.connections_open == 0)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert b"transfer-encoding: chunked" in received


async def test_shutdown_with_a_request_in_flight() -> None:
    """Leaving serve() cancels stalled handlers promptly; the client sees a dropped connection."""
    gw = FakeGateway()
    gw.script("*", [Stall()])
    failures: list[Exception] = []
    with anyio.fail_after(5):
        async with httpx2.AsyncClient(headers=AUTH) as c, anyio.create_task_group() as tg:
            async with gw.serve() as server:

                async def call() -> None:
                    try:
                        await c.post(server.url + "/v1/chat/completions", json=body())
                    except httpx2.TransportError as exc:
                        failures.append(exc)

                tg.start_soon(call)
                await wait_until(lambda: gw.requests)
            assert server.connections_open == 0
    assert len(failures) == 1
    assert isinstance(failures[0], BROKEN)


async def test_slow_drip_json_body_arrives_whole() -> None:
    """A dripped JSON answer is still one valid body for the client."""
    gw = FakeGateway()
    gw.script("*", [SlowDrip(0.01, Reply(text="dripped"))])
    async with gw.serve() as server, httpx2.AsyncClient(headers=AUTH) as c:
        r = await c.post(server.url + "/v1/chat/completions", json=body())
    assert r.json()["choices"][0]["message"]["content"] == "dripped"


async def test_malformed_request_gets_400() -> None:
    """A malformed request line is answered 400 and the connection closed."""
    async with FakeGateway().serve() as server:
        data = await raw_exchange(server, b"NONSENSE\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ")


async def test_connection_close_is_honoured() -> None:
    """'Connection: close' gets the header back and the socket closed after the answer."""
    request = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    async with FakeGateway().serve() as server:
        data = await raw_exchange(server, request)
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in head.lower()
    assert json.loads(payload)["object"] == "list"


async def test_app_errors_become_500_and_are_kept() -> None:
    """An app exception before the answer gives 500 and lands in server.errors."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("app bug")

    async with serve(broken) as server, httpx2.AsyncClient() as c:
        r = await c.get(server.url + "/")
    assert r.status_code == 500
    assert [str(e) for e in server.errors] == ["app bug"]


async def test_url_and_port() -> None:
    """server.url is http://127.0.0.1:<port> with a real free port."""
    async with FakeGateway().serve() as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        assert "127.0.0.1" in repr(server)


async def test_errors_in_the_block_propagate_unwrapped() -> None:
    """An exception inside 'async with serve()' comes out as itself, not in a group."""
    with pytest.raises(ValueError, match="mine"):
        async with FakeGateway().serve():
            raise ValueError("mine")


async def test_http_10_stream_is_close_delimited() -> None:
    """An HTTP/1.0 client gets a stream without chunked coding, ended by the close."""
    payload = json.dumps(body(stream=True)).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: %d\r\n\r\n%s"
    ) % (len(payload), payload)
    async with FakeGateway().serve() as server:
        data = await raw_exchange(server, request)
    head, _, stream_body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert stream_body.startswith(b"data: {")
    assert stream_body.endswith(b"data: [DONE]\n\n")


# -- limits and framing (issue #20 item 11) ---------------------------------------------------


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """A tiny app answering the length of the request body it received."""
    message = await receive()
    data = str(len(message.get("body", b""))).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": data})


def post(headers: bytes, payload: bytes = b"") -> bytes:
    """A raw POST with the given extra header lines (each ending in CRLF)."""
    return b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n" + payload


async def read_to_close(stream: anyio.abc.ByteStream) -> bytes:
    """Everything the server sends until it closes (guarded: a hang fails the test)."""
    data = b""
    with anyio.fail_after(5):
        try:
            while True:
                data += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return data


async def test_a_head_that_never_completes_gets_408() -> None:
    """A partial request head is answered 408 at header_timeout, and the app never sees it."""
    gw = FakeGateway()
    async with gw.serve(header_timeout=0.2) as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
            data = await read_to_close(stream)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert gw.requests == []


async def test_slowloris_drip_is_cut_off_at_the_deadline() -> None:
    """A byte every 50 ms never ends the head; the deadline is for the whole head, not a read."""
    async with serve(echo_length, header_timeout=0.3) as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream, anyio.create_task_group() as tg:

            async def drip() -> None:
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    await stream.send(b"GET / HTTP/1.1\r\n")
                    while True:
                        await stream.send(b"X")
                        await anyio.sleep(0.05)

            tg.start_soon(drip)
            data = await read_to_close(stream)
            tg.cancel_scope.cancel()
        await wait_until(lambda: server.connections_open == 0, timeout=5)
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_idle_keep_alive_connection_is_closed_without_an_answer() -> None:
    """After an answer, a connection that sends nothing is closed at header_timeout, no 408."""
    async with serve(echo_length, header_timeout=0.2) as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            data = await read_to_close(stream)
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"\r\n\r\n3")  # the only answer: nothing after it


def head_of_size(size: int) -> bytes:
    """A GET whose head, final blank line included, is exactly ``size`` bytes."""
    start = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
    pad = size - len(start) - 4
    return start + b"a" * pad + b"\r\n\r\n"


@pytest.mark.parametrize(("size", "status"), [(1024, b"200"), (1025, b"431")])
async def test_the_header_cap_is_exact(size: int, status: bytes) -> None:
    """max_header_size counts the head's bytes as they arrive: 1024 passes, 1025 gets 431."""
    request = head_of_size(size)
    assert len(request) == size
    async with serve(echo_length, max_header_size=1024) as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            for i in range(0, len(request), 100):  # in pieces: counted across reads
                await stream.send(request[i : i + 100])
            data = await read_to_close(stream)
    assert data.startswith(b"HTTP/1.1 " + status)


async def test_the_default_header_cap_is_64_kib() -> None:
    """A 100 KB head sent at once is refused (before, a cap checked per read let ~127 KB in)."""
    async with serve(echo_length) as server:
        fits = await raw_exchange(server, head_of_size(64 * 1024))
        over = await raw_exchange(server, head_of_size(100_000))
    assert fits.startswith(b"HTTP/1.1 200 ")
    assert over.startswith(b"HTTP/1.1 431 ")


async def test_a_declared_body_over_the_cap_gets_413_unread() -> None:
    """Content-Length over max_body_size is refused at once: the body is never sent here."""
    gw = FakeGateway()
    async with gw.serve() as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 120000000\r\nExpect: 100-continue\r\n\r\n"
            )
            data = await read_to_close(stream)
    assert data.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in data
    assert gw.requests == []


async def test_body_cap_with_content_length_and_chunks() -> None:
    """A body of exactly max_body_size is read; one byte more (either framing) gets 413."""
    async with serve(echo_length, max_body_size=1000) as server:
        exact = await raw_exchange(server, post(b"Content-Length: 1000\r\n", b"a" * 1000))
        over = await raw_exchange(server, post(b"Content-Length: 1001\r\n", b"a" * 1001))
        chunks = b"1f4\r\n" + b"a" * 500 + b"\r\n" + b"1f5\r\n" + b"a" * 501 + b"\r\n0\r\n\r\n"
        chunked = await raw_exchange(server, post(b"Transfer-Encoding: chunked\r\n", chunks))
    assert exact.startswith(b"HTTP/1.1 200 ") and exact.endswith(b"1000")
    assert over.startswith(b"HTTP/1.1 413 ")
    assert chunked.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: +3\r\n",
        b"Content-Length: 0_3\r\n",
        b"Content-Length: 0x3\r\n",
        b"Content-Length: -3\r\n",
        b"Content-Length: 3.0\r\n",
        b"Content-Length: 3, 4\r\n",
        b"Content-Length: 3\r\nContent-Length: 4\r\n",
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked, gzip\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ],
)
async def test_ambiguous_framing_gets_400(headers: bytes) -> None:
    """Content-Length is 1*DIGIT, repeats must agree, and TE with CL is refused (RFC 9112 §6.3)."""
    async with serve(echo_length) as server:
        data = await raw_exchange(server, post(headers, b"abc"))
    assert data.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("size", [b"+3", b"0x3", b"0_3", b" 3"])
async def test_chunk_sizes_are_hex_digits_only(size: bytes) -> None:
    """A chunk size with a sign, a 0x prefix or an underscore is refused with 400."""
    chunks = size + b"\r\nabc\r\n0\r\n\r\n"
    async with serve(echo_length) as server:
        data = await raw_exchange(server, post(b"Transfer-Encoding: chunked\r\n", chunks))
    assert data.startswith(b"HTTP/1.1 400 ")


async def test_agreeing_content_lengths_and_chunk_extensions_are_read() -> None:
    """Repeated equal Content-Length values and a chunk extension are valid framing."""
    async with serve(echo_length) as server:
        twice = await raw_exchange(
            server, post(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc")
        )
        listed = await raw_exchange(server, post(b"Content-Length: 003, 3\r\n", b"abc"))
        chunks = b"3 ;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
        chunked = await raw_exchange(server, post(b"Transfer-Encoding: Chunked\r\n", chunks))
    for data in (twice, listed, chunked):
        assert data.startswith(b"HTTP/1.1 200 ")
        assert data.endswith(b"\r\n\r\n3")


async def test_limits_must_be_positive() -> None:
    """serve() refuses a zero or negative limit."""
    with pytest.raises(ValueError, match="max_body_size"):
        async with serve(echo_length, max_body_size=0):
            pass
    with pytest.raises(ValueError, match="header_timeout"):
        async with serve(echo_length, header_timeout=0):
            pass
