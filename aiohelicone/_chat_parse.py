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
    from ._streaming import ChatCompletionStream

__all__ = ["ParsedChatCompletionStream", "structured_request"]

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
    if tools is None:
        return fmt, None, {}
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Sequence):
        raise InvalidInputError("tools", "must be a list of attrs classes or tool mappings")
    definitions: list[Any] = []
    classes: dict[str, type] = {}
    for i, tool in enumerate(tools):
        if isinstance(tool, type) and attrs.has(tool):
            definition = function_tool_for(tool)
            classes[definition["function"]["name"]] = tool
            definitions.append(definition)
        elif isinstance(tool, Mapping):
            definitions.append(tool)  # checked with the body, its calls left unparsed
        else:
            raise InvalidInputError(
                f"tools[{i}]", f"must be an attrs class or a tool mapping, got {tool!r}"
            )
    return fmt, definitions, classes


class ParsedChatCompletionStream(Generic[T]):
    """The stream of :meth:`ChatCompletions.stream_parse`: chunks, then the parsed answer.

    Use it with ``async with`` (the request is sent on entry, the stream closed on exit).
    Iterating gives the :class:`ChatCompletionChunk` objects, :meth:`text_deltas` just
    the text (partial JSON) of choice 0; :meth:`get_final_completion` reads the rest and
    parses it.
    """

    __slots__ = ("_classes", "_open", "_response_format", "_stream")

    def __init__(
        self,
        open_stream: Callable[[], Awaitable[ChatCompletionStream]],
        response_format: type[T] | None,
        classes: dict[str, type],
    ) -> None:
        self._open = open_stream
        self._response_format = response_format
        self._classes = classes
        self._stream: ChatCompletionStream | None = None

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
    def stream(self) -> ChatCompletionStream:
        """The underlying chunk stream (``accumulated``, ``helicone``, ``request_id``...)."""
        if self._stream is None:
            raise RuntimeError("use the stream inside `async with` (the request is sent there)")
        return self._stream

    @property
    def helicone(self) -> HeliconeMetadata | None:
        """Helicone metadata of the answer (its response headers)."""
        return self.stream.helicone

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self.stream.__aiter__()

    def text_deltas(self) -> AsyncIterator[str]:
        """Iterate over the text of choice 0 as it arrives (the JSON, piece by piece)."""
        return self.stream.text_deltas()

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
