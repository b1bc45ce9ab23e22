"""Tests for aiohelicone._helicone: options -> headers, metadata mapping, response headers."""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohelicone._exceptions import InvalidInputError
from aiohelicone._helicone import (
    CacheInfo,
    HeliconeMetadata,
    HeliconeOptions,
    RateLimitInfo,
    RateLimitPolicy,
)
from aiohelicone._helicone_resolve import ResolvedHelicone, resolve_helicone
from aiohelicone._retry import MAX_WAIT

RID = "0b6a2f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
RID2 = "9f0e1d2c-3b4a-4596-a877-665544332211"
# The gateway's policy regex (helicone-api.md §3, policyParser.ts), case-insensitive.
GATEWAY_POLICY = re.compile(
    r"^(\d+(\.\d+)?);w=(\d+)(;u=(request|cents))?(;s=[\w-]+)?$", re.I | re.A
)


def _uuid_v4(value: str) -> bool:
    parsed = uuid.UUID(value)
    return parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


# --------------------------------------------------------------------------------------
# Options -> headers

# kwargs, expected headers (exactly)
OPTION_HEADERS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"properties": {"Env": "prod"}}, {"Helicone-Property-Env": "prod"}),
    (
        {"properties": {"Env": "prod", "Tier": ""}},
        {"Helicone-Property-Env": "prod", "Helicone-Property-Tier": ""},
    ),
    ({"user_id": "alice@example.com"}, {"Helicone-User-Id": "alice@example.com"}),
    ({"session_id": RID}, {"Helicone-Session-Id": RID}),
    ({"session_path": "/parent/child"}, {"Helicone-Session-Path": "/parent/child"}),
    ({"session_name": "Trip planner"}, {"Helicone-Session-Name": "Trip planner"}),
    ({"prompt_id": "prompt_v1"}, {"Helicone-Prompt-Id": "prompt_v1"}),
    ({"cache_enabled": True}, {"Helicone-Cache-Enabled": "true"}),
    ({"cache_enabled": False}, {"Helicone-Cache-Enabled": "false"}),
    ({"cache_max_age": 3600}, {"Cache-Control": "max-age=3600"}),
    ({"cache_max_age": 0}, {"Cache-Control": "max-age=0"}),
    ({"cache_max_age": 31_536_000}, {"Cache-Control": "max-age=31536000"}),
    ({"cache_bucket_max_size": 1}, {"Helicone-Cache-Bucket-Max-Size": "1"}),
    ({"cache_bucket_max_size": 20}, {"Helicone-Cache-Bucket-Max-Size": "20"}),
    ({"cache_seed": "user-123"}, {"Helicone-Cache-Seed": "user-123"}),
    ({"cache_ignore_keys": ("request_id",)}, {"Helicone-Cache-Ignore-Keys": '"request_id"'}),
    (
        {"cache_ignore_keys": ["request_id", "timestamp"]},
        {"Helicone-Cache-Ignore-Keys": '"request_id","timestamp"'},
    ),
    ({"retry_enabled": True}, {"Helicone-Retry-Enabled": "true"}),
    ({"retry_enabled": False}, {"Helicone-Retry-Enabled": "false"}),
    ({"retry_num": 3}, {"Helicone-Retry-Num": "3"}),
    ({"retry_num": 0}, {"Helicone-Retry-Num": "0"}),
    ({"retry_factor": 2}, {"Helicone-Retry-Factor": "2"}),
    ({"retry_factor": 1.5}, {"Helicone-Retry-Factor": "1.5"}),
    ({"retry_min_timeout_ms": 1000}, {"Helicone-Retry-Min-Timeout": "1000"}),
    ({"retry_max_timeout_ms": 10000}, {"Helicone-Retry-Max-Timeout": "10000"}),
    (
        {"rate_limit_policy": RateLimitPolicy(1000, 3600)},
        {"Helicone-RateLimit-Policy": "1000;w=3600;u=request"},
    ),
    ({"request_id": RID}, {"Helicone-Request-Id": RID}),
    ({"request_id": RID.upper()}, {"Helicone-Request-Id": RID.upper()}),
    ({"omit_request": True}, {"Helicone-Omit-Request": "true"}),
    ({"omit_response": True}, {"Helicone-Omit-Response": "true"}),
    ({"llm_security_enabled": True}, {"Helicone-LLM-Security-Enabled": "true"}),
    ({"llm_security_advanced": False}, {"Helicone-LLM-Security-Advanced": "false"}),
    ({"moderations_enabled": True}, {"Helicone-Moderations-Enabled": "true"}),
    ({"posthog_key": "phc_abc"}, {"Helicone-Posthog-Key": "phc_abc"}),
    (
        {"posthog_host": "https://eu.posthog.com"},
        {"Helicone-Posthog-Host": "https://eu.posthog.com"},
    ),
    ({"token_limit_handler": "truncate"}, {"Helicone-Token-Limit-Exception-Handler": "truncate"}),
    (
        {"token_limit_handler": "middle-out"},
        {"Helicone-Token-Limit-Exception-Handler": "middle-out"},
    ),
    ({"token_limit_handler": "fallback"}, {"Helicone-Token-Limit-Exception-Handler": "fallback"}),
    ({"stream_force_format": True}, {"Helicone-Stream-Force-Format": "true"}),
    ({"stream_usage": True}, {"Helicone-Stream-Usage": "true"}),
    ({"model_override": "gpt-4o-2024-08-06"}, {"Helicone-Model-Override": "gpt-4o-2024-08-06"}),
    ({"extra_headers": {"Helicone-Fallbacks": "[]"}}, {"Helicone-Fallbacks": "[]"}),
    (
        {"extra_headers": {"X-Trace": "abc", "Helicone-Cache-Save": "true"}},
        {"X-Trace": "abc", "Helicone-Cache-Save": "true"},
    ),
    ({}, {}),
]


@pytest.mark.parametrize(("kwargs", "expected"), OPTION_HEADERS)
def test_option_renders_exact_header(kwargs: dict[str, Any], expected: dict[str, str]) -> None:
    """Each option becomes exactly its header name and value; unset options send nothing."""
    assert HeliconeOptions(**kwargs).to_headers() == expected


def test_every_option_field_is_covered_by_the_table() -> None:
    """The header table above exercises every field of HeliconeOptions."""
    covered = {name for kwargs, _ in OPTION_HEADERS for name in kwargs}
    fields = {a.name for a in HeliconeOptions.__attrs_attrs__ if a.init}
    assert fields == covered


def test_to_headers_returns_a_fresh_dict() -> None:
    """Mutating the returned headers does not change later results (they are cached)."""
    options = HeliconeOptions(user_id="u")
    first = options.to_headers()
    first["X-Mutated"] = "1"
    assert options.to_headers() == {"Helicone-User-Id": "u"}


