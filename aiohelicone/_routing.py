"""Layer 4 (fallback): whether a request runs as a client-side chain, and running it.

The resources ask a :class:`Router` for every model string: a single target, or a chain
under ``fallback="gateway"``, is one plain request and costs nothing here (``_fallback.py``
is not even imported); a chain to walk client-side gets a :class:`ChainPlan` and is run by
``_fallback.run_plan`` over the send path. The router holds the client's fallback default,
its cool-down state and its ``on_attempt`` hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._fallback_policy import Attempt, ChainPlan, FallbackMode, FallbackPolicy, TargetHealth
    from ._modelstring import ModelChain
    from ._send import Call, RequestOptions, Sender, StreamClass

__all__ = ["Router"]


class Router:
    """Routes model chains for one client.

    Args:
        sender: the client's send path.
        fallback: the client's ``fallback`` (``"client"``, ``"gateway"`` or a
            :class:`FallbackPolicy`).
        fallback_deadline: the client's chain deadline (None: none).
        on_attempt: called with each :class:`Attempt` of a chain once it ended.

    Raises:
        InvalidInputError: a bad ``fallback`` or ``fallback_deadline``.
        TypeError: ``on_attempt`` is not callable.
    """

    __slots__ = ("_health", "_mode", "_on_attempt", "_policy", "_sender")

    def __init__(
        self,
        sender: Sender,
        fallback: FallbackMode | FallbackPolicy = "client",
        fallback_deadline: float | None = None,
        on_attempt: Callable[[Attempt], object] | None = None,
    ) -> None:
        self._sender = sender
        # The fallback policy (_fallback_policy.py) loads when one is set or a chain is first
        # planned, the runner (_fallback.py) when a chain first runs; until then the default
        # policy is just its mode.
        self._policy: FallbackPolicy | None = None
        self._mode: str = "client"
        if fallback != "client" or fallback_deadline is not None:
            from ._fallback_policy import FallbackPolicy, resolve_policy

            self._policy = resolve_policy(FallbackPolicy(), fallback, fallback_deadline)
            self._mode = self._policy.mode
        if on_attempt is not None and not callable(on_attempt):
            raise TypeError("on_attempt must be a callable taking an Attempt")
        self._on_attempt = on_attempt
        self._health: TargetHealth | None = None

    def plan(self, chain: ModelChain, fallback: object, deadline: float | None) -> ChainPlan | None:
        """The client-side chain to run, or None to send ``str(chain)`` as one request.

        Raises:
            InvalidInputError: a bad per-call ``fallback`` or ``fallback_deadline``.
        """
        if (fallback is None and deadline is None) and (
            len(chain.targets) == 1 or self._mode == "gateway"
        ):
            return None  # the fast path: nothing is built or imported
        from ._fallback_policy import ChainPlan, FallbackPolicy, resolve_policy

        base = self._policy
        if base is None:
            base = self._policy = FallbackPolicy()
        policy = resolve_policy(base, fallback, deadline)
        if len(chain.targets) == 1 or policy.mode == "gateway":
            return None
        return ChainPlan(chain, policy)

    async def run(
        self,
        plan: ChainPlan,
        body: dict[str, Any],
        call: Call,
        cast_to: type[Any],
        stream_cls: StreamClass[Any] | None,
        options: RequestOptions,
    ) -> Any:
        """Run ``plan`` for a prepared request (a whole answer, or a ``stream_cls`` stream).

        Raises:
            APIError: as ``_fallback.run_chain``.
        """
        sender = self._sender
        if body.get("model") != plan.first_wire:
            # extra_body replaced the model: send the request as the caller wrote it.
            return await sender.request(call, cast_to, stream_cls=stream_cls)

        from ._fallback import run_plan
        from ._fallback_policy import TargetHealth, request_id_fixed

        def fixed() -> bool:
            return request_id_fixed(
                sender.helicone, options.helicone, options.metadata, options.extra_headers
            )

        health = self._health
        if health is None:
            health = self._health = TargetHealth()
        return await run_plan(
            sender,
            plan,
            body,
            call,
            cast_to,
            stream_cls,
            fixed_request_id=fixed,
            health=health,
            on_attempt=self._on_attempt,
        )
