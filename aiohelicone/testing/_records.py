"""Layer 8 (test kit): what the fake gateway remembers about each request, for assertions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._outcomes import Compressed

__all__ = ["AttemptRecord", "RequestRecord"]

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "helicone-auth"})


def _redacted(headers: dict[str, str]) -> str:
    shown = {k: ("<redacted>" if k in _SECRET_HEADERS else v) for k, v in headers.items()}
    return repr(shown)


@attrs.define
class AttemptRecord:
    """One attempt the gateway made for a request.

    Attributes:
        source: the attempt's name, e.g. ``gpt-4o-mini/openai/ptb``.
        provider: the provider tried.
        model: the registry model name.
        provider_model: the provider's model id.
        outcome: what happened: ``"reply"``, ``"fail"``, ``"invalid_format"``,
            ``"rate_limited"``, ``"cache_hit"``, ``"insufficient_credits"``, or the scripted
            outcome's kind (``"reset"``, ``"stall"``, ``"truncated_stream"`` ...).
        status: the provider's status for that attempt, when there was one.
    """

    source: str
    provider: str
    model: str
    provider_model: str
    outcome: str
    status: int | None = None


@attrs.define(eq=False)
class RequestRecord:
    """One request the fake gateway received, and what it answered.

    Secrets in ``headers`` are kept (tests may assert on them) but hidden from ``repr``.

    Attributes:
        method: HTTP method.
        path: the request path (without query string).
        query: the raw query string.
        headers: request headers, names lower-cased (repeated headers joined with ", ").
        body: the raw request body.
        json: the parsed JSON body, or None when it was not JSON.
        time: when the request arrived, from the gateway's ``clock``.
        endpoint: ``"chat"``, ``"responses"``, ``"completions"``, ``"embeddings"``,
            ``"models"``, ``"rest"`` or None.
        stream: the body asked for a stream (``"stream": true``).
        helicone_id: the ``Helicone-Id`` of the answer (from a valid
            ``Helicone-Request-Id``, else a fresh uuid4); None when refused before routing.
        status: the HTTP status sent, once the answer started (None for an aborted one).
        provider: the provider that served it (also on cache hits).
        provider_model: the provider's model id that served it.
        gateway_mode: ``"PTB"`` or ``"BYOK"`` when served.
        attempts: every attempt made, in order.
        properties: ``Helicone-Property-*`` headers, names lower-cased without the prefix.
        user_id: ``Helicone-User-Id``, else the body's ``user``.
        session_id: ``Helicone-Session-Id``.
        session_path: ``Helicone-Session-Path``.
        session_name: ``Helicone-Session-Name``.
        cache: ``"HIT"``, ``"MISS"`` or None (cache read not requested).
        rate_limited: a ``Helicone-RateLimit-Policy`` refused this request.
        aborted: the connection was aborted on purpose (a scripted reset or cut).
        completed_at: when the last byte was sent (``clock``), None if it never was.
        closed_by_client_at: when the client went away before the answer was complete
            (``clock``): for a stream, the moment the gateway stopped streaming.
        notes: why specs were skipped, and similar diagnostics the real gateway only logs.
        created_at: wall-clock Unix time of arrival (``gateway.rest.wall_clock``), for the
            REST API's ``request_created_at``.
        response_events: the answer's body chunks as served (the JSON body, or the SSE
            events), for the REST API's tokens, cost and bodies; empty for errors.
        first_byte_delay: seconds planned before the first body chunk (time to first token).
        prompt_id: the stored prompt a ``prompt_id`` request was expanded from.
        prompt_version_id: the id of that prompt's version.
        compression: how the answer was compressed on its way out (a :class:`Compressed`
            step, or the gateway's ``compress=``), None when it was sent as is.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str] = attrs.field(repr=_redacted)
    body: bytes = attrs.field(repr=False)
    json: Any
    time: float
    endpoint: str | None = None
    stream: bool = False
    helicone_id: str | None = None
    status: int | None = None
    provider: str | None = None
    provider_model: str | None = None
    gateway_mode: str | None = None
    attempts: list[AttemptRecord] = attrs.Factory(list)
    properties: dict[str, str] = attrs.Factory(dict)
    user_id: str | None = None
    session_id: str | None = None
    session_path: str | None = None
    session_name: str | None = None
    cache: str | None = None
    rate_limited: bool = False
    aborted: bool = False
    completed_at: float | None = None
    closed_by_client_at: float | None = None
    notes: list[str] = attrs.Factory(list)
    created_at: float | None = None
    response_events: tuple[bytes, ...] = attrs.field(default=(), repr=False)
    first_byte_delay: float | None = None
    prompt_id: str | None = None
    prompt_version_id: str | None = None
    compression: Compressed | None = None

    @property
    def model(self) -> str | None:
        """The body's ``model`` field as sent, when it is a string."""
        value = self.json.get("model") if isinstance(self.json, dict) else None
        return value if isinstance(value, str) else None

    @property
    def last_user_message(self) -> str | None:
        """The text of the last ``user`` message of a chat body, a completion's prompt, or
        a Responses body's ``input`` (a text, or its last ``user`` item).

        Returns:
            The text (text parts of a multi-part content are joined), or None.
        """
        data = self.json if isinstance(self.json, dict) else {}
        messages = data.get("messages")
        if messages is None and self.endpoint == "responses":
            raw = data["input"]
            messages = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw
        if isinstance(messages, list):
            for message in reversed(messages):
                if isinstance(message, dict) and message.get("role") == "user":
                    return content_text(message.get("content"))
            return None
        prompt = data.get("prompt")
        if isinstance(prompt, str):
            return prompt
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
            return prompt[0]
        return None


def content_text(content: object) -> str:
    """The text of a chat message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""
