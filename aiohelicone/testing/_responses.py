"""Layer 8 (test kit): the fake provider's Responses API answers (``/v1/responses``; pure).

The gateway routes, rate-limits, caches and scripts a Responses request exactly as a chat
request (``_gateway.py``); this module builds the successful answer of one attempt:

- a ``response`` object (``object: "response"``) with OpenAI's output items: a
  ``reasoning`` item first for reasoning models (``o1``/``o3``/``o4``/``gpt-5`` names,
  ``deepseek-reasoner``) or when the request has ``reasoning``, with a summary part when
  ``reasoning.summary`` asks for one and ``encrypted_content`` when ``include`` asks for it;
  a ``message`` with one ``output_text`` part (the :class:`Reply`'s text or the responder's);
  then ``function_call`` items: the reply's ``tool_calls``, or, when the request has
  function ``tools`` and the reply gives no text, a call to the first one (or the one
  ``tool_choice`` names) with arguments following its JSON schema (``_structured.py``),
  unless the last input item is a ``function_call_output``;
- with ``text.format`` of type ``json_schema`` and no scripted text, the text is compact
  JSON following its schema; ``Reply(refusal=...)`` gives a message with one ``refusal``
  part instead (streamed as ``response.refusal.delta`` events);
- ``max_output_tokens`` cuts the text (``status: "incomplete"``,
  ``incomplete_details.reason: "max_output_tokens"``), as does ``Reply(finish_reason=
  "length")``; ``"content_filter"`` gives that reason;
- usage in the Responses form (``input_tokens``, ``output_tokens`` with
  ``output_tokens_details.reasoning_tokens``, ``input_tokens_details.cached_tokens``);
- with ``stream: true``, OpenAI's event order with ``event:`` lines and increasing
  ``sequence_number``: ``response.created``, ``response.in_progress``, per item
  ``output_item.added``, its parts and deltas, ``output_item.done``, then
  ``response.completed`` (or ``response.incomplete``), and no ``data: [DONE]``. The final
  event's response is the non-stream answer, byte for byte.

A scripted :class:`InStreamError` becomes an ``event: error`` with OpenAI's flat error fields.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._deltas import fragments, pieces
from ._outcomes import Reply, ToolCall
from ._records import RequestRecord, content_text
from ._registry import Attempt
from ._structured import instance_of
from ._wire import JSON_TYPE, SSE_TYPE, count_tokens, dumps, truncate_tokens

__all__ = [
    "RESPONSES_PROVIDERS",
    "error_event",
    "event",
    "input_tokens",
    "is_reasoning_model",
    "responses_answer",
    "responses_format_problem",
]

#: Providers the gateway sends Responses requests to (``ResponsesAPIEnabledProviders``,
#: helicone-api.md §1.2); a PTB attempt on another provider fails the format check.
RESPONSES_PROVIDERS = frozenset(
    {
        "openai",
        "helicone",
        "anthropic",
        "bedrock",
        "google-ai-studio",
        "azure",
        "chutes",
        "deepinfra",
        "deepseek",
        "cerebras",
        "groq",
        "mistral",
        "nebius",
        "novita",
        "openrouter",
        "perplexity",
        "xai",
        "baseten",
        "fireworks",
        "vertex",
    }
)

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
_SUMMARIES = frozenset({"auto", "concise", "detailed"})


def event(kind: str, data: Mapping[str, Any]) -> bytes:
    """One Responses SSE event: ``event: <kind>`` then its ``data:`` line."""
    return b"event: " + kind.encode() + b"\ndata: " + dumps(dict(data)) + b"\n\n"


def error_event(error_json: Mapping[str, Any], sequence_number: int) -> bytes:
    """The ``error`` event for a scripted in-stream error.

    A chat-style ``{"error": {"message", "type", "code", "param"}}`` (the default of
    :class:`InStreamError`) is flattened into OpenAI's ``{"type": "error", "code",
    "message", "param", "sequence_number"}``; the code falls back to the error's ``type``.
    A mapping that already has a ``message`` is sent as given (plus ``type`` and
    ``sequence_number`` when it lacks them).
    """
    data = dict(error_json)
    nested = data.get("error")
    if "message" not in data and isinstance(nested, Mapping):
        data = {
            "type": "error",
            "code": nested.get("code") or nested.get("type"),
            "message": nested.get("message"),
            "param": nested.get("param"),
        }
    data.setdefault("type", "error")
    data.setdefault("sequence_number", sequence_number)
    return event("error", data)


def is_reasoning_model(model: str) -> bool:
    """Whether the fake treats a registry model as a reasoning model."""
    name = model.lower()
    return name.startswith(_REASONING_PREFIXES) or "reasoner" in name


def responses_format_problem(data: object, provider: str) -> str | None:
    """Why a Responses body fails the gateway's PTB checks for ``provider``, or None."""
    if provider not in RESPONSES_PROVIDERS:
        return f"Responses API is not supported for provider {provider}"
    raw = data.get("input") if isinstance(data, dict) else None
    if isinstance(raw, str):
        return None
    if not isinstance(raw, list):
        return "Invalid request body: 'input' is required and must be a string or an array"
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            return f"Invalid request body: input[{index}] must be an object"
    return None


