"""An accumulated stream equals the non-streamed answer, for every field the fake can emit.

Each case asks the fake gateway (over loopback, through the public client) for the same
answer twice, once streamed; the stream's accumulated completion must equal the plain one,
both as models and as JSON (nulls aside: a stream cannot tell an absent key from a null).
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from aiohelicone import AsyncHelicone, ChatCompletion
from aiohelicone._converter import unstructure
from aiohelicone.testing import FakeGateway, LoopbackServer, Reply, ToolCall

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "Draw me a sheep and explain it"}]
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    },
    "required": ["name", "tags", "size"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
            "additionalProperties": False,
        },
    },
}

# (model, extra body, scripted reply or None)
CASES: dict[str, tuple[str, dict[str, Any], Reply | None]] = {
    "plain": ("gpt-4o-mini/openai", {}, None),
    "n=2": ("gpt-4o-mini/openai", {"n": 2}, None),
    "length": ("gpt-4o-mini/openai", {"max_tokens": 2}, None),
    "scripted tool calls": (
        "gpt-4o-mini/openai",
        {},
        Reply(tool_calls=[ToolCall("a", {"x": 1}), ToolCall("b", '{"y": [1, 2]}', id="call_b")]),
    ),
    "refusal": ("gpt-4o-mini/openai", {"n": 2}, Reply(refusal="I can't help with that.")),
    "reasoning_effort, typed blocks": ("gpt-4o-mini/openai", {"reasoning_effort": "high"}, None),
    "reasoning_effort, signed blocks": (
        "claude-sonnet-4/anthropic",
        {"reasoning_effort": "low", "reasoning_options": {"budget_tokens": 2048}},
        None,
    ),
    "reasoning model": ("deepseek-reasoner", {}, None),
    "image model": ("gemini-3-pro-image-preview/google-ai-studio", {}, None),
    "modalities image": ("gemini-2.5-flash", {"modalities": ["image", "text"]}, None),
    "reasoning, images, n=2": (
        "gpt-4o-mini",
        {"n": 2, "reasoning_effort": "medium", "modalities": ["image", "text"]},
        None,
    ),
    "json_schema": (
        "gpt-4o-mini",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "o", "schema": SCHEMA},
            }
        },
        None,
    ),
    "tools": ("gpt-4o-mini", {"tools": [WEATHER_TOOL], "reasoning_effort": "low"}, None),
}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _same_ids(completion: ChatCompletion, like: ChatCompletion) -> ChatCompletion:
    # Two requests: the fake gives each its own id and creation time.
    return attrs.evolve(completion, id=like.id, created=like.created)


@pytest.mark.parametrize("case", list(CASES))
async def test_accumulated_stream_equals_the_plain_answer(
    case: str, server: LoopbackServer, gateway: FakeGateway
) -> None:
    """Every field of the plain answer, unknown keys included, survives streaming."""
    model, body, reply = CASES[case]
    if reply is not None:
        gateway.script("*", [reply], repeat=True)
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as client:
        plain = await client.chat.completions.create(
            model=model, messages=MESSAGES, extra_body=body
        )
        stream = await client.chat.completions.create(
            model=model, messages=MESSAGES, extra_body=body, stream=True
        )
        async with stream:
            streamed = _same_ids(await stream.get_final_completion(), plain)

    assert streamed == plain
    assert _without_nulls(unstructure(streamed)) == _without_nulls(unstructure(plain))


async def test_cases_cover_every_output_the_fake_emits(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """The cases above do exercise reasoning text, both block styles, images and schema JSON."""
    seen: set[str] = set()
    async with AsyncHelicone(api_key="sk-helicone-test", base_url=f"{server.url}/v1") as client:
        for model, body, reply in CASES.values():
            gateway.script("*", [reply] if reply is not None else [])
            answer = await client.chat.completions.create(
                model=model, messages=MESSAGES, extra_body=body
            )
            message = answer.choices[0].message
            if message.reasoning:
                seen.add("reasoning")
            for detail in message.reasoning_details or ():
                seen.add(detail.type or "signed")
            if message.images:
                seen.add("images")
            if message.tool_calls:
                seen.add("tool_calls")
            if message.refusal:
                seen.add("refusal")
            if answer.choices[0].finish_reason == "length":
                seen.add("length")
    assert seen >= {
        "reasoning",
        "signed",
        "reasoning.text",
        "reasoning.encrypted",
        "images",
        "tool_calls",
        "refusal",
        "length",
    }
