"""Client-side fallback chains: the decision table, attempt log, deadline, cool-down, streams."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import attrs
import pytest

from aiohelicone import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncHelicone,
    Attempt,
    AuthenticationError,
    BadRequestError,
    ChatCompletion,
    ChatCompletionStream,
    ContentDecodingError,
    CoolDown,
    FallbackExhaustedError,
    FallbackPolicy,
    HeliconeOptions,
    InternalServerError,
    InvalidInputError,
    ModelTarget,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamInterruptedError,
    StreamTimeouts,
    StreamTruncatedError,
    UnprocessableEntityError,
    parse_model,
    should_fall_back,
)
from aiohelicone._exceptions import make_status_error
from aiohelicone.testing import (
    DEFAULT_MODELS,
    Fail,
    FakeGateway,
    InStreamError,
    InsufficientCredits,
    LoopbackServer,
    ModelInfo,
    Outcome,
    RawResponse,
    Reply,
    Reset,
    Stall,
    TruncatedStream,
    no_retry_waits,
    serve,
)

API_KEY = "sk-helicone-SECRET-do-not-log-0123456789"
A = "gpt-4o-mini/openai"
B = "claude-3.5-haiku/anthropic"
CHAIN = f"{A},{B}"
MESSAGES = [{"role": "user", "content": "hello"}]
JSON = "application/json"


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with no_retry_waits():
        yield


@pytest.fixture(
    scope="module",
    params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")],
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Both backends, module-scoped so that one loopback server serves the whole module."""
    return str(request.param)


@pytest.fixture(scope="module")
def shared_gateway() -> FakeGateway:
    models = {
        **DEFAULT_MODELS,
        "davinci-ish": ModelInfo({"azure": "davinci-ish"}, kind="completion"),
    }
    return FakeGateway(models=models)


@pytest.fixture
def gateway(shared_gateway: FakeGateway) -> Iterator[FakeGateway]:
    shared_gateway.reset()
    yield shared_gateway
    shared_gateway.reset()


@pytest.fixture(scope="module")
async def server(shared_gateway: FakeGateway) -> AsyncIterator[LoopbackServer]:
    async with serve(shared_gateway) as running:
        yield running


def make_client(server: LoopbackServer, **kwargs: Any) -> AsyncHelicone:
    kwargs.setdefault("max_retries", 0)
    return AsyncHelicone(api_key=API_KEY, base_url=server.url + "/v1", **kwargs)


@pytest.fixture(scope="module")
async def client(server: LoopbackServer) -> AsyncIterator[AsyncHelicone]:
    async with make_client(server) as running:
        yield running


def models_sent(gateway: FakeGateway) -> list[str]:
    return [r.json["model"] for r in gateway.requests]


def outcomes(attempts: tuple[Attempt, ...]) -> list[tuple[str, str]]:
    return [(a.target, a.outcome) for a in attempts]


def status_error(status: int, body: object = None, **headers: str) -> APIStatusError:
    raw = b"" if body is None else json.dumps(body).encode()
    return make_status_error(status, raw, headers, request_id=None)


def envelope(status: int, *details: dict[str, Any], message: str = "Request failed") -> object:
    code = "rate_limited" if status == 429 else "request_failed"
    return {"success": False, "error": {"code": code, "message": message, "details": details}}


def detail(status: int, message: str = "boom", kind: str = "request_failed") -> dict[str, Any]:
    return {"type": kind, "message": message, "statusCode": status, "source": "m/openai/ptb"}


# -- the decision function, unit by unit ----------------------------------------------------

