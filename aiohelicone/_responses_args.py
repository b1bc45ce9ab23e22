"""Layer 0 (core): ``responses.create``'s argument checks, and the JSON body they become (no I/O).

As in ``_arguments.py``: each check raises :class:`InvalidInputError` naming the argument
before anything is sent, and OpenAI's parameters are sent only when given. The checks are
shallow on purpose (the API grows new tool and item types every month): they catch what is
certainly wrong, e.g. a Chat Completions tool (``{"type": "function", "function": {...}}``)
passed where Responses expects a flat one (``{"type": "function", "name": ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from ._arguments import finite, flag, integer, model_chain
from ._exceptions import InvalidInputError

__all__ = ["responses_body"]

_TOOL_CHOICES = frozenset({"none", "auto", "required"})
_TRUNCATIONS = frozenset({"auto", "disabled"})
# OpenAI's limits on ``metadata``: 16 pairs, keys up to 64 and values up to 512 characters.
_METADATA_PAIRS = 16
_METADATA_KEY = 64
_METADATA_VALUE = 512


def responses_body(
    *,
    model: object,
    input: object,
    instructions: object = None,
    tools: object = None,
    tool_choice: object = None,
    text: object = None,
    reasoning: object = None,
    max_output_tokens: object = None,
    temperature: object = None,
    top_p: object = None,
    previous_response_id: object = None,
    store: object = None,
    metadata: object = None,
    parallel_tool_calls: object = None,
    truncation: object = None,
    user: object = None,
    stream: object = False,
) -> dict[str, Any]:
    """The JSON body of a ``POST /responses`` call, every argument checked.

    Args:
        model: a model string, chain or list of targets (as for chat); the body gets its
            wire form, which the resource may replace by the target it routes to.
        input: a text, or a non-empty list of input items (mappings).
        instructions: a system (developer) message, a str.
        tools: Responses tools: mappings with a ``type``; function tools carry ``name``
            at the top level.
        tool_choice: ``"none"``, ``"auto"``, ``"required"`` or a mapping with a ``type``.
        text: the text config mapping (``{"format": {"type": "json_schema", ...}}``).
        reasoning: the reasoning config mapping (``{"effort": ..., "summary": ...}``).
        max_output_tokens: an int >= 1 (reasoning tokens count against it).
        temperature: 0 to 2.
        top_p: 0 to 1.
        previous_response_id: the id of the response this one continues.
        store, parallel_tool_calls: True or False.
        metadata: up to 16 str -> str pairs (keys up to 64, values up to 512 characters).
        truncation: ``"auto"`` or ``"disabled"``.
        user: an end-user id.
        stream: True or False.

    Returns:
        The body: ``model`` and ``input`` first, then each given argument; ``stream`` only
        when True.

    Raises:
        InvalidInputError: an argument is wrong; ``field`` names it (``tools[1].name``).
    """
    body: dict[str, Any] = {"model": str(model_chain(model)), "input": _input(input)}
    if instructions is not None:
        body["instructions"] = _text_arg("instructions", instructions, allow_empty=True)
    if tools is not None:
        body["tools"] = _tools(tools)
    if tool_choice is not None:
        body["tool_choice"] = _tool_choice(tool_choice)
    if text is not None:
        body["text"] = _text_config(text)
    if reasoning is not None:
        body["reasoning"] = _reasoning(reasoning)
    if max_output_tokens is not None:
        body["max_output_tokens"] = integer("max_output_tokens", max_output_tokens, 1)
    if temperature is not None:
        body["temperature"] = finite("temperature", temperature, 0.0, 2.0)
    if top_p is not None:
        body["top_p"] = finite("top_p", top_p, 0.0, 1.0)
    if previous_response_id is not None:
        body["previous_response_id"] = _text_arg("previous_response_id", previous_response_id)
    if store is not None:
        body["store"] = _bool("store", store)
    if metadata is not None:
        body["metadata"] = _metadata(metadata)
    if parallel_tool_calls is not None:
        body["parallel_tool_calls"] = _bool("parallel_tool_calls", parallel_tool_calls)
    if truncation is not None:
        if truncation not in _TRUNCATIONS:
            raise InvalidInputError(
                "truncation", f"must be 'auto' or 'disabled', got {truncation!r}"
            )
        body["truncation"] = truncation
    if user is not None:
        body["user"] = _text_arg("user", user, allow_empty=True)
    if flag("stream", stream):
        body["stream"] = True
    return body


def _type_name(value: object) -> str:
    return type(value).__name__


def _bool(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(field, f"must be True or False, got {_type_name(value)}")
    return value


def _text_arg(field: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(field, f"must be a str, got {_type_name(value)}")
    if not value and not allow_empty:
        raise InvalidInputError(field, "must not be empty")
    return value


def _is_list(value: object) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _input(value: object) -> str | list[Any]:
    if isinstance(value, str):
        return value
    if value is None:
        raise InvalidInputError("input", "is required: a str or a list of input items")
    if not _is_list(value):
        raise InvalidInputError(
            "input", f"must be a str or a list of input items, got {_type_name(value)}"
        )
    items = list(value)
    if not items:
        raise InvalidInputError("input", "must not be an empty list")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInputError(f"input[{i}]", f"must be a mapping, got {_type_name(item)}")
        kind, role = item.get("type"), item.get("role")
        if kind is None and role is None:
            raise InvalidInputError(f"input[{i}]", "needs a 'type' or a 'role'")
        if kind is not None and not isinstance(kind, str):
            raise InvalidInputError(f"input[{i}].type", "must be a str")
        if role is not None and not isinstance(role, str):
            raise InvalidInputError(f"input[{i}].role", "must be a str")
    return [dict(item) for item in items]


def _tools(value: object) -> list[dict[str, Any]]:
    if not _is_list(value):
        raise InvalidInputError(
            "tools", f"must be a list of tool mappings, got {_type_name(value)}"
        )
    out = []
    for i, tool in enumerate(value):
        field = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise InvalidInputError(field, f"must be a mapping, got {_type_name(tool)}")
        kind = tool.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidInputError(f"{field}.type", "is missing or not a str")
        if kind == "function":
            if "name" not in tool and isinstance(tool.get("function"), Mapping):
                raise InvalidInputError(
                    field,
                    "is a Chat Completions tool; Responses function tools are flat: "
                    "{'type': 'function', 'name': ..., 'parameters': ...}",
                )
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"{field}.name", "is missing or not a str")
            parameters = tool.get("parameters")
            if parameters is not None and not isinstance(parameters, Mapping):
                raise InvalidInputError(f"{field}.parameters", "must be a JSON schema mapping")
        out.append(dict(tool))
    return out


def _tool_choice(value: object) -> str | dict[str, Any]:
    if isinstance(value, str):
        if value not in _TOOL_CHOICES:
            raise InvalidInputError(
                "tool_choice", f"must be 'none', 'auto', 'required' or a mapping, got {value!r}"
            )
        return value
    if isinstance(value, Mapping):
        if not isinstance(value.get("type"), str):
            raise InvalidInputError("tool_choice.type", "is missing or not a str")
        return dict(value)
    raise InvalidInputError("tool_choice", f"must be a str or a mapping, got {_type_name(value)}")


def _text_config(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError("text", f"must be a mapping, got {_type_name(value)}")
    fmt = value.get("format")
    if fmt is not None:
        if not isinstance(fmt, Mapping) or not isinstance(fmt.get("type"), str):
            raise InvalidInputError("text.format", "must be a mapping with a str 'type'")
        if fmt.get("type") == "json_schema":
            if not isinstance(fmt.get("name"), str) or not fmt.get("name"):
                raise InvalidInputError("text.format.name", "is required for json_schema")
            if not isinstance(fmt.get("schema"), Mapping):
                raise InvalidInputError("text.format.schema", "must be a JSON schema mapping")
    return dict(value)


def _reasoning(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError("reasoning", f"must be a mapping, got {_type_name(value)}")
    for key in ("effort", "summary"):
        setting = value.get(key)
        if setting is not None and not isinstance(setting, str):
            raise InvalidInputError(f"reasoning.{key}", f"must be a str, got {_type_name(setting)}")
    return dict(value)


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidInputError("metadata", f"must be a mapping, got {_type_name(value)}")
    if len(value) > _METADATA_PAIRS:
        raise InvalidInputError("metadata", f"has {len(value)} pairs; at most 16 are allowed")
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > _METADATA_KEY:
            raise InvalidInputError(
                "metadata", f"key {key!r} must be a str of at most 64 characters"
            )
        if not isinstance(item, str) or len(item) > _METADATA_VALUE:
            raise InvalidInputError(f"metadata[{key!r}]", "must be a str of at most 512 characters")
    return dict(value)
