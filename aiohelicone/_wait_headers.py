"""Layer 0 (core): how long the server asked us to wait, read from its headers (pure, no I/O).

``retry-after-ms`` (milliseconds), ``Retry-After`` (seconds or an HTTP date, RFC 9110
§10.2.3), ``Helicone-RateLimit-Reset`` (seconds; helicone-api.md §4) and ``RateLimit-Reset``
(seconds until the window resets: the IETF draft header Helicone's REST API sends through
express-rate-limit's ``standardHeaders``, issue #18). Both the retry
policy (:mod:`._retry`) and the response metadata (:mod:`._metadata`) read waits, so the
reading lives here, below both, and neither imports the other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

__all__ = ["MAX_WAIT", "parse_wait", "retry_after_seconds"]

#: The longest wait a header is read as, in seconds: one year, the longest window of a
#: Helicone rate-limit policy (helicone-api.md §3). Anything longer is read as this.
MAX_WAIT = 31_536_000.0


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for, in seconds, or None when it said nothing usable.

    The first usable one of ``retry-after-ms``, ``Retry-After``,
    ``Helicone-RateLimit-Reset`` and ``RateLimit-Reset`` wins; each is read by
    :func:`parse_wait`, so the answer is always finite, non-negative and at most
    :data:`MAX_WAIT`.
    """
    value = headers.get("retry-after-ms")
    if value is not None:
        seconds = parse_wait(value, unit=0.001)
        if seconds is not None:
            return seconds
    value = headers.get("retry-after")
    if value is not None:
        seconds = parse_wait(value, dates=True)
        if seconds is not None:
            return seconds
    for name in ("helicone-ratelimit-reset", "ratelimit-reset"):
        value = headers.get(name)
        if value is not None:
            seconds = parse_wait(value)
            if seconds is not None:
                return seconds
    return None


def parse_wait(value: str, *, unit: float = 1.0, dates: bool = False) -> float | None:
    """One header's wait, in seconds: finite, non-negative, and at most :data:`MAX_WAIT`.

    Args:
        value: the header value: a plain ASCII number of ``unit`` seconds (``1_000`` and
            non-ASCII digits, which ``float()`` would take, are refused), or with ``dates``
            an HTTP date (RFC 9110 §10.2.3 allows either for ``Retry-After``).
        unit: the seconds one unit of the number is worth (0.001 for ``retry-after-ms``).
        dates: whether an HTTP date is accepted.

    Returns:
        The wait; :data:`MAX_WAIT` for anything longer (``inf``, ``1e999``, a date centuries
        ahead: the server asked for "very long", which is not "nothing"); 0 for a date in
        the past; None for NaN, a negative number, or text that is neither.
    """
    text = value.strip()
    if text.isascii() and "_" not in text:
        try:
            number = float(text) * unit
        except ValueError:
            pass
        else:
            if not number >= 0:  # also NaN
                return None
            return min(number, MAX_WAIT)
    if not dates:
        return None
    import email.utils  # only for the rare HTTP-date form; it costs ~14 ms to import

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        seconds = when.timestamp() - time.time()
    except (OverflowError, OSError, ValueError):
        return None
    return min(max(0.0, seconds), MAX_WAIT)
