"""Layer 0 (core): structured outputs read back into attrs classes (pure, no I/O).

:func:`parse_chat_completion` takes a :class:`ChatCompletion` (streamed and accumulated, or
not) and the attrs class its content was asked to follow (``_schema.response_format_for``),
plus the attrs classes of the tools it may call (``_schema.function_tool_for``), and gives a
:class:`ParsedChatCompletion` whose ``choices[i].message.parsed`` is an instance of that
class, typed as such::

    completion = await client.chat.completions.create(
        model=..., messages=..., response_format=response_format_for(Invoice)
    )
    invoice = parse_chat_completion(completion, Invoice).choices[0].message.parsed

How an answer is read, per choice:

1. ``finish_reason == "length"`` raises :class:`LengthFinishReasonError` (the JSON is cut
   off: openai-python issue #1763 is the crash this replaces), ``"content_filter"`` raises
   :class:`ContentFilterFinishReasonError`;
2. a refusal (``message.refusal``) gives ``parsed = None`` and keeps the refusal;
3. otherwise the content is decoded, checked against the class's strict schema (exact JSON
   types, no unknown keys: ``_schema.check``) and structured by the package's one cattrs
   converter; any failure raises :class:`StructuredOutputError` with the raw text and the
   path of the problem;
4. tool calls whose function names a given tool class get ``parsed_arguments``, read the
   same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

import attrs

from ._converter import get_converter
from ._exceptions import (
    ContentFilterFinishReasonError,
    LengthFinishReasonError,
    StructuredOutputError,
)
from ._json import loads_function
from ._metadata import HeliconeMetadata
from ._models import (
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    MessageImage,
    ReasoningDetail,
    Usage,
)
from ._schema import SchemaMismatch, _schema_of, check

__all__ = [
    "ParsedChatCompletion",
    "ParsedChatCompletionMessage",
    "ParsedChoice",
    "ParsedFunction",
    "ParsedToolCall",
    "parse_arguments",
    "parse_chat_completion",
    "parse_content",
    "read_structured",
    "stop_error",
    "tool_classes",
]

T = TypeVar("T")


@attrs.frozen
class ParsedFunction:
    """A tool call's function with its arguments structured.

    Attributes:
        name: the function name.
        arguments: the JSON text the model sent.
        parsed_arguments: an instance of the tool's attrs class, or None when the function
            is not one of the tools given to the parser. Narrow it with ``isinstance``.
    """

    name: str
    arguments: str
    parsed_arguments: object = None


@attrs.frozen
class ParsedToolCall:
    """A tool call of a parsed message."""

    id: str
    function: ParsedFunction
    type: str = "function"


@attrs.frozen
class ParsedChatCompletionMessage(Generic[T]):
    """The assistant message with its content structured.

    Attributes:
        parsed: the content as an instance of the requested class; None on a refusal, or
            when the message has no content (only tool calls).
        refusal: the model's refusal, if it refused.
        raw: the message as received.
    """

    parsed: T | None
    content: str | None = None
    refusal: str | None = None
    role: str = "assistant"
    tool_calls: list[ParsedToolCall] | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    images: list[MessageImage] | None = None
    raw: ChatCompletionMessage = attrs.field(factory=ChatCompletionMessage, eq=False, repr=False)


@attrs.frozen
class ParsedChoice(Generic[T]):
    """One choice of a parsed completion."""

    index: int
    message: ParsedChatCompletionMessage[T]
    finish_reason: str | None = None
    logprobs: Any = None


@attrs.frozen
class ParsedChatCompletion(Generic[T]):
    """A chat completion whose messages are structured into ``T``.

    Attributes:
        choices: the choices, each with ``message.parsed``.
        raw: the completion as received.
        helicone: Helicone metadata of the answer.
    """

    id: str
    choices: list[ParsedChoice[T]]
    model: str = ""
    created: int = 0
    object: str = "chat.completion"
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    raw: ChatCompletion | None = attrs.field(default=None, eq=False, repr=False)
    helicone: HeliconeMetadata | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def parsed(self) -> T | None:
        """``choices[0].message.parsed`` (None when there is no choice)."""
        return self.choices[0].message.parsed if self.choices else None


def _request_id(completion: object) -> str | None:
    helicone = getattr(completion, "helicone", None)
    return getattr(helicone, "request_id", None)


def read_structured(
    text: str | None, cls: type[T], completion: object, *, what: str = "content"
) -> T:
    """Decode ``text``, check it against ``cls``'s strict schema and structure it.

    The one reading of model-written JSON, for chat and Responses answers alike.

    Args:
        text: what the model wrote (content, output text or arguments).
        cls: the attrs class it should follow.
        completion: the whole answer, kept by the error (its ``helicone`` gives the id).
        what: how the error names the text ("content", "arguments"...).

    Raises:
        StructuredOutputError: ``text`` is null, not JSON, or does not fit ``cls``.
    """
    target = cls.__qualname__
    request_id = _request_id(completion)

    def fail(problem: str, path: str = "") -> StructuredOutputError:
        return StructuredOutputError(
            problem,
            raw=text,
            target=target,
            path=path,
            completion=completion,
            request_id=request_id,
        )

    if text is None:
        raise fail(f"the {what} is empty (null)")
    schema = _schema_of(cls)
    try:
        data = loads_function()(text)
    except ValueError as exc:
        raise fail(f"the {what} is not JSON ({exc})") from exc
    try:
        check(data, schema)
    except SchemaMismatch as exc:
        raise fail(exc.problem, exc.path) from exc
    try:
        result: T = get_converter().structure(data, cls)
    except Exception as exc:  # cattrs' validation groups, or a validator of the class
        raise fail(_structure_problem(exc)) from exc
    return result


def _structure_problem(exc: Exception) -> str:
    import cattrs

    if isinstance(exc, cattrs.BaseValidationError):
        # The schema check ran first, so what is left are the class's own validators:
        # their messages say more than cattrs' generic "invalid value".
        lines = cattrs.transform_error(exc, format_exception=lambda e, _t: str(e) or repr(e))
        return "; ".join(lines)
    return f"{type(exc).__name__}: {exc}"


# Why an answer stopped -> the error that says it cannot be parsed. Chat's finish reasons
# and the Responses API's ``incomplete_details.reason`` share it ("max_output_tokens" is
# Responses' "length").
_STOPPED: dict[str, type[LengthFinishReasonError] | type[ContentFilterFinishReasonError]] = {
    "length": LengthFinishReasonError,
    "max_output_tokens": LengthFinishReasonError,
    "content_filter": ContentFilterFinishReasonError,
}


def stop_error(
    reason: str | None, *, raw: str | None, target: str, answer: object
) -> StructuredOutputError | None:
    """The error for an answer that stopped for ``reason`` (None: it can be read).

    Args:
        reason: a chat ``finish_reason`` or a Responses ``incomplete_details.reason``.
        raw: the text that arrived before the stop.
        target: the name of the class asked for (or "the tools").
        answer: the whole answer, kept by the error.
    """
    kind = _STOPPED.get(reason) if reason is not None else None
    if kind is None:
        return None
    return kind(raw=raw, target=target, completion=answer, request_id=_request_id(answer))


def parse_content(completion: ChatCompletion, cls: type[T], *, index: int = 0) -> T | None:
    """Structure one choice's content into ``cls`` (None on a refusal or no content).

    Raises:
        LengthFinishReasonError, ContentFilterFinishReasonError, StructuredOutputError: as
            :func:`parse_chat_completion`.
        IndexError: there is no choice ``index``.
    """
    parsed: ParsedChatCompletion[T] = parse_chat_completion(completion, cls)
    return parsed.choices[index].message.parsed


def parse_arguments(call: ChatCompletionMessageToolCall, cls: type[T]) -> T:
    """Structure a tool call's ``function.arguments`` into ``cls``.

    Raises:
        StructuredOutputError: the arguments are not JSON or do not fit ``cls``.
    """
    return read_structured(call.function.arguments, cls, None, what="arguments")


def tool_classes(tools: Iterable[type] | Mapping[str, type]) -> dict[str, type]:
    """Tool classes keyed by function name (a sequence: each class under its own name)."""
    if isinstance(tools, Mapping):
        return dict(tools)
    return {cls.__name__: cls for cls in tools}


@overload
def parse_chat_completion(
    completion: ChatCompletion,
    response_format: type[T],
    *,
    tools: Iterable[type] | Mapping[str, type] = (),
) -> ParsedChatCompletion[T]: ...


@overload
def parse_chat_completion(
    completion: ChatCompletion,
    response_format: None = None,
    *,
    tools: Iterable[type] | Mapping[str, type] = (),
) -> ParsedChatCompletion[None]: ...


def parse_chat_completion(
    completion: ChatCompletion,
    response_format: type[Any] | None = None,
    *,
    tools: Iterable[type] | Mapping[str, type] = (),
) -> ParsedChatCompletion[Any]:
    """Structure a completion's content (and tool-call arguments) into attrs classes.

    Args:
        completion: the answer, streamed and accumulated or not.
        response_format: the attrs class the content follows (``response_format_for``);
            None to parse tool calls only.
        tools: the attrs classes of the tools (``function_tool_for``): keyed by function
            name, or a sequence of classes named after themselves.

    Returns:
        The :class:`ParsedChatCompletion`; ``choices[i].message.parsed`` is typed ``T``.

    Raises:
        LengthFinishReasonError: a choice was cut off at the token limit.
        ContentFilterFinishReasonError: a choice was stopped by the content filter.
        StructuredOutputError: content or arguments are not JSON or do not fit the class
            (``raw`` holds the text, ``path`` the place).
        SchemaError: a class cannot be described by a strict schema.
    """
    classes = tool_classes(tools)
    target = response_format.__qualname__ if response_format is not None else "the tools"
    choices = []
    for choice in completion.choices:
        message = choice.message
        error = stop_error(
            choice.finish_reason, raw=message.content, target=target, answer=completion
        )
        if error is not None:
            raise error
        parsed = None
        if response_format is not None and message.refusal is None and message.content:
            parsed = read_structured(message.content, response_format, completion)
        choices.append(
            ParsedChoice(
                index=choice.index,
                message=ParsedChatCompletionMessage(
                    parsed=parsed,
                    content=message.content,
                    refusal=message.refusal,
                    role=message.role,
                    tool_calls=_parse_calls(message.tool_calls, classes, completion),
                    reasoning=message.reasoning,
                    reasoning_details=message.reasoning_details,
                    images=message.images,
                    raw=message,
                ),
                finish_reason=choice.finish_reason,
                logprobs=choice.logprobs,
            )
        )
    return ParsedChatCompletion(
        id=completion.id,
        choices=choices,
        model=completion.model,
        created=completion.created,
        object=completion.object,
        usage=completion.usage,
        system_fingerprint=completion.system_fingerprint,
        service_tier=completion.service_tier,
        raw=completion,
        helicone=completion.helicone,
    )


def _parse_calls(
    calls: Sequence[ChatCompletionMessageToolCall] | None,
    classes: Mapping[str, type],
    completion: ChatCompletion,
) -> list[ParsedToolCall] | None:
    if calls is None:
        return None
    out = []
    for call in calls:
        cls = classes.get(call.function.name) if call.type == "function" else None
        arguments: object = None
        if cls is not None:
            arguments = read_structured(call.function.arguments, cls, completion, what="arguments")
        out.append(
            ParsedToolCall(
                id=call.id,
                type=call.type,
                function=ParsedFunction(
                    name=call.function.name,
                    arguments=call.function.arguments,
                    parsed_arguments=arguments,
                ),
            )
        )
    return out
