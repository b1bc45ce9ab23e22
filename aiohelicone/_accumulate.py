"""Layer 0 (core): accumulators: the completion a stream of chunks amounts to (pure, no I/O).

:class:`ChatCompletionAccumulator` folds chat chunks (content, refusals, tool calls whose
parts arrive interleaved by ``index``, reasoning text, reasoning blocks merged by ``index``,
images, several choices, the usage of the final chunk) into a :class:`ChatCompletion`;
:class:`CompletionAccumulator` does the same for text completions. The stream object
(``_stream_base.py``) feeds them and reports what they hold when a stream breaks or ends early.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._models import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
    ChunkChoice,
    Completion,
    CompletionChoice,
    Function,
    MessageImage,
    ReasoningDetail,
    Usage,
)

__all__ = [
    "ChatCompletionAccumulator",
    "CompletionAccumulator",
    "completion_as_chunk",
    "has_content",
]


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: str | None = None
        self.type: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


class _ChoiceParts:
    __slots__ = (
        "content",
        "detail_at",
        "details",
        "finish_reason",
        "images",
        "logprobs",
        "reasoning",
        "refusal",
        "role",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.role: str | None = None
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.details: list[ReasoningDetail] = []
        self.detail_at: dict[int, int] = {}  # a block's `index` -> its place in `details`
        self.images: list[MessageImage] = []
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, _ToolCallParts] = {}
        self.logprobs: Any = None

    def add_details(self, details: list[ReasoningDetail]) -> None:
        # A block without `index` arrives whole (Helicone's mapping of Anthropic thinking
        # sends every block in the finishing chunk); blocks with one arrive in fragments
        # (OpenRouter-style streams) that belong together.
        for detail in details:
            if detail.index is None:
                self.details.append(detail)
                continue
            at = self.detail_at.get(detail.index)
            if at is None:
                self.detail_at[detail.index] = len(self.details)
                self.details.append(detail)
            else:
                self.details[at] = _merge_detail(self.details[at], detail)


# Fragments of these are pieces of one string; of the others, the last value given wins.
_DETAIL_TEXTS = ("text", "summary", "data", "thinking", "signature")
_DETAIL_LABELS = ("type", "id", "format")


def _merge_detail(old: ReasoningDetail, new: ReasoningDetail) -> ReasoningDetail:
    changes: dict[str, Any] = {}
    for name in _DETAIL_TEXTS:
        piece = getattr(new, name)
        if piece is not None:
            before = getattr(old, name)
            changes[name] = piece if before is None else before + piece
    for name in _DETAIL_LABELS:
        value = getattr(new, name)
        if value is not None:
            changes[name] = value
    if new.extra:
        changes["extra"] = {**old.extra, **new.extra}
    # A field stays "absent" (left out when unstructured) only if no fragment had it.
    changes["missing"] = old.missing & new.missing
    return attrs.evolve(old, **changes)


class _Accumulator:
    """What chat and text accumulators share: the answer's id, model, time and usage."""

    __slots__ = ("_created", "_id", "_model", "_usage", "chunks")

    def __init__(self) -> None:
        self._id = ""
        self._model = ""
        self._created = 0
        self._usage: Usage | None = None
        self.chunks = 0

    def _count(self, chunk: ChatCompletionChunk | Completion) -> None:
        self.chunks += 1
        if not self._id:
            self._id, self._model, self._created = chunk.id, chunk.model, chunk.created
        if chunk.usage is not None:
            self._usage = chunk.usage