MOVES_ON: dict[str, BaseException] = {
    "connection error": APIConnectionError(),
    "timeout": APITimeoutError(),
    "truncated stream": StreamTruncatedError("cut", partial=None, chunks=1),
    "invalid answer": APIResponseValidationError("bad", status_code=200),
    "provider 429": status_error(429, envelope(429, detail(429))),
    "raw provider 429": status_error(429, {"error": {"message": "slow down"}}),
    "408": status_error(408),
    "gateway 500 wrapping 503": status_error(500, envelope(500, detail(503))),
    "gateway 500 wrapping 408": status_error(500, envelope(500, detail(408))),
    "raw 502": status_error(502, {"error": "Network connection lost"}),
    "500 without details": status_error(500),
    "context length in details": status_error(
        500,
        envelope(500, detail(400, "This model's maximum context length is 8192 tokens")),
    ),
    "context length code on a raw 400": status_error(
        400, {"error": {"message": "too long", "code": "context_length_exceeded"}}
    ),
    "anthropic prompt too long": status_error(
        400, {"error": {"message": "prompt is too long: 210000 tokens > 200000 maximum"}}
    ),
    "no available providers": status_error(
        500, envelope(500, detail(400), message="No available providers for the requested models")
    ),
    "model not supported": status_error(
        500, envelope(500, detail(400, kind="model_not_supported"))
    ),
    "corrupt gzip body": ContentDecodingError(
        "bad trailer", encoding="gzip", unsupported=False, status_code=200
    ),
}

STOPS: dict[str, BaseException] = {
    "400": status_error(400, {"error": {"message": "bad field"}}),
    "401": status_error(401),
    "403": status_error(403),
    "404": status_error(404),
    "409": status_error(409),
    "422": status_error(422),
    "gateway 500 wrapping a provider 400": status_error(500, envelope(500, detail(400))),
    "gateway 500 wrapping 404 and 422": status_error(500, envelope(500, detail(404), detail(422))),
    "rate-limit policy 429": status_error(
        429, {"error": "x"}, **{"x-helicone-error": "rate_limited"}
    ),
    "credits 429": status_error(
        429, envelope(429, detail(429, "Insufficient credits", "insufficient_credit_limit"))
    ),
    "not an API error": ValueError("a bug"),
    "a coding the client cannot decode": ContentDecodingError(
        "snappy", encoding="snappy", unsupported=True, status_code=200
    ),
}


@pytest.mark.parametrize("error", MOVES_ON.values(), ids=MOVES_ON.keys())
def test_decision_moves_on(error: BaseException) -> None:
    """Connection errors, timeouts, broken answers, 408, provider 429, 5xx, context length."""
    assert should_fall_back(error) is True


@pytest.mark.parametrize("error", STOPS.values(), ids=STOPS.keys())
def test_decision_stops(error: BaseException) -> None:
    """4xx, wrapped provider 4xx, Helicone-generated 429 and non-API errors stop the chain."""
    assert should_fall_back(error) is False


