"""Layer 0 (core): the pacing governor of a batch: when may the next request go (pure, no I/O).

The :class:`Governor` does no I/O and is given the time by its caller (``_batch.BatchRun``
asks it before every send), so its arithmetic is tested without sleeping:

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

import math

from ._metadata import RateLimitInfo

__all__ = ["Governor"]

_MAX_BACKOFF = 60.0
_RESET_UNKNOWN = 1.0
_LOW_FRACTION = 0.1


class Governor:
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
