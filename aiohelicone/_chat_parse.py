"""Layer 5 (client): what ``chat.completions.parse`` and ``stream_parse`` add to ``create``.

:func:`structured_request` turns the attrs classes given as ``response_format`` and ``tools``
into the strict definitions the body carries (``_schema.py``);
:class:`ParsedChatCompletionStream` is the object ``stream_parse`` returns: the chunk stream,
then the accumulated answer read back into the classes (``_parse.parse_chat_completion``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import attrs

from ._exceptions import InvalidInputError
from ._parse import ParsedChatCompletion, parse_chat_completion
from ._schema import function_tool_for, response_format_for

if TYPE_CHECKING:
    from typing import Self

    from ._metadata import HeliconeMetadata
    from ._models import ChatCompletionChunk
    from ._stream_base import AsyncStream
    from ._streaming import ChatCompletionStream

__all__ = ["ParsedChatCompletionStream", "ParsedStream", "attrs_tools", "structured_request"]

T = TypeVar("T")


def structured_request(
    response_format: object, tools: object
) -> tuple[dict[str, Any] | None, list[Any] | None, dict[str, type]]:
    """The ``response_format`` and ``tools`` bodies of attrs classes, and the tool classes."""
    fmt = None
    if response_format is not None:
        if not isinstance(response_format, type) or not attrs.has(response_format):
            raise InvalidInputError(
                "response_format",
                f"must be an attrs class (for a JSON schema of your own use create), "
                f"got {response_format!r}",
            )
        fmt = response_format_for(response_format)
    definitions, classes = attrs_tools(tools, function_tool_for, lambda d: d["function"]["name"])
    return fmt, definitions, classes


def attrs_tools(
    tools: object,
    definition_for: Callable[[type], dict[str, Any]],
    name_of: Callable[[dict[str, Any]], str],
) -> tuple[list[Any] | None, dict[str, type]]:
    """Tool definitions for ``tools`` (attrs classes or mappings), and the classes by name.

    ``definition_for`` builds an attrs class's strict definition (chat and Responses shape
    them differently) and ``name_of`` reads the function name back from one. A mapping is
    passed on as it is (checked with the body; its calls are left unparsed).
    """
    if tools is None:
        return None, {}
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Sequence):
        raise InvalidInputError("tools", "must be a list of attrs classes or tool mappings")
    definitions: list[Any] = []
    classes: dict[str, type] = {}
    for i, tool in enumerate(tools):
        if isinstance(tool, type) and attrs.has(tool):
            definition = definition_for(tool)
            classes[name_of(definition)] = tool
            definitions.append(definition)
        elif isinstance(tool, Mapping):
            definitions.append(tool)
        else:
            raise InvalidInputError(
                f"tools[{i}]", f"must be an attrs class or a tool mapping, got {tool!r}"
            )
    return definitions, classes


S = TypeVar("S", bound="AsyncStream[Any]")


class ParsedStream(Generic[S]):
    """What the ``stream_parse`` objects share: opened by ``async with``, closed on exit.

    The request is sent when the block is entered (``open_stream``), so the arguments are
    checked when ``stream_parse`` is called and nothing is sent outside the block.
    """

    __slots__ = ("_classes", "_open", "_stream")

    def __init__(self, open_stream: Callable[[], Awaitable[S]], classes: dict[str, type]) -> None:
        self._open = open_stream
        self._classes = classes
        self._stream: S | None = None

    async def __aenter__(self) -> Self:
        if self._stream is not None:
            raise RuntimeError("this stream has been opened already")
        self._stream = await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying stream (the rest of the answer is not read)."""
        if self._stream is not None:
            await self._stream.aclose()

    @property
    def stream(self) -> S:
        """The underlying stream (``accumulated``, ``helicone``, ``request_id``...)."""
        if self._stream is None:
            raise RuntimeError("use the stream inside `async with` (the request is sent there)")
        return self._stream

    @property
    def helicone(self) -> HeliconeMetadata | None:
        """Helicone metadata of the answer (its response headers)."""
        return self.stream.helicone

    def text_deltas(self) -> AsyncIterator[str]:
        """Iterate over the answer's text as it arrives (the JSON, piece by piece)."""
        return self.stream.text_deltas()


class ParsedChatCompletionStream(ParsedStream["ChatCompletionStream"], Generic[T]):
    """The stream of :meth:`ChatCompletions.stream_parse`: chunks, then the parsed answer.

    Use it with ``async with`` (the request is sent on entry, the stream closed on exit).
    Iterating gives the :class:`ChatCompletionChunk` objects, :meth:`text_deltas` just
    the text (partial JSON) of choice 0; :meth:`get_final_completion` reads the rest and
    parses it.
    """

    __slots__ = ("_response_format",)

    def __init__(
        self,
        open_stream: Callable[[], Awaitable[ChatCompletionStream]],
        response_format: type[T] | None,
        classes: dict[str, type],
    ) -> None:
        super().__init__(open_stream, classes)
        self._response_format = response_format

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self.stream.__aiter__()

    async def get_final_completion(self) -> ParsedChatCompletion[T]:
        """Read the rest of the stream and parse what it amounts to.

        Returns:
            The :class:`ParsedChatCompletion` (``.raw`` is the accumulated completion).

        Raises:
            StreamTruncatedError: the stream ended before it was complete.
            LengthFinishReasonError, ContentFilterFinishReasonError,
            StructuredOutputError: as :meth:`ChatCompletions.parse`.
            APIStatusError, APIConnectionError, APITimeoutError: as iteration would.
        """
        completion = await self.stream.get_final_completion()
        parsed = parse_chat_completion(completion, self._response_format, tools=self._classes)
        # T is None exactly when there is no response_format (stream_parse's overloads).
        return cast("ParsedChatCompletion[T]", parsed)

    async def get_final_parsed(self) -> T | None:
        """``(await get_final_completion()).choices[0].message.parsed``.

        Raises:
            The errors of :meth:`get_final_completion`.
        """
        return (await self.get_final_completion()).parsed