def test_policy_and_cool_down_validate() -> None:
    """Bad policy values are refused with InvalidInputError naming the field."""
    with pytest.raises(InvalidInputError, match="failures"):
        CoolDown(failures=0)
    with pytest.raises(InvalidInputError, match="seconds"):
        CoolDown(seconds=float("nan"))
    with pytest.raises(InvalidInputError, match="deadline"):
        FallbackPolicy(deadline=-1)
    with pytest.raises(InvalidInputError, match="fallback"):
        FallbackPolicy(mode="sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="fallback"):
        AsyncHelicone(api_key=API_KEY, fallback="sideways")  # type: ignore[arg-type]


# -- the decision table end to end -----------------------------------------------------------

MOVE_ON_OUTCOMES: dict[str, tuple[Outcome, str]] = {
    "provider 503 (gateway 500)": (Fail(503), "500"),
    "provider 408 (gateway 500)": (Fail(408), "500"),
    "raw 408": (RawResponse(408, b"", content_type=JSON), "408"),
    "provider 429": (Fail(429), "429"),
    "raw 503": (RawResponse(503, b"upstream down", content_type="text/plain"), "503"),
    "connection reset": (Reset(), "APIConnectionError"),
    "context length (gateway 500)": (
        Fail(400, message="This model's maximum context length is 8192 tokens"),
        "500",
    ),
    "raw context_length_exceeded 400": (
        RawResponse(
            400,
            json.dumps({"error": {"message": "too long", "code": "context_length_exceeded"}}),
            content_type=JSON,
        ),
        "400",
    ),
    "not JSON": (
        RawResponse(200, b"<html>", content_type="text/html"),
        "APIResponseValidationError",
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("outcome", "logged"), MOVE_ON_OUTCOMES.values(), ids=MOVE_ON_OUTCOMES.keys()
)
async def test_failure_moves_to_next_target(
    client: AsyncHelicone, gateway: FakeGateway, outcome: Outcome, logged: str
) -> None:
    """A failure that moves on is followed by the next target, which serves; both are logged."""
    gateway.script(A, [outcome])
    completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert completion.choices[0].message.content == "You said: hello"
    assert models_sent(gateway) == [A, B]
    assert completion.helicone is not None
    assert outcomes(completion.helicone.attempts) == [(A, logged), (B, "ok")]
    assert completion.helicone.provider == "anthropic"
    assert completion.helicone.attempts[-1].status_code == 200


STOP_OUTCOMES: dict[str, tuple[Outcome, type[APIError], str]] = {
    "provider 400 (gateway 500)": (Fail(400), InternalServerError, "500"),
    "provider 401": (Fail(401), AuthenticationError, "401"),
    "provider 403": (Fail(403), PermissionDeniedError, "403"),
    "provider 404 (gateway 500)": (Fail(404), InternalServerError, "500"),
    "provider 422 (gateway 500)": (Fail(422), InternalServerError, "500"),
    "raw 400": (
        RawResponse(400, b"Invalid body", content_type="text/plain"),
        BadRequestError,
        "400",
    ),
    "raw 404": (RawResponse(404, b"{}", content_type=JSON), NotFoundError, "404"),
    "raw 422": (RawResponse(422, b"{}", content_type=JSON), UnprocessableEntityError, "422"),
    "insufficient credits": (InsufficientCredits(), RateLimitError, "429"),
    "rate-limit policy": (
        RawResponse(
            429,
            b'{"error":"Rate limited"}',
            headers={"x-helicone-error": "rate_limited"},
            content_type=JSON,
        ),
        RateLimitError,
        "429",
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("outcome", "cls", "logged"), STOP_OUTCOMES.values(), ids=STOP_OUTCOMES.keys()
)
async def test_failure_stops_the_chain(
    client: AsyncHelicone,
    gateway: FakeGateway,
    outcome: Outcome,
    cls: type[APIError],
    logged: str,
) -> None:
    """A failure that stops raises that error (with the attempt log); later targets are not sent."""
    gateway.script(A, [outcome])
    with pytest.raises(cls) as caught:
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert models_sent(gateway) == [A]
    assert caught.value.helicone is not None
    assert outcomes(caught.value.helicone.attempts) == [(A, logged)]
    assert caught.value.helicone.attempts[0].error is caught.value


@pytest.mark.anyio
async def test_timeout_moves_on(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A target that stalls past the read timeout gives way to the next one."""
    gateway.script(A, [Stall()])
    async with make_client(server, timeout=0.2) as client:
        completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert completion.helicone is not None
    assert outcomes(completion.helicone.attempts) == [(A, "APITimeoutError"), (B, "ok")]


@pytest.mark.anyio
async def test_each_target_gets_its_retries_first(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """The client's retry policy runs on a target before the chain moves on."""
    gateway.script(A, [Fail(503), Fail(503)])
    async with make_client(server, max_retries=1) as client:
        completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert models_sent(gateway) == [A, A, B]
    assert completion.helicone is not None
    assert outcomes(completion.helicone.attempts) == [(A, "500"), (B, "ok")]


@pytest.mark.anyio
async def test_custom_predicate(server: LoopbackServer, gateway: FakeGateway) -> None:
    """A caller's predicate replaces the default decision."""
    seen: list[BaseException] = []

    def always(error: BaseException) -> bool:
        seen.append(error)
        return True

    gateway.script(A, [Fail(401)])
    async with make_client(server, fallback=FallbackPolicy(should_fall_back=always)) as client:
        completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert completion.helicone is not None
    assert outcomes(completion.helicone.attempts) == [(A, "401"), (B, "ok")]
    assert [type(e) for e in seen] == [AuthenticationError]


# -- how the chain is sent --------------------------------------------------------------------


@pytest.mark.anyio
async def test_first_target_success_sends_one_request(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A chain whose first target serves costs one request, logged as one ok attempt."""
    completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert models_sent(gateway) == [A]
    assert completion.helicone is not None
    (attempt,) = completion.helicone.attempts
    assert attempt.ok and attempt.target == A and attempt.error is None
    assert attempt.request_id == completion.helicone.request_id
    assert attempt.elapsed >= 0


@pytest.mark.anyio
async def test_gateway_mode_sends_the_whole_string_once(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """fallback="gateway" (client or call) sends the chain in one request, with no attempt log."""
    gateway.script(A, [Fail(503)])
    async with make_client(server, fallback="gateway") as client:
        completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
        assert models_sent(gateway) == [CHAIN]
        assert completion.helicone is not None and completion.helicone.attempts == ()
        assert gateway.last_request.provider == "anthropic"  # the gateway walked the chain
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES, fallback="client")
        assert models_sent(gateway)[1:] == [A]


@pytest.mark.anyio
async def test_per_call_gateway_mode(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A per-call fallback="gateway" overrides the client's client-side default."""
    gateway.script(A, [Fail(503)])
    await client.chat.completions.create(model=CHAIN, messages=MESSAGES, fallback="gateway")
    assert models_sent(gateway) == [CHAIN]


@pytest.mark.anyio
async def test_exclusions_apply_to_every_target(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Global !provider exclusions are sent with each target."""
    gateway.script("gpt-4o-mini", [Fail(503)])
    completion = await client.chat.completions.create(
        model="!azure,gpt-4o-mini, claude-3.5-haiku", messages=MESSAGES
    )
    assert models_sent(gateway) == ["!azure,gpt-4o-mini", "!azure,claude-3.5-haiku"]
    assert completion.helicone is not None
    assert outcomes(completion.helicone.attempts) == [
        ("gpt-4o-mini", "500"),
        ("claude-3.5-haiku", "ok"),
    ]


@pytest.mark.anyio
async def test_explicit_target_list_and_chain(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A list of targets (str or ModelTarget) and a ModelChain work like the string."""
    gateway.script(A, [Fail(503), Fail(503)])
    first = await client.chat.completions.create(
        model=["!azure", A, ModelTarget("claude-3.5-haiku", "anthropic")], messages=MESSAGES
    )
    second = await client.chat.completions.create(model=parse_model(CHAIN), messages=MESSAGES)
    assert models_sent(gateway) == [f"!azure,{A}", f"!azure,{B}", A, B]
    for result in (first, second):
        assert result.helicone is not None
        assert outcomes(result.helicone.attempts) == [(A, "500"), (B, "ok")]
    with pytest.raises(InvalidInputError, match=r"model\[0\]"):
        await client.chat.completions.create(model=[f"{A},{B}"], messages=MESSAGES)
    with pytest.raises(InvalidInputError, match="empty"):
        await client.chat.completions.create(model=[], messages=MESSAGES)


@pytest.mark.anyio
async def test_single_target_is_unchanged(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """One target: no attempt log, and its own error is raised (not FallbackExhaustedError)."""
    completion = await client.chat.completions.create(model=A, messages=MESSAGES)
    assert completion.helicone is not None and completion.helicone.attempts == ()
    gateway.script(A, [Fail(503)])
    with pytest.raises(InternalServerError) as caught:
        await client.chat.completions.create(model=A, messages=MESSAGES, fallback_deadline=5)
    assert caught.value.helicone is not None and caught.value.helicone.attempts == ()


@pytest.mark.anyio
async def test_each_attempt_has_a_fresh_request_id(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Every attempt sends its own Helicone-Request-Id, recorded in the attempt log."""
    gateway.script(A, [Fail(503)])
    completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    sent = [r.headers["helicone-request-id"] for r in gateway.requests]
    assert completion.helicone is not None
    assert [a.request_id for a in completion.helicone.attempts] == sent
    assert len(set(sent)) == 2
    assert completion.helicone.request_id == sent[1]


@pytest.mark.anyio
async def test_fixed_request_id_is_reused(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A request id fixed by the caller is sent on every attempt."""
    fixed = "123e4567-e89b-42d3-a456-426614174000"
    gateway.script(A, [Fail(503)])
    await client.chat.completions.create(
        model=CHAIN, messages=MESSAGES, helicone=HeliconeOptions(request_id=fixed)
    )
    gateway.script(A, [Fail(503)])
    await client.chat.completions.create(
        model=CHAIN, messages=MESSAGES, metadata={"Helicone-Request-Id": fixed}
    )
    assert [r.headers["helicone-request-id"] for r in gateway.requests] == [fixed] * 4


@pytest.mark.anyio
async def test_extra_body_model_wins(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """extra_body={"model": ...} is sent as written, as one request."""
    await client.chat.completions.create(
        model=CHAIN, messages=MESSAGES, extra_body={"model": "gpt-4o/openai"}
    )
    assert models_sent(gateway) == ["gpt-4o/openai"]


@pytest.mark.anyio
async def test_invalid_fallback_arguments(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Bad per-call fallback values are refused before anything is sent."""
    with pytest.raises(InvalidInputError, match="fallback"):
        bad: Any = "everywhere"
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES, fallback=bad)
    with pytest.raises(InvalidInputError, match="deadline"):
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES, fallback_deadline=0)
    assert gateway.requests == []


# -- exhaustion, deadline, cool-down ------------------------------------------------------


@pytest.mark.anyio
async def test_exhausted_error_summarises_every_attempt(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """When every target fails: FallbackExhaustedError with each attempt, and no API key."""
    gateway.script(A, [Fail(503)])
    gateway.script(B, [Reset()])
    with pytest.raises(FallbackExhaustedError) as caught:
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    error = caught.value
    assert isinstance(error, APIError)
    assert outcomes(error.attempts) == [(A, "500"), (B, "APIConnectionError")]
    assert isinstance(error.attempts[0].error, InternalServerError)
    assert isinstance(error.__cause__, APIConnectionError)
    assert error.helicone is not None and error.helicone.attempts == error.attempts
    assert f"{A}: 500" in str(error) and f"{B}: APIConnectionError" in str(error)
    assert error.request_id == error.attempts[-1].request_id
    assert API_KEY not in str(error) and API_KEY not in repr(error.attempts)


@pytest.mark.anyio
async def test_deadline_bounds_the_whole_chain(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """fallback_deadline stops the chain in time with FallbackExhaustedError and a reason."""
    gateway.script(A, [Fail(503)])
    gateway.script(B, [Stall()])
    start = anyio.current_time()
    with pytest.raises(FallbackExhaustedError, match="deadline") as caught:
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES, fallback_deadline=0.3)
    assert anyio.current_time() - start < 2.0
    assert outcomes(caught.value.attempts) == [(A, "500"), (B, "deadline")]
    assert caught.value.reason is not None and "0.3" in caught.value.reason
    # B ran until the chain's deadline: the two attempts together took (about) all of it,
    # however long A's took.
    assert sum(a.elapsed for a in caught.value.attempts) >= 0.25


@pytest.mark.anyio
async def test_cool_down_skips_a_failing_target(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """After N failures in a row a target is skipped (logged), and tried again later."""
    gateway.script(A, [Fail(503)], repeat=True)
    policy = FallbackPolicy(cool_down=CoolDown(failures=2, seconds=0.2))
    async with make_client(server, fallback=policy) as client:
        for _ in range(2):
            await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
        assert models_sent(gateway) == [A, B, A, B]
        skipped = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
        assert models_sent(gateway)[4:] == [B]
        assert skipped.helicone is not None
        assert outcomes(skipped.helicone.attempts) == [(A, "skipped"), (B, "ok")]
        assert skipped.helicone.attempts[0].request_id is None
        await anyio.sleep(0.25)
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
        assert models_sent(gateway)[5:] == [A, B]


@pytest.mark.anyio
async def test_cool_down_everything_fails_fast(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """When every target is cooling down the call fails at once without sending."""
    gateway.script("*", [Fail(503)], repeat=True)
    policy = FallbackPolicy(cool_down=CoolDown(failures=1, seconds=60))
    async with make_client(server, fallback=policy) as client:
        with pytest.raises(FallbackExhaustedError):
            await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
        sent = len(gateway.requests)
        with pytest.raises(FallbackExhaustedError, match="cooling down") as caught:
            await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert len(gateway.requests) == sent
    assert outcomes(caught.value.attempts) == [(A, "skipped"), (B, "skipped")]


@pytest.mark.anyio
async def test_stop_errors_do_not_count_for_cool_down(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A failure that stops the chain (the request's fault) does not cool the target down."""
    gateway.script(A, [Fail(400), Fail(400)])
    policy = FallbackPolicy(cool_down=CoolDown(failures=1, seconds=60))
    async with make_client(server, fallback=policy) as client:
        for _ in range(2):
            with pytest.raises(InternalServerError):
                await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert models_sent(gateway) == [A, A]


# -- instrumentation ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_on_attempt_and_debug_log(
    server: LoopbackServer, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """on_attempt sees each attempt as it ends; the debug log has one line each, no secrets."""
    seen: list[Attempt] = []
    gateway.script(A, [Fail(503)])
    caplog.set_level(logging.DEBUG, logger="aiohelicone")
    async with make_client(server, on_attempt=seen.append) as client:
        completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert completion.helicone is not None
    assert tuple(seen) == completion.helicone.attempts
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohelicone"]
    assert len(lines) == 2
    assert f"target={A} outcome=500" in lines[0] and f"target={B} outcome=ok" in lines[1]
    assert str(seen[1].request_id) in lines[1]
    assert API_KEY not in caplog.text and "authorization" not in caplog.text.lower()


@pytest.mark.anyio
async def test_on_attempt_errors_are_ignored(
    server: LoopbackServer, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception from on_attempt is logged as a warning and does not break the call."""

    def broken(attempt: Attempt) -> None:
        raise RuntimeError("hook bug")

    async with make_client(server, on_attempt=broken) as client:
        completion = await client.chat.completions.create(model=CHAIN, messages=MESSAGES)
    assert completion.choices[0].message.content == "You said: hello"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "on_attempt" in warnings[0].getMessage()


# -- streams -----------------------------------------------------------------------------------


async def collect(stream: ChatCompletionStream) -> list[str]:
    texts = []
    async with stream:
        async for chunk in stream:
            for choice in chunk.choices:
                texts.append(choice.delta.content or "")
    return texts


BEFORE_CONTENT: dict[str, tuple[Outcome, str]] = {
    "open fails": (Fail(503), "500"),
    "cut after the role chunk": (
        TruncatedStream(after_chunks=1, reply=Reply("never seen")),
        "StreamTruncatedError",
    ),
    "error event after the role chunk": (InStreamError(after_chunks=1), "500"),
    "reset": (Reset(), "APIConnectionError"),
}


@pytest.mark.anyio
@pytest.mark.parametrize(("outcome", "logged"), BEFORE_CONTENT.values(), ids=BEFORE_CONTENT.keys())
async def test_stream_fails_over_before_first_content(
    client: AsyncHelicone, gateway: FakeGateway, outcome: Outcome, logged: str
) -> None:
    """Before the first content the failover is invisible: only the serving target's chunks."""
    gateway.script(A, [outcome])
    gateway.script(B, [Reply("from b")])
    stream = await client.chat.completions.create(model=CHAIN, messages=MESSAGES, stream=True)
    assert stream.helicone is not None
    assert outcomes(stream.helicone.attempts) == [(A, logged), (B, "ok")]
    assert "".join(await collect(stream)) == "from b"
    assert stream.accumulated.choices[0].message.content == "from b"
    assert models_sent(gateway) == [A, B]


@pytest.mark.anyio
async def test_stream_failure_after_content_is_not_replayed(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """After content was yielded a failure raises StreamInterruptedError with the partial."""
    gateway.script(
        A, [TruncatedStream(after_chunks=3, clean=False, reply=Reply("one two three four"))]
    )
    stream = await client.chat.completions.create(model=CHAIN, messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    error = caught.value
    assert error.target == A
    assert "".join(received) == "one two"
    assert isinstance(error.partial, ChatCompletion)
    assert error.partial.choices[0].message.content == "one two"
    assert isinstance(error.cause, APIError) and error.__cause__ is error.cause
    assert error.helicone is not None and outcomes(error.helicone.attempts) == [(A, "ok")]
    assert models_sent(gateway) == [A]


@pytest.mark.anyio
async def test_stream_idle_before_content_moves_on(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A stream that goes idle after its role chunk, before content, gives way to the next."""
    gateway.script(A, [Stall(after_chunks=1)])
    gateway.script(B, [Reply("from b")])
    async with make_client(server, stream_timeouts=StreamTimeouts(idle=0.2)) as client:
        stream = await client.chat.completions.create(model=CHAIN, messages=MESSAGES, stream=True)
        assert "".join(await collect(stream)) == "from b"
    assert stream.helicone is not None
    assert outcomes(stream.helicone.attempts) == [(A, "StreamIdleTimeoutError"), (B, "ok")]


@pytest.mark.anyio
async def test_stream_deadline_covers_the_wait_for_content(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """The chain deadline bounds a stream until its first content arrives."""
    gateway.script(A, [Stall(after_chunks=1)])
    with pytest.raises(FallbackExhaustedError, match="deadline") as caught:
        await client.chat.completions.create(
            model=CHAIN, messages=MESSAGES, stream=True, fallback_deadline=0.2
        )
    assert outcomes(caught.value.attempts) == [(A, "deadline")]
    assert models_sent(gateway) == [A]


@pytest.mark.anyio
async def test_stream_exhausted(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A stream chain whose every target fails before content raises FallbackExhaustedError."""
    gateway.script("*", [InStreamError(after_chunks=0)], repeat=True)
    with pytest.raises(FallbackExhaustedError) as caught:
        await client.chat.completions.create(model=CHAIN, messages=MESSAGES, stream=True)
    assert [a.target for a in caught.value.attempts] == [A, B]
    assert gateway.requests and all(r.stream for r in gateway.requests)


# -- completions and embeddings -------------------------------------------------------------


@pytest.mark.anyio
async def test_completions_chain(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Text completions walk the chain too, plain and streamed."""
    chain = "gpt-3.5-turbo-instruct/openai,davinci-ish/azure"
    gateway.script("gpt-3.5-turbo-instruct/openai", [Fail(503), Fail(503)])
    completion = await client.completions.create(model=chain, prompt="Say hi")
    assert completion.helicone is not None
    assert outcomes(completion.helicone.attempts) == [
        ("gpt-3.5-turbo-instruct/openai", "500"),
        ("davinci-ish/azure", "ok"),
    ]
    stream = await client.completions.create(model=chain, prompt="Say hi", stream=True)
    assert (
        stream.helicone is not None and stream.helicone.attempts[-1].target == "davinci-ish/azure"
    )
    final = await stream.get_final_completion()
    assert final.choices[0].text
    assert models_sent(gateway)[-1] == "davinci-ish/azure"


@pytest.mark.anyio
async def test_embeddings_chain(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Embeddings walk the chain; the serving model's answer comes back."""
    small, large = "text-embedding-3-small/openai", "text-embedding-3-large/openai"
    gateway.script(small, [Fail(429)])
    response = await client.embeddings.create(model=[small, large], input="hello")
    assert len(response.data[0].embedding) == 3072
    assert response.helicone is not None
    assert outcomes(response.helicone.attempts) == [(small, "429"), (large, "ok")]


def test_attempt_record_is_frozen() -> None:
    """Attempt is a frozen attrs record; ok is true only for outcome "ok"."""
    attempt = Attempt("m/openai", "ok", 200, None, 0.1, "rid")
    assert attempt.ok and not attrs.evolve(attempt, outcome="500").ok
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        attempt.outcome = "x"  # type: ignore[misc]