def test_all_headers_are_header_safe() -> None:
    """A fully loaded options object renders only printable-ASCII names and values."""
    options = HeliconeOptions(
        **{k: v for kwargs, _ in OPTION_HEADERS for k, v in kwargs.items() if k != "request_id"},
    )
    headers = options.to_headers()
    assert len(headers) >= 30
    for name, value in headers.items():
        assert re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name)
        assert value.isascii()
        assert value == "" or value.isprintable()


def test_options_are_frozen_and_hashable() -> None:
    """Options are immutable (properties included) and usable as dict keys."""
    options = HeliconeOptions(properties={"Env": "prod"}, user_id="u")
    with pytest.raises(AttributeError):
        options.user_id = "v"  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.properties["Env"] = "dev"  # type: ignore[index]
    assert options == HeliconeOptions(properties={"Env": "prod"}, user_id="u")
    assert {options: 1}[HeliconeOptions(properties={"Env": "prod"}, user_id="u")] == 1
    assert "properties={'Env': 'prod'}" in repr(options)


def test_properties_input_is_copied() -> None:
    """Changing the dict passed in does not change the options."""
    props = {"Env": "prod"}
    options = HeliconeOptions(properties=props)
    props["Env"] = "dev"
    assert options.to_headers() == {"Helicone-Property-Env": "prod"}


def test_options_are_keyword_only() -> None:
    """With thirty options, positional arguments would be a trap."""
    with pytest.raises(TypeError):
        HeliconeOptions({"a": "b"})  # type: ignore[call-arg]


# kwargs, the field named by the error, a fragment of the message
INVALID_OPTIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"properties": {"Env": "a\r\nX-Injected: 1"}}, "helicone.properties['Env']", "header-safe"),
    ({"properties": {"Env": "caf\u00e9"}}, "helicone.properties['Env']", "header-safe"),
    ({"properties": {"Env": "a\x00b"}}, "helicone.properties['Env']", "header-safe"),
    ({"properties": {"Env": "a\tb"}}, "helicone.properties['Env']", "header-safe"),
    ({"properties": {"Env": 1}}, "helicone.properties['Env']", "must be a string"),
    (
        {"properties": {"Bad Name": "x"}},
        "helicone.properties['Bad Name']",
        "not a valid header name",
    ),
    ({"properties": {"": "x"}}, "helicone.properties['']", "not a valid header name"),
    ({"properties": {"Env:x": "x"}}, "helicone.properties['Env:x']", "not a valid header name"),
    ({"properties": {"Env": "a", "env": "b"}}, "helicone.properties", "appears twice"),
    ({"properties": "Env=prod"}, "helicone.properties", "must be a mapping"),
    ({"user_id": ""}, "helicone.user_id", "must not be empty"),
    ({"user_id": "a\nb"}, "helicone.user_id", "header-safe"),
    ({"user_id": "\u00fcser"}, "helicone.user_id", "header-safe"),
    ({"user_id": 42}, "helicone.user_id", "must be a string"),
    ({"session_id": "x\ry"}, "helicone.session_id", "header-safe"),
    ({"session_path": "/a\x7f"}, "helicone.session_path", "header-safe"),
    ({"session_name": ""}, "helicone.session_name", "must not be empty"),
    ({"prompt_id": b"p"}, "helicone.prompt_id", "must be a string"),
    ({"cache_enabled": "true"}, "helicone.cache_enabled", "True or False"),
    ({"cache_enabled": 1}, "helicone.cache_enabled", "True or False"),
    ({"cache_max_age": -1}, "helicone.cache_max_age", "between 0 and 31536000"),
    ({"cache_max_age": 31_536_001}, "helicone.cache_max_age", "between 0 and 31536000"),
    ({"cache_max_age": 1.5}, "helicone.cache_max_age", "integer"),
    ({"cache_bucket_max_size": 0}, "helicone.cache_bucket_max_size", "between 1 and 20"),
    ({"cache_bucket_max_size": 21}, "helicone.cache_bucket_max_size", "between 1 and 20"),
    ({"cache_bucket_max_size": True}, "helicone.cache_bucket_max_size", "integer"),
    ({"cache_seed": "s\u00e9ed"}, "helicone.cache_seed", "header-safe"),
    ({"cache_ignore_keys": "request_id"}, "helicone.cache_ignore_keys", "not a string"),
    ({"cache_ignore_keys": ["a,b"]}, "helicone.cache_ignore_keys", "without ','"),
    ({"cache_ignore_keys": ['a"b']}, "helicone.cache_ignore_keys", "without ','"),
    ({"cache_ignore_keys": ["a\\b"]}, "helicone.cache_ignore_keys", "without ','"),
    ({"cache_ignore_keys": [""]}, "helicone.cache_ignore_keys", "non-empty"),
    ({"cache_ignore_keys": [1]}, "helicone.cache_ignore_keys", "non-empty strings"),
    ({"cache_ignore_keys": ["k\u00e9y"]}, "helicone.cache_ignore_keys", "printable ASCII"),
    ({"retry_enabled": "yes"}, "helicone.retry_enabled", "True or False"),
    ({"retry_num": -1}, "helicone.retry_num", ">= 0"),
    ({"retry_num": "3"}, "helicone.retry_num", "integer"),
    ({"retry_factor": -0.5}, "helicone.retry_factor", ">= 0"),
    ({"retry_factor": math.nan}, "helicone.retry_factor", "finite"),
    ({"retry_factor": math.inf}, "helicone.retry_factor", "finite"),
    ({"retry_factor": "2"}, "helicone.retry_factor", "must be a number"),
    ({"retry_min_timeout_ms": -1}, "helicone.retry_min_timeout_ms", ">= 0"),
    ({"retry_max_timeout_ms": -5}, "helicone.retry_max_timeout_ms", ">= 0"),
    ({"rate_limit_policy": "100;w=60"}, "helicone.rate_limit_policy", "RateLimitPolicy.parse"),
    ({"request_id": "not-a-uuid"}, "helicone.request_id", "not a UUID"),
    ({"request_id": "00000000-0000-0000-0000-000000000000"}, "helicone.request_id", "not a UUID"),
    (
        {"request_id": "01890a5d-ac96-774b-bcce-b302099a8057"},
        "helicone.request_id",
        "version 1-5",
    ),  # v7
    ({"request_id": "{" + RID + "}"}, "helicone.request_id", "not a UUID"),
    ({"request_id": RID.replace("-", "")}, "helicone.request_id", "not a UUID"),
    (
        {"request_id": "0b6a2f2e-3c4d-4e5f-0a9b-0c1d2e3f4a5b"},
        "helicone.request_id",
        "not a UUID",
    ),  # bad variant
    ({"request_id": uuid.UUID(RID)}, "helicone.request_id", "must be a string"),
    ({"omit_request": "true"}, "helicone.omit_request", "True or False"),
    ({"omit_response": None, "omit_request": 0}, "helicone.omit_request", "True or False"),
    ({"llm_security_enabled": "true"}, "helicone.llm_security_enabled", "True or False"),
    ({"llm_security_advanced": 1}, "helicone.llm_security_advanced", "True or False"),
    ({"moderations_enabled": "yes"}, "helicone.moderations_enabled", "True or False"),
    ({"posthog_key": "k\n"}, "helicone.posthog_key", "header-safe"),
    ({"posthog_host": ""}, "helicone.posthog_host", "must not be empty"),
    (
        {"token_limit_handler": "drop"},
        "helicone.token_limit_handler",
        "truncate, middle-out, fallback",
    ),
    ({"stream_force_format": "true"}, "helicone.stream_force_format", "True or False"),
    ({"stream_usage": 1}, "helicone.stream_usage", "True or False"),
    ({"model_override": "gpt\r\n"}, "helicone.model_override", "header-safe"),
    (
        {"extra_headers": {"Authorization": "Bearer sk-secret"}},
        "helicone.extra_headers['Authorization']",
        "pass keys to the client",
    ),
    (
        {"extra_headers": {"helicone-auth": "Bearer sk-secret"}},
        "helicone.extra_headers['helicone-auth']",
        "pass keys to the client",
    ),
    (
        {"extra_headers": {"Content-Length": "3"}},
        "helicone.extra_headers['Content-Length']",
        "framing",
    ),
    (
        {"extra_headers": {"Helicone-User-Id": "u"}},
        "helicone.extra_headers['Helicone-User-Id']",
        "user_id=",
    ),
    (
        {"extra_headers": {"cache-control": "no-cache"}},
        "helicone.extra_headers['cache-control']",
        "cache_max_age=",
    ),
    (
        {"extra_headers": {"Helicone-Rate-Limit-Policy": "1;w=60"}},
        "helicone.extra_headers['Helicone-Rate-Limit-Policy']",
        "rate_limit_policy=",
    ),
    (
        {"extra_headers": {"Helicone-Property-Env": "x"}},
        "helicone.extra_headers['Helicone-Property-Env']",
        "properties=",
    ),
    (
        {"extra_headers": {"Helicone-Cache-Ignore-Keys": "a"}},
        "helicone.extra_headers['Helicone-Cache-Ignore-Keys']",
        "cache_ignore_keys=",
    ),
    (
        {"extra_headers": {"X-Bad\n": "v"}},
        "helicone.extra_headers['X-Bad\\n']",
        "not a valid header name",
    ),
    (
        {"extra_headers": {"X-Ok": "v\r\nX-Evil: 1"}},
        "helicone.extra_headers['X-Ok']",
        "header-safe",
    ),
    ({"extra_headers": {"X-A": "1", "x-a": "2"}}, "helicone.extra_headers", "appears twice"),
    ({"extra_headers": [("X-A", "1")]}, "helicone.extra_headers", "must be a mapping"),
]


