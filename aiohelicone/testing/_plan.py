"""Layer 8 (test kit): how each outcome lays an answer out on the wire, as :mod:`._emit` steps."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._emit import Abort, Body, Sleep, Start, Step
from ._outcomes import (
    InStreamError,
    Outcome,
    RawResponse,
    Reply,
    SlowDrip,
    Stall,
    TruncatedStream,
)
from ._wire import DONE, JSON_TYPE, dumps, openai_error, sse

_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


def reply_of(outcome: Outcome) -> Reply:
    """The :class:`Reply` whose content an outcome carries (a default one if none)."""
    if isinstance(outcome, Reply):
        return outcome
    if isinstance(outcome, (SlowDrip, TruncatedStream)):
        return outcome.reply
    return Reply()


def shape(
    outcome: Outcome,
    start: Start,
    events: Sequence[bytes],
    stream: bool,
    stream_interval: float,
    error_event: Callable[[Mapping[str, Any], int], bytes] | None = None,
) -> list[Step]:
    """Lay out a successful answer (``start`` plus ``events``) as ``outcome`` says.

    Args:
        outcome: a :class:`Reply`, :class:`Stall`, :class:`SlowDrip`,
            :class:`TruncatedStream` or :class:`InStreamError`.
        start: the status line and headers.
        events: the SSE events (ending with ``[DONE]``), or the one JSON body.
        stream: whether ``events`` is an event stream.
        stream_interval: the gateway's pause between events of ordinary streams.
        error_event: writes the event of an :class:`InStreamError` (given its JSON and
            position) for streams whose errors are not ``data: {"error": ...}`` then
            ``[DONE]`` (Responses streams); nothing follows it.

    Returns:
        The steps to play.
    """
    delay = reply_of(outcome).delay
    steps: list[Step] = [Sleep(delay)] if delay else []
    interval = stream_interval if stream else 0.0
    if isinstance(outcome, Stall):
        if outcome.after_chunks is None:
            return [*steps, Sleep(outcome.seconds), start, *spaced(events, interval)]
        k = outcome.after_chunks if stream else 0
        before, after = spaced(events[:k], interval), spaced(events[k:], interval)
        return [*steps, start, *before, Sleep(outcome.seconds), *after]
    if isinstance(outcome, SlowDrip):
        chunks = events if stream else split(events[0], 8)
        return [*steps, start, *spaced(chunks, outcome.interval)]
    if isinstance(outcome, TruncatedStream):
        if stream:
            kept = list(events[: min(outcome.after_chunks, len(events) - 1)])
        else:
            kept = [events[0][: len(events[0]) // 2]]
        ending: list[Step] = [] if outcome.clean else [Abort()]
        return [*steps, start, *spaced(kept, interval), *ending]
    if isinstance(outcome, InStreamError):
        error = dict(outcome.error_json or openai_error(_SERVER_ERROR, 500))
        if not stream:
            headers = tuple((k, JSON_TYPE if k == "content-type" else v) for k, v in start.headers)
            return [*steps, Start(200, headers), Body(dumps(error))]
        kept = list(events[: min(outcome.after_chunks, len(events) - 1)])
        if error_event is not None:
            tail = [error_event(error, len(kept))]
        else:
            tail = [sse(error)] + ([DONE] if outcome.done else [])
        return [*steps, start, *spaced(kept + tail, interval)]
    return [*steps, start, *spaced(events, interval)]


def raw_steps(raw: RawResponse) -> list[Step]:
    """The steps of a :class:`RawResponse`, sent exactly as given."""
    headers = list((raw.headers or {}).items())
    if raw.content_type is not None:
        headers = [h for h in headers if h[0] != "content-type"]
        headers.insert(0, ("content-type", raw.content_type))
    if isinstance(raw.body, (bytes, str)):
        chunks = [raw.body.encode() if isinstance(raw.body, str) else raw.body]
    else:
        chunks = list(raw.body)
    return [Start(raw.status, tuple(headers)), *spaced(chunks, raw.chunk_interval)]


def spaced(chunks: Sequence[bytes], interval: float) -> list[Step]:
    """Body steps with ``interval`` seconds between consecutive chunks."""
    steps: list[Step] = []
    for index, chunk in enumerate(chunks):
        if index and interval > 0:
            steps.append(Sleep(interval))
        steps.append(Body(chunk))
    return steps


def split(data: bytes, count: int) -> list[bytes]:
    """Cut ``data`` into ``count`` roughly equal pieces."""
    size = max(1, math.ceil(len(data) / count))
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]
