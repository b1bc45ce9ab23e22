"""Layer 0 (core): the Helicone headers of one request, from the client's, the metadata's
and the call's options (no I/O).

Precedence: client defaults < LiteLLM-style ``metadata`` < call options. The rules across
fields (a rate-limit segment needs its user id or property; retry bounds in order) are
checked on the merged view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._helicone import (
    REQUEST_ID_HEADER,
    HeliconeOptions,
    check_across,
    random_request_id,
    rendered_headers,
    split_metadata,
    top_option,
)

__all__ = ["ResolvedHelicone", "resolve_helicone"]


@attrs.frozen
class ResolvedHelicone:
    """The Helicone part of one request, ready to send.

    Attributes:
        headers: every Helicone header to send, always with ``Helicone-Request-Id``.
        request_id: the request id sent (use it for feedback and scores).
        body_metadata: ``metadata`` keys that are not Helicone headers (OpenAI's own
            ``metadata`` body field), or None when there are none.
    """

    headers: dict[str, str]
    request_id: str
    body_metadata: dict[str, Any] | None = None


def _overlay(layers: tuple[HeliconeOptions, ...]) -> dict[str, str]:
    """The headers of ``layers`` merged (lowest first), like repeated ``merge``."""
    headers = dict(rendered_headers(layers[0]))
    for layer in layers[1:]:
        rendered = rendered_headers(layer)
        if layer.properties or layer.extra_headers:
            # Property and extra header names are case-insensitive: drop a lower layer's
            # spelling so that one header is sent, not two.
            spelled = {name.lower(): name for name in headers}
            for name in rendered:
                old = spelled.get(name.lower())
                if old is not None and old != name:
                    del headers[old]
        headers.update(rendered)
    return headers


def resolve_helicone(
    client_options: HeliconeOptions | None,
    call_options: HeliconeOptions | None,
    metadata: Mapping[str, Any] | None,
    *,
    body_user: str | None = None,
) -> ResolvedHelicone:
    """Work out the Helicone headers of one request.

    Precedence: client defaults < ``metadata`` < call options (properties merged).

    Args:
        client_options: the client's defaults.
        call_options: this call's options.
        metadata: a LiteLLM-style dict. Keys naming a Helicone header (case-insensitive:
            anything starting ``helicone-``, and ``Cache-Control``) are parsed into the
            typed options and validated the same way (``"true"``/``"false"`` for
            booleans, digit strings for numbers, ``Helicone-RateLimit-Policy`` -- also
            LiteLLM's misspelt ``Helicone-Rate-Limit-Policy`` -- with
            :meth:`RateLimitPolicy.parse`); unknown ``helicone-*`` keys are sent as extra
            headers. Other keys are returned in ``body_metadata``.
        body_user: the body's ``user`` field, for the ``s=user`` rate-limit check.

    Returns:
        The headers, the request id (a fresh UUID4 unless one was set) and the leftover
        body metadata.

    Raises:
        InvalidInputError: an invalid metadata value (``field`` names the key, e.g.
            ``metadata['Helicone-Request-Id']``) or a rule across fields is broken.
    """
    from_metadata = body_metadata = None
    if metadata:
        from_metadata, body_metadata = split_metadata(metadata)
    layers = tuple(
        layer for layer in (client_options, from_metadata, call_options) if layer is not None
    )
    if not layers:
        request_id = random_request_id()
        return ResolvedHelicone({REQUEST_ID_HEADER: request_id}, request_id, body_metadata)
    # Merging the rendered headers gives what merge() + to_headers() would, without
    # building the merged options object on every request.
    check_across(layers, body_user)
    headers = _overlay(layers)
    request_id = top_option(layers, "request_id") or random_request_id()
    headers[REQUEST_ID_HEADER] = request_id
    return ResolvedHelicone(headers, request_id, body_metadata)