@pytest.mark.parametrize(("kwargs", "field", "fragment"), INVALID_OPTIONS)
def test_invalid_option_is_refused(kwargs: dict[str, Any], field: str, fragment: str) -> None:
    """Each invalid option raises InvalidInputError naming that option."""
    with pytest.raises(InvalidInputError) as info:
        HeliconeOptions(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)
    assert fragment in info.value.problem
    assert isinstance(info.value, ValueError)


def test_secret_in_refused_extra_header_is_not_echoed() -> None:
    """Refusing an Authorization extra header does not put the key in the message."""
    with pytest.raises(InvalidInputError) as info:
        HeliconeOptions(extra_headers={"Authorization": "Bearer sk-very-secret"})
    assert "sk-very-secret" not in str(info.value)


def test_unsafe_value_is_not_echoed() -> None:
    """A header-unsafe value is described by its bad character, never echoed (it may be a key)."""
    with pytest.raises(InvalidInputError) as info:
        HeliconeOptions(extra_headers={"X-Api-Key": "sk-secret-value\n"})
    assert "sk-secret-value" not in str(info.value)
    assert "'\\n' at index 15" in info.value.problem


# --------------------------------------------------------------------------------------
# Rules across fields (checked when headers are resolved)


def test_user_segment_needs_a_user_id() -> None:
    """s=user without Helicone-User-Id (or body user) is refused: the gateway would not limit."""
    options = HeliconeOptions(rate_limit_policy=RateLimitPolicy(10, 60, segment="user"))
    with pytest.raises(InvalidInputError, match="needs helicone user_id") as info:
        options.to_headers()
    assert info.value.field == "helicone.rate_limit_policy"
    with pytest.raises(InvalidInputError):
        resolve_helicone(options, None, None)
    # The body's `user` field counts, as the gateway falls back to it.
    assert (
        options.to_headers(body_user="bob")["Helicone-RateLimit-Policy"]
        == "10;w=60;u=request;s=user"
    )
    assert resolve_helicone(options, None, None, body_user="bob").headers[
        "Helicone-RateLimit-Policy"
    ]
    with_user = HeliconeOptions(
        user_id="u", rate_limit_policy=RateLimitPolicy(10, 60, segment="user")
    )
    assert with_user.to_headers()["Helicone-User-Id"] == "u"


def test_user_segment_satisfied_by_another_layer() -> None:
    """A client policy s=user is satisfied by a per-call user id."""
    client = HeliconeOptions(rate_limit_policy=RateLimitPolicy(10, 60, segment="user"))
    resolved = resolve_helicone(client, HeliconeOptions(user_id="carol"), None)
    assert resolved.headers["Helicone-User-Id"] == "carol"
    resolved = resolve_helicone(client, None, {"Helicone-User-Id": "dave"})
    assert resolved.headers["Helicone-User-Id"] == "dave"


def test_property_segment_needs_that_property() -> None:
    """s=<name> needs Helicone-Property-<name>, matched case-insensitively."""
    policy = RateLimitPolicy(10, 60, segment="Organization")
    with pytest.raises(InvalidInputError, match="needs the property 'Organization'") as info:
        HeliconeOptions(rate_limit_policy=policy, properties={"Team": "a"}).to_headers()
    assert info.value.field == "helicone.rate_limit_policy"
    ok = HeliconeOptions(rate_limit_policy=policy, properties={"organization": "acme"})
    assert ok.to_headers()["Helicone-Property-organization"] == "acme"
    client = HeliconeOptions(rate_limit_policy=policy)
    resolved = resolve_helicone(client, HeliconeOptions(properties={"ORGANIZATION": "x"}), None)
    assert resolved.headers["Helicone-RateLimit-Policy"] == "10;w=60;u=request;s=Organization"


