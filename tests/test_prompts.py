"""Helicone prompts (2025) through the gateway: the client's prompt fields against the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from aiohelicone import AsyncHelicone, BadRequestError, InvalidInputError
from aiohelicone.testing import FakeGateway, PromptStore

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"
FAKE = "http://fake.test"
TEMPLATE = {
    "model": "gpt-4o-mini/openai",
    "temperature": 0.2,
    "messages": [
        {"role": "system", "content": "You are {{hc:persona:string}}."},
        {
            "role": "user",
            "content": "Write {{hc:count:number}} words on {{ hc : topic : string }}.",
        },
    ],
}


@pytest.fixture
async def gateway() -> FakeGateway:
    gateway = FakeGateway()
    gateway.prompts.create(TEMPLATE, prompt_id="essay")
    return gateway


@pytest.fixture
async def client(gateway: FakeGateway) -> AsyncIterator[AsyncHelicone]:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway))
    async with (
        http,
        AsyncHelicone(
            api_key=KEY, base_url=f"{FAKE}/v1", rest_base_url=FAKE, http_client=http
        ) as made,
    ):
        yield made


INPUTS: dict[str, Any] = {"persona": "a poet", "count": 5, "topic": "rain"}


async def test_prompt_only_request_takes_the_stored_model_and_messages(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """No model and no messages: the gateway fills both from the prompt, with the inputs."""
    done = await client.chat.completions.create(prompt_id="essay", messages=[], inputs=INPUTS)
    sent = gateway.last_request
    assert sent.body.count(b'"model"') == 0  # the client sent no model
    assert sent.json["model"] == "gpt-4o-mini/openai"
    assert [m["content"] for m in sent.json["messages"]] == [
        "You are a poet.",
        "Write 5 words on rain.",
    ]
    assert "prompt_id" not in sent.json and "inputs" not in sent.json
    assert done.choices[0].message.content == "You said: Write 5 words on rain."
    version = gateway.prompts.resolve("essay")
    assert (sent.prompt_id, sent.prompt_version_id) == ("essay", version.id)
    logged = await client.requests.get(done)
    assert logged.prompt_id == "essay"
    assert logged.model == "gpt-4o-mini"


async def test_request_parameters_override_and_messages_append(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Request parameters win over stored ones; request messages follow the stored ones."""
    await client.chat.completions.create(
        prompt_id="essay",
        model="gpt-4o/openai",
        temperature=0.9,
        messages=[{"role": "user", "content": "And a title."}],
        inputs=INPUTS,
    )
    sent = gateway.last_request.json
    assert sent["model"] == "gpt-4o/openai"
    assert sent["temperature"] == 0.9
    assert sent["messages"][-1] == {"role": "user", "content": "And a title."}
    assert len(sent["messages"]) == 3


