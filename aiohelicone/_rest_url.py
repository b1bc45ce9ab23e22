"""Layer 0 (core): where Helicone's REST API lives (apart from ``_rest.py``, so that a client
does not import the REST resources: they load on first use of ``client.requests``)."""

from __future__ import annotations

import os
from typing import Literal

from ._exceptions import InvalidInputError

__all__ = [
    "DEFAULT_REST_BASE_URL",
    "EU_REST_BASE_URL",
    "REST_BASE_URL_ENV",
    "resolve_rest_base_url",
]

DEFAULT_REST_BASE_URL = "https://api.helicone.ai"
EU_REST_BASE_URL = "https://eu.api.helicone.ai"
#: Our own invention (Helicone documents no such variable), like ``HELICONE_BASE_URL``.
REST_BASE_URL_ENV = "HELICONE_REST_BASE_URL"


def resolve_rest_base_url(
    rest_base_url: str | None, region: Literal["us", "eu"] | None, api_key: str
) -> str:
    """Pick the REST API base URL.

    Order: ``rest_base_url``; ``region`` (``"eu"`` -> ``https://eu.api.helicone.ai``);
    the ``HELICONE_REST_BASE_URL`` environment variable (our invention); an EU key
    (``sk-helicone-eu-...``) selects the EU host; else ``https://api.helicone.ai``.

    Args:
        rest_base_url: an explicit URL.
        region: ``"us"`` or ``"eu"``.
        api_key: the Helicone key (only its ``-eu-`` marker is looked at).

    Returns:
        The URL, without a trailing slash.

    Raises:
        InvalidInputError: both arguments were given, ``region`` is unknown, or the URL is
            not http(s).
    """
    if region is not None and region not in ("us", "eu"):
        raise InvalidInputError("region", f"must be 'us' or 'eu', got {region!r}")
    if rest_base_url is not None and region is not None:
        raise InvalidInputError("region", "give rest_base_url or region, not both")
    url = rest_base_url
    if url is None and region is not None:
        url = EU_REST_BASE_URL if region == "eu" else DEFAULT_REST_BASE_URL
    if url is None:
        url = os.environ.get(REST_BASE_URL_ENV) or None
    if url is None:
        eu = api_key.startswith(("sk-helicone-eu-", "pk-helicone-eu-"))
        url = EU_REST_BASE_URL if eu else DEFAULT_REST_BASE_URL
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInputError("rest_base_url", f"must be an http(s) URL, got {url!r}")
    return url.rstrip("/")