def test_retry_timeouts_must_be_ordered() -> None:
    """A minimum retry timeout above the maximum is refused."""
    options = HeliconeOptions(retry_min_timeout_ms=5000, retry_max_timeout_ms=1000)
    with pytest.raises(InvalidInputError, match="above retry_max_timeout_ms") as info:
        options.to_headers()
    assert info.value.field == "helicone.retry_min_timeout_ms"
    with pytest.raises(InvalidInputError):
        resolve_helicone(
            HeliconeOptions(retry_min_timeout_ms=5000),
            HeliconeOptions(retry_max_timeout_ms=10),
            None,
        )


# --------------------------------------------------------------------------------------
# Merge precedence


def test_merge_override_wins_and_properties_merge() -> None:
    """Set fields of the override win; properties and extra headers merge by key."""
    base = HeliconeOptions(
        user_id="base",
        session_id="s1",
        cache_enabled=True,
        properties={"Env": "prod", "App": "demo"},
        extra_headers={"X-A": "1", "X-B": "2"},
        cache_ignore_keys=("a",),
    )
    override = HeliconeOptions(
        user_id="call",
        cache_enabled=False,
        properties={"env": "dev", "Req": "7"},
        extra_headers={"x-b": "3"},
    )
    merged = base.merge(override)
    assert merged.user_id == "call"
    assert merged.session_id == "s1"
    assert merged.cache_enabled is False
    assert dict(merged.properties) == {"App": "demo", "env": "dev", "Req": "7"}
    assert dict(merged.extra_headers) == {"X-A": "1", "x-b": "3"}
    assert merged.cache_ignore_keys == ("a",)
    assert base.merge(HeliconeOptions(cache_ignore_keys=["b"])).cache_ignore_keys == ("b",)
    assert merged == HeliconeOptions(
        user_id="call",
        session_id="s1",
        cache_enabled=False,
        properties={"App": "demo", "env": "dev", "Req": "7"},
        extra_headers={"X-A": "1", "x-b": "3"},
        cache_ignore_keys=("a",),
    )
    assert merged.to_headers()["Helicone-Property-env"] == "dev"
    assert "Helicone-Property-Env" not in merged.to_headers()
    # The inputs are untouched.
    assert base.user_id == "base"
    assert dict(base.properties) == {"Env": "prod", "App": "demo"}


def test_merge_with_nothing_returns_self() -> None:
    """Merging None or empty options gives the same object."""
    base = HeliconeOptions(user_id="u")
    assert base.merge(None) is base
    assert base.merge(HeliconeOptions()) is base
    assert HeliconeOptions().merge(base) == base


def test_merged_options_render_fresh_headers() -> None:
    """A merged object does not reuse the base's cached headers."""
    base = HeliconeOptions(user_id="u")
    assert base.to_headers() == {"Helicone-User-Id": "u"}
    merged = base.merge(HeliconeOptions(user_id="v", omit_request=True))
    assert merged.to_headers() == {"Helicone-User-Id": "v", "Helicone-Omit-Request": "true"}


def test_resolve_precedence_client_metadata_call() -> None:
    """client defaults < metadata < call options, for fields and properties."""
    client = HeliconeOptions(
        user_id="client",
        session_id="c-s",
        properties={"A": "client", "B": "client"},
        request_id=RID,
    )
    metadata = {
        "Helicone-User-Id": "meta",
        "helicone-property-b": "meta",
        "Helicone-Property-C": "meta",
        "Helicone-Request-Id": RID2,
    }
    call = HeliconeOptions(user_id="call", properties={"C": "call"})
    resolved = resolve_helicone(client, call, metadata)
    assert resolved.headers == {
        "Helicone-User-Id": "call",
        "Helicone-Session-Id": "c-s",
        "Helicone-Property-A": "client",
        "Helicone-Property-b": "meta",
        "Helicone-Property-C": "call",
        "Helicone-Request-Id": RID2,
    }
    assert resolved.request_id == RID2
    assert resolve_helicone(client, HeliconeOptions(request_id=RID), metadata).request_id == RID
    assert resolve_helicone(client, None, None).request_id == RID


@pytest.mark.parametrize(
    ("client", "call"),
    [
        (
            HeliconeOptions(user_id="a", properties={"X": "1"}),
            HeliconeOptions(properties={"x": "2"}, cache_seed="s"),
        ),
        (
            HeliconeOptions(extra_headers={"X-T": "1"}, retry_num=2),
            HeliconeOptions(extra_headers={"x-t": "2", "X-U": "3"}),
        ),
        (
            HeliconeOptions(cache_ignore_keys=["a"], cache_enabled=True),
            HeliconeOptions(cache_ignore_keys=["b", "c"], cache_enabled=False),
        ),
        (HeliconeOptions(), HeliconeOptions(user_id="z")),
    ],
)
def test_resolve_matches_merge_then_to_headers(
    client: HeliconeOptions, call: HeliconeOptions
) -> None:
    """The fast header overlay in resolve gives what merge() + to_headers() gives."""
    resolved = resolve_helicone(client, call, None)
    expected = client.merge(call).to_headers()
    expected["Helicone-Request-Id"] = resolved.request_id
    assert resolved.headers == expected


# --------------------------------------------------------------------------------------
# resolve_helicone


def test_resolve_nothing_sends_only_a_fresh_uuid4() -> None:
    """With no options, only a new random UUID4 request id is sent."""
    first = resolve_helicone(None, None, None)
    second = resolve_helicone(None, None, None)
    assert isinstance(first, ResolvedHelicone)
    assert first.headers == {"Helicone-Request-Id": first.request_id}
    assert _uuid_v4(first.request_id)
    assert first.request_id != second.request_id
    assert first.body_metadata is None
    assert resolve_helicone(None, None, {}).body_metadata is None


def test_generated_request_ids_pass_the_gateway_check() -> None:
    """Generated ids are v4 UUIDs of the form the gateway keeps (not silently replaced)."""
    for _ in range(200):
        rid = resolve_helicone(HeliconeOptions(user_id="u"), None, None).request_id
        assert _uuid_v4(rid)
        assert HeliconeOptions(request_id=rid).request_id == rid


def test_resolve_returns_fresh_headers_each_time() -> None:
    """Each request gets its own dict and its own id, even with shared client options."""
    client = HeliconeOptions(user_id="u")
    a = resolve_helicone(client, None, None)
    b = resolve_helicone(client, None, None)
    assert a.headers is not b.headers
    assert a.request_id != b.request_id
    a.headers["X"] = "1"
    assert "X" not in client.to_headers()


