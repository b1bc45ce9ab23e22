"""responses_body (_responses_args.py): the body of POST /responses, every argument checked."""

from __future__ import annotations

from typing import Any

import pytest

from aiohelicone._exceptions import InvalidInputError
from aiohelicone._modelstring import parse_model
from aiohelicone._responses_args import responses_body


def test_minimal_body_has_model_and_input_only() -> None:
    """Only what was given is sent; stream=False is left out."""
    assert responses_body(model="gpt-4o-mini", input="hi") == {
        "model": "gpt-4o-mini",
        "input": "hi",
    }


def test_every_argument_lands_in_the_body() -> None:
    """Each given argument becomes its body field, unchanged."""
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    body = responses_body(
        model="gpt-5/openai,claude-sonnet-4/anthropic",
        input=[
            {"role": "user", "content": "hi"},
            {"type": "function_call_output", "call_id": "c", "output": "1"},
        ],
        instructions="Be brief.",
        tools=tools,
        tool_choice={"type": "function", "name": "f"},
        text={"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
        reasoning={"effort": "low", "summary": "auto"},
        max_output_tokens=64,
        temperature=0.5,
        top_p=0.9,
        previous_response_id="resp_1",
        store=False,
        metadata={"run": "7"},
        parallel_tool_calls=False,
        truncation="auto",
        user="u1",
        stream=True,
    )
    assert body == {
        "model": "gpt-5/openai,claude-sonnet-4/anthropic",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call_output", "call_id": "c", "output": "1"},
        ],
        "instructions": "Be brief.",
        "tools": tools,
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
        "reasoning": {"effort": "low", "summary": "auto"},
        "max_output_tokens": 64,
        "temperature": 0.5,
        "top_p": 0.9,
        "previous_response_id": "resp_1",
        "store": False,
        "metadata": {"run": "7"},
        "parallel_tool_calls": False,
        "truncation": "auto",
        "user": "u1",
        "stream": True,
    }


def test_model_accepts_chains_and_target_lists() -> None:
    """model= takes what chat's does: a chain object or a list of targets."""
    assert responses_body(model=parse_model("gpt-4o,!azure"), input="x")["model"] == "!azure,gpt-4o"
    assert responses_body(model=["gpt-4o/openai", "gpt-4o"], input="x")["model"] == (
        "gpt-4o/openai,gpt-4o"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": None}, "model"),
        ({"model": 3}, "model"),
        ({"input": None}, "input"),
        ({"input": 3}, "input"),
        ({"input": []}, "input"),
        ({"input": [{"content": "hi"}]}, "input[0]"),
        ({"input": ["hi"]}, "input[0]"),
        ({"input": [{"role": 1}]}, "input[0].role"),
        ({"instructions": 1}, "instructions"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": ["f"]}, "tools[0]"),
        ({"tools": [{"name": "f"}]}, "tools[0].type"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0]"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "parameters": "{}"}]}, "tools[0].parameters"),
        ({"tool_choice": "always"}, "tool_choice"),
        ({"tool_choice": {"name": "f"}}, "tool_choice.type"),
        ({"tool_choice": 1}, "tool_choice"),
        ({"text": "json"}, "text"),
        ({"text": {"format": "json"}}, "text.format"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"text": {"format": {"type": "json_schema", "name": "s"}}}, "text.format.schema"),
        ({"reasoning": "high"}, "reasoning"),
        ({"reasoning": {"effort": 3}}, "reasoning.effort"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"previous_response_id": ""}, "previous_response_id"),
        ({"previous_response_id": 5}, "previous_response_id"),
        ({"store": "yes"}, "store"),
        ({"parallel_tool_calls": 1}, "parallel_tool_calls"),
        ({"metadata": [("a", "b")]}, "metadata"),
        ({"metadata": {"a": 1}}, "metadata['a']"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"truncation": "middle"}, "truncation"),
        ({"user": 5}, "user"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    """Each wrong argument raises InvalidInputError whose field names it."""
    args: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        responses_body(**args)
    assert info.value.field == field


def test_chat_style_tool_gets_a_hint() -> None:
    """A Chat Completions tool is refused with the flat shape Responses wants."""
    with pytest.raises(InvalidInputError, match="flat"):
        responses_body(
            model="gpt-4o", input="x", tools=[{"type": "function", "function": {"name": "f"}}]
        )


def test_non_function_tools_pass_through() -> None:
    """Built-in tools (web search, MCP...) are sent as given."""
    tools = [{"type": "web_search"}, {"type": "mcp", "server_label": "x"}]
    assert responses_body(model="gpt-4o", input="x", tools=tools)["tools"] == tools
