"""The README's promise "no raw httpx2, json or cattrs exception reaches you", as properties.

Arbitrary values for every per-call option of every resource, and arbitrary base URLs on
the loopback address, are sent against the fake gateway over a real socket: whatever the
values, a call either succeeds or raises a :class:`HeliconeError` (``InvalidInputError``
for a refused argument). A new way for a raw ``AttributeError``, ``httpx2.InvalidURL``,
``UnicodeEncodeError`` or exception group to escape fails here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiohelicone import AsyncHelicone, HeliconeError, InvalidInputError
from aiohelicone.testing import LoopbackServer

pytestmark = pytest.mark.anyio

_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.binary(max_size=3),
    st.builds(object),
)
#: A value of any shape: what a careless caller (or an untyped config file) may pass.
JUNK = st.one_of(
    _SCALAR,
    st.lists(_SCALAR, max_size=3),
    st.tuples(_SCALAR),
    st.dictionaries(st.one_of(_TEXT, st.integers(), st.none()), _SCALAR, max_size=3),
)

# The per-call options each resource takes (beyond its required arguments).
_COMMON = ["extra_headers", "extra_query", "extra_body", "timeout", "max_retries", "metadata"]
_OPTIONS = {
    "chat": [
        *_COMMON,
        "stream",
        "stream_timeouts",
        "helicone",
        "fallback",
        "fallback_deadline",
        "user",
        "stop",
    ],
    "completions": [*_COMMON, "stream", "stream_timeouts", "helicone", "user", "stop", "echo"],
    "embeddings": [*_COMMON, "helicone", "user", "dimensions"],
    "models": ["extra_headers", "timeout"],
}


async def _call(client: AsyncHelicone, resource: str, kwargs: dict[str, Any]) -> None:
    if resource == "chat":
        messages = [{"role": "user", "content": "hi"}]
        result: Any = await client.chat.completions.create(
            model="gpt-4o-mini/openai", messages=messages, **kwargs
        )
    elif resource == "completions":
        result = await client.completions.create(model="gpt-4o-mini/openai", prompt="hi", **kwargs)
    elif resource == "embeddings":
        result = await client.embeddings.create(
            model="text-embedding-3-small/openai", input="hi", **kwargs
        )
    else:
        result = await client.models.list(**kwargs)
    if hasattr(result, "get_final_completion"):
        async with result:
            await result.get_final_completion()


@st.composite
def _calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    resource = draw(st.sampled_from(sorted(_OPTIONS)))
    names = draw(st.lists(st.sampled_from(_OPTIONS[resource]), min_size=1, max_size=3))
    return resource, {name: draw(JUNK) for name in names}


@_SETTINGS
@given(call=_calls())
async def test_any_call_option_gives_a_typed_error(
    server: LoopbackServer, call: tuple[str, dict[str, Any]]
) -> None:
    """Junk in any per-call option: the call succeeds or raises a HeliconeError."""
    resource, kwargs = call
    async with AsyncHelicone(
        api_key="sk-helicone-typed-errors", base_url=f"{server.url}/v1", max_retries=0
    ) as client:
        with contextlib.suppress(HeliconeError):
            await _call(client, resource, kwargs)


_URL_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=8,
)


@st.composite
def _base_urls(draw: st.DrawFn, port: int) -> str:
    # Loopback hosts only (a drawn host name would be looked up in DNS).
    host = draw(st.sampled_from(["127.0.0.1", "[::1", "[::1]", "127.0.0.1]", "", "[127.0.0.1]"]))
    port_text = draw(
        st.one_of(
            st.just(str(port)),
            st.integers(-5, 10**6).map(str),
            _URL_TEXT,
            st.just(""),
        )
    )
    path = draw(st.one_of(st.just("/v1"), _URL_TEXT.map(lambda text: "/v1" + text)))
    scheme = draw(st.sampled_from(["http://", "https://", "http:/", "HTTP://", ""]))
    return f"{scheme}{host}:{port_text}{path}"


@_SETTINGS
@given(data=st.data())
async def test_any_base_url_gives_a_typed_error(
    server: LoopbackServer, data: st.DataObject
) -> None:
    """A malformed base URL is refused at construction; else the call is typed too."""
    url = data.draw(_base_urls(int(server.url.rsplit(":", 1)[1])))
    refused: InvalidInputError | None = None
    try:
        client = AsyncHelicone(api_key="sk-helicone-typed-errors", base_url=url, max_retries=0)
    except InvalidInputError as exc:
        refused = exc
    if refused is not None:
        assert refused.field == "base_url"
        return
    async with client:
        with contextlib.suppress(HeliconeError):
            await client.models.list(timeout=2)
