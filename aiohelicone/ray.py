"""Layer 6 (batch engine): batch jobs on Ray Data (the optional extra ``aiohelicone[ray]``).

Ray schedules the work across machines; each of its actors runs its share with
:func:`~aiohelicone.run_batch` through its own :class:`~aiohelicone.AsyncHelicone`::

    import ray
    from aiohelicone.ray import HeliconeBatchMapper

    ds = ray.data.read_json("requests.jsonl")          # OpenAI Batch input lines
    out = ds.map_batches(
        HeliconeBatchMapper,
        fn_constructor_kwargs={"actors": 8, "max_requests_per_minute": 6000},
        concurrency=8,                                 # the same number as ``actors``
        batch_format="pyarrow",                        # what the mapper takes
        batch_size=256,
    )

- **Batches** are ``pyarrow.Table`` (``batch_format="pyarrow"``; the mapper also accepts a
  pandas DataFrame or a dict of numpy arrays, converted to a table first) and it returns a
  ``pyarrow.Table`` with one row per input row, in input order, in the OpenAI Batch output
  shape flattened to columns: ``custom_id`` (string), ``status_code`` (int64 or null),
  ``request_id`` (string or null), ``body`` (JSON text or null: the answer, or the gateway's
  error answer) and ``error`` (JSON text ``{"code", "message"}``, null on success). A row
  that cannot be read as a request becomes an error row (``code`` ``invalid_input``);
  nothing a single row does fails the job.
- **Input rows**: the OpenAI Batch input shape (``custom_id``, ``method``, ``url``, ``body``
  as a mapping or JSON text; null body fields, which Arrow adds when rows differ, are
  dropped), or a ``line`` column holding a whole input line as JSON text (what
  :func:`run_on_ray` reads), or a template: ``model=`` with ``prompt_column=`` (the text of
  one user message) or ``messages_column=`` (a messages list or its JSON text), ``body=``
  for the other fields (``max_tokens``...) and ``id_column=`` for the ``custom_id``.
- **Each actor** builds its client lazily, in the actor, on the first batch (nothing is
  pickled but the constructor's arguments; the API key comes from ``api_key=`` or
  ``HELICONE_API_KEY`` in the actor's environment, ``base_url`` likewise from
  ``HELICONE_BASE_URL``). Ray runs several batches of an async mapper at once; they take
  turns here, so that each actor's budget and in-flight bound hold (``concurrency``
  requests in flight per actor).
- **Limits across the cluster**: the job's client-side budget is divided evenly,
  ``per-actor rpm = max_requests_per_minute / actors`` (tpm likewise), so the job never
  sends more than its budget however Ray places the actors; give ``actors`` the same
  number as ``map_batches(concurrency=...)`` (with an autoscaling range, its maximum). A
  ``rate_limit_policy`` is sent as ``Helicone-RateLimit-Policy`` on every request: the
  gateway's counter is the limit shared by every actor, and each actor obeys its answers
  (429s and ``Retry-After`` through the client's retries and the batch's pause,
  ``Helicone-RateLimit-Remaining/Reset`` through the batch's pacing; see ``_governor``).
  Pacing starts afresh with each batch of rows, so an actor may send one request more
  than its budget per batch.
- **Closing**: :meth:`HeliconeBatchMapper.aclose` closes the client (use it when you call
  the mapper yourself, on the loop that ran it). Ray deletes the mapper when the actor shuts
  down, from the actor's main thread, while the asyncio loop that ran its batches still runs
  in a daemon thread; ``__del__`` then closes the client on that loop and waits for it at
  most a few seconds (a blocked or stopping loop is given up on, and the client dropped: the
  OS closes its sockets as the actor process exits). Deleted on the loop's own thread, it
  schedules the close without waiting; with no running loop (trio, or a loop already
  closed) it only drops the client. It never raises and never waits without a bound.

:func:`run_on_ray` is the whole job from a JSONL file (or a ``ray.data.Dataset``) to a JSONL
file in the format of ``aiohelicone batch``, resumable: rows already answered successfully
in the output are not sent again. Setting its ``stop`` event (from a signal handler or
another thread) ends the job at the next finished batch, with everything finished saved.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "aiohelicone.ray needs Ray Data, which is an optional extra: pip install 'aiohelicone[ray]'"
    ) from exc

import anyio
import attrs

from ._batch import _positive_int, _positive_rate, collect_batch
from ._batch_items import BatchRequest, BatchResult
from ._exceptions import InvalidInputError
from ._helicone import HeliconeOptions, RateLimitPolicy

if TYPE_CHECKING:
    from ._client import AsyncHelicone

__all__ = ["OUTPUT_SCHEMA", "HeliconeBatchMapper", "RayRunSummary", "run_on_ray"]

_CLOSE_WAIT = 5.0
"""Seconds ``HeliconeBatchMapper.__del__`` waits for the client to close on the actor's loop."""

