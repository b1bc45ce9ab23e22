"""The seed's LiteLLM examples (examples/seed/): the exact requests they send to the gateway."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiohelicone import AsyncHelicone
from aiohelicone.testing import (
    FAKE_API_KEY,
    Fail,
    FakeGateway,
    RequestRecord,
    fake_client,
    no_retry_waits,
)

pytestmark = pytest.mark.anyio

SEED_DIR = Path(__file__).resolve().parent.parent / "examples" / "seed"
# _run.py is the examples' shared __main__ runner, not an example.
EXAMPLES = sorted(path.stem for path in SEED_DIR.glob("[!_]*.py"))
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CHAIN = "gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic"
RETRY_HEADERS = {
    "helicone-retry-enabled": "true",
    "helicone-retry-num": "3",
    "helicone-retry-factor": "2",
}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"seed_example_{name}", SEED_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(name: str, gateway: FakeGateway, **client_kwargs: Any) -> Any:
    async with fake_client(gateway, **client_kwargs) as client:
        return await load(name).main(client)


def helicone_headers(record: RequestRecord) -> dict[str, str]:
    """The Helicone-* headers of a request, checked for auth and a request id (removed)."""
    assert record.method == "POST"
    assert record.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert record.headers["content-type"] == "application/json"
    headers = {k: v for k, v in record.headers.items() if k.startswith("helicone-")}
    assert UUID4.fullmatch(headers.pop("helicone-request-id"))
    return headers


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


def test_every_seed_example_has_a_twin() -> None:
    """examples/seed holds one script per example of the seed's LiteLLM page."""
    assert EXAMPLES == [
        "anthropic_provider",
        "caching",
        "custom_headers",
        "custom_properties",
        "non_streaming",
        "retry_fallback",
        "streaming",
        "text_completion",
    ]
    for name in EXAMPLES:
        module = load(name)
        assert callable(module.main) and "LiteLLM" in (module.__doc__ or "")


async def test_non_streaming(gateway: FakeGateway) -> None:
    """Non-streaming: one chat completion, no Helicone header but the request id."""
    response = await run("non_streaming", gateway)
    record = gateway.last_request
    assert len(gateway.requests) == 1
    assert record.path == "/v1/chat/completions"
    assert helicone_headers(record) == {}
    assert record.json == {
        "model": "gpt-4",
        "messages": [{"content": "What is the capital of France?", "role": "user"}],
    }
    assert response.choices[0].message.content == "You said: What is the capital of France?"
    assert response.helicone.request_id == record.headers["helicone-request-id"]
    assert response.helicone.provider == "openai"


async def test_streaming(gateway: FakeGateway) -> None:
    """Streaming: stream=true in the body, an SSE accept header, every chunk accumulated."""
    completion = await run("streaming", gateway)
    record = gateway.last_request
    assert helicone_headers(record) == {}
    assert record.headers["accept"] == "text/event-stream"
    assert record.json == {
        "model": "gpt-4",
        "messages": [{"content": "Write a short poem about AI", "role": "user"}],
        "stream": True,
    }
    assert completion.choices[0].message.content == "You said: Write a short poem about AI"
    assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_custom_properties(gateway: FakeGateway) -> None:
    """Custom properties: the metadata keys become Helicone-Property-* headers, not body."""
    await run("custom_properties", gateway)
    record = gateway.last_request
    assert helicone_headers(record) == {
        "helicone-property-environment": "production",
        "helicone-property-user-id": "user_123",
        "helicone-property-session-id": "session_abc",
    }
    assert record.json == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What's the weather like?"}],
    }
    assert record.properties == {
        "environment": "production",
        "user-id": "user_123",
        "session-id": "session_abc",
    }


