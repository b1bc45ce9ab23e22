"""AsyncHelicone's logic over httpx2.MockTransport: requests, errors, retries, validation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest

import aiohelicone
from aiohelicone import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncHelicone,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HeliconeError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    _retry,
)
from aiohelicone.testing import no_retry_waits

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
}
MESSAGES = [{"role": "user", "content": "Capital of France?"}]

Handler = Callable[[httpx2.Request], httpx2.Response]


class Recorder:
    """A MockTransport handler that replays scripted answers and records requests."""

    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def last_body(self) -> Any:
        return json.loads(self.requests[-1].content)


def ok(body: Any = None, **headers: str) -> httpx2.Response:
    return httpx2.Response(200, json=CHAT if body is None else body, headers=headers)


def make_client(handler: Handler, **kwargs: Any) -> AsyncHelicone:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return AsyncHelicone(api_key=KEY, base_url="https://gw.test/v1", http_client=http, **kwargs)


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


# -- construction ----------------------------------------------------------------------


async def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HELICONE_API_KEY is used when api_key is not given."""
    monkeypatch.setenv("HELICONE_API_KEY", KEY)
    rec = Recorder(ok())
    client = AsyncHelicone(http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(rec)))
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert rec.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert str(rec.requests[0].url) == "https://ai-gateway.helicone.ai/v1/chat/completions"


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no key anywhere, construction fails naming HELICONE_API_KEY."""
    monkeypatch.delenv("HELICONE_API_KEY", raising=False)
    with pytest.raises(HeliconeError, match="HELICONE_API_KEY"):
        AsyncHelicone()


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HELICONE_BASE_URL is the fallback before the default."""
    monkeypatch.setenv("HELICONE_BASE_URL", "http://127.0.0.1:9/v1/")
    client = AsyncHelicone(api_key=KEY)
    assert client.base_url == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("HELICONE_BASE_URL")
    assert AsyncHelicone(api_key=KEY).base_url == aiohelicone.DEFAULT_BASE_URL


def test_repr_never_shows_the_key() -> None:
    """repr(client) hides the key."""
    client = AsyncHelicone(api_key=KEY)
    assert KEY not in repr(client)
    assert "hidden" in repr(client)


@pytest.mark.parametrize("bad", [object(), "not a client", httpx2.Client()])
def test_http_client_must_be_httpx2_async_client(bad: object) -> None:
    """Anything but an httpx2.AsyncClient is refused with a TypeError naming it."""
    with pytest.raises(TypeError, match=r"httpx2\.AsyncClient"):
        AsyncHelicone(api_key=KEY, http_client=bad)  # type: ignore[arg-type]


async def test_callers_http_client_is_not_closed() -> None:
    """aclose() leaves a caller-supplied client open; an owned one is closed."""
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(Recorder(ok())))
    async with AsyncHelicone(api_key=KEY, http_client=http) as client:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert not http.is_closed
    await http.aclose()
    owned = AsyncHelicone(api_key=KEY)
    await owned.aclose()
    assert owned.is_closed


async def test_closed_client_refuses_requests() -> None:
    """A request on a closed client fails clearly instead of hanging."""
    client = AsyncHelicone(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    await client.aclose()
    with pytest.raises(APIConnectionError, match="closed"):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


async def test_legacy_proxy_auth_headers() -> None:
    """provider_api_key puts the Helicone key in Helicone-Auth and the provider's in Authorization."""
    rec = Recorder(ok())
    client = make_client(rec, provider_api_key="sk-openai-123")
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    headers = rec.requests[0].headers
    assert headers["helicone-auth"] == f"Bearer {KEY}"
    assert headers["authorization"] == "Bearer sk-openai-123"


# -- requests ----------------------------------------------------------------------------


async def test_unset_parameters_are_not_sent() -> None:
    """Only model and messages go on the wire when nothing else is given."""
    rec = Recorder(ok())
    await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert rec.last_body == {"model": "gpt-4o-mini", "messages": MESSAGES}
    assert rec.requests[0].headers["content-type"] == "application/json"


async def test_every_openai_parameter_is_passed_on() -> None:
    """All documented chat parameters reach the body under their OpenAI names."""
    rec = Recorder(ok())
    params: dict[str, Any] = {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 100,
        "max_completion_tokens": 120,
        "frequency_penalty": 0.1,
        "presence_penalty": -0.1,
        "stop": ["\n"],
        "n": 2,
        "seed": 7,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "logprobs": True,
        "top_logprobs": 3,
        "stream_options": {"include_usage": True},
        "user": "u-1",
    }
    await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **params)
    assert rec.last_body == {"model": "gpt-4o-mini", "messages": MESSAGES, **params}