OUTPUT_SCHEMA = pa.schema(
    [
        ("custom_id", pa.string()),
        ("status_code", pa.int64()),
        ("request_id", pa.string()),
        ("body", pa.string()),
        ("error", pa.string()),
    ]
)
"""The columns :class:`HeliconeBatchMapper` returns (the same for every batch)."""


class HeliconeBatchMapper:
    """A callable class for ``Dataset.map_batches``: one output row per input row.

    See the module docstring for the input and output columns and the limits.

    Args:
        base_url: the gateway URL (default ``HELICONE_BASE_URL``, else Helicone's).
        api_key: the Helicone API key (default ``HELICONE_API_KEY`` in the actor). It is
            pickled to every actor; on a shared cluster prefer the environment variable
            (``runtime_env={"env_vars": ...}``).
        actors: how many actors run the job (``map_batches(concurrency=...)``): the budget
            below is divided by it.
        concurrency: requests in flight per actor.
        max_requests_per_minute: the whole job's client-side request budget, or None.
        max_tokens_per_minute: the whole job's client-side token budget, or None.
        rate_limit_policy: a :class:`RateLimitPolicy` (or its header text) sent as
            ``Helicone-RateLimit-Policy``: the gateway-side limit every actor shares.
        helicone: other :class:`HeliconeOptions` for the client (its policy, if any, is
            replaced by ``rate_limit_policy`` when that is given).
        max_retries: the client's retries per request (its default: 2).
        rate_limit_retries: times a 429 puts a request back (as for ``run_batch``).
        model: template mode: the model of every request.
        prompt_column: template mode: the column with the user message text.
        messages_column: template mode: the column with the messages.
        body: template mode: other body fields for every request.
        url: template mode: the endpoint (default ``/v1/chat/completions``).
        id_column: template mode: the column with the ``custom_id``.

    Raises:
        InvalidInputError: a bad argument (``field`` names it).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        actors: int = 1,
        concurrency: int = 16,
        max_requests_per_minute: float | None = None,
        max_tokens_per_minute: float | None = None,
        rate_limit_policy: RateLimitPolicy | str | None = None,
        helicone: HeliconeOptions | None = None,
        max_retries: int | None = None,
        rate_limit_retries: int = 5,
        model: str | None = None,
        prompt_column: str | None = None,
        messages_column: str | None = None,
        body: Mapping[str, Any] | None = None,
        url: str = "/v1/chat/completions",
        id_column: str = "custom_id",
    ) -> None:
        self._actors = _positive_int("actors", actors, 1)
        self._concurrency = _positive_int("concurrency", concurrency, 1)
        self._rate_limit_retries = _positive_int("rate_limit_retries", rate_limit_retries, 0)
        rpm = _positive_rate("max_requests_per_minute", max_requests_per_minute)
        tpm = _positive_rate("max_tokens_per_minute", max_tokens_per_minute)
        self.requests_per_minute = None if rpm is None else rpm / self._actors
        self.tokens_per_minute = None if tpm is None else tpm / self._actors
        if isinstance(rate_limit_policy, str):
            rate_limit_policy = RateLimitPolicy.parse(rate_limit_policy)
        elif rate_limit_policy is not None and not isinstance(rate_limit_policy, RateLimitPolicy):
            raise InvalidInputError("rate_limit_policy", "must be a RateLimitPolicy, str or None")
        if helicone is not None and not isinstance(helicone, HeliconeOptions):
            raise InvalidInputError("helicone", "must be a HeliconeOptions or None")
        if rate_limit_policy is not None:
            helicone = attrs.evolve(
                helicone or HeliconeOptions(), rate_limit_policy=rate_limit_policy
            )
        self._helicone = helicone
        self._base_url = base_url
        self._api_key = api_key
        self._max_retries = max_retries
        if (prompt_column is None) == (messages_column is None):
            if prompt_column is not None:
                raise InvalidInputError(
                    "prompt_column", "give prompt_column or messages_column, not both"
                )
            if model is not None:
                raise InvalidInputError("model", "needs prompt_column= or messages_column=")
        elif model is None and (body is None or "model" not in body):
            raise InvalidInputError("model", "is required with a prompt or messages column")
        self._model = model
        self._prompt_column = prompt_column
        self._messages_column = messages_column
        self._body = dict(body or {})
        self._url = url
        self._id_column = id_column
        self._client: AsyncHelicone | None = None
        self._lock: anyio.Lock | None = None
        # The asyncio loop (and its thread) that ran the batches, for __del__; None on trio.
        self._loop: Any = None
        self._loop_thread: int | None = None

    def __repr__(self) -> str:  # never the API key
        return (
            f"<HeliconeBatchMapper actors={self._actors} concurrency={self._concurrency} "
            f"rpm/actor={self.requests_per_minute} tpm/actor={self.tokens_per_minute}>"
        )

    # -- the client, made in the actor -------------------------------------------------------

    def _get_client(self) -> AsyncHelicone:
        if self._client is None:
            from ._client import AsyncHelicone

            self._client = AsyncHelicone(
                api_key=self._api_key,
                base_url=self._base_url,
                max_retries=self._max_retries,
                helicone=self._helicone,
            )
        return self._client

    async def aclose(self) -> None:
        """Close this mapper's client (a later batch makes a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def __del__(self) -> None:
        # Ray 2.60 deletes the mapper from the actor's main thread as the actor shuts down
        # (``_MapWorker.__ray_shutdown__``), while the asyncio loop that ran the batches runs
        # forever in a daemon thread. The client's connections belong to that loop, so it is
        # closed there, with a bounded wait: an unbounded one (``anyio.from_thread.run``)
        # left actor processes hanging at exit when the loop could not answer. Whatever goes
        # wrong, the client is dropped and the OS closes its sockets as the process exits.
        client, self._client = getattr(self, "_client", None), None
        loop = getattr(self, "_loop", None)
        if client is None or loop is None:
            return
        # __del__ must never raise; dropping the client is the fallback.
        with contextlib.suppress(Exception):
            _close_on_loop(client, loop, self._loop_thread)

    # -- one batch -----------------------------------------------------------------------------

    async def __call__(self, batch: Any) -> Any:
        """Run one batch of rows: see the module docstring.

        Args:
            batch: a ``pyarrow.Table`` (or a pandas DataFrame, or a dict of columns).

        Returns:
            A ``pyarrow.Table`` with :data:`OUTPUT_SCHEMA`, one row per input row.
        """
        self._remember_loop()
        rows = _rows(batch)
        lines: list[dict[str, Any] | None] = [None] * len(rows)
        requests: list[BatchRequest] = []
        positions: list[int] = []
        for position, row in enumerate(rows):
            try:
                requests.append(self._request(row))
            except InvalidInputError as exc:
                custom_id = _row_id(row, self._id_column)
                bad = BatchResult(id=custom_id or "", index=position, request=None, error=exc)
                lines[position] = _flat(bad, custom_id)
            else:
                positions.append(position)
        if requests:
            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                results = await collect_batch(
                    self._get_client(),
                    requests,
                    concurrency=self._concurrency,
                    max_requests_per_minute=self.requests_per_minute,
                    max_tokens_per_minute=self.tokens_per_minute,
                    rate_limit_retries=self._rate_limit_retries,
                )
            for position, result in zip(positions, results, strict=True):
                lines[position] = _flat(result, result.id)
        columns: dict[str, list[Any]] = {name: [] for name in OUTPUT_SCHEMA.names}
        for line in lines:
            assert line is not None
            for name in OUTPUT_SCHEMA.names:
                columns[name].append(line[name])
        return pa.Table.from_pydict(columns, schema=OUTPUT_SCHEMA)

    def _remember_loop(self) -> None:
        # The one asyncio import of the package: Ray's UDF loop is an asyncio loop, and no
        # anyio API hands work to a loop in another thread with a bounded wait.
        import asyncio

        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): __del__ can only drop the client
            self._loop = None
        self._loop_thread = threading.get_ident()

    def _request(self, row: Mapping[str, Any]) -> BatchRequest:
        if self._prompt_column is not None or self._messages_column is not None:
            return self._templated(row)
        if isinstance(row.get("line"), str | bytes) and "body" not in row:
            try:
                row = json.loads(row["line"])
            except ValueError as exc:
                raise InvalidInputError("line", f"is not valid JSON ({exc})") from None
            if not isinstance(row, Mapping):
                raise InvalidInputError("line", "must be a JSON object")
        body = row.get("body")
        if isinstance(body, str | bytes):
            try:
                body = json.loads(body)
            except ValueError as exc:
                raise InvalidInputError("body", f"is not valid JSON ({exc})") from None
        if isinstance(body, Mapping):
            body = _without_nulls(body)
        line = {
            "custom_id": row.get("custom_id"),
            "method": row.get("method") or "POST",
            "url": row.get("url"),
            "body": body,
        }
        if line["url"] is None:
            del line["url"]
        return BatchRequest.from_openai(line)

    def _templated(self, row: Mapping[str, Any]) -> BatchRequest:
        custom_id = _row_id(row, self._id_column)
        if custom_id is None:
            raise InvalidInputError(self._id_column, "is missing or not a non-empty string")
        body = dict(self._body)
        if self._model is not None:
            body["model"] = self._model
        if self._prompt_column is not None:
            prompt = row.get(self._prompt_column)
            if not isinstance(prompt, str):
                raise InvalidInputError(self._prompt_column, "must be a string")
            body["messages"] = [*body.get("messages", []), {"role": "user", "content": prompt}]
        else:
            assert self._messages_column is not None
            messages = row.get(self._messages_column)
            if isinstance(messages, str):
                try:
                    messages = json.loads(messages)
                except ValueError as exc:
                    raise InvalidInputError(
                        self._messages_column, f"is not valid JSON ({exc})"
                    ) from None
            if not isinstance(messages, list):
                raise InvalidInputError(self._messages_column, "must be a list of messages")
            body["messages"] = [
                _without_nulls(m) if isinstance(m, Mapping) else m for m in messages
            ]
        return BatchRequest(self._url, body, custom_id)


