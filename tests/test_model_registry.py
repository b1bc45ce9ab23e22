"""client.models.registry(): Helicone's model registry, from the fake over loopback, and the
cost estimates `aiohelicone report` takes from it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from aiohelicone import (
    APIResponseValidationError,
    AsyncHelicone,
    LoggedRequest,
    ModelRegistry,
    RegistryModel,
    summarize,
)
from aiohelicone._analytics import registry_estimator
from aiohelicone._cli_report import render_report
from aiohelicone._converter import structure, unstructure
from aiohelicone.testing import (
    DEFAULT_MODELS,
    PRICES,
    FakeGateway,
    LoopbackServer,
    Reply,
    no_retry_waits,
    serve,
)

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


@pytest.fixture
async def client(server: LoopbackServer) -> AsyncIterator[AsyncHelicone]:
    async with AsyncHelicone(
        api_key=KEY, base_url=f"{server.url}/v1", rest_base_url=server.url
    ) as made:
        yield made


async def test_registry_lists_the_fakes_models_with_its_prices(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Every model of the fake's registry, its providers in order, prices per million."""
    registry = await client.models.registry()
    assert isinstance(registry, ModelRegistry)
    assert [m.id for m in registry.models] == list(DEFAULT_MODELS)
    assert registry.total == len(DEFAULT_MODELS)
    mini = registry.get("gpt-4o-mini")
    assert isinstance(mini, RegistryModel)
    assert [e.provider for e in mini.endpoints] == list(DEFAULT_MODELS["gpt-4o-mini"].providers)
    pricing = mini.pricing("openai")
    assert pricing is not None
    assert (pricing.prompt, pricing.completion) == PRICES["gpt-4o-mini"]
    assert mini.contextLength and mini.contextLength > 0
    assert mini.inputModalities and "text" in mini.inputModalities
    assert mini.supportedParameters and "temperature" in mini.supportedParameters
    bedrock = registry.get("claude-sonnet-4")
    assert bedrock is not None
    assert {e.provider: e.providerSlug for e in bedrock.endpoints}["bedrock"] == "aws-bedrock"
    embedding = registry.get("text-embedding-3-small")
    assert embedding is not None and embedding.outputModalities == ["embedding"]
    request = gateway.requests[-1]
    assert (request.method, request.path) == ("GET", "/v1/public/model-registry/models")


async def test_registry_estimate_equals_the_cost_the_fake_logs(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """The registry's base prices give exactly the fake's logged cost for a request."""
    usage = {"prompt_tokens": 1234, "completion_tokens": 567, "total_tokens": 1801}
    gateway.script("claude-3.5-haiku/anthropic", [Reply(usage=usage)])
    done = await client.chat.completions.create(
        model="claude-3.5-haiku/anthropic", messages=[{"role": "user", "content": "hi"}]
    )
    logged = await client.requests.get(done)
    registry = await client.models.registry()
    estimate = registry.estimate_cost("claude-3.5-haiku/anthropic", 1234, 567)
    assert logged.cost is not None and estimate is not None
    assert estimate == pytest.approx(logged.cost, abs=1e-9)
    assert registry.estimate_cost("no-such-model", 1, 1) is None


async def test_registry_is_public() -> None:
    """The registry answers a key the rest of the REST API refuses (Jawn serves it open)."""
    strict_gateway = FakeGateway(api_keys=["sk-helicone-only-this-one"])
    async with (
        serve(strict_gateway) as strict,
        AsyncHelicone(api_key=KEY, base_url=f"{strict.url}/v1", rest_base_url=strict.url) as made,
    ):
        registry = await made.models.registry()
    assert registry.get("gpt-4o") is not None


async def test_registry_keeps_unknown_fields_and_refuses_a_wrong_shape() -> None:
    """New keys are kept (and round-trip); a registry of the wrong shape is a typed error."""
    data = {
        "models": [
            {
                "id": "new-model",
                "contextLength": 1000,
                "inputModalities": ["text"],
                "endpoints": [
                    {
                        "provider": "openai",
                        "pricing": {"prompt": 1.0, "completion": 2.0, "batch": 0.5},
                        "region": "us",
                    }
                ],
                "quantization": "fp8",
            }
        ],
        "total": 1,
        "filters": {"providers": [], "authors": [], "capabilities": []},
        "generatedAt": "2026-12-03",
    }
    registry = structure(data, ModelRegistry)
    assert registry.extra == {"generatedAt": "2026-12-03"}
    model = registry.models[0]
    assert model.extra == {"quantization": "fp8"}
    assert model.endpoints[0].extra == {"region": "us"}
    assert model.endpoints[0].pricing is not None
    assert model.endpoints[0].pricing.extra == {"batch": 0.5}
    assert unstructure(registry) == data

    bad = {"data": {"models": [{"id": "m", "inputModalities": "text"}]}, "error": None}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=bad)

    async with AsyncHelicone(
        api_key=KEY,
        base_url="http://fake.test/v1",
        rest_base_url="http://fake.test",
        transport=httpx2.MockTransport(handler),
    ) as made:
        with pytest.raises(APIResponseValidationError, match="inputModalities"):
            await made.models.registry()


