"""Layer 4 (fallback): client-side chains: the decision, the policy, attempt records, a runner.

``model="gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic"`` names a chain. The gateway
can walk it itself (``fallback="gateway"``: one request carries the whole string), but then
the caller cannot see which target served, cannot fall back when the gateway itself is
unreachable or slow, and cannot choose which failures move on. By default aiohelicone walks
the chain in the client: one request per target, in order, each with the chain's global
``!provider`` exclusions (:meth:`ModelChain.for_target`).

For each target in turn::

    skip it           if the per-client cool-down says it just failed repeatedly
    send it           with the client's retry policy (backoff, Retry-After) as usual
    ok                -> return the answer; .helicone.attempts lists every attempt
    failed            -> should_fall_back(error)? next target : raise that error
    no target left    -> FallbackExhaustedError (every attempt, a summary message)

The decision (:func:`should_fall_back`), the policy records and :class:`TargetHealth` are
pure; :func:`run_chain` is the one async loop, and :func:`run_plan` plugs it into the send
path: each attempt is ``Sender.request`` (``Sender.send`` + ``decode`` for a whole answer, to
see its status), and a stream is read ahead with the streams layer's :func:`read_ahead`. A
single-target model string never reaches this module (``_routing.py`` decides, without
importing it): it is sent exactly as before, with no attempt log; so does a chain with
``fallback="gateway"``.

Each attempt sends a fresh ``Helicone-Request-Id`` (so each can be looked up in Helicone),
unless the caller fixed one (``HeliconeOptions.request_id``, ``metadata`` or
``extra_headers``): then every attempt reuses it, and Helicone sees them under one id.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

import anyio
import attrs

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    ContentDecodingError,
    FallbackExhaustedError,
    InvalidInputError,
    RateLimitError,
    StreamTruncatedError,
)
from ._helicone import REQUEST_ID_HEADER, HeliconeOptions, random_request_id
from ._metadata import HeliconeMetadata
from ._modelstring import ModelChain
from ._retry import all_provider_client_errors
from ._send import encode
from ._streaming import read_ahead, serve_fallback, stream_status

if TYPE_CHECKING:
    from ._send import Call, Sender, StreamClass

__all__ = [
    "Attempt",
    "ChainPlan",
    "CoolDown",
    "FallbackMode",
    "FallbackPolicy",
    "TargetHealth",
    "resolve_policy",
    "run_chain",
    "run_plan",
    "should_fall_back",
]

logger = logging.getLogger("aiohelicone")

R = TypeVar("R")

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


# -- the runner ----------------------------------------------------------------------------
# Kept lean: a chain whose first target serves must cost no more than a plain call (the
# benchmark checks it), so nothing for later targets is built until target 0 has failed.


class _Run:
    """The attempt log of one chain run, with its hook and log line."""

    __slots__ = ("attempts", "current", "on_attempt")

    def __init__(self, on_attempt: Callable[[Attempt], object] | None) -> None:
        self.attempts: list[Attempt] = []
        self.current: tuple[str, float, str | None] | None = None
        self.on_attempt = on_attempt

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        if logger.isEnabledFor(logging.DEBUG):
            # Only the target, outcome, timing and request id: never headers or bodies.
            logger.debug(
                "fallback attempt %d: target=%s outcome=%s elapsed=%.3fs request_id=%s",
                len(self.attempts),
                attempt.target,
                attempt.outcome,
                attempt.elapsed,
                attempt.request_id,
            )
        hook = self.on_attempt
        if hook is not None:
            try:
                hook(attempt)
            except Exception:
                # Instrumentation must not change the outcome of the call.
                logger.warning("the on_attempt hook raised; ignored", exc_info=True)


def attach_attempts(error: APIError, attempts: tuple[Attempt, ...]) -> None:
    """Set ``error.helicone.attempts`` (creating the metadata when the error had none)."""
    meta = error.helicone
    if meta is None:
        meta = HeliconeMetadata(request_id=error.request_id)
    error.helicone = attrs.evolve(meta, attempts=attempts)


def _set_fresh_attempts(meta: HeliconeMetadata, attempts: tuple[Attempt, ...]) -> None:
    # ``meta`` was built for this answer a moment ago and nobody else holds it yet, so this
    # completes its construction (as ``_decode`` does for ``.helicone``) instead of paying
    # for ``attrs.evolve`` (about 5 us, a measurable share of a fast call).
    object.__setattr__(meta, "attempts", attempts)


async def run_chain(
    chain: ModelChain,
    policy: FallbackPolicy,
    *,
    first: Call,
    call_for: Callable[[int], Call],
    attempt: Callable[[Call], Awaitable[tuple[R, int | None]]],
    health: TargetHealth,
    on_attempt: Callable[[Attempt], object] | None,
) -> tuple[R, tuple[Attempt, ...]]:
    """Try the targets of ``chain`` in order until one serves.

    Args:
        chain: two targets or more.
        policy: the decision, deadline and cool-down.
        first: the request prepared for target 0.
        call_for: builds the request for target ``i`` >= 1 (called only when needed).
        attempt: sends one prepared request (with retries); returns the result and status.
        health: the client's cool-down state.
        on_attempt: called with each :class:`Attempt` once it ended.

    Returns:
        The serving target's result and the attempt log (its last entry is ``ok``).

    Raises:
        APIError: the error of a target for which the predicate said stop, with
            ``.helicone.attempts`` set.
        FallbackExhaustedError: every target failed or was skipped, or the deadline ran out.
    """
    run = _Run(on_attempt)
    if policy.deadline is None:
        return await _walk(run, chain, policy, first, call_for, attempt, health)
    with anyio.move_on_after(policy.deadline):
        return await _walk(run, chain, policy, first, call_for, attempt, health)
    if run.current is not None:
        target, started, request_id = run.current
        run.add(
            Attempt(target, "deadline", elapsed=perf_counter() - started, request_id=request_id)
        )
    attempts = tuple(run.attempts)
    error = FallbackExhaustedError(
        attempts, reason=f"the fallback deadline of {policy.deadline:g} s ran out"
    )
    attach_attempts(error, attempts)
    raise error


async def _walk(
    run: _Run,
    chain: ModelChain,
    policy: FallbackPolicy,
    first: Call,
    call_for: Callable[[int], Call],
    attempt: Callable[[Call], Awaitable[tuple[R, int | None]]],
    health: TargetHealth,
) -> tuple[R, tuple[Attempt, ...]]:
    rule = policy.cool_down
    last: APIError | None = None
    for i, spec in enumerate(chain.targets):
        target = str(spec)
        if rule is not None and health.cooling(target, anyio.current_time(), rule):
            run.add(Attempt(target, "skipped"))
            continue
        call = first if i == 0 else call_for(i)
        # Elapsed times are wall-clock (perf_counter: cheap); the cool-down and the
        # deadline follow the event loop's clock (anyio), as a mock clock in tests would.
        started = perf_counter()
        run.current = (target, started, call.request_id)
        try:
            result, status = await attempt(call)
        except APIError as error:
            run.current = None
            moves_on = policy.should_fall_back(error)
            outcome, status = outcome_of(error)
            elapsed = perf_counter() - started
            run.add(Attempt(target, outcome, status, error, elapsed, call.request_id))
            if not moves_on:
                attach_attempts(error, tuple(run.attempts))
                raise
            if rule is not None:
                health.failed(target, anyio.current_time())
            last = error
            continue
        elapsed = perf_counter() - started
        run.current = None
        if rule is not None:
            health.succeeded(target)
        run.add(Attempt(target, "ok", status, None, elapsed, call.request_id))
        return result, tuple(run.attempts)
    attempts = tuple(run.attempts)
    reason = None if last is not None else "every target of the chain is cooling down"
    exhausted = FallbackExhaustedError(attempts, reason=reason)
    attach_attempts(exhausted, attempts)
    raise exhausted from last


# -- glue for the send path ---------------------------------------------------------------


def _retarget(
    plan: ChainPlan, body: dict[str, Any], first: Call, fixed_request_id: Callable[[], bool]
) -> Callable[[int], Call]:
    """A builder of the request for target ``i`` >= 1, from the one prepared for target 0."""

    def call_for(i: int) -> Call:
        request_id = first.request_id
        if request_id is None or not fixed_request_id():
            request_id = random_request_id()
        headers = dict(first.headers)
        headers[REQUEST_ID_HEADER] = request_id
        content = encode({**body, "model": plan.chain.for_target(i)})
        return attrs.evolve(first, content=content, headers=headers, request_id=request_id)

    return call_for


async def run_plan(
    sender: Sender,
    plan: ChainPlan,
    body: dict[str, Any],
    first: Call,
    cast_to: type[Any],
    stream_cls: StreamClass[Any] | None,
    *,
    fixed_request_id: Callable[[], bool],
    health: TargetHealth,
    on_attempt: Callable[[Attempt], object] | None,
) -> Any:
    """Run a chain over the send path; the result's ``.helicone.attempts`` lists every attempt.

    A whole answer is decoded per target. A stream is opened per target and read ahead
    (nothing is handed to the caller) until the first chunk with content, a refusal, a
    tool call or a finish reason, or the end of the stream. A failure before that point
    moves on as for a normal request, so the caller only ever sees the serving target's
    chunks (the chunks read ahead are replayed to it first). A failure after it raises
    :class:`StreamInterruptedError` from the stream, with the partial output and the
    target; nothing is replayed elsewhere.

    Args:
        sender: the send path.
        plan: the chain and policy.
        body: the final request body (its ``model`` is replaced per target).
        first: the request prepared for target 0.
        cast_to: the answer model.
        stream_cls: the stream class, for a stream request (None: a whole answer).
        fixed_request_id: says whether the caller fixed the request id (then every attempt
            reuses ``first.request_id``); asked only when a second target is needed.
        health: the client's cool-down state.
        on_attempt: called with each :class:`Attempt` once it ended.

    Returns:
        The serving target's answer or stream.

    Raises:
        APIError: as :func:`run_chain`.
    """
    once: Callable[[Call], Awaitable[tuple[Any, int | None]]]
    if stream_cls is None:

        async def once(call: Call) -> tuple[Any, int | None]:
            raw = await sender.send(call)
            return sender.decode(raw, cast_to, call), raw.status_code

    else:

        async def once(call: Call) -> tuple[Any, int | None]:
            stream = await sender.request(call, cast_to, stream_cls=stream_cls)
            status = stream_status(stream)
            await read_ahead(stream)
            return stream, status

    result, attempts = await run_chain(
        plan.chain,
        plan.policy,
        first=first,
        call_for=_retarget(plan, body, first, fixed_request_id),
        attempt=once,
        health=health,
        on_attempt=on_attempt,
    )
    if stream_cls is not None:
        serve_fallback(result, attempts[-1].target, attempts)
        return result
    meta = getattr(result, "helicone", None)
    if meta is None:  # decode always sets it; be safe for other answer types
        object.__setattr__(result, "helicone", HeliconeMetadata(attempts=attempts))
    else:
        _set_fresh_attempts(meta, attempts)
    return result