async def test_extra_headers_query_and_body() -> None:
    """extra_* arguments are added to the request as they are."""
    rec = Recorder(ok())
    await make_client(rec).chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_headers={"X-Trace": "t1"},
        extra_query={"api-version": "2024"},
        extra_body={"reasoning_options": {"effort": "low"}},
    )
    request = rec.requests[0]
    assert request.headers["x-trace"] == "t1"
    assert request.url.params["api-version"] == "2024"
    assert rec.last_body["reasoning_options"] == {"effort": "low"}


async def test_every_request_carries_a_request_id() -> None:
    """A fresh Helicone-Request-Id is sent and surfaces on the result."""
    rec = Recorder(ok(), ok())
    client = make_client(rec)
    first = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    second = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    ids = [r.headers["helicone-request-id"] for r in rec.requests]
    assert ids[0] != ids[1]
    assert first.helicone is not None and first.helicone.request_id == ids[0]
    assert second.helicone is not None and second.helicone.request_id == ids[1]


async def test_helicone_metadata_from_response_headers() -> None:
    """Provider, model, cache and rate-limit headers are read into .helicone."""
    rec = Recorder(
        ok(
            **{
                "helicone-id": "req-9",
                "helicone-provider": "openai",
                "helicone-model": "gpt-4o-mini-2024-07-18",
                "helicone-cache": "HIT",
                "helicone-ratelimit-remaining": "4",
                "helicone-ratelimit-limit": "5",
            }
        )
    )
    result = await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    meta = result.helicone
    assert meta is not None
    assert (meta.request_id, meta.provider, meta.model) == (
        "req-9",
        "openai",
        "gpt-4o-mini-2024-07-18",
    )
    assert meta.cache.hit is True
    assert meta.rate_limit is not None and meta.rate_limit.remaining == 4


async def test_per_call_timeout_reaches_httpx2() -> None:
    """timeout= on a call overrides the client's timeouts for that request."""
    rec = Recorder(ok(), ok())
    client = make_client(rec, timeout=5.0)
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, timeout=1.5)
    assert rec.requests[0].extensions["timeout"]["read"] == 5.0
    assert rec.requests[1].extensions["timeout"]["read"] == 1.5


def test_default_timeouts_are_fit_for_llm_calls() -> None:
    """Default read timeout is well under openai-python's 600 s, connect is short."""
    client = AsyncHelicone(api_key=KEY)
    timeout = client.http_client.timeout
    assert timeout.read is not None and 60 <= timeout.read < 600
    assert timeout.connect is not None and timeout.connect <= 10


async def test_completions_and_embeddings_endpoints() -> None:
    """Text completions and embeddings POST to their own paths with their own fields."""
    completion = {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": "!"}]}
    embeddings = {"object": "list", "data": [{"index": 0, "embedding": [0.1, 0.2]}], "model": "e"}
    rec = Recorder(ok(completion), ok(embeddings))
    client = make_client(rec)
    text = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon")
    vectors = await client.embeddings.create(
        model="text-embedding-3-small", input=["a"], dimensions=2
    )
    assert text.choices[0].text == "!"
    assert vectors.data[0].embedding == [0.1, 0.2]
    assert rec.requests[0].url.path == "/v1/completions"
    assert json.loads(rec.requests[0].content) == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Once upon",
    }
    assert rec.requests[1].url.path == "/v1/embeddings"
    assert json.loads(rec.requests[1].content)["dimensions"] == 2


async def test_models_list() -> None:
    """GET /models returns a typed list."""
    rec = Recorder(ok({"object": "list", "data": [{"id": "gpt-4o-mini", "owned_by": "openai"}]}))
    models = await make_client(rec).models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini"]
    assert rec.requests[0].method == "GET"


