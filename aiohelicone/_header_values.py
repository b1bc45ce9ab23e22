"""Layer 0 (core): single Helicone header values: checks, rendering; ``RateLimitPolicy``.

The vocabulary :class:`HeliconeOptions` (``_helicone.py``) is declared with (no I/O). Each
option field names three functions from here:

- a check, called with the label to name in the error (``helicone.retry_num``,
  ``metadata['Helicone-Retry-Num']``): the gateway silently ignores or replaces many bad
  values, so they are refused before sending;
- a renderer, value -> header text (numbers never in exponent form, booleans ``true``/``false``,
  ignore keys JSON-quoted: see :func:`render_ignore_keys`);
- a parser for LiteLLM-style ``metadata`` values (``"true"``, ``"3"``, ``"max-age=60"``...).

:class:`RateLimitPolicy` is the one structured value: ``quota;w=seconds[;u=unit][;s=segment]``.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from ._exceptions import InvalidInputError

__all__ = [
    "AUTH_HEADERS",
    "FORBIDDEN_HEADERS",
    "FRAMING_HEADERS",
    "Check",
    "FromMeta",
    "MAX_BUCKET_SIZE",
    "MAX_CACHE_AGE",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "RateLimitPolicy",
    "Render",
    "check_bool",
    "check_header_name",
    "check_header_value",
    "check_headers",
    "check_ignore_keys",
    "check_non_negative_number",
    "check_policy",
    "check_property",
    "check_request_header",
    "check_request_id",
    "check_secret",
    "choice_checker",
    "format_number",
    "int_checker",
    "meta_bool",
    "meta_cache_control",
    "meta_float",
    "meta_ignore_keys",
    "meta_int",
    "meta_policy",
    "meta_str",
    "render_bool",
    "render_ignore_keys",
]

MAX_CACHE_AGE = 31_536_000  # 365 days, the gateway's cap (util/cache/cacheSettings.ts)
MAX_BUCKET_SIZE = 20  # larger values make the gateway answer 500
MIN_WINDOW = 60
MAX_WINDOW = 31_536_000

# RFC 9110 token: what a header name (and so a property name) may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The gateway's getValidUUID: anything else is silently replaced by a random id.
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)
# worker/src/lib/rate-limit/policyParser.ts, with JavaScript's ASCII-only \w.
_POLICY = re.compile(
    r"(\d+(?:\.\d+)?);w=(\d+)(?:;u=(request|cents))?(?:;s=([\w-]+))?",
    re.IGNORECASE | re.ASCII,
)
_SEGMENT = re.compile(r"[\w-]+", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)
_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_S_MAXAGE = re.compile(r"s-maxage=(\d+)", re.ASCII)
_MAX_AGE = re.compile(r"max-age=(\d+)", re.ASCII)

#: Headers no caller may set (in options, ``extra_headers`` or ``default_headers``): keys
#: belong to the client, framing to the HTTP layer. A caller's ``Transfer-Encoding: chunked``
#: next to our ``Content-Length`` is the shape of request smuggling (RFC 9112 section 6.1).
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "helicone-auth"})
FRAMING_HEADERS = frozenset(
    {
        "content-length",
        "content-type",
        "host",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
FORBIDDEN_HEADERS = AUTH_HEADERS | FRAMING_HEADERS


Check = Callable[[str, Any], None]
Render = Callable[[Any], str]
FromMeta = Callable[[str, Any], Any]


# ---------------------------------------------------------------------------------------
# Small checks, each taking the label to name in the error.


def _is_header_safe(value: str) -> bool:
    # Visible ASCII and space only: no CR/LF/NUL, no control character, no non-ASCII.
    return value.isascii() and value.isprintable()


def check_header_value(label: str, value: object, *, allow_empty: bool = False) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(label, f"must be a string, not {type(value).__name__}")
    if not value and not allow_empty:
        raise InvalidInputError(label, "must not be empty")
    if not _is_header_safe(value):
        # Name the character, not the value: the value may be a credential.
        index, char = next((i, c) for i, c in enumerate(value) if not " " <= c <= "~")
        raise InvalidInputError(
            label,
            f"is not header-safe: {char!r} at index {index}; only printable ASCII is "
            "allowed (no CR, LF, NUL, control or non-ASCII characters)",
        )


def check_secret(label: str, value: object) -> None:
    """A key sent in a header (``api_key``, ``provider_api_key``): printable ASCII, trimmed.

    A space or tab at either end (a copy-paste from a dashboard) is refused here rather than
    sent, because the HTTP layer would refuse it later with the whole header in its message.
    """
    check_header_value(label, value)
    assert isinstance(value, str)
    if value != value.strip():
        raise InvalidInputError(label, "starts or ends with whitespace (a copy-paste slip?)")


def check_header_name(label: str, name: object) -> None:
    if not isinstance(name, str):
        raise InvalidInputError(label, f"header names must be strings, not {type(name).__name__}")
    if not _TOKEN.fullmatch(name):
        raise InvalidInputError(
            label, f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
        )


def check_request_header(label: str, name: object, value: object) -> None:
    """One header a caller adds: a token name, not a forbidden one, a printable value.

    The label names the header (``extra_headers['X-Team']``); the value is never echoed.
    """
    check_header_name(label, name)
    assert isinstance(name, str)
    lower = name.lower()
    if lower in AUTH_HEADERS:
        raise InvalidInputError(
            label,
            f"{name!r} cannot be set here: pass keys to the client (api_key, "
            "provider_api_key); headers and options show up in reprs and logs",
        )
    if lower in FRAMING_HEADERS:
        raise InvalidInputError(
            label, f"{name!r} is a framing header: the transport sets it from the request"
        )
    check_header_value(label, value, allow_empty=True)


def check_headers(field: str, headers: object) -> dict[str, str]:
    """A caller's header mapping (``extra_headers``, ``default_headers``), checked.

    Returns:
        The headers with lower-case names (a name given twice in two spellings: the last
        one wins).

    Raises:
        InvalidInputError: not a mapping, or a header that :func:`check_request_header`
            refuses; ``field`` is e.g. ``extra_headers['X-Team']``.
    """
    if not isinstance(headers, Mapping):
        raise InvalidInputError(
            field, f"must be a mapping of header names to values, not {type(headers).__name__}"
        )
    checked: dict[str, str] = {}
    for name, value in headers.items():
        label = f"{field}[{name!r}]" if isinstance(name, str) else field
        check_request_header(label, name, value)
        checked[name.lower()] = value
    return checked


def check_bool(label: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(label, f"must be True or False, not {value!r}")


def int_checker(low: int, high: int | None = None) -> Check:
    def check(label: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(label, f"must be an integer, not {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise InvalidInputError(label, f"must be {bound}, got {value}")

    return check


def check_non_negative_number(label: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(label, f"must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(label, f"must be a finite number >= 0, got {value!r}")


def check_request_id(label: str, value: object) -> None:
    check_header_value(label, value)
    assert isinstance(value, str)
    if not _UUID.fullmatch(value):
        raise InvalidInputError(
            label,
            f"{value!r} is not a UUID of version 1-5 in 8-4-4-4-12 form "
            "(the gateway would silently replace it with a random id)",
        )


def choice_checker(*choices: str) -> Check:
    def check(label: str, value: object) -> None:
        if value not in choices:
            raise InvalidInputError(label, f"must be one of {', '.join(choices)}; got {value!r}")

    return check


def check_policy(label: str, value: object) -> None:
    if not isinstance(value, RateLimitPolicy):
        raise InvalidInputError(
            label, f"must be a RateLimitPolicy (see RateLimitPolicy.parse), not {value!r}"
        )


def check_ignore_keys(label: str, value: object) -> None:
    for key in value:  # type: ignore[attr-defined]
        if not isinstance(key, str) or not key:
            raise InvalidInputError(label, f"keys must be non-empty strings, got {key!r}")
        if not _is_header_safe(key) or any(c in key for c in ',"\\'):
            raise InvalidInputError(
                label, f"key {key!r} must be printable ASCII without ',', '\"' or '\\\\'"
            )


def check_property(label: str, name: object, value: object) -> None:
    check_header_name(label, name)
    check_header_value(label, value, allow_empty=True)


# ---------------------------------------------------------------------------------------
# Rendering and parsing of single values.


def format_number(value: float) -> str:
    """A number as the gateway's ``\\d+(\\.\\d+)?`` grammars accept it (no exponent)."""
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(decimal.Decimal(text), "f")
    return text


