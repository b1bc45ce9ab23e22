"""Layer 8 (test kit): the fake gateway's prompt store (helicone-api.md §3.1).

A chat request with ``prompt_id`` is expanded before routing: the stored body is merged in
and its ``{{hc:name:type}}`` variables are filled from ``inputs``, with Jawn's JavaScript
quirks kept (see :class:`PromptStore`). The store is reached as ``FakeGateway.prompts``.
"""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["PromptStore", "PromptVersion", "js_string"]

_VARIABLE = re.compile(
    r"\{\{\s*hc\s*:\s*([a-zA-Z_-][a-zA-Z0-9_-]*)\s*:\s*([a-zA-Z_-][a-zA-Z0-9_-]*)\s*\}\}"
)
_JS_NUMBER = re.compile(r"[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)|0[xX][0-9a-fA-F]+")
_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no"})
_PROMPT_FIELDS = ("prompt_id", "version_id", "environment", "inputs")


@attrs.frozen
class PromptVersion:
    """One stored version of a prompt.

    Attributes:
        id: the version id (``version_id`` in requests).
        prompt_id: the prompt it belongs to.
        number: 1 for the first version, then 2, 3...
        body: the stored chat body (``model``, ``messages`` with ``{{hc:name:type}}``
            variables, any other parameter).
    """

    id: str
    prompt_id: str
    number: int
    body: Mapping[str, Any]


class PromptStore:
    """The prompts (2025 prompts) the fake gateway expands, as Helicone's does (§3.1).

    A request with ``prompt_id`` gets the stored body merged in: the stored messages come
    first, then the request's; request parameters override stored ones; ``{{hc:name:type}}``
    variables are filled from ``inputs``. Version choice: ``environment`` wins over
    ``version_id``; neither means the ``production`` version. Jawn's JavaScript quirks are
    kept: a falsy input (``0``, ``""``, ``False``) leaves its variable unreplaced in message
    text, and values are written as JavaScript would (``True`` -> ``true``).
    """

    def __init__(self) -> None:
        self._versions: dict[str, list[PromptVersion]] = {}
        self._environments: dict[str, dict[str, str]] = {}

    def create(
        self,
        body: Mapping[str, Any],
        *,
        prompt_id: str | None = None,
        environments: Sequence[str] = ("production",),
    ) -> PromptVersion:
        """Store a new prompt and its first version.

        Args:
            body: the chat body to store.
            prompt_id: its id (default: 6 random hex characters).
            environments: environments that point at this first version.

        Returns:
            The first :class:`PromptVersion`.

        Raises:
            ValueError: the id is taken, or ``body`` is not a mapping.
        """
        prompt_id = prompt_id or secrets.token_hex(3)
        if prompt_id in self._versions:
            raise ValueError(f"prompt {prompt_id!r} already exists")
        self._versions[prompt_id] = []
        self._environments[prompt_id] = {}
        return self.add_version(prompt_id, body, environments=environments)

    def add_version(
        self, prompt_id: str, body: Mapping[str, Any], *, environments: Sequence[str] = ()
    ) -> PromptVersion:
        """Store a new version of an existing prompt.

        Args:
            prompt_id: the prompt.
            body: the chat body of this version.
            environments: environments to point at it (e.g. ``("staging",)``).

        Returns:
            The new :class:`PromptVersion`.

        Raises:
            KeyError: no such prompt.
            ValueError: ``body`` is not a mapping.
        """
        if not isinstance(body, Mapping):
            raise ValueError("a prompt body must be a mapping")
        versions = self._versions[prompt_id]
        version = PromptVersion(
            str(uuid.uuid4()), prompt_id, len(versions) + 1, copy.deepcopy(dict(body))
        )
        versions.append(version)
        for environment in environments:
            self._environments[prompt_id][environment] = version.id
        return version

    def deploy(self, version: PromptVersion, environment: str) -> None:
        """Point ``environment`` of the version's prompt at ``version``."""
        self._environments[version.prompt_id][environment] = version.id

    def resolve(
        self, prompt_id: str, version_id: str | None = None, environment: str | None = None
    ) -> PromptVersion:
        """The version a request names (``environment`` > ``version_id`` > production).

        Raises:
            LookupError: no such prompt, version or environment (the message says which).
        """
        versions = self._versions.get(prompt_id)
        if versions is None:
            raise LookupError(f"Prompt '{prompt_id}' not found")
        wanted = version_id
        if environment is not None or version_id is None:
            name = environment or "production"
            wanted = self._environments[prompt_id].get(name)
            if wanted is None:
                raise LookupError(f"Prompt '{prompt_id}' has no version in environment '{name}'")
        for version in versions:
            if version.id == wanted:
                return version
        raise LookupError(f"Prompt version '{wanted}' not found for prompt '{prompt_id}'")

    def clear(self) -> None:
        """Forget every prompt."""
        self._versions.clear()
        self._environments.clear()

    def expand(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], PromptVersion] | str:
        """Merge a request's prompt into its body.

        Args:
            data: the request body (with ``prompt_id`` and maybe ``version_id``,
                ``environment``, ``inputs``).

        Returns:
            The merged body and the version used, or the error message of the gateway's 400.
        """
        prompt_id, version_id, environment = (
            data.get("prompt_id"),
            data.get("version_id"),
            data.get("environment"),
        )
        if not isinstance(prompt_id, str) or not all(
            v is None or isinstance(v, str) for v in (version_id, environment)
        ):
            return "prompt_id, version_id and environment must be strings"
        inputs = data.get("inputs") or {}
        if not isinstance(inputs, dict):
            return "inputs must be an object"
        try:
            version = self.resolve(prompt_id, version_id, environment)
        except LookupError as exc:
            return str(exc)
        source = copy.deepcopy(dict(version.body))
        errors: list[tuple[str, str, Any]] = []
        messages = []
        for message in [*(source.get("messages") or []), *(data.get("messages") or [])]:
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                text, problems = _substitute_text(message["content"], inputs)
                errors.extend(problems)
                message = {**message, "content": text}
            messages.append(message)
        merged = {**source, **{k: v for k, v in data.items() if k not in _PROMPT_FIELDS}}
        merged["messages"] = messages
        response_format = data.get("response_format")
        if response_format is None:
            response_format = source.get("response_format")
        merged.pop("response_format", None)
        if response_format is not None:
            merged["response_format"] = _substitute_json(response_format, inputs, errors)
        tools = [*(source.get("tools") or []), *(data.get("tools") or [])]
        merged.pop("tools", None)
        if tools:
            merged["tools"] = _substitute_json(tools, inputs, errors)
        if errors:
            return "; ".join(
                f"Variable '{name}' is '{kind}' but got '{js_string(value)}'"
                for name, kind, value in errors
            )
        return merged, version


