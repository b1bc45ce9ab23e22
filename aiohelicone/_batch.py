"""Concurrent batches: ``run_batch`` runs many requests with bounded concurrency and rate limits.

The moving parts::

    requests (iterable or async iterable, pulled lazily)
      -> _SyncSource          one item at a time, pulled by the worker that is free
         | _AsyncSource       (an async iterable gets one prefetching feeder task)
      -> N worker tasks       N = concurrency; each: take an item, wait for the _Governor,
                              send it through the client, emit a BatchResult
      -> a result stream      bounded: a slow consumer slows the workers (flat memory)
      -> BatchRun.__anext__   as they finish, or in input order (``ordered=True``)

A fixed pool of workers fed one item at a time costs less than a task per request (no
task is created per request and no 10,000 tasks wait on a semaphore), and it bounds what is
pulled from the input: at most ``concurrency`` items are held by workers, plus ``buffer``
results not yet consumed (plus ``buffer`` prefetched items for an async iterable).

The :class:`_Governor` decides when the next request may go. It does no I/O and is given
the time by its caller, so its arithmetic is tested without sleeping:

- **Client-side budgets** (``max_requests_per_minute``, ``max_tokens_per_minute``) are
  paced evenly, GCRA-style: every request reserves the next free slot of each budget and
  pushes it ``cost * 60 / limit`` seconds further, so sends are spread over the minute
  rather than burst at its start, and no minute sees more than the budget plus one
  request. A request's token cost is *estimated* before it is sent as
  ``ceil(prompt characters / 4) + max_tokens * n`` (``max_completion_tokens`` when given;
  0 when neither is), and *corrected* when the answer arrives: the schedule moves by
  ``(usage.total_tokens - estimate) * 60 / limit``. A failed request keeps its estimate.
- **A 429** (``RateLimitError``; not one caused by exhausted credits, which waiting does
  not fix) pauses every send until ``retry_after`` has passed (the client reads it from
  ``retry-after-ms``, ``Retry-After`` or ``Helicone-RateLimit-Reset``), or for an
  exponential backoff (1, 2, 4 ... 60 s) when the gateway named no wait. A ``retry_after``
  over the client's ``RetryPolicy.max_retry_after`` (60 s by default) pauses nothing: that
  request fails at once with the ``RateLimitError`` (whose ``retry_after`` says how long
  the gateway wants), as the client itself does. Otherwise the 429 halves the
  number of requests allowed in flight (once per pause), and puts the request back to be
  sent again, up to ``rate_limit_retries`` times. Each later success allows one more
  request in flight again, up to ``concurrency`` (additive increase, multiplicative
  decrease). The client's own retries (its ``RetryPolicy``) happen before a 429 reaches
  the batch; build the client with ``max_retries=0`` to leave 429s to the batch alone.
- **``Helicone-RateLimit-Remaining``** on an answer (a Helicone rate-limit policy is the
  limit shared by every machine using it) is watched: once it falls below
  ``max(concurrency, 10% of the quota)``, what remains is spread evenly over the seconds
  to ``Helicone-RateLimit-Reset``; at 0, sends pause until the reset (1 s when the gateway
  gave none). A reset further away than ``max_retry_after`` counts as ``max_retry_after``
  away, so no wait the server asks for holds the batch longer than that.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

import anyio
import attrs
from anyio.abc import TaskGroup

from ._exceptions import InvalidInputError, RateLimitError
from ._helicone import HeliconeOptions, RateLimitInfo

if TYPE_CHECKING:
    from ._client import AsyncHelicone

__all__ = ["BatchRequest", "BatchResult", "BatchRun", "collect_batch", "run_batch"]

Endpoint: TypeAlias = Literal["chat.completions", "completions", "embeddings"]

_ENDPOINTS: frozenset[str] = frozenset({"chat.completions", "completions", "embeddings"})
_ENDPOINT_HELP = "/v1/chat/completions, /v1/completions or /v1/embeddings"
# The usual spellings, looked up before any parsing (this runs for every request).
_ENDPOINT_SPELLINGS: dict[str, Endpoint] = {
    spelling: cast("Endpoint", name)
    for name, path in (
        ("chat.completions", "chat/completions"),
        ("completions", "completions"),
        ("embeddings", "embeddings"),
    )
    for spelling in (name, path, f"/{path}", f"v1/{path}", f"/v1/{path}")
}

# Arguments of the resources' create() that are not fields of the request body.
_NOT_BODY = frozenset(
    {
        "stream",
        "helicone",
        "extra_headers",
        "extra_query",
        "extra_body",
        "timeout",
        "max_retries",
        "stream_timeouts",
    }
)

_MAX_BACKOFF = 60.0
_RESET_UNKNOWN = 1.0
_LOW_FRACTION = 0.1


# -- requests and results ------------------------------------------------------------------


def normalize_endpoint(value: object) -> Endpoint:
    """The endpoint name for a name or an OpenAI URL.

    Args:
        value: ``"chat.completions"``, ``"completions"``, ``"embeddings"``, or a URL path
            such as ``"/v1/chat/completions"`` (with or without ``/v1``).

    Returns:
        ``"chat.completions"``, ``"completions"`` or ``"embeddings"``.

    Raises:
        InvalidInputError: any other value.
    """
    known = _ENDPOINT_SPELLINGS.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    if not isinstance(value, str):
        raise InvalidInputError("endpoint", f"must be a str, got {type(value).__name__}")
    key = value.strip().strip("/")
    if key.startswith("v1/"):
        key = key[3:]
    key = key.replace("/", ".")
    if key not in _ENDPOINTS:
        raise InvalidInputError("endpoint", f"unsupported {value!r}; expected {_ENDPOINT_HELP}")
    return cast("Endpoint", key)


def _check_body(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInputError("body", f"must be a mapping, got {type(value).__name__}")


def _check_id(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInputError("id", "must be a non-empty str or None")


def _check_options(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None and not isinstance(value, HeliconeOptions):
        raise InvalidInputError("helicone", "must be a HeliconeOptions or None")


@attrs.frozen
class BatchRequest:
    """One request of a batch.

    Args:
        endpoint: ``"chat.completions"``, ``"completions"`` or ``"embeddings"``; OpenAI URL
            paths (``"/v1/chat/completions"``...) are accepted and normalised.
        body: the request body, as the OpenAI API takes it (``model``, ``messages``...).
            Fields the client does not name are sent as they are.
        id: your id for it, echoed on its :class:`BatchResult` (default: its position in the
            input, as a string).
        helicone: per-request :class:`HeliconeOptions`, merged over the client's.

    Raises:
        InvalidInputError: an unsupported endpoint, a body that is not a mapping, an empty
            id, or ``helicone`` that is not ``HeliconeOptions``.
    """

    endpoint: Endpoint = attrs.field(converter=normalize_endpoint)
    body: Mapping[str, Any] = attrs.field(validator=_check_body)
    id: str | None = attrs.field(default=None, validator=_check_id)
    helicone: HeliconeOptions | None = attrs.field(default=None, validator=_check_options)

    @classmethod
    def from_openai(cls, line: Mapping[str, Any]) -> BatchRequest:
        """Read one line of the OpenAI Batch API input format.

        Args:
            line: ``{"custom_id": ..., "method": "POST", "url": "/v1/...", "body": {...}}``
                (already parsed from JSON); other keys are ignored.

        Returns:
            The request, with ``id`` = ``custom_id``.

        Raises:
            InvalidInputError: a field is missing or wrong (``field`` names it).
        """
        if not isinstance(line, Mapping):
            raise InvalidInputError("line", f"must be a JSON object, got {type(line).__name__}")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise InvalidInputError("custom_id", "is missing or not a non-empty string")
        method = line.get("method", "POST")
        if method != "POST":
            raise InvalidInputError("method", f"must be 'POST', got {method!r}")
        if "url" not in line:
            raise InvalidInputError("url", "is missing")
        try:
            endpoint = normalize_endpoint(line["url"])
        except InvalidInputError as exc:
            raise InvalidInputError("url", exc.problem) from None
        body = line.get("body")
        if not isinstance(body, Mapping):
            raise InvalidInputError("body", "is missing or not a JSON object")
        if body.get("stream"):
            raise InvalidInputError("body.stream", "streaming is not supported in a batch")
        return cls(endpoint, body, custom_id)


@attrs.frozen
class BatchResult:
    """The outcome of one request of a batch: exactly one of ``response`` and ``error``.

    Attributes:
        id: the request's id (its position in the input when it had none).
        index: the request's position in the input (0-based).
        request: the request; None when the input item could not be read as one.
        response: the typed answer (``ChatCompletion``, ``Completion`` or
            ``CreateEmbeddingResponse``, with ``.helicone`` metadata), or None.
        error: the exception that ended this request (an ``APIError``, an
            ``InvalidInputError``...), or None.
        attempts: how many times the batch sent it (429s put it back; the client's own
            retries inside one attempt are not counted).
        elapsed: seconds from its first send to its result, waits included.
    """

    id: str
    index: int
    request: BatchRequest | None
    response: Any = None
    error: Exception | None = None
    attempts: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None

    @property
    def request_id(self) -> str | None:
        """The Helicone request id of the answer or error, when there was one."""
        meta = getattr(self.response, "helicone", None)
        if meta is not None:
            return cast("str | None", meta.request_id)
        return cast("str | None", getattr(self.error, "request_id", None))


def estimate_tokens(request: BatchRequest) -> int:
    """The token estimate charged to a tokens-per-minute budget before sending.

    ``ceil(prompt characters / 4) + max_tokens * n``, where the prompt is the text of the
    messages (chat), the prompt (completions) or the input (embeddings; a token array
    counts its length), and ``max_completion_tokens`` wins over ``max_tokens``.

    Args:
        request: the request.

    Returns:
        The estimate, at least 1.
    """
    body = request.body
    chars = 0
    tokens = 0
    if request.endpoint == "chat.completions":
        messages = body.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, Mapping):
                    chars += _text_length(message.get("content"))
    else:
        value = body.get("prompt" if request.endpoint == "completions" else "input")
        if isinstance(value, list) and value and isinstance(value[0], int):
            tokens += len(value)
        elif isinstance(value, list) and value and isinstance(value[0], list):
            tokens += sum(len(v) for v in value if isinstance(v, list))
        else:
            chars += _text_length(value)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    n = body.get("n", 1)
    if isinstance(limit, int) and isinstance(n, int):
        tokens += limit * max(n, 1)
    return max(1, tokens + math.ceil(chars / 4))


def _text_length(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        total = 0
        for part in value:
            if isinstance(part, str):
                total += len(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                total += len(part["text"])
        return total
    return 0


def _as_request(item: object) -> BatchRequest:
    if isinstance(item, BatchRequest):
        return item
    if isinstance(item, Mapping):
        return BatchRequest.from_openai(item)
    raise InvalidInputError(
        "request",
        f"must be a BatchRequest or an OpenAI Batch input mapping, got {type(item).__name__}",
    )


_body_params_cache: dict[object, tuple[frozenset[str], tuple[str, ...]]] = {}


def _body_params(create: Callable[..., Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The body fields ``create`` takes as arguments, and those it requires."""
    func = getattr(create, "__func__", create)
    found = _body_params_cache.get(func)
    if found is None:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in _NOT_BODY
        ]
        required = tuple(p.name for p in params if p.default is p.empty)
        found = frozenset(p.name for p in params), required
        _body_params_cache[func] = found
    return found


