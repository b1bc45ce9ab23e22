"""FakeGateway in process (httpx2.ASGITransport): gateway behaviour from helicone-api.md."""

from __future__ import annotations

import base64
import json
import math
import struct
import time
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest

from aiohelicone.testing import (
    DEFAULT_MODELS,
    Delay,
    Fail,
    FakeGateway,
    InStreamError,
    InsufficientCredits,
    ModelInfo,
    RawResponse,
    Reply,
    RequestRecord,
    Reset,
    Respond,
    SimulatedReset,
    SlowDrip,
    Stall,
    ToolCall,
    TruncatedStream,
)

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-test1234-abcdefg-hijklmn-opqrstu"
HELLO = [{"role": "user", "content": "hello there"}]


def client(gateway: FakeGateway, **headers: str) -> httpx2.AsyncClient:
    """An httpx2 client wired to the gateway in process, authenticated by default."""
    base = {"authorization": f"Bearer {KEY}"}
    base.update(headers)
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=gateway),
        base_url="http://gateway.test/v1",
        headers={k: v for k, v in base.items() if v},
    )


async def chat(
    gateway: FakeGateway,
    model: str = "gpt-4o-mini",
    headers: Mapping[str, str] | None = None,
    **body: Any,
) -> httpx2.Response:
    """POST one chat completion."""
    payload: dict[str, Any] = {"model": model, "messages": HELLO, **body}
    async with client(gateway) as c:
        return await c.post("/chat/completions", json=payload, headers=dict(headers or {}))


def events(text: str) -> list[str]:
    """The data lines of an SSE body."""
    assert text.endswith("\n\n")
    blocks = text.split("\n\n")[:-1]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks)
    return [b[len("data: ") :] for b in blocks]


def chunks(text: str) -> list[dict[str, Any]]:
    """The JSON chunks of an SSE body that ends with [DONE]."""
    data = events(text)
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- auth -----------------------------------------------------------------------------------


async def test_missing_key_is_401_plain_text() -> None:
    """No Authorization-type header: 401 text/plain 'Invalid Helicone API key (hshed)'."""
    gw = FakeGateway()
    async with client(gw, authorization="") as c:
        r = await c.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": HELLO})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "Invalid Helicone API key (hshed)"


