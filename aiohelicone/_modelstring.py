"""Layer 0 (core): the cloud gateway's ``model`` field, parsed into typed targets (no I/O).

The gateway reads ``model`` as a comma-separated chain (helicone-api.md §2; Helicone's
``SimpleAIGateway.parseAndPrepareRequest`` and ``provider-helpers.parseModelString``)::

    chain   := part ("," part)*            each part trimmed
    part    := "!" provider                a global provider exclusion
             | spec
    spec    := model[":online"] ["/" provider ["/" deployment]]

- ``model`` alone lets the gateway pick every provider that serves it;
  ``model/provider`` pins one provider; ``model/provider/<cuid>`` pins one BYOK deployment.
- ``:online`` turns on web search. The gateway only looks for it at the end of the *first*
  segment (``claude-3-5-sonnet:online/anthropic``), so that is the only place it is
  accepted here; ``gpt-4o/openai:online`` is refused with a hint instead of being sent as
  the provider ``openai:online``, which the gateway would reject.
- An exclusion naming an unknown provider makes the gateway answer 400, so it is refused
  here. An unknown provider in a spec is passed through with an
  :class:`UnknownProviderWarning`: the provider list grows faster than this library.
- LiteLLM's ``helicone/`` route prefix is stripped once, so model strings copied from
  LiteLLM code work unchanged.

The gateway skips invalid specs silently and then answers "No available providers", so
everything that is certainly malformed is refused before sending, with the part named.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable

import attrs

from ._exceptions import InvalidInputError

__all__ = [
    "KNOWN_PROVIDERS",
    "ModelChain",
    "ModelTarget",
    "UnknownProviderWarning",
    "parse_model",
]

KNOWN_PROVIDERS: frozenset[str] = frozenset(
    {
        # Helicone packages/cost/models/providers/index.ts (helicone-api.md §2).
        "anthropic",
        "azure",
        "baseten",
        "bedrock",
        "canopywave",
        "cerebras",
        "chutes",
        "deepinfra",
        "deepseek",
        "fireworks",
        "google-ai-studio",
        "groq",
        "helicone",
        "mistral",
        "nebius",
        "novita",
        "openai",
        "openrouter",
        "perplexity",
        "vertex",
        "xai",
    }
)
"""Provider names the cloud gateway accepted when this version was written."""

_FIELD = "model"
_ONLINE = ":online"
_LITELLM_PREFIX = "helicone/"
# Whitespace (Unicode included) or an ASCII control character: never part of a segment.
_BAD_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")


class UnknownProviderWarning(UserWarning):
    """A model string names a provider missing from :data:`KNOWN_PROVIDERS`.

    The string is still sent: the gateway may know a provider added after this release.
    """


def _check_segment(what: str, value: object, part: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(_FIELD, f"the {what} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidInputError(_FIELD, f"empty {what} in {part!r}")
    if "/" in value or "," in value:
        raise InvalidInputError(_FIELD, f"the {what} {value!r} must not contain '/' or ','")
    if _BAD_CHAR.search(value):
        raise InvalidInputError(
            _FIELD, f"whitespace or a control character inside the {what} {value!r}"
        )


def _validate_model(instance: ModelTarget, attribute: attrs.Attribute[str], value: str) -> None:
    _check_segment("model name", value, value)
    if value.endswith(_ONLINE):
        raise InvalidInputError(
            _FIELD, f"model name {value!r} ends with ':online'; set online=True instead"
        )


def _validate_provider(
    instance: ModelTarget, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is None:
        return
    _check_segment("provider", value, value)
    if value.endswith(_ONLINE):
        raise InvalidInputError(
            _FIELD,
            f"':online' goes on the model, not the provider: write "
            f"'{instance.model}{_ONLINE}/{value.removesuffix(_ONLINE)}'",
        )


def _validate_deployment(
    instance: ModelTarget, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is None:
        return
    _check_segment("deployment", value, value)
    if instance.provider is None:
        raise InvalidInputError(_FIELD, f"deployment {value!r} needs a provider before it")


@attrs.frozen
class ModelTarget:
    """One model spec of a chain: ``model[:online][/provider[/deployment]]``.

    Args:
        model: the model id, e.g. ``gpt-4o-mini`` (without ``:online``).
        provider: pin one provider, e.g. ``openai``; None lets the gateway choose.
        deployment: a BYOK deployment id (third segment); needs ``provider``.
        online: True for the ``:online`` web-search suffix.

    Raises:
        InvalidInputError: a segment is empty, or contains ``/``, ``,``, whitespace or a
            control character; or ``deployment`` is set without ``provider``.

    ``str(target)`` is the wire form, e.g. ``claude-3-5-sonnet:online/anthropic``.
    """

    model: str = attrs.field(validator=_validate_model)
    provider: str | None = attrs.field(default=None, validator=_validate_provider)
    deployment: str | None = attrs.field(default=None, validator=_validate_deployment)
    online: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    _wire: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        wire = self.model + _ONLINE if self.online else self.model
        if self.provider is not None:
            wire += "/" + self.provider
            if self.deployment is not None:
                wire += "/" + self.deployment
        object.__setattr__(self, "_wire", wire)

    def __str__(self) -> str:
        """The wire form of this spec."""
        return self._wire


def _validate_targets(
    instance: ModelChain,
    attribute: attrs.Attribute[tuple[ModelTarget, ...]],
    value: tuple[ModelTarget, ...],
) -> None:
    if not value:
        raise InvalidInputError(_FIELD, "the chain names no model, only exclusions")
    for target in value:
        if not isinstance(target, ModelTarget):
            raise InvalidInputError(_FIELD, f"chain entries must be ModelTarget, not {target!r}")


def _validate_exclusions(
    instance: ModelChain, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for provider in value:
        if not isinstance(provider, str) or not provider:
            raise InvalidInputError(_FIELD, "'!' needs a provider name after it, e.g. '!openai'")
        if provider not in KNOWN_PROVIDERS:
            # The gateway answers 400 "Invalid provider in global ignore list".
            raise InvalidInputError(
                _FIELD,
                f"unknown provider {provider!r} in the exclusion '!{provider}' "
                f"(the gateway refuses it); known: {', '.join(sorted(KNOWN_PROVIDERS))}",
            )


def _targets_tuple(value: Iterable[ModelTarget]) -> tuple[ModelTarget, ...]:
    return tuple(value)


def _exclusions_tuple(value: Iterable[str]) -> tuple[str, ...]:
    # A lone string is one provider, not a sequence of letters.
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class ModelChain:
    """An ordered fallback chain of targets plus global provider exclusions.

    Args:
        targets: the specs, tried in order by the gateway.
        exclusions: providers excluded from every target (``!provider`` parts).

    Raises:
        InvalidInputError: no target, or an exclusion names an unknown provider.

    ``str(chain)`` is the wire form, exclusions first: ``!azure,gpt-4o/openai,gpt-4o``.
    """

    targets: tuple[ModelTarget, ...] = attrs.field(
        converter=_targets_tuple, validator=_validate_targets
    )
    exclusions: tuple[str, ...] = attrs.field(
        default=(), converter=_exclusions_tuple, validator=_validate_exclusions
    )
    _prefix: str = attrs.field(init=False, eq=False, repr=False)
    _wire: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        prefix = "".join(f"!{provider}," for provider in self.exclusions)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_wire", prefix + ",".join(map(str, self.targets)))

    def __str__(self) -> str:
        """The wire form of the whole chain."""
        return self._wire

    def for_target(self, i: int) -> str:
        """The wire form that sends only target ``i``, keeping the exclusions.

        Args:
            i: index into :attr:`targets` (negative indices count from the end).

        Returns:
            e.g. ``!azure,gpt-4o/openai``: used by a client-side fallback executor that
            tries one target per request.

        Raises:
            IndexError: ``i`` is out of range.
        """
        return self._prefix + str(self.targets[i])


def _parse_spec(part: str, unknown: list[str]) -> ModelTarget:
    segments = part.split("/")
    if len(segments) > 3:
        raise InvalidInputError(
            _FIELD, f"too many '/' in {part!r}: expected model[/provider[/deployment]]"
        )
    if not segments[0]:
        raise InvalidInputError(_FIELD, f"{part!r} starts with '/': the model name is missing")
    if len(segments) > 1 and not segments[-1]:
        raise InvalidInputError(_FIELD, f"{part!r} ends with '/': a segment is missing after it")
    model = segments[0]
    online = model.endswith(_ONLINE)
    if online:
        model = model[: -len(_ONLINE)]
        if not model:
            raise InvalidInputError(_FIELD, f"{part!r}: ':online' with no model name before it")
    provider = segments[1] if len(segments) > 1 else None
    if provider == "":
        raise InvalidInputError(_FIELD, f"empty provider between '/' in {part!r}")
    deployment = segments[2] if len(segments) > 2 else None
    target = ModelTarget(model, provider, deployment, online)
    if provider is not None and provider not in KNOWN_PROVIDERS and provider not in unknown:
        unknown.append(provider)
    return target


@functools.lru_cache(maxsize=512)
def _parse_cached(value: str) -> tuple[ModelChain, tuple[str, ...]]:
    # Pure and cached: a client sends the same few model strings again and again.
    # Errors propagate and are not cached (lru_cache stores only returns).
    text = value[len(_LITELLM_PREFIX) :] if value.startswith(_LITELLM_PREFIX) else value
    if not text.strip():
        raise InvalidInputError(_FIELD, f"empty model string {value!r}")
    targets: list[ModelTarget] = []
    exclusions: list[str] = []
    unknown: list[str] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise InvalidInputError(
                _FIELD, f"empty entry in {value!r} (a doubled, leading or trailing comma)"
            )
        if part.startswith("!"):
            provider = part[1:]
            if not provider:
                raise InvalidInputError(
                    _FIELD, "'!' needs a provider name after it, e.g. '!openai'"
                )
            if _BAD_CHAR.search(provider):
                raise InvalidInputError(
                    _FIELD, f"whitespace or a control character inside the exclusion {part!r}"
                )
            if provider not in KNOWN_PROVIDERS:
                # The gateway answers 400 "Invalid provider in global ignore list".
                raise InvalidInputError(
                    _FIELD,
                    f"unknown provider {provider!r} in the exclusion {part!r} (the gateway "
                    f"refuses it); known: {', '.join(sorted(KNOWN_PROVIDERS))}",
                )
            if provider not in exclusions:
                exclusions.append(provider)
            continue
        targets.append(_parse_spec(part, unknown))
    chain = ModelChain(tuple(targets), tuple(exclusions))
    return chain, tuple(unknown)


def parse_model(value: str, *, stacklevel: int = 2) -> ModelChain:
    """Parse a gateway model string into a :class:`ModelChain`.

    Args:
        value: e.g. ``gpt-4o-mini``, ``gpt-4o/azure/<cuid>``, ``claude-3-5-sonnet:online``,
            ``!openai,gpt-4o-mini`` or ``helicone/gpt-4o-mini/openai,claude-3-5-haiku``.
        stacklevel: passed to :func:`warnings.warn`, so that a wrapper can point an
            :class:`UnknownProviderWarning` at its own caller.

    Returns:
        The chain; ``str()`` of it is the normalised wire form (LiteLLM prefix stripped,
        parts trimmed, exclusions first, duplicate exclusions dropped).

    Raises:
        InvalidInputError: (field ``model``) not a string, empty, an empty part, ``/`` at
            either end of a part, an empty provider, more than three segments, whitespace
            inside a segment, ``:online`` on the provider, an exclusion of an unknown
            provider, or only exclusions and no target.

    Warns:
        UnknownProviderWarning: for each provider not in :data:`KNOWN_PROVIDERS`.
    """
    if not isinstance(value, str):
        raise InvalidInputError(_FIELD, f"must be a string, not {type(value).__name__}")
    chain, unknown = _parse_cached(value)
    for provider in unknown:
        # Provider names are matched case-sensitively by the gateway.
        hint = f"did you mean {provider.lower()!r}? " if provider.lower() in KNOWN_PROVIDERS else ""
        warnings.warn(
            f"unknown provider {provider!r} in model {value!r}: sent as is; the gateway "
            f"may refuse it ({hint}known: {', '.join(sorted(KNOWN_PROVIDERS))})",
            UnknownProviderWarning,
            stacklevel=stacklevel,
        )
    return chain
