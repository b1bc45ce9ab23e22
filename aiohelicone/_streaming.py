"""Layer 3 (streams): ``ChatCompletionStream`` and ``CompletionStream``, the chat and text streams.

Each is an :class:`AsyncStream` (``_stream_base.py``: lifecycle, reading, the SSE pump, its
guarantees) that names its chunk model, its accumulator (``_accumulate.py``) and the whole
answer a non-stream reply is read as. Their :meth:`AsyncStream.text_deltas` gives the text
of choice 0 (``delta.content`` for chat, ``text`` for completions).
"""

from __future__ import annotations

from ._accumulate import ChatCompletionAccumulator, CompletionAccumulator, completion_as_chunk
from ._models import ChatCompletion, ChatCompletionChunk, Completion
from ._stream_base import AsyncStream as AsyncStream
from ._timeouts import StreamTimeouts as StreamTimeouts

__all__ = ["AsyncStream", "ChatCompletionStream", "CompletionStream", "StreamTimeouts"]


class ChatCompletionStream(AsyncStream[ChatCompletionChunk]):
    """A stream of :class:`ChatCompletionChunk` (``chat.completions.create(stream=True)``)."""

    _chunk_type = ChatCompletionChunk
    _accumulator_type = ChatCompletionAccumulator
    _answer_type = ChatCompletion

    __slots__ = ()

    @classmethod
    def _whole_as_chunk(cls, answer: ChatCompletion) -> ChatCompletionChunk:
        return completion_as_chunk(answer)

    @property
    def accumulated(self) -> ChatCompletion:
        """The :class:`ChatCompletion` the chunks so far amount to."""
        result: ChatCompletion = super().accumulated
        return result

    async def get_final_completion(self) -> ChatCompletion:
        """Read the rest of the stream and return the :class:`ChatCompletion` it amounts to.

        Returns:
            The accumulated completion, with ``.helicone`` set.

        Raises:
            StreamTruncatedError, APIStatusError, APIConnectionError, APITimeoutError,
            APIResponseValidationError: as iteration would.
        """
        result: ChatCompletion = await super().get_final_completion()
        return result


class CompletionStream(AsyncStream[Completion]):
    """A stream of text :class:`Completion` chunks (``completions.create(stream=True)``)."""

    _chunk_type = Completion
    _accumulator_type = CompletionAccumulator
    _answer_type = Completion

    __slots__ = ()

    @property
    def accumulated(self) -> Completion:
        """The :class:`Completion` the chunks so far amount to."""
        result: Completion = super().accumulated
        return result

    async def get_final_completion(self) -> Completion:
        """Read the rest of the stream and return the :class:`Completion` it amounts to.

        Returns:
            The accumulated completion, with ``.helicone`` set.

        Raises:
            StreamTruncatedError, APIStatusError, APIConnectionError, APITimeoutError,
            APIResponseValidationError: as iteration would.
        """
        result: Completion = await super().get_final_completion()
        return result
