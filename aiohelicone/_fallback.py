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
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs

from ._exceptions import APIError, FallbackExhaustedError
from ._fallback_policy import Attempt as Attempt
from ._fallback_policy import ChainPlan as ChainPlan
from ._fallback_policy import CoolDown as CoolDown
from ._fallback_policy import FallbackMode as FallbackMode
from ._fallback_policy import FallbackPolicy as FallbackPolicy
from ._fallback_policy import TargetHealth as TargetHealth
from ._fallback_policy import attach_attempts, outcome_of
from ._fallback_policy import resolve_policy as resolve_policy
from ._fallback_policy import should_fall_back as should_fall_back
from ._helicone import REQUEST_ID_HEADER, random_request_id
from ._metadata import HeliconeMetadata
from ._modelstring import ModelChain
from ._send import encode
from ._stream_base import read_ahead, serve_fallback, stream_status

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
