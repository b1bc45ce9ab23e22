"""Layer 5 (client): ``client.chat.completions``: ``create``, ``parse`` and ``stream_parse``.

``create`` checks its arguments and builds the body (``_arguments.chat_completion_body``, the
same checks a batch body gets), prepares the call (``Sender.prepare``: nothing is sent when an
argument is wrong) and hands it to the send path: one request, a stream, or a client-side
fallback chain (``_routing.py``).

``parse`` and ``stream_parse`` are ``create`` with attrs classes in place of the
``response_format`` and tool definitions (``_schema.py`` writes their strict schemas) and the
answer read back into them (``_parse.parse_chat_completion``).

On the legacy proxies (``provider_api_key``) a stream asks for its usage
(``stream_options.include_usage``) unless the caller set ``stream_options``: Helicone logs a
streamed request's cost only when the stream carries usage (Helicone FAQ), and the proxies,
unlike the AI gateway, do not add it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Required, TypedDict, TypeVar, overload

import attrs

from ._arguments import ReasoningOptions, chat_completion_body
from ._chat_parse import ParsedChatCompletionStream, structured_request
from ._exceptions import InvalidInputError
from ._models import ChatCompletion
from ._parse import ParsedChatCompletion, parse_chat_completion
from ._resources import ModelArg, _Resource
from ._send import Call, RequestOptions
from ._send_call import OPTION_NAMES
from ._streaming import ChatCompletionStream

if TYPE_CHECKING:
    from typing import Unpack

    from ._fallback_policy import ChainPlan, FallbackMode, FallbackPolicy
    from ._helicone import HeliconeOptions
    from ._routing import Router
    from ._send import Sender
    from ._timeouts import StreamTimeouts, TimeoutArg

__all__ = ["Chat", "ChatCompletionParams", "ChatCompletions"]

T = TypeVar("T")


class ChatCompletionParams(TypedDict, total=False):
    """The arguments ``parse`` and ``stream_parse`` share with ``create`` (see there)."""

    messages: Required[Sequence[Mapping[str, Any]]]
    model: ModelArg | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    max_completion_tokens: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    stop: str | Sequence[str] | None
    n: int | None
    seed: int | None
    tool_choice: str | Mapping[str, Any] | None
    parallel_tool_calls: bool | None
    logprobs: bool | None
    top_logprobs: int | None
    stream_options: Mapping[str, Any] | None
    user: str | None
    reasoning_effort: Literal["low", "medium", "high"] | None
    reasoning_options: ReasoningOptions | None
    verbosity: Literal["low", "medium", "high"] | None
    prompt_id: str | None
    version_id: str | None
    environment: str | None
    inputs: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    helicone: HeliconeOptions | None
    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    timeout: TimeoutArg
    max_retries: int | None
    stream_timeouts: StreamTimeouts | None
    fallback: FallbackMode | FallbackPolicy | None
    fallback_deadline: float | None


@attrs.frozen
class _Prepared:
    """A checked chat request, ready to send (or to send later: ``stream_parse``)."""

    call: Call
    body: dict[str, Any]
    plan: ChainPlan | None
    options: RequestOptions


class ChatCompletions(_Resource):
    """``client.chat.completions``: the Chat Completions API."""

    __slots__ = ("_legacy_proxy",)

    def __init__(self, sender: Sender, router: Router, *, legacy_proxy: bool = False) -> None:
        super().__init__(sender, router)
        self._legacy_proxy = legacy_proxy

    def _prepare(self, arguments: Mapping[str, Any]) -> _Prepared:
        """Check the arguments, build the body and the call; nothing is sent."""
        options = RequestOptions(**{k: v for k, v in arguments.items() if k in OPTION_NAMES})
        fields = {k: v for k, v in arguments.items() if k not in OPTION_NAMES}
        # stacklevel 6: parse_model <- model_chain <- chat_completion_body <- _prepare <-
        # create/parse/stream_parse <- the caller.
        chain, body = chat_completion_body(6, **fields)
        plan = None
        if chain is not None:
            plan, body["model"] = self._route(chain, options)
        stream = "stream" in body
        if stream and self._legacy_proxy and "stream_options" not in body:
            extra = options.extra_body
            if not (isinstance(extra, Mapping) and "stream_options" in extra):
                body["stream_options"] = {"include_usage": True}
        call = self._sender.prepare("POST", "chat/completions", body, options, stream=stream)
        return _Prepared(call, body, plan, options)

    async def _send(self, prepared: _Prepared, stream: bool) -> Any:
        stream_cls = ChatCompletionStream if stream else None
        if prepared.plan is not None:
            return await self._router.run(
                prepared.plan,
                prepared.body,
                prepared.call,
                ChatCompletion,
                stream_cls,
                prepared.options,
            )
        return await self._sender.request(prepared.call, ChatCompletion, stream_cls=stream_cls)

    @overload
    async def create(
        self,
        *,
        messages: Sequence[Mapping[str, Any]],
        model: ModelArg | None = None,
        stream: Literal[False] = False,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        seed: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: Mapping[str, Any] | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream_options: Mapping[str, Any] | None = None,
        user: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        reasoning_options: ReasoningOptions | None = None,
        verbosity: Literal["low", "medium", "high"] | None = None,
        prompt_id: str | None = None,
        version_id: str | None = None,
        environment: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        messages: Sequence[Mapping[str, Any]],
        model: ModelArg | None = None,
        stream: Literal[True],
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        seed: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: Mapping[str, Any] | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream_options: Mapping[str, Any] | None = None,
        user: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        reasoning_options: ReasoningOptions | None = None,
        verbosity: Literal["low", "medium", "high"] | None = None,
        prompt_id: str | None = None,
        version_id: str | None = None,
        environment: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> ChatCompletionStream: ...

    async def create(
        self,
        *,
        messages: Sequence[Mapping[str, Any]],
        model: ModelArg | None = None,
        stream: bool = False,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        seed: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: Mapping[str, Any] | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream_options: Mapping[str, Any] | None = None,
        user: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        reasoning_options: ReasoningOptions | None = None,
        verbosity: Literal["low", "medium", "high"] | None = None,
        prompt_id: str | None = None,
        version_id: str | None = None,
        environment: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        helicone: HeliconeOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> ChatCompletion | ChatCompletionStream:
        """Create a chat completion (``POST /chat/completions``).

        Args:
            messages: the conversation: a list of mappings, each with a ``role``.
            model: a model string: ``gpt-4o-mini``, ``gpt-4o-mini/openai``, a comma-separated
                chain, ``!provider`` exclusions; LiteLLM's ``helicone/`` prefix is stripped.
                Also a :class:`ModelChain`, or an explicit list of targets (specs or
                :class:`ModelTarget`). Optional when ``prompt_id`` names a stored prompt.
            stream: return an :class:`AsyncStream` of chunks instead of a completion. On the
                legacy proxies (``provider_api_key``) ``stream_options`` defaults to
                ``{"include_usage": True}`` there, so Helicone can log the cost.
            temperature, top_p, max_tokens, max_completion_tokens, frequency_penalty,
            presence_penalty, stop, n, seed, tools, tool_choice, parallel_tool_calls,
            response_format, logprobs, top_logprobs, stream_options, user: OpenAI parameters,
                sent only when given.
            reasoning_effort: ``"low"``, ``"medium"`` or ``"high"``; the gateway translates
                it for each provider (Anthropic thinking budgets, Gemini thinking...).
            reasoning_options: ``{"budget_tokens": N}`` (N >= 1): the most tokens spent
                reasoning (kept by the gateway for Anthropic and Gemini models).
            verbosity: ``"low"``, ``"medium"`` or ``"high"``: how long the answer is.
            prompt_id, version_id, environment, inputs: a Helicone prompt (2025 prompts) to
                expand in the gateway; ``environment`` wins over ``version_id`` there, and
                ``inputs`` fills its ``{{hc:name:type}}`` variables.
            metadata: Helicone header names (LiteLLM style) become headers; other keys stay
                in the body's ``metadata``.
            helicone: per-call :class:`HeliconeOptions`, merged over the client's.
            extra_headers, extra_query, extra_body: added to the request. Headers are
                checked as ``HeliconeOptions.extra_headers`` are (no auth or framing
                headers); query values are str, int, float, bool or None (or lists).
            timeout: per-call timeout (seconds, ``httpx2.Timeout`` or None).
            max_retries: per-call retry count (each target of a chain gets it).
            stream_timeouts: per-call :class:`StreamTimeouts` for ``stream=True``.
            fallback: per-call override of the client's ``fallback`` (``"client"``,
                ``"gateway"`` or a :class:`FallbackPolicy`); matters only for a model
                chain. Client-side, the answer's ``.helicone.attempts`` lists every
                attempt, and a stream fails over only before its first content
                (afterwards: :class:`StreamInterruptedError`).
            fallback_deadline: seconds for the whole client-side chain.

        Returns:
            A :class:`ChatCompletion` (with ``.helicone`` metadata), or an ``AsyncStream``.

        Raises:
            InvalidInputError: an argument is wrong (nothing was sent).
            APIStatusError: the gateway answered with an error (a subclass per status).
            APIConnectionError: the gateway could not be reached (``APITimeoutError`` on
                timeouts).
            APIResponseValidationError: the answer was not a chat completion.
            FallbackExhaustedError: every target of a client-side chain failed (or its
                deadline ran out). A target whose error stops the chain raises that
                error, with ``.helicone.attempts`` set.
        """
        # Every parameter, by name (the first statement, so locals() holds nothing else):
        # _prepare splits them into body fields and per-call options.
        arguments = dict(locals())
        del arguments["self"]
        prepared = self._prepare(arguments)
        result: ChatCompletion | ChatCompletionStream = await self._send(
            prepared, "stream" in prepared.body
        )
        return result

    @overload
    async def parse(
        self,
        *,
        response_format: type[T],
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ChatCompletionParams],
    ) -> ParsedChatCompletion[T]: ...

    @overload
    async def parse(
        self,
        *,
        response_format: None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ChatCompletionParams],
    ) -> ParsedChatCompletion[None]: ...

    async def parse(
        self,
        *,
        response_format: type[Any] | None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ChatCompletionParams],
    ) -> ParsedChatCompletion[Any]:
        """Ask for JSON following an attrs class and read the answer back into it.

        Args:
            response_format: the attrs class of the answer: its strict JSON schema is sent
                (``response_format_for``) and ``choices[i].message.parsed`` is an instance
                (None on a refusal: see ``message.refusal``). None: parse tool calls only.
            tools: attrs classes of tool arguments (strict tools named after the class:
                ``function_tool_for``; their calls get ``parsed_arguments``) or tool
                mappings as ``create`` takes them (their calls are left unparsed).
            **params: every other argument of :meth:`create` except ``stream`` (use
                :meth:`stream_parse`).

        Returns:
            A :class:`ParsedChatCompletion` (``.raw`` is the completion as received).

        Raises:
            InvalidInputError: an argument is wrong, or a class has no strict schema
                (``SchemaError``); nothing was sent.
            LengthFinishReasonError: the answer was cut off at the token limit.
            ContentFilterFinishReasonError: the content filter stopped the answer.
            StructuredOutputError: the JSON does not fit the class (``.raw`` holds it).
            APIStatusError, APIConnectionError, FallbackExhaustedError: as :meth:`create`.
        """
        if "stream" in params:
            raise InvalidInputError("stream", "is not an argument of parse (use stream_parse)")
        fmt, definitions, classes = structured_request(response_format, tools)
        prepared = self._prepare(
            {**params, "response_format": fmt, "tools": definitions, "stream": False}
        )
        completion: ChatCompletion = await self._send(prepared, False)
        return parse_chat_completion(completion, response_format, tools=classes)

    @overload
    def stream_parse(
        self,
        *,
        response_format: type[T],
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ChatCompletionParams],
    ) -> ParsedChatCompletionStream[T]: ...

    @overload
    def stream_parse(
        self,
        *,
        response_format: None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ChatCompletionParams],
    ) -> ParsedChatCompletionStream[None]: ...

    def stream_parse(
        self,
        *,
        response_format: type[Any] | None = None,
        tools: Sequence[type | Mapping[str, Any]] | None = None,
        **params: Unpack[ChatCompletionParams],
    ) -> ParsedChatCompletionStream[Any]:
        """:meth:`parse`, streamed: text as it arrives, the parsed answer at the end::

            async with client.chat.completions.stream_parse(
                model=..., messages=..., response_format=Invoice
            ) as stream:
                async for text in stream.text_deltas():
                    print(text, end="")
                invoice = await stream.get_final_parsed()  # Invoice | None

        The arguments are checked here (nothing is sent when one is wrong); the request
        goes out when the ``async with`` block is entered and the stream is closed when
        it is left.

        Args:
            response_format, tools, **params: as for :meth:`parse`.

        Returns:
            A :class:`ParsedChatCompletionStream`, to use with ``async with``.

        Raises:
            InvalidInputError: an argument is wrong (nothing was sent).
        """
        if "stream" in params:
            raise InvalidInputError("stream", "is not an argument of stream_parse (it streams)")
        fmt, definitions, classes = structured_request(response_format, tools)
        prepared = self._prepare(
            {**params, "response_format": fmt, "tools": definitions, "stream": True}
        )
        return ParsedChatCompletionStream(
            lambda: self._send(prepared, True), response_format, classes
        )


class Chat(_Resource):
    """``client.chat``."""

    __slots__ = ("completions",)

    def __init__(self, sender: Sender, router: Router, *, legacy_proxy: bool = False) -> None:
        super().__init__(sender, router)
        self.completions = ChatCompletions(sender, router, legacy_proxy=legacy_proxy)
