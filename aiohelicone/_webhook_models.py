"""Layer 0 (core): the body of a Helicone webhook delivery, as frozen attrs records (no I/O).

The fields are those docs/features/webhooks.mdx documents (the "enhanced" payload, sent when
the webhook's *include data* setting is on): ``request_id``, ``user_id`` (only when the request
set one), ``request_body`` / ``response_body`` (truncated at about 10 KB), the signed
``request_response_url`` holding the full bodies (it expires after 30 minutes), ``model``,
``provider`` and ``metadata`` (cost and token counts, camelCase on the wire). The models follow
``_models.py``: unknown keys are kept in ``extra`` and absent ``None`` fields noted in
``missing``, so ``unstructure(parse(body))`` gives back the JSON that arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._models import _extra_field, _missing_field

__all__ = ["WebhookMetadata", "WebhookPayload"]


@attrs.frozen(weakref_slot=False)
class WebhookMetadata:
    """Cost and usage of the request a webhook reports (``metadata``; names as on the wire).

    Attributes:
        cost: USD, as Helicone computed it.
        promptTokens, completionTokens, totalTokens: token counts.
        latencyMs: the request's latency in milliseconds.
    """

    cost: float | None = None
    promptTokens: int | None = None
    completionTokens: int | None = None
    totalTokens: int | None = None
    latencyMs: float | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    @property
    def prompt_tokens(self) -> int | None:
        """``promptTokens``."""
        return self.promptTokens

    @property
    def completion_tokens(self) -> int | None:
        """``completionTokens``."""
        return self.completionTokens

    @property
    def total_tokens(self) -> int | None:
        """``totalTokens``."""
        return self.totalTokens

    @property
    def latency_ms(self) -> float | None:
        """``latencyMs``."""
        return self.latencyMs


@attrs.frozen(weakref_slot=False)
class WebhookPayload:
    """One webhook delivery: the request it reports, with cost and usage when included.

    Attributes:
        request_id: the Helicone request id (use it with ``client.requests.score``...).
        user_id: the request's ``Helicone-User-Id``, when it set one.
        request_body, response_body: the bodies, truncated (text, or JSON as sent).
        request_response_url: a signed URL of the full request and response (expires).
        model, provider: what served the request.
        metadata: cost and token counts (``include data`` on), or None.
    """

    request_id: str
    user_id: str | None = None
    request_body: Any = None
    response_body: Any = None
    request_response_url: str | None = None
    model: str | None = None
    provider: str | None = None
    metadata: WebhookMetadata | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()
