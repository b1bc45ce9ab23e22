"""Layer 2 (send path): the one path every request takes, below the resources.

A :class:`Sender` owns the prepared call, the retries, the status-error mapping and the
decoding, for both modes; the two differ only at the end::

    Sender.prepare(method, path, body, options)   Helicone headers, request id, JSON body
      -> Call                                      a frozen record: send it, send it again
    Sender.request(call, cast_to, stream_cls=)     the one entry
      -> Sender.send(call, stream=)                the retry loop (``_retry.py`` decides)
           -> Transport.request / open_stream      one HTTP exchange (``_transport.py``)
           -> status >= 400: status_error          typed error + .helicone (``_decode.py``)
      -> whole answer: Sender.decode               JSON -> typed model + .helicone
      -> stream:       stream_cls.open(sender, call)   the stream class reads the rest

Above it sit the streams, the fallback chains and the REST connection (they use only the
public methods here) and then the resources and ``AsyncHelicone``. Nothing here imports
those: a stream class is passed in (:class:`StreamClass`), as openai-python's
``request(cast_to, options, stream=, stream_cls=)`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar, overload

import attrs

from . import _retry
from ._converter import structure_hook
from ._decode import answer_error, helicone_of, parse_json, status_error, structured
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    InvalidInputError,
    reports_error,
)
from ._header_values import check_headers
from ._helicone import HeliconeOptions
from ._helicone_resolve import resolve_helicone
from ._retry import RetryPolicy
from ._secrets import register as register_secrets
from ._send_call import NO_OPTIONS as NO_OPTIONS
from ._send_call import Call as Call
from ._send_call import RequestOptions as RequestOptions
from ._send_call import check_extra_body, check_query
from ._send_call import check_retries as check_retries
from ._send_call import encode as encode
from ._timeouts import StreamTimeouts, TimeoutArg
from ._transport import RawResponse, StreamingResponse, Transport, default_timeout, make_timeout

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "NO_OPTIONS",
    "Call",
    "OnRetry",
    "RequestOptions",
    "Sender",
    "StreamClass",
    "check_retries",
    "encode",
]

logger = logging.getLogger("aiohelicone")

M = TypeVar("M")
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)

#: ``on_retry(error, retry, wait)``: called before each retry with the error that caused it,
#: the retry's number (1 for the first) and the seconds about to be waited.
OnRetry: TypeAlias = Callable[[APIError, int, float], object]


class StreamClass(Protocol[S_co]):
    """What ``stream_cls`` is: a class that opens itself over a sender (``AsyncStream``)."""

    def open(self, sender: Sender, call: Call) -> Awaitable[S_co]: ...


_POSTHOG_HEADER = "Helicone-Posthog-Key"
_POSTHOG_HEADER_LOWER = _POSTHOG_HEADER.lower()


def _call_timeout(value: object) -> httpx2.Timeout | None:
    """A per-call ``timeout=`` (None: the client's), refused as a typed error."""
    if isinstance(value, str) and value == "default":
        return None
    try:
        return make_timeout(value)
    except TypeError as exc:
        raise InvalidInputError("timeout", str(exc).removeprefix("timeout ")) from None


def _with_read_timeout(timeout: httpx2.Timeout | None, read: float) -> httpx2.Timeout:
    import httpx2

    base = timeout if timeout is not None else default_timeout()
    return httpx2.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


class Sender:
    """Prepares, sends (with retries) and decodes requests over one :class:`Transport`.

    Args:
        transport: the HTTP layer to send through.
        retry: the client's retry policy.
        helicone: the client's default Helicone options.
        stream_timeouts: the client's default stream budgets.
        on_retry: called before each retry (see :data:`OnRetry`); an exception from it is
            logged and ignored.
        secrets: the client's keys: masked in every error while this sender lives (see
            ``_secrets.py``); a ``posthog_key`` a call brings is added when it is prepared.
    """

    __slots__ = (
        "__weakref__",
        "_helicone",
        "_on_retry",
        "_retry",
        "_secrets",
        "_stream_defaults",
        "transport",
    )

    def __init__(
        self,
        transport: Transport,
        *,
        retry: RetryPolicy,
        helicone: HeliconeOptions | None = None,
        stream_timeouts: StreamTimeouts | None = None,
        on_retry: OnRetry | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.transport = transport
        self._retry = retry
        self._helicone = helicone
        self._stream_defaults = stream_timeouts or StreamTimeouts()
        self._on_retry = on_retry
        self._secrets = {secret for secret in secrets if secret is not None}
        register_secrets(self, self._secrets)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The default retry policy."""
        return self._retry

    @property
    def helicone(self) -> HeliconeOptions | None:
        """The default Helicone options."""
        return self._helicone

    def over(self, transport: Transport) -> Sender:
        """A sender with the same policy and hook over another transport (the REST API)."""
        return Sender(
            transport,
            retry=self._retry,
            helicone=self._helicone,
            stream_timeouts=self._stream_defaults,
            on_retry=self._on_retry,
        )

    # -- preparing -------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
        stream: StreamTimeouts | None = None,
    ) -> Call:
        """A :class:`Call` from its parts (no Helicone headers: the REST API's calls).

        Raises:
            InvalidInputError: a bad ``max_retries``.
            TypeError: a bad ``timeout``.
        """
        return self._call(
            method,
            path,
            content=content,
            headers=headers if headers is not None else {},
            request_id=request_id,
            params=params,
            timeout=None if timeout == "default" else make_timeout(timeout),
            max_retries=max_retries,
            stream=stream,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None,
        headers: Mapping[str, str],
        request_id: str | None,
        params: Mapping[str, Any] | None,
        timeout: httpx2.Timeout | None,
        max_retries: int | None,
        stream: StreamTimeouts | None,
    ) -> Call:
        retry = self._retry
        if max_retries is not None:
            retry = attrs.evolve(retry, max_retries=check_retries(max_retries))
        resolved = timeout
        if stream is not None and stream.idle is not None:
            resolved = _with_read_timeout(resolved, stream.idle)
        return Call(
            method=method,
            path=path,
            content=content,
            headers=headers,
            request_id=request_id,
            timeout=resolved,
            params=params,
            retry=retry,
            stream=stream,
        )

    def prepare(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        options: RequestOptions = NO_OPTIONS,
        *,
        stream: bool = False,
    ) -> Call:
        """A gateway call: Helicone headers and request id, metadata, extras, the JSON body.

        Args:
            method: the HTTP method.
            path: relative to the base URL.
            body: the request body, completed here (``metadata``, ``extra_body``).
            options: the per-call options.
            stream: a stream request (its budgets come from ``options`` or the defaults).

        Returns:
            The prepared call.

        Raises:
            InvalidInputError: a bad option (nothing was sent).
        """
        helicone = options.helicone
        if helicone is not None and not isinstance(helicone, HeliconeOptions):
            raise InvalidInputError("helicone", "must be a HeliconeOptions")
        resolved = resolve_helicone(
            self._helicone,
            helicone,
            options.metadata,
            body_user=body.get("user") if body is not None else None,
        )
        headers = resolved.headers
        extra_headers = options.extra_headers
        if extra_headers is not None:
            checked = check_headers("extra_headers", extra_headers)
            if checked:
                headers = {**headers, **checked}
        extra_query = options.extra_query
        if extra_query is not None:
            check_query(extra_query)
        stream_timeouts = options.stream_timeouts
        if stream_timeouts is not None and not isinstance(stream_timeouts, StreamTimeouts):
            raise InvalidInputError(
                "stream_timeouts",
                f"must be a StreamTimeouts, not {type(stream_timeouts).__name__}",
            )
        content = None
        if body is not None:
            if resolved.body_metadata is not None:
                body["metadata"] = resolved.body_metadata
            extra_body = options.extra_body
            if extra_body is not None:
                check_extra_body(extra_body)
                body.update(extra_body)
            content = encode(body)
        call = self._call(
            method,
            path,
            content=content,
            headers=headers,
            request_id=resolved.request_id,
            params=extra_query,
            timeout=_call_timeout(options.timeout),
            max_retries=options.max_retries,
            stream=(stream_timeouts or self._stream_defaults) if stream else None,
        )
        posthog = headers.get(_POSTHOG_HEADER) or headers.get(_POSTHOG_HEADER_LOWER)
        if posthog is not None and posthog not in self._secrets:
            # A key given to one call: owned by the sender (as long as the client), since
            # a stream's error events arrive after the prepared call is gone.
            self._secrets.add(posthog)
            register_secrets(self, (posthog,))
        return call

    # -- sending ---------------------------------------------------------------------------

    @overload
    async def request(self, call: Call, cast_to: type[M]) -> M: ...

    @overload
    async def request(self, call: Call, cast_to: type[Any], *, stream_cls: StreamClass[S]) -> S: ...

    @overload
    async def request(
        self, call: Call, cast_to: type[Any], *, stream_cls: StreamClass[Any] | None
    ) -> Any: ...

    async def request(
        self, call: Call, cast_to: type[Any], *, stream_cls: StreamClass[Any] | None = None
    ) -> Any:
        """Send ``call`` and return its answer as ``cast_to``, or as a ``stream_cls`` stream.

        The one entry for both modes: a whole answer is decoded here; a stream request
        hands over to ``stream_cls.open(self, call)``, which sends through :meth:`send`
        with ``stream=True`` (inside the stream's budgets) and reads the events.

        Raises:
            APIStatusError, APIConnectionError, APIResponseValidationError: as
            :meth:`send` and :meth:`decode`.
        """
        if stream_cls is not None:
            return await stream_cls.open(self, call)
        raw = await self.send(call)
        return self.decode(raw, cast_to, call)

    @overload
    async def send(
        self,
        call: Call,
        *,
        stream: Literal[False] = False,
        final: Callable[[RawResponse], bool] | None = None,
    ) -> RawResponse: ...

    @overload
    async def send(self, call: Call, *, stream: Literal[True]) -> StreamingResponse: ...

    async def send(
        self,
        call: Call,
        *,
        stream: bool = False,
        final: Callable[[RawResponse], bool] | None = None,
    ) -> RawResponse | StreamingResponse:
        """Send with retries: the answer once it is below 400, else the typed error.

        One loop for both modes; they differ only in how an answer is read: whole, or
        (``stream=True``) open after its headers, for the caller to read and close. A
        stream is retried only before its first byte.

        Args:
            call: the prepared call.
            stream: keep the body open (the caller closes it).
            final: says an error answer is the application's last word (the REST API's
                Results): raised without a retry.

        Returns:
            The answer (status < 400).

        Raises:
            APIStatusError: an error status (a subclass per status), once retries are spent
                or when it is not worth retrying.
            APIConnectionError: no answer (``APITimeoutError`` for timeouts).
        """
        transport = self.transport
        policy = call.retry
        retries = 0
        while True:
            error: APIError
            try:
                if stream:
                    response = await transport.open_stream(call)
                    if response.status_code < 400:
                        return response
                    try:
                        body = await response.read(transport.max_response_bytes)
                    finally:
                        await response.aclose()
                    raw = RawResponse(response.status_code, dict(response.headers.items()), body)
                else:
                    raw = await transport.request(call)
                    if raw.status_code < 400:
                        return raw
            except APIConnectionError as exc:  # includes timeouts
                error = exc
            else:
                error = self.status_error(raw, call)
                if final is not None and final(raw):
                    raise error
            wait = _retry.wait_before_retry(policy, retries, error)
            if wait is None:
                raise error
            retries += 1
            self._retrying(call, error, retries, wait)
            await _retry.sleep(wait)

    def _retrying(self, call: Call, error: APIError, retry: int, wait: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            # The call's method, path and request id, and the error's class: never headers.
            logger.debug(
                "retry %d of %d: %s %s after %s, waiting %.3fs (request_id=%s)",
                retry,
                call.retry.max_retries,
                call.method,
                call.path,
                type(error).__name__,
                wait,
                call.request_id,
            )
        hook = self._on_retry
        if hook is not None:
            try:
                hook(error, retry, wait)
            except Exception:
                # Instrumentation must not change the outcome of the call.
                logger.warning("the on_retry hook raised; ignored", exc_info=True)

    # -- reading ---------------------------------------------------------------------------

    def status_error(self, raw: RawResponse, call: Call) -> APIStatusError:
        """The typed error for an error answer to ``call`` (``.helicone`` set)."""
        return status_error(raw.status_code, raw.headers, raw.content, call.request_id)

    def decode(self, raw: RawResponse, cast_to: type[M], call: Call) -> M:
        """A whole JSON answer as ``cast_to``, with ``.helicone`` set.

        Raises:
            APIResponseValidationError: the body is empty, not JSON, or of the wrong shape.
        """
        status = raw.status_code
        data = parse_json(
            raw.content,
            status_code=status,
            request_id=call.request_id,
            content_type=raw.headers.get("content-type", "?"),
        )
        if (
            type(data) is dict
            and "error" in data
            and reports_error(data)
            and data.get("object") != "response"  # a failed Response is an answer
        ):
            # A 2xx answer whose body is an error (``in_body``): raised as its status error.
            raise answer_error(data, raw.headers, call.request_id, retry_after=True)
        result = structured(
            data,
            structure_hook(cast_to),
            what="The gateway's answer does not have the expected shape",
            status_code=status,
            request_id=call.request_id,
        )
        # Completes the answer's construction: nobody else holds it yet.
        object.__setattr__(result, "helicone", helicone_of(raw.headers, call.request_id))
        return result