# -- validation before sending ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": 5}, "model"),
        ({"model": ""}, "model"),
        ({"messages": "hi"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"content": "x"}]}, "messages[0].role"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"temperature": 3.5}, "temperature"),
        ({"top_p": True}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": "2"}, "n"),
        ({"stop": [1]}, "stop"),
        ({"extra_body": {"x": math.nan}}, "body"),
        ({"extra_body": {"x": object()}}, "body"),
        ({"extra_headers": {"x": "a\r\nb"}}, "extra_headers"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
async def test_bad_input_is_refused_before_sending(kwargs: dict[str, Any], field: str) -> None:
    """Bad arguments raise InvalidInputError naming the field, and nothing is sent."""
    rec = Recorder(ok())
    call: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES, **kwargs}
    with pytest.raises(InvalidInputError) as info:
        await make_client(rec).chat.completions.create(**call)
    assert info.value.field.startswith(field)
    assert rec.requests == []


# -- keys, headers and per-call options are checked before anything is sent (#20) --------

UNSAFE_KEYS = [KEY + " ", KEY + "\t", " " + KEY, KEY + "\x7f", KEY[:10] + "\x1b" + KEY[10:]]


@pytest.mark.parametrize("bad", UNSAFE_KEYS)
@pytest.mark.parametrize("field", ["api_key", "provider_api_key"])
def test_unsafe_key_is_refused_without_echoing_it(field: str, bad: str) -> None:
    """A key with whitespace at an end or a control character: InvalidInputError, no key."""
    keys = {"api_key": bad} if field == "api_key" else {"api_key": KEY, field: bad}
    with pytest.raises(InvalidInputError) as info:
        AsyncHelicone(base_url="https://gw.test/v1", **keys)
    assert info.value.field == field
    for text in (str(info.value), repr(info.value), repr(info.value.args)):
        assert KEY[:12] not in text and KEY[-12:] not in text


def test_key_from_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """HELICONE_API_KEY with a trailing newline (read from a file) is refused, not sent."""
    monkeypatch.setenv("HELICONE_API_KEY", KEY + "\n")
    with pytest.raises(InvalidInputError) as info:
        AsyncHelicone(base_url="https://gw.test/v1")
    assert info.value.field == "api_key"
    assert KEY not in str(info.value)


BAD_HEADERS: list[tuple[Any, str]] = [
    ({"X\r\nInjected": "b"}, "not a valid header name"),
    ({"a b": "c"}, "not a valid header name"),
    ({"": "c"}, "not a valid header name"),
    ({1: "c"}, "must be strings"),
    ({"X-Num": 1}, "must be a string"),
    ({"X-Ctl": "sk-looks-secret\x01"}, "'\\x01' at index 15"),
    ({"X-Del": "v\x7f"}, "header-safe"),
    ({"X-Uni": "caf\u00e9"}, "header-safe"),
    ({"Content-Length": "5"}, "framing"),
    ({"Host": "evil.test"}, "framing"),
    ({"Transfer-Encoding": "chunked"}, "framing"),
    ({"Connection": "close"}, "framing"),
    ({"Authorization": "Bearer sk-other-key"}, "pass keys to the client"),
    ({"Helicone-Auth": "Bearer sk-other-key"}, "pass keys to the client"),
    ([("X-A", "1")], "must be a mapping"),
]


def call_resource(client: AsyncHelicone, resource: str, **kwargs: Any) -> Any:
    """One call of ``resource`` with valid arguments plus ``kwargs``."""
    if resource == "chat":
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **kwargs)
    if resource == "completions":
        return client.completions.create(model="gpt-4o-mini", prompt="x", **kwargs)
    if resource == "embeddings":
        return client.embeddings.create(model="text-embedding-3-small", input="x", **kwargs)
    return client.models.list(**kwargs)


@pytest.mark.parametrize("resource", ["chat", "completions", "embeddings", "models"])
@pytest.mark.parametrize(("headers", "problem"), BAD_HEADERS)
async def test_bad_extra_headers_are_refused_before_sending(
    resource: str, headers: Any, problem: str
) -> None:
    """Per-call extra_headers get the HeliconeOptions checks; nothing is sent or retried."""
    rec = Recorder(ok())
    with pytest.raises(InvalidInputError) as info:
        await call_resource(make_client(rec), resource, extra_headers=headers)
    assert info.value.field.startswith("extra_headers")
    name = next(iter(headers))[0] if isinstance(headers, list) else next(iter(headers))
    if isinstance(name, str) and isinstance(headers, dict):
        assert info.value.field == f"extra_headers[{name!r}]"
    assert problem in info.value.problem
    assert "sk-looks-secret" not in str(info.value) and "sk-other-key" not in str(info.value)
    assert rec.requests == []


