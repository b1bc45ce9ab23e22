"""Layer 5 (client): what ``responses.parse`` and ``responses.stream_parse`` add to ``create``.

The Responses counterpart of ``_chat_parse.py`` and ``_parse.py``, with the same rules
(one reading of model-written JSON: ``_parse.read_structured``; one table of stop reasons:
``_parse.stop_error``). What differs is the shape of the wire:

- the format asked for is ``text: {"format": {"type": "json_schema", "name", "schema",
  "strict": true}}`` (flat, where chat nests it under ``response_format.json_schema``):
  :func:`text_format_for`;
- function tools are flat too: ``{"type": "function", "name", "parameters", "strict"}``:
  :func:`responses_function_tool_for`;
- the answer is a list of output items: every ``output_text`` part of a message gets
  ``parsed``, every ``function_call`` of an attrs-class tool gets ``parsed_arguments``, and
  :attr:`ParsedResponse.output_parsed` is the first ``parsed`` there is;
- a cut answer is ``status: "incomplete"`` with ``incomplete_details.reason``
  ``"max_output_tokens"`` (:class:`LengthFinishReasonError`) or ``"content_filter"``
  (:class:`ContentFilterFinishReasonError`); a refusal part leaves ``parsed`` None.

A message whose ``phase`` is set to something other than ``"final_answer"`` (commentary
between tool calls) is not parsed, as in openai-python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    Required,
    TypedDict,
    TypeVar,
    cast,
    overload,
)

import attrs

from ._chat_parse import ParsedStream, attrs_tools
from ._exceptions import InvalidInputError
from ._parse import read_structured, stop_error, tool_classes
from ._responses_models import (
    IncompleteDetails,
    Response,
    ResponseError,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseUsage,
    UnknownContentPart,
    UnknownOutputItem,
)
from ._schema import function_tool_for, response_format_for

if TYPE_CHECKING:
    from ._fallback_policy import FallbackMode, FallbackPolicy
    from ._helicone import HeliconeOptions
    from ._metadata import HeliconeMetadata
    from ._resources import ModelArg
    from ._responses_events import ResponseStreamEvent
    from ._responses_stream import ResponseStream
    from ._timeouts import StreamTimeouts, TimeoutArg

__all__ = [
    "ParsedResponse",
    "ParsedResponseFunctionToolCall",
    "ParsedResponseOutputMessage",
    "ParsedResponseOutputText",
    "ParsedResponseStream",
    "ResponseParams",
    "parse_response",
    "responses_function_tool_for",
    "structured_responses_request",
    "text_format_for",
]

T = TypeVar("T")


# -- the request ------------------------------------------------------------------------------


def text_format_for(
    cls: type, *, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """The Responses ``text.format`` asking for JSON that follows ``cls``'s strict schema.

    Use it as ``responses.create(..., text={"format": text_format_for(Invoice)})``, then
    :func:`parse_response`; ``responses.parse(text_format=Invoice)`` does both.

    Args:
        cls: the attrs class of the answer.
        name: the schema's name (default: the class name).
        description: what the answer is, for the model (default: none).

    Returns:
        ``{"type": "json_schema", "name", "description"?, "schema", "strict": True}``.

    Raises:
        SchemaError: ``cls`` has no strict schema (``field`` names the culprit).
        InvalidInputError: ``name`` is not 1-64 of ``[A-Za-z0-9_-]``.
    """
    spec = response_format_for(cls, name=name, description=description)["json_schema"]
    return {"type": "json_schema", **spec}


def responses_function_tool_for(
    cls: type, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """A strict Responses function tool whose arguments are an attrs class.

    Args:
        cls: the attrs class of the arguments.
        name: the function name (default: the class name).
        description: what the function does (default: the class docstring's first
            paragraph, if any).

    Returns:
        ``{"type": "function", "name", "description"?, "parameters", "strict": True}``
        (flat: the Chat Completions form is :func:`function_tool_for`).

    Raises:
        SchemaError, InvalidInputError: as :func:`text_format_for`.
    """
    function = function_tool_for(cls, name=name, description=description)["function"]
    return {"type": "function", **function}


def structured_responses_request(
    text_format: object, text: object, tools: object
) -> tuple[Any, list[Any] | None, dict[str, type]]:
    """The ``text`` and ``tools`` bodies for attrs classes, and the tool classes by name.

    ``text`` given with ``text_format`` keeps its other settings (``verbosity``...) and
    gets the format; a ``text.format`` of its own is refused (which one would win?).
    """
    config: Any = text
    if text_format is not None:
        if not isinstance(text_format, type) or not attrs.has(text_format):
            raise InvalidInputError(
                "text_format",
                f"must be an attrs class (for a JSON schema of your own use create with "
                f"text={{'format': ...}}), got {text_format!r}",
            )
        if text is not None and not isinstance(text, Mapping):
            raise InvalidInputError("text", f"must be a mapping, got {type(text).__name__}")
        if text is not None and "format" in text:
            raise InvalidInputError(
                "text.format", "is set by text_format; give one or the other, not both"
            )
        config = {**(text or {}), "format": text_format_for(text_format)}
    definitions, classes = attrs_tools(tools, responses_function_tool_for, lambda d: d["name"])
    return config, definitions, classes


class ResponseParams(TypedDict, total=False):
    """The arguments ``responses.parse`` and ``stream_parse`` share with ``create``."""

    model: Required[ModelArg]
    input: Required[str | Sequence[Mapping[str, Any]]]
    instructions: str | None
    tool_choice: str | Mapping[str, Any] | None
    text: Mapping[str, Any] | None
    reasoning: Mapping[str, Any] | None
    max_output_tokens: int | None
    temperature: float | None
    top_p: float | None
    previous_response_id: str | None
    store: bool | None
    metadata: Mapping[str, Any] | None
    parallel_tool_calls: bool | None
    truncation: Literal["auto", "disabled"] | None
    user: str | None
    helicone: HeliconeOptions | None
    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    timeout: TimeoutArg
    max_retries: int | None
    stream_timeouts: StreamTimeouts | None
    fallback: FallbackMode | FallbackPolicy | None
    fallback_deadline: float | None


# -- the parsed answer ------------------------------------------------------------------------


@attrs.frozen
class ParsedResponseOutputText(Generic[T]):
    """A text part of a message, with the text structured.

    Attributes:
        text: the text (the JSON) as the model wrote it.
        parsed: an instance of the requested class; None when no class was asked for, the
            text is empty, or the message is not a final answer.
    """

    text: str
    parsed: T | None = None
    annotations: list[dict[str, Any]] = attrs.Factory(list)
    logprobs: Any = None
    type: str = "output_text"


@attrs.frozen
class ParsedResponseOutputMessage(Generic[T]):
    """An assistant message whose text parts are structured.

    Attributes:
        content: text parts (:class:`ParsedResponseOutputText`), refusals
            (:class:`ResponseOutputRefusal`, the model's reason in ``refusal``) and parts
            of kinds this version does not know, in order.
        raw: the message as received.
    """

    id: str
    content: list[ParsedResponseOutputText[T] | ResponseOutputRefusal | UnknownContentPart]
    role: str = "assistant"
    status: str | None = None
    type: str = "message"
    raw: ResponseOutputMessage = attrs.field(factory=ResponseOutputMessage, eq=False, repr=False)


@attrs.frozen
class ParsedResponseFunctionToolCall:
    """A function call whose arguments are structured.

    Attributes:
        parsed_arguments: an instance of the tool's attrs class, or None when the function
            is not one of the attrs-class tools given. Narrow it with ``isinstance``.
    """

    call_id: str
    name: str
    arguments: str
    parsed_arguments: object = None
    id: str | None = None
    status: str | None = None
    type: str = "function_call"


@attrs.frozen
class ParsedResponse(Generic[T]):
    """A model response whose output is structured into ``T``.

    Attributes:
        output: the items: :class:`ParsedResponseOutputMessage`,
            :class:`ParsedResponseFunctionToolCall`, and reasoning and unknown items as
            received.
        raw: the :class:`Response` as received (every echoed setting is there).
        helicone: Helicone metadata of the answer.
    """

    id: str
    output: list[
        ParsedResponseOutputMessage[T]
        | ParsedResponseFunctionToolCall
        | ResponseReasoningItem
        | UnknownOutputItem
    ]
    status: str | None = None
    model: str = ""
    created_at: float = 0
    object: str = "response"
    usage: ResponseUsage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    raw: Response | None = attrs.field(default=None, eq=False, repr=False)
    helicone: HeliconeMetadata | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def output_parsed(self) -> T | None:
        """The first ``parsed`` of a text part (None on a refusal, or with no text)."""
        for item in self.output:
            if isinstance(item, ParsedResponseOutputMessage):
                for part in item.content:
                    if isinstance(part, ParsedResponseOutputText) and part.parsed is not None:
                        parsed: T = part.parsed
                        return parsed
        return None

    @property
    def output_text(self) -> str:
        """The text of every text part, joined (as :attr:`Response.output_text`)."""
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, ParsedResponseOutputMessage)
            for part in item.content
            if isinstance(part, ParsedResponseOutputText)
        )


@overload
def parse_response(
    response: Response,
    text_format: type[T],
    *,
    tools: Iterable[type] | Mapping[str, type] = (),
) -> ParsedResponse[T]: ...


@overload
def parse_response(
    response: Response,
    text_format: None = None,
    *,
    tools: Iterable[type] | Mapping[str, type] = (),
) -> ParsedResponse[None]: ...


def parse_response(
    response: Response,
    text_format: type[Any] | None = None,
    *,
    tools: Iterable[type] | Mapping[str, type] = (),
) -> ParsedResponse[Any]:
    """Structure a response's output text (and function-call arguments) into attrs classes.

    Args:
        response: the answer, streamed and accumulated or not.
        text_format: the attrs class the text follows (:func:`text_format_for`); None to
            parse function calls only.
        tools: the attrs classes of the function tools (:func:`responses_function_tool_for`):
            keyed by function name, or a sequence of classes named after themselves.

    Returns:
        The :class:`ParsedResponse`; ``output_parsed`` is typed ``T``.

    Raises:
        LengthFinishReasonError: the response is incomplete (``max_output_tokens``).
        ContentFilterFinishReasonError: the content filter stopped it.
        StructuredOutputError: text or arguments are not JSON or do not fit the class
            (``raw`` holds the text, ``path`` the place).
    """
    classes = tool_classes(tools)
    target = text_format.__qualname__ if text_format is not None else "the tools"
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        error = stop_error(reason, raw=response.output_text or None, target=target, answer=response)
        if error is not None:
            raise error
    output: list[Any] = []
    for item in response.output:
        if type(item) is ResponseOutputMessage:
            output.append(_parse_message(item, text_format, response))
        elif type(item) is ResponseFunctionToolCall:
            cls = classes.get(item.name)
            arguments: object = None
            if cls is not None:
                arguments = read_structured(item.arguments, cls, response, what="arguments")
            output.append(
                ParsedResponseFunctionToolCall(
                    call_id=item.call_id,
                    name=item.name,
                    arguments=item.arguments,
                    parsed_arguments=arguments,
                    id=item.id,
                    status=item.status,
                    type=item.type,
                )
            )
        else:
            output.append(item)
    return ParsedResponse(
        id=response.id,
        output=output,
        status=response.status,
        model=response.model,
        created_at=response.created_at,
        object=response.object,
        usage=response.usage,
        error=response.error,
        incomplete_details=response.incomplete_details,
        raw=response,
        helicone=response.helicone,
    )


def _parse_message(
    item: ResponseOutputMessage, text_format: type[Any] | None, response: Response
) -> ParsedResponseOutputMessage[Any]:
    phase = item.extra.get("phase")
    final = phase is None or phase == "final_answer"
    content: list[Any] = []
    for part in item.content:
        if type(part) is not ResponseOutputText:
            content.append(part)
            continue
        parsed = None
        if text_format is not None and final and part.text:
            parsed = read_structured(part.text, text_format, response, what="output text")
        content.append(
            ParsedResponseOutputText(
                text=part.text,
                parsed=parsed,
                annotations=part.annotations,
                logprobs=part.logprobs,
                type=part.type,
            )
        )
    return ParsedResponseOutputMessage(
        id=item.id,
        content=content,
        role=item.role,
        status=item.status,
        type=item.type,
        raw=item,
    )


# -- the stream -------------------------------------------------------------------------------


class ParsedResponseStream(ParsedStream["ResponseStream"], Generic[T]):
    """The stream of ``responses.stream_parse``: typed events, then the parsed response.

    Use it with ``async with`` (the request is sent on entry, the stream closed on exit).
    Iterating gives the :class:`ResponseStreamEvent` objects, :meth:`text_deltas` just the
    text (the JSON, piece by piece); :meth:`get_final_response` reads the rest and parses it.
    """

    __slots__ = ("_text_format",)

    def __init__(
        self,
        open_stream: Callable[[], Awaitable[ResponseStream]],
        text_format: type[T] | None,
        classes: dict[str, type],
    ) -> None:
        super().__init__(open_stream, classes)
        self._text_format = text_format

    def __aiter__(self) -> AsyncIterator[ResponseStreamEvent]:
        return self.stream.__aiter__()

    async def get_final_response(self) -> ParsedResponse[T]:
        """Read the rest of the stream and parse the response it amounts to.

        Returns:
            The :class:`ParsedResponse` (``.raw`` is the accumulated :class:`Response`).

        Raises:
            StreamTruncatedError: the stream ended before a terminal event.
            LengthFinishReasonError, ContentFilterFinishReasonError,
            StructuredOutputError: as ``responses.parse``.
            APIStatusError, APIConnectionError, APITimeoutError: as iteration would.
        """
        response = await self.stream.get_final_response()
        parsed = parse_response(response, self._text_format, tools=self._classes)
        # T is None exactly when there is no text_format (stream_parse's overloads).
        return cast("ParsedResponse[T]", parsed)

    async def get_final_parsed(self) -> T | None:
        """``(await get_final_response()).output_parsed``.

        Raises:
            The errors of :meth:`get_final_response`.
        """
        return (await self.get_final_response()).output_parsed