class ChatCompletionAccumulator(_Accumulator):
    """Builds the :class:`ChatCompletion` a stream of chunks amounts to.

    Handles content, refusal and reasoning deltas, ``reasoning_details`` (blocks with an
    ``index`` are fragments of one block and merged: their texts joined, the last label
    kept; blocks without one arrive whole), images (appended, each arrives whole), tool
    calls whose id, name and argument fragments arrive interleaved by ``index``, several
    choices (``n > 1``), finish reasons, and the
    usage carried by the final chunk (whose ``choices`` is empty).
    """

    __slots__ = ("_choices",)

    def __init__(self) -> None:
        super().__init__()
        self._choices: dict[int, _ChoiceParts] = {}

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Fold one chunk in."""
        self._count(chunk)
        for choice in chunk.choices:
            parts = self._choices.get(choice.index)
            if parts is None:
                parts = self._choices[choice.index] = _ChoiceParts()
            delta = choice.delta
            if delta.role is not None:
                parts.role = delta.role
            if delta.content:
                parts.content.append(delta.content)
            if delta.refusal:
                parts.refusal.append(delta.refusal)
            if delta.reasoning:
                parts.reasoning.append(delta.reasoning)
            if delta.reasoning_details:
                parts.add_details(delta.reasoning_details)
            if delta.images:
                parts.images.extend(delta.images)
            if delta.tool_calls:
                for call in delta.tool_calls:
                    self._add_tool_call(parts, call)
            if choice.finish_reason is not None:
                parts.finish_reason = choice.finish_reason

    @staticmethod
    def _add_tool_call(parts: _ChoiceParts, call: ChoiceDeltaToolCall) -> None:
        tool = parts.tool_calls.get(call.index)
        if tool is None:
            tool = parts.tool_calls[call.index] = _ToolCallParts()
        if call.id:
            tool.id = call.id
        if call.type:
            tool.type = call.type
        if call.function is not None:
            if call.function.name:
                tool.name = (tool.name or "") + call.function.name
            if call.function.arguments:
                tool.arguments.append(call.function.arguments)

    @property
    def finished(self) -> bool:
        """Whether at least one choice arrived and every choice has a finish reason."""
        return bool(self._choices) and all(
            p.finish_reason is not None for p in self._choices.values()
        )

    def text(self, index: int = 0) -> str:
        """The content of choice ``index`` so far."""
        parts = self._choices.get(index)
        return "".join(parts.content) if parts else ""

    def result(self) -> ChatCompletion:
        """The completion so far (complete once the stream ended)."""
        choices = []
        for index in sorted(self._choices):
            parts = self._choices[index]
            tool_calls = [
                ChatCompletionMessageToolCall(
                    id=t.id or "",
                    type=t.type or "function",
                    function=Function(name=t.name or "", arguments="".join(t.arguments)),
                )
                for _, t in sorted(parts.tool_calls.items())
            ]
            message = ChatCompletionMessage(
                role=parts.role or "assistant",
                # A choice that only called tools or refused has null content.
                content=(
                    "".join(parts.content)
                    if parts.content or not (tool_calls or parts.refusal)
                    else None
                ),
                refusal="".join(parts.refusal) if parts.refusal else None,
                tool_calls=tool_calls or None,
                reasoning="".join(parts.reasoning) if parts.reasoning else None,
                reasoning_details=list(parts.details) or None,
                images=list(parts.images) or None,
            )
            choices.append(Choice(index=index, message=message, finish_reason=parts.finish_reason))
        return ChatCompletion(
            id=self._id,
            choices=choices,
            model=self._model,
            created=self._created,
            usage=self._usage,
        )


class CompletionAccumulator(_Accumulator):
    """Builds the :class:`Completion` a stream of text-completion chunks amounts to."""

    __slots__ = ("_finish", "_text")

    def __init__(self) -> None:
        super().__init__()
        self._text: dict[int, list[str]] = {}
        self._finish: dict[int, str | None] = {}

    def add(self, chunk: Completion) -> None:
        """Fold one chunk in."""
        self._count(chunk)
        for choice in chunk.choices:
            self._text.setdefault(choice.index, []).append(choice.text)
            if choice.finish_reason is not None or choice.index not in self._finish:
                self._finish[choice.index] = choice.finish_reason

    @property
    def finished(self) -> bool:
        """Whether at least one choice arrived and every choice has a finish reason."""
        return bool(self._finish) and all(f is not None for f in self._finish.values())

    def text(self, index: int = 0) -> str:
        """The text of choice ``index`` so far."""
        return "".join(self._text.get(index, ()))

    def result(self) -> Completion:
        """The completion so far."""
        return Completion(
            id=self._id,
            model=self._model,
            created=self._created,
            usage=self._usage,
            choices=[
                CompletionChoice(index=i, text="".join(t), finish_reason=self._finish.get(i))
                for i, t in sorted(self._text.items())
            ],
        )


def has_content(chunk: Any) -> bool:
    """Whether a chunk carries text, a refusal, reasoning, an image, a tool call or a finish
    reason."""
    for choice in chunk.choices:
        if choice.finish_reason is not None:
            return True
        delta = getattr(choice, "delta", None)
        if delta is None:  # a text completion chunk
            if choice.text:
                return True
        elif (
            delta.content
            or delta.refusal
            or delta.tool_calls
            or delta.reasoning
            or delta.reasoning_details
            or delta.images
        ):
            return True
    return False


def completion_as_chunk(completion: ChatCompletion) -> ChatCompletionChunk:
    """The one chunk a whole completion amounts to (for answers that came unstreamed)."""
    choices = []
    for choice in completion.choices:
        message = choice.message
        tool_calls = None
        if message.tool_calls:
            tool_calls = [
                ChoiceDeltaToolCall(
                    index=i,
                    id=call.id,
                    type=call.type,
                    function=ChoiceDeltaToolCallFunction(
                        name=call.function.name, arguments=call.function.arguments
                    ),
                )
                for i, call in enumerate(message.tool_calls)
            ]
        choices.append(
            ChunkChoice(
                index=choice.index,
                delta=ChoiceDelta(
                    role=message.role,
                    content=message.content,
                    refusal=message.refusal,
                    tool_calls=tool_calls,
                    reasoning=message.reasoning,
                    reasoning_details=message.reasoning_details,
                    images=message.images,
                ),
                finish_reason=choice.finish_reason,
            )
        )
    return ChatCompletionChunk(
        id=completion.id,
        choices=choices,
        model=completion.model,
        created=completion.created,
        usage=completion.usage,
        system_fingerprint=completion.system_fingerprint,
    )
