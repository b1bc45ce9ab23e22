"""Layer 8 (test kit): the fake gateway's model registry and model-string routing (pure, no I/O).

Mirrors ../shared/helicone-api.md §2 (SimpleAIGateway ``parseAndPrepareRequest`` and
AttemptBuilder): the ``model`` field is split on ``,``; ``!provider`` parts are global
exclusions; every other part is a spec ``model``, ``model/provider`` or
``model/provider/deployment`` that expands into ordered attempts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Literal

import attrs

from aiohelicone._modelstring import KNOWN_PROVIDERS

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_ALIASES",
    "PROVIDERS",
    "Attempt",
    "ModelInfo",
    "ModelStringError",
    "build_attempts",
    "parse_model_field",
]

#: Provider names the gateway accepts (packages/cost/models/providers/index.ts): the
#: library's own list, so that the fake and the client's warning agree.
PROVIDERS: frozenset[str] = KNOWN_PROVIDERS

ModelKind = Literal["chat", "completion", "embedding"]


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class ModelInfo:
    """One model of the fake registry.

    Args:
        providers: provider name -> the provider's own model id (sent back as
            ``Helicone-Model`` and in the body's ``model``). The mapping's order is the
            routing order the gateway uses for an automatic spec (the real gateway sorts by
            price, then provider priority).
        kind: which endpoint the model serves; asking another endpoint for it makes the
            provider fail the attempt (as OpenAI does: "This is not a chat model...").
        dimensions: default embedding size (embedding models only).

    Raises:
        ValueError: a provider name is not one the gateway knows.
    """

    providers: Mapping[str, str] = attrs.field(converter=_frozen_mapping)
    kind: ModelKind = "chat"
    dimensions: int = 1536

    @providers.validator
    def _check_providers(self, _attribute: object, value: Mapping[str, str]) -> None:
        unknown = sorted(set(value) - PROVIDERS)
        if unknown:
            raise ValueError(f"unknown provider(s) {unknown}; known: {sorted(PROVIDERS)}")


#: The built-in registry. Pass ``models=`` to :class:`FakeGateway` to replace or extend it.
DEFAULT_MODELS: Mapping[str, ModelInfo] = MappingProxyType(
    {
        "gpt-4o-mini": ModelInfo({"openai": "gpt-4o-mini-2024-07-18", "azure": "gpt-4o-mini"}),
        "gpt-4o": ModelInfo({"openai": "gpt-4o-2024-08-06", "azure": "gpt-4o"}),
        "gpt-4.1-nano": ModelInfo({"openai": "gpt-4.1-nano-2025-04-14"}),
        # Reasoning models: the fake's Responses answers start with a reasoning item.
        "gpt-5": ModelInfo({"openai": "gpt-5-2025-08-07", "azure": "gpt-5"}),
        "o4-mini": ModelInfo({"openai": "o4-mini-2025-04-16"}),
        # The seed's LiteLLM examples use "gpt-4" (packages/cost/models/authors/openai/gpt-4).
        "gpt-4": ModelInfo({"openai": "gpt-4"}),
        "claude-3.5-haiku": ModelInfo(
            {
                "anthropic": "claude-3-5-haiku-20241022",
                "bedrock": "anthropic.claude-3-5-haiku-20241022-v1:0",
            }
        ),
        "claude-3.5-sonnet-v2": ModelInfo(
            {
                "anthropic": "claude-3-5-sonnet-20241022",
                "bedrock": "anthropic.claude-3-5-sonnet-20241022-v2:0",
            }
        ),
        "claude-3-5-sonnet-20241022": ModelInfo({"anthropic": "claude-3-5-sonnet-20241022"}),
        "claude-sonnet-4": ModelInfo(
            {
                "anthropic": "claude-sonnet-4-20250514",
                "bedrock": "anthropic.claude-sonnet-4-20250514-v1:0",
                "vertex": "claude-sonnet-4@20250514",
            }
        ),
        "gemini-2.5-flash": ModelInfo(
            {"google-ai-studio": "gemini-2.5-flash", "vertex": "gemini-2.5-flash"}
        ),
        # Image output through chat completions (docs/gateway/concepts/image-generation.mdx).
        "gemini-3-pro-image-preview": ModelInfo({"google-ai-studio": "gemini-3-pro-image-preview"}),
        "llama-3.3-70b": ModelInfo(
            {
                "groq": "llama-3.3-70b-versatile",
                "deepinfra": "meta-llama/Llama-3.3-70B-Instruct",
                "cerebras": "llama-3.3-70b",
            }
        ),
        "deepseek-reasoner": ModelInfo({"deepseek": "deepseek-reasoner"}),
        "gpt-3.5-turbo-instruct": ModelInfo(
            {"openai": "gpt-3.5-turbo-instruct"}, kind="completion"
        ),
        "text-embedding-3-small": ModelInfo(
            {"openai": "text-embedding-3-small"}, kind="embedding", dimensions=1536
        ),
        "text-embedding-3-large": ModelInfo(
            {"openai": "text-embedding-3-large"}, kind="embedding", dimensions=3072
        ),
    }
)

#: Legacy names the gateway rewrites before routing (``MODEL_NAME_MAPPINGS``).
MODEL_ALIASES: Mapping[str, str] = MappingProxyType(
    {"claude-3.5-sonnet": "claude-3.5-sonnet-v2", "deepseek-r1": "deepseek-reasoner"}
)


class ModelStringError(Exception):
    """The model field is refused before routing (400, plain text)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@attrs.frozen
