"""Micro-benchmarks: JSON text to typed models, for a chat completion and a stream chunk.

Run with::

    pytest benchmarks/bench_models.py --benchmark-only

Each group puts aiohelicone's structuring (``json.loads`` plus the generated structure hook,
what the client does per answer or per chunk) beside ``json.loads`` alone (what raw httpx2 does
in the harness) and, when orjson is installed, the ``fast`` extra's decoder. The bodies are the
benchmark server's own (``server.py``), so these numbers explain the per-unit rows of
``run.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from aiohelicone import ChatCompletion, ChatCompletionChunk
except ImportError:  # not installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from aiohelicone import ChatCompletion, ChatCompletionChunk
import server

from aiohelicone._converter import structure_hook

COMPLETION = server._chat_completion_body()
CHUNK = server._chunk_payload({"content": "Hello"}, None)


def _parsers(model: type) -> dict[str, Callable[[bytes], Any]]:
    hook = structure_hook(model)
    parsers: dict[str, Callable[[bytes], Any]] = {
        "json.loads only": json.loads,
        "json.loads + structure": lambda text: hook(json.loads(text)),
    }
    try:
        import orjson
    except ImportError:
        return parsers
    parsers["orjson.loads + structure"] = lambda text: hook(orjson.loads(text))
    return parsers


@pytest.mark.benchmark(group="chat completion (~600 bytes)")
@pytest.mark.parametrize("parser", _parsers(ChatCompletion))
def test_chat_completion(benchmark: Any, parser: str) -> None:
    parse = _parsers(ChatCompletion)[parser]
    result = benchmark(parse, COMPLETION)
    assert result is not None


@pytest.mark.benchmark(group="stream chunk (~190 bytes)")
@pytest.mark.parametrize("parser", _parsers(ChatCompletionChunk))
def test_stream_chunk(benchmark: Any, parser: str) -> None:
    parse = _parsers(ChatCompletionChunk)[parser]
    result = benchmark(parse, CHUNK)
    assert result is not None