def _input_items(data: Mapping[str, Any]) -> list[Any]:
    raw = data.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return list(raw) if isinstance(raw, list) else []


def input_tokens(data: Mapping[str, Any]) -> int:
    """Fake input tokens: the instructions' and every input item's text."""
    total = 0
    instructions = data.get("instructions")
    if isinstance(instructions, str):
        total += count_tokens(instructions)
    for item in _input_items(data):
        if not isinstance(item, dict):
            continue
        total += count_tokens(content_text(item.get("content")))
        for key in ("output", "arguments"):  # function_call_output / function_call items
            if isinstance(item.get(key), str):
                total += count_tokens(item[key])
    return total


def _function_tools(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = data.get("tools")
    if not isinstance(tools, list):
        return []
    return [
        t
        for t in tools
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    ]


def _auto_call(data: Mapping[str, Any]) -> ToolCall | None:
    """The call the fake model makes when the request offers function tools.

    As for chat (``_structured.py``): none with ``tool_choice: "none"`` or when the last
    input item is a ``function_call_output`` (the model answers it, so an agent loop ends).
    """
    choice = data.get("tool_choice", "auto")
    if choice == "none":
        return None
    items = _input_items(data)
    if items and isinstance(items[-1], dict) and items[-1].get("type") == "function_call_output":
        return None
    tools = _function_tools(data)
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        tools = [t for t in tools if t["name"] == choice["name"]] or tools
    if not tools:
        return None
    tool = tools[0]
    parameters = tool.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        parameters = {"type": "object", "properties": {}}
    return ToolCall(tool["name"], instance_of(parameters))


def _schema_text(data: Mapping[str, Any]) -> str | None:
    """JSON following ``text.format``'s schema when it is ``json_schema`` (else None)."""
    text = data.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
        return None
    schema = fmt.get("schema")
    value = instance_of(schema if isinstance(schema, Mapping) else {"type": "object"})
    return dumps(value).decode()


def _reasoning_settings(data: Mapping[str, Any], model: str) -> dict[str, Any] | None:
    reasoning = data.get("reasoning")
    if isinstance(reasoning, dict):
        return {"effort": "medium", "summary": None, **reasoning}
    return {"effort": "medium", "summary": None} if is_reasoning_model(model) else None


class _Builder:
    """Builds one Responses answer (the object, then optionally its events)."""

    def __init__(
        self,
        reply: Reply,
        attempt: Attempt,
        record: RequestRecord,
        responder: Callable[[RequestRecord], str],
    ) -> None:
        data: dict[str, Any] = record.json if isinstance(record.json, dict) else {}
        self.data = data
        self.ident = "resp_" + secrets.token_hex(24)
        self.created_at = int(time.time())
        self.model = attempt.provider_model
        user_text = record.last_user_message or ""
        calls = list(reply.tool_calls or ())
        text: str | None = reply.text if isinstance(reply.text, str) else None
        if isinstance(reply.text, Sequence) and not isinstance(reply.text, str) and reply.text:
            text = reply.text[0]  # Responses has no ``n``: the first text
        self.refusal = reply.refusal
        if self.refusal is not None:
            text, calls = None, []
        elif reply.text is None and not calls:
            auto = _auto_call(data)
            if auto is not None:
                calls = [auto]
            else:
                schema_text = _schema_text(data)
                text = responder(record) if schema_text is None else schema_text
        self.reason: str | None = None
        limit = data.get("max_output_tokens")
        if text is not None and isinstance(limit, int) and not isinstance(limit, bool):
            short = truncate_tokens(text, max(limit, 0))
            if short != text:
                text, self.reason = short, "max_output_tokens"
        if reply.finish_reason == "length":
            self.reason = "max_output_tokens"
        elif reply.finish_reason == "content_filter":
            self.reason = "content_filter"
        self.text = text
        self.calls = calls
        self.reasoning = _reasoning_settings(data, attempt.model)
        summary = self.reasoning.get("summary") if self.reasoning else None
        self.summary_text: str | None = None
        if self.reasoning is not None and summary in _SUMMARIES:
            topic = user_text or "the request"
            self.summary_text = f"**Thinking it over**\n\nThe user asked about: {topic}."
        reasoning_tokens = 0
        if self.reasoning is not None:
            reasoning_tokens = 16 + count_tokens(self.summary_text or "")
        output = count_tokens(text or "") + count_tokens(self.refusal or "") + reasoning_tokens
        output += sum(count_tokens(c.name) + count_tokens(c.arguments) for c in calls)
        prompt = input_tokens(data)
        self.usage: dict[str, Any] = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": prompt + output,
        }
        self.usage.update(reply.usage or {})
        self.ids = secrets.token_hex(24)
        self.status = "incomplete" if self.reason else "completed"

    # -- the object ---------------------------------------------------------------------

    def items(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.reasoning is not None:
            out.append(self._reasoning_item(done=True))
        if self.text is not None or self.refusal is not None:
            out.append(self._message(done=True))
        out.extend(self._call(i, call, done=True) for i, call in enumerate(self.calls))
        return out

    def _reasoning_item(self, *, done: bool) -> dict[str, Any]:
        summary = []
        if done and self.summary_text is not None:
            summary = [{"type": "summary_text", "text": self.summary_text}]
        item: dict[str, Any] = {"id": "rs_" + self.ids, "type": "reasoning", "summary": summary}
        include = self.data.get("include")
        if isinstance(include, list) and "reasoning.encrypted_content" in include:
            item["encrypted_content"] = "gAAAAB" + self.ids  # opaque, as OpenAI's
        return item

    def _message(self, *, done: bool) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if done and self.refusal is not None:
            content = [{"type": "refusal", "refusal": self.refusal}]
        elif done:
            content = [
                {"type": "output_text", "annotations": [], "logprobs": [], "text": self.text}
            ]
        status = ("incomplete" if self.reason else "completed") if done else "in_progress"
        return {
            "id": "msg_" + self.ids,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    def _call(self, index: int, call: ToolCall, *, done: bool) -> dict[str, Any]:
        return {
            "id": f"fc_{self.ids}{index}",
            "type": "function_call",
            "status": "completed" if done else "in_progress",
            "arguments": call.arguments if done else "",
            "call_id": call.id or f"call_{index}",
            "name": call.name,
        }

    def response(self, *, final: bool) -> dict[str, Any]:
        data = self.data
        tools = data.get("tools")
        metadata = data.get("metadata")
        text = data.get("text")
        return {
            "id": self.ident,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status if final else "in_progress",
            "background": False,
            "error": None,
            "incomplete_details": {"reason": self.reason} if final and self.reason else None,
            "instructions": data.get("instructions"),
            "max_output_tokens": data.get("max_output_tokens"),
            "model": self.model,
            "output": self.items() if final else [],
            "parallel_tool_calls": data.get("parallel_tool_calls", True),
            "previous_response_id": data.get("previous_response_id"),
            "reasoning": self.reasoning or {"effort": None, "summary": None},
            "service_tier": "default",
            "store": data.get("store", True),
            "temperature": data.get("temperature", 1.0),
            "text": text if isinstance(text, dict) else {"format": {"type": "text"}},
            "tool_choice": data.get("tool_choice", "auto"),
            "tools": tools if isinstance(tools, list) else [],
            "top_p": data.get("top_p", 1.0),
            "truncation": data.get("truncation", "disabled"),
            "usage": self.usage if final else None,
            "user": data.get("user"),
            "metadata": metadata if isinstance(metadata, dict) else {},
        }

    # -- the events --------------------------------------------------------------------------

    def events(self) -> list[bytes]:
        out: list[bytes] = []

        def emit(kind: str, **fields: Any) -> None:
            out.append(event(kind, {"type": kind, "sequence_number": len(out), **fields}))

        emit("response.created", response=self.response(final=False))
        emit("response.in_progress", response=self.response(final=False))
        index = 0
        if self.reasoning is not None:
            self._reasoning_events(emit, index)
            index += 1
        if self.refusal is not None:
            self._refusal_events(emit, index)
            index += 1
        elif self.text is not None:
            self._message_events(emit, index)
            index += 1
        for k, call in enumerate(self.calls):
            self._call_events(emit, index, k, call)
            index += 1
        terminal = "response.incomplete" if self.reason else "response.completed"
        emit(terminal, response=self.response(final=True))
        return out

    def _reasoning_events(self, emit: Any, index: int) -> None:
        item_id = "rs_" + self.ids
        emit(
            "response.output_item.added", output_index=index, item=self._reasoning_item(done=False)
        )
        if self.summary_text is not None:
            at = {"item_id": item_id, "output_index": index, "summary_index": 0}
            emit(
                "response.reasoning_summary_part.added",
                **at,
                part={"type": "summary_text", "text": ""},
            )
            for piece in pieces(self.summary_text):
                emit("response.reasoning_summary_text.delta", **at, delta=piece)
            emit("response.reasoning_summary_text.done", **at, text=self.summary_text)
            emit(
                "response.reasoning_summary_part.done",
                **at,
                part={"type": "summary_text", "text": self.summary_text},
            )
        emit("response.output_item.done", output_index=index, item=self._reasoning_item(done=True))

    def _message_events(self, emit: Any, index: int) -> None:
        text = self.text or ""
        at = {"item_id": "msg_" + self.ids, "output_index": index, "content_index": 0}
        emit("response.output_item.added", output_index=index, item=self._message(done=False))
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        emit("response.content_part.added", **at, part=empty)
        for piece in pieces(text):
            emit("response.output_text.delta", **at, delta=piece, logprobs=[])
        emit("response.output_text.done", **at, text=text, logprobs=[])
        emit("response.content_part.done", **at, part={**empty, "text": text})
        emit("response.output_item.done", output_index=index, item=self._message(done=True))

    def _refusal_events(self, emit: Any, index: int) -> None:
        refusal = self.refusal or ""
        at = {"item_id": "msg_" + self.ids, "output_index": index, "content_index": 0}
        emit("response.output_item.added", output_index=index, item=self._message(done=False))
        emit("response.content_part.added", **at, part={"type": "refusal", "refusal": ""})
        for piece in pieces(refusal):
            emit("response.refusal.delta", **at, delta=piece)
        emit("response.refusal.done", **at, refusal=refusal)
        emit("response.content_part.done", **at, part={"type": "refusal", "refusal": refusal})
        emit("response.output_item.done", output_index=index, item=self._message(done=True))

    def _call_events(self, emit: Any, index: int, k: int, call: ToolCall) -> None:
        item_id = f"fc_{self.ids}{k}"
        emit("response.output_item.added", output_index=index, item=self._call(k, call, done=False))
        for piece in fragments(call.arguments):
            emit(
                "response.function_call_arguments.delta",
                item_id=item_id,
                output_index=index,
                delta=piece,
            )
        emit(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            arguments=call.arguments,
        )
        emit("response.output_item.done", output_index=index, item=self._call(k, call, done=True))


def responses_answer(
    reply: Reply,
    attempt: Attempt,
    record: RequestRecord,
    responder: Callable[[RequestRecord], str],
) -> tuple[str, tuple[bytes, ...], bool]:
    """The answer of one successful Responses attempt.

    Args:
        reply: the scripted reply (text, tool calls, usage overrides, finish reason).
        attempt: the attempt that serves (its provider model is the answer's ``model``).
        record: the request.
        responder: gives the text when the reply has none (and no tool is called).

    Returns:
        (content type, body chunks, whether it is an event stream).
    """
    builder = _Builder(reply, attempt, record, responder)
    if record.stream:
        return SSE_TYPE, tuple(builder.events()), True
    return JSON_TYPE, (dumps(builder.response(final=True)),), False
