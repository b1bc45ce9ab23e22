"""Layer 0 (core): the timeout types every layer shares: ``TimeoutArg`` and ``StreamTimeouts``.

Pure data, no I/O and no httpx2 import: the send path (``_send.py``) turns these into an
``httpx2.Timeout`` when it prepares a call, and the streams (``_stream_base.py``) watch the
first-event and total budgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

if TYPE_CHECKING:
    import httpx2

__all__ = ["StreamTimeouts", "TimeoutArg"]

#: A timeout argument: seconds for every phase, an ``httpx2.Timeout``, None for no timeout,
#: or ``"default"`` (per call: the client's timeout; for the client: connect 10 s, read
#: 120 s, write 30 s, pool 30 s). A string alias, so that annotating with it imports nothing.
TimeoutArg: TypeAlias = "float | httpx2.Timeout | Literal['default'] | None"


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    ):
        raise ValueError(f"{attribute.name} must be a positive number of seconds or None")


@attrs.frozen
class StreamTimeouts:
    """Time budgets of a stream, on top of the connect/write/pool timeouts.

    Args:
        first_event: seconds from sending the request to the first event (None: the read
            timeout applies alone).
        idle: longest gap between two reads of the stream, in seconds (None: the client's
            read timeout). A slow stream whose gaps each stay within it completes.
        total: a deadline for the whole stream, in seconds from the request (None: none).

    An answer to a stream request that is not an event stream (a JSON completion or error
    sent instead) is one event that arrives when its whole body has: ``first_event`` and
    ``total`` bound the time from the request until the body is complete
    (:class:`StreamFirstEventTimeoutError`, :class:`StreamDeadlineError`), and ``idle``
    bounds each gap while it arrives (a gap too long raises
    :class:`StreamFirstEventTimeoutError`, as it does before a stream's first event).
    """

    first_event: float | None = attrs.field(default=None, validator=_positive_or_none)
    idle: float | None = attrs.field(default=None, validator=_positive_or_none)
    total: float | None = attrs.field(default=None, validator=_positive_or_none)
