"""Layer 1 (transport): the one boundary where httpx2 (and httpcore2) errors are mapped.

Everything that reads from httpx2 calls :func:`map_transport_error` on what it catches:
``_transport.py`` (sending) and ``_stream_response.py`` (reading a body). Each error is
raised again as an aiohelicone one, chained ``from`` the original; nothing else in the
package catches httpx2 exceptions.
"""

from __future__ import annotations

from typing import NoReturn

from ._exceptions import APIConnectionError, APITimeoutError, HeliconeError

__all__ = ["map_transport_error"]


def map_transport_error(exc: Exception, request_id: str | None) -> NoReturn:
    """Raise the aiohelicone error for an httpx2 (or socket) exception, chained to it."""
    import httpx2

    if isinstance(exc, HeliconeError):
        raise exc
    if type(exc).__module__.startswith("httpcore2"):
        # Raised while we read httpcore2's pool stream directly (see StreamingResponse).
        import httpcore2

        if isinstance(exc, httpcore2.TimeoutException):
            raise APITimeoutError(
                f"Request timed out ({type(exc).__name__}).", request_id=request_id
            ) from exc
        raise APIConnectionError(
            f"Connection error: {type(exc).__name__}: {exc}".rstrip(": "), request_id=request_id
        ) from exc
    if isinstance(exc, httpx2.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        raise APITimeoutError(
            f"Request timed out ({kind} timeout).", request_id=request_id
        ) from exc
    if isinstance(exc, httpx2.HTTPError | OSError):
        raise APIConnectionError(
            f"Connection error: {type(exc).__name__}: {exc}".rstrip(": "), request_id=request_id
        ) from exc
    raise exc
