"""Layer 8 (test kit): the fake REST API's ``GET /v1/public/model-registry/models``.

Built from the fake gateway's own registry (``_registry.py``: which providers serve which
model) and the fake's price table (``_rest_api.PRICES``), so that a registry estimate of a
request's cost is exactly the cost the fake logs for it. The shape is the one valhalla/jawn's
``ModelRegistryController`` answers: a ``{"data", "error"}`` Result whose data is
``{"models": [...], "total": n, "filters": {...}}``, prices in USD per million tokens. Context
lengths, modalities and parameters are plausible, made-up values. The endpoint is public: no
key is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._registry import ModelInfo

__all__ = ["REGISTRY_PATH", "registry_data"]

REGISTRY_PATH = "/v1/public/model-registry/models"

# As Jawn's getProviderSlug maps them; others are their own slug.
_SLUGS = {"vertex": "google-vertex", "bedrock": "aws-bedrock"}
_AUTHORS = {
    "gpt": "openai",
    "o4": "openai",
    "text-embedding": "openai",
    "claude": "anthropic",
    "gemini": "google",
    "llama": "meta-llama",
    "deepseek": "deepseek",
}
_CHAT_PARAMETERS = [
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "seed",
]


def _author(name: str) -> str:
    return next((a for prefix, a in _AUTHORS.items() if name.startswith(prefix)), "unknown")


def _model(name: str, info: ModelInfo, price: tuple[float, float], context: int) -> dict[str, Any]:
    price_in, price_out = price
    endpoints = [
        {
            "provider": provider,
            "providerSlug": _SLUGS.get(provider, provider),
            "endpoint": {"provider": provider, "providerModelId": provider_model},
            "supportsPtb": True,
            "pricing": {"prompt": price_in, "completion": price_out},
        }
        for provider, provider_model in info.providers.items()
    ]
    inputs = ["text", "image"] if name.startswith(("gpt-4o", "claude", "gemini")) else ["text"]
    outputs = {"embedding": ["embedding"], "completion": ["text"]}.get(info.kind, ["text"])
    if name == "gemini-3-pro-image-preview":
        outputs = ["text", "image"]
    parameters = ["max_tokens"] if info.kind == "embedding" else _CHAT_PARAMETERS
    return {
        "id": name,
        "name": name,
        "author": _author(name),
        "contextLength": context,
        "endpoints": endpoints,
        "maxOutput": 0 if info.kind == "embedding" else 16384,
        "description": f"{name} (fake registry)",
        "inputModalities": inputs,
        "outputModalities": outputs,
        "supportedParameters": list(parameters),
    }


def registry_data(
    models: Mapping[str, ModelInfo],
    prices: Mapping[str, tuple[float, float]],
    default_price: tuple[float, float],
) -> dict[str, Any]:
    """The registry's ``data``: every model of ``models`` with the fake's prices.

    Args:
        models: the fake gateway's registry.
        prices: USD per million tokens (input, output) by model name.
        default_price: the price of a model missing from ``prices``.

    Returns:
        ``{"models", "total", "filters"}``, as Jawn answers it.
    """
    entries = [
        _model(name, info, prices.get(name, default_price), 8192 if "embedding" in name else 128000)
        for name, info in models.items()
    ]
    providers = sorted({e["provider"] for m in entries for e in m["endpoints"]})
    return {
        "models": entries,
        "total": len(entries),
        "filters": {
            "providers": [{"name": p, "displayName": p} for p in providers],
            "authors": sorted({m["author"] for m in entries}),
            "capabilities": [],
        },
    }