@pytest.mark.parametrize(("headers", "problem"), BAD_HEADERS)
def test_bad_default_headers_are_refused_at_construction(headers: Any, problem: str) -> None:
    """The client's default_headers get the same checks, when the client is built."""
    with pytest.raises(InvalidInputError) as info:
        AsyncHelicone(api_key=KEY, base_url="https://gw.test/v1", default_headers=headers)
    assert info.value.field.startswith("default_headers")
    assert problem in info.value.problem


async def test_ordinary_extra_headers_still_override() -> None:
    """Accept and User-Agent may still be replaced per call, and go out once."""
    rec = Recorder(ok())
    client = make_client(rec, default_headers={"X-Team": "a"})
    await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_headers={"User-Agent": "mine/1.0", "x-team": "b", "X-Empty": ""},
    )
    sent = rec.requests[0].headers
    assert sent.get_list("user-agent") == ["mine/1.0"]
    assert sent.get_list("x-team") == ["b"]
    assert sent["x-empty"] == ""


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ({"base_url": "http://[::1/v1"}, "base_url"),
        ({"base_url": "http://127.0.0.1:99999/v1"}, "base_url"),
        ({"base_url": "http://127.0.0.1:0/v1"}, "base_url"),
        ({"base_url": "http:///v1"}, "base_url"),
        ({"base_url": "ftp://gw.test/v1"}, "base_url"),
        ({"rest_base_url": "http://[::1"}, "rest_base_url"),
        ({"rest_base_url": "https://api.test:70000"}, "rest_base_url"),
    ],
)
def test_bad_urls_are_refused_at_construction(url: dict[str, str], field: str) -> None:
    """A URL httpx2 would reject on the first request is refused when the client is built."""
    kwargs: dict[str, Any] = {"base_url": "https://gw.test/v1", **url}
    with pytest.raises(InvalidInputError) as info:
        AsyncHelicone(api_key=KEY, **kwargs)
    assert info.value.field == field


async def test_port_out_of_range_is_typed_on_both_backends() -> None:
    """Port 99999 used to reach asyncio's connect as a raw ExceptionGroup[OverflowError]."""
    with pytest.raises(InvalidInputError, match="outside 1-65535"):
        async with AsyncHelicone(api_key=KEY, base_url="http://127.0.0.1:99999/v1") as client:
            await client.models.list()


BAD_CALL_OPTIONS: list[tuple[dict[str, Any], str, tuple[str, ...]]] = [
    ({"extra_body": "x"}, "extra_body", ("chat", "completions", "embeddings")),
    ({"extra_body": ["x"]}, "extra_body", ("chat", "completions", "embeddings")),
    ({"extra_body": {1: "x"}}, "extra_body", ("chat", "completions", "embeddings")),
    ({"extra_query": "a=1"}, "extra_query", ("chat", "completions", "embeddings")),
    ({"extra_query": {"a": object()}}, "extra_query['a']", ("chat", "completions", "embeddings")),
    ({"extra_query": {"a": [1, {}]}}, "extra_query['a']", ("chat", "completions", "embeddings")),
    ({"extra_query": {2: "x"}}, "extra_query", ("chat", "completions", "embeddings")),
    ({"stream_timeouts": 5}, "stream_timeouts", ("chat", "completions")),
    ({"stream_timeouts": 5, "stream": True}, "stream_timeouts", ("chat", "completions")),
    ({"stream": "yes"}, "stream", ("chat", "completions")),
    ({"stream": 1}, "stream", ("chat", "completions")),
]


@pytest.mark.parametrize(
    ("kwargs", "field", "resource"),
    [(kwargs, field, r) for kwargs, field, resources in BAD_CALL_OPTIONS for r in resources],
)
async def test_bad_call_options_are_typed(
    kwargs: dict[str, Any], field: str, resource: str
) -> None:
    """extra_body/extra_query/stream_timeouts/stream of the wrong type: InvalidInputError."""
    rec = Recorder(ok())
    with pytest.raises(InvalidInputError) as info:
        await call_resource(make_client(rec), resource, **kwargs)
    assert info.value.field == field
    assert rec.requests == []


