"""Layer 0 (core): models of the Responses API (``POST /v1/responses``): frozen attrs records.

They mirror openai-python's ``openai.types.responses`` shapes (``Response``,
``ResponseOutputMessage``, ``ResponseReasoningItem``, ``ResponseFunctionToolCall``...) and
follow the rules of ``_models.py``: no ``__weakref__`` slot, unknown keys kept in ``extra``,
absent ``None`` fields noted in ``missing`` (so ``unstructure(structure(json)) == json``),
enumerations (``status``, ``role``...) as plain ``str``.

Output items and content parts are tagged unions told apart by their ``type`` key (the
converter dispatches on it): an item or part of a ``type`` this version does not know
becomes :class:`UnknownOutputItem` / :class:`UnknownContentPart`, with every key kept; it is
never refused. Fields that are free-form JSON (tool definitions, ``text`` and ``reasoning``
configs, annotations) are kept as the decoded JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from ._metadata import HeliconeMetadata
from ._models import _extra_field, _helicone_field, _missing_field

__all__ = [
    "IncompleteDetails",
    "InputTokensDetails",
    "OutputTokensDetails",
    "ReasoningContent",
    "ReasoningSummaryPart",
    "Response",
    "ResponseContentPart",
    "ResponseError",
    "ResponseFunctionToolCall",
    "ResponseOutputItem",
    "ResponseOutputMessage",
    "ResponseOutputRefusal",
    "ResponseOutputText",
    "ResponseReasoningItem",
    "ResponseUsage",
    "UnknownContentPart",
    "UnknownOutputItem",
]


def _raw(obj: Any) -> dict[str, Any]:
    from ._converter import unstructure

    raw: dict[str, Any] = unstructure(obj)
    return raw


# -- content parts of a message ------------------------------------------------------------


@attrs.frozen(weakref_slot=False)
class ResponseOutputText:
    """A text part of a message (``type: "output_text"``).

    Attributes:
        text: the text.
        annotations: citations and file paths, as the JSON objects the API sent.
        logprobs: token log probabilities when asked for (``include``), else None.
    """

    text: str = ""
    annotations: list[dict[str, Any]] = attrs.Factory(list)
    logprobs: Any = None
    type: str = "output_text"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseOutputRefusal:
    """A refusal part of a message (``type: "refusal"``)."""

    refusal: str = ""
    type: str = "refusal"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class UnknownContentPart:
    """A content part of a ``type`` this version does not know; all its keys are kept.

    Attributes:
        type: the part's ``type`` as sent.
        extra: every other key.
    """

    type: str = ""
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    @property
    def raw(self) -> dict[str, Any]:
        """The part's JSON, exactly as it arrived."""
        return _raw(self)


ResponseContentPart: TypeAlias = ResponseOutputText | ResponseOutputRefusal | UnknownContentPart


# -- output items --------------------------------------------------------------------------


@attrs.frozen(weakref_slot=False)
class ResponseOutputMessage:
    """An assistant message (``type: "message"``) made of text and refusal parts."""

    id: str = ""
    content: list[ResponseContentPart] = attrs.Factory(list)
    role: str = "assistant"
    status: str | None = None
    type: str = "message"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ReasoningSummaryPart:
    """One part of a reasoning summary (``type: "summary_text"``)."""

    text: str = ""
    type: str = "summary_text"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ReasoningContent:
    """Reasoning text a model exposes (``type: "reasoning_text"``)."""

    text: str = ""
    type: str = "reasoning_text"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseReasoningItem:
    """A reasoning model's thinking (``type: "reasoning"``).

    Attributes:
        summary: the summary parts (empty unless ``reasoning={"summary": ...}`` asked).
        content: reasoning text, for models that expose it.
        encrypted_content: the opaque reasoning state to pass back in ``input`` (with
            ``include=["reasoning.encrypted_content"]``).
    """

    id: str = ""
    summary: list[ReasoningSummaryPart] = attrs.Factory(list)
    content: list[ReasoningContent] | None = None
    encrypted_content: str | None = None
    status: str | None = None
    type: str = "reasoning"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseFunctionToolCall:
    """A function call the model asks for (``type: "function_call"``).

    Attributes:
        call_id: the id to answer with a ``function_call_output`` input item.
        name: the function's name.
        arguments: its arguments, a JSON string written by the model (may be invalid).
        id: the item's own id.
    """

    call_id: str = ""
    name: str = ""
    arguments: str = ""
    id: str | None = None
    status: str | None = None
    type: str = "function_call"
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class UnknownOutputItem:
    """An output item of a ``type`` this version does not know (web search calls, MCP...).

    Attributes:
        type: the item's ``type`` as sent.
        id: its ``id``, when it has one.
        extra: every other key.
    """

    type: str = ""
    id: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    @property
    def raw(self) -> dict[str, Any]:
        """The item's JSON, exactly as it arrived."""
        return _raw(self)


ResponseOutputItem: TypeAlias = (
    ResponseOutputMessage | ResponseReasoningItem | ResponseFunctionToolCall | UnknownOutputItem
)


# -- usage, errors ---------------------------------------------------------------------------


@attrs.frozen(weakref_slot=False)
class InputTokensDetails:
    """Breakdown of input tokens."""

    cached_tokens: int | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class OutputTokensDetails:
    """Breakdown of output tokens."""

    reasoning_tokens: int | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseUsage:
    """Token usage of a response (reasoning tokens are part of ``output_tokens``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class ResponseError:
    """Why a response failed (``status: "failed"``)."""

    code: str | None = None
    message: str = ""
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class IncompleteDetails:
    """Why a response is incomplete: ``max_output_tokens`` or ``content_filter``."""

    reason: str | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


# -- the response ------------------------------------------------------------------------------


@attrs.frozen(weakref_slot=False)
class Response:
    """A model response (``object: "response"``), whole or as a stream accumulated it.

    The request's settings the API echoes (``instructions``, ``tools``, ``temperature``...)
    are fields too; free-form ones (``tools``, ``tool_choice``, ``text``, ``reasoning``,
    ``instructions``) are kept as the JSON that arrived.

    Attributes:
        status: ``completed``, ``incomplete``, ``failed``, ``in_progress`` (or another
            value the API adds).
        output: the items generated, in order.
        error: set when ``status`` is ``failed``.
        incomplete_details: set when ``status`` is ``incomplete``.
        helicone: Helicone metadata of the answer (request id, cache, rate limit, provider).
    """

    id: str
    created_at: float = 0
    model: str = ""
    object: str = "response"
    status: str | None = None
    output: list[ResponseOutputItem] = attrs.Factory(list)
    usage: ResponseUsage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: Any = None
    metadata: dict[str, Any] | None = None
    previous_response_id: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    parallel_tool_calls: bool | None = None
    tool_choice: Any = None
    tools: list[dict[str, Any]] | None = None
    text: Any = None
    reasoning: Any = None
    truncation: str | None = None
    user: str | None = None
    store: bool | None = None
    service_tier: str | None = None
    background: bool | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()
    helicone: HeliconeMetadata | None = _helicone_field()

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of every message, joined ("" if none).

        As openai-python's ``Response.output_text``: refusals and reasoning are left out.
        """
        return "".join(
            part.text
            for item in self.output
            if type(item) is ResponseOutputMessage
            for part in item.content
            if type(part) is ResponseOutputText
        )
