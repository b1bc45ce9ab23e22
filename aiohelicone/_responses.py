"""Layer 5 (client): ``client.responses``, the Responses API (``POST /v1/responses``).

As the resources of ``_resources.py``: ``create`` checks every argument and builds the body
(``_responses_args.responses_body``; nothing is sent when one is wrong), bundles the
per-call options in one :class:`RequestOptions` and hands both to the send path: one
request, a :class:`ResponseStream`, or a client-side fallback chain (``_routing.py``).
``parse`` and ``stream_parse`` are ``create`` with attrs classes in place of the
``text.format`` and function tools, and the answer read back into them
(``_responses_parse.py``); all three share ``_prepare``, so nothing is sent when an argument
is wrong, and ``stream_parse`` checks before its ``async with`` sends.

The path is ``responses`` relative to the base URL, which keeps ``/v1``: the gateway reads
a POST as a Responses request only when its path contains ``v1/responses``.

A whole answer with ``status: "failed"`` is a :class:`Response` (its ``error`` says why),
as in openai-python, not an exception; HTTP errors and ``error`` stream events raise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import attrs

from ._arguments import model_chain
from ._exceptions import InvalidInputError
from ._helicone import split_metadata
from ._resources import ModelArg, _Resource
from ._responses_args import responses_body
from ._responses_models import Response
from ._responses_parse import (
    ParsedResponse,
    ParsedResponseStream,
    ResponseParams,
    parse_response,
    structured_responses_request,
)
from ._responses_stream import ResponseStream
from ._send import RequestOptions
from ._send_call import OPTION_NAMES

if TYPE_CHECKING:
    from typing import Unpack

    from ._fallback_policy import ChainPlan, FallbackMode, FallbackPolicy
    from ._helicone import HeliconeOptions
    from ._timeouts import StreamTimeouts, TimeoutArg

__all__ = ["Responses"]

T = TypeVar("T")


@attrs.frozen
class _Prepared:
    """A checked Responses request, ready to send (or to send later: ``stream_parse``)."""

    body: dict[str, Any]
    plan: ChainPlan | None
    options: RequestOptions


class Responses(_Resource):
    """``client.responses``: the Responses API."""

    __slots__ = ()

    def _prepare(self, arguments: Mapping[str, Any]) -> _Prepared:
        """Check the arguments of :meth:`create` and build the body; nothing is sent."""
        options = RequestOptions(**{k: v for k, v in arguments.items() if k in OPTION_NAMES})
        # stacklevel 5: parse_model <- model_chain <- _prepare <- create/parse/stream_parse
        # <- the caller's code.
        chain = model_chain(arguments.get("model"), 5)
        # Helicone header names become headers (in Sender.prepare, as for chat); what is
        # left is the body's metadata, which OpenAI limits (checked by responses_body).
        metadata = arguments.get("metadata")
        fields = {k: v for k, v in arguments.items() if k not in OPTION_NAMES}
        fields["metadata"] = None if metadata is None else split_metadata(metadata)[1]
        fields["model"] = chain
        body = responses_body(**fields)
        plan, body["model"] = self._route(chain, options)
        return _Prepared(body, plan, options)

    async def _send(self, prepared: _Prepared) -> Any:
        stream_cls = ResponseStream if "stream" in prepared.body else None
        return await self._post(
            "responses", prepared.body, prepared.plan, Response, stream_cls, prepared.options
        )

    @overload
    async def create(
        self,
        *,
        model: ModelArg,
        input: str | Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        text: Mapping[str, Any] | None = None,
        reasoning: Mapping[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        truncation: Literal["auto", "disabled"] | None = None,
        user: str | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> Response: ...

    @overload
    async def create(
        self,
        *,
        model: ModelArg,
        input: str | Sequence[Mapping[str, Any]],
        stream: Literal[True],
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        text: Mapping[str, Any] | None = None,
        reasoning: Mapping[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        truncation: Literal["auto", "disabled"] | None = None,
        user: str | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> ResponseStream: ...

    @overload
    async def create(
        self,
        *,
        model: ModelArg,
        input: str | Sequence[Mapping[str, Any]],
        stream: bool,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        text: Mapping[str, Any] | None = None,
        reasoning: Mapping[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        truncation: Literal["auto", "disabled"] | None = None,
        user: str | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> Response | ResponseStream: ...

    async def create(
        self,
        *,
        model: ModelArg,
        input: str | Sequence[Mapping[str, Any]],
        stream: bool = False,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        text: Mapping[str, Any] | None = None,
        reasoning: Mapping[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        truncation: Literal["auto", "disabled"] | None = None,
        user: str | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> Response | ResponseStream:
        """Create a model response (``POST /v1/responses``).

        Args:
            model: a model string, a comma-separated chain (``gpt-5/openai,claude-sonnet-4/
                anthropic``), a :class:`ModelChain` or a list of targets, as for chat.
            input: a text, or a list of input items (mappings: messages, function call
                outputs...).
            stream: return a :class:`ResponseStream` of typed events instead of a
                :class:`Response`.
            instructions, tools, tool_choice, text, reasoning, max_output_tokens,
            temperature, top_p, previous_response_id, store, parallel_tool_calls,
            truncation, user: OpenAI parameters, sent only when given. ``tools`` are
                Responses tools (a function tool has ``name`` at the top level).
            metadata: up to 16 str -> str pairs, sent in the body (OpenAI's limits apply);
                Helicone header names (``Helicone-Property-X``) become headers, as for chat.
            helicone, extra_headers, extra_query, extra_body, timeout, max_retries,
            stream_timeouts, fallback, fallback_deadline: as for chat completions.

        Returns:
            A :class:`Response` (with ``.helicone``), or a :class:`ResponseStream`.

        Raises:
            InvalidInputError: an argument is wrong (nothing was sent).
            APIStatusError: the gateway answered with an error (a subclass per status).
            APIConnectionError: the gateway could not be reached (``APITimeoutError`` on
                timeouts).
            APIResponseValidationError: the answer was not a response.
            FallbackExhaustedError: every target of a client-side chain failed.
        """
        # Every parameter, by name (the first statement, so locals() holds nothing else).
        arguments = dict(locals())
        del arguments["self"]
        prepared = self._prepare(arguments)
        result: Response | ResponseStream = await self._send(prepared)
        return result

    @overload
    async def parse(
        self,
        *,
        text_format: type[T],
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ResponseParams],
    ) -> ParsedResponse[T]: ...

    @overload
    async def parse(
        self,
        *,
        text_format: None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ResponseParams],
    ) -> ParsedResponse[None]: ...

    async def parse(
        self,
        *,
        text_format: type[Any] | None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ResponseParams],
    ) -> ParsedResponse[Any]:
        """Ask for JSON following an attrs class and read the response back into it.

        Args:
            text_format: the attrs class of the answer: its strict JSON schema is sent as
                ``text.format`` (``text_format_for``; other ``text`` settings are kept) and
                the message's text parts get ``parsed``; ``output_parsed`` is the first
                (None on a refusal). None: parse function calls only.
            tools: attrs classes of function arguments (strict flat tools named after the
                class: ``responses_function_tool_for``; their calls get
                ``parsed_arguments``) or Responses tool mappings as ``create`` takes them
                (their calls are left unparsed).
            **params: every other argument of :meth:`create` except ``stream`` (use
                :meth:`stream_parse`).

        Returns:
            A :class:`ParsedResponse` (``.raw`` is the :class:`Response` as received).

        Raises:
            InvalidInputError: an argument is wrong, or a class has no strict schema
                (``SchemaError``); nothing was sent.
            LengthFinishReasonError: the response is incomplete (``max_output_tokens``).
            ContentFilterFinishReasonError: the content filter stopped it.
            StructuredOutputError: the JSON does not fit the class (``.raw`` holds it).
            APIStatusError, APIConnectionError, FallbackExhaustedError: as :meth:`create`.
        """
        if "stream" in params:
            raise InvalidInputError("stream", "is not an argument of parse (use stream_parse)")
        text, definitions, classes = structured_responses_request(
            text_format, params.get("text"), tools
        )
        prepared = self._prepare({**params, "text": text, "tools": definitions})
        response: Response = await self._send(prepared)
        return parse_response(response, text_format, tools=classes)

    @overload
    def stream_parse(
        self,
        *,
        text_format: type[T],
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ResponseParams],
    ) -> ParsedResponseStream[T]: ...

    @overload
    def stream_parse(
        self,
        *,
        text_format: None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ResponseParams],
    ) -> ParsedResponseStream[None]: ...

    def stream_parse(
        self,
        *,
        text_format: type[Any] | None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ResponseParams],
    ) -> ParsedResponseStream[Any]:
        """:meth:`parse`, streamed: text as it arrives, the parsed response at the end::

            async with client.responses.stream_parse(
                model=..., input=..., text_format=Invoice
            ) as stream:
                async for text in stream.text_deltas():
                    print(text, end="")
                invoice = await stream.get_final_parsed()  # Invoice | None

        The arguments are checked here (nothing is sent when one is wrong); the request
        goes out when the ``async with`` block is entered and the stream is closed when
        it is left.

        Args:
            text_format, tools, **params: as for :meth:`parse`.

        Returns:
            A :class:`ParsedResponseStream`, to use with ``async with``.

        Raises:
            InvalidInputError: an argument is wrong (nothing was sent).
        """
        if "stream" in params:
            raise InvalidInputError("stream", "is not an argument of stream_parse (it streams)")
        text, definitions, classes = structured_responses_request(
            text_format, params.get("text"), tools
        )
        prepared = self._prepare({**params, "text": text, "tools": definitions, "stream": True})
        return ParsedResponseStream(lambda: self._send(prepared), text_format, classes)