async def test_query_values_of_plain_types_are_sent() -> None:
    """extra_query takes str, int, float, bool and None values, and lists of them."""
    rec = Recorder(ok())
    await make_client(rec).chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_query={"a": "x", "b": 2, "c": 0.5, "d": True, "e": ["y", 3]},
    )
    assert rec.requests[0].url.query == b"a=x&b=2&c=0.5&d=true&e=y&e=3"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input": b"x"}, "input"),
        ({"input": []}, "input"),
        ({"dimensions": 0}, "dimensions"),
        ({"encoding_format": "hex"}, "encoding_format"),
    ],
)
async def test_bad_embedding_input_is_refused(kwargs: dict[str, Any], field: str) -> None:
    """Embeddings arguments are checked too."""
    rec = Recorder(ok())
    call: dict[str, Any] = {"model": "text-embedding-3-small", "input": "x", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        await make_client(rec).embeddings.create(**call)
    assert info.value.field == field
    assert rec.requests == []


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_status_codes_map_to_openai_named_errors(status: int, cls: type[Exception]) -> None:
    """Each status raises the class openai-python users catch, with its fields."""
    body = {"error": {"message": "boom", "type": "invalid_request_error", "code": "x1"}}
    rec = Recorder(httpx2.Response(status, json=body, headers={"helicone-id": "h-1"}))
    with pytest.raises(cls) as info:
        await make_client(rec, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    error = info.value
    assert isinstance(error, APIStatusError)
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == "boom"
    assert error.code == "x1"
    assert error.body == body
    assert error.request_id == rec.requests[0].headers["helicone-request-id"]
    assert error.helicone is not None and error.helicone.request_id == "h-1"
    assert KEY not in str(error)


async def test_gateway_envelope_details_are_parsed() -> None:
    """The AI gateway's {success:false, error:{code, message, details}} is exposed."""
    body = {
        "success": False,
        "error": {
            "code": "request_failed",
            "message": "Provider said no",
            "details": [
                {
                    "type": "request_failed",
                    "message": "bad",
                    "statusCode": 400,
                    "source": "gpt-4o/openai/byok",
                },
            ],
            "param": None,
        },
    }
    rec = Recorder(httpx2.Response(500, json=body))
    with pytest.raises(InternalServerError) as info:
        await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    error = info.value
    assert error.code == "request_failed"
    assert error.details[0].status_code == 400
    assert error.details[0].source == "gpt-4o/openai/byok"
    assert "gpt-4o/openai/byok" in str(error)
    assert len(rec.requests) == 1, "a 500 wrapping provider 4xx must not be retried"


async def test_plain_text_error_body_is_kept_as_text() -> None:
    """Errors raised before routing are plain text; the text is the message and the body."""
    rec = Recorder(httpx2.Response(401, text="Invalid Helicone API key (hshed)"))
    with pytest.raises(AuthenticationError) as info:
        await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert info.value.body == "Invalid Helicone API key (hshed)"
    assert info.value.message == "Invalid Helicone API key (hshed)"


async def test_html_error_body_is_kept_as_text() -> None:
    """An HTML error page (a proxy in the way) is kept as text, not a JSON error."""
    rec = Recorder(httpx2.Response(502, html="<html><h1>Bad gateway</h1></html>"))
    with pytest.raises(InternalServerError) as info:
        await make_client(rec, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert "Bad gateway" in str(info.value.body)


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx2.Response(200, content=b""), "empty body"),
        (httpx2.Response(200, content=b"{not json"), "not JSON"),
        (httpx2.Response(200, html="<html>hi</html>"), "not JSON"),
        (httpx2.Response(200, json={"id": "x", "choices": "no"}), "choices"),
        (httpx2.Response(200, json=[1, 2]), "object"),
    ],
)
async def test_bad_success_bodies_raise_validation_error(
    response: httpx2.Response, match: str
) -> None:
    """A 200 that is not a completion raises APIResponseValidationError, never a raw error."""
    with pytest.raises(APIResponseValidationError, match=match) as info:
        await make_client(Recorder(response)).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert info.value.status_code == 200


