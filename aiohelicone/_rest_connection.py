"""Sending Helicone REST API calls, and reading their ``{"data", "error"}`` Results.

REST calls go through a second :class:`Transport` that shares the client's connection pool
(so ``aclose`` and a caller's ``http_client`` cover both), on the REST base URL, always
authenticated with ``Authorization: Bearer <api_key>``: the Helicone key, also when the
client talks to a legacy proxy with ``provider_api_key`` (there the gateway gets the key in
``Helicone-Auth``; the REST API only reads ``Authorization``). Retries use the client's
policy and ``_with_retries``; httpx2 errors are mapped in ``_transport.py`` as for the
gateway. What the answers and errors look like: ``_rest.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._exceptions import APIResponseValidationError, APIStatusError
from ._metadata import HeliconeMetadata
from ._transport import RawResponse, Transport

if TYPE_CHECKING:
    import httpx2

    from ._client import AsyncHelicone, _Call

__all__ = ["HeliconeAPIError", "RestConnection"]

_RETRIED_RESULT_STATUS = frozenset({408, 429, 502, 503, 504})


class HeliconeAPIError(APIStatusError):
    """The REST API answered 2xx, but its ``{"data", "error"}`` Result carried an error.

    Non-2xx REST answers raise the usual status classes (``BadRequestError``...);
    ``status_code`` here is the 2xx status that came with the error.
    """


class RestConnection:
    """Sends REST calls for one :class:`AsyncHelicone` (shares its pool and retry policy).

    Args:
        client: the client.
        api_key: the Helicone key, sent as ``Authorization: Bearer`` (never shown).
        base_url: the REST API base URL (see :func:`resolve_rest_base_url`).
        default_headers: headers sent with every call (the client's).
    """

    __slots__ = ("_client", "_transport")

    def __init__(
        self,
        client: AsyncHelicone,
        api_key: str,
        base_url: str,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._transport = Transport(
            base_url=base_url,
            auth_headers={"authorization": f"Bearer {api_key}"},
            default_headers=default_headers,
            timeout=client._transport.timeout,
            limits=None,
            http_client=client.http_client,
            max_response_bytes=client._transport.max_response_bytes,
        )

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
        timeout: float | httpx2.Timeout | Literal["default"] | None = "default",
        max_retries: int | None = None,
    ) -> Any:
        """Send one call and return the Result's ``data``.

        Raises:
            APIStatusError: a non-2xx answer (a subclass per status).
            HeliconeAPIError: a 2xx answer whose Result carries an error.
            APIConnectionError: the API could not be reached.
            APIResponseValidationError: the answer was not JSON.
        """
        from ._client import _Call, _check_retries, _encode
        from ._streaming import StreamTimeouts
        from ._transport import make_timeout

        retry = self._client.retry_policy
        if max_retries is not None:
            retry = attrs.evolve(retry, max_retries=_check_retries(max_retries))
        call = _Call(
            method=method,
            path=path,
            content=None if body is None else _encode(dict(body)),
            headers={},
            request_id=None,
            timeout=None if timeout == "default" else make_timeout(timeout),
            params=params,
            retry=retry,
            stream_timeouts=StreamTimeouts(),
        )

        async def once() -> RawResponse:
            raw = await self._transport.request(call)
            if raw.status_code >= 400 and not _final_result(raw):
                raise self._client._status_error(raw, call)
            return raw

        raw = await self._client._with_retries(call, once)
        return self._unwrap(raw, call)

    def _unwrap(self, raw: RawResponse, call: _Call) -> Any:
        if raw.status_code >= 400:
            raise self._client._status_error(raw, call)
        if not raw.content.strip():
            return None
        try:
            data = json.loads(raw.content)
        except ValueError as exc:
            raise APIResponseValidationError(
                f"The REST API answered {raw.status_code} with a body that is not JSON: "
                f"{raw.content[:200].decode('utf-8', errors='replace')!r}",
                status_code=raw.status_code,
                body=raw.content.decode("utf-8", errors="replace"),
            ) from exc
        if isinstance(data, dict) and data.get("error") is not None:
            error = HeliconeAPIError(
                str(data["error"]), status_code=raw.status_code, body=data, headers=raw.headers
            )
            error.helicone = HeliconeMetadata._from_lowered(raw.headers, None)
            raise error
        if isinstance(data, dict) and "data" in data:
            return data["data"]
        return data


def _final_result(raw: RawResponse) -> bool:
    """Whether an error answer is the application's own Result (retrying will not help)."""
    if raw.status_code in _RETRIED_RESULT_STATUS:
        return False
    try:
        data = json.loads(raw.content)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), str) and "data" in data
