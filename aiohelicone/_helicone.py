"""Layer 0 (core): typed Helicone options -> request headers (no I/O).

Request side (helicone-api.md §3; Helicone ``worker/src/lib/models/HeliconeHeaders.ts``):

- :class:`HeliconeOptions` holds every ``Helicone-*`` feature as a typed, validated field.
  The gateway is lenient in ways that hide mistakes (an invalid request id is silently
  replaced, an invalid rate-limit policy fails open, only the exact string ``"true"`` counts
  as true), so values are checked here and refused with the option named.
- :func:`._helicone_resolve.resolve_helicone` merges client defaults < ``metadata`` < per-call
  options into the headers of one request, always with a ``Helicone-Request-Id``.

The response side (``Helicone-*`` response headers -> :class:`HeliconeMetadata`) is in
``_metadata.py``; its names are re-exported here.

Decisions worth knowing:

- ``Helicone-Cache-Ignore-Keys`` is documented as ``a,b`` but the gateway parses it with
  ``JSON.parse("[" + value + "]")`` (issue #5768), so it is sent JSON-quoted: ``"a","b"``.
  Keys containing ``,``, ``"`` or ``\\`` are refused, so each key is one plain JSON string.
  If the fix proposed in #5768 (split on commas, no JSON) ships, the quotes would become
  part of the key names: :func:`render_ignore_keys` (``_header_values.py``) is the one place to
  change then (helicone-api.md §9, open question 1).
- A rate-limit policy segmented by ``user`` needs ``Helicone-User-Id`` or the body's
  ``user`` field (the gateway falls back to it), and ``s=<name>`` needs the property
  ``<name>`` (case-insensitive). Without them the gateway silently does not limit, so this
  is refused when headers are resolved.
- ``Authorization``, ``Helicone-Auth`` and framing headers are refused in ``extra_headers``
  (``_header_values.FORBIDDEN_HEADERS``, the same check as per-call ``extra_headers`` and the
  client's ``default_headers``): keys belong to the client (options show up in reprs),
  framing to the transport.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from ._exceptions import InvalidInputError
from ._header_values import (
    MAX_BUCKET_SIZE,
    MAX_CACHE_AGE,
    Check,
    FromMeta,
    Render,
    check_header_name,
    check_header_value,
    check_ignore_keys,
    check_non_negative_number,
    check_policy,
    check_property,
    check_request_header,
    check_request_id,
    choice_checker,
    format_number,
    int_checker,
    meta_cache_control,
    meta_float,
    meta_ignore_keys,
    meta_int,
    meta_policy,
    meta_str,
    render_ignore_keys,
)
from ._header_values import RateLimitPolicy as RateLimitPolicy
from ._helicone_fields import (
    EMPTY,
    META_CHECK,
    META_HEADER,
    META_PARSE,
    META_RENDER,
    bool_option,
    freeze_extra_headers,
    freeze_properties,
    ignore_keys_tuple,
    mapping_repr,
    merge_folded,
    option_field,
    run_check,
    secret_repr,
    str_option,
    unique_folded,
    validate_properties,
)
from ._metadata import CacheInfo as CacheInfo
from ._metadata import HeliconeMetadata as HeliconeMetadata
from ._metadata import RateLimitInfo as RateLimitInfo

__all__ = [
    "CacheInfo",
    "HeliconeMetadata",
    "HeliconeOptions",
    "RateLimitInfo",
    "RateLimitPolicy",
    "PROPERTY_PREFIX",
    "REQUEST_ID_HEADER",
    "random_request_id",
    "check_across",
    "rendered_headers",
    "split_metadata",
    "top_option",
]

REQUEST_ID_HEADER = "Helicone-Request-Id"
PROPERTY_PREFIX = "Helicone-Property-"
_PROPERTY_PREFIX_LOWER = PROPERTY_PREFIX.lower()


def _check_extra_header(label: str, name: object, value: object) -> None:
    # Here, not with the other checks (_header_values.py): it needs the options' header table.
    check_header_name(label, name)
    assert isinstance(name, str)
    lower = name.lower()
    if lower in _OPTION_BY_HEADER or lower.startswith(_PROPERTY_PREFIX_LOWER):
        field = _OPTION_BY_HEADER[lower][0] if lower in _OPTION_BY_HEADER else "properties"
        raise InvalidInputError(
            label, f"{name!r} has a typed option; use HeliconeOptions({field}=...) instead"
        )
    check_request_header(label, name, value)


def _validate_extra_headers(instance: Any, attribute: Any, value: Mapping[str, str]) -> None:
    for name, item in value.items():
        _check_extra_header(f"helicone.extra_headers[{name!r}]", name, item)
    unique_folded("helicone.extra_headers", value)


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
        posthog_key: ``Helicone-Posthog-Key`` (masked in the repr, and in errors of the
            clients and calls using it, as ``phc_ab...***``).
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
        default=EMPTY,
        converter=freeze_properties,
        validator=validate_properties,
        repr=mapping_repr,
        hash=False,
    )
    user_id: str | None = str_option("Helicone-User-Id")
    session_id: str | None = str_option("Helicone-Session-Id")
    session_path: str | None = str_option("Helicone-Session-Path")
    session_name: str | None = str_option("Helicone-Session-Name")
    prompt_id: str | None = str_option("Helicone-Prompt-Id")
    cache_enabled: bool | None = bool_option("Helicone-Cache-Enabled")
    cache_max_age: int | None = option_field(
        "Cache-Control",
        int_checker(0, MAX_CACHE_AGE),
        lambda value: f"max-age={value}",
        meta_cache_control,
    )
    cache_bucket_max_size: int | None = option_field(
        "Helicone-Cache-Bucket-Max-Size", int_checker(1, MAX_BUCKET_SIZE), str, meta_int
    )
    cache_seed: str | None = str_option("Helicone-Cache-Seed")
    cache_ignore_keys: tuple[str, ...] = attrs.field(
        default=(),
        converter=ignore_keys_tuple,
        validator=run_check,
        metadata={META_CHECK: check_ignore_keys, META_PARSE: meta_ignore_keys},
    )
    retry_enabled: bool | None = bool_option("Helicone-Retry-Enabled")
    retry_num: int | None = option_field("Helicone-Retry-Num", int_checker(0), str, meta_int)
    retry_factor: float | None = option_field(
        "Helicone-Retry-Factor", check_non_negative_number, format_number, meta_float
    )
    retry_min_timeout_ms: int | None = option_field(
        "Helicone-Retry-Min-Timeout", int_checker(0), str, meta_int
    )
    retry_max_timeout_ms: int | None = option_field(
        "Helicone-Retry-Max-Timeout", int_checker(0), str, meta_int
    )
    # RUF009 assumes dataclass semantics; option_field returns an attrs.field() definition.
    rate_limit_policy: RateLimitPolicy | None = option_field(  # noqa: RUF009
        "Helicone-RateLimit-Policy",
        check_policy,
        RateLimitPolicy.header_value,
        meta_policy,
    )
    request_id: str | None = option_field(REQUEST_ID_HEADER, check_request_id, str, meta_str)
    omit_request: bool | None = bool_option("Helicone-Omit-Request")
    omit_response: bool | None = bool_option("Helicone-Omit-Response")
    llm_security_enabled: bool | None = bool_option("Helicone-LLM-Security-Enabled")
    llm_security_advanced: bool | None = bool_option("Helicone-LLM-Security-Advanced")
    moderations_enabled: bool | None = bool_option("Helicone-Moderations-Enabled")
    posthog_key: str | None = option_field(
        "Helicone-Posthog-Key", check_header_value, str, meta_str, repr=secret_repr
    )
    posthog_host: str | None = str_option("Helicone-Posthog-Host")
    token_limit_handler: Literal["truncate", "middle-out", "fallback"] | None = option_field(
        "Helicone-Token-Limit-Exception-Handler",
        choice_checker("truncate", "middle-out", "fallback"),
        str,
        meta_str,
    )
    stream_force_format: bool | None = bool_option("Helicone-Stream-Force-Format")
    stream_usage: bool | None = bool_option("Helicone-Stream-Usage")
    model_override: str | None = str_option("Helicone-Model-Override")
    extra_headers: Mapping[str, str] = attrs.field(
        default=EMPTY,
        converter=freeze_extra_headers,
        validator=_validate_extra_headers,
        repr=mapping_repr,
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
            changes["properties"] = merge_folded(self.properties, override.properties)
        if override.extra_headers:
            changes["extra_headers"] = merge_folded(self.extra_headers, override.extra_headers)
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
        check_across((self,), body_user)
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
                headers["Helicone-Cache-Ignore-Keys"] = render_ignore_keys(self.cache_ignore_keys)
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


def top_option(layers: tuple[HeliconeOptions, ...], name: str) -> Any:
    """The value of option ``name`` in the highest layer that sets it."""
    for layer in reversed(layers):
        value = getattr(layer, name)
        if value is not None:
            return value
    return None


def check_across(layers: tuple[HeliconeOptions, ...], body_user: str | None) -> None:
    """The rules across fields, on the merged view of ``layers`` (lowest first)."""
    policy: RateLimitPolicy | None = top_option(layers, "rate_limit_policy")
    if policy is not None and policy.segment is not None:
        if policy.segment == "user":
            if not top_option(layers, "user_id") and not body_user:
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
    low: int | None = top_option(layers, "retry_min_timeout_ms")
    high: int | None = top_option(layers, "retry_max_timeout_ms")
    if low is not None and high is not None and low > high:
        raise InvalidInputError(
            "helicone.retry_min_timeout_ms", f"{low} is above retry_max_timeout_ms ({high})"
        )


_FIELDS = attrs.fields(HeliconeOptions)
# (field name, header name, render) for every single-valued option.
_SCALAR_SPECS: tuple[tuple[str, str, Render], ...] = tuple(
    (field.name, field.metadata[META_HEADER], field.metadata[META_RENDER])
    for field in _FIELDS
    if META_HEADER in field.metadata
)
_SCALAR_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _SCALAR_SPECS)
_SCALAR_RENDER: tuple[tuple[str, Render], ...] = tuple((h, r) for _, h, r in _SCALAR_SPECS)
_SCALAR_GETTER = operator.attrgetter(*_SCALAR_NAMES)
_ALL_NAMES: tuple[str, ...] = tuple(field.name for field in _FIELDS if field.init)
_ALL_GETTER = operator.attrgetter(*_ALL_NAMES)
_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (field.name, field.default) for field in _FIELDS if field.init
)
# lower-case header name -> (field name, check, parse), for LiteLLM-style metadata.
_OPTION_BY_HEADER: dict[str, tuple[str, Check, FromMeta]] = {
    field.metadata[META_HEADER].lower(): (
        field.name,
        field.metadata[META_CHECK],
        field.metadata[META_PARSE],
    )
    for field in _FIELDS
    if META_HEADER in field.metadata
}
_OPTION_BY_HEADER["helicone-cache-ignore-keys"] = (
    "cache_ignore_keys",
    check_ignore_keys,
    meta_ignore_keys,
)
# LiteLLM's docs spell it "Helicone-Rate-Limit-Policy", which the gateway ignores.
_OPTION_BY_HEADER["helicone-rate-limit-policy"] = _OPTION_BY_HEADER["helicone-ratelimit-policy"]
# An alias the gateway reads too (HeliconeHeaders.ts promptSecurityEnabled).
_OPTION_BY_HEADER["helicone-prompt-security-enabled"] = _OPTION_BY_HEADER[
    "helicone-llm-security-enabled"
]


# ---------------------------------------------------------------------------------------
# Request ids and LiteLLM-style metadata (resolution for one request: _helicone_resolve.py).


def random_request_id() -> str:
    """A random (version 4) UUID string; twice as fast as ``str(uuid.uuid4())``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def split_metadata(
    metadata: Mapping[str, Any],
) -> tuple[HeliconeOptions | None, dict[str, Any] | None]:
    """Split LiteLLM-style ``metadata`` into Helicone options and plain body metadata.

    Args:
        metadata: keys naming a Helicone header are parsed and checked as in
            :func:`resolve_helicone`; the other keys are body metadata.

    Returns:
        The options (None when no key named a header) and the leftover body metadata
        (None when there was none).

    Raises:
        InvalidInputError: a bad key or value (``field`` names the key).
    """
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
            text = meta_str(label, value)
            check_property(label, name, text)
            properties[name] = text
        elif lower in _OPTION_BY_HEADER:
            field, check, parse = _OPTION_BY_HEADER[lower]
            typed = parse(label, value)
            check(label, typed)
            fields[field] = typed
        elif lower.startswith("helicone-"):
            text = meta_str(label, value)
            _check_extra_header(label, key, text)
            extra[key] = text
        else:
            body[key] = value
    unique_folded("metadata", [*properties, *extra])
    options = None
    if fields or properties or extra:
        # Every value was checked above with the option's own check.
        if properties:
            fields["properties"] = MappingProxyType(properties)
        if extra:
            fields["extra_headers"] = MappingProxyType(extra)
        options = _assemble(fields)
    return options, (body or None)


def rendered_headers(options: HeliconeOptions) -> dict[str, str]:
    """The headers of ``options`` alone, computed once per object: do not change the dict.

    :func:`._helicone_resolve.resolve_helicone` merges these, lowest layer first, without
    building the merged options on every request.
    """
    return options._rendered()
