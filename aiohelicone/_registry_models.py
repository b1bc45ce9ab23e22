"""Layer 0 (core): Helicone's model registry (``GET /v1/public/model-registry/models``).

The REST API's ``ModelRegistryController`` (valhalla/jawn) answers a Result whose ``data`` is
``{"models": [...], "total": n, "filters": {...}}``. Each model has an ``id`` (the name model
strings use: ``gpt-4o-mini``), ``contextLength``, ``maxOutput``, ``inputModalities`` /
``outputModalities``, ``supportedParameters`` and one entry per provider endpoint, whose
``pricing`` is in **USD per million tokens** (``prompt``, ``completion``; ``cacheRead``,
``cacheWrite``... when the endpoint has them). Names are the wire's (camelCase), so that the
records (frozen attrs) round-trip; unknown keys are kept in ``extra`` as in ``_models.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._models import _extra_field, _missing_field

__all__ = ["ModelRegistry", "RegistryEndpoint", "RegistryModel", "RegistryPricing"]


@attrs.frozen(weakref_slot=False)
class RegistryPricing:
    """One endpoint's prices, in USD per million tokens (None: not priced that way).

    Attributes:
        prompt, completion: input and output tokens.
        cacheRead, cacheWrite: cached input read / written.
        audio, thinking, web_search, image, video, internal_reasoning: other units.
        threshold: for a tier of ``pricingTiers``, the prompt size it starts at.
    """

    prompt: float | None = None
    completion: float | None = None
    audio: float | None = None
    thinking: float | None = None
    web_search: float | None = None
    image: float | None = None
    video: float | None = None
    cacheRead: float | None = None
    cacheWrite: float | None = None
    internal_reasoning: float | None = None
    threshold: float | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for a request of these token counts at the base prices (unpriced counts 0)."""
        per_million = prompt_tokens * (self.prompt or 0.0) + completion_tokens * (
            self.completion or 0.0
        )
        return per_million / 1e6


@attrs.frozen(weakref_slot=False)
class RegistryEndpoint:
    """One provider serving a model.

    Attributes:
        provider: the provider name model strings use (``openai``, ``bedrock``...).
        providerSlug: Helicone's display slug (``aws-bedrock``).
        supportsPtb: whether Helicone credits (pass-through billing) can pay for it.
        pricing: its base prices.
        pricingTiers: prices by prompt size, when they vary.
        endpoint: the registry's full endpoint record, as sent.
    """

    provider: str
    providerSlug: str | None = None
    supportsPtb: bool | None = None
    pricing: RegistryPricing | None = None
    pricingTiers: list[RegistryPricing] | None = None
    endpoint: dict[str, Any] | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()


@attrs.frozen(weakref_slot=False)
class RegistryModel:
    """One model of the registry.

    Attributes:
        id: the model's name in model strings (``gpt-4o-mini``).
        name, author, description: for people.
        contextLength, maxOutput: token limits.
        inputModalities, outputModalities: ``text``, ``image``, ``audio``...
        supportedParameters: request parameters some provider of it accepts.
        endpoints: the providers serving it, with prices.
    """

    id: str
    name: str | None = None
    author: str | None = None
    description: str | None = None
    contextLength: int | None = None
    maxOutput: int | None = None
    trainingDate: str | None = None
    inputModalities: list[str] | None = None
    outputModalities: list[str] | None = None
    supportedParameters: list[str] | None = None
    endpoints: list[RegistryEndpoint] = attrs.field(factory=list)
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    def pricing(self, provider: str | None = None) -> RegistryPricing | None:
        """The prices of ``provider``'s endpoint, or (None) of the first priced endpoint."""
        for endpoint in self.endpoints:
            if endpoint.pricing is not None and provider in (None, endpoint.provider):
                return endpoint.pricing
        return None


@attrs.frozen(weakref_slot=False)
class ModelRegistry:
    """The whole registry, as ``client.models.registry()`` returns it.

    Attributes:
        models: every model with at least one endpoint.
        total: the count the API reported.
        filters: the API's ``filters`` (providers, authors, capabilities), as sent.
    """

    models: list[RegistryModel] = attrs.field(factory=list)
    total: int | None = None
    filters: dict[str, Any] | None = None
    extra: Mapping[str, Any] = _extra_field()
    missing: frozenset[str] = _missing_field()

    def get(self, model: str) -> RegistryModel | None:
        """The model named ``model`` (a bare id, or ``id/provider...``: the id is used)."""
        wanted = model.split("/", 1)[0].strip()
        return next((m for m in self.models if m.id == wanted), None)

    def estimate_cost(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        provider: str | None = None,
    ) -> float | None:
        """An estimate of a request's cost in USD from the registry's base prices.

        Args:
            model: the model id (``gpt-4o-mini``, or ``gpt-4o-mini/openai``: then that
                provider's prices are used unless ``provider`` is given).
            prompt_tokens, completion_tokens: the token counts.
            provider: whose prices to use (default: the first priced endpoint).

        Returns:
            USD, or None when the model or its prices are unknown. An estimate: cache
            discounts, pricing tiers and other units are not counted.
        """
        parts = model.split("/")
        found = self.get(parts[0])
        if found is None:
            return None
        pricing = found.pricing(provider or (parts[1] if len(parts) > 1 else None))
        return None if pricing is None else pricing.cost(prompt_tokens, completion_tokens)
