"""The fake provider's schema-following answers (`aiohelicone/testing/_structured.py`)."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import attrs
import pytest

from aiohelicone._schema import check, function_tool_for, json_schema_for
from aiohelicone.testing._structured import instance_of, structured_content, tool_call_for


class Size(enum.IntEnum):
    S = 1
    L = 3


@attrs.frozen
class Line:
    sku: str
    qty: int
    price: float


@attrs.frozen
class Node:
    name: str
    children: list[Node]


@attrs.frozen
class Forest:
    trees: list[Node]
    best: Node | None


@attrs.frozen
class Invoice:
    number: str
    lines: list[Line]
    size: Size
    kind: Literal["sale", "refund"] | None
    first: Line = attrs.field(metadata={"description": "inlined next to its description"})


@pytest.mark.parametrize("cls", [Invoice, Line, Node, Forest])
def test_instances_follow_generated_schemas(cls: type) -> None:
    """Whatever schema_for produces, the fake's instance passes the strict check."""
    schema = json_schema_for(cls)
    value = instance_of(schema)
    check(value, schema)
    assert instance_of(schema) == value  # deterministic


def test_recursion_ends_and_bounds_hold() -> None:
    """Recursive refs stop at a depth; formats, lengths and bounds are honoured."""
    node = instance_of(json_schema_for(Node))
    depth = 0
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert depth < 10
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "code": {"type": "string", "minLength": 12},
            "n": {"type": "integer", "minimum": 5},
            "x": {"type": "number", "maximum": 0.5},
            "many": {"type": "array", "items": {"type": "boolean"}, "minItems": 3},
            "maybe": {"type": ["null", "string"]},
        },
    }
    assert instance_of(schema) == {
        "when": "2025-01-01T00:00:00Z",
        "code": "code 1xxxxxx",
        "n": 5,
        "x": 0.5,
        "many": [True, True, True],
        "maybe": "maybe 1",
    }


def test_structured_content_only_for_json_schema() -> None:
    """Only a json_schema response format asks for schema JSON."""
    body = {
        "response_format": {"type": "json_schema", "json_schema": {"schema": json_schema_for(Line)}}
    }
    text = structured_content(body)
    assert text is not None
    check(json.loads(text), json_schema_for(Line))
    assert structured_content({"response_format": {"type": "json_object"}}) is None
    assert structured_content({}) is None


def test_tool_choice_rules() -> None:
    """The fake calls the named (else first) tool, not with tool_choice none or after a result."""
    tools = [function_tool_for(Line, name="first"), function_tool_for(Node, name="second")]
    user = [{"role": "user", "content": "go"}]
    call = tool_call_for({"tools": tools, "messages": user})
    assert call is not None and call.name == "first"
    check(json.loads(call.arguments), json_schema_for(Line))
    named = {"type": "function", "function": {"name": "second"}}
    call = tool_call_for({"tools": tools, "messages": user, "tool_choice": named})
    assert call is not None and call.name == "second"
    assert tool_call_for({"tools": tools, "messages": user, "tool_choice": "none"}) is None
    after = [*user, {"role": "tool", "tool_call_id": "call_0", "content": "ok"}]
    assert tool_call_for({"tools": tools, "messages": after}) is None
    bare = [{"type": "function", "function": {"name": "f"}}]
    call = tool_call_for({"tools": bare, "messages": user})
    assert call is not None and call.arguments == "{}"