# -- retries ------------------------------------------------------------------------------


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_retry, "sleep", fake_sleep)
    return recorded


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(status: int, waits: list[float]) -> None:
    """408, 409, 429 and 5xx are retried, then the call succeeds."""
    rec = Recorder(httpx2.Response(status, json={"error": {"message": "x"}}), ok())
    result = await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content == "Paris."
    assert len(rec.requests) == 2
    assert len(waits) == 1
    assert (
        rec.requests[0].headers["helicone-request-id"]
        == rec.requests[1].headers["helicone-request-id"]
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_never_retried(status: int, waits: list[float]) -> None:
    """400/401/403/404/422 fail at once."""
    rec = Recorder(httpx2.Response(status, json={"error": {"message": "x"}}), ok())
    with pytest.raises(APIStatusError):
        await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(rec.requests) == 1
    assert waits == []


async def test_retries_run_out(waits: list[float]) -> None:
    """After max_retries the last error is raised; per-call max_retries wins."""
    rec = Recorder(httpx2.Response(503, json={"error": {"message": "down"}}))
    client = make_client(rec, max_retries=3)
    with pytest.raises(InternalServerError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(rec.requests) == 4
    with pytest.raises(InternalServerError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_retries=0)
    assert len(rec.requests) == 5


async def test_backoff_grows_and_is_capped(waits: list[float]) -> None:
    """Backoff doubles from initial_delay, is jittered down, and never exceeds max_delay."""
    rec = Recorder(httpx2.Response(503, json={}))
    policy = aiohelicone.RetryPolicy(max_retries=6, initial_delay=1.0, max_delay=4.0, jitter=0.25)
    with pytest.raises(InternalServerError):
        await make_client(rec, retry_policy=policy).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    bases = [1, 2, 4, 4, 4, 4]
    assert len(waits) == 6
    for wait, base in zip(waits, bases, strict=True):
        assert base * 0.75 <= wait <= base


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"helicone-ratelimit-reset": "7"}, 7.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ],
)
async def test_server_requested_waits_are_honoured(
    headers: dict[str, str], expected: float, waits: list[float]
) -> None:
    """retry-after-ms, Retry-After and Helicone-RateLimit-Reset set the wait."""
    rec = Recorder(httpx2.Response(429, json={}, headers=headers), ok())
    await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert waits == [pytest.approx(expected)]


async def test_retry_after_http_date(waits: list[float]) -> None:
    """An HTTP-date Retry-After is turned into seconds from now."""
    import email.utils
    import time

    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    rec = Recorder(httpx2.Response(503, json={}, headers={"retry-after": when}), ok())
    await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert 25 <= waits[0] <= 31


async def test_too_long_retry_after_raises_instead_of_sleeping(waits: list[float]) -> None:
    """A wait over the cap raises RateLimitError with retry_after instead of sleeping."""
    rec = Recorder(httpx2.Response(429, json={}, headers={"retry-after": "3600"}), ok())
    with pytest.raises(RateLimitError) as info:
        await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert info.value.retry_after == 3600
    assert waits == []
    assert len(rec.requests) == 1


async def test_insufficient_credits_is_not_retried(waits: list[float]) -> None:
    """A 429 for exhausted credits says so and is not retried."""
    body = {
        "success": False,
        "error": {"code": "request_failed", "message": "Insufficient credits"},
    }
    rec = Recorder(httpx2.Response(429, json=body), ok())
    with pytest.raises(RateLimitError) as info:
        await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert info.value.reason == "insufficient_credits"
    assert info.value.helicone_generated
    assert len(rec.requests) == 1


