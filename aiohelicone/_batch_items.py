"""Layer 6 (batch engine): the requests and results of a batch, checked when built (pure, no I/O).

A :class:`BatchRequest` checks its body when it is built, with the function its endpoint's
``create()`` builds its body with (:func:`check_body`), so a bad body is refused before the
batch starts rather than becoming a failure after others were sent. Pure as it is, this
module sits in the batch layer, next to the engine it feeds; :func:`check_body` checks
``fallback`` with ``_fallback_policy.resolve_policy`` (layer 0).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias, cast

import attrs

from ._arguments import chat_completion_body, completion_body, embedding_body, flag
from ._exceptions import InvalidInputError
from ._helicone import HeliconeOptions, split_metadata
from ._responses_args import responses_body
from ._send_call import OPTION_NAMES

__all__ = [
    "BatchRequest",
    "BatchResult",
    "Endpoint",
    "check_body",
    "estimate_tokens",
    "normalize_endpoint",
]

Endpoint: TypeAlias = Literal["chat.completions", "completions", "embeddings", "responses"]

_ENDPOINTS: frozenset[str] = frozenset(
    {"chat.completions", "completions", "embeddings", "responses"}
)
_ENDPOINT_HELP = "/v1/chat/completions, /v1/completions, /v1/embeddings or /v1/responses"
# The usual spellings, looked up before any parsing (this runs for every request).
_ENDPOINT_SPELLINGS: dict[str, Endpoint] = {
    spelling: cast("Endpoint", name)
    for name, path in (
        ("chat.completions", "chat/completions"),
        ("completions", "completions"),
        ("embeddings", "embeddings"),
        ("responses", "responses"),
    )
    for spelling in (name, path, f"/{path}", f"v1/{path}", f"/v1/{path}")
}

# Arguments of the resources' create() that a batch body may not carry: the per-call
# options other than metadata and the fallback settings (which a body may give), and stream.
_NOT_BODY = (OPTION_NAMES - {"metadata", "fallback", "fallback_deadline"}) | {"stream"}

# -- requests and results ------------------------------------------------------------------


def normalize_endpoint(value: object) -> Endpoint:
    """The endpoint name for a name or an OpenAI URL.

    Args:
        value: ``"chat.completions"``, ``"completions"``, ``"embeddings"``,
            ``"responses"``, or a URL path such as ``"/v1/chat/completions"`` (with or
            without ``/v1``).

    Returns:
        ``"chat.completions"``, ``"completions"``, ``"embeddings"`` or ``"responses"``.

    Raises:
        InvalidInputError: any other value.
    """
    known = _ENDPOINT_SPELLINGS.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    if not isinstance(value, str):
        raise InvalidInputError("endpoint", f"must be a str, got {type(value).__name__}")
    key = value.strip().strip("/")
    if key.startswith("v1/"):
        key = key[3:]
    key = key.replace("/", ".")
    if key not in _ENDPOINTS:
        raise InvalidInputError("endpoint", f"unsupported {value!r}; expected {_ENDPOINT_HELP}")
    return cast("Endpoint", key)


def _check_body(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInputError("body", f"must be a mapping, got {type(value).__name__}")


# ``responses_body`` as the other builders are called (its signature names the fields);
# like ``responses.create``, it checks only the metadata keys that stay in the body
# (Helicone keys become headers).
@functools.wraps(responses_body)
def _responses_body(_stacklevel: object, *, metadata: Any = None, **fields: Any) -> Any:
    body_metadata = None if metadata is None else split_metadata(metadata)[1]
    return responses_body(metadata=body_metadata, **fields)


_BODY_BUILDERS: dict[str, Callable[..., Any]] = {
    "chat.completions": chat_completion_body,
    "completions": completion_body,
    "embeddings": embedding_body,
    "responses": _responses_body,
}


def check_body(endpoint: Endpoint, body: Mapping[str, Any]) -> None:
    """Check a batch body with the checks its endpoint's ``create`` makes (nothing is sent).

    The body fields ``create`` takes as arguments go through the same function that
    ``create`` builds its body with (``_arguments.chat_completion_body``...); Helicone keys
    of ``metadata`` get the per-key checks ``resolve_helicone`` makes; ``fallback`` and
    ``fallback_deadline`` those of ``resolve_policy``. Rules across the client's own
    Helicone options (a rate-limit segment needing a user id...) need the client, so they
    are checked when the request is sent.

    Raises:
        InvalidInputError: ``field`` is ``body.<argument>`` (``body.messages[0].role``...).
    """
    build = _BODY_BUILDERS[endpoint]
    named, required = _body_params(build)
    for key in body:
        if not isinstance(key, str):
            raise InvalidInputError("body", f"keys must be str, got {type(key).__name__}")
    if flag("body.stream", body.get("stream")):
        raise InvalidInputError("body.stream", "streaming is not supported in a batch")
    for name in required:
        if name not in body:
            raise InvalidInputError(f"body.{name}", "is required")
    try:
        build(None, **{k: v for k, v in body.items() if k in named and k != "stream"})
        metadata = body.get("metadata")
        if metadata is not None:
            split_metadata(metadata)
        if body.get("fallback") is not None or body.get("fallback_deadline") is not None:
            from ._fallback_policy import FallbackPolicy, resolve_policy

            resolve_policy(FallbackPolicy(), body.get("fallback"), body.get("fallback_deadline"))
    except InvalidInputError as exc:
        raise InvalidInputError(f"body.{exc.field}", exc.problem) from None


def _check_id(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInputError("id", "must be a non-empty str or None")


def _check_options(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None and not isinstance(value, HeliconeOptions):
        raise InvalidInputError("helicone", "must be a HeliconeOptions or None")


@attrs.frozen
class BatchRequest:
    """One request of a batch.

    Args:
        endpoint: ``"chat.completions"``, ``"completions"`` or ``"embeddings"``; OpenAI URL
            paths (``"/v1/chat/completions"``...) are accepted and normalised.
        body: the request body, as the OpenAI API takes it (``model``, ``messages``...).
            Fields the client does not name are sent as they are.
        id: your id for it, echoed on its :class:`BatchResult` (default: its position in the
            input, as a string).
        helicone: per-request :class:`HeliconeOptions`, merged over the client's.

    Raises:
        InvalidInputError: an unsupported endpoint; a body that is not a mapping, or one the
            endpoint's ``create`` would refuse (checked here, with the same checks, so a
            bad body never reaches :func:`run_batch`; ``field`` is ``body.<argument>``, e.g.
            ``body.model``); an empty id; or ``helicone`` that is not ``HeliconeOptions``.
    """

    endpoint: Endpoint = attrs.field(converter=normalize_endpoint)
    body: Mapping[str, Any] = attrs.field(validator=_check_body)
    id: str | None = attrs.field(default=None, validator=_check_id)
    helicone: HeliconeOptions | None = attrs.field(default=None, validator=_check_options)

    def __attrs_post_init__(self) -> None:
        check_body(self.endpoint, self.body)

    @classmethod
    def from_openai(cls, line: Mapping[str, Any]) -> BatchRequest:
        """Read one line of the OpenAI Batch API input format.

        Args:
            line: ``{"custom_id": ..., "method": "POST", "url": "/v1/...", "body": {...}}``
                (already parsed from JSON); other keys are ignored.

        Returns:
            The request, with ``id`` = ``custom_id``.

        Raises:
            InvalidInputError: a field is missing or wrong (``field`` names it), the body
                too, as :class:`BatchRequest` checks it.
        """
        if not isinstance(line, Mapping):
            raise InvalidInputError("line", f"must be a JSON object, got {type(line).__name__}")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise InvalidInputError("custom_id", "is missing or not a non-empty string")
        method = line.get("method", "POST")
        if method != "POST":
            raise InvalidInputError("method", f"must be 'POST', got {method!r}")
        if "url" not in line:
            raise InvalidInputError("url", "is missing")
        try:
            endpoint = normalize_endpoint(line["url"])
        except InvalidInputError as exc:
            raise InvalidInputError("url", exc.problem) from None
        body = line.get("body")
        if not isinstance(body, Mapping):
            raise InvalidInputError("body", "is missing or not a JSON object")
        return cls(endpoint, body, custom_id)


@attrs.frozen
class BatchResult:
    """The outcome of one request of a batch: exactly one of ``response`` and ``error``.

    Attributes:
        id: the request's id (its position in the input when it had none).
        index: the request's position in the input (0-based).
        request: the request; None when the input item could not be read as one.
        response: the typed answer (``ChatCompletion``, ``Completion`` or
            ``CreateEmbeddingResponse``, with ``.helicone`` metadata), or None.
        error: the exception that ended this request (an ``APIError``, an
            ``InvalidInputError``...), or None.
        attempts: how many times the batch sent it (429s put it back; the client's own
            retries inside one attempt are not counted).
        elapsed: seconds from its first send to its result, waits included.
    """

    id: str
    index: int
    request: BatchRequest | None
    response: Any = None
    error: Exception | None = None
    attempts: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None

    @property
    def request_id(self) -> str | None:
        """The Helicone request id of the answer or error, when there was one."""
        meta = getattr(self.response, "helicone", None)
        if meta is not None:
            return cast("str | None", meta.request_id)
        return cast("str | None", getattr(self.error, "request_id", None))


def estimate_tokens(request: BatchRequest) -> int:
    """The token estimate charged to a tokens-per-minute budget before sending.

    ``ceil(prompt characters / 4) + max_tokens * n``, where the prompt is the text of the
    messages (chat), the prompt (completions) or the input (embeddings; a token array
    counts its length), and ``max_completion_tokens`` wins over ``max_tokens``.

    Args:
        request: the request.

    Returns:
        The estimate, at least 1.
    """
    body = request.body
    chars = 0
    tokens = 0
    if request.endpoint == "chat.completions":
        messages = body.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, Mapping):
                    chars += _text_length(message.get("content"))
    elif request.endpoint == "responses":
        value = body.get("input")
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    chars += _text_length(item.get("content"))
        else:
            chars += _text_length(value)
    else:
        value = body.get("prompt" if request.endpoint == "completions" else "input")
        if isinstance(value, list) and value and isinstance(value[0], int):
            tokens += len(value)
        elif isinstance(value, list) and value and isinstance(value[0], list):
            tokens += sum(len(v) for v in value if isinstance(v, list))
        else:
            chars += _text_length(value)
    limit = body.get("max_completion_tokens", body.get("max_tokens", body.get("max_output_tokens")))
    n = body.get("n", 1)
    if isinstance(limit, int) and isinstance(n, int):
        tokens += limit * max(n, 1)
    return max(1, tokens + math.ceil(chars / 4))


def _text_length(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        total = 0
        for part in value:
            if isinstance(part, str):
                total += len(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                total += len(part["text"])
        return total
    return 0


def _as_request(item: object) -> BatchRequest:
    if isinstance(item, BatchRequest):
        return item
    if isinstance(item, Mapping):
        return BatchRequest.from_openai(item)
    raise InvalidInputError(
        "request",
        f"must be a BatchRequest or an OpenAI Batch input mapping, got {type(item).__name__}",
    )


_body_params_cache: dict[object, tuple[frozenset[str], tuple[str, ...]]] = {}


def _body_params(create: Callable[..., Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The body fields ``create`` (or a body builder) takes as arguments, and those it
    requires."""
    func = getattr(create, "__func__", create)
    found = _body_params_cache.get(func)
    if found is None:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in _NOT_BODY
        ]
        required = tuple(p.name for p in params if p.default is p.empty)
        found = frozenset(p.name for p in params), required
        _body_params_cache[func] = found
    return found


def _item_id(item: object, index: int) -> str:
    if isinstance(item, BatchRequest) and item.id is not None:
        return item.id
    if isinstance(item, Mapping):
        custom_id = item.get("custom_id")
        if isinstance(custom_id, str) and custom_id:
            return custom_id
    return str(index)
