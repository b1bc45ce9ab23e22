"""Layer 8 (test kit): what the fake *provider* answers for one attempt (pure; no I/O).

The gateway decides which attempt runs; this module builds that attempt's successful
answer (chat, legacy completion or embeddings, JSON or SSE), or the error the provider
would return for a request it refuses (a model of the wrong kind, a bad embeddings input).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

import attrs

from ._outcomes import Reply
from ._outputs import outputs_for
from ._records import RequestRecord, content_text
from ._registry import Attempt
from ._responses import error_event, responses_answer
from ._structured import structured_content, tool_call_for
from ._wire import (
    DONE,
    JSON_TYPE,
    SSE_TYPE,
    AttemptError,
    Choice,
    chat_chunks,
    chat_completion,
    completion_chunks,
    completion_tokens,
    count_tokens,
    dumps,
    embeddings_list,
    sse,
    text_completion,
    truncate_tokens,
    usage_json,
)

_CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_KIND_FOR_ENDPOINT = {
    "chat": "chat",
    "responses": "chat",
    "completions": "completion",
    "embeddings": "embedding",
}
# OpenAI's own wording when a model is sent to the wrong endpoint (a 404).
_WRONG_KIND = {
    "chat": "This is not a chat model and thus not supported in the v1/chat/completions "
    "endpoint. Did you mean to use v1/completions?",
    "completions": "This is a chat model and not supported in the v1/completions endpoint. "
    "Did you mean to use v1/chat/completions?",
    "embeddings": "This model does not support embeddings.",
    "responses": "This model is not supported in the v1/responses endpoint.",
}


@attrs.frozen
class Answer:
    """A provider's successful answer, laid out as the chunks the client receives.

    Attributes:
        content_type: the ``content-type`` header.
        events: one chunk per SSE event (ending with ``data: [DONE]``), or the JSON body.
        stream: whether this is an event stream.
        error_event: how a scripted in-stream error is written (given the error JSON and
            the event's position); None for ``data: {"error": ...}`` then ``[DONE]``.
    """

    content_type: str
    events: tuple[bytes, ...]
    stream: bool
    error_event: Callable[[Mapping[str, Any], int], bytes] | None = None


@attrs.frozen
class Provider:
    """The provider side of the fake: turns a :class:`Reply` into an answer.

    Attributes:
        responder: the text of replies that do not give one.
        dimensions: the default embedding size of each registry model.
        embedding_dimensions: overrides those defaults when set.
    """

    responder: Callable[[RequestRecord], str]
    dimensions: Mapping[str, int]
    embedding_dimensions: int | None = None

    def answer(
        self, reply: Reply, attempt: Attempt, record: RequestRecord, endpoint: str
    ) -> Answer | AttemptError:
        """Answer ``record`` on ``endpoint`` as ``attempt``'s provider, shaped by ``reply``."""
        data: dict[str, Any] = record.json if isinstance(record.json, dict) else {}
        if attempt.kind is not None and attempt.kind != _KIND_FOR_ENDPOINT[endpoint]:
            return AttemptError("request_failed", _WRONG_KIND[endpoint], 404, attempt.source)
        if endpoint == "embeddings":
            return self._embeddings(data, attempt)
        if endpoint == "responses":
            content_type, served, stream = responses_answer(reply, attempt, record, self.responder)
            return Answer(content_type, served, stream, error_event)
        ident = ("chatcmpl-" if endpoint == "chat" else "cmpl-") + secrets.token_hex(12)
        created = int(time.time())
        choices = self._choices(reply, record, data)
        if endpoint == "chat":
            extra = outputs_for(
                data,
                attempt.model,
                attempt.provider_model,
                attempt.provider,
                record.last_user_message or "",
            )
            if extra is not None:
                choices = [attrs.evolve(c, output=extra) for c in choices]
        usage = usage_json(prompt_tokens(data), completion_tokens(choices), reply.usage)
        model = attempt.provider_model
        if endpoint == "chat":
            if record.stream:
                events = [sse(c) for c in chat_chunks(ident, created, model, choices, usage)]
                return Answer(SSE_TYPE, (*events, DONE), True)
            body = chat_completion(ident, created, model, choices, usage)
            return Answer(JSON_TYPE, (dumps(body),), False)
        if record.stream:
            # Legacy completions: usage only when the client asked (the gateway forces it
            # for chat completions only).
            options = data.get("stream_options")
            wants_usage = isinstance(options, dict) and options.get("include_usage") is True
            chunks = completion_chunks(
                ident, created, model, choices, usage if wants_usage else None
            )
            return Answer(SSE_TYPE, (*map(sse, chunks), DONE), True)
        body = text_completion(ident, created, model, choices, usage)
        return Answer(JSON_TYPE, (dumps(body),), False)

    def _choices(self, reply: Reply, record: RequestRecord, data: dict[str, Any]) -> list[Choice]:
        n = data.get("n")
        count = n if _is_int(n) and n > 0 else 1
        prompt = data.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
            count *= len(prompt)
        if reply.refusal is not None:
            return [Choice(None, (), reply.finish_reason or "stop", refusal=reply.refusal)] * count
        calls = tuple(reply.tool_calls or ())
        if reply.tool_calls is None and reply.text is None:
            generated = tool_call_for(data)  # `tools` in the body: the model calls one
            calls = () if generated is None else (generated,)
        texts: list[str | None]
        if reply.text is None:
            if calls:
                texts = [None] * count
            else:
                schema_text = structured_content(data)
                answer = self.responder(record) if schema_text is None else schema_text
                texts = [answer] * count
        elif isinstance(reply.text, str):
            texts = [reply.text] * count
        else:
            texts = list(reply.text)
        limit = data.get("max_completion_tokens", data.get("max_tokens"))
        choices = []
        for text in texts:
            cut = False
            if _is_int(limit) and text is not None:
                short = truncate_tokens(text, max(limit, 0))
                cut, text = short != text, short
            default = "tool_calls" if calls else ("length" if cut else "stop")
            choices.append(Choice(text, calls, reply.finish_reason or default))
        return choices

    def _embeddings(self, data: dict[str, Any], attempt: Attempt) -> Answer | AttemptError:
        def refuse(message: str) -> AttemptError:
            return AttemptError("request_failed", message, 400, attempt.source)

        raw = data.get("input")
        if raw is None:
            return refuse("'input' is a required property")
        inputs: list[str]
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(i, str) for i in raw):
            inputs = list(raw)
        elif isinstance(raw, list) and raw and all(_is_int(i) for i in raw):
            inputs = [json.dumps(raw)]
        elif isinstance(raw, list) and raw and all(isinstance(i, list) for i in raw):
            inputs = [json.dumps(i) for i in raw]
        else:
            return refuse("Invalid type for 'input': expected a string or an array")
        dimensions = data.get("dimensions")
        if dimensions is None:
            dimensions = self.embedding_dimensions or self.dimensions.get(attempt.model, 1536)
        if not _is_int(dimensions) or dimensions < 1:
            return refuse("Invalid 'dimensions': expected a positive integer")
        encoding = data.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return refuse("Invalid 'encoding_format': expected 'float' or 'base64'")
        tokens = sum(count_tokens(i) for i in inputs)
        body = embeddings_list(
            attempt.model, attempt.provider_model, inputs, tokens, dimensions, encoding
        )
        return Answer(JSON_TYPE, (dumps(body),), False)


def chat_format_problem(data: object) -> str | None:
    """Why a chat body fails the gateway's PTB schema check, or None when it passes."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        return "Invalid request body: 'messages' is required and must be an array"
    if not messages:
        return "Invalid request body: 'messages' must contain at least one message"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _CHAT_ROLES:
            return f"Invalid request body: messages[{index}] must be an object with a valid role"
    return None


def prompt_tokens(data: Mapping[str, Any]) -> int:
    """Fake prompt tokens: those of every message's text, or of the prompt(s)."""
    messages = data.get("messages")
    if isinstance(messages, list):
        return sum(
            count_tokens(content_text(m.get("content"))) for m in messages if isinstance(m, dict)
        )
    prompt = data.get("prompt")
    if isinstance(prompt, str):
        return count_tokens(prompt)
    if isinstance(prompt, list):
        return sum(count_tokens(p) for p in prompt if isinstance(p, str))
    return 0


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