async def test_text_completion(gateway: FakeGateway) -> None:
    """Text completion: POST /v1/completions with the prompt, answered with text."""
    response = await run("text_completion", gateway)
    record = gateway.last_request
    assert record.path == "/v1/completions"
    assert helicone_headers(record) == {}
    assert record.json == {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time"}
    assert response.choices[0].text == "You said: Once upon a time"


def _chain_models(records: list[RequestRecord]) -> list[str | None]:
    """The body models sent for the seed's chain, whoever walks it.

    NOTE for the lead: with client-side chains (``fallback="client"``, the default) each
    request carries one target; with ``fallback="gateway"`` one request carries the whole
    chain. Both are accepted here; the two tests below pin each mode explicitly.
    """
    models = [record.model for record in records]
    assert models in ([CHAIN], ["gpt-4o-mini/openai"], ["gpt-4o-mini/openai", CHAIN.split(",")[1]])
    return models


async def test_retry_fallback_healthy(gateway: FakeGateway) -> None:
    """Retry and fallback: the helicone/ prefix is stripped, the retry headers are sent."""
    response = await run("retry_fallback", gateway)
    _chain_models(gateway.requests)
    for record in gateway.requests:
        assert helicone_headers(record) == RETRY_HEADERS
        assert record.json["messages"] == [{"role": "user", "content": "Hello"}]
        assert set(record.json) == {"model", "messages"}
    assert response.helicone.provider == "openai"


async def test_retry_fallback_falls_back_to_anthropic(gateway: FakeGateway) -> None:
    """Retry and fallback: OpenAI failing, Anthropic answers; every request has the headers."""
    gateway.script("openai", [Fail(503)], repeat=True)
    response = await run("retry_fallback", gateway, max_retries=0)
    models = _chain_models(gateway.requests)
    assert models != ["gpt-4o-mini/openai"]
    for record in gateway.requests:
        assert helicone_headers(record) == RETRY_HEADERS
    assert gateway.last_request.provider == "anthropic"
    assert response.helicone.provider == "anthropic"
    assert response.helicone.model == "claude-3-5-sonnet-20241022"


async def test_retry_fallback_client_side_attempt_log(gateway: FakeGateway) -> None:
    """fallback="client": one request per target, in order, each attempt in .helicone."""
    gateway.script("openai", [Fail(503)], repeat=True)
    response = await run("retry_fallback", gateway, max_retries=0, fallback="client")
    assert [r.model for r in gateway.requests] == CHAIN.split(",")
    assert [a.target for a in response.helicone.attempts] == CHAIN.split(",")
    assert response.helicone.attempts[-1].outcome == "ok"


async def test_retry_fallback_gateway_side_is_litellms_wire(gateway: FakeGateway) -> None:
    """fallback="gateway": the whole chain in one body, as LiteLLM sends it."""
    gateway.script("openai", [Fail(503)], repeat=True)
    response = await run("retry_fallback", gateway, max_retries=0, fallback="gateway")
    (record,) = gateway.requests
    assert record.model == CHAIN
    assert helicone_headers(record) == RETRY_HEADERS
    assert [a.provider for a in record.attempts] == ["openai", "anthropic"]
    assert response.helicone.provider == "anthropic"


async def test_custom_headers(gateway: FakeGateway) -> None:
    """Custom headers: the seed's five headers exactly; then user id and the real policy name."""
    first, second = await run("custom_headers", gateway)
    seed, table = gateway.requests
    assert helicone_headers(seed) == {
        "helicone-cache-enabled": "true",
        "helicone-property-environment": "production",
        "helicone-property-user-id": "user_123",
        "helicone-session-id": "session_abc",
        "helicone-prompt-id": "prompt_v1",
    }
    # LiteLLM's misspelt Helicone-Rate-Limit-Policy goes out under the gateway's name.
    assert helicone_headers(table) == {
        "helicone-user-id": "user_123",
        "helicone-ratelimit-policy": "100;w=60;u=request;s=user",
    }
    for record in (seed, table):
        assert record.json == {"model": "gpt-4", "messages": [{"role": "user", "content": "Hello"}]}
    assert seed.session_id == "session_abc" and table.user_id == "user_123"
    assert first.helicone.cache.hit is False
    assert second.helicone.rate_limit is not None
    assert second.helicone.rate_limit.remaining == 99


async def test_anthropic_provider(gateway: FakeGateway) -> None:
    """Another provider: model/provider in the body; Anthropic serves, in OpenAI's format."""
    response = await run("anthropic_provider", gateway)
    record = gateway.last_request
    assert helicone_headers(record) == {}
    assert record.json == {
        "model": "claude-3.5-haiku/anthropic",
        "messages": [{"role": "user", "content": "Hello"}],
    }
    assert record.provider == "anthropic"
    assert response.object == "chat.completion"
    assert (response.helicone.provider, response.helicone.model) == (
        "anthropic",
        "claude-3-5-haiku-20241022",
    )


async def test_caching(gateway: FakeGateway) -> None:
    """Caching: two identical requests; the second is a HIT replaying the first answer."""
    first, second = await run("caching", gateway)
    miss, hit = gateway.requests
    assert helicone_headers(miss) == helicone_headers(hit) == {"helicone-cache-enabled": "true"}
    assert miss.body == hit.body
    assert json.loads(hit.body) == {
        "model": "gpt-4",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
    }
    assert miss.headers["helicone-request-id"] != hit.headers["helicone-request-id"]
    assert (miss.cache, hit.cache) == ("MISS", "HIT")
    assert (first.helicone.cache.hit, second.helicone.cache.hit) == (False, True)
    assert second.id == first.id
    assert second.choices[0].message.content == first.choices[0].message.content


async def test_examples_accept_any_client(gateway: FakeGateway) -> None:
    """main(client) takes a plain AsyncHelicone: here one built by hand over ASGI."""
    import httpx2

    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway))
    async with http, AsyncHelicone(api_key="k", base_url="http://x/v1", http_client=http) as c:
        await load("anthropic_provider").main(c)
    assert gateway.last_request.headers["authorization"] == "Bearer k"


def test_examples_run_as_scripts() -> None:
    """Every example runs as a script on the embedded fake when HELICONE_API_KEY is unset."""
    code = (
        "import os, runpy, sys\n"
        "for path in sys.argv[1:]:\n"
        "    print('==', path, flush=True)\n"
        "    sys.path.insert(0, os.path.dirname(path))  # as `python path` does (for _run.py)\n"
        "    runpy.run_path(path, run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELICONE_")}
    paths = [str(SEED_DIR / f"{name}.py") for name in EXAMPLES]
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, *paths],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert out.count("== ") == len(EXAMPLES)
    assert "cache MISS" in out and "cache HIT" in out
    assert "served by anthropic" in out
    assert "[" in out and "tokens]" in out
