"""Layer 0 (core): the keys this process sends, and the one function masking them in errors.

A server may echo the request's headers in an error body (``{"error": "bad key",
"headers": {"authorization": "Bearer sk-..."}}``, a plain-text debug page), and that body
becomes ``str(exc)``, ``exc.body``, a batch output line and the CLI's error line. So every
client registers its own secrets here when it is built (``api_key``, ``provider_api_key``,
the ``posthog_key`` of its options, and a ``posthog_key`` a call brings when it is
prepared), and ``_exceptions.py`` passes every error's message, body and headers through
:func:`scrub` when the error is built. The registry is process-wide, not per client, because
errors are built in places that do not know their client (stream events, REST answers,
fallback summaries): a new place that builds an error is covered without remembering to be.

What a secret becomes:

- the mask is its first 6 characters then ``...***`` (``sk-hel...***``: enough to tell the
  Helicone key from a provider key), or just ``***`` for a secret under 20 characters;
- a run of text that starts with a secret's first 12 characters is masked as far as it
  matches the secret, so an excerpt cut in the middle of a key (error messages quote the
  first few hundred characters of a body) shows at most 11 of its characters;
- the forms a secret takes inside a JSON string or a ``repr`` (a backslash or quote in it
  escaped) are masked too;
- values under 8 characters are not registered: they cannot be told from ordinary words
  (masking a key ``k`` would mask every ``k``), and no real key is that short.

A secret is forgotten when the object that registered it is garbage collected.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable
from typing import Any

__all__ = ["is_registered", "mask", "register", "scrub", "scrub_text"]

_MIN_LENGTH = 8
_SHOWN = 6
_SHOWN_FROM = 20
_MATCHED = 12

_lock = threading.Lock()
_counts: dict[str, int] = {}
# Released by finalisers, which may run inside any allocation (even while _lock is held by
# the same thread): they only append here, and the next register() or scrub applies them.
_released: list[tuple[str, ...]] = []
# One pattern for the first characters of every secret, and per head the secrets (with
# their masks) that start with it; replaced whole on change, read without the lock.
_Table = tuple[re.Pattern[str], dict[str, list[tuple[str, str]]]]
_table: _Table | None = None


def mask(secret: str) -> str:
    """What ``secret`` is shown as: ``sk-hel...***``, or ``***`` when it is short.

    Args:
        secret: the value to hide.

    Returns:
        The mask (never more than the first 6 characters of ``secret``).
    """
    if len(secret) >= _SHOWN_FROM:
        return f"{secret[:_SHOWN]}...***"
    return "***"


def register(owner: object, secrets: Iterable[str | None]) -> None:
    """Mask ``secrets`` in every error built while ``owner`` is alive.

    Args:
        owner: the object the secrets belong to (a client, a prepared call); it must support
            weak references.
        secrets: the values; None and values under 8 characters are skipped.
    """
    wanted = tuple(
        {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_LENGTH and s.strip()}
    )
    if not wanted:
        return
    with _lock:
        _apply_released()
        for secret in wanted:
            _counts[secret] = _counts.get(secret, 0) + 1
        _rebuild()
    weakref.finalize(owner, _released.append, wanted)


def is_registered(secret: str) -> bool:
    """Whether ``secret`` is masked now (a prepared call skips registering it again)."""
    return secret in _counts


def _apply_released() -> None:
    # Called with _lock held.
    changed = False
    while _released:
        for secret in _released.pop():
            left = _counts.get(secret, 0) - 1
            if left > 0:
                _counts[secret] = left
            else:
                _counts.pop(secret, None)
            changed = True
    if changed:
        _rebuild()


def _rebuild() -> None:
    global _table
    by_head: dict[str, list[tuple[str, str]]] = {}
    # Longest first: where two secrets match the same run, the longer one's mask is shown.
    for secret in sorted(_counts, key=len, reverse=True):
        shown = mask(secret)
        for form in _quoted_forms(secret):
            by_head.setdefault(form[:_MATCHED], []).append((form, shown))
    if not by_head:
        _table = None
        return
    heads = sorted(by_head, key=len, reverse=True)
    _table = (re.compile("|".join(map(re.escape, heads))), by_head)


def _quoted_forms(secret: str) -> set[str]:
    """The secret as it is, and as it reads inside a JSON string or a Python repr.

    Messages quote bodies with ``repr`` (``\\`` and a quote escaped), and a body may be
    JSON inside JSON: a key with a backslash or a quote in it must be found in those forms.
    """
    backslashed = secret.replace("\\", "\\\\")
    return {
        secret,
        backslashed,
        backslashed.replace("'", "\\'"),
        backslashed.replace('"', '\\"'),
    }


def _current() -> _Table | None:
    if _released:
        with _lock:
            _apply_released()
    return _table


def _run_end(text: str, begin: int, end: int, secret: str) -> int:
    """Where the run of ``text`` from ``begin`` that matches ``secret`` ends."""
    limit = min(len(text), begin + len(secret))
    while end < limit and text[end] == secret[end - begin]:
        end += 1
    return end


def scrub_text(text: str) -> str:
    """``text`` with every registered secret (or a cut-off start of one) masked.

    Where several secrets start alike (two ``sk-helicone-`` keys), the one matching the
    longest run of the text decides, so that no tail of the other is left showing.

    Args:
        text: any text (a message, a body).

    Returns:
        The text, unchanged when it holds no secret.
    """
    table = _current()
    if table is None:
        return text
    pattern, by_head = table
    parts: list[str] = []
    start = 0
    while (found := pattern.search(text, start)) is not None:
        begin = found.start()
        end, shown = found.end(), ""
        for secret, secret_mask in by_head[found.group()]:
            run = found.end()
            while (
                run < len(text) and run - begin < len(secret) and text[run] == secret[run - begin]
            ):
                run += 1
            if not shown or run > end:
                end, shown = run, secret_mask
        parts += (text[start:begin], shown)
        start = end
    if not parts:
        return text
    parts.append(text[start:])
    return "".join(parts)


def scrub(value: Any) -> Any:
    """``value`` with secrets masked in every string inside it (keys of mappings too).

    Args:
        value: a decoded JSON value (dicts, lists, strings, numbers), or bytes.

    Returns:
        The same value when no secret is registered, else a copy with strings scrubbed
        (mappings become dicts, tuples stay tuples); other objects are returned as they are.
    """
    if _current() is None:
        return value
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1")
        scrubbed = scrub_text(text)
        return value if scrubbed == text else scrubbed.encode("latin-1", errors="replace")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrub(item) for item in value)
    return value