async def _send(client: AsyncHelicone, request: BatchRequest) -> Any:
    """Send one request through the client's public API; body fields it names become
    arguments (and are validated), the rest go in ``extra_body``."""
    if request.endpoint == "chat.completions":
        create: Callable[..., Any] = client.chat.completions.create
    elif request.endpoint == "completions":
        create = client.completions.create
    else:
        create = client.embeddings.create
    named, required = _body_params(create)
    for name in required:
        if name not in request.body:
            raise InvalidInputError(f"body.{name}", "is required")
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in request.body.items():
        if key in named:
            kwargs[key] = value
        elif key == "stream":
            if value:
                raise InvalidInputError("body.stream", "streaming is not supported in a batch")
        else:
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


# -- the governor: when may the next request go? ----------------------------------------------


class _Governor:
    """Pacing, pauses and the adaptive in-flight ceiling (pure arithmetic; see module doc)."""

    def __init__(
        self,
        *,
        concurrency: int,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        max_wait: float = 60.0,
    ) -> None:
        self.concurrency = concurrency
        self.max_wait = max_wait
        self.allowed = concurrency
        self.in_flight = 0
        self.resume_at = -math.inf
        self._request_step = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._token_step = 60.0 / tokens_per_minute if tokens_per_minute else 0.0
        self._request_next = -math.inf
        self._token_next = -math.inf
        self._pace_step = 0.0
        self._pace_until = -math.inf
        self._pace_next = -math.inf
        self._decreased_until = -math.inf
        self._consecutive_429 = 0

    @property
    def unlimited(self) -> bool:
        """Whether no budget, pause or pacing was ever set (sends need no clock)."""
        return not (
            self._request_step or self._token_step or self._pace_step or self.resume_at > -math.inf
        )

    @property
    def counts_tokens(self) -> bool:
        """Whether a token budget is set (estimates are only computed then)."""
        return self._token_step > 0.0

    def reserve(self, now: float, tokens: int) -> float:
        """Book the earliest send slot for one request; return how long to wait for it."""
        start = now if now > self.resume_at else self.resume_at
        if self._request_step:
            start = max(start, self._request_next)
            self._request_next = start + self._request_step
        if self._token_step:
            start = max(start, self._token_next)
            self._token_next = start + tokens * self._token_step
        if self._pace_step:
            if now >= self._pace_until:
                self._pace_step = 0.0
            else:
                start = max(start, self._pace_next)
                self._pace_next = start + self._pace_step
        return start - now

    def paused(self, now: float) -> bool:
        """Whether a pause began after a slot was booked (the slot must be booked again)."""
        return now < self.resume_at

    def on_success(
        self, now: float, tokens: int, used: int | None, rate_limit: RateLimitInfo | None
    ) -> None:
        """Account for a success: grow the ceiling, correct the token schedule, and read
        the gateway's remaining quota."""
        self._consecutive_429 = 0
        if self.allowed < self.concurrency:
            self.allowed += 1
        if self._token_step and used is not None:
            self._token_next += (used - tokens) * self._token_step
        if rate_limit is not None:
            self._watch_remaining(now, rate_limit)

    def on_rate_limited(self, now: float, retry_after: float | None) -> bool:
        """A 429: pause every send, and halve the ceiling once per pause.

        Returns False, changing nothing, when the server asked for longer than
        ``max_wait``: that request fails rather than hold every send that long.
        """
        if retry_after is not None and retry_after > self.max_wait:
            return False
        self._consecutive_429 += 1
        if retry_after is None:
            wait = min(_MAX_BACKOFF, 2.0 ** (self._consecutive_429 - 1))
        else:
            wait = max(0.0, retry_after)
        self.resume_at = max(self.resume_at, now + wait)
        if now >= self._decreased_until:
            self.allowed = max(1, self.allowed // 2)
            self._decreased_until = self.resume_at
        return True

    def _watch_remaining(self, now: float, info: RateLimitInfo) -> None:
        remaining = info.remaining
        if remaining is None:
            return
        reset = info.reset if info.reset is not None and info.reset > 0 else None
        # A reset further away than max_wait is waited for only up to max_wait: the next
        # send then learns (from its 429, failed at once) how long the gateway still wants.
        if remaining <= 0:
            wait = min(reset or _RESET_UNKNOWN, self.max_wait)
            self.resume_at = max(self.resume_at, now + wait)
            return
        low = max(float(self.concurrency), (info.limit or 0.0) * _LOW_FRACTION)
        if remaining < low and reset is not None:
            spread = min(reset, self.max_wait)
            self._pace_step = spread / remaining
            self._pace_until = now + spread
            self._pace_next = max(self._pace_next, now)


# -- the source of requests -----------------------------------------------------------------

_Gate: TypeAlias = "Callable[[int], Awaitable[None]] | None"


class _SyncSource:
    """Workers pull from a plain iterator directly: nothing is read ahead."""

    def __init__(self, items: Iterable[Any], gate: _Gate) -> None:
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

    def aclose(self) -> None:
        self._iterator = None


class _AsyncSource:
    """An async iterable is read by one feeder task (an async iterator cannot be shared),
    ``buffer`` items ahead of the workers."""

    def __init__(self, items: AsyncIterable[Any], gate: _Gate, buffer: int) -> None:
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

    def aclose(self) -> None:
        self._send.close()
        self._receive.close()


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
        self._governor = _Governor(
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
            self._source: _SyncSource | _AsyncSource = _AsyncSource(requests, gate, self._buffer)
        else:
            self._source = _SyncSource(requests, gate)
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
            self._close_streams()
        # Outside the handler, so that the leaf keeps its own __context__.
        raise leaf

    async def aclose(self) -> None:
        """Stop the batch: cancel what is in flight (closing those connections) and wait
        until it has stopped. Results not consumed yet are dropped."""
        self._scope.cancel()
        if self._state == "running":
            await self._finished.wait()
            self._close_streams()

    def _close_streams(self) -> None:
        self._state = "closed"
        self._results.close()
        self._source.aclose()

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
                    if isinstance(self._source, _AsyncSource):
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


def _item_id(item: object, index: int) -> str:
    if isinstance(item, BatchRequest) and item.id is not None:
        return item.id
    if isinstance(item, Mapping):
        custom_id = item.get("custom_id")
        if isinstance(custom_id, str) and custom_id:
            return custom_id
    return str(index)


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
    budgets, 429s, ``Helicone-RateLimit-Remaining``) are described in the ``_batch`` module
    docstring: budgets are paced evenly over the minute, a 429 pauses every send for its
    ``retry_after`` and halves the number in flight, and a low remaining quota is spread
    over the time to its reset. No pause is longer than the client's
    ``RetryPolicy.max_retry_after``: a 429 asking for more is that request's result at once.

    Args:
        client: the client to send through (its retries, timeouts and Helicone options apply).
        requests: :class:`BatchRequest` objects, or OpenAI Batch API input lines as mappings
            (``custom_id``, ``method``, ``url``, ``body``); an iterable or async iterable.
            An item that is neither gives an error result; an exception raised by the
            iterable itself ends the batch (it is raised from the ``async with`` block).
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
