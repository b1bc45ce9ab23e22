"""Layer 3 (streams): opening a stream: the budgeted send, and a whole answer that came instead.

:meth:`AsyncStream.open` (``_stream_base.py``) is the one caller. It sends with
:func:`send_stream`, whose first-event and total budgets run from the request, so they
cover the wait for the response headers (and any retries before them) too. A 200 that is
not ``text/event-stream`` is read as a normal answer (:func:`read_whole`,
:func:`whole_answer_data`, :func:`whole_answer`): an error body raises, a completion is
delivered as chunks; it is never an empty "successful" stream. That body is the stream's
one event: the stream's deadlines bound it (see :class:`StreamTimeouts`) and it is capped
like an event (16 MiB, or ``max_response_bytes`` when lower).

Nothing here knows a stream class: these are the steps, the stream holds the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._converter import structure_hook
from ._decode import answer_error, parse_json, structured
from ._exceptions import StreamDeadlineError, StreamFirstEventTimeoutError, reports_error
from ._metadata import HeliconeMetadata
from ._sse import DEFAULT_MAX_EVENT_BYTES
from ._timeouts import StreamTimeouts

if TYPE_CHECKING:
    from ._send import Call, Sender
    from ._transport import StreamingResponse

__all__ = ["read_whole", "send_stream", "whole_answer", "whole_answer_data"]


async def send_stream(
    sender: Sender, call: Call
) -> tuple[StreamingResponse, StreamTimeouts, float]:
    """Send a streaming request (with retries before the first byte), within its budgets.

    Args:
        sender: the send path.
        call: a stream request (``call.stream`` holds its budgets).

    Returns:
        The response (open after its headers), the stream's budgets, and the event-loop
        time the request started at (the budgets run from it).

    Raises:
        StreamFirstEventTimeoutError, StreamDeadlineError: no answer within the budgets.
        APIStatusError, APIConnectionError, APIResponseValidationError: as ``Sender.send``.
    """
    import anyio

    started = anyio.current_time()
    timeouts = call.stream if call.stream is not None else StreamTimeouts()
    budgets = [b for b in (timeouts.first_event, timeouts.total) if b is not None]
    if not budgets:
        return await sender.send(call, stream=True), timeouts, started
    try:
        with anyio.fail_after(min(budgets)):
            response = await sender.send(call, stream=True)
    except TimeoutError as exc:
        cls_ = (
            StreamFirstEventTimeoutError
            if timeouts.first_event is not None and timeouts.first_event == min(budgets)
            else StreamDeadlineError
        )
        raise cls_(
            f"No answer within the stream's {min(budgets)} s budget.",
            request_id=call.request_id,
        ) from exc
    return response, timeouts, started


async def read_whole(
    response: StreamingResponse, max_bytes: int | None, deadline: float | None
) -> bytes:
    """Read an answer that is not an event stream, capped like one event, by ``deadline``.

    Args:
        response: the open response.
        max_bytes: the client's ``max_response_bytes`` (None: no limit of its own); the
            cap is the lower of it and ``DEFAULT_MAX_EVENT_BYTES``.
        deadline: the event-loop time by which all of it must have arrived (None: none).

    Returns:
        The body.

    Raises:
        TimeoutError: the deadline passed (the stream maps it to its own error).
        APIConnectionError: reading failed, or the body ran past the cap.
    """
    import anyio

    if max_bytes is None or max_bytes > DEFAULT_MAX_EVENT_BYTES:
        limit, name = DEFAULT_MAX_EVENT_BYTES, "the event cap of a stream"
    else:
        limit, name = max_bytes, "max_response_bytes"
    if deadline is None:
        return await response.read(limit, limit_name=name)
    with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
        return await response.read(limit, limit_name=name)


def whole_answer_data(
    body: bytes,
    *,
    status: int,
    headers: Mapping[str, str],
    content_type: str,
    request_id: str | None,
    helicone: HeliconeMetadata,
) -> Any:
    """The JSON of a whole answer to a stream request; an error object in it raises.

    Raises:
        APIResponseValidationError: the body is neither an event stream nor JSON.
        APIStatusError: the JSON is an error (a Responses ``response`` object is not one:
            a failed response is an answer).
    """
    data = parse_json(
        body,
        status_code=status,
        request_id=request_id,
        content_type=content_type or "no content type",
        problem="to a stream request with a body that is neither an event stream nor JSON",
        empty="parse",
    )
    if type(data) is dict and reports_error(data) and data.get("object") != "response":
        raise answer_error(data, headers, request_id, helicone=helicone)
    return data


def whole_answer(data: Any, answer_type: type[Any], status: int, request_id: str | None) -> Any:
    """Structure a whole answer's JSON into ``answer_type`` (a stream class's ``_answer_type``).

    Raises:
        APIResponseValidationError: the JSON does not have the answer's shape.
    """
    return structured(
        data,
        structure_hook(answer_type),
        what=f"The gateway answered {status} with JSON that is neither a stream nor a completion",
        status_code=status,
        request_id=request_id,
    )
