"""Layer 3 (REST): sending Helicone REST API calls and reading their ``{"data", "error"}`` Results.

REST calls go through a second :class:`Transport` that shares the client's connection pool
(so ``aclose`` and a caller's ``http_client`` cover both), on the REST base URL, always
authenticated with ``Authorization: Bearer <api_key>``: the Helicone key, also when the
client talks to a legacy proxy with ``provider_api_key`` (there the gateway gets the key in
``Helicone-Auth``; the REST API only reads ``Authorization``). The client's :class:`Sender`
is reused over that transport (``Sender.over``): the same retry loop, policy, hook and
status errors; httpx2 errors are mapped in ``_transport.py`` as for the gateway. What the
answers and errors look like: ``_rest.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._decode import helicone_of, parse_json
from ._exceptions import APIStatusError
from ._json import loads_function
from ._rest_errors import rest_status_error
from ._send import encode
from ._transport import RawResponse, Transport

if TYPE_CHECKING:
    from ._send import Sender
    from ._timeouts import TimeoutArg

__all__ = ["HeliconeAPIError", "RestConnection"]

_RETRIED_RESULT_STATUS = frozenset({408, 429, 502, 503, 504})


class HeliconeAPIError(APIStatusError):
    """The REST API answered 2xx, but its ``{"data", "error"}`` Result carried an error.

    Non-2xx REST answers raise the usual status classes (``BadRequestError``...);
    ``status_code`` here is the 2xx status that came with the error.
    """


class RestConnection:
    """Sends REST calls for one client (shares its pool, retry policy and hook).

    Args:
        sender: the client's send path (its policy and hook are reused).
        api_key: the Helicone key, sent as ``Authorization: Bearer`` (never shown).
        base_url: the REST API base URL (see :func:`resolve_rest_base_url`).
        default_headers: headers sent with every call (the client's).
    """

    __slots__ = ("_sender", "_transport")

    def __init__(
        self,
        sender: Sender,
        api_key: str,
        base_url: str,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        gateway = sender.transport
        self._transport = Transport(
            base_url=base_url,
            auth_headers={"authorization": f"Bearer {api_key}"},
            default_headers=default_headers,
            timeout=gateway.timeout,
            limits=None,
            http_client=gateway.http_client,
            max_response_bytes=gateway.max_response_bytes,
        )
        self._sender = sender.over(self._transport)

    @property
    def base_url(self) -> str:
        """The REST API base URL."""
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"<RestConnection base_url={self.base_url!r}>"

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = "default",
        max_retries: int | None = None,
    ) -> Any:
        """Send one call and return the Result's ``data``.

        Raises:
            APIStatusError: a non-2xx answer (a subclass per status; the middleware's
                refusals as ``RestAuthenticationError``, ``InvalidTokenError`` and
                ``RestRateLimitError``, see ``_rest_errors.py``).
            HeliconeAPIError: a 2xx answer whose Result carries an error.
            APIConnectionError: the API could not be reached.
            APIResponseValidationError: the answer was not JSON.
        """
        sender = self._sender
        call = sender.call(
            method,
            path,
            content=None if body is None else encode(dict(body)),
            params=params,
            timeout=timeout,
            max_retries=max_retries,
        )
        try:
            raw = await sender.send(call, final=_final_result)
        except APIStatusError as exc:
            # The send path decided on retries with the status classes; what the REST
            # server's middleware meant is told here, once, on the error that is raised.
            typed = rest_status_error(exc, method)
            if typed is exc:
                raise
            raise typed from None
        return self._unwrap(raw)

    def _unwrap(self, raw: RawResponse) -> Any:
        data = parse_json(
            raw.content,
            status_code=raw.status_code,
            request_id=None,
            source="The REST API",
            empty="none",
        )
        if isinstance(data, dict) and data.get("error") is not None:
            error = HeliconeAPIError(
                str(data["error"]), status_code=raw.status_code, body=data, headers=raw.headers
            )
            error.helicone = helicone_of(raw.headers, None)
            raise error
        if isinstance(data, dict) and "data" in data:
            return data["data"]
        return data


def _final_result(raw: RawResponse) -> bool:
    """Whether an error answer is the application's own Result (retrying will not help)."""
    if raw.status_code in _RETRIED_RESULT_STATUS:
        return False
    try:
        data = loads_function()(raw.content)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), str) and "data" in data
