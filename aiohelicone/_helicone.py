"""Typed Helicone options -> request headers; response headers -> metadata (no I/O).

Request side (helicone-api.md §3; Helicone ``worker/src/lib/models/HeliconeHeaders.ts``):

- :class:`HeliconeOptions` holds every ``Helicone-*`` feature as a typed, validated field.
  The gateway is lenient in ways that hide mistakes (an invalid request id is silently
  replaced, an invalid rate-limit policy fails open, only the exact string ``"true"`` counts
  as true), so values are checked here and refused with the option named.
- :func:`resolve_helicone` merges client defaults < LiteLLM-style ``metadata`` < per-call
  options into the headers of one request, always with a ``Helicone-Request-Id``.

Response side (§4): :meth:`HeliconeMetadata.from_headers` reads ``Helicone-Id``, the cache
and rate-limit headers, and tolerates any garbage (an unparseable value becomes None).

Decisions worth knowing:

- ``Helicone-Cache-Ignore-Keys`` is documented as ``a,b`` but the gateway parses it with
  ``JSON.parse("[" + value + "]")`` (issue #5768), so it is sent JSON-quoted: ``"a","b"``.
  Keys containing ``,``, ``"`` or ``\\`` are refused, so each key is one plain JSON string.
  If the fix proposed in #5768 (split on commas, no JSON) ships, the quotes would become
  part of the key names: :func:`_render_ignore_keys` is the one place to change then
  (helicone-api.md §9, open question 1).
- A rate-limit policy segmented by ``user`` needs ``Helicone-User-Id`` or the body's
  ``user`` field (the gateway falls back to it), and ``s=<name>`` needs the property
  ``<name>`` (case-insensitive). Without them the gateway silently does not limit, so this
  is refused when headers are resolved.
- ``Authorization``, ``Helicone-Auth`` and framing headers are refused in ``extra_headers``:
  keys belong to the client (options show up in reprs), framing to the transport.
"""

from __future__ import annotations

import decimal
import json
import math
import operator
import os
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from ._exceptions import InvalidInputError

__all__ = [
    "CacheInfo",
    "HeliconeMetadata",
    "HeliconeOptions",
    "RateLimitInfo",
    "RateLimitPolicy",
    "ResolvedHelicone",
    "resolve_helicone",
]

REQUEST_ID_HEADER = "Helicone-Request-Id"
PROPERTY_PREFIX = "Helicone-Property-"
_PROPERTY_PREFIX_LOWER = PROPERTY_PREFIX.lower()

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

# Headers that options must not smuggle in: secrets belong to the client, framing to httpx2.
_FORBIDDEN_EXTRA = frozenset(
    {
        "authorization",
        "helicone-auth",
        "content-length",
        "content-type",
        "host",
        "transfer-encoding",
        "connection",
    }
)

_Check = Callable[[str, Any], None]
_Render = Callable[[Any], str]
_FromMeta = Callable[[str, Any], Any]


# ---------------------------------------------------------------------------------------
# Small checks, each taking the label to name in the error.


def _is_header_safe(value: str) -> bool:
    # Visible ASCII and space only: no CR/LF/NUL, no control character, no non-ASCII.
    return value.isascii() and value.isprintable()


def _check_header_value(label: str, value: object, *, allow_empty: bool = False) -> None:
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


def _check_header_name(label: str, name: object) -> None:
    if not isinstance(name, str):
        raise InvalidInputError(label, f"header names must be strings, not {type(name).__name__}")
    if not _TOKEN.fullmatch(name):
        raise InvalidInputError(
            label, f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
        )


