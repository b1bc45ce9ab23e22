"""Layer 8 (test kit): the fake's wire formats: OpenAI bodies, SSE chunks, the error envelope.

Pure functions (no I/O). Shapes follow the OpenAI API as the gateway normalises it
(../shared/helicone-api.md §5.2 and §6): compact JSON, chat streams that always end with a
usage chunk whose ``choices`` is empty, then ``data: [DONE]``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._deltas import fragments, pieces
from ._outcomes import ToolCall

if TYPE_CHECKING:
    from ._outputs import ExtraOutput

DONE = b"data: [DONE]\n\n"
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"
TEXT_TYPE = "text/plain;charset=UTF-8"

# A "token" is a run of word characters or one punctuation mark: deterministic and close
# enough to real tokenisers for usage assertions.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def dumps(value: object) -> bytes:
    """Compact JSON bytes, as the gateway's normaliser (``JSON.stringify``) writes them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sse(value: object) -> bytes:
    """One ``data:`` event."""
    return b"data: " + dumps(value) + b"\n\n"


def count_tokens(text: str) -> int:
    """Count fake tokens: words and punctuation marks."""
    return len(_TOKEN_RE.findall(text))


def truncate_tokens(text: str, limit: int) -> str:
    """The prefix of ``text`` holding its first ``limit`` fake tokens."""
    matches = list(_TOKEN_RE.finditer(text))
    if len(matches) <= limit:
        return text
    return text[: matches[limit - 1].end()] if limit > 0 else ""


@attrs.frozen
class Choice:
    """One generated choice before it is laid out as JSON or chunks.

    ``output`` holds its reasoning and images, if any (see ``_outputs.py``).
    """

    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    output: ExtraOutput | None = None
    refusal: str | None = None


