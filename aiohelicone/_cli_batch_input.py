"""Layer 9 (command line): the input file of ``aiohelicone batch``, checked before anything is sent.

Every line is read as an OpenAI Batch API input line (:class:`BatchRequest` checks its
body as ``create()`` would); malformed lines and duplicate ``custom_id``s are all collected
with their line numbers, so the command can report them together and send nothing. The
checked file is then read a second time, lazily, by :func:`_requests` as the batch pulls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._batch_items import BatchRequest

__all__ = ["InputProblems", "scan_input"]


class InputProblems(Exception):
    """Lines of the input file that cannot be run (each ``(line number, message)``)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")


def _parse_line(raw: bytes) -> BatchRequest:
    from ._batch_items import BatchRequest
    from ._exceptions import InvalidInputError

    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidInputError("line", "is not UTF-8") from None
    except ValueError as exc:
        raise InvalidInputError("line", f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInputError("line", f"must be a JSON object, got {type(data).__name__}")
    return BatchRequest.from_openai(data)


def scan_input(path: str) -> list[str]:
    """Check every line of an input file before anything is sent.

    Args:
        path: the JSONL file (blank lines are ignored).

    Returns:
        The ``custom_id``s, in file order.

    Raises:
        InputProblems: malformed lines, bodies their endpoint's ``create()`` would refuse
            (:class:`BatchRequest` checks them), or duplicate ``custom_id``s (all of them).
        OSError: the file cannot be read.
    """
    from ._exceptions import InvalidInputError

    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    ids: list[str] = []
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                request = _parse_line(raw)
            except InvalidInputError as exc:
                problems.append((number, str(exc)))
                continue
            custom_id = request.id
            assert custom_id is not None  # from_openai requires it
            seen = first_line.get(custom_id)
            if seen is not None:
                problems.append(
                    (number, f"duplicate custom_id {custom_id!r} (first on line {seen})")
                )
                continue
            first_line[custom_id] = number
            ids.append(custom_id)
    if problems:
        raise InputProblems(problems)
    return ids


def _requests(path: str, wanted: set[str]) -> Iterator[BatchRequest]:
    """The requests to run, read lazily from the (already checked) input file."""
    with open(path, "rb") as file:
        for raw in file:
            if not raw.strip():
                continue
            request = _parse_line(raw)
            if request.id in wanted:
                yield request
