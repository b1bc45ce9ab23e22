"""Layer 8 (test kit): how the fake REST API refuses a call, as Jawn's middleware does.

valhalla/jawn ``middleware/auth.ts`` and ``middleware/ratelimitter.ts`` (see issue #18):

- no usable ``Authorization`` header: **401** JSON ``{"error": "<why>"}``;
- a key that authenticates to no organisation, or lacks the permission the call needs:
  **401** JSON ``{"error": <why or null>, "trace": "isAuthenticated.error"}``. Every POST,
  queries included, needs write permission, so a read-only key gets this 401 on a query
  (the middleware's ``error`` is then null: the key itself was fine);
- authentication throwing (a token that is no key and no well-formed JWT): **400**
  ``text/plain`` ``Invalid token.``;
- over the rate limit (express-rate-limit, a fixed window per organisation): **429** JSON
  ``{"error": "Too many requests, please try again later."}`` with ``Retry-After`` and the
  draft-6 ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (seconds) / ``-Policy`` headers.

The fake's choices: public (``pk-``) keys are refused like unknown ones; a token that is not
``sk-``/``pk-`` and not three dot-separated parts counts as a malformed JWT; the rate limit
is off unless :meth:`RestGate.rate_limit` sets one, counts every authenticated call of a
key, and sends its headers only on the 429 (Jawn sends them on every answer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping

from ._emit import Step, response
from ._wire import JSON_TYPE, TEXT_TYPE, dumps

__all__ = ["RATE_LIMITED", "TRACE", "RestGate"]

TRACE = "isAuthenticated.error"
RATE_LIMITED = "Too many requests, please try again later."


class RestGate:
    """Authentication, key permissions and the rate limit of the fake REST API.

    Args:
        api_keys: keys accepted (None: any non-empty ``sk-`` key).
        clock: Unix seconds (the REST API's ``wall_clock``), read when a call arrives.

    Attributes:
        read_only_keys: keys without write permission: every POST and PUT with one gets
            the 401 a read-only key gets from Helicone.
    """

    def __init__(self, api_keys: Collection[str] | None, clock: Callable[[], float]) -> None:
        self._api_keys = api_keys
        self.clock = clock
        self.read_only_keys: set[str] = set()
        self._limit: tuple[int, float] | None = None
        self._windows: dict[str, tuple[float, int]] = {}

    def rate_limit(self, limit: int | None, window: float = 300.0) -> None:
        """Allow ``limit`` calls per key per fixed ``window`` seconds (None: no limit).

        Helicone's plans allow 1,000 / 10,000 / 100,000 requests per 5 minutes.
        """
        if limit is not None and (limit < 0 or not window > 0):
            raise ValueError("limit must be >= 0 and window > 0")
        self._limit = None if limit is None else (limit, float(window))
        self._windows.clear()

    def check(self, method: str, headers: Mapping[str, str]) -> list[Step] | None:
        """The refusal for a call, or None when it may go on."""
        value = headers.get("authorization", "").strip()
        key = value[7:].strip() if value.lower().startswith("bearer ") else ""
        if not key:
            return _json(401, {"error": "No authorization header: send Authorization: Bearer"})
        if not key.startswith(("sk-", "pk-")):
            if key.count(".") != 2 or not all(key.split(".")):
                return response(400, TEXT_TYPE, b"Invalid token.")
            return _json(401, {"error": "Invalid JWT", "trace": TRACE})
        if key.startswith("pk-"):
            return _json(
                401,
                {
                    "error": "Unauthorized: public keys (pk-) cannot use the REST API; "
                    "use a secret key",
                    "trace": TRACE,
                },
            )
        if self._api_keys is not None and key not in self._api_keys:
            return _json(401, {"error": "Unauthorized", "trace": TRACE})
        if key in self.read_only_keys and method in ("POST", "PUT", "PATCH", "DELETE"):
            return _json(401, {"error": None, "trace": TRACE})
        return self._count(key)

    def _count(self, key: str) -> list[Step] | None:
        if self._limit is None:
            return None
        limit, window = self._limit
        now = self.clock()
        start, used = self._windows.get(key, (now, 0))
        if now >= start + window:
            start, used = now, 0
        used += 1
        self._windows[key] = (start, used)
        if used <= limit:
            return None
        reset = str(max(1, math.ceil(start + window - now)))
        return response(
            429,
            JSON_TYPE,
            dumps({"error": RATE_LIMITED}),
            ("retry-after", reset),
            ("ratelimit-policy", f"{limit};w={math.ceil(window)}"),
            ("ratelimit-limit", str(limit)),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", reset),
        )


def _json(status: int, body: object) -> list[Step]:
    return response(status, JSON_TYPE, dumps(body))