def _js_truthy(value: object) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return isinstance(value, (dict, list)) or bool(value)


def js_string(value: object) -> str:
    """``value`` as JavaScript's ``String(value)`` writes it (``True`` -> ``true``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _compatible(value: object, kind: str) -> bool:
    if kind == "number":
        if isinstance(value, (int, float)):
            return True
        if isinstance(value, list) and len(value) <= 1:
            return not value or _compatible(js_string(value[0]), kind)
        return isinstance(value, str) and (
            not value.strip() or _JS_NUMBER.fullmatch(value.strip()) is not None
        )
    if kind == "boolean":
        return isinstance(value, bool) or (
            isinstance(value, str) and value.lower() in _BOOLEAN_WORDS
        )
    return True


def _substitute_text(
    template: str, inputs: Mapping[str, Any]
) -> tuple[str, list[tuple[str, str, Any]]]:
    errors = []
    seen: set[str] = set()
    for match in _VARIABLE.finditer(template):
        name, kind = match.group(1), match.group(2)
        if name in seen:
            continue
        seen.add(name)
        value = inputs.get(name)
        if _js_truthy(value) and not _compatible(value, kind):
            errors.append((name, kind, value))
    if errors:
        return template, errors

    def fill(match: re.Match[str]) -> str:
        value = inputs.get(match.group(1))
        return js_string(value) if _js_truthy(value) else match.group(0)

    return _VARIABLE.sub(fill, template), []


def _substitute_json(value: Any, inputs: Mapping[str, Any], errors: list[Any]) -> Any:
    # substituteVariablesJSON: here a missing input is an error too, and a string that is
    # exactly one variable takes the input's own type.
    problems = []
    seen: set[str] = set()
    for match in _VARIABLE.finditer(json.dumps(value)):
        name, kind = match.group(1), match.group(2)
        if name not in seen:
            seen.add(name)
            given = inputs.get(name)
            if not _js_truthy(given) or not _compatible(given, kind):
                problems.append((name, kind, given))
    if problems:
        errors.extend(problems)
        return value
    return _replace_json(value, inputs, errors)


def _replace_json(value: Any, inputs: Mapping[str, Any], errors: list[Any]) -> Any:
    def regex(text: str) -> str:
        return _VARIABLE.sub(
            lambda m: m.group(0) if inputs.get(m.group(1)) is None else js_string(inputs[m[1]]),
            text,
        )

    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value)
        if whole is not None and inputs.get(whole.group(1)) is not None:
            return inputs[whole.group(1)]
        return regex(value)
    if isinstance(value, list):
        return [_replace_json(item, inputs, errors) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            whole = _VARIABLE.fullmatch(key)
            if whole is not None and _js_truthy(inputs.get(whole.group(1))):
                given = inputs[whole.group(1)]
                if not isinstance(given, str):
                    errors.append((whole.group(1), "string", given))
                    continue
                key = given
            elif whole is None:
                key = regex(key)
            out[key] = _replace_json(item, inputs, errors)
        return out
    return value