# metadata key, value, expected headers (besides the request id)
METADATA_HEADERS: list[tuple[str, Any, dict[str, str]]] = [
    (
        "Helicone-Property-Environment",
        "production",
        {"Helicone-Property-Environment": "production"},
    ),
    ("helicone-property-user-id", "user_123", {"Helicone-Property-user-id": "user_123"}),
    ("Helicone-Property-Count", 3, {"Helicone-Property-Count": "3"}),
    ("Helicone-Property-Flag", True, {"Helicone-Property-Flag": "true"}),
    ("Helicone-Property-Score", 0.25, {"Helicone-Property-Score": "0.25"}),
    ("Helicone-User-Id", "u1", {"Helicone-User-Id": "u1"}),
    ("helicone-user-id", 123, {"Helicone-User-Id": "123"}),
    ("Helicone-Session-Id", "session_abc", {"Helicone-Session-Id": "session_abc"}),
    ("Helicone-Session-Path", "/a/b", {"Helicone-Session-Path": "/a/b"}),
    ("Helicone-Session-Name", "Chat", {"Helicone-Session-Name": "Chat"}),
    ("Helicone-Prompt-Id", "prompt_v1", {"Helicone-Prompt-Id": "prompt_v1"}),
    ("Helicone-Cache-Enabled", "true", {"Helicone-Cache-Enabled": "true"}),
    ("Helicone-Cache-Enabled", "TRUE", {"Helicone-Cache-Enabled": "true"}),
    ("helicone-cache-enabled", "false", {"Helicone-Cache-Enabled": "false"}),
    ("Helicone-Cache-Enabled", True, {"Helicone-Cache-Enabled": "true"}),
    ("Cache-Control", "max-age=3600", {"Cache-Control": "max-age=3600"}),
    ("cache-control", "public, s-maxage=60, max-age=5", {"Cache-Control": "max-age=60"}),
    ("Cache-Control", 120, {"Cache-Control": "max-age=120"}),
    ("Helicone-Cache-Bucket-Max-Size", "3", {"Helicone-Cache-Bucket-Max-Size": "3"}),
    ("Helicone-Cache-Seed", "user-123", {"Helicone-Cache-Seed": "user-123"}),
    (
        "Helicone-Cache-Ignore-Keys",
        "request_id,timestamp",
        {"Helicone-Cache-Ignore-Keys": '"request_id","timestamp"'},
    ),
    (
        "Helicone-Cache-Ignore-Keys",
        " request_id , timestamp, ",
        {"Helicone-Cache-Ignore-Keys": '"request_id","timestamp"'},
    ),
    (
        "Helicone-Cache-Ignore-Keys",
        '"request_id","timestamp"',
        {"Helicone-Cache-Ignore-Keys": '"request_id","timestamp"'},
    ),
    (
        "Helicone-Cache-Ignore-Keys",
        '["request_id"]',
        {"Helicone-Cache-Ignore-Keys": '"request_id"'},
    ),
    ("Helicone-Cache-Ignore-Keys", ["a", "b"], {"Helicone-Cache-Ignore-Keys": '"a","b"'}),
    ("Helicone-Retry-Enabled", "true", {"Helicone-Retry-Enabled": "true"}),
    ("helicone-retry-num", "3", {"Helicone-Retry-Num": "3"}),
    ("helicone-retry-num", 4, {"Helicone-Retry-Num": "4"}),
    ("helicone-retry-factor", "2", {"Helicone-Retry-Factor": "2"}),
    ("helicone-retry-factor", "1.5", {"Helicone-Retry-Factor": "1.5"}),
    ("Helicone-Retry-Min-Timeout", "1000", {"Helicone-Retry-Min-Timeout": "1000"}),
    ("Helicone-Retry-Max-Timeout", "10000", {"Helicone-Retry-Max-Timeout": "10000"}),
    (
        "Helicone-RateLimit-Policy",
        "1000;w=3600",
        {"Helicone-RateLimit-Policy": "1000;w=3600;u=request"},
    ),
    (
        "Helicone-Rate-Limit-Policy",
        "5000;W=86400;U=CENTS",
        {"Helicone-RateLimit-Policy": "5000;w=86400;u=cents"},
    ),
    (
        "helicone-ratelimit-policy",
        RateLimitPolicy(1, 60),
        {"Helicone-RateLimit-Policy": "1;w=60;u=request"},
    ),
    ("Helicone-Omit-Request", "true", {"Helicone-Omit-Request": "true"}),
    ("Helicone-Omit-Response", "false", {"Helicone-Omit-Response": "false"}),
    ("Helicone-LLM-Security-Enabled", "true", {"Helicone-LLM-Security-Enabled": "true"}),
    ("Helicone-Prompt-Security-Enabled", "true", {"Helicone-LLM-Security-Enabled": "true"}),
    ("Helicone-LLM-Security-Advanced", "true", {"Helicone-LLM-Security-Advanced": "true"}),
    ("Helicone-Moderations-Enabled", "true", {"Helicone-Moderations-Enabled": "true"}),
    ("Helicone-Posthog-Key", "phc_1", {"Helicone-Posthog-Key": "phc_1"}),
    (
        "Helicone-Posthog-Host",
        "https://ph.example",
        {"Helicone-Posthog-Host": "https://ph.example"},
    ),
    (
        "Helicone-Token-Limit-Exception-Handler",
        "middle-out",
        {"Helicone-Token-Limit-Exception-Handler": "middle-out"},
    ),
    ("helicone-stream-force-format", "true", {"Helicone-Stream-Force-Format": "true"}),
    ("helicone-stream-usage", "true", {"Helicone-Stream-Usage": "true"}),
    ("Helicone-Model-Override", "gpt-4o", {"Helicone-Model-Override": "gpt-4o"}),
    # Unknown helicone-* keys pass as extra headers, with their spelling kept.
    ("Helicone-Fallbacks", "[]", {"Helicone-Fallbacks": "[]"}),
    ("helicone-cache-save", True, {"helicone-cache-save": "true"}),
    ("Helicone-Node-Id", "n1", {"Helicone-Node-Id": "n1"}),
]


@pytest.mark.parametrize(("key", "value", "expected"), METADATA_HEADERS)
def test_metadata_key_maps_to_header(key: str, value: Any, expected: dict[str, str]) -> None:
    """A LiteLLM-style metadata key becomes the canonical Helicone header."""
    resolved = resolve_helicone(None, None, {key: value})
    headers = dict(resolved.headers)
    assert _uuid_v4(headers.pop("Helicone-Request-Id"))
    assert headers == expected
    assert resolved.body_metadata is None


def test_metadata_request_id_is_used() -> None:
    """Helicone-Request-Id in metadata becomes the request id."""
    resolved = resolve_helicone(None, None, {"helicone-request-id": RID})
    assert resolved.request_id == RID
    assert resolved.headers == {"Helicone-Request-Id": RID}


