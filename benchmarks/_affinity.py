"""CPU pinning shared by the benchmark server and clients (Linux only; a no-op elsewhere)."""

from __future__ import annotations

import os


def pin_to_cpu(index: int) -> int | None:
    """Pin this process to the ``index``-th CPU it may use, when it may use at least two.

    The client takes index 0 and the server index 1, so neither steals the other's core.

    Args:
        index: 0 for the client, 1 for the server.

    Returns:
        The CPU number pinned to, or None when pinning is unavailable or pointless.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    cpu = cpus[index % len(cpus)]
    os.sched_setaffinity(0, {cpu})
    return cpu