async def test_helicone_auth_alone_is_not_enough_on_the_gateway() -> None:
    """The gateway needs Authorization/x-api-key/api-key even when Helicone-Auth is sent."""
    gw = FakeGateway()
    async with client(gw, authorization="", **{"helicone-auth": f"Bearer {KEY}"}) as c:
        chat_r = await c.post("/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
        emb_r = await c.post("/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert chat_r.status_code == 401
    assert emb_r.status_code == 200


@pytest.mark.parametrize("header", ["x-api-key", "api-key"])
async def test_alternative_key_headers_are_accepted(header: str) -> None:
    """x-api-key and api-key authenticate like Authorization."""
    gw = FakeGateway(api_keys={KEY})
    async with client(gw, authorization="", **{header: KEY}) as c:
        r = await c.post("/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    assert r.status_code == 200


async def test_configured_keys_refuse_others() -> None:
    """With api_keys set, a wrong key is 401 'Invalid Helicone API key'."""
    gw = FakeGateway(api_keys={KEY})
    async with client(gw, authorization="Bearer sk-helicone-wrong") as c:
        r = await c.post("/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    assert (r.status_code, r.text) == (401, "Invalid Helicone API key")


async def test_helicone_auth_takes_precedence() -> None:
    """Helicone-Auth decides the org; Authorization may then hold a provider key."""
    gw = FakeGateway(api_keys={KEY})
    headers = {"authorization": "Bearer sk-openai-xyz", "helicone-auth": f"Bearer {KEY}"}
    r = await chat(gw, headers=headers)
    assert r.status_code == 200


# -- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "kind"),
    [
        ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": HELLO}, "chat.completion"),
        ("/chat/completions", {"model": "gpt-4o-mini", "messages": HELLO}, "chat.completion"),
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, "text_completion"),
        ("/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, "text_completion"),
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, "list"),
        ("/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, "list"),
    ],
)
async def test_paths_under_v1_and_root(path: str, body: dict[str, Any], kind: str) -> None:
    """Every endpoint answers under /v1 and at the root."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.post(f"http://gateway.test{path}", json=body)
    assert r.status_code == 200
    assert r.json()["object"] == kind


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
async def test_models_list_needs_no_auth(path: str) -> None:
    """GET /v1/models (and /models) is an OpenAI list, without a key."""
    gw = FakeGateway()
    async with client(gw, authorization="") as c:
        r = await c.get(f"http://gateway.test{path}")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {"gpt-4o-mini", "claude-sonnet-4", "text-embedding-3-small"} <= ids
    assert all(m["object"] == "model" and m["owned_by"] for m in body["data"])


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(method: str) -> None:
    """Methods other than POST/GET get 405 with Allow: POST, GET."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.request(method, "/chat/completions")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST, GET"
    assert r.text == "Method not allowed. AI Gateway only accepts POST requests."


async def test_any_other_post_path_is_chat() -> None:
    """The cloud gateway ignores the path: any POST is a chat completion."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.post("/something/else", json={"model": "gpt-4o", "messages": HELLO})
    assert r.json()["object"] == "chat.completion"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
        ("/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}),
    ],
)
async def test_without_legacy_endpoints_they_fail_as_chat(path: str, body: dict[str, Any]) -> None:
    """legacy_endpoints=False: the body is read as chat, lacks messages: 400 invalid_format."""
    gw = FakeGateway(legacy_endpoints=False)
    async with client(gw) as c:
        r = await c.post(path, json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "request_failed"
    assert "messages" in error["message"]
    assert [d["type"] for d in error["details"]] == ["invalid_format"]
    assert "source" not in error["details"][0]


async def test_responses_api_is_served() -> None:
    """/v1/responses answers a Responses object (tests/test_fake_responses.py covers it)."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.post("/responses", json={"model": "gpt-4o", "input": "hi"})
    assert r.status_code == 200
    assert r.json()["object"] == "response"
    assert gw.last_request.endpoint == "responses"


# -- body and model string -----------------------------------------------------------------

INVALID_BODY = "Invalid body or missing model. See supported models at https://helicone.ai/models"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[1, 2]", b'{"messages": []}', b'{"model": ""}', b'{"model": 0}'],
)
async def test_invalid_body_or_missing_model(content: bytes) -> None:
    """Unparsable bodies and falsy models are 400 plain text."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.post("/chat/completions", content=content)
    assert (r.status_code, r.text) == (400, INVALID_BODY)
    assert r.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("model", [5, ["gpt-4o"], {"id": "gpt-4o"}, True])
async def test_non_string_model(model: object) -> None:
    """A truthy non-string model is 400 'Invalid model type...'."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.post("/chat/completions", json={"model": model, "messages": HELLO})
    assert r.status_code == 400
    assert r.text.startswith("Invalid model type. Model must be a string.")


async def test_exclusion_syntax_errors() -> None:
    """'!' alone and '!unknown' are refused before routing."""
    gw = FakeGateway()
    r1 = await chat(gw, "!,gpt-4o")
    r2 = await chat(gw, "gpt-4o, !nope")
    assert (r1.status_code, r1.text) == (
        400,
        "Invalid global ignore syntax. Use !provider (e.g., !openai)",
    )
    assert r2.status_code == 400
    assert r2.text.startswith("Invalid provider in global ignore list: nope.")


async def test_unknown_model_is_500_no_available_providers() -> None:
    """An unknown model without provider is skipped; nothing left: 500 envelope."""
    gw = FakeGateway()
    r = await chat(gw, "gpt-9-ultra")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["success"] is False
    assert body["error"]["code"] == "request_failed"
    assert body["error"]["message"].startswith("No available providers for the requested models")
    assert body["error"]["details"] == [
        {
            "type": "request_failed",
            "message": body["error"]["message"],
            "statusCode": 400,
            "source": "No available providers",
        }
    ]
    assert body["error"]["param"] is None
    assert "Unknown model: gpt-9-ultra" in gw.last_request.notes[0]


async def test_invalid_specs_are_skipped_and_later_ones_used() -> None:
    """Unknown provider or model specs are skipped silently; the next spec serves."""
    gw = FakeGateway()
    r = await chat(gw, "gpt-4o/nope, gpt-9-ultra ,claude-3.5-haiku/anthropic")
    assert r.status_code == 200
    assert r.headers["helicone-provider"] == "anthropic"
    assert r.headers["helicone-model"] == "claude-3-5-haiku-20241022"
    assert len(gw.last_request.notes) == 2


async def test_automatic_routing_tries_registry_providers_in_order() -> None:
    """'claude-3.5-haiku' tries anthropic then bedrock."""
    gw = FakeGateway()
    gw.script("anthropic", [Fail(529)])
    r = await chat(gw, "claude-3.5-haiku")
    assert r.headers["helicone-provider"] == "bedrock"
    assert [a.source for a in gw.last_request.attempts] == [
        "claude-3.5-haiku/anthropic/ptb",
        "claude-3.5-haiku/bedrock/ptb",
    ]


async def test_exclusions_filter_automatic_and_explicit_attempts() -> None:
    """'!openai' removes openai from automatic routing and explicit specs."""
    gw = FakeGateway()
    auto = await chat(gw, "!openai,gpt-4o-mini")
    explicit = await chat(gw, "gpt-4o-mini/openai,!openai")
    assert auto.headers["helicone-provider"] == "azure"
    assert explicit.status_code == 500
    assert explicit.json()["error"]["message"].startswith("No available providers")


async def test_legacy_model_names_are_rewritten() -> None:
    """claude-3.5-sonnet routes as claude-3.5-sonnet-v2."""
    gw = FakeGateway()
    r = await chat(gw, "claude-3.5-sonnet/anthropic")
    assert r.headers["helicone-model"] == "claude-3-5-sonnet-20241022"
    assert gw.last_request.attempts[0].source == "claude-3.5-sonnet-v2/anthropic/ptb"


async def test_passthrough_needs_byok() -> None:
    """A model unknown to the registry with a provider needs a BYOK key for it."""
    without = FakeGateway()
    with_key = FakeGateway(byok_providers={"openai"})
    r1 = await chat(without, "gpt-5-preview/openai")
    r2 = await chat(with_key, "gpt-5-preview/openai")
    assert r1.status_code == 500
    assert r2.status_code == 200
    assert r2.headers["helicone-gateway-mode"] == "BYOK"
    assert r2.headers["helicone-model"] == "gpt-5-preview"
    assert with_key.last_request.attempts[0].source == "gpt-5-preview/openai/byok"


async def test_byok_before_ptb_and_deployments() -> None:
    """BYOK attempts come first within a spec; a deployment id shows in the source."""
    gw = FakeGateway(byok_providers={"azure", "azure/dep-1"})
    gw.script("gpt-4o/azure", [Fail(500)])
    r = await chat(gw, "gpt-4o/azure/dep-1")
    assert r.headers["helicone-gateway-mode"] == "PTB"
    assert [a.source for a in gw.last_request.attempts] == [
        "gpt-4o/azure/byok/dep-1",
        "gpt-4o/azure/ptb",
    ]


def test_model_info_refuses_unknown_providers() -> None:
    """Registry entries name known providers only."""
    with pytest.raises(ValueError, match="unknown provider"):
        ModelInfo({"together": "llama"})


async def test_custom_registry() -> None:
    """models= replaces the registry."""
    models = {**DEFAULT_MODELS, "my-model": ModelInfo({"groq": "my-model-groq"})}
    gw = FakeGateway(models=models)
    r = await chat(gw, "my-model")
    assert r.headers["helicone-model"] == "my-model-groq"


# -- fallback and envelope status rules ----------------------------------------------------


async def test_openai_fails_twice_then_anthropic_answers() -> None:
    """The issue's example: openai fails twice with 503, anthropic answers meanwhile."""
    gw = FakeGateway()
    gw.script("gpt-4o-mini/openai", [Fail(503), Fail(503)])
    gw.script("claude-3-5-sonnet-20241022/anthropic", [Reply(text="hi")])
    model = "gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic"
    served = []
    for _ in range(3):
        r = await chat(gw, model)
        assert r.status_code == 200
        served.append(
            (r.headers["helicone-provider"], r.json()["choices"][0]["message"]["content"])
        )
    assert served == [
        ("anthropic", "hi"),
        ("anthropic", "You said: hello there"),
        ("openai", "You said: hello there"),
    ]
    assert gw.remaining("gpt-4o-mini/openai") == 0


ERRORS: list[tuple[list[Fail], int, str, str]] = [
    ([Fail(403, message="wallet suspended"), Fail(500)], 403, "request_failed", "wallet suspended"),
    ([Fail(500, message="boom"), Fail(401)], 401, "request_failed", "Authentication failed"),
    ([Fail(400, message="context too long"), Fail(429)], 500, "request_failed", "context too long"),
    ([Fail(404, message="no such model"), Fail(503)], 500, "request_failed", "no such model"),
    ([Fail(429), Fail(429)], 429, "rate_limited", "Rate limited"),
    ([Fail(429), Fail(503, message="overloaded")], 500, "request_failed", "overloaded"),
]


@pytest.mark.parametrize(("fails", "status", "code", "message"), ERRORS)
async def test_envelope_status_rules(
    fails: list[Fail], status: int, code: str, message: str
) -> None:
    """403 > 401 > other non-429 (as 500) > all 429, per createErrorResponse."""
    gw = FakeGateway()
    gw.script("gpt-4o-mini/openai", [fails[0]])
    gw.script("gpt-4o-mini/azure", [fails[1]])
    r = await chat(gw, "gpt-4o-mini")
    assert r.status_code == status
    error = r.json()["error"]
    assert (error["code"], error["message"]) == (code, message)
    assert [(d["source"], d["statusCode"]) for d in error["details"]] == [
        ("gpt-4o-mini/openai/ptb", fails[0].status),
        ("gpt-4o-mini/azure/ptb", fails[1].status),
    ]
    assert "helicone-provider" not in r.headers


async def test_provider_message_from_body_else_status() -> None:
    """The detail message is the provider's error.message, else 'Request failed with status N'."""
    gw = FakeGateway()
    gw.script("gpt-4o-mini/openai", [Fail(502, body=b"<html>bad gateway</html>")])
    gw.script("gpt-4o-mini/azure", [Fail(500, body={"error": {"message": "azure down"}})])
    r = await chat(gw, "gpt-4o-mini")
    details = r.json()["error"]["details"]
    assert [d["message"] for d in details] == ["Request failed with status 502", "azure down"]


async def test_invalid_format_is_400_without_routing() -> None:
    """A chat body without messages fails every PTB attempt's schema check: 400."""
    gw = FakeGateway()
    async with client(gw) as c:
        r = await c.post("/chat/completions", json={"model": "gpt-4o-mini"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert [d["type"] for d in error["details"]] == ["invalid_format", "invalid_format"]


async def test_insufficient_credits_first_attempt_bails() -> None:
    """Helicone's own 429 on the first attempt stops without fallback."""
    gw = FakeGateway()
    gw.script("openai", [InsufficientCredits()])
    r = await chat(gw, "gpt-4o-mini")
    assert r.status_code == 429
    error = r.json()["error"]
    assert (error["code"], error["message"]) == ("request_failed", "Insufficient credits")
    assert error["details"][0]["type"] == "insufficient_credit_limit"
    assert len(gw.last_request.attempts) == 1


async def test_provider_429_falls_through() -> None:
    """A provider 429 moves on to the next attempt."""
    gw = FakeGateway()
    gw.script("openai", [Fail(429)])
    r = await chat(gw, "gpt-4o-mini")
    assert r.status_code == 200
    assert r.headers["helicone-provider"] == "azure"


async def test_passthrough_errors_send_the_provider_answer() -> None:
    """passthrough_errors=True: the provider's status, body and headers, no fallback."""
    gw = FakeGateway(passthrough_errors=True)
    body = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}
    gw.script("openai", [Fail(429, body=body, headers={"Retry-After": "2"})])
    r = await chat(gw, "gpt-4o-mini")
    assert r.status_code == 429
    assert r.json() == body
    assert r.headers["retry-after"] == "2"
    assert len(gw.last_request.attempts) == 1


# -- Helicone-Id and response headers ------------------------------------------------------


async def test_helicone_id_follows_a_valid_request_id() -> None:
    """Helicone-Id is the Helicone-Request-Id when it is a v1-5 UUID, else a fresh uuid4."""
    gw = FakeGateway()
    mine = str(uuid.uuid4())
    good = await chat(gw, headers={"helicone-request-id": mine})
    v1 = str(uuid.uuid1())
    good_v1 = await chat(gw, headers={"helicone-request-id": v1})
    bad = await chat(gw, headers={"helicone-request-id": "not-a-uuid"})
    assert good.headers["helicone-id"] == mine
    assert good_v1.headers["helicone-id"] == v1
    assert uuid.UUID(bad.headers["helicone-id"]).version == 4
    assert gw.last_request.helicone_id == bad.headers["helicone-id"]


async def test_success_headers() -> None:
    """Served answers carry provider, model, gateway mode and status."""
    gw = FakeGateway()
    r = await chat(gw, "gpt-4o-mini/openai")
    assert r.headers["helicone-provider"] == "openai"
    assert r.headers["helicone-model"] == "gpt-4o-mini-2024-07-18"
    assert r.headers["helicone-gateway-mode"] == "PTB"
    assert r.headers["helicone-status"] == "success"
    assert "helicone-cache" not in r.headers


# -- chat completions ----------------------------------------------------------------------


async def test_chat_completion_json() -> None:
    """A chat.completion with the echoed content and word-counted usage."""
    gw = FakeGateway()
    r = await chat(gw, "gpt-4o-mini/openai")
    body = r.json()
    assert r.headers["content-type"] == "application/json"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini-2024-07-18"
    assert isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "role": "assistant",
        "content": "You said: hello there",
        "refusal": None,
    }
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}


async def test_responder_text_and_callable() -> None:
    """responder= is a fixed text or a function of the request record."""
    fixed = FakeGateway(responder="canned")
    custom = FakeGateway(responder=lambda rec: f"{rec.model}!")
    r1 = await chat(fixed)
    r2 = await chat(custom, "gpt-4o")
    assert r1.json()["choices"][0]["message"]["content"] == "canned"
    assert r2.json()["choices"][0]["message"]["content"] == "gpt-4o!"


async def test_n_choices_and_per_choice_texts() -> None:
    """n>1 repeats the reply; Reply(text=[...]) gives one text per choice."""
    gw = FakeGateway()
    r1 = await chat(gw, n=3)
    gw.script("*", [Reply(text=["a b", "c"])])
    r2 = await chat(gw, n=2)
    assert [c["index"] for c in r1.json()["choices"]] == [0, 1, 2]
    assert [c["message"]["content"] for c in r2.json()["choices"]] == ["a b", "c"]
    assert r2.json()["usage"]["completion_tokens"] == 3


async def test_max_tokens_truncates_with_length() -> None:
    """max_tokens cuts the text and sets finish_reason 'length'."""
    gw = FakeGateway(responder="one two three four five")
    r = await chat(gw, max_tokens=2)
    choice = r.json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("one two", "length")


async def test_chat_stream_format() -> None:
    """SSE: role chunk, content deltas, finish chunk, usage chunk with empty choices, [DONE]."""
    gw = FakeGateway(responder="alpha beta gamma")
    r = await chat(gw, "gpt-4o-mini/openai", stream=True)
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    parsed = chunks(r.text)
    assert all(c["object"] == "chat.completion.chunk" for c in parsed)
    assert len({c["id"] for c in parsed}) == 1
    assert parsed[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"].get("content") for c in parsed[1:-2]]
    assert content == ["alpha", " beta", " gamma"]
    assert parsed[-2]["choices"][0]["finish_reason"] == "stop"
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert all(c["usage"] is None for c in parsed[:-1])


async def test_stream_with_n_interleaves_choices() -> None:
    """Deltas of several choices are interleaved by index and accumulate correctly."""
    gw = FakeGateway()
    gw.script("*", [Reply(text=["one two", "three four five"])])
    r = await chat(gw, stream=True, n=2)
    texts = {0: "", 1: ""}
    indexes = []
    for c in chunks(r.text):
        for choice in c["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
            indexes.append(choice["index"])
    assert texts == {0: "one two", 1: "three four five"}
    assert indexes[:4] == [0, 1, 0, 1]


async def test_tool_calls_json_and_stream() -> None:
    """Tool calls: JSON message, and stream fragments interleaved by index."""
    gw = FakeGateway()
    calls = [
        ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}),
        ToolCall("get_time", '{"tz": "Europe/Paris"}', id="call_custom"),
    ]
    gw.script("*", [Reply(tool_calls=calls)], repeat=True)
    tools = [{"type": "function", "function": {"name": "get_weather"}}]
    plain = (await chat(gw, tools=tools)).json()["choices"][0]
    streamed = chunks((await chat(gw, tools=tools, stream=True)).text)

    assert plain["finish_reason"] == "tool_calls"
    assert plain["message"]["content"] is None
    assert plain["message"]["tool_calls"][1] == {
        "id": "call_custom",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
    }
    acc: dict[int, dict[str, str]] = {}
    order = []
    for c in streamed:
        for choice in c["choices"]:
            for tc in choice["delta"].get("tool_calls", []):
                entry = acc.setdefault(tc["index"], {"name": "", "arguments": "", "id": ""})
                entry["id"] += tc.get("id", "")
                entry["name"] += tc.get("function", {}).get("name", "")
                entry["arguments"] += tc.get("function", {}).get("arguments", "")
                order.append(tc["index"])
    assert acc[0] == {"id": "call_0", "name": "get_weather", "arguments": calls[0].arguments}
    assert acc[1]["arguments"] == '{"tz": "Europe/Paris"}'
    assert order[:4] == [0, 1, 0, 1]
    assert streamed[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_chat_to_an_embedding_model_fails_like_the_provider() -> None:
    """A model of another kind is refused by the provider (404), surfacing as 500."""
    gw = FakeGateway()
    r = await chat(gw, "text-embedding-3-small")
    assert r.status_code == 500
    assert "not a chat model" in r.json()["error"]["message"]
    assert r.json()["error"]["details"][0]["statusCode"] == 404


async def test_reply_usage_and_provider_headers() -> None:
    """Reply(usage=...) overrides usage keys; Reply(headers=...) pass through."""
    gw = FakeGateway()
    gw.script("*", [Reply(usage={"prompt_tokens": 100}, headers={"X-Request-Id": "req_1"})])
    r = await chat(gw)
    assert r.json()["usage"]["prompt_tokens"] == 100
    assert r.headers["x-request-id"] == "req_1"


# -- completions and embeddings ------------------------------------------------------------


async def test_completions_json_and_stream() -> None:
    """text_completion objects; the stream has a usage chunk only when asked for."""
    gw = FakeGateway()
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi"}
    async with client(gw) as c:
        plain = (await c.post("/completions", json=body)).json()
        bare = chunks((await c.post("/completions", json={**body, "stream": True})).text)
        usage = {**body, "stream": True, "stream_options": {"include_usage": True}}
        with_usage = chunks((await c.post("/completions", json=usage)).text)
    assert plain["object"] == "text_completion"
    assert plain["choices"][0]["text"] == "You said: Say hi"
    assert plain["usage"]["prompt_tokens"] == 2
    assert "".join(c["choices"][0]["text"] for c in bare) == "You said: Say hi"
    assert bare[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in bare[-1]
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"]["total_tokens"] > 0


async def embed(gateway: FakeGateway, **body: Any) -> httpx2.Response:
    """POST one embeddings request."""
    async with client(gateway) as c:
        return await c.post("/embeddings", json={"model": "text-embedding-3-small", **body})


async def test_embeddings_are_deterministic_unit_vectors() -> None:
    """Same input, same vector; different inputs differ; default 1536 dimensions."""
    gw = FakeGateway()
    a1 = (await embed(gw, input="hello")).json()
    a2 = (await embed(gw, input=["hello", "world"])).json()
    v = a1["data"][0]["embedding"]
    assert len(v) == 1536
    assert math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-5)
    assert a2["data"][0]["embedding"] == v
    assert a2["data"][1]["embedding"] != v
    assert [d["index"] for d in a2["data"]] == [0, 1]
    assert a1["model"] == "text-embedding-3-small"
    assert a1["usage"] == {"prompt_tokens": 1, "total_tokens": 1}


async def test_embeddings_dimensions_and_base64() -> None:
    """dimensions= sets the size; base64 is little-endian float32 of the same vector."""
    gw = FakeGateway(embedding_dimensions=16)
    floats = (await embed(gw, input="x", dimensions=8)).json()["data"][0]["embedding"]
    b64 = (await embed(gw, input="x", dimensions=8, encoding_format="base64")).json()
    small = (await embed(gw, input="x")).json()["data"][0]["embedding"]
    raw = base64.b64decode(b64["data"][0]["embedding"])
    assert len(floats) == 8
    assert list(struct.unpack("<8f", raw)) == floats
    assert len(small) == 16


async def test_embeddings_token_inputs_and_missing_input() -> None:
    """Token-array inputs work; a missing input is a provider 400 (so a 500 envelope)."""
    gw = FakeGateway(embedding_dimensions=4)
    tokens = await embed(gw, input=[[1, 2, 3], [4, 5]])
    missing = await embed(gw)
    assert len(tokens.json()["data"]) == 2
    assert missing.status_code == 500
    assert missing.json()["error"]["details"][0]["statusCode"] == 400


# -- cache ----------------------------------------------------------------------------------

CACHE = {"helicone-cache-enabled": "true"}


async def test_cache_miss_then_hit_replays_identically() -> None:
    """MISS first, then HIT with the identical body and the cache headers."""
    gw = FakeGateway()
    first = await chat(gw, headers=CACHE)
    gw.script("*", [Fail(500)], repeat=True)  # a hit never reaches a provider
    second = await chat(gw, headers=CACHE)
    assert first.headers["helicone-cache"] == "MISS"
    assert second.headers["helicone-cache"] == "HIT"
    assert second.headers["helicone-cache-bucket-idx"] == "0"
    assert second.headers["helicone-cache-latency"] == "0"
    assert second.headers["helicone-provider"] == "openai"
    assert second.content == first.content
    assert second.headers["helicone-id"] != first.headers["helicone-id"]
    assert [r.cache for r in gw.requests] == ["MISS", "HIT"]
    assert gw.remaining("*") == 1


async def test_cached_stream_replays_the_same_chunks() -> None:
    """A cached stream is replayed byte for byte."""
    gw = FakeGateway()
    first = await chat(gw, headers=CACHE, stream=True)
    second = await chat(gw, headers=CACHE, stream=True)
    assert second.headers["helicone-cache"] == "HIT"
    assert second.text == first.text
    assert second.headers["content-type"] == "text/event-stream; charset=utf-8"


async def test_cache_ttl_from_cache_control() -> None:
    """Cache-Control: max-age=N sets the TTL (checked against the injected clock)."""
    clock = FakeClock()
    gw = FakeGateway(clock=clock)
    headers = {**CACHE, "cache-control": "max-age=120"}
    await chat(gw, headers=headers)
    clock.now += 119
    hit = await chat(gw, headers=headers)
    clock.now += 2
    expired = await chat(gw, headers=headers)
    assert hit.headers["helicone-cache"] == "HIT"
    assert expired.headers["helicone-cache"] == "MISS"


async def test_cache_default_ttl_is_seven_days() -> None:
    """Without Cache-Control an entry lives 604800 s."""
    clock = FakeClock()
    gw = FakeGateway(clock=clock)
    await chat(gw, headers=CACHE)
    clock.now += 604_799
    assert (await chat(gw, headers=CACHE)).headers["helicone-cache"] == "HIT"
    clock.now += 2
    assert (await chat(gw, headers=CACHE)).headers["helicone-cache"] == "MISS"


async def test_cache_bucket_fills_before_hitting() -> None:
    """Bucket size N: N misses fill the slots, then hits serve one of them."""
    gw = FakeGateway()
    headers = {**CACHE, "helicone-cache-bucket-max-size": "3"}
    answers = [await chat(gw, headers=headers) for _ in range(6)]
    statuses = [a.headers["helicone-cache"] for a in answers]
    assert statuses == ["MISS", "MISS", "MISS", "HIT", "HIT", "HIT"]
    stored = {a.content for a in answers[:3]}
    assert len(stored) == 3
    assert all(a.content in stored for a in answers[3:])
    assert all(a.headers["helicone-cache-bucket-idx"] in {"0", "1", "2"} for a in answers[3:])


async def test_cache_bucket_over_20_is_500() -> None:
    """Helicone-Cache-Bucket-Max-Size above 20: 500 plain text."""
    gw = FakeGateway()
    r = await chat(gw, headers={**CACHE, "helicone-cache-bucket-max-size": "21"})
    assert (r.status_code, r.text) == (500, "Cache bucket size cannot be greater than 20")


async def test_cache_seed_and_key_namespaces() -> None:
    """A different seed, body or key misses; the same request hits."""
    gw = FakeGateway()
    seeded = {**CACHE, "helicone-cache-seed": "s1"}
    await chat(gw, headers=seeded)
    assert (await chat(gw, headers=seeded)).headers["helicone-cache"] == "HIT"
    other_seed = {**CACHE, "helicone-cache-seed": "s2"}
    assert (await chat(gw, headers=other_seed)).headers["helicone-cache"] == "MISS"
    assert (await chat(gw, headers=seeded, temperature=0.5)).headers["helicone-cache"] == "MISS"
    other_key = {**seeded, "authorization": "Bearer sk-helicone-other"}
    assert (await chat(gw, headers=other_key)).headers["helicone-cache"] == "MISS"


async def test_cache_ignore_keys_parsed_as_json() -> None:
    """Ignore keys work JSON-quoted; the documented unquoted form is ignored (UNCERTAIN)."""
    gw = FakeGateway()
    quoted = {**CACHE, "helicone-cache-ignore-keys": '"request_id"'}
    await chat(gw, headers=quoted, request_id="a")
    hit = await chat(gw, headers=quoted, request_id="b")
    unquoted = {**CACHE, "helicone-cache-ignore-keys": "request_id"}
    await chat(gw, headers=unquoted, request_id="a")
    miss = await chat(gw, headers=unquoted, request_id="b")
    assert hit.headers["helicone-cache"] == "HIT"
    assert miss.status_code == 200
    assert miss.headers["helicone-cache"] == "MISS"


async def test_cache_read_and_save_only() -> None:
    """Helicone-Cache-Save alone stores without reading; -Read alone reads."""
    gw = FakeGateway()
    saved = await chat(gw, headers={"helicone-cache-save": "true"})
    read = await chat(gw, headers={"helicone-cache-read": "true"})
    assert "helicone-cache" not in saved.headers
    assert read.headers["helicone-cache"] == "MISS"  # keyed by the header set, as the worker


# -- rate limits ----------------------------------------------------------------------------


async def test_global_rate_limit_and_headers() -> None:
    """Quota 3: remaining 2, 1, 0, then 429 rate_limited with X-Helicone-Error."""
    gw = FakeGateway(clock=FakeClock())
    headers = {"helicone-ratelimit-policy": "3;w=60"}
    answers = [await chat(gw, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["helicone-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["helicone-ratelimit-limit"] == "3"
    assert answers[0].headers["helicone-ratelimit-policy"] == "3;w=60"
    assert answers[0].headers["helicone-ratelimit-reset"] == "20"
    limited = answers[3]
    assert limited.headers["x-helicone-error"] == "rate_limited"
    error = limited.json()["error"]
    assert (error["code"], error["message"]) == ("rate_limited", "Rate limited")
    assert error["details"] == [
        {
            "type": "rate_limited",
            "message": "Request failed with status 429",
            "statusCode": 429,
            "source": "gpt-4o-mini/openai/ptb",
        }
    ]
    assert gw.last_request.rate_limited
    assert len(gw.last_request.attempts) == 1  # no fallback


async def test_rate_limit_refills_with_the_clock() -> None:
    """Tokens refill at quota/window per second."""
    clock = FakeClock()
    gw = FakeGateway(clock=clock)
    headers = {"helicone-ratelimit-policy": "2;w=60"}
    await chat(gw, headers=headers)
    await chat(gw, headers=headers)
    assert (await chat(gw, headers=headers)).status_code == 429
    clock.now += 30
    assert (await chat(gw, headers=headers)).status_code == 200


async def test_rate_limit_per_user() -> None:
    """s=user buckets by Helicone-User-Id, else the body's user."""
    gw = FakeGateway(clock=FakeClock())
    policy = {"helicone-ratelimit-policy": "1;w=60;s=user"}
    a1 = await chat(gw, headers={**policy, "helicone-user-id": "alice"})
    a2 = await chat(gw, headers=policy, user="alice")
    b1 = await chat(gw, headers={**policy, "helicone-user-id": "bob"})
    assert [a1.status_code, a2.status_code, b1.status_code] == [200, 429, 200]
    assert a1.headers["helicone-ratelimit-policy"] == "1;w=60;s=user"


async def test_rate_limit_per_property() -> None:
    """s=<name> buckets by Helicone-Property-<name>."""
    gw = FakeGateway(clock=FakeClock())
    policy = {"helicone-ratelimit-policy": "1;w=60;s=tenant"}
    t1 = await chat(gw, headers={**policy, "helicone-property-tenant": "acme"})
    t1b = await chat(gw, headers={**policy, "Helicone-Property-Tenant": "acme"})
    t2 = await chat(gw, headers={**policy, "helicone-property-tenant": "globex"})
    assert [t1.status_code, t1b.status_code, t2.status_code] == [200, 429, 200]


@pytest.mark.parametrize(
    "policy", ["1;w=59", "abc", "1;w=60;s=user", "1;w=60;u=tokens", "0;w=60", "1;s=user;w=60"]
)
async def test_invalid_policy_or_missing_segment_fails_open(policy: str) -> None:
    """Invalid policies and missing segment values do not limit and add no headers."""
    gw = FakeGateway()
    answers = [await chat(gw, headers={"helicone-ratelimit-policy": policy}) for _ in range(3)]
    assert all(a.status_code == 200 for a in answers)
    assert all("helicone-ratelimit-limit" not in a.headers for a in answers)


async def test_policy_is_normalised() -> None:
    """Case-insensitive; unit request and global segment are left out of the echo."""
    gw = FakeGateway(clock=FakeClock())
    headers = {"helicone-ratelimit-policy": " 10;W=60;U=Request;S=User ", "helicone-user-id": "u"}
    r = await chat(gw, headers=headers)
    assert r.headers["helicone-ratelimit-policy"] == "10;w=60;s=user"


async def test_cents_policy_spends_the_request_cost() -> None:
    """u=cents admits while budget remains, then records each request's cost."""
    gw = FakeGateway(clock=FakeClock(), request_cost_cents=0.1)
    headers = {"helicone-ratelimit-policy": "0.25;w=60;u=cents"}
    answers = [await chat(gw, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["helicone-ratelimit-policy"] == "0.25;w=60;u=cents"
    assert answers[0].headers["helicone-ratelimit-limit"] == "0.25"


async def test_rate_limit_headers_on_429_can_be_turned_off() -> None:
    """rate_limit_error_headers=False: the 429 is the bare envelope (as the code suggests)."""
    gw = FakeGateway(clock=FakeClock(), rate_limit_error_headers=False)
    headers = {"helicone-ratelimit-policy": "1;w=60"}
    await chat(gw, headers=headers)
    r = await chat(gw, headers=headers)
    assert r.status_code == 429
    assert "x-helicone-error" not in r.headers
    assert "helicone-ratelimit-limit" not in r.headers
    assert r.json()["error"]["code"] == "rate_limited"


# -- recording ------------------------------------------------------------------------------


async def test_requests_are_recorded() -> None:
    """Each request is recorded with headers, body, Helicone metadata and the outcome."""
    clock = FakeClock()
    gw = FakeGateway(clock=clock)
    request_id = str(uuid.uuid4())
    headers = {
        "Helicone-Property-Env": "prod",
        "Helicone-User-Id": "u-1",
        "Helicone-Session-Id": "s-1",
        "Helicone-Session-Path": "/a/b",
        "Helicone-Session-Name": "Trip",
        "Helicone-Request-Id": request_id,
    }
    await chat(gw, "gpt-4o-mini/azure", headers=headers, stream=True)
    rec = gw.last_request
    assert isinstance(rec, RequestRecord)
    assert (rec.method, rec.path, rec.endpoint) == ("POST", "/v1/chat/completions", "chat")
    assert rec.headers["helicone-property-env"] == "prod"
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.json["model"] == "gpt-4o-mini/azure"
    assert json.loads(rec.body) == rec.json
    assert rec.model == "gpt-4o-mini/azure"
    assert rec.last_user_message == "hello there"
    assert rec.time == clock.now
    assert rec.stream is True
    assert rec.properties == {"env": "prod"}
    assert (rec.user_id, rec.session_id, rec.session_path, rec.session_name) == (
        "u-1",
        "s-1",
        "/a/b",
        "Trip",
    )
    assert rec.helicone_id == request_id
    assert (rec.status, rec.provider, rec.provider_model, rec.gateway_mode) == (
        200,
        "azure",
        "gpt-4o-mini",
        "PTB",
    )
    assert rec.completed_at == clock.now
    assert rec.closed_by_client_at is None
    assert KEY not in repr(rec)


async def test_clear_and_reset() -> None:
    """clear() forgets records; reset() also scripts, cache and buckets."""
    gw = FakeGateway(clock=FakeClock())
    gw.script("*", [Fail(500)], repeat=True)
    headers = {**CACHE, "helicone-ratelimit-policy": "1;w=60"}
    await chat(gw, headers=headers)
    gw.clear()
    assert gw.requests == []
    with pytest.raises(LookupError):
        _ = gw.last_request
    gw.reset()
    r = await chat(gw, headers=headers)
    assert r.status_code == 200
    assert r.headers["helicone-cache"] == "MISS"


# -- scripted outcomes ----------------------------------------------------------------------


async def test_script_lookup_order() -> None:
    """model/provider beats model beats provider beats '*'; exhausted scripts fall through."""
    gw = FakeGateway()
    gw.script("*", [Reply(text="star")], repeat=True)
    gw.script("openai", [Reply(text="provider")])
    gw.script("gpt-4o", [Reply(text="model")])
    gw.script("gpt-4o/openai", [Reply(text="exact")])
    texts = []
    for _ in range(4):
        r = await chat(gw, "gpt-4o/openai")
        texts.append(r.json()["choices"][0]["message"]["content"])
    assert texts == ["exact", "model", "provider", "star"]


def test_script_targets_are_validated() -> None:
    """Unknown providers in targets, and repeat without outcomes, are refused."""
    gw = FakeGateway()
    with pytest.raises(ValueError, match="script target"):
        gw.script("gpt-4o/nope", [Reply()])
    with pytest.raises(ValueError, match="repeat"):
        gw.script("*", [], repeat=True)
    with pytest.raises(ValueError, match="400-599"):
        Fail(200)


async def test_raw_response_is_verbatim() -> None:
    """RawResponse bypasses the gateway: exact status, headers and body."""
    gw = FakeGateway()
    gw.script("*", [RawResponse(502, b"<html>oops</html>", content_type="text/html")])
    r = await chat(gw)
    assert (r.status_code, r.text, r.headers["content-type"]) == (
        502,
        "<html>oops</html>",
        "text/html",
    )
    assert "helicone-id" not in r.headers


async def test_delay_then_fail_then_fallback() -> None:
    """Delay(s, Fail) waits, then the gateway falls back."""
    gw = FakeGateway()
    gw.script("openai", [Delay(0.05, Fail(503))])
    gw.script("azure", [Reply(delay=0.05)])
    start = time.monotonic()
    r = await chat(gw, "gpt-4o-mini")
    assert time.monotonic() - start >= 0.1
    assert r.headers["helicone-provider"] == "azure"


async def test_respond_sync_and_async() -> None:
    """Respond(func): func may return text or an outcome, sync or async."""
    gw = FakeGateway()

    async def later(rec: RequestRecord) -> Fail:
        await anyio.lowlevel.checkpoint()
        return Fail(503)

    gw.script("openai", [Respond(lambda rec: f"to {rec.user_id}"), Respond(later)])
    r1 = await chat(gw, "gpt-4o-mini", user="ann")
    r2 = await chat(gw, "gpt-4o-mini")
    assert r1.json()["choices"][0]["message"]["content"] == "to ann"
    assert r2.headers["helicone-provider"] == "azure"


async def test_truncated_stream_clean() -> None:
    """TruncatedStream(k, clean=True): k events, no [DONE], body ends normally."""
    gw = FakeGateway()
    gw.script("*", [TruncatedStream(after_chunks=2)])
    r = await chat(gw, stream=True)
    data = events(r.text)
    assert len(data) == 2
    assert "[DONE]" not in data


async def test_truncated_json_is_half_a_body() -> None:
    """TruncatedStream on a JSON answer sends half the body."""
    gw = FakeGateway()
    gw.script("*", [TruncatedStream()])
    r = await chat(gw)
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


async def test_in_stream_error() -> None:
    """InStreamError: k events, then a data: {"error": ...} event, then [DONE]."""
    gw = FakeGateway()
    gw.script("*", [InStreamError(after_chunks=1, error_json={"error": {"message": "overloaded"}})])
    r = await chat(gw, stream=True)
    data = events(r.text)
    assert json.loads(data[1]) == {"error": {"message": "overloaded"}}
    assert data[2:] == ["[DONE]"]
    assert r.status_code == 200


async def test_reset_raises_without_the_abort_extension() -> None:
    """Under a server without the abort extension, Reset raises SimulatedReset."""
    gw = FakeGateway()
    gw.script("*", [Reset()])
    with pytest.raises(SimulatedReset):
        await chat(gw)
    assert gw.last_request.aborted
    assert gw.last_request.status is None


async def test_finite_stall_and_slow_drip_complete_normally() -> None:
    """A finite Stall and a SlowDrip still deliver the full answer."""
    gw = FakeGateway(responder="a b c")
    gw.script("*", [Stall(0.02), Stall(0.02, after_chunks=1), SlowDrip(0.01)])
    r1 = await chat(gw)
    r2 = await chat(gw, stream=True)
    r3 = await chat(gw, stream=True)
    assert r1.json()["choices"][0]["message"]["content"] == "a b c"
    assert events(r2.text)[-1] == "[DONE]"
    assert events(r3.text)[-1] == "[DONE]"
    assert [a.outcome for r in gw.requests for a in r.attempts] == ["stall", "stall", "slow_drip"]


async def test_lifespan_is_acknowledged() -> None:
    """The app completes lifespan startup and shutdown."""
    gw = FakeGateway()
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await gw({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_in_stream_error_on_a_json_request_is_a_200_error_body() -> None:
    """InStreamError on a non-streaming request sends the error JSON with status 200."""
    gw = FakeGateway()
    gw.script("*", [InStreamError()])
    r = await chat(gw)
    assert r.status_code == 200
    assert r.json()["error"]["type"] == "server_error"


async def test_legacy_passthrough_rate_limit_body() -> None:
    """passthrough_errors=True: a policy 429 has the legacy proxies' message body."""
    gw = FakeGateway(clock=FakeClock(), passthrough_errors=True)
    headers = {"helicone-ratelimit-policy": "1;w=60"}
    await chat(gw, headers=headers)
    r = await chat(gw, headers=headers)
    assert r.status_code == 429
    assert r.json()["message"].startswith("Helicone user was rate limit")
    assert r.headers["x-helicone-error"] == "rate_limited"


async def test_provider_headers_of_a_failure_stay_hidden_behind_the_envelope() -> None:
    """The envelope is built fresh: a provider's Retry-After is not carried over."""
    gw = FakeGateway()
    gw.script("*", [Fail(429, headers={"retry-after": "7"})], repeat=True)
    r = await chat(gw, "gpt-4o-mini/openai")
    assert r.status_code == 429
    assert "retry-after" not in r.headers