def test_litellm_seed_examples() -> None:
    """The metadata dicts of LiteLLM's Helicone docs resolve as intended."""
    resolved = resolve_helicone(
        None,
        None,
        {
            "Helicone-Cache-Enabled": "true",
            "Helicone-Property-Environment": "production",
            "Helicone-Property-User-Id": "user_123",
            "Helicone-Session-Id": "session_abc",
            "Helicone-Prompt-Id": "prompt_v1",
        },
    )
    assert resolved.headers["Helicone-Property-User-Id"] == "user_123"
    assert resolved.headers["Helicone-Cache-Enabled"] == "true"
    retry = resolve_helicone(
        None,
        None,
        {"Helicone-Retry-Enabled": "true", "helicone-retry-num": "3", "helicone-retry-factor": "2"},
    )
    assert {k: v for k, v in retry.headers.items() if k != "Helicone-Request-Id"} == {
        "Helicone-Retry-Enabled": "true",
        "Helicone-Retry-Num": "3",
        "Helicone-Retry-Factor": "2",
    }


def test_non_helicone_metadata_stays_in_body() -> None:
    """OpenAI's own metadata keys are returned for the body, untouched."""
    resolved = resolve_helicone(
        None,
        None,
        {"customer": "acme", "Helicone-User-Id": "u", "run": {"nested": 1}, "X-Not-Helicone": "1"},
    )
    assert resolved.body_metadata == {
        "customer": "acme",
        "run": {"nested": 1},
        "X-Not-Helicone": "1",
    }
    assert resolved.headers["Helicone-User-Id"] == "u"
    assert "X-Not-Helicone" not in resolved.headers


# metadata, the field named by the error, a fragment of the message
INVALID_METADATA: list[tuple[dict[Any, Any], str, str]] = [
    ({"Helicone-Request-Id": "abc"}, "metadata['Helicone-Request-Id']", "not a UUID"),
    (
        {"Helicone-RateLimit-Policy": "100 per hour"},
        "metadata['Helicone-RateLimit-Policy']",
        "does not match",
    ),
    (
        {"Helicone-Rate-Limit-Policy": "100;w=30"},
        "metadata['Helicone-Rate-Limit-Policy']",
        "between 60 and 31536000",
    ),
    (
        {"Helicone-RateLimit-Policy": 100},
        "metadata['Helicone-RateLimit-Policy']",
        "must be a string",
    ),
    ({"Helicone-Cache-Enabled": "yes"}, "metadata['Helicone-Cache-Enabled']", "'true' or 'false'"),
    ({"Helicone-Cache-Enabled": 1}, "metadata['Helicone-Cache-Enabled']", "'true' or 'false'"),
    ({"helicone-retry-num": "three"}, "metadata['helicone-retry-num']", "integer"),
    ({"helicone-retry-num": "-1"}, "metadata['helicone-retry-num']", "integer"),
    ({"helicone-retry-num": True}, "metadata['helicone-retry-num']", "integer"),
    ({"helicone-retry-factor": "fast"}, "metadata['helicone-retry-factor']", "number"),
    (
        {"Helicone-Cache-Bucket-Max-Size": "25"},
        "metadata['Helicone-Cache-Bucket-Max-Size']",
        "between 1 and 20",
    ),
    ({"Cache-Control": "no-cache"}, "metadata['Cache-Control']", "max-age"),
    ({"Cache-Control": "max-age=99999999"}, "metadata['Cache-Control']", "between 0 and 31536000"),
    ({"Helicone-Cache-Ignore-Keys": '"a",'}, "metadata['Helicone-Cache-Ignore-Keys']", "JSON list"),
    (
        {"Helicone-Cache-Ignore-Keys": '{"a": 1}'},
        "metadata['Helicone-Cache-Ignore-Keys']",
        "without ','",
    ),
    (
        {"Helicone-Cache-Ignore-Keys": "[1, 2]"},
        "metadata['Helicone-Cache-Ignore-Keys']",
        "non-empty strings",
    ),
    (
        {"Helicone-Cache-Ignore-Keys": 5},
        "metadata['Helicone-Cache-Ignore-Keys']",
        "must be a string",
    ),
    ({"Helicone-User-Id": ["u"]}, "metadata['Helicone-User-Id']", "must be a string (or bool/int)"),
    ({"Helicone-User-Id": None}, "metadata['Helicone-User-Id']", "must be a string (or bool/int)"),
    (
        {"Helicone-Property-Score": math.nan},
        "metadata['Helicone-Property-Score']",
        "must be a string (or bool/int)",
    ),
    ({"Helicone-User-Id": "a\r\nb"}, "metadata['Helicone-User-Id']", "header-safe"),
    (
        {"Helicone-Property-Env": {"x": 1}},
        "metadata['Helicone-Property-Env']",
        "must be a string (or bool/int)",
    ),
    ({"Helicone-Property-Env": "caf\u00e9"}, "metadata['Helicone-Property-Env']", "header-safe"),
    ({"Helicone-Property-": "x"}, "metadata['Helicone-Property-']", "not a valid header name"),
    (
        {"Helicone-Property-Bad Name": "x"},
        "metadata['Helicone-Property-Bad Name']",
        "not a valid header name",
    ),
    (
        {"Helicone-Token-Limit-Exception-Handler": "drop"},
        "metadata['Helicone-Token-Limit-Exception-Handler']",
        "truncate",
    ),
    ({"Helicone-Auth": "Bearer sk-x"}, "metadata['Helicone-Auth']", "pass keys to the client"),
    ({"Helicone-Unknown": "a\nb"}, "metadata['Helicone-Unknown']", "header-safe"),
    (
        {"Helicone-Unknown": object()},
        "metadata['Helicone-Unknown']",
        "must be a string (or bool/int)",
    ),
    ({"Helicone-Property-Env": "a", "helicone-property-env": "b"}, "metadata", "appears twice"),
    ({1: "x"}, "metadata", "keys must be strings"),
]


@pytest.mark.parametrize(("metadata", "field", "fragment"), INVALID_METADATA)
def test_invalid_metadata_names_the_key(
    metadata: dict[Any, Any], field: str, fragment: str
) -> None:
    """Metadata values get the same validation as options, with the key named."""
    with pytest.raises(InvalidInputError) as info:
        resolve_helicone(None, None, metadata)
    assert info.value.field == field
    assert fragment in info.value.problem


def test_metadata_must_be_a_mapping() -> None:
    """A non-mapping metadata argument is refused."""
    with pytest.raises(InvalidInputError) as info:
        resolve_helicone(None, None, [("Helicone-User-Id", "u")])  # type: ignore[arg-type]
    assert info.value.field == "metadata"


# --------------------------------------------------------------------------------------
# Cache ignore keys: the form the gateway actually parses