def tool_call_json(call: ToolCall, position: int) -> dict[str, Any]:
    """A tool call as OpenAI returns it in a message."""
    return {
        "id": call.id or f"call_{position}",
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def usage_json(prompt: int, completion: int, override: Mapping[str, int] | None) -> dict[str, int]:
    """OpenAI ``usage`` with ``override`` keys applied."""
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    usage.update(override or {})
    return usage


def completion_tokens(choices: Iterable[Choice]) -> int:
    """Fake completion tokens of all choices (text plus tool-call arguments)."""
    total = 0
    for choice in choices:
        total += count_tokens(choice.text or "") + count_tokens(choice.refusal or "")
        total += sum(count_tokens(c.name) + count_tokens(c.arguments) for c in choice.tool_calls)
    return total


def chat_completion(
    ident: str, created: int, model: str, choices: Sequence[Choice], usage: Mapping[str, int]
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    out = []
    for index, choice in enumerate(choices):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.text,
            "refusal": choice.refusal,
        }
        if choice.tool_calls:
            message["tool_calls"] = [tool_call_json(c, i) for i, c in enumerate(choice.tool_calls)]
        if choice.output is not None:
            message.update(choice.output.message_fields())
        out.append(
            {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
        )
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": out,
        "usage": dict(usage),
        "system_fingerprint": None,
    }


def chat_chunks(
    ident: str, created: int, model: str, choices: Sequence[Choice], usage: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` events of a stream, ending with the usage chunk.

    Deltas of several choices, and argument fragments of several tool calls, are
    interleaved by index, which a correct accumulator must handle.
    """

    def chunk(choice_deltas: list[dict[str, Any]], usage_value: object = None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choice_deltas,
            "usage": usage_value,
        }

    def delta(index: int, body: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": body, "logprobs": None, "finish_reason": finish}

    events = [
        chunk(
            [
                delta(i, {"role": "assistant", "content": "" if c.text is not None else None})
                for i, c in enumerate(choices)
            ]
        )
    ]
    thoughts = [c.output.reasoning_deltas() if c.output else [] for c in choices]
    for step in range(max(map(len, thoughts), default=0)):
        for index, bodies in enumerate(thoughts):
            if step < len(bodies):
                events.append(chunk([delta(index, bodies[step])]))
    refusals = [pieces(c.refusal or "") for c in choices]
    for step in range(max(map(len, refusals), default=0)):
        for index, parts in enumerate(refusals):
            if step < len(parts):
                events.append(chunk([delta(index, {"refusal": parts[step]})]))
    texts = [pieces(c.text or "") for c in choices]
    for step in range(max(map(len, texts), default=0)):
        for index, parts in enumerate(texts):
            if step < len(parts):
                events.append(chunk([delta(index, {"content": parts[step]})]))
    for index, choice in enumerate(choices):
        if choice.output is not None:
            events.extend(chunk([delta(index, body)]) for body in choice.output.image_deltas())
    for index, choice in enumerate(choices):
        calls = choice.tool_calls
        for k, call in enumerate(calls):
            head = {
                "index": k,
                "id": call.id or f"call_{k}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(chunk([delta(index, {"tool_calls": [head]})]))
        frags = [fragments(call.arguments) for call in calls]
        for step in range(max(map(len, frags), default=0)):
            for k, parts in enumerate(frags):
                if step < len(parts):
                    body = {"tool_calls": [{"index": k, "function": {"arguments": parts[step]}}]}
                    events.append(chunk([delta(index, body)]))
    for index, choice in enumerate(choices):
        last = choice.output.finish_delta() if choice.output is not None else {}
        events.append(chunk([delta(index, last, choice.finish_reason)]))
    events.append(chunk([], dict(usage)))
    return events


def text_completion(
    ident: str, created: int, model: str, choices: Sequence[Choice], usage: Mapping[str, int]
) -> dict[str, Any]:
    """A legacy ``text_completion`` object."""
    return {
        "id": ident,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "text": c.text or "",
                "index": i,
                "logprobs": None,
                "finish_reason": c.finish_reason,
            }
            for i, c in enumerate(choices)
        ],
        "usage": dict(usage),
    }


def completion_chunks(
    ident: str,
    created: int,
    model: str,
    choices: Sequence[Choice],
    usage: Mapping[str, int] | None,
) -> list[dict[str, Any]]:
    """The events of a legacy completions stream (usage chunk only when asked for)."""

    def chunk(items: list[dict[str, Any]], usage_value: object = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": items,
        }
        if usage is not None:
            out["usage"] = usage_value
        return out

    def item(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
        return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}

    events = []
    texts = [pieces(c.text or "") for c in choices]
    for step in range(max(map(len, texts), default=0)):
        for index, parts in enumerate(texts):
            if step < len(parts):
                events.append(chunk([item(index, parts[step])]))
    for index, choice in enumerate(choices):
        events.append(chunk([item(index, "", choice.finish_reason)]))
    if usage is not None:
        events.append(chunk([], dict(usage)))
    return events


def embedding_vector(model: str, key: str, dimensions: int) -> tuple[list[float], bytes]:
    """A deterministic unit vector for ``key``, as float32 values and their LE bytes.

    The same (model, input, dimensions) always gives the same vector; the floats are
    rounded to float32 so the JSON and ``base64`` forms agree exactly.
    """
    seed = hashlib.sha256(f"{model}\0{dimensions}\0{key}".encode()).digest()
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(x / norm for x in raw))
    return list(struct.unpack(f"<{dimensions}f", packed)), packed


def embeddings_list(
    model: str,
    served_model: str,
    inputs: Sequence[str],
    tokens: int,
    dimensions: int,
    encoding: str,
) -> dict[str, Any]:
    """An OpenAI embeddings ``list`` (``encoding`` ``"float"`` or ``"base64"``)."""
    data = []
    for index, key in enumerate(inputs):
        floats, packed = embedding_vector(model, key, dimensions)
        value: object = base64.b64encode(packed).decode() if encoding == "base64" else floats
        data.append({"object": "embedding", "index": index, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": served_model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def openai_error(message: str, status: int) -> dict[str, Any]:
    """A provider error body in OpenAI's shape."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 429:
        kind = "rate_limit_exceeded"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@attrs.frozen
class AttemptError:
    """One failed attempt, as the gateway lists it in ``error.details``."""

    type: str
    message: str
    status: int
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``details[]`` entry (``source`` left out when unknown, as the gateway does)."""
        out: dict[str, Any] = {"type": self.type, "message": self.message}
        out["statusCode"] = self.status
        if self.source is not None:
            out["source"] = self.source
        return out


def aggregate(errors: Sequence[AttemptError]) -> tuple[int, str, str]:
    """Choose the status, ``code`` and message for failed attempts.

    The order of checks is SimpleAIGateway ``createErrorResponse`` (helicone-api.md §5.2):
    403, then 401, then any other non-429 error (normalised to 500), then invalid_format
    (400), then all disallowed (400), then all 429, else 500 ``all_attempts_failed``.

    Returns:
        (status, code, message).
    """
    first403 = next((e for e in errors if e.status == 403), None)
    if first403 is not None:
        return 403, "request_failed", first403.message
    if any(e.status == 401 for e in errors):
        return 401, "request_failed", "Authentication failed"
    other = next(
        (
            e
            for e in errors
            if e.status not in (429, 403, 401) and e.type not in ("invalid_format", "disallowed")
        ),
        None,
    )
    if other is not None:
        return 500, "request_failed", other.message or "Request failed"
    invalid = next((e for e in errors if e.status == 400 and e.type == "invalid_format"), None)
    if invalid is not None:
        return 400, "request_failed", invalid.message
    if errors and all(e.type == "disallowed" for e in errors):
        return (
            400,
            "request_failed",
            "Cloud billing is disabled for all requested models. "
            "Please contact support@helicone.ai for help",
        )
    if errors and all(e.status == 429 for e in errors):
        if any(e.type == "insufficient_credit_limit" for e in errors):
            return 429, "request_failed", "Insufficient credits"
        return 429, "rate_limited", "Rate limited"
    return 500, "all_attempts_failed", "All attempts failed"


def envelope(errors: Sequence[AttemptError]) -> tuple[int, bytes]:
    """The gateway's error answer for failed attempts: (status, JSON body)."""
    status, code, message = aggregate(errors)
    body = {
        "success": False,
        "error": {
            "code": code,
            "message": message,
            "details": [e.to_json() for e in errors],
            "param": None,
        },
    }
    return status, dumps(body)


def provider_message(body: bytes, status: int) -> str:
    """The message the gateway extracts from a provider error (``error.message``)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return f"Request failed with status {status}"
