"""Layer 0 (core): how a Helicone option is declared: its check, header, rendering, parser.

Each single-valued field of :class:`._helicone.HeliconeOptions` is an attrs field whose
metadata carries the check run when it is set, the header it becomes, how its value is
rendered, and how LiteLLM-style ``metadata`` text is parsed into it. The mapping fields
(``properties``, ``extra_headers``) are frozen copies, merged case-insensitively. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._exceptions import InvalidInputError
from ._header_values import (
    Check,
    FromMeta,
    Render,
    check_bool,
    check_header_value,
    check_property,
    meta_bool,
    meta_str,
    render_bool,
)
from ._secrets import mask

__all__ = [
    "EMPTY",
    "META_CHECK",
    "META_HEADER",
    "META_PARSE",
    "META_RENDER",
    "bool_option",
    "freeze",
    "freeze_extra_headers",
    "freeze_properties",
    "ignore_keys_tuple",
    "mapping_repr",
    "merge_folded",
    "option_field",
    "run_check",
    "secret_repr",
    "str_option",
    "unique_folded",
    "validate_properties",
]


META_CHECK = "aiohelicone.check"
META_HEADER = "aiohelicone.header"
META_RENDER = "aiohelicone.render"
META_PARSE = "aiohelicone.parse"


def run_check(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        attribute.metadata[META_CHECK](f"helicone.{attribute.name}", value)


def option_field(
    header: str, check: Check, render: Render, parse: FromMeta, *, repr: Any = True
) -> Any:
    return attrs.field(
        default=None,
        validator=run_check,
        repr=repr,
        metadata={
            META_CHECK: check,
            META_HEADER: header,
            META_RENDER: render,
            META_PARSE: parse,
        },
    )


def str_option(header: str) -> Any:
    return option_field(header, check_header_value, str, meta_str)


def secret_repr(value: str | None) -> str:
    # Options show up in logs; the key's first characters are enough to tell keys apart.
    return "None" if value is None else repr(mask(value))


def bool_option(header: str) -> Any:
    return option_field(header, check_bool, render_bool, meta_bool)


EMPTY: Mapping[str, str] = MappingProxyType({})


def freeze(label: str, value: object) -> Mapping[str, str]:
    if isinstance(value, MappingProxyType):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(label, f"must be a mapping of str to str, not {value!r}")
    return MappingProxyType(dict(value))


def freeze_properties(value: Mapping[str, str]) -> Mapping[str, str]:
    return freeze("helicone.properties", value)


def freeze_extra_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return freeze("helicone.extra_headers", value)


def ignore_keys_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInputError(
            "helicone.cache_ignore_keys", "must be a sequence of key names, not a string"
        )
    return tuple(value)


def unique_folded(label: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        folded = name.lower()
        if folded in seen:
            raise InvalidInputError(label, f"{name!r} appears twice (names are case-insensitive)")
        seen.add(folded)


def validate_properties(instance: Any, attribute: Any, value: Mapping[str, str]) -> None:
    for name, item in value.items():
        check_property(f"helicone.properties[{name!r}]", name, item)
    unique_folded("helicone.properties", value)


def mapping_repr(value: Mapping[str, str]) -> str:
    return repr(dict(value))


def merge_folded(base: Mapping[str, str], override: Mapping[str, str]) -> Mapping[str, str]:
    if not base:
        return override
    folded = {name.lower() for name in override}
    merged = {name: value for name, value in base.items() if name.lower() not in folded}
    merged.update(override)
    return MappingProxyType(merged)
