"""Layer 9 (command line): the exit statuses and shared messages of ``aiohelicone batch``.

One list for both runs of the command, in this process and on Ray (``_cli_batch`` and
``_cli_batch_ray``), so that they exit and report alike.
"""

from __future__ import annotations

import sys

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_OUTPUT_LOCKED",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_SOME_FAILED",
    "err",
    "output_locked_message",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 3
EXIT_OUTPUT_LOCKED = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def err(text: str) -> None:
    """One line to standard error, flushed at once."""
    print(text, file=sys.stderr, flush=True)


def output_locked_message(output: str, lock_path: str) -> str:
    """What ``aiohelicone batch`` says when another run holds ``lock_path`` (exit status 4)."""
    return (
        f"aiohelicone batch: error: another aiohelicone batch run is using {output} "
        f"(it holds {lock_path}); nothing was sent. Wait for it to finish, or give this "
        "run another --output"
    )
