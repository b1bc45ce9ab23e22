"""Layer 0 (core): retry policy as data: which answers are retried, and the wait before each.

The wait before retry number ``n`` (0-based) is::

    server_wait                                   if the server said how long (see below)
    min(max_delay, initial_delay * 2**n) * (1 - jitter * U)    otherwise, U uniform in [0, 1)

The server's wait comes from, in order: ``retry-after-ms`` (milliseconds), ``Retry-After``
(seconds or an HTTP date), ``Helicone-RateLimit-Reset`` (seconds; the gateway sets no
``Retry-After`` of its own, ../shared/helicone-api.md §4), ``RateLimit-Reset`` (seconds
until the window resets: the IETF draft header Helicone's REST API sends, through
express-rate-limit's ``standardHeaders``). Each is read by
:func:`parse_wait`: a wait is always finite, non-negative and at most :data:`MAX_WAIT`
(``inf``, ``1e999`` or a date centuries ahead become ``MAX_WAIT``; NaN and negative values
are ignored), so ``retry_after`` is safe to do arithmetic with. When the server asks for more
than ``max_retry_after`` seconds we do not sleep: the error is raised with ``retry_after``
set (``run_batch`` applies the same bound to its pauses).

Retried: connection errors, timeouts, 408, 409, 429 and >= 500. Never 400/401/403/404/422.
Two refinements use what the gateway says about its own attempts (§5.2):

- a 5xx whose per-attempt ``details`` all carry provider 4xx codes (other than 408/429) will
  fail the same way again, so it is not retried;
- a 429 Helicone raised because credits ran out is not retried (waiting does not add credit).

Tests switch waits off with :func:`aiohelicone.testing.no_retry_waits` (or
:func:`set_waits_enabled`), the way stamina does; the decisions stay the same.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from ._exceptions import APIError, APIStatusError, ErrorDetail
from ._wait_headers import MAX_WAIT, parse_wait, retry_after_seconds

__all__ = [
    "MAX_WAIT",
    "RetryPolicy",
    "all_provider_client_errors",
    "parse_wait",
    "retry_after_seconds",
    "set_waits_enabled",
    "sleep",
    "wait_before_retry",
    "waits_disabled",
]

RETRYABLE_STATUS = frozenset({408, 409, 429})

_waits_enabled = True


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{attribute.name} must be a non-negative number, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How the client retries a failed request.

    Args:
        max_retries: retries after the first try (0 disables retrying).
        initial_delay: the first backoff wait, in seconds.
        max_delay: the cap of the exponential backoff, in seconds.
        jitter: the fraction of each backoff wait that is randomised away (0 to 1).
        max_retry_after: the longest server-requested wait we sleep through; a longer one
            raises the error at once with ``retry_after`` set.
    """

    max_retries: int = attrs.field(default=2, validator=_non_negative)
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.25, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)

    def backoff(self, retry_index: int) -> float:
        """The wait before retry ``retry_index`` (0-based) when the server said nothing."""
        base = min(self.max_delay, self.initial_delay * (2.0**retry_index))
        return base * (1.0 - min(self.jitter, 1.0) * random.random())

    def should_retry_status(self, error: APIStatusError) -> bool:
        """Whether an error status is worth another try (see the module docstring)."""
        status = error.status_code
        if status >= 500:
            return not all_provider_client_errors(error.details)
        if status == 429:
            return getattr(error, "reason", None) != "insufficient_credits"
        return status in RETRYABLE_STATUS


def wait_before_retry(policy: RetryPolicy, retries: int, error: APIError) -> float | None:
    """Seconds to wait before retrying after ``error``, or None when it is final.

    Args:
        policy: the call's policy.
        retries: retries done so far.
        error: what the last try ended with: an ``APIConnectionError`` (timeouts
            included) or an ``APIStatusError``.

    Returns:
        The wait (the server's when it said one, else :meth:`RetryPolicy.backoff`), or None:
        retries are spent, the status is not worth another try, or the server asked for
        longer than ``max_retry_after`` (the error keeps ``retry_after``).
    """
    if retries >= policy.max_retries:
        return None
    if not isinstance(error, APIStatusError):
        return policy.backoff(retries)
    if not policy.should_retry_status(error):
        return None
    asked = error.retry_after  # parsed once, when the error was built
    if asked is not None and asked > policy.max_retry_after:
        return None
    return asked if asked is not None else policy.backoff(retries)


def all_provider_client_errors(details: tuple[ErrorDetail, ...]) -> bool:
    """Whether every per-attempt detail is a provider 4xx other than 408/429 (final)."""
    codes = [d.status_code for d in details]
    return bool(codes) and all(
        c is not None and 400 <= c < 500 and c not in (408, 429) for c in codes
    )


def set_waits_enabled(enabled: bool) -> None:
    """Turn retry waits on or off process-wide (for tests)."""
    global _waits_enabled
    _waits_enabled = enabled


@contextmanager
def waits_disabled() -> Iterator[None]:
    """A context in which retry waits return at once."""
    previous = _waits_enabled
    set_waits_enabled(False)
    try:
        yield
    finally:
        set_waits_enabled(previous)


async def sleep(seconds: float) -> None:
    """Wait between tries, unless waits are switched off (still a checkpoint)."""
    import anyio  # imported on first use: `import aiohelicone` does not pay for anyio

    await anyio.sleep(seconds if _waits_enabled else 0)
