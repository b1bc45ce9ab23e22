"""Layer 8 (test kit): turn a planned answer into ASGI messages, watching for the client going away.

The gateway first plans an answer as a list of steps (pure data); :func:`emit` then plays
it. Aborting a connection needs server support: servers that offer the ASGI extension
``"aiohelicone.abort"`` (the loopback server of :mod:`aiohelicone.testing`) get a
``{"type": "aiohelicone.abort"}`` message and close the socket with a reset; under any other
server the app raises :class:`SimulatedReset`, which servers turn into a dropped connection
(or a 500 if nothing was sent yet; httpx2's ``ASGITransport`` re-raises it to the caller).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeAlias

import anyio
import attrs

from ._records import RequestRecord

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

ABORT_EXTENSION = "aiohelicone.abort"


class SimulatedReset(ConnectionResetError):
    """Raised by the fake gateway to drop a connection when the server cannot abort it."""


@attrs.frozen
class Start:
    """Send the status line and headers."""

    status: int
    headers: tuple[tuple[str, str], ...]


@attrs.frozen
class Body:
    """Send one body chunk (one SSE event, or a whole JSON body)."""

    data: bytes


@attrs.frozen
class Sleep:
    """Wait (``math.inf``: until the client leaves)."""

    seconds: float


@attrs.frozen
class Abort:
    """Drop the connection now."""


Step: TypeAlias = Start | Body | Sleep | Abort


def response(status: int, content_type: str, body: bytes, *headers: tuple[str, str]) -> list[Step]:
    """A plan for a simple one-chunk answer."""
    return [Start(status, (("content-type", content_type), *headers)), Body(body)]


@attrs.define
class _State:
    finishing: bool = False


async def read_body(receive: Receive) -> bytes | None:
    """Read the whole request body; None if the client left first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] == "http.request":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                return b"".join(chunks)


async def emit(
    steps: Sequence[Step],
    scope: Scope,
    receive: Receive,
    send: Send,
    record: RequestRecord,
    clock: Callable[[], float],
) -> None:
    """Play ``steps``; record when the answer completed or the client went away.

    Raises:
        SimulatedReset: an :class:`Abort` step under a server without the abort extension.
    """
    state = _State()
    aborted = False
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_disconnect, receive, record, clock, state, tg.cancel_scope)
        try:
            aborted = await _play(steps, send, record, clock, state)
        except OSError:
            # ASGI servers raise an OSError subclass when sending to a closed connection.
            if record.closed_by_client_at is None:
                record.closed_by_client_at = clock()
        tg.cancel_scope.cancel()
    if aborted:
        record.aborted = True
        if ABORT_EXTENSION in (scope.get("extensions") or {}):
            await send({"type": ABORT_EXTENSION})
        else:
            raise SimulatedReset("aiohelicone fake gateway dropped the connection")


async def _watch_disconnect(
    receive: Receive,
    record: RequestRecord,
    clock: Callable[[], float],
    state: _State,
    scope: anyio.CancelScope,
) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # httpx2's ASGITransport reports a disconnect as soon as the answer is complete.
            if not state.finishing:
                record.closed_by_client_at = clock()
                scope.cancel()
            return


async def _play(
    steps: Sequence[Step],
    send: Send,
    record: RequestRecord,
    clock: Callable[[], float],
    state: _State,
) -> bool:
    last_index = len(steps) - 1
    for index, step in enumerate(steps):
        if isinstance(step, Sleep):
            if math.isinf(step.seconds):
                await anyio.sleep_forever()
            await anyio.sleep(step.seconds)
        elif isinstance(step, Start):
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in step.headers]
            await send({"type": "http.response.start", "status": step.status, "headers": headers})
            record.status = step.status
        elif isinstance(step, Body):
            more = index != last_index
            state.finishing = not more
            await send({"type": "http.response.body", "body": step.data, "more_body": more})
        else:
            return True
    if not state.finishing:
        state.finishing = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    record.completed_at = clock()
    return False