def _record(model: str, cost: float | None, prompt: int, completion: int) -> LoggedRequest:
    return LoggedRequest(
        request_id=f"r-{model}-{cost}",
        model=model,
        provider="openai",
        status=200,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=cost,
    )


def _registry() -> ModelRegistry:
    data = {
        "models": [
            {
                "id": "gpt-4o-mini",
                "endpoints": [
                    {"provider": "openai", "pricing": {"prompt": 0.15, "completion": 0.6}}
                ],
            }
        ]
    }
    return structure(data, ModelRegistry)


def test_summarize_estimates_only_records_without_a_cost() -> None:
    """Logged costs stay as they are; records lacking one are estimated and counted apart."""
    records = [
        _record("gpt-4o-mini", 0.5, 10, 10),
        _record("gpt-4o-mini", None, 1_000_000, 1_000_000),
        _record("unknown-model", None, 5, 5),
    ]
    report = summarize(records, estimate=registry_estimator(_registry()))
    assert report.total.cost == 0.5
    assert report.total.estimated == 1
    assert report.total.estimated_cost == pytest.approx(0.75)
    text = render_report(report)
    assert "est. USD" in text and "~0.750000" in text
    assert "1 requests had no logged cost" in text
    plain = render_report(summarize(records))
    assert "est. USD" not in plain


@pytest.fixture
def uncosted_gateway() -> FakeGateway:
    fake = FakeGateway()
    fake.rest.uncosted.add("gpt-4o")
    return fake


async def test_report_marks_estimates_end_to_end(
    anyio_backend: str, uncosted_gateway: FakeGateway
) -> None:
    """`report` over the fake: requests logged without cost get registry estimates, marked."""
    import argparse
    from datetime import timedelta

    from aiohelicone._cli_report import _query_report

    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    uncosted_gateway.script("*", [Reply(usage=usage)], repeat=True)
    async with (
        serve(uncosted_gateway) as running,
        AsyncHelicone(api_key=KEY, base_url=f"{running.url}/v1", rest_base_url=running.url) as made,
    ):
        for model in ("gpt-4o/openai", "gpt-4o-mini/openai"):
            await made.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
        args = argparse.Namespace(
            since=timedelta(hours=1), limit=100, by="model", bucket=timedelta(hours=1)
        )
        report, note = await _query_report(made, args)
    assert note is None
    groups = {g.key: g for g in report.groups}
    price_in, price_out = PRICES["gpt-4o"]
    assert groups["gpt-4o"].cost == 0
    assert groups["gpt-4o"].estimated == 1
    assert groups["gpt-4o"].estimated_cost == pytest.approx(
        (1000 * price_in + 100 * price_out) / 1e6
    )
    assert groups["gpt-4o-mini"].estimated == 0 and groups["gpt-4o-mini"].cost > 0
    assert json.dumps(report.as_dict())  # JSON-ready, estimates included
    assert report.as_dict()["total"]["estimated_requests"] == 1


async def test_registry_follows_a_custom_fake_registry() -> None:
    """A FakeGateway built with models= serves those models in its registry."""
    from aiohelicone.testing import ModelInfo

    custom = FakeGateway(models={"my-model": ModelInfo({"groq": "my-model-v1"})})
    async with (
        serve(custom) as running,
        AsyncHelicone(api_key=KEY, base_url=f"{running.url}/v1", rest_base_url=running.url) as made,
    ):
        registry = await made.models.registry()
    assert [m.id for m in registry.models] == ["my-model"]
    assert [e.provider for e in registry.models[0].endpoints] == ["groq"]
