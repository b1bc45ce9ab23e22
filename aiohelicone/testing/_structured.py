"""Layer 8 (test kit): schema-following answers: structured outputs and tool calls (pure).

When a chat body asks for structure and no :class:`Reply` scripts the answer:

- ``response_format: {"type": "json_schema", "json_schema": {"schema": S}}``: the content
  is compact JSON following ``S``;
- ``tools``: the model calls one function (the one ``tool_choice`` names, else the first)
  with arguments following its ``parameters`` schema, unless ``tool_choice`` is ``"none"``
  or the last message is a tool result (then it answers, so an agent loop ends).

The instance generator (:func:`instance_of`) is deterministic and covers what strict mode
allows: objects (every property), arrays (``minItems`` items, at least one), ``anyOf`` (the
first non-null branch; the null one past a nesting depth, so recursive schemas end),
``enum``/``const`` (the first value), ``$ref`` into ``$defs`` or ``#``, strings (by
``format``, else ``"<property> 1"``), integers and numbers within their bounds, booleans.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._outcomes import ToolCall

__all__ = ["instance_of", "structured_content", "tool_call_for"]

_MAX_DEPTH = 4
_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def instance_of(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A deterministic JSON value that follows ``schema``.

    Args:
        schema: a JSON schema (the strict-mode subset, plus ``minItems``, ``minimum``...).
        root: what ``$ref`` paths resolve against (default: ``schema``).
    """
    return _instance(schema, schema if root is None else root, "value", 0)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(64):
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        if ref == "#":
            schema = root
            continue
        node: Any = root
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        schema = node if isinstance(node, Mapping) else {}
    return {}


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _instance(schema: Mapping[str, Any], root: Mapping[str, Any], name: str, depth: int) -> Any:
    schema = _resolve(schema, root)
    deep = depth >= _MAX_DEPTH
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        if deep and any(map(_is_null, branches)):
            return None
        chosen = next((b for b in branches if not _is_null(b)), branches[0])
        return _instance(chosen, root, name, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if (deep and "null" in kind) or not kinds:
            return None
        kind = kinds[0]
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {
            key: _instance(sub, root, key, depth + 1)
            for key, sub in properties.items()
            if isinstance(sub, Mapping)
        }
    if kind == "array":
        items = schema.get("items")
        low = schema.get("minItems", 0)
        count = low if deep else max(low, 1)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        if not isinstance(items, Mapping):
            return [None] * count
        return [_instance(items, root, name, depth + 1) for _ in range(count)]
    if kind == "string":
        text = _FORMATS.get(str(schema.get("format")), f"{name} 1")
        low = schema.get("minLength")
        if isinstance(low, int) and len(text) < low:
            text += "x" * (low - len(text))
        high = schema.get("maxLength")
        return text[:high] if isinstance(high, int) else text
    if kind in ("integer", "number"):
        value: float = 1 if kind == "integer" else 1.5
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, (int, float)) and value < low:
            value = low
        if isinstance(high, (int, float)) and value > high:
            value = high
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"{name} 1"


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def structured_content(data: Mapping[str, Any]) -> str | None:
    """The content for a ``json_schema`` response format (None when not asked for)."""
    fmt = data.get("response_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return _dumps(instance_of(schema if isinstance(schema, Mapping) else {"type": "object"}))


def tool_call_for(data: Mapping[str, Any]) -> ToolCall | None:
    """The call the fake model makes for a body with ``tools`` (None: it answers instead)."""
    tools = data.get("tools")
    choice = data.get("tool_choice")
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    messages = data.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1]
        if isinstance(last, Mapping) and last.get("role") in ("tool", "function"):
            return None
    functions = [
        t["function"]
        for t in tools
        if isinstance(t, Mapping)
        and t.get("type", "function") == "function"
        and isinstance(t.get("function"), Mapping)
        and isinstance(t["function"].get("name"), str)
    ]
    if not functions:
        return None
    chosen = functions[0]
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        wanted = choice["function"].get("name")
        chosen = next((f for f in functions if f["name"] == wanted), chosen)
    parameters = chosen.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        parameters = {"type": "object", "properties": {}}
    return ToolCall(chosen["name"], _dumps(instance_of(parameters)))
