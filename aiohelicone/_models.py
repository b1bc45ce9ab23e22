"""Layer 0 (core): response models: frozen, slotted attrs records mirroring the OpenAI wire format.

They have no ``__weakref__`` slot, so that ``_converter.py`` can build them through an
unfrozen twin of the same layout (the hot path of every answer and stream chunk).

No I/O here. Structuring happens in ``_converter.py``, which also keeps what the models do
not name:

- ``extra``: keys the API sent that this version does not know (the API grows monthly).
- ``missing``: names of ``None`` fields that were absent from the JSON (as opposed to an
  explicit ``null``), so that unstructuring gives back exactly the JSON that arrived.

Enumerations (``role``, ``finish_reason``, ``object``...) are plain ``str``: an unknown
value is kept, never refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._metadata import HeliconeMetadata

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionMessageToolCall",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaFunctionCall",
    "ChoiceDeltaToolCall",
    "ChoiceDeltaToolCallFunction",
    "ChunkChoice",
    "Completion",
    "CompletionChoice",
    "CompletionTokensDetails",
    "CreateEmbeddingResponse",
    "Embedding",
    "EmbeddingUsage",
    "Function",
    "FunctionCall",
    "ImageURL",
    "MessageImage",
    "Model",
    "ModelList",
    "PromptTokensDetails",
    "ReasoningDetail",
    "Usage",
]

_EMPTY: Mapping[str, Any] = {}


def _extra_field() -> Any:
    return attrs.field(default=_EMPTY, kw_only=True, eq=False, repr=False)


_NONE_MISSING: frozenset[str] = frozenset()


def _missing_field() -> Any:
    return attrs.field(default=_NONE_MISSING, kw_only=True, eq=False, repr=False)


def _helicone_field() -> Any:
    return attrs.field(default=None, kw_only=True, eq=False, repr=False)


@attrs.frozen(weakref_slot=False)
class PromptTokensDetails:
    """Breakdown of prompt tokens."""

    cached_tokens: int | None = None
    audio_tokens: int | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class CompletionTokensDetails:
    """Breakdown of completion tokens."""

    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class Usage:
    """Token usage of a completion (also the final chunk of a stream)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class Function:
    """The function a tool call invokes; ``arguments`` is a JSON string from the model."""

    name: str
    arguments: str
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class FunctionCall:
    """The deprecated ``function_call`` of a message."""

    name: str
    arguments: str
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChatCompletionMessageToolCall:
    """One tool call requested by the model."""

    id: str
    function: Function
    type: str = "function"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ReasoningDetail:
    """One structured reasoning block of a message (``reasoning_details[]``).

    Two shapes reach a client through the gateway, both kept as they came:

    - Helicone's mapping of Anthropic thinking: ``thinking`` plus ``signature`` (no
      ``type``), sent whole in the stream's finishing chunk;
    - the OpenRouter-style typed blocks: ``type`` ``reasoning.text`` (``text``,
      ``signature``), ``reasoning.summary`` (``summary``) or ``reasoning.encrypted``
      (``data``), with an ``index`` that groups the fragments of one block in a stream.

    Pass the blocks back unchanged in the next turn: providers check the signatures.
    """

    type: str | None = None
    index: int | None = None
    id: str | None = None
    format: str | None = None
    text: str | None = None
    summary: str | None = None
    data: str | None = None
    thinking: str | None = None
    signature: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ImageURL:
    """Where an image is: usually a ``data:image/png;base64,...`` URL."""

    url: str
    detail: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class MessageImage:
    """An image the model produced (``message.images[]``, ``delta.images[]``)."""

    type: str = "image_url"
    image_url: ImageURL | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChatCompletionMessage:
    """The assistant's message in a chat completion choice.

    Attributes:
        reasoning: the model's reasoning text, for reasoning models (``reasoning_effort``).
        reasoning_details: the structured reasoning blocks (signatures included).
        images: images the model produced (image-output models).
    """

    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChatCompletionMessageToolCall] | None = None
    function_call: FunctionCall | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    images: list[MessageImage] | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class Choice:
    """One choice of a chat completion."""

    index: int
    message: ChatCompletionMessage
    finish_reason: str | None = None
    logprobs: Any = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChatCompletion:
    """A chat completion (``object: "chat.completion"``).

    Attributes:
        helicone: Helicone metadata of the answer (request id, cache, rate limit, provider).
    """

    id: str
    choices: list[Choice]
    model: str = ""
    created: int = 0
    object: str = "chat.completion"
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()
    helicone: HeliconeMetadata | None = _helicone_field()


@attrs.frozen(weakref_slot=False)
class ChoiceDeltaFunctionCall:
    """A fragment of a deprecated ``function_call`` in a stream."""

    name: str | None = None
    arguments: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChoiceDeltaToolCallFunction:
    """A fragment of a tool call's function: name once, arguments in pieces."""

    name: str | None = None
    arguments: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChoiceDeltaToolCall:
    """A fragment of one tool call, identified by ``index`` across chunks."""

    index: int
    id: str | None = None
    type: str | None = None
    function: ChoiceDeltaToolCallFunction | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChoiceDelta:
    """What one chunk adds to a choice.

    Attributes:
        reasoning: a fragment of the reasoning text.
        reasoning_details: reasoning blocks, or fragments of them grouped by ``index``.
        images: whole images (they are not split across chunks).
    """

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None
    function_call: ChoiceDeltaFunctionCall | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    images: list[MessageImage] | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChunkChoice:
    """One choice inside a streamed chunk."""

    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None
    logprobs: Any = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ChatCompletionChunk:
    """One event of a chat completion stream (``object: "chat.completion.chunk"``).

    The last chunk of a gateway stream has empty ``choices`` and carries ``usage``.
    """

    id: str = ""
    choices: list[ChunkChoice] = attrs.Factory(list)
    model: str = ""
    created: int = 0
    object: str = "chat.completion.chunk"
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class CompletionChoice:
    """One choice of a text completion (also used for streamed text chunks)."""

    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    logprobs: Any = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class Completion:
    """A text completion (``object: "text_completion"``); streams yield these too.

    Attributes:
        helicone: Helicone metadata of the answer (absent on streamed chunks).
    """

    id: str = ""
    choices: list[CompletionChoice] = attrs.Factory(list)
    model: str = ""
    created: int = 0
    object: str = "text_completion"
    usage: Usage | None = None
    system_fingerprint: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()
    helicone: HeliconeMetadata | None = _helicone_field()


@attrs.frozen(weakref_slot=False)
class Embedding:
    """One embedding vector. Base64 answers are decoded to floats."""

    index: int
    embedding: list[float]
    object: str = "embedding"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class EmbeddingUsage:
    """Token usage of an embeddings call."""

    prompt_tokens: int = 0
    total_tokens: int = 0
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class CreateEmbeddingResponse:
    """The answer of ``embeddings.create``.

    Attributes:
        helicone: Helicone metadata of the answer.
    """

    data: list[Embedding]
    model: str = ""
    object: str = "list"
    usage: EmbeddingUsage | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()
    helicone: HeliconeMetadata | None = _helicone_field()


@attrs.frozen(weakref_slot=False)
class Model:
    """One entry of ``GET /models``."""

    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ModelList:
    """The answer of ``GET /models``."""

    data: list[Model]
    object: str = "list"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()
    helicone: HeliconeMetadata | None = _helicone_field()