_closing: set[Any] = set()  # close tasks running on a loop (asyncio keeps only weak references)


def _close_on_loop(client: AsyncHelicone, loop: Any, loop_thread: int | None) -> None:
    """Close ``client`` on the asyncio ``loop`` that made it, waiting at most ``_CLOSE_WAIT``."""
    if loop.is_closed() or not loop.is_running():
        return
    closing = _LoopClose(client, loop)
    if threading.get_ident() == loop_thread:  # on the loop itself: it cannot be waited for
        closing.start()
        return
    loop.call_soon_threadsafe(closing.start)
    if not closing.done.wait(_CLOSE_WAIT):
        closing.give_up()


class _LoopClose:
    """``client.aclose()`` started on its loop unless given up on first.

    The coroutine is made on the loop's thread, in :meth:`start`, and only if the waiting
    thread has not given up: a loop that never runs the callback (blocked, or stopped
    before it) leaves no never-awaited coroutine behind.
    """

    def __init__(self, client: AsyncHelicone, loop: Any) -> None:
        self.done = threading.Event()
        self._client = client
        self._loop = loop
        self._mutex = threading.Lock()
        self._given_up = False

    def start(self) -> None:
        with self._mutex:
            if self._given_up:
                return
            task = self._loop.create_task(self._client.aclose())
        _closing.add(task)
        task.add_done_callback(self._finished)

    def give_up(self) -> None:
        with self._mutex:
            self._given_up = True

    def _finished(self, task: Any) -> None:
        _closing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed close is not logged as unretrieved
        self.done.set()