@pytest.mark.parametrize(
    "keys", [["request_id"], ["request_id", "timestamp"], ["a", "b-c", "d_e", "f.g", "h:i"]]
)
def test_cache_ignore_keys_parse_with_the_gateway_method(keys: list[str]) -> None:
    """The header value reads back with the gateway's JSON.parse('[' + value + ']')."""
    value = HeliconeOptions(cache_ignore_keys=keys).to_headers()["Helicone-Cache-Ignore-Keys"]
    assert json.loads(f"[{value}]") == keys


def test_documented_comma_form_is_not_what_the_gateway_parses() -> None:
    """Why the JSON-quoted form: the documented 'a,b' is not JSON once bracketed (#5768)."""
    with pytest.raises(json.JSONDecodeError):
        json.loads("[request_id,timestamp]")


# --------------------------------------------------------------------------------------
# Rate-limit policy grammar

POLICY_VALUES: list[tuple[RateLimitPolicy, str]] = [
    (RateLimitPolicy(1000, 3600), "1000;w=3600;u=request"),
    (RateLimitPolicy(1000, 3600, "request", "user"), "1000;w=3600;u=request;s=user"),
    (RateLimitPolicy(5000, 86400, "cents"), "5000;w=86400;u=cents"),
    (RateLimitPolicy(0.5, 60, "cents"), "0.5;w=60;u=cents"),
    (RateLimitPolicy(10000, 3600, segment="organization"), "10000;w=3600;u=request;s=organization"),
    (RateLimitPolicy(1, 31_536_000, segment="a_b-C9"), "1;w=31536000;u=request;s=a_b-C9"),
    (RateLimitPolicy(1e-7, 60), "0.0000001;w=60;u=request"),
    (RateLimitPolicy(1e16, 60), "10000000000000000;w=60;u=request"),
    (RateLimitPolicy(2.0, 60), "2.0;w=60;u=request"),
    (RateLimitPolicy(3, 60, segment="USER"), "3;w=60;u=request;s=user"),
]


@pytest.mark.parametrize(("policy", "value"), POLICY_VALUES)
def test_policy_header_value(policy: RateLimitPolicy, value: str) -> None:
    """header_value follows the gateway grammar, order quota;w;u;s."""
    assert policy.header_value() == value
    assert GATEWAY_POLICY.fullmatch(value)
    assert RateLimitPolicy.parse(value) == policy


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000;w=3600", RateLimitPolicy(1000, 3600)),
        ("  100;w=60;s=user  ", RateLimitPolicy(100, 60, segment="user")),
        ("100;W=60;U=Cents;S=User", RateLimitPolicy(100, 60, "cents", "user")),
        ("0.5;w=60;u=cents", RateLimitPolicy(0.5, 60, "cents")),
        ("007;w=0060", RateLimitPolicy(7, 60)),
        ("10;w=60;s=Org-Id_2", RateLimitPolicy(10, 60, segment="Org-Id_2")),
    ],
)
def test_policy_parse_accepts_gateway_forms(raw: str, expected: RateLimitPolicy) -> None:
    """parse reads what the gateway reads (case-insensitive, trimmed)."""
    parsed = RateLimitPolicy.parse(raw)
    assert parsed == expected
    assert type(parsed.quota) is type(expected.quota)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "does not match"),
        ("abc", "does not match"),
        ("100", "does not match"),
        ("100;w=60;s=user;u=request", "does not match"),
        ("100; w=60", "does not match"),
        ("100;w=60;u=tokens", "does not match"),
        ("100;w=60;s=", "does not match"),
        ("100;w=60;s=a.b", "does not match"),
        ("100;w=60;s=\u00e9", "does not match"),
        ("-1;w=60", "does not match"),
        ("1e3;w=60", "does not match"),
        ("100;w=60.5", "does not match"),
        ("100;w=59", "between 60 and 31536000"),
        ("100;w=31536001", "between 60 and 31536000"),
        ("0;w=60", "> 0"),
        ("0.0;w=60", "> 0"),
    ],
)
def test_policy_parse_refuses_what_the_gateway_ignores(raw: str, fragment: str) -> None:
    """Policies the gateway would silently not apply are refused."""
    with pytest.raises(InvalidInputError) as info:
        RateLimitPolicy.parse(raw)
    assert info.value.field == "helicone.rate_limit_policy"
    assert fragment in info.value.problem


def test_policy_parse_refuses_non_strings() -> None:
    """parse needs a string."""
    with pytest.raises(InvalidInputError, match="must be a string"):
        RateLimitPolicy.parse(100)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((0, 60), {}, "helicone.rate_limit_policy.quota"),
        ((-1, 60), {}, "helicone.rate_limit_policy.quota"),
        ((math.nan, 60), {}, "helicone.rate_limit_policy.quota"),
        ((math.inf, 60), {}, "helicone.rate_limit_policy.quota"),
        ((True, 60), {}, "helicone.rate_limit_policy.quota"),
        (("10", 60), {}, "helicone.rate_limit_policy.quota"),
        ((10, 59), {}, "helicone.rate_limit_policy.window"),
        ((10, 31_536_001), {}, "helicone.rate_limit_policy.window"),
        ((10, 60.0), {}, "helicone.rate_limit_policy.window"),
        ((10, True), {}, "helicone.rate_limit_policy.window"),
        ((10, 60), {"unit": "requests"}, "helicone.rate_limit_policy.unit"),
        ((10, 60), {"unit": "REQUEST"}, "helicone.rate_limit_policy.unit"),
        ((10, 60), {"segment": ""}, "helicone.rate_limit_policy.segment"),
        ((10, 60), {"segment": "a b"}, "helicone.rate_limit_policy.segment"),
        ((10, 60), {"segment": "\u00e9t\u00e9"}, "helicone.rate_limit_policy.segment"),
        ((10, 60), {"segment": "a;u=cents"}, "helicone.rate_limit_policy.segment"),
    ],
)
def test_policy_construction_is_validated(
    args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    """Out-of-range quota, window, unit or segment is refused, naming the part."""
    with pytest.raises(InvalidInputError) as info:
        RateLimitPolicy(*args, **kwargs)
    assert info.value.field == field


_POLICIES = st.builds(
    RateLimitPolicy,
    quota=st.integers(1, 10**15)
    | st.floats(min_value=1e-9, max_value=1e15, allow_nan=False, allow_infinity=False),
    window=st.integers(60, 31_536_000),
    unit=st.sampled_from(["request", "cents"]),
    segment=st.none() | st.just("user") | st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True),
)


@given(_POLICIES)
def test_generated_policies_match_the_gateway_regex(policy: RateLimitPolicy) -> None:
    """Every valid policy renders to a value the gateway regex accepts, and parses back."""
    value = policy.header_value()
    match = GATEWAY_POLICY.fullmatch(value)
    assert match
    assert float(match.group(1)) == float(policy.quota)
    assert int(match.group(3)) == policy.window
    assert RateLimitPolicy.parse(value) == policy


# --------------------------------------------------------------------------------------
# Response headers -> metadata


