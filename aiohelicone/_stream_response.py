"""Layer 1 (transport): an open answer's body, read raw, decoded, and closed or abandoned.

httpcore2 internals are read here, and only here (see docs/ARCHITECTURE.md, "Stream
abandonment"): :func:`_pool_stream` finds the pool stream behind an httpx2 response, so
that its body iterator can be closed deterministically, and :meth:`StreamingResponse.abandon`
releases a dropped response's pool slot from a finaliser, where httpx2's public
``aclose()`` cannot run (it must be awaited). Either falls back to public behaviour when
the layout is not the known one.
"""

from __future__ import annotations

import contextlib
import sys
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ._exceptions import APIResponseValidationError, ContentDecodingError
from ._transport_errors import map_transport_error

if TYPE_CHECKING:
    import httpx2

    from ._decoders import Decoder, DecodingError

__all__ = ["StreamingResponse"]


class StreamingResponse:
    """An open streamed answer; its byte iterator maps httpx2 errors like the rest.

    The body is read from httpcore2's pool stream directly when it is reachable: httpx2's
    own ``aiter_raw`` nests three async generators and closing the outer one leaves the
    inner ones to the garbage collector (trio then warns about each). Iterating the pool
    stream ourselves lets :meth:`aclose` close the whole chain deterministically.

    The body is decoded here from its ``Content-Encoding`` (see ``_decoders.py``), piece
    by piece as it arrives, for streams and whole answers alike; a body without one takes
    the plain per-chunk path.
    """

    __slots__ = ("_chunks", "_decoder", "_ended", "_pending", "_request_id", "_response")

    def __init__(self, response: httpx2.Response, request_id: str | None) -> None:
        self._response = response
        self._request_id = request_id
        self._chunks: Any = None
        self._decoder: Decoder | None = None
        self._pending: deque[bytes] = deque()
        self._ended = False

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers (case-insensitive)."""
        return self._response.headers

    async def read(
        self, limit: int | None = None, *, limit_name: str = "max_response_bytes"
    ) -> bytes:
        """Read the rest of the body (decoded), at most ``limit`` bytes of it, then close.

        Raises:
            APIResponseValidationError: the decoded body is larger than ``limit`` (reading
                stops there and the connection is dropped).
            APITimeoutError, APIConnectionError: the read failed.
            ContentDecodingError: the body's content coding is unknown here, or corrupt.
        """
        parts: list[bytes] = []
        size = 0
        try:
            while (part := await self.next_chunk()) is not None:
                size += len(part)
                if limit is not None and size > limit:
                    status = self._response.status_code
                    raise APIResponseValidationError(
                        f"The answer (HTTP {status}) is larger than {limit} bytes "
                        f"({limit_name}); it was not read further.",
                        status_code=status,
                        request_id=self._request_id,
                    )
                parts.append(part)
        finally:
            await self.aclose()
        return b"".join(parts)

    def _start(self) -> Any:
        """The raw body iterator; also sets up the decoder the answer's headers ask for."""
        response = self._response
        if response.is_stream_consumed:
            # Already read by httpx2 (and so decoded by it): a response built from bytes,
            # as ``httpx2.MockTransport`` handlers return them.
            self._chunks = _just(response.content)
            return self._chunks
        encoding = response.headers.get("content-encoding")
        if encoding:
            from ._decoders import DecodingError, make_decoder

            try:
                self._decoder = make_decoder(encoding)
            except DecodingError as exc:
                raise self._decoding_error(exc, unsupported=True) from exc
        pool_stream = _pool_stream(response)
        if pool_stream is not None:
            self._chunks = pool_stream.__aiter__()
        else:
            self._chunks = response.aiter_raw()
        return self._chunks

    async def next_chunk(self) -> bytes | None:
        """The next piece of the (decoded) body, or None at its end.

        Raises:
            APITimeoutError, APIConnectionError: the read failed.
            ContentDecodingError: the body's content coding is unknown here, or corrupt.
        """
        chunks = self._chunks
        if chunks is None:
            chunks = self._start()
        if self._decoder is not None:
            return await self._next_decoded(chunks, self._decoder)
        try:
            chunk: bytes = await chunks.__anext__()
        except StopAsyncIteration:
            return None
        except Exception as exc:
            map_transport_error(exc, self._request_id)
        return chunk

    async def _next_decoded(self, chunks: Any, decoder: Decoder) -> bytes | None:
        pending = self._pending
        while not pending:
            if self._ended:
                return None
            try:
                raw: bytes = await chunks.__anext__()
            except StopAsyncIteration:
                self._ended = True
                raw = b""
            except Exception as exc:
                map_transport_error(exc, self._request_id)
            try:
                pieces = decoder.flush() if self._ended else decoder.decode(raw)
            except Exception as exc:
                # Imported here, not per chunk: only a failing body pays for it.
                from ._decoders import DecodingError

                if not isinstance(exc, DecodingError):
                    raise
                self._ended = True
                raise self._decoding_error(exc, unsupported=False) from exc
            pending.extend(pieces)
        piece: bytes = pending.popleft()
        return piece

    def _decoding_error(self, exc: DecodingError, *, unsupported: bool) -> ContentDecodingError:
        status = self._response.status_code
        return ContentDecodingError(
            f"Could not decode the answer's {exc.coding!r} body (HTTP {status}): {exc.problem}.",
            encoding=exc.coding,
            unsupported=unsupported,
            status_code=status,
            request_id=self._request_id,
        )

    def abandon(self) -> None:
        """Release a response that was dropped unclosed, without touching the event loop.

        Called from a finaliser, where nothing may be awaited or scheduled. Two synchronous
        steps: ``shutdown()`` the socket, so the server sees the client leave at once (and
        stops generating, and billing); then hand the pool slot back by marking httpcore2's
        connection idle, so the pool's next pass finds it expired (its socket reads EOF)
        and closes it properly on the event loop. The second step uses httpcore2 internals
        and is best effort: if they change, the first step still stops the upstream work and
        ``tests/test_streaming.py`` says so.

        Why not httpx2's public API: ``Response.aclose()`` is the public way to close
        without draining, and :meth:`aclose` uses it; but it must be awaited, and a
        finaliser may run on any thread, inside another task's step or at shutdown, where
        nothing can be awaited or scheduled. httpx2 has no synchronous release, so the slot
        is handed back the only way that works there. The socket half uses the public
        ``network_stream`` extension.
        """
        if sys.meta_path is None:
            return  # the interpreter is shutting down: imports fail, the OS closes the socket
        # No import here either: an open connection means the socket module is loaded.
        socket = sys.modules.get("socket")
        response = self._response
        stream = response.extensions.get("network_stream")
        raw = None
        with contextlib.suppress(Exception):
            raw = stream.get_extra_info("socket") if stream is not None else None
        if socket is not None and isinstance(raw, socket.socket):
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        pool_stream = _pool_stream(response)
        pool = getattr(pool_stream, "_pool", None)
        pool_request = getattr(pool_stream, "_pool_request", None)
        if pool is None or pool_request is None or getattr(pool_stream, "_closed", True):
            return
        with contextlib.suppress(Exception):
            pool_stream._closed = True
            connection = getattr(pool_request.connection, "_connection", None)
            state = getattr(connection, "_state", None)
            if state is not None:
                setattr(connection, "_state", type(state).IDLE)  # noqa: B010
                setattr(connection, "_expire_at", 0.0)  # noqa: B010
            pool._requests.remove(pool_request)

    async def aclose(self) -> None:
        """Close the response: return the connection to the pool or drop it.

        Safe while another task is inside :meth:`next_chunk`: the body iterator is then
        left to that task (closing the response makes its read fail), since an async
        generator cannot be closed while it runs.
        """
        chunks, self._chunks = self._chunks, None
        try:
            if chunks is not None and not getattr(chunks, "ag_running", False):
                with contextlib.suppress(Exception):
                    await chunks.aclose()
        finally:
            await self._response.aclose()


async def _just(content: bytes) -> AsyncIterator[bytes]:
    if content:
        yield content


def _pool_stream(response: httpx2.Response) -> Any:
    """httpcore2's PoolByteStream behind an httpx2 response, when the layout is the known one."""
    inner = getattr(response.stream, "_stream", None)
    pool_stream = getattr(inner, "_httpcore_stream", None)
    if pool_stream is None or not hasattr(pool_stream, "_pool_request"):
        return None
    return pool_stream
