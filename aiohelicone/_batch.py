"""Layer 6 (batch engine): ``run_batch`` runs many requests with bounded concurrency and limits.

The moving parts::

    requests (iterable or async iterable, pulled lazily)
      -> SyncSource           one item at a time, pulled by the worker that is free
         | AsyncSource        (an async iterable gets one prefetching feeder task)
      -> N worker tasks       N = concurrency; each: take an item, wait for the Governor,
                              send it through the client, emit a BatchResult
      -> a result stream      bounded: a slow consumer slows the workers (flat memory)
      -> BatchRun.__anext__   as they finish, or in input order (``ordered=True``)

The requests and results are in ``_batch_items`` (a request checks its body when it is
built), the pacing arithmetic in ``_governor`` (its docstring gives the rate-limit rules)
and the two sources in ``_batch_source``; this module is the engine that ties them together.

A fixed pool of workers fed one item at a time costs less than a task per request (no
task is created per request and no 10,000 tasks wait on a semaphore), and it bounds what is
pulled from the input: at most ``concurrency`` items are held by workers, plus ``buffer``
results not yet consumed (plus ``buffer`` prefetched items for an async iterable).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import TaskGroup

from ._batch_items import (
    BatchRequest,
    BatchResult,
    _as_request,
    _body_params,
    _item_id,
    estimate_tokens,
)
from ._batch_source import AsyncSource, SyncSource
from ._exceptions import InvalidInputError, RateLimitError
from ._governor import Governor
from ._metadata import RateLimitInfo

if TYPE_CHECKING:
    from ._client import AsyncHelicone

__all__ = ["BatchRequest", "BatchResult", "BatchRun", "collect_batch", "run_batch"]


async def _send(client: AsyncHelicone, request: BatchRequest) -> Any:
    """Send one request through the client's public API; body fields it names become
    arguments, the rest go in ``extra_body``. The body was checked when the request was
    built (:func:`check_body`); ``create`` checks its arguments again, as for any call."""
    if request.endpoint == "chat.completions":
        create: Callable[..., Any] = client.chat.completions.create
    elif request.endpoint == "completions":
        create = client.completions.create
    elif request.endpoint == "responses":
        create = client.responses.create
    else:
        create = client.embeddings.create
    named, _ = _body_params(create)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in request.body.items():
        if key in named:
            kwargs[key] = value
        elif key != "stream":  # False or None: check_body refused the rest
            extra[key] = value
    if extra:
        kwargs["extra_body"] = extra
    if request.helicone is not None:
        kwargs["helicone"] = request.helicone
    return await create(**kwargs)


def _usage_tokens(response: object) -> int | None:
    total = getattr(getattr(response, "usage", None), "total_tokens", None)
    return total if isinstance(total, int) else None


def _rate_limit_info(value: object) -> RateLimitInfo | None:
    info = getattr(getattr(value, "helicone", None), "rate_limit", None)
    return info if isinstance(info, RateLimitInfo) else None


# -- the run --------------------------------------------------------------------------------


class BatchRun:
    """A running batch: an async iterator of :class:`BatchResult` (see :func:`run_batch`).

    Enter it with ``async with`` before iterating; leaving the block (or :meth:`aclose`)
    cancels what is still in flight and closes those connections.

    Raises:
        RuntimeError: iterated without ``async with``, or entered twice.
    """

    def __init__(
        self,
        client: AsyncHelicone,
        requests: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int,
        max_requests_per_minute: float | None,
        max_tokens_per_minute: float | None,
        ordered: bool,
        buffer: int | None,
        rate_limit_retries: int,
    ) -> None:
        if not isinstance(requests, AsyncIterable) and (
            not isinstance(requests, Iterable) or isinstance(requests, str | bytes | Mapping)
        ):
            raise InvalidInputError(
                "requests", f"must be an iterable or async iterable, got {type(requests).__name__}"
            )
        self._client = client
        self._requests = requests
        self._buffer = concurrency if buffer is None else buffer
        self._concurrency = concurrency
        self._ordered = ordered
        self._window = concurrency + self._buffer
        self._rate_limit_retries = rate_limit_retries
        self._governor = Governor(
            concurrency=concurrency,
            requests_per_minute=max_requests_per_minute,
            tokens_per_minute=max_tokens_per_minute,
            max_wait=client.retry_policy.max_retry_after,
        )
        self._yielded = 0
        self._window_moved: anyio.Event | None = None
        self._slot_freed: anyio.Event | None = None
        self._pending: dict[int, BatchResult] = {}
        self._scope = anyio.CancelScope()
        self._finished = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._state: Literal["new", "running", "closed"] = "new"

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> BatchRun:
        if self._state != "new":
            raise RuntimeError("a BatchRun can be entered only once")
        gate = self._wait_for_window if self._ordered else None
        requests = self._requests
        if isinstance(requests, AsyncIterable):
            self._source: SyncSource | AsyncSource = AsyncSource(requests, gate, self._buffer)
        else:
            self._source = SyncSource(requests, gate)
        self._results_send, self._results = anyio.create_memory_object_stream[BatchResult](
            self._buffer
        )
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._state = "running"
        task_group.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self._scope.cancel()
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        try:
            return await task_group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            leaves = _leaves(group)
            if len(leaves) != 1:
                raise
            leaf = leaves[0]
        finally:
            await self._close_streams()
        # Outside the handler, so that the leaf keeps its own __context__.
        raise leaf

    async def aclose(self) -> None:
        """Stop the batch: cancel what is in flight (closing those connections) and wait
        until it has stopped. Results not consumed yet are dropped."""
        self._scope.cancel()
        if self._state == "running":
            await self._finished.wait()
            await self._close_streams()

    async def _close_streams(self) -> None:
        self._state = "closed"
        self._results.close()
        await self._source.aclose()

    # -- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> BatchRun:
        return self

    async def __anext__(self) -> BatchResult:
        if self._state == "new":
            raise RuntimeError(
                "enter the batch before iterating: `async with run_batch(...) as results:`"
                " (or use `await collect_batch(...)`)"
            )
        if not self._ordered:
            return await self._receive()
        while True:
            result_or_none = self._pending.pop(self._yielded, None)
            if result_or_none is not None:
                self._yielded += 1
                if self._window_moved is not None:
                    self._window_moved.set()
                    self._window_moved = None
                return result_or_none
            result = await self._receive()
            self._pending[result.index] = result

    async def _receive(self) -> BatchResult:
        try:
            try:
                return self._results.receive_nowait()
            except anyio.WouldBlock:
                return await self._results.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def _wait_for_window(self, index: int) -> None:
        # Ordered results: do not start request `index` until it is within `window` of the
        # oldest result not yet yielded, so the reorder buffer stays bounded.
        while index >= self._yielded + self._window:
            if self._window_moved is None:
                self._window_moved = anyio.Event()
            await self._window_moved.wait()

    # -- the workers ---------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            with self._results_send, self._scope:
                async with anyio.create_task_group() as workers:
                    if isinstance(self._source, AsyncSource):
                        workers.start_soon(self._source.feed)
                    for _ in range(self._concurrency):
                        workers.start_soon(self._worker)
        finally:
            self._finished.set()

    async def _worker(self) -> None:
        send = self._results_send
        source = self._source
        while True:
            taken = await source.next()
            if taken is None:
                return
            result = await self._process(*taken)
            # No checkpoint when the buffer has room: a worker that yields between two
            # requests leaves its connection idle in the pool, and httpcore pays for every
            # idle connection on every request (see benchmarks/bench_batch.py).
            try:
                send.send_nowait(result)
            except anyio.WouldBlock:
                await send.send(result)

    async def _process(self, index: int, item: object) -> BatchResult:
        try:
            request = _as_request(item)
        except InvalidInputError as exc:
            return BatchResult(id=_item_id(item, index), index=index, request=None, error=exc)
        request_id = request.id if request.id is not None else str(index)
        governor = self._governor
        tokens = estimate_tokens(request) if governor.counts_tokens else 0
        started = anyio.current_time()
        attempts = 0
        while True:
            await self._acquire(tokens)
            attempts += 1
            try:
                response = await _send(self._client, request)
            except RateLimitError as exc:
                now = anyio.current_time()
                if (
                    exc.reason != "insufficient_credits"
                    and attempts <= self._rate_limit_retries
                    and governor.on_rate_limited(now, exc.retry_after)
                ):
                    continue
                error: Exception = exc
            except Exception as exc:  # every failure is this request's result, never the batch's
                error = exc
            else:
                now = anyio.current_time()
                governor.on_success(
                    now, tokens, _usage_tokens(response), _rate_limit_info(response)
                )
                return BatchResult(
                    id=request_id,
                    index=index,
                    request=request,
                    response=response,
                    attempts=attempts,
                    elapsed=now - started,
                )
            finally:
                self._release()
            return BatchResult(
                id=request_id,
                index=index,
                request=request,
                error=error,
                attempts=attempts,
                elapsed=anyio.current_time() - started,
            )

    async def _acquire(self, tokens: int) -> None:
        governor = self._governor
        if governor.unlimited and governor.in_flight < governor.allowed:
            governor.in_flight += 1
            return
        while True:
            while governor.in_flight >= governor.allowed:
                if self._slot_freed is None:
                    self._slot_freed = anyio.Event()
                await self._slot_freed.wait()
            wait = governor.reserve(anyio.current_time(), tokens)
            if wait > 0:
                await anyio.sleep(wait)
                if governor.paused(anyio.current_time()) or governor.in_flight >= governor.allowed:
                    continue
            governor.in_flight += 1
            return

    def _release(self) -> None:
        self._governor.in_flight -= 1
        freed = self._slot_freed
        if freed is not None:
            self._slot_freed = None
            freed.set()


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            leaves.extend(_leaves(exc))
        else:
            leaves.append(exc)
    return leaves


def _positive_int(field: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(field, f"must be an int >= {low}, got {value!r}")
    return value


def _positive_rate(field: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(field, f"must be a positive number or None, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInputError(field, f"must be finite, got {value!r}")
    return float(value)


def run_batch(
    client: AsyncHelicone,
    requests: Iterable[BatchRequest | Mapping[str, Any]]
    | AsyncIterable[BatchRequest | Mapping[str, Any]],
    *,
    concurrency: int = 16,
    max_requests_per_minute: float | None = None,
    max_tokens_per_minute: float | None = None,
    ordered: bool = False,
    buffer: int | None = None,
    rate_limit_retries: int = 5,
) -> BatchRun:
    """Run many requests concurrently; iterate their results as they finish.

    ::

        async with run_batch(client, requests, concurrency=32) as results:
            async for result in results:
                print(result.id, result.response if result.ok else result.error)

    Requests are pulled from ``requests`` lazily, only when a worker is free, so an input of
    any length (even an endless generator) runs in flat memory; results are not kept. A
    failing request never stops the batch: its error is its result. Rate limits (client-side
    budgets, 429s, ``Helicone-RateLimit-Remaining``) are described in the ``_governor`` module
    docstring: budgets are paced evenly over the minute, a 429 pauses every send for its
    ``retry_after`` and halves the number in flight, and a low remaining quota is spread
    over the time to its reset. No pause is longer than the client's
    ``RetryPolicy.max_retry_after``: a 429 asking for more is that request's result at once.

    Args:
        client: the client to send through (its retries, timeouts and Helicone options apply).
        requests: :class:`BatchRequest` objects, or OpenAI Batch API input lines as mappings
            (``custom_id``, ``method``, ``url``, ``body``); an iterable or async iterable.
            A :class:`BatchRequest` checked its body when it was built (a bad one raised
            ``InvalidInputError`` then, so it never gets here); a mapping is read as it is
            pulled, and one that cannot be read (a bad body included) gives an error
            result and is not sent, as does an item that is neither. An exception raised by
            the iterable itself ends the batch (it is raised from the ``async with`` block).
            An async iterator is closed (``aclose``) when the batch ends.
        concurrency: at most this many requests in flight.
        max_requests_per_minute: a client-side request budget, paced evenly.
        max_tokens_per_minute: a client-side token budget, paced evenly; each request is
            charged ``ceil(prompt chars / 4) + max_tokens * n`` up front and corrected by
            its actual ``usage.total_tokens`` when it returns.
        ordered: yield results in input order (at most ``concurrency + buffer`` requests run
            ahead of the first unfinished one, so memory stays bounded).
        buffer: finished results kept for the consumer, and items read ahead from an async
            iterable (default: ``concurrency``).
        rate_limit_retries: how many times a request that got a 429 is sent again.

    Returns:
        A :class:`BatchRun`: use it as ``async with ... as results: async for ...``.

    Raises:
        InvalidInputError: an argument is out of range, or ``requests`` is not iterable.
    """
    concurrency = _positive_int("concurrency", concurrency, 1)
    if buffer is not None:
        buffer = _positive_int("buffer", buffer, 0)
    rate_limit_retries = _positive_int("rate_limit_retries", rate_limit_retries, 0)
    return BatchRun(
        client,
        requests,
        concurrency=concurrency,
        max_requests_per_minute=_positive_rate("max_requests_per_minute", max_requests_per_minute),
        max_tokens_per_minute=_positive_rate("max_tokens_per_minute", max_tokens_per_minute),
        ordered=bool(ordered),
        buffer=buffer,
        rate_limit_retries=rate_limit_retries,
    )


async def collect_batch(
    client: AsyncHelicone,
    requests: Iterable[BatchRequest | Mapping[str, Any]]
    | AsyncIterable[BatchRequest | Mapping[str, Any]],
    **options: Any,
) -> list[BatchResult]:
    """Run a batch to the end and return every result, in input order.

    Args:
        client: the client to send through.
        requests: as for :func:`run_batch`.
        **options: the keyword arguments of :func:`run_batch` (``concurrency``...).

    Returns:
        One :class:`BatchResult` per request, in the order of ``requests``.

    Raises:
        InvalidInputError: as for :func:`run_batch`.
    """
    async with run_batch(client, requests, **options) as results:
        collected = [result async for result in results]
    collected.sort(key=_index_of)
    return collected


def _index_of(result: BatchResult) -> int:
    return result.index