async def test_helicone_rate_limit_policy_429_is_flagged(waits: list[float]) -> None:
    """X-Helicone-Error: rate_limited marks a Helicone-generated 429."""
    rec = Recorder(
        httpx2.Response(
            429,
            json={"success": False, "error": {"code": "rate_limited", "message": "Rate limited"}},
            headers={"x-helicone-error": "rate_limited"},
        )
    )
    with pytest.raises(RateLimitError) as info:
        await make_client(rec, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert info.value.reason == "rate_limit_policy"
    assert info.value.helicone_generated


async def test_connection_errors_are_retried_then_mapped(waits: list[float]) -> None:
    """httpx2 connection errors and timeouts become APIConnectionError/APITimeoutError."""
    rec = Recorder(httpx2.ConnectError("refused"), ok())
    result = await make_client(rec).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.id == "chatcmpl-1"
    rec = Recorder(httpx2.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError) as info:
        await make_client(rec, max_retries=1).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert isinstance(info.value.__cause__, httpx2.ReadTimeout)
    assert len(rec.requests) == 2
    rec = Recorder(httpx2.RemoteProtocolError("reset"))
    with pytest.raises(APIConnectionError) as conn:
        await make_client(rec, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert not isinstance(conn.value, APITimeoutError)


async def test_every_status_error_carries_the_requested_wait(waits: list[float]) -> None:
    """retry_after is read once into the error, for any status, and drives the retry wait."""
    rec = Recorder(httpx2.Response(503, json={}, headers={"retry-after": "2"}))
    with pytest.raises(InternalServerError) as info:
        await make_client(rec, max_retries=1).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert info.value.retry_after == 2.0
    assert waits == [2.0]


# -- transport= and on_retry= ------------------------------------------------------------


async def test_transport_argument_builds_an_owned_pool_on_it() -> None:
    """transport=: requests go through it with the client's headers; aclose() closes the pool."""
    rec = Recorder(ok())
    client = AsyncHelicone(
        api_key=KEY, base_url="https://gw.test/v1", transport=httpx2.MockTransport(rec)
    )
    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    sent = rec.requests[0]
    assert str(sent.url) == "https://gw.test/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["user-agent"].startswith("aiohelicone/")
    assert "authorization" not in client.http_client.headers  # added per request
    http = client.http_client
    await client.aclose()
    assert client.is_closed and http.is_closed


def test_transport_argument_is_checked() -> None:
    """transport= must be an httpx2.AsyncBaseTransport, and not come with http_client."""
    with pytest.raises(TypeError, match="AsyncBaseTransport"):
        AsyncHelicone(api_key=KEY, transport=object())  # type: ignore[arg-type]
    mock = httpx2.MockTransport(Recorder(ok()))
    with pytest.raises(TypeError, match="not both"):
        AsyncHelicone(api_key=KEY, transport=mock, http_client=httpx2.AsyncClient(transport=mock))


async def test_on_retry_sees_each_retry_with_its_error_number_and_wait() -> None:
    """on_retry(error, retry, wait): once per retry, numbered from 1, the server's wait."""
    rec = Recorder(
        httpx2.Response(503, json={"error": {"message": "busy"}}, headers={"retry-after": "2"}),
        httpx2.Response(
            429, json={"error": {"message": "slow"}}, headers={"retry-after-ms": "250"}
        ),
        ok(),
    )
    seen: list[tuple[type[BaseException], int, float]] = []
    client = make_client(rec, on_retry=lambda e, n, w: seen.append((type(e), n, w)))
    answer = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert answer.choices[0].message.content == "Paris."
    assert seen == [(InternalServerError, 1, 2.0), (RateLimitError, 2, 0.25)]


async def test_on_retry_is_not_called_without_a_retry() -> None:
    """on_retry: nothing for a first-try success, nor for an error that is not retried."""
    seen: list[object] = []
    client = make_client(
        Recorder(httpx2.Response(400, json={"error": {"message": "no"}})),
        on_retry=lambda *args: seen.append(args),
    )
    with pytest.raises(BadRequestError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert seen == []


async def test_on_retry_that_raises_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    """An exception from on_retry does not change the call's outcome; it is logged."""

    def hook(error: object, retry: int, wait: float) -> None:
        raise RuntimeError("hook broke")

    client = make_client(Recorder(httpx2.Response(502), ok()), on_retry=hook)
    with caplog.at_level("WARNING", logger="aiohelicone"):
        answer = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert answer.choices[0].message.content == "Paris."
    assert any("on_retry" in r.getMessage() for r in caplog.records)


async def test_retries_are_logged_at_debug_without_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each retry is one DEBUG line: method, path, error class, wait; never the key."""
    client = make_client(Recorder(httpx2.Response(503), ok()))
    with caplog.at_level("DEBUG", logger="aiohelicone"):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohelicone"]
    assert len(lines) == 1
    assert "retry 1 of 2: POST chat/completions after InternalServerError" in lines[0]
    assert KEY not in lines[0]


def test_on_retry_must_be_callable() -> None:
    """A non-callable on_retry is refused when the client is built."""
    with pytest.raises(TypeError, match="on_retry"):
        AsyncHelicone(api_key=KEY, on_retry="print")  # type: ignore[arg-type]