def test_metadata_from_full_headers() -> None:
    """Every Helicone response header lands in its typed field."""
    headers = {
        "Helicone-Id": RID,
        "Helicone-Status": "success",
        "Helicone-Gateway-Mode": "PTB",
        "Helicone-Provider": "openai",
        "Helicone-Model": "gpt-4o-mini-2024-07-18",
        "Helicone-Cache": "HIT",
        "Helicone-Cache-Bucket-Idx": "2",
        "Helicone-Cache-Latency": "123",
        "Helicone-RateLimit-Limit": "1000",
        "Helicone-RateLimit-Remaining": "999",
        "Helicone-RateLimit-Policy": "1000;w=3600",
        "Helicone-RateLimit-Reset": "3599",
        "Content-Type": "application/json",
    }
    meta = HeliconeMetadata.from_headers(headers, sent_request_id=RID2)
    assert meta.request_id == RID
    assert meta.status == "success"
    assert meta.gateway_mode == "PTB"
    assert meta.provider == "openai"
    assert meta.model == "gpt-4o-mini-2024-07-18"
    assert meta.cache == CacheInfo(hit=True, bucket_index=2, latency_ms=123.0)
    assert meta.rate_limit == RateLimitInfo(
        limit=1000.0, remaining=999.0, policy="1000;w=3600", reset=3599.0
    )
    assert meta.headers["content-type"] == "application/json"
    assert all(name == name.lower() for name in meta.headers)
    assert meta.attempts == ()


def test_metadata_without_helicone_headers() -> None:
    """No Helicone headers: sent id kept, everything else None."""
    meta = HeliconeMetadata.from_headers({"Content-Type": "application/json"}, sent_request_id=RID)
    assert meta.request_id == RID
    assert meta.cache == CacheInfo(None, None, None)
    assert meta.rate_limit is None
    assert (meta.provider, meta.model, meta.gateway_mode, meta.status) == (None, None, None, None)
    assert HeliconeMetadata.from_headers({}, sent_request_id=None).request_id is None


@pytest.mark.parametrize(
    ("value", "hit"),
    [
        ("HIT", True),
        ("hit", True),
        ("MISS", False),
        (" miss ", False),
        ("MISS, HIT", True),
        ("maybe", None),
        ("", None),
    ],
)
def test_cache_hit_or_miss(value: str, hit: bool | None) -> None:
    """Helicone-Cache reads HIT/MISS case-insensitively, including a comma-joined replay."""
    meta = HeliconeMetadata.from_headers({"helicone-cache": value}, sent_request_id=None)
    assert meta.cache.hit is hit


def test_rate_limit_partial_headers() -> None:
    """Any one Helicone-RateLimit-* header makes rate_limit present; missing ones are None."""
    meta = HeliconeMetadata.from_headers(
        {"Helicone-RateLimit-Remaining": "0"}, sent_request_id=None
    )
    assert meta.rate_limit == RateLimitInfo(limit=None, remaining=0.0, policy=None, reset=None)
    meta = HeliconeMetadata.from_headers({"Helicone-RateLimit-Limit": "0.5"}, sent_request_id=None)
    assert meta.rate_limit is not None
    assert meta.rate_limit.limit == 0.5


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "abc", "1e999", "nan", "inf", "-", "1_000", "\u0661\u0662", "12abc", ",", "None"],
)
def test_garbage_values_become_none(garbage: str) -> None:
    """Unparseable numeric values give None and never raise."""
    headers = {
        "Helicone-Cache": garbage,
        "Helicone-Cache-Bucket-Idx": garbage,
        "Helicone-Cache-Latency": garbage,
        "Helicone-RateLimit-Limit": garbage,
        "Helicone-RateLimit-Remaining": garbage,
        "Helicone-RateLimit-Reset": garbage,
    }
    meta = HeliconeMetadata.from_headers(headers, sent_request_id=RID)
    assert meta.cache == CacheInfo(None, None, None)
    # The reset is a wait, read like Retry-After: "forever" is the longest wait, not None.
    reset = MAX_WAIT if garbage in ("1e999", "inf") else None
    assert meta.rate_limit == RateLimitInfo(None, None, None, reset)
    assert meta.request_id == RID


def test_negative_bucket_index_is_none() -> None:
    """A bucket index must be a non-negative integer."""
    meta = HeliconeMetadata.from_headers({"Helicone-Cache-Bucket-Idx": "-1"}, sent_request_id=None)
    assert meta.cache.bucket_index is None
    meta = HeliconeMetadata.from_headers({"Helicone-Cache-Bucket-Idx": "1.5"}, sent_request_id=None)
    assert meta.cache.bucket_index is None


def test_non_string_values_are_tolerated() -> None:
    """A plain dict with odd value types does not make from_headers raise."""
    headers: dict[Any, Any] = {
        "Helicone-Id": 5,
        "Helicone-Cache": None,
        "Helicone-RateLimit-Limit": 3,
        7: "x",
    }
    meta = HeliconeMetadata.from_headers(headers, sent_request_id=RID)
    assert meta.request_id == RID
    assert meta.cache.hit is None
    assert meta.rate_limit == RateLimitInfo(None, None, None, None)


def test_duplicated_headers_prefer_the_request_we_sent() -> None:
    """A comma-joined Helicone-Id (cache replay) resolves to the id we sent when present."""
    meta = HeliconeMetadata.from_headers({"helicone-id": f"{RID2}, {RID}"}, sent_request_id=RID)
    assert meta.request_id == RID
    meta = HeliconeMetadata.from_headers({"helicone-id": f"{RID2}, {RID}"}, sent_request_id="other")
    assert meta.request_id == RID
    meta = HeliconeMetadata.from_headers(
        {"helicone-cache-bucket-idx": "0, 3"}, sent_request_id=None
    )
    assert meta.cache.bucket_index == 3


def test_metadata_from_httpx2_headers() -> None:
    """An httpx2.Headers (case-insensitive mapping) works like a dict."""
    headers = httpx2.Headers(
        [
            ("Helicone-Id", RID),
            ("Helicone-Cache", "MISS"),
            ("Helicone-Provider", "anthropic"),
            ("X-Other", "1"),
        ]
    )
    meta = HeliconeMetadata.from_headers(headers, sent_request_id=None)
    assert meta.request_id == RID
    assert meta.cache.hit is False
    assert meta.provider == "anthropic"
    assert meta.headers["x-other"] == "1"


def test_metadata_defaults_and_repr() -> None:
    """HeliconeMetadata can be built empty; its repr leaves out the raw headers."""
    meta = HeliconeMetadata()
    assert meta.cache == CacheInfo()
    assert meta.rate_limit is None
    big = HeliconeMetadata.from_headers({"X-Long": "v" * 100}, sent_request_id=RID)
    assert "x-long" not in repr(big).lower()