def render_bool(value: bool) -> str:
    return "true" if value else "false"


def render_ignore_keys(value: tuple[str, ...]) -> str:
    # JSON-quoted, comma-joined: the form JSON.parse("[" + v + "]") reads (issue #5768).
    return ",".join(f'"{key}"' for key in value)


def meta_str(label: str, value: object) -> str:
    if isinstance(value, bool):
        return render_bool(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return format_number(value)
    if isinstance(value, str):
        return value
    raise InvalidInputError(label, f"must be a string (or bool/int), not {type(value).__name__}")


def meta_bool(label: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInputError(label, f"must be 'true' or 'false', got {value!r}")


def meta_int(label: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidInputError(label, f"must be a non-negative integer, got {value!r}")


def meta_float(label: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        return float(text) if "." in text else int(text)
    raise InvalidInputError(label, f"must be a non-negative number, got {value!r}")


def meta_cache_control(label: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        # The gateway prefers s-maxage over max-age (cacheSettings.ts buildCacheControl).
        match = _S_MAXAGE.search(value) or _MAX_AGE.search(value)
        if match:
            return int(match.group(1))
    raise InvalidInputError(label, f"expected 'max-age=<seconds>', got {value!r}")


def meta_ignore_keys(label: str, value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(value)
    if not isinstance(value, str):
        raise InvalidInputError(label, f"must be a string, not {type(value).__name__}")
    text = value.strip()
    if text.startswith(("[", '"')):
        # Already JSON: '["a","b"]' or the gateway's bracket-less '"a","b"'.
        try:
            keys = json.loads(text if text.startswith("[") else f"[{text}]")
        except ValueError:
            raise InvalidInputError(label, f"{value!r} is not a JSON list of keys") from None
        if not isinstance(keys, list):
            raise InvalidInputError(label, f"{value!r} is not a JSON list of keys")
        return tuple(keys)
    # The documented comma list.
    return tuple(key.strip() for key in text.split(",") if key.strip())


def meta_policy(label: str, value: object) -> RateLimitPolicy:
    if isinstance(value, RateLimitPolicy):
        return value
    if not isinstance(value, str):
        raise InvalidInputError(label, f"must be a string, not {type(value).__name__}")
    return RateLimitPolicy._parse(value, label)


# ---------------------------------------------------------------------------------------
# Rate-limit policy.


def _validate_quota(instance: Any, attribute: Any, value: Any) -> None:
    label = "helicone.rate_limit_policy.quota"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(label, f"must be a number, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(label, f"must be a finite number > 0, got {value!r}")


def _validate_window(instance: Any, attribute: Any, value: Any) -> None:
    int_checker(MIN_WINDOW, MAX_WINDOW)("helicone.rate_limit_policy.window", value)


def _validate_unit(instance: Any, attribute: Any, value: Any) -> None:
    choice_checker("request", "cents")("helicone.rate_limit_policy.unit", value)


def _normalise_segment(value: str | None) -> str | None:
    # The gateway lowercases the segment before comparing it with "user".
    if isinstance(value, str) and value.lower() == "user":
        return "user"
    return value


def _validate_segment(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value):
        raise InvalidInputError(
            "helicone.rate_limit_policy.segment",
            f"must be 'user' or a property name of letters, digits, '_' and '-'; got {value!r}",
        )


@attrs.frozen
class RateLimitPolicy:
    """A ``Helicone-RateLimit-Policy``: at most ``quota`` per ``window`` seconds.

    Args:
        quota: requests (or cents) allowed per window; > 0, decimals allowed.
        window: the window in seconds, 60 to 31,536,000.
        unit: ``"request"`` or ``"cents"`` (cost-based).
        segment: None for one global bucket, ``"user"`` for one bucket per
            ``Helicone-User-Id``, or a property name for one bucket per value of
            ``Helicone-Property-<name>``.

    Raises:
        InvalidInputError: a value outside those ranges.
    """

    quota: int | float = attrs.field(validator=_validate_quota)
    window: int = attrs.field(validator=_validate_window)
    unit: Literal["request", "cents"] = attrs.field(default="request", validator=_validate_unit)
    segment: str | None = attrs.field(
        default=None, converter=_normalise_segment, validator=_validate_segment
    )

    def header_value(self) -> str:
        """The header value, e.g. ``1000;w=3600;u=request;s=user``.

        Returns:
            A string matching the gateway's
            ``^(\\d+(\\.\\d+)?);w=(\\d+)(;u=(request|cents))?(;s=[\\w-]+)?$``.
        """
        value = f"{format_number(self.quota)};w={self.window};u={self.unit}"
        if self.segment is not None:
            value += f";s={self.segment}"
        return value

    @classmethod
    def parse(cls, value: str) -> RateLimitPolicy:
        """Parse a raw header value, as the gateway would.

        Args:
            value: e.g. ``"100;w=60;s=user"`` (case-insensitive, surrounding spaces ignored).

        Returns:
            The policy.

        Raises:
            InvalidInputError: the value does not match the grammar, or a part is out of
                range (where the gateway would silently not limit at all).
        """
        return cls._parse(value, "helicone.rate_limit_policy")

    @classmethod
    def _parse(cls, value: str, label: str) -> RateLimitPolicy:
        if not isinstance(value, str):
            raise InvalidInputError(label, f"must be a string, not {type(value).__name__}")
        match = _POLICY.fullmatch(value.strip())
        if match is None:
            raise InvalidInputError(
                label,
                f"{value!r} does not match '<quota>;w=<seconds>[;u=request|cents]"
                "[;s=user|<property>]' (parts in that order)",
            )
        quota_text, window_text, unit, segment = match.groups()
        quota: int | float = float(quota_text) if "." in quota_text else int(quota_text)
        try:
            return cls(
                quota,
                int(window_text),
                "cents" if unit and unit.lower() == "cents" else "request",
                segment,
            )
        except InvalidInputError as exc:
            part = exc.field.rpartition(".")[2]
            raise InvalidInputError(label, f"{value!r}: {part} {exc.problem}") from None