async def test_environment_wins_over_version_id(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """environment picks its version even when version_id names another (documented order)."""
    first = gateway.prompts.resolve("essay")
    staging = gateway.prompts.add_version(
        "essay",
        {**TEMPLATE, "messages": [{"role": "user", "content": "Staging {{hc:topic:string}}"}]},
        environments=("staging",),
    )
    await client.chat.completions.create(
        prompt_id="essay", version_id=first.id, environment="staging", messages=[], inputs=INPUTS
    )
    assert gateway.last_request.prompt_version_id == staging.id
    await client.chat.completions.create(
        prompt_id="essay", version_id=staging.id, messages=[], inputs=INPUTS
    )
    assert gateway.last_request.json["messages"][0]["content"] == "Staging rain"
    await client.chat.completions.create(prompt_id="essay", messages=[], inputs=INPUTS)
    assert gateway.last_request.prompt_version_id == first.id  # production by default


async def test_variable_type_errors_are_a_400(client: AsyncHelicone) -> None:
    """A number variable given text: 400 {"error": "Variable 'count' is 'number' but got ..."}."""
    with pytest.raises(BadRequestError) as failed:
        await client.chat.completions.create(
            prompt_id="essay", messages=[], inputs={**INPUTS, "count": "many"}
        )
    assert failed.value.message == "Variable 'count' is 'number' but got 'many'"
    assert failed.value.body == {"error": failed.value.message}


async def test_unknown_prompt_and_environment_are_400s(client: AsyncHelicone) -> None:
    """A missing prompt, or an environment without a version, is a 400 prompt error."""
    with pytest.raises(BadRequestError, match="Prompt 'nope' not found"):
        await client.chat.completions.create(prompt_id="nope", messages=[])
    with pytest.raises(BadRequestError, match="environment 'dev'"):
        await client.chat.completions.create(prompt_id="essay", environment="dev", messages=[])


async def test_no_mapping_skips_expansion(client: AsyncHelicone) -> None:
    """With Helicone-Gateway-Body-Mapping: NO_MAPPING there is no expansion (so no model)."""
    with pytest.raises(BadRequestError, match="missing model"):
        await client.chat.completions.create(
            prompt_id="essay",
            messages=[],
            extra_headers={"Helicone-Gateway-Body-Mapping": "NO_MAPPING"},
        )


async def test_prompt_fields_are_checked_before_sending(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """version_id, environment or inputs without prompt_id, and bad types, are refused."""
    for kwargs in (
        {"version_id": "v"},
        {"environment": "production"},
        {"inputs": {"a": 1}},
        {"prompt_id": ""},
        {"prompt_id": "essay", "inputs": ["a"]},
    ):
        with pytest.raises(InvalidInputError, match=r"prompt_id|inputs"):
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], **kwargs
            )
    with pytest.raises(InvalidInputError, match="model"):
        await client.chat.completions.create(messages=[{"role": "user", "content": "x"}])
    assert gateway.requests == []


def test_javascript_substitution_quirks() -> None:
    """Falsy inputs stay unreplaced in text; booleans print as JavaScript does."""
    store = PromptStore()
    store.create(
        {"messages": [{"role": "user", "content": "n={{hc:n:number}} ok={{hc:ok:boolean}}"}]},
        prompt_id="p",
    )
    merged = store.expand({"prompt_id": "p", "inputs": {"n": 0, "ok": True}})
    assert not isinstance(merged, str)
    assert merged[0]["messages"][0]["content"] == "n={{hc:n:number}} ok=true"
    assert store.expand({"prompt_id": "p", "inputs": {"ok": "maybe"}}) == (
        "Variable 'ok' is 'boolean' but got 'maybe'"
    )
    assert not isinstance(store.expand({"prompt_id": "p", "inputs": {"n": " 1e3 "}}), str)


def test_json_fields_keep_the_input_type_and_require_inputs() -> None:
    """response_format/tools: a whole-string variable takes the input's own type."""
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "{{hc:name:string}}", "max": "{{hc:max:number}}"},
    }
    store = PromptStore()
    store.create({"messages": [], "response_format": schema}, prompt_id="p")
    merged = store.expand({"prompt_id": "p", "inputs": {"name": "out", "max": 3}})
    assert not isinstance(merged, str)
    assert merged[0]["response_format"]["json_schema"] == {"name": "out", "max": 3}
    missing = store.expand({"prompt_id": "p", "inputs": {"name": "out"}})
    assert missing == "Variable 'max' is 'number' but got 'null'"


def test_prompt_store_bookkeeping() -> None:
    """Versions are numbered, deploy moves an environment, duplicate ids are refused."""
    store = PromptStore()
    first = store.create({"messages": []}, prompt_id="p")
    second = store.add_version("p", {"messages": [], "model": "x"})
    assert (first.number, second.number) == (1, 2)
    assert store.resolve("p") == first
    store.deploy(second, "production")
    assert store.resolve("p") == second
    assert store.resolve("p", version_id=first.id) == first
    with pytest.raises(ValueError, match="exists"):
        store.create({}, prompt_id="p")
    with pytest.raises(LookupError, match="version 'zzz'"):
        store.resolve("p", version_id="zzz")
    assert len(store.create({"messages": []}).prompt_id) == 6
