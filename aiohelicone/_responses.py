"""Layer 5 (client): ``client.responses``, the Responses API (``POST /v1/responses``).

As the resources of ``_resources.py``: ``create`` checks every argument and builds the body
(``_responses_args.responses_body``; nothing is sent when one is wrong), bundles the
per-call options in one :class:`RequestOptions` and hands both to the send path: one
request, a :class:`ResponseStream`, or a client-side fallback chain (``_routing.py``).

The path is ``responses`` relative to the base URL, which keeps ``/v1``: the gateway reads
a POST as a Responses request only when its path contains ``v1/responses``.

A whole answer with ``status: "failed"`` is a :class:`Response` (its ``error`` says why),
as in openai-python, not an exception; HTTP errors and ``error`` stream events raise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from ._arguments import model_chain
from ._helicone import split_metadata
from ._resources import ModelArg, _Resource
from ._responses_args import responses_body
from ._responses_models import Response
from ._responses_stream import ResponseStream
from ._send import RequestOptions

if TYPE_CHECKING:
    from ._fallback import FallbackMode, FallbackPolicy
    from ._helicone import HeliconeOptions
    from ._timeouts import StreamTimeouts, TimeoutArg

__all__ = ["Responses"]


class Responses(_Resource):
    """``client.responses``: the Responses API."""

    __slots__ = ()

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
        options = RequestOptions(
            helicone=helicone,
            metadata=metadata,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
            max_retries=max_retries,
            stream_timeouts=stream_timeouts,
            fallback=fallback,
            fallback_deadline=fallback_deadline,
        )
        # stacklevel 4: parse_model <- model_chain <- create <- the caller's code.
        chain = model_chain(model, 4)
        # Helicone header names become headers (in Sender.prepare, as for chat); what is
        # left is the body's metadata, which OpenAI limits (checked by responses_body).
        body_metadata = None if metadata is None else split_metadata(metadata)[1]
        body = responses_body(
            model=chain,
            input=input,
            instructions=instructions,
            tools=tools,
            tool_choice=tool_choice,
            text=text,
            reasoning=reasoning,
            max_output_tokens=max_output_tokens,
            temperature=temperature,
            top_p=top_p,
            previous_response_id=previous_response_id,
            store=store,
            metadata=body_metadata,
            parallel_tool_calls=parallel_tool_calls,
            truncation=truncation,
            user=user,
            stream=stream,
        )
        plan, body["model"] = self._route(chain, options)
        streaming = "stream" in body
        result: Response | ResponseStream = await self._post(
            "responses", body, plan, Response, ResponseStream if streaming else None, options
        )
        return result