def _check_bool(label: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(label, f"must be True or False, not {value!r}")


def _int_checker(low: int, high: int | None = None) -> _Check:
    def check(label: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(label, f"must be an integer, not {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise InvalidInputError(label, f"must be {bound}, got {value}")

    return check


def _check_non_negative_number(label: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(label, f"must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(label, f"must be a finite number >= 0, got {value!r}")


def _check_request_id(label: str, value: object) -> None:
    _check_header_value(label, value)
    assert isinstance(value, str)
    if not _UUID.fullmatch(value):
        raise InvalidInputError(
            label,
            f"{value!r} is not a UUID of version 1-5 in 8-4-4-4-12 form "
            "(the gateway would silently replace it with a random id)",
        )


def _choice_checker(*choices: str) -> _Check:
    def check(label: str, value: object) -> None:
        if value not in choices:
            raise InvalidInputError(label, f"must be one of {', '.join(choices)}; got {value!r}")

    return check


def _check_policy(label: str, value: object) -> None:
    if not isinstance(value, RateLimitPolicy):
        raise InvalidInputError(
            label, f"must be a RateLimitPolicy (see RateLimitPolicy.parse), not {value!r}"
        )


def _check_ignore_keys(label: str, value: object) -> None:
    for key in value:  # type: ignore[attr-defined]
        if not isinstance(key, str) or not key:
            raise InvalidInputError(label, f"keys must be non-empty strings, got {key!r}")
        if not _is_header_safe(key) or any(c in key for c in ',"\\'):
            raise InvalidInputError(
                label, f"key {key!r} must be printable ASCII without ',', '\"' or '\\\\'"
            )


def _check_property(label: str, name: object, value: object) -> None:
    _check_header_name(label, name)
    _check_header_value(label, value, allow_empty=True)


def _check_extra_header(label: str, name: object, value: object) -> None:
    _check_header_name(label, name)
    assert isinstance(name, str)
    lower = name.lower()
    if lower in _FORBIDDEN_EXTRA:
        raise InvalidInputError(
            label,
            f"{name!r} cannot be set through Helicone options: pass keys to the client "
            "(options appear in reprs and logs), and leave framing headers to the transport",
        )
    if lower in _OPTION_BY_HEADER or lower.startswith(_PROPERTY_PREFIX_LOWER):
        field = _OPTION_BY_HEADER[lower][0] if lower in _OPTION_BY_HEADER else "properties"
        raise InvalidInputError(
            label, f"{name!r} has a typed option; use HeliconeOptions({field}=...) instead"
        )
    _check_header_value(label, value, allow_empty=True)


# ---------------------------------------------------------------------------------------
# Rendering and parsing of single values.


def _format_number(value: float) -> str:
    """A number as the gateway's ``\\d+(\\.\\d+)?`` grammars accept it (no exponent)."""
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(decimal.Decimal(text), "f")
    return text


def _render_bool(value: bool) -> str:
    return "true" if value else "false"


def _render_ignore_keys(value: tuple[str, ...]) -> str:
    # JSON-quoted, comma-joined: the form JSON.parse("[" + v + "]") reads (issue #5768).
    return ",".join(f'"{key}"' for key in value)


def _meta_str(label: str, value: object) -> str:
    if isinstance(value, bool):
        return _render_bool(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return _format_number(value)
    if isinstance(value, str):
        return value
    raise InvalidInputError(label, f"must be a string (or bool/int), not {type(value).__name__}")


def _meta_bool(label: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInputError(label, f"must be 'true' or 'false', got {value!r}")


def _meta_int(label: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidInputError(label, f"must be a non-negative integer, got {value!r}")


def _meta_float(label: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        return float(text) if "." in text else int(text)
    raise InvalidInputError(label, f"must be a non-negative number, got {value!r}")


def _meta_cache_control(label: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        # The gateway prefers s-maxage over max-age (cacheSettings.ts buildCacheControl).
        match = _S_MAXAGE.search(value) or _MAX_AGE.search(value)
        if match:
            return int(match.group(1))
    raise InvalidInputError(label, f"expected 'max-age=<seconds>', got {value!r}")


def _meta_ignore_keys(label: str, value: object) -> tuple[str, ...]:
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


def _meta_policy(label: str, value: object) -> RateLimitPolicy:
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
    _int_checker(MIN_WINDOW, MAX_WINDOW)("helicone.rate_limit_policy.window", value)


def _validate_unit(instance: Any, attribute: Any, value: Any) -> None:
    _choice_checker("request", "cents")("helicone.rate_limit_policy.unit", value)


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
        value = f"{_format_number(self.quota)};w={self.window};u={self.unit}"
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


# ---------------------------------------------------------------------------------------
# Options.

_META_CHECK = "aiohelicone.check"
_META_HEADER = "aiohelicone.header"
_META_RENDER = "aiohelicone.render"
_META_PARSE = "aiohelicone.parse"


def _run_check(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        attribute.metadata[_META_CHECK](f"helicone.{attribute.name}", value)


def _option(header: str, check: _Check, render: _Render, parse: _FromMeta) -> Any:
    return attrs.field(
        default=None,
        validator=_run_check,
        metadata={
            _META_CHECK: check,
            _META_HEADER: header,
            _META_RENDER: render,
            _META_PARSE: parse,
        },
    )


def _str_option(header: str) -> Any:
    return _option(header, _check_header_value, str, _meta_str)


def _bool_option(header: str) -> Any:
    return _option(header, _check_bool, _render_bool, _meta_bool)


_EMPTY: Mapping[str, str] = MappingProxyType({})


def _freeze(label: str, value: object) -> Mapping[str, str]:
    if isinstance(value, MappingProxyType):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(label, f"must be a mapping of str to str, not {value!r}")
    return MappingProxyType(dict(value))


def _freeze_properties(value: Mapping[str, str]) -> Mapping[str, str]:
    return _freeze("helicone.properties", value)


def _freeze_extra_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return _freeze("helicone.extra_headers", value)


def _ignore_keys_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInputError(
            "helicone.cache_ignore_keys", "must be a sequence of key names, not a string"
        )
    return tuple(value)


def _unique_folded(label: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        folded = name.lower()
        if folded in seen:
            raise InvalidInputError(label, f"{name!r} appears twice (names are case-insensitive)")
        seen.add(folded)


def _validate_properties(instance: Any, attribute: Any, value: Mapping[str, str]) -> None:
    for name, item in value.items():
        _check_property(f"helicone.properties[{name!r}]", name, item)
    _unique_folded("helicone.properties", value)


def _validate_extra_headers(instance: Any, attribute: Any, value: Mapping[str, str]) -> None:
    for name, item in value.items():
        _check_extra_header(f"helicone.extra_headers[{name!r}]", name, item)
    _unique_folded("helicone.extra_headers", value)


def _mapping_repr(value: Mapping[str, str]) -> str:
    return repr(dict(value))


def _merge_folded(base: Mapping[str, str], override: Mapping[str, str]) -> Mapping[str, str]:
    if not base:
        return override
    folded = {name.lower() for name in override}
    merged = {name: value for name, value in base.items() if name.lower() not in folded}
    merged.update(override)
    return MappingProxyType(merged)


@attrs.frozen(kw_only=True)
class HeliconeOptions:
    """Helicone features for a client (defaults) or one call, as typed fields.

    Every field defaults to "not set" and then sends no header. See helicone-api.md §3 and
    https://docs.helicone.ai/helicone-headers/header-directory for what each one does.

    Args:
        properties: custom properties, ``Helicone-Property-<Name>: value``.
        user_id: ``Helicone-User-Id``, per-user metrics and ``s=user`` rate limits.
        session_id: ``Helicone-Session-Id`` (a UUID is recommended).
        session_path: ``Helicone-Session-Path``, e.g. ``/parent/child``.
        session_name: ``Helicone-Session-Name``.
        prompt_id: ``Helicone-Prompt-Id`` (legacy prompts).
        cache_enabled: ``Helicone-Cache-Enabled``.
        cache_max_age: cache TTL in seconds, sent as ``Cache-Control: max-age=N``
            (0 to 31,536,000).
        cache_bucket_max_size: ``Helicone-Cache-Bucket-Max-Size``, 1 to 20.
        cache_seed: ``Helicone-Cache-Seed``, a cache namespace.
        cache_ignore_keys: top-level body keys left out of the cache key
            (``Helicone-Cache-Ignore-Keys``, sent JSON-quoted, see the module docstring).
        retry_enabled: ``Helicone-Retry-Enabled``: Helicone retries 429/5xx upstream.
        retry_num: ``Helicone-Retry-Num`` (gateway default 5).
        retry_factor: ``Helicone-Retry-Factor`` (gateway default 2).
        retry_min_timeout_ms: ``Helicone-Retry-Min-Timeout`` (gateway default 1000).
        retry_max_timeout_ms: ``Helicone-Retry-Max-Timeout`` (gateway default 10000).
        rate_limit_policy: ``Helicone-RateLimit-Policy``.
        request_id: ``Helicone-Request-Id``, a UUID (versions 1-5); a random one is sent
            when unset.
        omit_request: ``Helicone-Omit-Request``: do not store the request body.
        omit_response: ``Helicone-Omit-Response``: do not store the response body.
        llm_security_enabled: ``Helicone-LLM-Security-Enabled`` (prompt-injection check).
        llm_security_advanced: ``Helicone-LLM-Security-Advanced`` (adds Llama Guard).
        moderations_enabled: ``Helicone-Moderations-Enabled``.
        posthog_key: ``Helicone-Posthog-Key``.
        posthog_host: ``Helicone-Posthog-Host``.
        token_limit_handler: ``Helicone-Token-Limit-Exception-Handler``.
        stream_force_format: ``Helicone-Stream-Force-Format``.
        stream_usage: ``Helicone-Stream-Usage`` (legacy proxies).
        model_override: ``Helicone-Model-Override``.
        extra_headers: other headers sent as they are (still checked for header safety;
            headers with a typed option, auth and framing headers are refused).

    Raises:
        InvalidInputError: a value is of the wrong type, out of range, or not header-safe;
            the error's ``field`` names the option, e.g. ``helicone.request_id``.
    """

    properties: Mapping[str, str] = attrs.field(
        default=_EMPTY,
        converter=_freeze_properties,
        validator=_validate_properties,
        repr=_mapping_repr,
        hash=False,
    )
    user_id: str | None = _str_option("Helicone-User-Id")
    session_id: str | None = _str_option("Helicone-Session-Id")
    session_path: str | None = _str_option("Helicone-Session-Path")
    session_name: str | None = _str_option("Helicone-Session-Name")
    prompt_id: str | None = _str_option("Helicone-Prompt-Id")
    cache_enabled: bool | None = _bool_option("Helicone-Cache-Enabled")
    cache_max_age: int | None = _option(
        "Cache-Control",
        _int_checker(0, MAX_CACHE_AGE),
        lambda value: f"max-age={value}",
        _meta_cache_control,
    )
    cache_bucket_max_size: int | None = _option(
        "Helicone-Cache-Bucket-Max-Size", _int_checker(1, MAX_BUCKET_SIZE), str, _meta_int
    )
    cache_seed: str | None = _str_option("Helicone-Cache-Seed")
    cache_ignore_keys: tuple[str, ...] = attrs.field(
        default=(),
        converter=_ignore_keys_tuple,
        validator=_run_check,
        metadata={_META_CHECK: _check_ignore_keys, _META_PARSE: _meta_ignore_keys},
    )
    retry_enabled: bool | None = _bool_option("Helicone-Retry-Enabled")
    retry_num: int | None = _option("Helicone-Retry-Num", _int_checker(0), str, _meta_int)
    retry_factor: float | None = _option(
        "Helicone-Retry-Factor", _check_non_negative_number, _format_number, _meta_float
    )
    retry_min_timeout_ms: int | None = _option(
        "Helicone-Retry-Min-Timeout", _int_checker(0), str, _meta_int
    )
    retry_max_timeout_ms: int | None = _option(
        "Helicone-Retry-Max-Timeout", _int_checker(0), str, _meta_int
    )
    # RUF009 assumes dataclass semantics; _option returns an attrs.field() definition.
    rate_limit_policy: RateLimitPolicy | None = _option(  # noqa: RUF009
        "Helicone-RateLimit-Policy",
        _check_policy,
        RateLimitPolicy.header_value,
        _meta_policy,
    )
    request_id: str | None = _option(REQUEST_ID_HEADER, _check_request_id, str, _meta_str)
    omit_request: bool | None = _bool_option("Helicone-Omit-Request")
    omit_response: bool | None = _bool_option("Helicone-Omit-Response")
    llm_security_enabled: bool | None = _bool_option("Helicone-LLM-Security-Enabled")
    llm_security_advanced: bool | None = _bool_option("Helicone-LLM-Security-Advanced")
    moderations_enabled: bool | None = _bool_option("Helicone-Moderations-Enabled")
    posthog_key: str | None = _str_option("Helicone-Posthog-Key")
    posthog_host: str | None = _str_option("Helicone-Posthog-Host")
    token_limit_handler: Literal["truncate", "middle-out", "fallback"] | None = _option(
        "Helicone-Token-Limit-Exception-Handler",
        _choice_checker("truncate", "middle-out", "fallback"),
        str,
        _meta_str,
    )
    stream_force_format: bool | None = _bool_option("Helicone-Stream-Force-Format")
    stream_usage: bool | None = _bool_option("Helicone-Stream-Usage")
    model_override: str | None = _str_option("Helicone-Model-Override")
    extra_headers: Mapping[str, str] = attrs.field(
        default=_EMPTY,
        converter=_freeze_extra_headers,
        validator=_validate_extra_headers,
        repr=_mapping_repr,
        hash=False,
    )
    # The rendered headers, computed once: client defaults are reused on every request.
    _headers: dict[str, str] | None = attrs.field(
        init=False, default=None, eq=False, repr=False, hash=False
    )

    def merge(self, override: HeliconeOptions | None) -> HeliconeOptions:
        """Combine with options that take precedence.

        Args:
            override: options whose set fields win. ``properties`` and ``extra_headers``
                are merged key by key (case-insensitively; the override's keys win), and
                a non-empty ``cache_ignore_keys`` replaces this one's.

        Returns:
            The combined options (``self`` when ``override`` sets nothing).

        Raises:
            InvalidInputError: never in practice, both sides being already valid.
        """
        if override is None or override is self:
            return self
        changes = {
            name: value
            for name, value in zip(_SCALAR_NAMES, _SCALAR_GETTER(override), strict=True)
            if value is not None
        }
        if override.cache_ignore_keys:
            changes["cache_ignore_keys"] = override.cache_ignore_keys
        if override.properties:
            changes["properties"] = _merge_folded(self.properties, override.properties)
        if override.extra_headers:
            changes["extra_headers"] = _merge_folded(self.extra_headers, override.extra_headers)
        if not changes:
            return self
        # Both sides passed their validators, and merging keeps every field valid (the
        # merged mappings stay case-insensitively unique), so __init__ is skipped.
        # Rules across fields are checked by to_headers.
        current = dict(zip(_ALL_NAMES, _ALL_GETTER(self), strict=True))
        current.update(changes)
        return _assemble(current)

    def to_headers(self, *, body_user: str | None = None) -> dict[str, str]:
        """The request headers for these options.

        Args:
            body_user: the request body's ``user`` field, which the gateway uses as the
                user id when ``Helicone-User-Id`` is absent (for ``s=user`` policies).

        Returns:
            A new dict of header name to value; unset options are left out. No
            ``Helicone-Request-Id`` unless :attr:`request_id` is set (see
            :func:`resolve_helicone`).

        Raises:
            InvalidInputError: a rule across fields is broken: a ``s=user`` policy with no
                user id, a ``s=<name>`` policy without that property, or a minimum retry
                timeout above the maximum.
        """
        _check_across((self,), body_user)
        return dict(self._rendered())

    def _rendered(self) -> dict[str, str]:
        # Computed once per object (client defaults are reused on every request); callers
        # copy before changing it.
        headers = self._headers
        if headers is None:
            headers = {}
            for (header, render), value in zip(_SCALAR_RENDER, _SCALAR_GETTER(self), strict=True):
                if value is not None:
                    headers[header] = render(value)
            if self.cache_ignore_keys:
                headers["Helicone-Cache-Ignore-Keys"] = _render_ignore_keys(self.cache_ignore_keys)
            for name, value in self.properties.items():
                headers[PROPERTY_PREFIX + name] = value
            headers.update(self.extra_headers)
            object.__setattr__(self, "_headers", headers)
        return headers


def _assemble(values: Mapping[str, Any]) -> HeliconeOptions:
    """Options from values that are already checked (and mappings already frozen).

    Skips __init__ and its thirty validators: used on per-request paths only.
    """
    options = object.__new__(HeliconeOptions)
    for name, default in _DEFAULTS:
        object.__setattr__(options, name, values.get(name, default))
    object.__setattr__(options, "_headers", None)
    return options


def _top(layers: tuple[HeliconeOptions, ...], name: str) -> Any:
    """The value of option ``name`` in the highest layer that sets it."""
    for layer in reversed(layers):
        value = getattr(layer, name)
        if value is not None:
            return value
    return None


def _check_across(layers: tuple[HeliconeOptions, ...], body_user: str | None) -> None:
    """The rules across fields, on the merged view of ``layers`` (lowest first)."""
    policy: RateLimitPolicy | None = _top(layers, "rate_limit_policy")
    if policy is not None and policy.segment is not None:
        if policy.segment == "user":
            if not _top(layers, "user_id") and not body_user:
                raise InvalidInputError(
                    "helicone.rate_limit_policy",
                    "segment 'user' needs helicone user_id (Helicone-User-Id) or the "
                    "body's 'user'; without it the gateway does not limit at all",
                )
        else:
            wanted = policy.segment.lower()
            if not any(name.lower() == wanted for layer in layers for name in layer.properties):
                raise InvalidInputError(
                    "helicone.rate_limit_policy",
                    f"segment {policy.segment!r} needs the property {policy.segment!r} "
                    f"(Helicone-Property-{policy.segment}); without it the gateway does "
                    "not limit at all",
                )
    low: int | None = _top(layers, "retry_min_timeout_ms")
    high: int | None = _top(layers, "retry_max_timeout_ms")
    if low is not None and high is not None and low > high:
        raise InvalidInputError(
            "helicone.retry_min_timeout_ms", f"{low} is above retry_max_timeout_ms ({high})"
        )


def _overlay(layers: tuple[HeliconeOptions, ...]) -> dict[str, str]:
    """The headers of ``layers`` merged (lowest first), like repeated ``merge``."""
    headers = dict(layers[0]._rendered())
    for layer in layers[1:]:
        rendered = layer._rendered()
        if layer.properties or layer.extra_headers:
            # Property and extra header names are case-insensitive: drop a lower layer's
            # spelling so that one header is sent, not two.
            spelled = {name.lower(): name for name in headers}
            for name in rendered:
                old = spelled.get(name.lower())
                if old is not None and old != name:
                    del headers[old]
        headers.update(rendered)
    return headers


_FIELDS = attrs.fields(HeliconeOptions)
# (field name, header name, render) for every single-valued option.
_SCALAR_SPECS: tuple[tuple[str, str, _Render], ...] = tuple(
    (field.name, field.metadata[_META_HEADER], field.metadata[_META_RENDER])
    for field in _FIELDS
    if _META_HEADER in field.metadata
)
_SCALAR_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _SCALAR_SPECS)
_SCALAR_RENDER: tuple[tuple[str, _Render], ...] = tuple((h, r) for _, h, r in _SCALAR_SPECS)
_SCALAR_GETTER = operator.attrgetter(*_SCALAR_NAMES)
_ALL_NAMES: tuple[str, ...] = tuple(field.name for field in _FIELDS if field.init)
_ALL_GETTER = operator.attrgetter(*_ALL_NAMES)
_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (field.name, field.default) for field in _FIELDS if field.init
)
# lower-case header name -> (field name, check, parse), for LiteLLM-style metadata.
_OPTION_BY_HEADER: dict[str, tuple[str, _Check, _FromMeta]] = {
    field.metadata[_META_HEADER].lower(): (
        field.name,
        field.metadata[_META_CHECK],
        field.metadata[_META_PARSE],
    )
    for field in _FIELDS
    if _META_HEADER in field.metadata
}
_OPTION_BY_HEADER["helicone-cache-ignore-keys"] = (
    "cache_ignore_keys",
    _check_ignore_keys,
    _meta_ignore_keys,
)
# LiteLLM's docs spell it "Helicone-Rate-Limit-Policy", which the gateway ignores.
_OPTION_BY_HEADER["helicone-rate-limit-policy"] = _OPTION_BY_HEADER["helicone-ratelimit-policy"]
# An alias the gateway reads too (HeliconeHeaders.ts promptSecurityEnabled).
_OPTION_BY_HEADER["helicone-prompt-security-enabled"] = _OPTION_BY_HEADER[
    "helicone-llm-security-enabled"
]


# ---------------------------------------------------------------------------------------
# Resolution for one request.


@attrs.frozen
class ResolvedHelicone:
    """The Helicone part of one request, ready to send.

    Attributes:
        headers: every Helicone header to send, always with ``Helicone-Request-Id``.
        request_id: the request id sent (use it for feedback and scores).
        body_metadata: ``metadata`` keys that are not Helicone headers (OpenAI's own
            ``metadata`` body field), or None when there are none.
    """

    headers: dict[str, str]
    request_id: str
    body_metadata: dict[str, Any] | None = None


def _uuid4() -> str:
    """A random (version 4) UUID string; twice as fast as ``str(uuid.uuid4())``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _split_metadata(
    metadata: Mapping[str, Any],
) -> tuple[HeliconeOptions | None, dict[str, Any] | None]:
    if not isinstance(metadata, Mapping):
        raise InvalidInputError("metadata", f"must be a mapping, not {type(metadata).__name__}")
    fields: dict[str, Any] = {}
    properties: dict[str, str] = {}
    extra: dict[str, str] = {}
    body: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise InvalidInputError("metadata", f"keys must be strings, got {key!r}")
        lower = key.lower()
        label = f"metadata[{key!r}]"
        if lower.startswith(_PROPERTY_PREFIX_LOWER):
            name = key[len(PROPERTY_PREFIX) :]
            text = _meta_str(label, value)
            _check_property(label, name, text)
            properties[name] = text
        elif lower in _OPTION_BY_HEADER:
            field, check, parse = _OPTION_BY_HEADER[lower]
            typed = parse(label, value)
            check(label, typed)
            fields[field] = typed
        elif lower.startswith("helicone-"):
            text = _meta_str(label, value)
            _check_extra_header(label, key, text)
            extra[key] = text
        else:
            body[key] = value
    _unique_folded("metadata", [*properties, *extra])
    options = None
    if fields or properties or extra:
        # Every value was checked above with the option's own check.
        if properties:
            fields["properties"] = MappingProxyType(properties)
        if extra:
            fields["extra_headers"] = MappingProxyType(extra)
        options = _assemble(fields)
    return options, (body or None)


def resolve_helicone(
    client_options: HeliconeOptions | None,
    call_options: HeliconeOptions | None,
    metadata: Mapping[str, Any] | None,
    *,
    body_user: str | None = None,
) -> ResolvedHelicone:
    """Work out the Helicone headers of one request.

    Precedence: client defaults < ``metadata`` < call options (properties merged).

    Args:
        client_options: the client's defaults.
        call_options: this call's options.
        metadata: a LiteLLM-style dict. Keys naming a Helicone header (case-insensitive:
            anything starting ``helicone-``, and ``Cache-Control``) are parsed into the
            typed options and validated the same way (``"true"``/``"false"`` for
            booleans, digit strings for numbers, ``Helicone-RateLimit-Policy`` -- also
            LiteLLM's misspelt ``Helicone-Rate-Limit-Policy`` -- with
            :meth:`RateLimitPolicy.parse`); unknown ``helicone-*`` keys are sent as extra
            headers. Other keys are returned in ``body_metadata``.
        body_user: the body's ``user`` field, for the ``s=user`` rate-limit check.

    Returns:
        The headers, the request id (a fresh UUID4 unless one was set) and the leftover
        body metadata.

    Raises:
        InvalidInputError: an invalid metadata value (``field`` names the key, e.g.
            ``metadata['Helicone-Request-Id']``) or a rule across fields is broken.
    """
    from_metadata = body_metadata = None
    if metadata:
        from_metadata, body_metadata = _split_metadata(metadata)
    layers = tuple(
        layer for layer in (client_options, from_metadata, call_options) if layer is not None
    )
    if not layers:
        request_id = _uuid4()
        return ResolvedHelicone({REQUEST_ID_HEADER: request_id}, request_id, body_metadata)
    # Merging the rendered headers gives what merge() + to_headers() would, without
    # building the merged options object on every request.
    _check_across(layers, body_user)
    headers = _overlay(layers)
    request_id = _top(layers, "request_id") or _uuid4()
    headers[REQUEST_ID_HEADER] = request_id
    return ResolvedHelicone(headers, request_id, body_metadata)


# ---------------------------------------------------------------------------------------
# Response side.


@attrs.frozen
class CacheInfo:
    """What the ``Helicone-Cache*`` response headers said.

    Attributes:
        hit: True for ``HIT``, False for ``MISS`` (sent only when a cache read was asked
            for), None when the header was absent or unreadable.
        bucket_index: ``Helicone-Cache-Bucket-Idx``, which stored response was served.
        latency_ms: ``Helicone-Cache-Latency``, the original latency of a cached answer.
    """

    hit: bool | None = None
    bucket_index: int | None = None
    latency_ms: float | None = None


@attrs.frozen
class RateLimitInfo:
    """What the ``Helicone-RateLimit-*`` response headers said.

    Attributes:
        limit: the quota.
        remaining: what is left in the current window.
        policy: the normalised policy the gateway applied.
        reset: seconds until the window resets (undocumented; sent when > 0).
    """

    limit: float | None = None
    remaining: float | None = None
    policy: str | None = None
    reset: float | None = None


_NO_CACHE = CacheInfo()


def _last(value: object) -> str | None:
    # Duplicated headers arrive comma-joined (a cache hit replays the stored headers and
    # appends its own), so the last element is the freshest.
    if not isinstance(value, str):
        return None
    text = value.rpartition(",")[2].strip()
    return text or None


def _to_float(value: object) -> float | None:
    text = _last(value)
    # float() also takes "1_000" and non-ASCII digits; HTTP numbers are plain ASCII.
    if text is None or "_" in text or not text.isascii():
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _to_index(value: object) -> int | None:
    text = _last(value)
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def _cache_hit(value: object) -> bool | None:
    if not isinstance(value, str):
        return None
    states = {part.strip().upper() for part in value.split(",")}
    if "HIT" in states:
        return True
    if "MISS" in states:
        return False
    return None


def _pick_request_id(value: object, sent: str | None) -> str | None:
    if (
        isinstance(value, str)
        and sent is not None
        and "," in value
        and any(part.strip().lower() == sent.lower() for part in value.split(","))
    ):
        return sent
    return _last(value) or sent


_RATE_LIMIT_KEYS = (
    "helicone-ratelimit-limit",
    "helicone-ratelimit-remaining",
    "helicone-ratelimit-policy",
    "helicone-ratelimit-reset",
)


@attrs.frozen
class HeliconeMetadata:
    """Helicone's view of one response, read from its headers.

    Attributes:
        request_id: ``Helicone-Id``, else the ``Helicone-Request-Id`` that was sent.
        cache: the cache headers (all None when caching was not involved).
        rate_limit: the rate-limit headers, None when there were none.
        provider: ``Helicone-Provider``, the provider that served the request.
        model: ``Helicone-Model``, the provider's model id.
        gateway_mode: ``Helicone-Gateway-Mode``, ``BYOK`` or ``PTB``.
        status: ``Helicone-Status``, ``success`` or ``failed``.
        headers: every response header, names lower-cased.
        attempts: the attempts of a client-side fallback chain, in order (empty otherwise).
    """

    request_id: str | None = None
    cache: CacheInfo = _NO_CACHE
    rate_limit: RateLimitInfo | None = None
    provider: str | None = None
    model: str | None = None
    gateway_mode: str | None = None
    status: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    attempts: tuple[Any, ...] = ()

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, str], *, sent_request_id: str | None
    ) -> HeliconeMetadata:
        """Read the metadata from response headers; never raises on bad values.

        Args:
            headers: the response headers (an ``httpx2.Headers`` or any mapping).
            sent_request_id: the ``Helicone-Request-Id`` this client sent.

        Returns:
            The metadata; a header that is absent or unreadable gives None.
        """
        lowered = {str(name).lower(): value for name, value in headers.items()}
        get = lowered.get
        cache = _NO_CACHE
        cache_raw = get("helicone-cache")
        bucket_raw = get("helicone-cache-bucket-idx")
        latency_raw = get("helicone-cache-latency")
        if cache_raw is not None or bucket_raw is not None or latency_raw is not None:
            cache = CacheInfo(_cache_hit(cache_raw), _to_index(bucket_raw), _to_float(latency_raw))
        rate_limit = None
        if any(key in lowered for key in _RATE_LIMIT_KEYS):
            rate_limit = RateLimitInfo(
                _to_float(get("helicone-ratelimit-limit")),
                _to_float(get("helicone-ratelimit-remaining")),
                _last(get("helicone-ratelimit-policy")),
                _to_float(get("helicone-ratelimit-reset")),
            )
        return cls(
            request_id=_pick_request_id(get("helicone-id"), sent_request_id),
            cache=cache,
            rate_limit=rate_limit,
            provider=_last(get("helicone-provider")),
            model=_last(get("helicone-model")),
            gateway_mode=_last(get("helicone-gateway-mode")),
            status=_last(get("helicone-status")),
            headers=lowered,
        )