class Attempt:
    """One (model, provider, billing path) the gateway will try, in order.

    Attributes:
        model: the registry model name from the spec.
        provider: the provider to call.
        provider_model: the provider's model id.
        mode: ``"ptb"`` (Helicone credits) or ``"byok"`` (the org's own provider key).
        custom_uid: the deployment id of a ``model/provider/<id>`` spec.
        kind: the registry kind of the model, or None for a passthrough (unknown) model.
    """

    model: str
    provider: str
    provider_model: str
    mode: Literal["ptb", "byok"]
    custom_uid: str | None = None
    kind: ModelKind | None = None

    @property
    def source(self) -> str:
        """The attempt's name in error details, e.g. ``gpt-4o/openai/ptb``."""
        tail = f"/{self.custom_uid}" if self.custom_uid else ""
        return f"{self.model}/{self.provider}/{self.mode}{tail}"

    @property
    def target(self) -> str:
        """``model/provider``: the key :meth:`FakeGateway.script` uses."""
        return f"{self.model}/{self.provider}"


def parse_model_field(model: str) -> tuple[list[str], frozenset[str]]:
    """Split a ``model`` string into ordered specs and excluded providers.

    Args:
        model: the body's ``model`` string.

    Returns:
        The specs in order (trimmed, possibly empty strings) and the excluded providers.

    Raises:
        ModelStringError: ``!`` without a provider, or an unknown provider after ``!``.
    """
    specs: list[str] = []
    excluded: set[str] = set()
    for part in (p.strip() for p in model.split(",")):
        if not part.startswith("!"):
            specs.append(part)
            continue
        provider = part[1:]
        if not provider:
            raise ModelStringError("Invalid global ignore syntax. Use !provider (e.g., !openai)")
        if provider not in PROVIDERS:
            raise ModelStringError(
                f"Invalid provider in global ignore list: {provider}. "
                "See supported providers at https://helicone.ai/models"
            )
        excluded.add(provider)
    return specs, frozenset(excluded)


def build_attempts(
    specs: Sequence[str],
    excluded: Collection[str],
    models: Mapping[str, ModelInfo],
    byok: Collection[str] = (),
    aliases: Mapping[str, str] = MODEL_ALIASES,
) -> tuple[list[Attempt], list[str]]:
    """Expand specs into the ordered attempts the gateway walks.

    Invalid specs are skipped silently, as the gateway does (a TODO in AttemptBuilder); the
    reason is returned so tests can read it from the request record.

    Args:
        specs: from :func:`parse_model_field`.
        excluded: providers removed from every spec, automatic or explicit.
        models: the registry.
        byok: providers (``"azure"``) or deployments (``"azure/<id>"``) the org has its own
            key for. Those get a BYOK attempt before the PTB one, and only they can serve a
            model unknown to the registry (passthrough routing).
        aliases: legacy model names rewritten before lookup.

    Returns:
        The attempts in order, and one note per skipped spec.
    """
    attempts: list[Attempt] = []
    notes: list[str] = []
    for spec in specs:
        parts = spec.split("/")
        name = aliases.get(parts[0], parts[0])
        info = models.get(name)
        if len(parts) == 1:
            if info is None:
                notes.append(
                    f"Unknown model: {name}. Please specify a provider (e.g., {name}/openai) "
                    "or use a supported model. See https://helicone.ai/models"
                )
                continue
            for provider, provider_model in info.providers.items():
                attempts.extend(_provider_attempts(name, provider, provider_model, info, byok))
        else:
            provider = parts[1]
            if provider not in PROVIDERS:
                notes.append(
                    f"Invalid provider: {provider}. Valid providers: {', '.join(sorted(PROVIDERS))}"
                )
                continue
            uid = parts[2] if len(parts) == 3 else None
            if info is not None and provider in info.providers:
                attempts.extend(
                    _provider_attempts(name, provider, info.providers[provider], info, byok, uid)
                )
            elif _has_byok(byok, provider, uid):
                attempts.append(Attempt(name, provider, name, "byok", uid, None))
            else:
                notes.append(f"{spec}: not in the registry and no BYOK key for {provider}")
    kept = [a for a in attempts if a.provider not in excluded]
    notes.extend(f"{a.source}: provider excluded" for a in attempts if a.provider in excluded)
    return kept, notes


def _has_byok(byok: Collection[str], provider: str, uid: str | None) -> bool:
    return (f"{provider}/{uid}" if uid else provider) in byok


def _provider_attempts(
    name: str,
    provider: str,
    provider_model: str,
    info: ModelInfo,
    byok: Collection[str],
    uid: str | None = None,
) -> list[Attempt]:
    # Within a spec BYOK comes before PTB (provider-routing.mdx and the code).
    found: list[Attempt] = []
    if _has_byok(byok, provider, uid):
        found.append(Attempt(name, provider, provider_model, "byok", uid, info.kind))
    found.append(Attempt(name, provider, provider_model, "ptb", None, info.kind))
    return found
