"""Layer 0 (core): fallback chains as data: the decision, the policy, attempt records.

Pure (no I/O, no event loop): what ``_fallback.py``'s runner asks while it walks a chain
(``model="a,b,c"``) in the client. :func:`should_fall_back` decides whether a failed target
gives way to the next; :class:`FallbackPolicy` and :class:`CoolDown` are the policy as data;
:class:`TargetHealth` counts failures per target (the caller passes the time); an
:class:`Attempt` records one target tried or skipped; :class:`ChainPlan` is a chain to run
with its policy. See ``_fallback.py`` for the walk itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    ContentDecodingError,
    InvalidInputError,
    RateLimitError,
    StreamTruncatedError,
)
from ._helicone import REQUEST_ID_HEADER, HeliconeOptions
from ._metadata import HeliconeMetadata
from ._modelstring import ModelChain
from ._retry import all_provider_client_errors

__all__ = [
    "Attempt",
    "ChainPlan",
    "CoolDown",
    "FallbackMode",
    "FallbackPolicy",
    "TargetHealth",
    "attach_attempts",
    "outcome_of",
    "request_id_fixed",
    "resolve_policy",
    "should_fall_back",
]

FallbackMode: TypeAlias = Literal["client", "gateway"]
"""``"client"``: one request per target (default); ``"gateway"``: the whole string at once."""


# -- attempt records ---------------------------------------------------------------------


@attrs.frozen
class Attempt:
    """One target of a fallback chain, tried (with its retries) or skipped.

    Attributes:
        target: the target's model spec, e.g. ``gpt-4o-mini/openai`` (the request also
            carried the chain's ``!provider`` exclusions).
        outcome: ``"ok"``; the HTTP status as a string (``"500"``, ``"429"``); the error
            class name for errors without a status (``"APIConnectionError"``,
            ``"APITimeoutError"``, ``"StreamTruncatedError"``); ``"skipped"`` (cooling
            down); or ``"deadline"`` (the chain's deadline ran out during this attempt).
        status_code: the HTTP status of the final answer, when there was one.
        error: the error the target ended with (None for ``ok``, ``skipped``, ``deadline``).
        elapsed: seconds spent on this target, retries and their waits included.
        request_id: the ``Helicone-Request-Id`` sent for this attempt (look it up in
            Helicone); None for a skipped target.
    """

    target: str
    outcome: str
    status_code: int | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)
    elapsed: float = 0.0
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        """Whether this attempt served the request."""
        return self.outcome == "ok"


def outcome_of(error: BaseException) -> tuple[str, int | None]:
    """The ``(outcome, status_code)`` an error gives in the attempt log.

    Args:
        error: what the target ended with.

    Returns:
        The status as a string and the status for status errors; the class name and None
        otherwise.
    """
    if isinstance(error, APIStatusError):
        return str(error.status_code), error.status_code
    return type(error).__name__, None


# -- the decision --------------------------------------------------------------------------

# Provider messages for "the prompt does not fit this model" (OpenAI code
# context_length_exceeded and its "maximum context length" message; Anthropic's "prompt is
# too long"; generic "context window"). A model with a longer context may serve it.
_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|maximum context|context window|prompt is too long", re.IGNORECASE
)
# Gateway attempt types that are about the target, not the request (helicone-api.md §5.2).
_TARGET_SPECIFIC_TYPES = frozenset({"model_not_supported", "missing_provider_key", "disallowed"})
_NO_PROVIDERS = "no available providers"


def _mentions_context_length(error: APIStatusError) -> bool:
    texts = [error.message, error.code or "", error.type or ""]
    texts.extend(d.message or "" for d in error.details)
    return any(_CONTEXT_LENGTH.search(text) for text in texts)


def _target_specific(error: APIStatusError) -> bool:
    if _NO_PROVIDERS in error.message.lower():
        return True
    return any(d.type in _TARGET_SPECIFIC_TYPES for d in error.details)


def should_fall_back(error: BaseException) -> bool:
    """Whether a target that ended with ``error`` should give way to the next target.

    The default predicate of :class:`FallbackPolicy`. It is asked once per target, after
    the client's retries for that target are spent. The first matching row decides:

    ====  ==========================================================  ========  ==========
    row   the target ended with                                       moves on  why
    ====  ==========================================================  ========  ==========
    1     a connection error: refused, reset, cut off, any timeout    yes       a1
          (``APIConnectionError``, ``APITimeoutError``, stream
          first-event/idle/deadline timeouts)
    2     an answer in a content coding this client cannot decode     no        b4
          (``ContentDecodingError`` with ``unsupported``)
    2b    a broken answer: ``StreamTruncatedError`` (before any       yes       a2
          content reached the caller), ``APIResponseValidationError``
          (a corrupt compressed body too)
    3     429 that Helicone generated (``RateLimitError.              no        b1
          helicone_generated``: a rate-limit policy, credits)
    4     429 from a provider                                         yes       a3
    5     408                                                         yes       a3
    6     any 4xx/5xx whose message, code or gateway ``details`` say  yes       a4
          the prompt exceeds the context length
    7     5xx whose gateway ``details`` say the target cannot serve   yes       a5
          (``model_not_supported``, ``missing_provider_key``,
          ``disallowed``, "No available providers")
    8     5xx whose gateway ``details`` are all provider 4xx (not     no        b2
          408/429): a provider 400/404/422 the gateway wrapped
    9     any other 5xx                                               yes       a3
    10    any other status: 400, 401, 403, 404, 409, 422, ...         no        b2
    11    anything that is not an :class:`APIError`                   no        b3
    ====  ==========================================================  ========  ==========

    - a1: the target (or the way to it) is down or slow; another may answer.
    - a2: the target answered something unusable; another may answer properly.
    - a3: a transient or provider-side failure; another provider may be fine.
    - a4: a model with a longer context window may take the prompt (gateway rule, §2).
    - a5: the failure is about this target's routing, not the request.
    - b1: every target would hit the same Helicone limit (the gateway bails too).
    - b2: the request or the credentials are wrong; every target would refuse it.
      The gateway turns provider 400/404/422 into a 500 with the real code in
      ``details`` (helicone-api.md §5.2), hence row 8.
    - b3: a bug, bad input or cancellation is never hidden by trying another target
      (the runner does not even ask; it re-raises those at once).
    - b4: the coding comes from a hop every target's answer passes (a proxy, a CDN):
      the next target's answer would arrive encoded the same way.

    Args:
        error: the error the target ended with.

    Returns:
        True to try the next target, False to raise ``error`` now.
    """
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, ContentDecodingError) and error.unsupported:
        return False
    if isinstance(error, StreamTruncatedError | APIResponseValidationError):
        return True
    if not isinstance(error, APIStatusError):
        return False
    status = error.status_code
    if status == 429:
        return not (isinstance(error, RateLimitError) and error.helicone_generated)
    if status == 408:
        return True
    if _mentions_context_length(error):
        return True
    if status >= 500:
        if _target_specific(error):
            return True
        return not all_provider_client_errors(error.details)
    return False


# -- policy as data ------------------------------------------------------------------------


def _positive_int(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(attribute.name, f"must be an int >= 1, got {value!r}")


def _positive_seconds(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidInputError(
            attribute.name, f"must be a positive, finite number of seconds, got {value!r}"
        )


@attrs.frozen
class CoolDown:
    """Skip a target that just failed ``failures`` times in a row, for ``seconds``.

    State is per client and per target spec, shared by every chain naming that target.
    Only failures that moved the chain on count (a 400 says nothing about the target's
    health); a success resets the count. Once ``seconds`` have passed since its last
    failure the target is tried again, and one more failure starts a new cool-down.
    A skipped target is logged as an :class:`Attempt` with outcome ``"skipped"``. When
    every target of a chain is cooling down the call fails at once with
    :class:`FallbackExhaustedError` (nothing is sent).

    Args:
        failures: consecutive failures that start a cool-down (>= 1).
        seconds: how long the target is skipped after its last failure.

    Raises:
        InvalidInputError: a value out of range.
    """

    failures: int = attrs.field(default=3, validator=_positive_int)
    seconds: float = attrs.field(default=30.0, validator=_positive_seconds)


def _check_predicate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not callable(value):
        raise InvalidInputError(attribute.name, "must be a callable taking the error")


def _check_mode(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in ("client", "gateway"):
        raise InvalidInputError("fallback", f"must be 'client' or 'gateway', got {value!r}")


def _check_cool_down(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, CoolDown):
        raise InvalidInputError(attribute.name, "must be a CoolDown or None")


@attrs.frozen
class FallbackPolicy:
    """How a chain of several targets is run; applies only to multi-target model strings.

    Args:
        mode: ``"client"`` (default) sends one target per request, in order, and decides
            here what moves on; ``"gateway"`` sends the whole string in one request and
            lets the gateway walk it (one HTTP round trip, no attempt log, the gateway's
            rules).
        deadline: seconds for the whole chain, retries and waits included (None: no
            limit). For a stream it bounds the time until the serving target has sent
            its first content. When it runs out: :class:`FallbackExhaustedError`.
        should_fall_back: the predicate, called with the :class:`APIError` a target ended
            with: True moves on, False raises that error. Default :func:`should_fall_back`.
        cool_down: a :class:`CoolDown`, or None (default: never skip a target).

    Raises:
        InvalidInputError: a value of the wrong type or out of range.
    """

    mode: FallbackMode = attrs.field(default="client", validator=_check_mode)
    deadline: float | None = attrs.field(default=None, validator=_positive_seconds)
    should_fall_back: Callable[[BaseException], bool] = attrs.field(
        default=should_fall_back, validator=_check_predicate
    )
    cool_down: CoolDown | None = attrs.field(default=None, validator=_check_cool_down)


def resolve_policy(
    base: FallbackPolicy, fallback: object, deadline: float | None
) -> FallbackPolicy:
    """Apply a ``fallback=`` / ``fallback_deadline=`` pair over ``base``.

    Args:
        base: the policy so far (the client's).
        fallback: None (keep), ``"client"``/``"gateway"`` (change the mode) or a
            :class:`FallbackPolicy` (replace).
        deadline: None (keep) or seconds (replace the deadline).

    Returns:
        The policy to use.

    Raises:
        InvalidInputError: (field ``fallback`` or ``deadline``) a wrong value.
    """
    policy = base
    if isinstance(fallback, FallbackPolicy):
        policy = fallback
    elif fallback is not None:
        if fallback not in ("client", "gateway"):
            raise InvalidInputError(
                "fallback", f"must be 'client', 'gateway' or a FallbackPolicy, got {fallback!r}"
            )
        if fallback != policy.mode:
            policy = attrs.evolve(policy, mode=fallback)
    if deadline is not None:
        policy = attrs.evolve(policy, deadline=deadline)
    return policy


class ChainPlan:
    """A multi-target chain to run client-side, and the policy to run it with.

    Attributes:
        chain: the parsed model chain (two targets or more).
        policy: the resolved policy (mode ``"client"``).
        first_wire: the ``model`` sent for target 0 (exclusions included).
    """

    __slots__ = ("chain", "first_wire", "policy")

    def __init__(self, chain: ModelChain, policy: FallbackPolicy) -> None:
        self.chain = chain
        self.policy = policy
        self.first_wire = chain.for_target(0)


class TargetHealth:
    """Consecutive failures per target, for :class:`CoolDown` (pure: the caller passes time)."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state: dict[str, tuple[int, float]] = {}

    def cooling(self, target: str, now: float, rule: CoolDown) -> bool:
        """Whether ``target`` is to be skipped at time ``now``."""
        state = self._state.get(target)
        if state is None:
            return False
        failures, last = state
        return failures >= rule.failures and now - last < rule.seconds

    def failed(self, target: str, now: float) -> None:
        """Count one more failure of ``target`` in a row."""
        failures = self._state.get(target, (0, now))[0]
        self._state[target] = (failures + 1, now)

    def succeeded(self, target: str) -> None:
        """Forget the failures of ``target``."""
        self._state.pop(target, None)


def request_id_fixed(
    client_options: HeliconeOptions | None,
    call_options: HeliconeOptions | None,
    metadata: Mapping[str, Any] | None,
    extra_headers: Mapping[str, str] | None,
) -> bool:
    """Whether the caller fixed ``Helicone-Request-Id`` (then every attempt reuses it)."""
    if client_options is not None and client_options.request_id is not None:
        return True
    if call_options is not None and call_options.request_id is not None:
        return True
    wanted = REQUEST_ID_HEADER.lower()
    return any(
        isinstance(key, str) and key.lower() == wanted
        for source in (metadata, extra_headers)
        if source
        for key in source
    )


def attach_attempts(error: APIError, attempts: tuple[Attempt, ...]) -> None:
    """Set ``error.helicone.attempts`` (creating the metadata when the error had none)."""
    meta = error.helicone
    if meta is None:
        meta = HeliconeMetadata(request_id=error.request_id)
    error.helicone = attrs.evolve(meta, attempts=attempts)
