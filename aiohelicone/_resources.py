"""Layer 5 (client): the gateway resources ``completions``, ``embeddings`` and ``models``
(``chat.completions`` is in ``_chat.py``), and the base they share.

Each ``create`` checks its arguments and builds the JSON body (with ``_arguments.py``'s
``*_body`` functions, which also check batch bodies; nothing is sent when an argument is
wrong), bundles its per-call options in one
:class:`RequestOptions`, and hands both to the send path (``_send.py``): one request or a
stream (``Sender.request(call, cast_to, stream_cls=...)``), or a client-side fallback chain
(``_routing.py``). A resource holds the sender and the router, never the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

from ._arguments import completion_body, embedding_body
from ._models import Completion, CreateEmbeddingResponse, ModelList
from ._modelstring import ModelChain, ModelTarget
from ._send import RequestOptions
from ._streaming import CompletionStream

if TYPE_CHECKING:
    from ._fallback_policy import ChainPlan, FallbackMode, FallbackPolicy
    from ._helicone import HeliconeOptions
    from ._registry_models import ModelRegistry
    from ._rest_connection import RestConnection
    from ._routing import Router
    from ._send import Sender, StreamClass
    from ._timeouts import StreamTimeouts, TimeoutArg

__all__ = ["REGISTRY_PATH", "Completions", "Embeddings", "ModelArg", "Models"]

#: The model registry, on the REST API (valhalla/jawn ``ModelRegistryController``).
REGISTRY_PATH = "v1/public/model-registry/models"

#: What ``model=`` accepts: a model string (maybe a comma-separated chain), a parsed
#: :class:`ModelChain`, or an explicit list of targets (specs or :class:`ModelTarget`).
ModelArg: TypeAlias = str | ModelChain | Sequence[str | ModelTarget]


class _Resource:
    __slots__ = ("_router", "_sender")

    def __init__(self, sender: Sender, router: Router) -> None:
        self._sender = sender
        self._router = router

    def _route(self, chain: ModelChain, options: RequestOptions) -> tuple[ChainPlan | None, str]:
        """The client-side chain to run (None: one request) and the body's ``model``."""
        plan = self._router.plan(chain, options.fallback, options.fallback_deadline)
        return plan, str(chain) if plan is None else plan.first_wire

    async def _post(
        self,
        path: str,
        body: dict[str, Any],
        plan: ChainPlan | None,
        answer: type[Any],
        stream_cls: StreamClass[Any] | None,
        options: RequestOptions,
    ) -> Any:
        """Send a built body: one request, a stream (``stream_cls``), or ``plan``'s chain."""
        call = self._sender.prepare("POST", path, body, options, stream=stream_cls is not None)
        if plan is not None:
            return await self._router.run(plan, body, call, answer, stream_cls, options)
        return await self._sender.request(call, answer, stream_cls=stream_cls)


