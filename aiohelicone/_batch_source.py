"""Layer 6 (batch engine): where a batch's workers take their next request from.

A plain iterable is read by the worker that is free, one item at a time (nothing is read
ahead); an async iterable (which cannot be shared between tasks) gets one feeder task that
reads ``buffer`` items ahead. Either way the source counts the items (their input index)
and, for ordered results, waits at its gate before reading the next one.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeAlias

import anyio

__all__ = ["AsyncSource", "Gate", "SyncSource"]

Gate: TypeAlias = "Callable[[int], Awaitable[None]] | None"


class SyncSource:
    """Workers pull from a plain iterator directly: nothing is read ahead."""

    def __init__(self, items: Iterable[Any], gate: Gate) -> None:
        self._iterator: Iterator[Any] | None = iter(items)
        self._gate = gate
        self._count = 0

    async def next(self) -> tuple[int, Any] | None:
        if self._gate is not None:
            await self._gate(self._count)
        if self._iterator is None:
            return None
        try:
            item = next(self._iterator)
        except StopIteration:
            self._iterator = None
            return None
        index = self._count
        self._count = index + 1
        return index, item

    async def aclose(self) -> None:
        self._iterator = None


class AsyncSource:
    """An async iterable is read by one feeder task (an async iterator cannot be shared),
    ``buffer`` items ahead of the workers."""

    def __init__(self, items: AsyncIterable[Any], gate: Gate, buffer: int) -> None:
        self._items = items
        self._gate = gate
        self._send, self._receive = anyio.create_memory_object_stream[tuple[int, Any]](buffer)

    async def next(self) -> tuple[int, Any] | None:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            return None

    async def feed(self) -> None:
        iterator = aiter(self._items)
        index = 0
        try:
            with self._send:
                while True:
                    if self._gate is not None:
                        await self._gate(index)
                    try:
                        item = await anext(iterator)
                    except StopAsyncIteration:
                        return
                    await self._send.send((index, item))
                    index += 1
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    async def aclose(self) -> None:
        self._send.close()
        self._receive.close()
