"""Layer 0 (core): the resources' argument checks, and the JSON body fields they become (no I/O).

Every check raises :class:`InvalidInputError` naming the argument, before anything is sent.
OpenAI's parameters are sent only when given, so each helper leaves ``None`` out of the body.

``chat_completion_body``, ``completion_body`` and ``embedding_body`` are the whole check and
body of each resource's ``create`` (all but routing, which needs the client). The resources
call them; a :class:`BatchRequest` calls the same functions on its body when it is built, so
a batch (and ``aiohelicone batch``) refuses a bad body before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ._exceptions import InvalidInputError
from ._modelstring import ModelChain, ModelTarget, _parse_cached, parse_model

__all__ = [
    "REASONING_EFFORTS",
    "VERBOSITIES",
    "ReasoningOptions",
    "add_prompt_fields",
    "add_sampling",
    "chat_completion_body",
    "completion_body",
    "embedding_body",
    "finite",
    "flag",
    "integer",
    "message_list",
    "model_chain",
    "reasoning_fields",
    "set_if_given",
]

#: The ``reasoning_effort`` levels the gateway documents (gateway/concepts/reasoning); it
#: translates them for each provider.
REASONING_EFFORTS = ("low", "medium", "high")
#: The ``verbosity`` levels (OpenAI's, passed on by the gateway).
VERBOSITIES = ("low", "medium", "high")


class ReasoningOptions(TypedDict, total=False):
    """``reasoning_options=``: the gateway's provider-neutral reasoning settings.

    Attributes:
        budget_tokens: the most tokens the model may spend reasoning (>= 1). The gateway
            keeps it for Anthropic and Gemini models (Gemini also needs ``reasoning_effort``
            to reason at all) and strips it for other providers.
    """

    budget_tokens: int


def _parse(value: str, stacklevel: int | None) -> ModelChain:
    if stacklevel is None:  # a check ahead of the real call, which warns
        return _parse_cached(value)[0]
    return parse_model(value, stacklevel=stacklevel + 1)


def model_chain(value: object, stacklevel: int | None = 4) -> ModelChain:
    """``model=`` as a :class:`ModelChain` (a string, a chain, or a list of targets).

    ``stacklevel`` is where an :class:`UnknownProviderWarning` points, counted as if this
    function called :func:`parse_model` itself (4: parse_model <- model_chain <- create <-
    the caller's code); None warns nothing (a check made ahead of the real call, which warns).
    """
    if isinstance(value, str):
        return _parse(value, stacklevel)
    if value is None:
        raise InvalidInputError("model", "is required (unless prompt_id supplies it)")
    if isinstance(value, ModelChain):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        # An explicit list of targets (and "!provider" exclusions), one spec per item.
        parts: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, ModelTarget):
                parts.append(str(item))
            elif isinstance(item, str) and item.strip() and "," not in item:
                parts.append(item)
            else:
                raise InvalidInputError(
                    f"model[{i}]", "must be one model spec (a str without ',') or a ModelTarget"
                )
        if not parts:
            raise InvalidInputError("model", "the list of targets is empty")
        return _parse(",".join(parts), stacklevel)
    raise InvalidInputError(
        "model", f"must be a str, a ModelChain or a list of targets, got {type(value).__name__}"
    )


def finite(field: str, value: object, low: float | None = None, high: float | None = None) -> float:
    """``value`` if it is a finite number within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(field, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidInputError(field, f"must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInputError(field, f"must be between {low} and {high}, got {value!r}")
    return value


def flag(field: str, value: object) -> bool:
    """``value`` if it is True or False (None counts as False: "not given").

    ``stream="yes"`` is refused rather than taken as true: it would change the return type.
    """
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInputError(field, f"must be True or False, got {type(value).__name__}")
    return value


def integer(field: str, value: object, low: int = 0) -> int:
    """``value`` if it is an int (not a bool) of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(field, f"must be an int, got {type(value).__name__}")
    if value < low:
        raise InvalidInputError(field, f"must be >= {low}, got {value}")
    return value


def message_list(value: object, *, allow_empty: bool = False) -> list[Any]:
    """``messages=`` as a list of mappings, each with a ``role``."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InvalidInputError(
            "messages", f"must be a list of message mappings, got {type(value).__name__}"
        )
    if not value and not allow_empty:
        raise InvalidInputError("messages", "must not be empty")
    for i, message in enumerate(value):
        if not isinstance(message, Mapping):
            raise InvalidInputError(
                f"messages[{i}]", f"must be a mapping, got {type(message).__name__}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise InvalidInputError(f"messages[{i}].role", "is missing or not a string")
    return list(value)


def add_prompt_fields(
    body: dict[str, Any],
    *,
    prompt_id: str | None,
    version_id: str | None,
    environment: str | None,
    inputs: Mapping[str, Any] | None,
) -> None:
    """Add Helicone prompt fields (body fields, not headers: ../shared/helicone-api.md §3.1)."""
    for name, value in (
        ("prompt_id", prompt_id),
        ("version_id", version_id),
        ("environment", environment),
    ):
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise InvalidInputError(name, "must be a non-empty str")
        body[name] = value
    if (version_id is not None or environment is not None or inputs is not None) and (
        prompt_id is None
    ):
        raise InvalidInputError("prompt_id", "is required with version_id, environment or inputs")
    if inputs is not None:
        if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
            raise InvalidInputError("inputs", "must be a mapping with str keys")
        body["inputs"] = dict(inputs)


def _stop(value: object) -> object:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(s, str) for s in value):
        return list(value)
    raise InvalidInputError("stop", "must be a str or a list of str")


def set_if_given(body: dict[str, Any], name: str, value: object) -> None:
    """``body[name] = value`` unless ``value`` is None."""
    if value is not None:
        body[name] = value


def add_sampling(
    body: dict[str, Any],
    *,
    temperature: float | None,
    top_p: float | None,
    frequency_penalty: float | None,
    presence_penalty: float | None,
    max_tokens: int | None,
    n: int | None,
    seed: int | None,
    stop: str | Sequence[str] | None,
    logprobs: Any,
    user: str | None,
    stream_options: Mapping[str, Any] | None,
) -> None:
    """Add the sampling parameters chat and text completions share, each checked."""
    if temperature is not None:
        body["temperature"] = finite("temperature", temperature, 0.0, 2.0)
    if top_p is not None:
        body["top_p"] = finite("top_p", top_p, 0.0, 1.0)
    if frequency_penalty is not None:
        body["frequency_penalty"] = finite("frequency_penalty", frequency_penalty, -2.0, 2.0)
    if presence_penalty is not None:
        body["presence_penalty"] = finite("presence_penalty", presence_penalty, -2.0, 2.0)
    if max_tokens is not None:
        body["max_tokens"] = integer("max_tokens", max_tokens, 1)
    if n is not None:
        body["n"] = integer("n", n, 1)
    if seed is not None:
        body["seed"] = integer("seed", seed, -(2**63))
    if stop is not None:
        body["stop"] = _stop(stop)
    set_if_given(body, "logprobs", logprobs)
    if user is not None:
        if not isinstance(user, str):
            raise InvalidInputError("user", f"must be a str, got {type(user).__name__}")
        body["user"] = user
    if stream_options is not None:
        if not isinstance(stream_options, Mapping):
            raise InvalidInputError("stream_options", "must be a mapping")
        body["stream_options"] = dict(stream_options)


def _tools(value: object) -> list[dict[str, Any]]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InvalidInputError("tools", f"must be a list of mappings, got {type(value).__name__}")
    for i, tool in enumerate(value):
        if not isinstance(tool, Mapping):
            raise InvalidInputError(f"tools[{i}]", f"must be a mapping, got {type(tool).__name__}")
    return [dict(tool) for tool in value]


def _level(field: str, value: object, levels: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in levels:
        shown = ", ".join(repr(level) for level in levels)
        raise InvalidInputError(field, f"must be one of {shown}, got {value!r}")
    return value


def reasoning_fields(
    body: dict[str, Any], *, reasoning_effort: object, reasoning_options: object, verbosity: object
) -> None:
    """Add ``reasoning_effort``, ``reasoning_options`` and ``verbosity``, each checked.

    ``reasoning_options`` takes only the documented ``budget_tokens``: a misspelt key would
    be dropped by the gateway without a word (anything else still goes in ``extra_body``).
    """
    if reasoning_effort is not None:
        body["reasoning_effort"] = _level("reasoning_effort", reasoning_effort, REASONING_EFFORTS)
    if reasoning_options is not None:
        if not isinstance(reasoning_options, Mapping):
            raise InvalidInputError(
                "reasoning_options",
                f"must be a mapping like {{'budget_tokens': 8000}}, "
                f"got {type(reasoning_options).__name__}",
            )
        for key in reasoning_options:
            if key != "budget_tokens":
                raise InvalidInputError(
                    f"reasoning_options.{key}", "is not a documented option (budget_tokens is)"
                )
        options = dict(reasoning_options)
        if "budget_tokens" in options:
            options["budget_tokens"] = integer(
                "reasoning_options.budget_tokens", options["budget_tokens"], 1
            )
        body["reasoning_options"] = options
    if verbosity is not None:
        body["verbosity"] = _level("verbosity", verbosity, VERBOSITIES)


# -- each resource's checks and body ----------------------------------------------------------
# Keyword-only parameters are named like the body fields they become: a BatchRequest maps its
# body's keys onto them. The positional-only ``stacklevel`` is not a body field (see
# model_chain; None for a check ahead of the real call).


def chat_completion_body(
    stacklevel: int | None,
    /,
    *,
    messages: Any,
    model: Any = None,
    stream: Any = False,
    temperature: Any = None,
    top_p: Any = None,
    max_tokens: Any = None,
    max_completion_tokens: Any = None,
    frequency_penalty: Any = None,
    presence_penalty: Any = None,
    stop: Any = None,
    n: Any = None,
    seed: Any = None,
    tools: Any = None,
    tool_choice: Any = None,
    parallel_tool_calls: Any = None,
    response_format: Any = None,
    logprobs: Any = None,
    top_logprobs: Any = None,
    stream_options: Any = None,
    user: Any = None,
    reasoning_effort: Any = None,
    reasoning_options: Any = None,
    verbosity: Any = None,
    prompt_id: Any = None,
    version_id: Any = None,
    environment: Any = None,
    inputs: Any = None,
) -> tuple[ModelChain | None, dict[str, Any]]:
    """Check ``chat.completions.create``'s body arguments and build its body.

    Returns:
        The model chain (None for a stored prompt without ``model``) and the body; its
        ``model`` is the chain as written, for the caller to replace with the routed one.

    Raises:
        InvalidInputError: an argument is wrong (``field`` names it).
    """
    body: dict[str, Any] = {}
    chain = None
    if model is not None or prompt_id is None:
        chain = model_chain(model, stacklevel)
        body["model"] = str(chain)
    body["messages"] = message_list(messages, allow_empty=prompt_id is not None)
    add_prompt_fields(
        body, prompt_id=prompt_id, version_id=version_id, environment=environment, inputs=inputs
    )
    if flag("stream", stream):
        body["stream"] = True
    add_sampling(
        body,
        temperature=temperature,
        top_p=top_p,
        frequency_penalty=frequency_penalty,
        presence_penalty=presence_penalty,
        max_tokens=max_tokens,
        n=n,
        seed=seed,
        stop=stop,
        logprobs=logprobs,
        user=user,
        stream_options=stream_options,
    )
    if max_completion_tokens is not None:
        body["max_completion_tokens"] = integer("max_completion_tokens", max_completion_tokens, 1)
    if top_logprobs is not None:
        body["top_logprobs"] = integer("top_logprobs", top_logprobs, 0)
    if tools is not None:
        body["tools"] = _tools(tools)
    set_if_given(body, "tool_choice", tool_choice)
    set_if_given(body, "parallel_tool_calls", parallel_tool_calls)
    set_if_given(body, "response_format", response_format)
    reasoning_fields(
        body,
        reasoning_effort=reasoning_effort,
        reasoning_options=reasoning_options,
        verbosity=verbosity,
    )
    return chain, body


def completion_body(
    stacklevel: int | None,
    /,
    *,
    model: Any,
    prompt: Any,
    stream: Any = False,
    temperature: Any = None,
    top_p: Any = None,
    max_tokens: Any = None,
    frequency_penalty: Any = None,
    presence_penalty: Any = None,
    stop: Any = None,
    n: Any = None,
    seed: Any = None,
    logprobs: Any = None,
    echo: Any = None,
    suffix: Any = None,
    best_of: Any = None,
    stream_options: Any = None,
    user: Any = None,
) -> tuple[ModelChain, dict[str, Any]]:
    """Check ``completions.create``'s body arguments and build its body.

    Returns:
        The model chain and the body (``model`` as for :func:`chat_completion_body`).

    Raises:
        InvalidInputError: an argument is wrong (``field`` names it).
    """
    if isinstance(prompt, str):
        prompt_value: object = prompt
    elif isinstance(prompt, Sequence) and all(isinstance(p, str) for p in prompt):
        if not prompt:
            raise InvalidInputError("prompt", "must not be empty")
        prompt_value = list(prompt)
    else:
        raise InvalidInputError("prompt", "must be a str or a list of str")
    chain = model_chain(model, stacklevel)
    body: dict[str, Any] = {"model": str(chain), "prompt": prompt_value}
    if flag("stream", stream):
        body["stream"] = True
    add_sampling(
        body,
        temperature=temperature,
        top_p=top_p,
        frequency_penalty=frequency_penalty,
        presence_penalty=presence_penalty,
        max_tokens=max_tokens,
        n=n,
        seed=seed,
        stop=stop,
        logprobs=None if logprobs is None else integer("logprobs", logprobs, 0),
        user=user,
        stream_options=stream_options,
    )
    set_if_given(body, "echo", echo)
    set_if_given(body, "suffix", suffix)
    if best_of is not None:
        body["best_of"] = integer("best_of", best_of, 1)
    return chain, body


def embedding_body(
    stacklevel: int | None,
    /,
    *,
    model: Any,
    input: Any,
    dimensions: Any = None,
    encoding_format: Any = None,
    user: Any = None,
) -> tuple[ModelChain, dict[str, Any]]:
    """Check ``embeddings.create``'s body arguments and build its body.

    Returns:
        The model chain and the body (``model`` as for :func:`chat_completion_body`).

    Raises:
        InvalidInputError: an argument is wrong (``field`` names it).
    """
    if isinstance(input, str):
        input_value: object = input
    elif isinstance(input, Sequence) and not isinstance(input, bytes) and input:
        input_value = list(input)
    else:
        raise InvalidInputError("input", "must be a str or a non-empty list")
    chain = model_chain(model, stacklevel)
    body: dict[str, Any] = {"model": str(chain), "input": input_value}
    if dimensions is not None:
        body["dimensions"] = integer("dimensions", dimensions, 1)
    if encoding_format is not None:
        if encoding_format not in ("float", "base64"):
            raise InvalidInputError("encoding_format", "must be 'float' or 'base64'")
        body["encoding_format"] = encoding_format
    if user is not None:
        if not isinstance(user, str):
            raise InvalidInputError("user", f"must be a str, got {type(user).__name__}")
        body["user"] = user
    return chain, body