class Completions(_Resource):
    """``client.completions``: the legacy text Completions API (``prompt`` in, text out)."""

    __slots__ = ()

    @overload
    async def create(
        self,
        *,
        model: ModelArg,
        prompt: str | Sequence[str],
        stream: Literal[False] = False,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        seed: int | None = None,
        logprobs: int | None = None,
        echo: bool | None = None,
        suffix: str | None = None,
        best_of: int | None = None,
        stream_options: Mapping[str, Any] | None = None,
        user: str | None = None,
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
    ) -> Completion: ...

    @overload
    async def create(
        self,
        *,
        model: ModelArg,
        prompt: str | Sequence[str],
        stream: Literal[True],
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        seed: int | None = None,
        logprobs: int | None = None,
        echo: bool | None = None,
        suffix: str | None = None,
        best_of: int | None = None,
        stream_options: Mapping[str, Any] | None = None,
        user: str | None = None,
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
    ) -> CompletionStream: ...

    async def create(
        self,
        *,
        model: ModelArg,
        prompt: str | Sequence[str],
        stream: bool = False,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        seed: int | None = None,
        logprobs: int | None = None,
        echo: bool | None = None,
        suffix: str | None = None,
        best_of: int | None = None,
        stream_options: Mapping[str, Any] | None = None,
        user: str | None = None,
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
    ) -> Completion | CompletionStream:
        """Create a text completion (``POST /completions``).

        The cloud AI gateway does not serve this endpoint (the legacy proxies do, with
        ``provider_api_key``); a refusal comes back as a typed :class:`APIStatusError`.

        Args:
            model: a model string (see ``ChatCompletions.create``).
            prompt: the text (or texts) to continue.
            stream: return an ``AsyncStream`` of :class:`Completion` chunks.
            temperature, top_p, max_tokens, frequency_penalty, presence_penalty, stop, n,
            seed, logprobs, echo, suffix, best_of, stream_options, user: OpenAI parameters,
                sent only when given.
            metadata, helicone, extra_headers, extra_query, extra_body, timeout, max_retries,
            stream_timeouts, fallback, fallback_deadline: as for chat completions.

        Returns:
            A :class:`Completion` (with ``.helicone``), or an ``AsyncStream``.

        Raises:
            InvalidInputError, APIStatusError, APIConnectionError,
            APIResponseValidationError: as for chat completions.
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
        chain, body = completion_body(
            5,
            model=model,
            prompt=prompt,
            stream=stream,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            stop=stop,
            n=n,
            seed=seed,
            logprobs=logprobs,
            echo=echo,
            suffix=suffix,
            best_of=best_of,
            stream_options=stream_options,
            user=user,
        )
        plan, body["model"] = self._route(chain, options)
        stream = "stream" in body
        result: Completion | CompletionStream = await self._post(
            "completions", body, plan, Completion, CompletionStream if stream else None, options
        )
        return result


class Embeddings(_Resource):
    """``client.embeddings``: the Embeddings API."""

    __slots__ = ()

    async def create(
        self,
        *,
        model: ModelArg,
        input: str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]],
        dimensions: int | None = None,
        encoding_format: Literal["float", "base64"] | None = None,
        user: str | None = None,
        helicone: HeliconeOptions | None = None,
        metadata: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        fallback: FallbackMode | FallbackPolicy | None = None,
        fallback_deadline: float | None = None,
    ) -> CreateEmbeddingResponse:
        """Create embeddings (``POST /embeddings``).

        The cloud AI gateway does not serve this endpoint (the legacy ``oai.helicone.ai``
        proxy does, with ``provider_api_key``); a refusal is a typed :class:`APIStatusError`.

        Args:
            model: the embedding model (or a chain of them, see
                ``ChatCompletions.create``).
            input: a text, a list of texts, or token arrays.
            dimensions: the vector size, for models that support it.
            encoding_format: ``float`` or ``base64`` (base64 answers are decoded to floats).
            user, helicone, metadata, extra_headers, extra_query, extra_body, timeout,
            max_retries, fallback, fallback_deadline: as for chat completions.

        Returns:
            A :class:`CreateEmbeddingResponse` (with ``.helicone``).

        Raises:
            InvalidInputError, APIStatusError, APIConnectionError,
            APIResponseValidationError: as for chat completions.
        """
        options = RequestOptions(
            helicone=helicone,
            metadata=metadata,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
            max_retries=max_retries,
            fallback=fallback,
            fallback_deadline=fallback_deadline,
        )
        chain, body = embedding_body(
            5,
            model=model,
            input=input,
            dimensions=dimensions,
            encoding_format=encoding_format,
            user=user,
        )
        plan, body["model"] = self._route(chain, options)
        result: CreateEmbeddingResponse = await self._post(
            "embeddings", body, plan, CreateEmbeddingResponse, None, options
        )
        return result


class Models(_Resource):
    """``client.models``: the gateway's model list, and Helicone's model registry.

    Args:
        sender, router: the client's send path and fallback router.
        rest: returns the client's REST connection (built on first use); the registry is
            served by the REST API, not the gateway.
    """

    __slots__ = ("_rest",)

    def __init__(
        self, sender: Sender, router: Router, rest: Callable[[], RestConnection] | None = None
    ) -> None:
        super().__init__(sender, router)
        self._rest = rest

    async def registry(
        self,
        *,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
    ) -> ModelRegistry:
        """Helicone's model registry (``GET /v1/public/model-registry/models`` on the REST API).

        Every model the gateway can route, with its providers (endpoints), prices in USD per
        million tokens, context length, modalities and supported parameters. The endpoint is
        public (no key needed); the client sends its key anyway.

        Args:
            timeout, max_retries: per call.

        Returns:
            A :class:`ModelRegistry` (``.get(model)``, ``.estimate_cost(...)``).

        Raises:
            APIStatusError, APIConnectionError: the REST API failed.
            APIResponseValidationError: the answer is not a registry.
        """
        from ._converter import ShapeError, structure
        from ._exceptions import APIResponseValidationError
        from ._registry_models import ModelRegistry

        if self._rest is None:
            raise RuntimeError("this Models resource has no REST connection")
        data = await self._rest().call(
            "GET", REGISTRY_PATH, timeout=timeout, max_retries=max_retries
        )
        try:
            return structure(data, ModelRegistry)
        except ShapeError as exc:
            raise APIResponseValidationError(
                f"The model registry's answer does not fit: {exc}", status_code=200, body=data
            ) from None

    async def list(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg = "default",
    ) -> ModelList:
        """List the models the gateway routes automatically (``GET /models``).

        Returns:
            A :class:`ModelList`.

        Raises:
            APIStatusError, APIConnectionError, APIResponseValidationError.
        """
        options = RequestOptions(extra_headers=extra_headers, timeout=timeout)
        call = self._sender.prepare("GET", "models", None, options)
        return await self._sender.request(call, ModelList)
