"""Layer 8 (test kit): texts cut into the deltas a fake stream sends (pure, no I/O)."""

from __future__ import annotations

import math
import re

__all__ = ["fragments", "pieces"]

_PIECE_RE = re.compile(r"\s*\S+")


def pieces(text: str) -> list[str]:
    """Split a text into stream deltas, one word (with its leading space) each."""
    found = _PIECE_RE.findall(text)
    if not found:
        return [text] if text else []
    trailing = text[sum(map(len, found)) :]
    if trailing:
        found[-1] += trailing
    return found


def fragments(text: str, count: int = 3) -> list[str]:
    """Split a tool call's arguments into ``count`` roughly equal fragments."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / count))
    return [text[i : i + size] for i in range(0, len(text), size)]
