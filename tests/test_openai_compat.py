"""The fake gateway speaks the OpenAI wire format: driven by the official openai-python client.

openai's ``AsyncOpenAI`` runs on asyncio only, so on both backends the sync ``OpenAI`` client
runs in a worker thread against the fake served on loopback by the test's event loop; one
test also drives ``AsyncOpenAI`` (asyncio only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import pytest

from aiohelicone.testing import Fail, FakeGateway, Reply, ToolCall, serve

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-openai-compat"
MESSAGES = [{"role": "user", "content": "hi"}]
T = TypeVar("T")


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(api_keys={KEY})


@pytest.fixture
async def base_url(gateway: FakeGateway) -> AsyncIterator[str]:
    async with serve(gateway) as server:
        yield f"{server.url}/v1"
        assert server.errors == []


async def with_openai(base_url: str, call: Callable[[Any], T], *, api_key: str = KEY) -> T:
    """Run ``call(client)`` with a sync openai client, in a worker thread."""

    def run() -> T:
        with openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0) as client:
            return call(client)

    return await anyio.to_thread.run_sync(run)


async def test_chat_completion(base_url: str, gateway: FakeGateway) -> None:
    """chat.completions.create: a parsed ChatCompletion; Helicone headers on the raw answer."""
    raw = await with_openai(
        base_url,
        lambda c: c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES
        ),
    )
    completion = raw.parse()
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "You said: hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert raw.headers["helicone-provider"] == "openai"
    assert raw.headers["helicone-id"] == gateway.last_request.helicone_id
    assert gateway.last_request.headers["authorization"] == f"Bearer {KEY}"
    assert gateway.last_request.path == "/v1/chat/completions"


async def test_chat_stream_ends_with_usage_chunk(base_url: str) -> None:
    """stream=True: content deltas, then a usage chunk with empty choices; [DONE] ends it."""

    def call(client: Any) -> list[Any]:
        with client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        ) as stream:
            return list(stream)

    chunks = await with_openai(base_url, call)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hi"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens > 0
    assert len({chunk.id for chunk in chunks}) == 1


async def test_tool_calls_parse(base_url: str, gateway: FakeGateway) -> None:
    """A scripted tool call arrives as openai's function tool call."""
    gateway.script("*", [Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})])])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    completion = await with_openai(
        base_url,
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=tools),
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert (call.type, call.function.name) == ("function", "get_weather")
    assert call.function.arguments == '{"city":"Paris"}'


async def test_text_completion(base_url: str) -> None:
    """completions.create: a parsed text Completion."""
    completion = await with_openai(
        base_url,
        lambda c: c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time"),
    )
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "You said: Once upon a time"


async def test_embeddings_float_and_base64(base_url: str, gateway: FakeGateway) -> None:
    """embeddings.create: float and base64 (openai's default) give the same vectors."""

    def call(client: Any) -> tuple[Any, Any]:
        kwargs: dict[str, Any] = {
            "model": "text-embedding-3-small",
            "input": ["a", "b"],
            "dimensions": 8,
        }
        return (
            client.embeddings.create(**kwargs, encoding_format="float"),
            client.embeddings.create(**kwargs),
        )

    as_floats, as_base64 = await with_openai(base_url, call)
    assert [r.json["encoding_format"] for r in gateway.requests] == ["float", "base64"]
    assert [len(e.embedding) for e in as_floats.data] == [8, 8]
    assert [e.index for e in as_floats.data] == [0, 1]
    assert as_floats.data[0].embedding != as_floats.data[1].embedding
    for got, want in zip(as_base64.data, as_floats.data, strict=True):
        assert got.embedding == pytest.approx(want.embedding, rel=1e-6)
    assert as_floats.usage.prompt_tokens > 0


async def test_models_list(base_url: str) -> None:
    """models.list: an OpenAI list of model objects."""
    page = await with_openai(base_url, lambda c: c.models.list())
    ids = [model.id for model in page.data]
    assert "gpt-4o-mini" in ids and "claude-3.5-haiku" in ids
    assert all(model.object == "model" for model in page.data)


async def test_rate_limit_429_is_rate_limit_error(base_url: str) -> None:
    """A Helicone rate-limit 429 is openai.RateLimitError, with the envelope as its body."""
    headers = {"Helicone-RateLimit-Policy": "1;w=60"}

    def call(client: Any) -> Any:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers
        )
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers
            )
        return info.value

    error = await with_openai(base_url, call)
    assert error.status_code == 429
    assert error.response.headers["x-helicone-error"] == "rate_limited"
    assert error.response.headers["helicone-ratelimit-remaining"] == "0"
    assert error.body["code"] == "rate_limited"


async def test_bad_key_401_text_is_authentication_error(base_url: str) -> None:
    """A refused key: 401 with a plain-text body is openai.AuthenticationError."""

    def call(client: Any) -> Any:
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return info.value

    error = await with_openai(base_url, call, api_key="sk-helicone-wrong")
    assert error.status_code == 401
    assert error.body == "Invalid Helicone API key"


async def test_error_envelope_is_internal_server_error(base_url: str, gateway: FakeGateway) -> None:
    """A provider 400 behind the gateway: 500 envelope, details reachable via error.body."""
    gateway.script("openai", [Fail(400)], repeat=True)

    def call(client: Any) -> Any:
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="gpt-4o-mini/openai", messages=MESSAGES)
        return info.value

    error = await with_openai(base_url, call)
    assert error.status_code == 500
    assert error.body["code"] == "request_failed"
    assert error.body["details"][0]["statusCode"] == 400


async def test_async_openai_on_asyncio(base_url: str, anyio_backend: str) -> None:
    """AsyncOpenAI (asyncio only): a completion and a stream over the same loop."""
    if anyio_backend != "asyncio":
        pytest.skip("openai's AsyncOpenAI supports asyncio only")
    async with openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0) as client:
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="claude-3.5-haiku/anthropic", messages=MESSAGES, stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert completion.choices[0].message.content == "You said: hi"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: hi"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
