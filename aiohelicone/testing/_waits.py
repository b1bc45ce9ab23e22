"""Layer 8 (test kit): the public switch removing retry sleeps for users' tests (stamina-style)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohelicone import _retry

__all__ = ["no_retry_waits"]


@contextmanager
def no_retry_waits() -> Iterator[None]:
    """Inside this block, retries happen at once instead of after their backoff.

    The retry decisions stay exactly the same (which answers are retried, how many times,
    when a requested wait over ``max_retry_after`` raises instead): only the sleeps are
    skipped, so a test of "a 503 is retried" takes no time. The wait each retry would have
    made is still reported to an ``on_retry`` hook. The switch is process-wide, not per
    task or client; blocks nest, and the previous setting comes back on leaving, also when
    the block raises.

    Example::

        with no_retry_waits():
            answer = await client.chat.completions.create(...)

    Yields:
        None.
    """
    with _retry.waits_disabled():
        yield