def _rows(batch: Any) -> list[dict[str, Any]]:
    if isinstance(batch, pa.Table):
        return list(batch.to_pylist())
    if isinstance(batch, Mapping):
        return list(pa.Table.from_pydict({k: list(v) for k, v in batch.items()}).to_pylist())
    to_dict = getattr(batch, "to_dict", None)  # a pandas DataFrame
    if callable(to_dict):
        return list(to_dict(orient="records"))
    raise InvalidInputError("batch", f"must be a pyarrow.Table, got {type(batch).__name__}")


def _row_id(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None and "line" in row:
        try:
            value = json.loads(row["line"]).get("custom_id")
        except (ValueError, AttributeError, TypeError):
            value = None
    return value if isinstance(value, str) and value else None


def _without_nulls(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


def _flat(result: BatchResult, custom_id: str | None) -> dict[str, Any]:
    """The output row of a result: ``result_line`` of ``aiohelicone batch``, flattened."""
    from ._batch_output import result_line

    line = result_line(result)
    response = line["response"] or {}
    body = response.get("body")
    return {
        "custom_id": custom_id,
        "status_code": response.get("status_code"),
        "request_id": response.get("request_id"),
        "body": None if body is None else _dumps(body),
        "error": None if line["error"] is None else _dumps(line["error"]),
    }


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# -- a whole job, file to file -----------------------------------------------------------------


@attrs.frozen
class RayRunSummary:
    """What :func:`run_on_ray` did.

    Attributes:
        skipped: input rows not sent, already answered successfully in the output.
        run: rows sent (or found malformed) by this run, each now a line of the output.
        failed: of those, the rows that failed.
        output_failed: ``custom_id``\\ s whose line in the output is a failure, after the run.
        output_lines: lines in the output after the run (one per ``custom_id``).
        interrupted: the run ended early because its ``stop`` event was set; the rows not
            yet answered are sent by a rerun.
    """

    skipped: int
    run: int
    failed: int
    output_failed: int
    output_lines: int
    interrupted: bool = False


def run_on_ray(
    source: str | ray.data.Dataset,
    output_path: str,
    *,
    resume: bool = True,
    address: str | None = None,
    actors: int = 2,
    batch_size: int = 256,
    num_cpus: float = 0.5,
    fsync_every: int = 100,
    progress: bool = True,
    stop: threading.Event | None = None,
    **mapper_options: Any,
) -> RayRunSummary:
    """Run a batch job on Ray Data, from OpenAI Batch input to a JSONL output file.

    The output has the format of ``aiohelicone batch`` (``{"id", "custom_id", "response":
    {"status_code", "request_id", "body"}, "error"}`` per line), is appended to as batches
    finish (one ``write`` per line, from this driver process), and is compacted at the end to
    one line per ``custom_id`` (the latest). With ``resume`` the earlier output is read
    first and the input anti-joined on ``custom_id``: rows whose line there is a success are
    not sent again; failed and missing ones are. The run holds ``<output>.lock`` throughout,
    from before it starts Ray (so a second run on the same output is refused at once) until
    after the compaction.

    Stopping: set ``stop`` (from a signal handler or another thread; ``aiohelicone batch
    --ray`` sets it on Ctrl-C or SIGTERM) and the job ends after the output batch being
    waited for: its rows are written, the rest are not consumed (the batch iterator is
    closed, and Ray Data shuts its executor and actors down, cancelling what was in flight),
    the output is compacted, the lock released, and the summary says ``interrupted``. An
    exception, ``KeyboardInterrupt`` included, ends it the same way before propagating:
    finished rows are in a compacted output and the lock is released. Either way a rerun
    sends only the rest.

    Args:
        source: an OpenAI Batch input JSONL path (read with ``ray.data.read_text``, one
            row per line, so a malformed line becomes an error row), or a Dataset of input
            rows (any shape :class:`HeliconeBatchMapper` reads).
        output_path: the JSONL output, on this (the driver's) file system.
        resume: skip the ``custom_id``\\ s already answered successfully in the output;
            False starts the output afresh.
        address: for ``ray.init`` when Ray is not initialised yet (None: a local Ray,
            ``"ray://host:10001"``: a cluster); a Ray started here is shut down at the end.
        actors: the number of actors (``map_batches(concurrency=actors)``); the budgets are
            divided among them.
        batch_size: rows per batch given to an actor.
        num_cpus: CPUs Ray reserves per actor. An actor mostly waits on the network; with
            a whole CPU each, actors on a small machine would leave none for reading the
            input, and the job would wait forever.
        fsync_every: ``fsync`` the output every N lines (0: only at the end).
        progress: show Ray Data's progress bars.
        stop: a ``threading.Event`` checked after each output batch: set, the job stops
            there (see above).
        **mapper_options: the keyword arguments of :class:`HeliconeBatchMapper`
            (``base_url``, ``concurrency``, ``max_requests_per_minute``,
            ``rate_limit_policy``...).

    Returns:
        A :class:`RayRunSummary`.

    Raises:
        InvalidInputError: a bad argument.
        OutputLocked: another run holds the output's lock.
        OutputProblem: the output holds lines this format does not have.
        OSError: the output cannot be read or written.
    """
    actors = _positive_int("actors", actors, 1)
    batch_size = _positive_int("batch_size", batch_size, 1)
    if "actors" in mapper_options:
        raise InvalidInputError("actors", "give it once, to run_on_ray")
    HeliconeBatchMapper(actors=actors, **mapper_options)  # bad options fail here, not in Ray
    from ._batch_output import OutputLock

    lock = OutputLock(output_path)
    lock.acquire()  # before Ray starts: a second run is refused at once, having sent nothing
    try:
        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(address)
        try:
            return _run_job(
                source,
                output_path,
                resume,
                actors,
                batch_size,
                num_cpus,
                fsync_every,
                progress,
                stop,
                mapper_options,
            )
        finally:
            if started_ray:  # a Ray this call started is this call's to stop (its agents too)
                ray.shutdown()
    finally:
        lock.release()


def _run_job(
    source: str | ray.data.Dataset,
    output_path: str,
    resume: bool,
    actors: int,
    batch_size: int,
    num_cpus: float,
    fsync_every: int,
    progress: bool,
    stop: threading.Event | None,
    mapper_options: dict[str, Any],
) -> RayRunSummary:
    """The job, once the lock is held and Ray is up."""
    from ._batch_output import OutputFile, encode_line

    ray.data.DataContext.get_current().enable_progress_bars = progress
    output = OutputFile(output_path, fsync_every)
    if not resume:
        with open(output_path, "wb"):
            pass
    output.load()
    done = sorted(key for key, failed in output.latest_failed.items() if not failed)
    if isinstance(source, str):
        dataset = ray.data.read_text(source).map_batches(_lines_to_rows, batch_format="pyarrow")
    else:
        dataset = source
    skipped = 0
    if done:
        done_rows = dataset.map_batches(
            _split_done, fn_kwargs={"done": done, "keep_done": True}, batch_format="pyarrow"
        )
        skipped = done_rows.count()  # one pass over the input, not a count before and after
        dataset = dataset.map_batches(
            _split_done, fn_kwargs={"done": done, "keep_done": False}, batch_format="pyarrow"
        )
    answered = dataset.map_batches(
        HeliconeBatchMapper,
        fn_constructor_kwargs={"actors": actors, **mapper_options},
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
        batch_size=batch_size,
        batch_format="pyarrow",
    )
    run = failed = 0
    interrupted = False
    output.open()
    try:
        if stop is not None and stop.is_set():  # stopped while Ray was starting
            interrupted = True
            batches: Any = iter(())
        else:
            batches = iter(answered.iter_batches(batch_format="pyarrow", batch_size=None))
        try:
            for batch in batches:
                for row in batch.to_pylist():
                    line = _output_line(row)
                    bad = line["error"] is not None
                    output.append(line["custom_id"], encode_line(line), bad)
                    run += 1
                    failed += bad
                if stop is not None and stop.is_set():
                    interrupted = True
                    break
        finally:
            # Ray Data's iterator shuts its executor (and the actors) down when closed; an
            # abandoned one would keep the actors sending until it is collected.
            close = getattr(batches, "close", None)
            if callable(close):
                close()
    finally:
        output.close()
        output.compact()
    return RayRunSummary(
        skipped=skipped,
        run=run,
        failed=failed,
        output_failed=sum(output.latest_failed.values()),
        output_lines=len(output.latest_failed),
        interrupted=interrupted,
    )


def _lines_to_rows(batch: Any) -> Any:
    """``read_text`` rows to ``line`` + ``custom_id`` (a stand-in id for a line without one)."""
    import hashlib

    lines: list[str] = []
    ids: list[str] = []
    for text in batch.column("text").to_pylist():
        if not text.strip():
            continue
        custom_id = None
        try:
            data = json.loads(text)
            if isinstance(data, Mapping):
                custom_id = data.get("custom_id")
        except ValueError:
            pass
        if not isinstance(custom_id, str) or not custom_id:
            custom_id = "invalid-line-" + hashlib.sha256(text.encode()).hexdigest()[:16]
        lines.append(text)
        ids.append(custom_id)
    return pa.Table.from_pydict(
        {"custom_id": ids, "line": lines},
        schema=pa.schema([("custom_id", pa.string()), ("line", pa.string())]),
    )


def _split_done(batch: Any, done: list[str], keep_done: bool) -> Any:
    """The rows of ``batch`` whose ``custom_id`` is in ``done`` (``keep_done``), or the others."""
    import pyarrow.compute as pc

    is_done = pc.is_in(batch.column("custom_id"), value_set=pa.array(done, pa.string()))
    return batch.filter(is_done if keep_done else pc.invert(is_done))


def _output_line(row: Mapping[str, Any]) -> dict[str, Any]:
    """An output row as a line of ``aiohelicone batch``'s output."""
    import uuid

    response = None
    if row["status_code"] is not None:
        response = {
            "status_code": row["status_code"],
            "request_id": row["request_id"],
            "body": None if row["body"] is None else json.loads(row["body"]),
        }
    return {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": row["custom_id"],
        "response": response,
        "error": None if row["error"] is None else json.loads(row["error"]),
    }
