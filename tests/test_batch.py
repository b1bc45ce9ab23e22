"""run_batch over a loopback FakeGateway: order, errors, limits, laziness, cancellation."""

from __future__ import annotations

import math
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest

from aiohelicone import (
    AsyncHelicone,
    BatchRequest,
    BatchResult,
    HeliconeOptions,
    InvalidInputError,
    RateLimitError,
    UnknownProviderWarning,
    collect_batch,
    run_batch,
)
from aiohelicone._batch_items import estimate_tokens, normalize_endpoint
from aiohelicone._governor import Governor as _Governor
from aiohelicone._helicone import RateLimitInfo
from aiohelicone.testing import (
    Delay,
    FakeGateway,
    InsufficientCredits,
    LoopbackServer,
    RawResponse,
    Reply,
    RequestRecord,
    Respond,
    Stall,
    no_retry_waits,
    serve,
)

MODEL = "gpt-4o-mini"

#: A valid body for each endpoint.
GOOD_BODIES: dict[str, dict[str, Any]] = {
    "chat.completions": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    "completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"},
    "embeddings": {"model": "text-embedding-3-small", "input": "hi"},
    "responses": {"model": MODEL, "input": "hi"},
}


def chat(i: int, **body: Any) -> BatchRequest:
    """A chat request whose user message is ``msg <i>``."""
    return BatchRequest(
        "chat.completions",
        {"model": MODEL, "messages": [{"role": "user", "content": f"msg {i}"}], **body},
        id=f"r{i}",
    )


def line(i: int) -> dict[str, Any]:
    """An OpenAI Batch API input line."""
    return {
        "custom_id": f"r{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": [{"role": "user", "content": f"msg {i}"}]},
    }


def number(record: RequestRecord) -> int:
    """The ``i`` of a ``msg <i>`` request."""
    text = record.last_user_message or ""
    return int(text.split()[-1])


class Env:
    """A served gateway, a client pointed at it, and when the client sent each request.

    Send times come from an httpx2 request hook, on the clock the batch paces by: arrival
    times at the gateway (which shares the event loop) jitter too much on a busy machine.
    """

    client: AsyncHelicone

    def __init__(self, gateway: FakeGateway, server: LoopbackServer) -> None:
        self.gateway = gateway
        self.server = server
        self.sent: list[float] = []

    async def on_request(self, request: httpx2.Request) -> None:
        """The httpx2 hook: note the send time."""
        self.sent.append(anyio.current_time())

    def assert_spaced(self, step: float) -> None:
        """No send was early: the k-th send is at least k steps after the first.

        These are arrival times at the server, so a loaded machine can skew one by a few ms
        (the first request also opens a connection); half a step of slack still fails an
        unpaced batch, whose arrivals all fall within that.
        """
        times = sorted(self.sent)
        slack = max(0.005, step / 2)
        for k, t in enumerate(times):
            assert t - times[0] >= k * step - slack, (k, times)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    """A fresh gateway, server and client (no client retries: the batch sees every answer).

    The httpx2 client is built without TLS verification (loopback HTTP only): building the
    default certificate store takes ~0.1 s per test.
    """
    gateway = FakeGateway()
    async with serve(gateway) as server:
        env = Env(gateway, server)
        async with (
            httpx2.AsyncClient(verify=False, event_hooks={"request": [env.on_request]}) as http,
            AsyncHelicone(
                api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0, http_client=http
            ) as env.client,
        ):
            yield env


pytestmark = pytest.mark.anyio


# -- requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("chat.completions", "chat.completions"),
        ("/v1/chat/completions", "chat.completions"),
        ("chat/completions", "chat.completions"),
        ("/v1/completions", "completions"),
        ("embeddings", "embeddings"),
        ("/v1/embeddings", "embeddings"),
        ("responses", "responses"),
        ("/v1/responses", "responses"),
    ],
)
def test_endpoint_names_and_openai_urls_normalise(value: str, expected: str) -> None:
    """Endpoint names and OpenAI URL paths map to the same endpoint."""
    assert normalize_endpoint(value) == expected
    assert BatchRequest(value, GOOD_BODIES[expected]).endpoint == expected


@pytest.mark.parametrize("value", ["/v1/audio/speech", "", "chat", 3])
def test_unsupported_endpoint_is_refused(value: object) -> None:
    """Other endpoints are an InvalidInputError naming the supported ones."""
    with pytest.raises(InvalidInputError, match="endpoint"):
        BatchRequest(value, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"method": "POST", "url": "/v1/embeddings", "body": {}}, "custom_id"),
        ({"custom_id": "", "url": "/v1/embeddings", "body": {}}, "custom_id"),
        ({"custom_id": "a", "method": "GET", "url": "/v1/embeddings", "body": {}}, "method"),
        ({"custom_id": "a", "body": {}}, "url"),
        ({"custom_id": "a", "url": "/v1/files", "body": {}}, "url"),
        ({"custom_id": "a", "url": "/v1/embeddings"}, "body"),
        ({"custom_id": "a", "url": "/v1/embeddings", "body": [1]}, "body"),
        (
            {"custom_id": "a", "url": "/v1/chat/completions", "body": {"stream": True}},
            "body.stream",
        ),
    ],
)
def test_openai_line_problems_name_the_field(data: dict[str, Any], field: str) -> None:
    """A malformed OpenAI Batch line raises InvalidInputError with the offending field."""
    with pytest.raises(InvalidInputError) as info:
        BatchRequest.from_openai(data)
    assert info.value.field == field


MESSAGES = [{"role": "user", "content": "hi"}]

#: (endpoint, body, the field named): bodies the endpoint's create() refuses.
BAD_BODIES: list[tuple[str, dict[Any, Any], str]] = [
    ("chat.completions", {"model": 5, "messages": MESSAGES}, "body.model"),
    ("chat.completions", {"model": MODEL, "messages": "x"}, "body.messages"),
    ("chat.completions", {"messages": MESSAGES}, "body.model"),
    ("chat.completions", {"model": MODEL}, "body.messages"),
    ("chat.completions", {"model": "a,,b", "messages": MESSAGES}, "body.model"),
    ("chat.completions", {"model": MODEL, "messages": [{"content": "x"}]}, "body.messages[0].role"),
    (
        "chat.completions",
        {"model": MODEL, "messages": MESSAGES, "temperature": "hot"},
        "body.temperature",
    ),
    (
        "chat.completions",
        {"model": MODEL, "messages": MESSAGES, "max_tokens": 0},
        "body.max_tokens",
    ),
    ("chat.completions", {"model": MODEL, "messages": MESSAGES, "tools": "x"}, "body.tools"),
    (
        "chat.completions",
        {"model": MODEL, "messages": MESSAGES, "version_id": "v1"},
        "body.prompt_id",
    ),
    ("chat.completions", {"model": MODEL, "messages": MESSAGES, "stream": "yes"}, "body.stream"),
    (
        "chat.completions",
        {"model": MODEL, "messages": MESSAGES, "metadata": {"Helicone-Cache-Enabled": "maybe"}},
        "body.metadata['Helicone-Cache-Enabled']",
    ),
    ("chat.completions", {"model": MODEL, "messages": MESSAGES, "metadata": "x"}, "body.metadata"),
    (
        "chat.completions",
        {"model": MODEL, "messages": MESSAGES, "fallback": "sideways"},
        "body.fallback",
    ),
    ("chat.completions", {"model": MODEL, "messages": MESSAGES, 1: "x"}, "body"),
    ("completions", {"model": "m"}, "body.prompt"),
    ("completions", {"prompt": "hi"}, "body.model"),
    ("completions", {"model": "m", "prompt": 5}, "body.prompt"),
    ("completions", {"model": "m", "prompt": "hi", "best_of": 0}, "body.best_of"),
    ("embeddings", {"input": "hi"}, "body.model"),
    ("embeddings", {"model": "m", "input": []}, "body.input"),
    ("embeddings", {"model": "m", "input": "hi", "dimensions": "3"}, "body.dimensions"),
    ("embeddings", {"model": "m", "input": "hi", "encoding_format": "hex"}, "body.encoding_format"),
    ("embeddings", {"model": "m", "input": "hi", "user": 5}, "body.user"),
]


@pytest.mark.parametrize(("endpoint", "body", "field"), BAD_BODIES)
def test_bad_body_is_refused_when_the_request_is_built(
    endpoint: str, body: dict[Any, Any], field: str
) -> None:
    """A body its endpoint's create() refuses raises InvalidInputError naming body.<field>,
    from BatchRequest and from an OpenAI Batch line alike."""
    with pytest.raises(InvalidInputError) as info:
        BatchRequest(endpoint, body)  # type: ignore[arg-type]
    assert info.value.field == field
    url = "/v1/" + endpoint.replace(".", "/")
    with pytest.raises(InvalidInputError) as again:
        BatchRequest.from_openai({"custom_id": "a", "url": url, "body": body})
    assert (again.value.field, again.value.problem) == (field, info.value.problem)


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [case for case in BAD_BODIES if case[2] != "body"],
)
async def test_batch_check_and_create_are_the_same_check(
    endpoint: str, body: dict[str, Any], field: str
) -> None:
    """The resource's create() refuses the same body with the same field and words."""
    async with AsyncHelicone(api_key="sk-test", base_url="http://127.0.0.1:9/v1") as client:
        create: Any = {
            "chat.completions": client.chat.completions.create,
            "completions": client.completions.create,
            "embeddings": client.embeddings.create,
        }[endpoint]
        with pytest.raises(InvalidInputError) as batch:
            BatchRequest(endpoint, body)  # type: ignore[arg-type]
        with pytest.raises((InvalidInputError, TypeError)) as direct:
            await create(**body)
    if isinstance(direct.value, TypeError):  # a required keyword is missing: Python's check
        assert batch.value.problem == "is required"
    else:
        assert isinstance(direct.value, InvalidInputError)
        assert (f"body.{direct.value.field}", direct.value.problem) == (
            batch.value.field,
            batch.value.problem,
        )


def test_checking_a_body_does_not_warn() -> None:
    """An unknown provider warns when the request is sent, not also when it is built."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BatchRequest("chat.completions", {"model": "gpt-4o/brandnewai", "messages": MESSAGES})


async def test_unknown_provider_warns_once_when_sent(env: Env) -> None:
    """The send still warns about an unknown provider (the check only stays quiet)."""
    request = BatchRequest("chat.completions", {"model": "gpt-4o/brandnewai", "messages": MESSAGES})
    with pytest.warns(UnknownProviderWarning) as record:
        results = await collect_batch(env.client, [request])
    assert results[0].attempts == 1 and len(env.gateway.requests) == 1
    assert len([w for w in record if w.category is UnknownProviderWarning]) == 1


async def test_bad_mapping_body_is_an_error_result_and_is_never_sent(env: Env) -> None:
    """A mapping read lazily by run_batch with a bad body is its error result; only the good
    ones are sent."""
    bad = {**line(1), "body": {"model": 5, "messages": MESSAGES}}
    results = await collect_batch(env.client, [line(0), bad, line(2)])
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, InvalidInputError) and error.field == "body.model"
    assert results[1].request is None and results[1].attempts == 0
    assert sorted(number(r) for r in env.gateway.requests) == [0, 2]


def test_openai_line_becomes_a_request() -> None:
    """custom_id becomes the id; the URL becomes the endpoint."""
    request = BatchRequest.from_openai(line(7))
    assert (request.id, request.endpoint, request.body["model"]) == (
        "r7",
        "chat.completions",
        MODEL,
    )


def test_token_estimate_is_prompt_chars_over_4_plus_max_tokens_times_n() -> None:
    """The estimate counts message text, prompts, inputs and token arrays, plus max_tokens * n."""
    text = "x" * 40
    assert estimate_tokens(chat(0, max_tokens=50)) == math.ceil(len("msg 0") / 4) + 50
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }
    assert (
        estimate_tokens(BatchRequest("chat.completions", {**body, "max_tokens": 5, "n": 3})) == 25
    )
    assert (
        estimate_tokens(BatchRequest("chat.completions", {**body, "max_completion_tokens": 2}))
        == 12
    )
    assert (
        estimate_tokens(BatchRequest("completions", {"model": "m", "prompt": [text, text]})) == 20
    )
    assert estimate_tokens(BatchRequest("embeddings", {"model": "m", "input": [1, 2, 3]})) == 3
    assert estimate_tokens(BatchRequest("embeddings", {"model": "m", "input": [[1, 2], [3]]})) == 3
    assert estimate_tokens(BatchRequest("embeddings", {"model": "m", "input": ""})) == 1


# -- the governor (pure arithmetic, injected times) ----------------------------------------------


def test_request_budget_is_paced_evenly() -> None:
    """60 requests per minute: one slot per second, booked in turn, none refunded."""
    governor = _Governor(concurrency=8, requests_per_minute=60, tokens_per_minute=None)
    waits = [governor.reserve(100.0, 0) for _ in range(4)]
    assert waits == [0.0, 1.0, 2.0, 3.0]
    assert governor.reserve(110.0, 0) == 0.0


def test_token_budget_charges_the_estimate_and_corrects_it_with_usage() -> None:
    """The token schedule advances by the estimate, then moves by (actual - estimate)."""
    governor = _Governor(concurrency=8, requests_per_minute=None, tokens_per_minute=6000)
    assert governor.reserve(0.0, 100) == 0.0  # next slot at 1.0 s (100 tokens at 100/s)
    assert governor.reserve(0.0, 100) == pytest.approx(1.0)
    governor.on_success(0.5, 100, 300, None)  # it used 300: 2 s more
    assert governor.reserve(0.5, 100) == pytest.approx(3.5)
    governor.on_success(0.5, 100, 0, None)  # a refund of 100 tokens: 1 s earlier
    assert governor.reserve(0.5, 1) == pytest.approx(3.5)


def test_rate_limited_pauses_for_retry_after_and_halves_once_per_pause() -> None:
    """A 429 pauses every send for retry_after; the ceiling halves once, then grows by one."""
    governor = _Governor(concurrency=16, requests_per_minute=None, tokens_per_minute=None)
    governor.on_rate_limited(10.0, 2.5)
    governor.on_rate_limited(10.1, 2.5)  # the same overload seen by another request
    assert governor.allowed == 8
    assert governor.paused(12.0)
    assert governor.reserve(11.0, 0) == pytest.approx(1.6)
    assert not governor.paused(12.6)
    governor.on_rate_limited(13.0, 1.0)  # a new pause: halves again
    assert governor.allowed == 4
    for _ in range(20):
        governor.on_success(15.0, 0, None, None)
    assert governor.allowed == 16


def test_rate_limited_without_retry_after_backs_off_exponentially() -> None:
    """No retry_after: pauses of 1, 2, 4 ... seconds, capped at 60, reset by a success."""
    governor = _Governor(concurrency=4, requests_per_minute=None, tokens_per_minute=None)
    pauses = []
    for _ in range(8):
        governor.on_rate_limited(0.0, None)
        pauses.append(governor.resume_at)
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    governor.on_success(0.0, 0, None, None)
    governor.on_rate_limited(100.0, None)
    assert governor.resume_at == 101.0


def test_low_remaining_quota_is_spread_until_the_reset() -> None:
    """Below max(concurrency, 10% of quota), what remains is spread evenly to the reset."""
    governor = _Governor(concurrency=4, requests_per_minute=None, tokens_per_minute=None)
    plenty = RateLimitInfo(limit=1000, remaining=500, reset=30)
    governor.on_success(0.0, 0, None, plenty)
    assert [governor.reserve(0.0, 0) for _ in range(3)] == [0.0, 0.0, 0.0]
    low = RateLimitInfo(limit=1000, remaining=50, reset=10)  # 50 < 100: 0.2 s apart
    governor.on_success(1.0, 0, None, low)
    assert [governor.reserve(1.0, 0) for _ in range(3)] == pytest.approx([0.0, 0.2, 0.4])
    assert governor.reserve(11.5, 0) == 0.0  # past the reset: no more pacing
    assert governor.reserve(11.5, 0) == 0.0


def test_exhausted_quota_pauses_until_the_reset() -> None:
    """remaining = 0 pauses until the reset (1 s when the gateway gave none)."""
    governor = _Governor(concurrency=4, requests_per_minute=None, tokens_per_minute=None)
    governor.on_success(5.0, 0, None, RateLimitInfo(limit=10, remaining=0, reset=3))
    assert governor.reserve(5.0, 0) == pytest.approx(3.0)
    governor.on_success(9.0, 0, None, RateLimitInfo(limit=10, remaining=0))
    assert governor.reserve(9.0, 0) == pytest.approx(1.0)


# -- running a batch -------------------------------------------------------------------------


def slow_first(delays: dict[int, float]) -> Respond:
    """A gateway script: request ``msg i`` answers after ``delays.get(i, 0)`` seconds."""

    def decide(record: RequestRecord) -> Delay:
        return Delay(delays.get(number(record), 0.0))

    return Respond(decide)


async def test_results_arrive_as_they_finish(env: Env) -> None:
    """Unordered iteration yields a fast result before a slow one that started first."""
    env.gateway.script("*", [slow_first({0: 0.15})], repeat=True)
    async with run_batch(env.client, [chat(i) for i in range(6)], concurrency=6) as results:
        ids = [r.id async for r in results]
    assert sorted(ids) == [f"r{i}" for i in range(6)]
    assert ids[-1] == "r0"


async def test_ordered_iteration_and_collect_keep_input_order(env: Env) -> None:
    """ordered=True and collect_batch give results in input order whatever finishes first."""
    env.gateway.script("*", [slow_first({i: 0.01 * (8 - i) for i in range(8)})], repeat=True)
    requests = [chat(i) for i in range(8)]
    async with run_batch(env.client, requests, concurrency=8, ordered=True) as results:
        ordered = [r.id async for r in results]
    collected = await collect_batch(env.client, requests, concurrency=8)
    expected = [f"r{i}" for i in range(8)]
    assert ordered == expected
    assert [r.id for r in collected] == expected
    assert [r.index for r in collected] == list(range(8))
    assert collected[3].response.choices[0].message.content == "You said: msg 3"


async def test_ordered_mode_runs_a_bounded_window_ahead(env: Env) -> None:
    """With a slow first request, ordered mode starts at most concurrency + buffer requests."""
    env.gateway.script("*", [slow_first({0: 0.2})], repeat=True)
    async with run_batch(
        env.client, [chat(i) for i in range(12)], concurrency=3, buffer=2, ordered=True
    ) as results:
        first = await results.__anext__()
        started = len(env.gateway.requests)
        rest = [r.id async for r in results]
    assert first.id == "r0"
    assert started <= 3 + 2
    assert rest == [f"r{i}" for i in range(1, 12)]


async def test_failures_are_results_and_never_stop_the_batch(env: Env) -> None:
    """Gateway errors and unreadable items (a bad line, a bad body, not a request) are error
    results; the rest succeed, and nothing unreadable is sent."""

    def decide(record: RequestRecord) -> Reply | RawResponse:
        if number(record) % 3 == 0:
            return RawResponse(400, b'{"error": {"message": "nope", "code": "bad"}}')
        return Reply()

    env.gateway.script("*", [Respond(decide)], repeat=True)
    requests: list[Any] = [chat(i) for i in range(9)]
    requests.append({**line(0), "custom_id": "no-messages", "body": {"model": MODEL}})
    requests.append({"custom_id": "broken-line"})
    requests.append(42)
    requests.append({**line(99), "body": {**line(99)["body"], "stream": True}})
    results = {r.id: r for r in await collect_batch(env.client, requests, concurrency=4)}
    assert len(results) == 13
    for i in range(9):
        result = results[f"r{i}"]
        assert result.ok is (i % 3 != 0)
        if i % 3 == 0:
            assert result.error is not None and getattr(result.error, "status_code", None) == 400
            assert result.response is None
        else:
            assert result.response is not None and result.error is None
    assert isinstance(results["no-messages"].error, InvalidInputError)
    assert results["no-messages"].error.field == "body.messages"
    assert isinstance(results["broken-line"].error, InvalidInputError)
    assert results["broken-line"].request is None
    assert isinstance(results["11"].error, InvalidInputError)  # no id: its position
    assert isinstance(results["r99"].error, InvalidInputError)
    assert results["r99"].error.field == "body.stream"
    assert len(env.gateway.requests) == 9


async def test_body_fields_options_and_every_endpoint_reach_the_gateway(env: Env) -> None:
    """Unknown body fields are sent as they are; per-request Helicone options become headers."""
    requests = [
        BatchRequest(
            "/v1/chat/completions",
            {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "custom_x": 1},
            id="chat",
            helicone=HeliconeOptions(properties={"job": "nightly"}),
        ),
        BatchRequest(
            "completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, id="completion"
        ),
        BatchRequest("embeddings", {"model": "text-embedding-3-small", "input": "hi"}, id="e"),
    ]
    results = await collect_batch(env.client, requests)
    assert all(r.ok for r in results), [r.error for r in results]
    chat_record = env.gateway.requests[[r.endpoint for r in env.gateway.requests].index("chat")]
    assert chat_record.json["custom_x"] == 1
    assert chat_record.properties == {"job": "nightly"}
    assert results[1].response.choices[0].text
    assert results[2].response.data[0].embedding
    assert results[0].request_id == results[0].response.helicone.request_id is not None


async def test_concurrency_bound_is_honoured(env: Env) -> None:
    """Never more than ``concurrency`` requests are in flight at the gateway, and it is reached."""
    in_flight = 0
    peak = 0

    async def decide(record: RequestRecord) -> Reply:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.03)
        in_flight -= 1
        return Reply()

    env.gateway.script("*", [Respond(decide)], repeat=True)
    results = await collect_batch(env.client, (chat(i) for i in range(25)), concurrency=5)
    assert len(results) == 25 and all(r.ok for r in results)
    assert peak == 5


async def test_requests_per_minute_are_paced(env: Env) -> None:
    """3000 requests/minute: sends 20 ms apart (arrivals jitter by a few ms on loopback)."""
    with anyio.fail_after(5):
        results = await collect_batch(
            env.client, [chat(i) for i in range(8)], concurrency=8, max_requests_per_minute=3000
        )
    assert all(r.ok for r in results)
    assert len(env.sent) == 8
    env.assert_spaced(0.02)


async def test_tokens_per_minute_are_paced_by_the_estimate(env: Env) -> None:
    """60,000 tokens/minute and 50-token requests (estimate = usage): sends ~50 ms apart."""
    usage = {"prompt_tokens": 2, "completion_tokens": 48, "total_tokens": 50}
    env.gateway.script("*", [Reply(usage=usage)], repeat=True)
    requests = [chat(i, max_tokens=48) for i in range(4)]  # 2 prompt tokens + 48
    results = await collect_batch(env.client, requests, concurrency=4, max_tokens_per_minute=60_000)
    assert all(r.ok for r in results)
    env.assert_spaced(0.05)


async def test_actual_usage_corrects_the_token_schedule(env: Env) -> None:
    """A request that used 3x its estimate delays the next send by the difference."""
    usage = {"prompt_tokens": 2, "completion_tokens": 148, "total_tokens": 150}
    env.gateway.script("*", [Reply(usage=usage)], repeat=True)
    requests = [chat(i, max_tokens=48) for i in range(2)]
    await collect_batch(env.client, requests, concurrency=1, max_tokens_per_minute=60_000)
    first, second = env.sent
    # 150 tokens at 60,000 a minute is 0.15 s; the estimate alone (about 50) would give 0.05 s.
    # The margin is for arrival times skewed by a loaded machine.
    assert second - first >= 0.1


async def test_rate_limited_request_waits_retry_after_and_is_sent_again(env: Env) -> None:
    """A 429 pauses every send for its retry_after, then the request goes again and succeeds."""
    env.gateway.script(
        "*", [RawResponse(429, b'{"error": {"message": "slow down"}}', {"retry-after": "0.15"})]
    )
    results = await collect_batch(env.client, [chat(i) for i in range(3)], concurrency=1)
    assert [r.ok for r in results] == [True, True, True]
    assert results[0].attempts == 2 and results[1].attempts == 1
    assert env.gateway.requests[0].status == 429
    assert env.sent[1] - env.sent[0] >= 0.15


async def test_rate_limit_retries_run_out(env: Env) -> None:
    """After rate_limit_retries more 429s the RateLimitError is the result."""
    limited = RawResponse(429, b'{"error": {"message": "no"}}', {"retry-after-ms": "5"})
    env.gateway.script("*", [limited], repeat=True)
    [result] = await collect_batch(env.client, [chat(0)], rate_limit_retries=2)
    assert isinstance(result.error, RateLimitError)
    assert result.attempts == 3 and len(env.gateway.requests) == 3


async def test_insufficient_credits_is_not_retried(env: Env) -> None:
    """A 429 for exhausted credits is a result at once: waiting adds no credit."""
    env.gateway.script("*", [InsufficientCredits()])
    [result] = await collect_batch(env.client, [chat(0)])
    assert isinstance(result.error, RateLimitError)
    assert result.error.reason == "insufficient_credits"
    assert result.attempts == 1


async def test_exhausted_gateway_quota_pauses_sends_until_reset(env: Env) -> None:
    """Helicone-RateLimit-Remaining: 0 on an answer holds the next send until the reset."""
    headers = {
        "helicone-ratelimit-limit": "10",
        "helicone-ratelimit-remaining": "0",
        "helicone-ratelimit-reset": "0.15",
    }
    env.gateway.script("*", [Reply(headers=headers)])
    results = await collect_batch(env.client, [chat(0), chat(1)], concurrency=1)
    assert all(r.ok for r in results)
    first, second = env.sent
    assert second - first >= 0.15


async def test_low_gateway_quota_spreads_the_rest(env: Env) -> None:
    """A low remaining quota spaces sends by reset / remaining."""
    headers = {
        "helicone-ratelimit-limit": "100",
        "helicone-ratelimit-remaining": "2",
        "helicone-ratelimit-reset": "0.4",
    }
    env.gateway.script("*", [Reply(headers=headers)], repeat=True)
    await collect_batch(env.client, [chat(i) for i in range(3)], concurrency=1)
    assert env.sent[2] - env.sent[1] >= 0.2 - 0.005


async def test_input_is_pulled_lazily_and_an_early_exit_stops_pulling(env: Env) -> None:
    """An endless generator: only what workers and the buffer hold is pulled; exit is prompt."""
    pulled = 0

    def endless() -> Iterator[BatchRequest]:
        nonlocal pulled
        i = 0
        while True:
            pulled += 1
            yield chat(i)
            i += 1

    consumed = 0
    with anyio.fail_after(5):
        async with run_batch(env.client, endless(), concurrency=4, buffer=2) as results:
            async for _ in results:
                consumed += 1
                if consumed == 10:
                    break
    assert 10 <= pulled <= consumed + 4 + 2 + 1
    assert len(env.gateway.requests) <= pulled


async def test_async_iterable_input_is_pulled_lazily(env: Env) -> None:
    """An endless async generator is read a bounded distance ahead, and closed at the end."""
    pulled = 0
    closed = False

    async def endless() -> AsyncIterator[dict[str, Any]]:
        nonlocal pulled, closed
        i = 0
        try:
            while True:
                pulled += 1
                yield line(i)
                i += 1
        finally:
            closed = True

    with anyio.fail_after(5):
        async with run_batch(env.client, endless(), concurrency=3, buffer=2) as results:
            first = [r async for r, _ in zip_results(results, 6)]
    assert [r.ok for r in first] == [True] * 6
    assert pulled <= 6 + 3 + 2 + 2 + 1
    assert closed


async def zip_results(results: Any, count: int) -> AsyncIterator[tuple[BatchResult, int]]:
    """The first ``count`` results."""
    n = 0
    async for result in results:
        yield result, n
        n += 1
        if n == count:
            return


async def test_aclose_cancels_in_flight_requests_and_closes_their_connections(env: Env) -> None:
    """aclose() while every request is stalled closes all their connections at once."""
    env.gateway.script("*", [Stall()], repeat=True)
    with anyio.fail_after(5):
        async with run_batch(env.client, [chat(i) for i in range(10)], concurrency=4) as results:
            # A connection opens before its request is read: wait for both.
            while env.server.connections_open < 4 or len(env.gateway.requests) < 4:
                await anyio.sleep(0.01)
            await results.aclose()
            assert [r async for r in results] == []
        while env.server.connections_open:
            await anyio.sleep(0.01)
    assert len(env.gateway.requests) == 4


async def test_cancelling_the_caller_cancels_the_batch(env: Env) -> None:
    """An outer timeout cancels the batch; its connections close and nothing hangs."""
    env.gateway.script("*", [Stall()], repeat=True)
    with anyio.fail_after(5):
        with anyio.move_on_after(0.15) as scope:
            async with run_batch(env.client, [chat(i) for i in range(10)], concurrency=3) as r:
                async for _ in r:
                    pass
        assert scope.cancelled_caught
        while env.server.connections_open:
            await anyio.sleep(0.01)


async def test_iterating_without_async_with_is_an_error(env: Env) -> None:
    """A BatchRun must be entered first; the error says how."""
    batch = run_batch(env.client, [chat(0)])
    with pytest.raises(RuntimeError, match="async with"):
        await batch.__anext__()
    await batch.aclose()
    assert env.gateway.requests == []


async def test_an_error_in_the_input_iterable_ends_the_batch(env: Env) -> None:
    """The input's own exception is raised from the async with block (not wrapped)."""

    def broken() -> Iterator[BatchRequest]:
        yield chat(0)
        raise ValueError("input went wrong")

    with anyio.fail_after(5), pytest.raises(ValueError, match="input went wrong"):
        async with run_batch(env.client, broken(), concurrency=2) as results:
            async for _ in results:
                pass


async def test_a_batch_runs_once(env: Env) -> None:
    """Entering the same BatchRun twice is an error."""
    batch = run_batch(env.client, [chat(0)])
    async with batch as results:
        assert len([r async for r in results]) == 1
    with pytest.raises(RuntimeError, match="once"):
        await batch.__aenter__()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("concurrency", 0),
        ("concurrency", 1.5),
        ("buffer", -1),
        ("max_requests_per_minute", 0),
        ("max_tokens_per_minute", math.inf),
        ("rate_limit_retries", -1),
    ],
)
async def test_bad_options_are_refused(env: Env, option: str, value: object) -> None:
    """Out-of-range options raise InvalidInputError naming the option."""
    with pytest.raises(InvalidInputError, match=option):
        run_batch(env.client, [], **{option: value})


async def test_requests_must_be_iterable(env: Env) -> None:
    """A non-iterable (or a lone mapping) is refused up front."""
    with pytest.raises(InvalidInputError, match="requests"):
        run_batch(env.client, line(0))  # type: ignore[arg-type]


# -- server-requested waits: finite, bounded, never a hang (issue #20 item 4) ----------------

ENDLESS_WAITS = [
    {"retry-after-ms": "inf"},
    {"retry-after": "1e999"},
    {"retry-after": "Infinity"},
    {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"},
    {"helicone-ratelimit-reset": "inf"},
    {"retry-after": "3600"},
]


@pytest.mark.parametrize(
    "headers",
    [
        *ENDLESS_WAITS,
        {"retry-after-ms": "nan"},
        {"retry-after": "-5"},
        {"retry-after": "1_000"},
        {"retry-after-ms": "-1", "retry-after": "nan", "helicone-ratelimit-reset": "-inf"},
    ],
)
def test_every_parsed_wait_is_finite_non_negative_and_bounded(headers: dict[str, str]) -> None:
    """Whatever the headers say, a parsed wait is None or in [0, MAX_WAIT] (math.ceil works)."""
    from aiohelicone._retry import MAX_WAIT, retry_after_seconds

    wait = retry_after_seconds(headers)
    if wait is not None:
        assert 0.0 <= wait <= MAX_WAIT
        assert math.ceil(wait) <= MAX_WAIT
    info = RateLimitInfo(reset=wait)
    assert info.reset is None or math.isfinite(info.reset)


@pytest.mark.parametrize("headers", [{"retry-after-ms": "nan"}, {"retry-after": "-5"}])
def test_meaningless_waits_are_ignored(headers: dict[str, str]) -> None:
    """NaN and negative waits say nothing: the next header (or the backoff) decides."""
    from aiohelicone._retry import retry_after_seconds

    assert retry_after_seconds(headers) is None
    assert retry_after_seconds({**headers, "helicone-ratelimit-reset": "2"}) == 2.0


def test_rate_limited_beyond_max_wait_pauses_nothing() -> None:
    """A 429 asking for more than max_wait is refused (False): no pause, no halving."""
    governor = _Governor(
        concurrency=8, requests_per_minute=None, tokens_per_minute=None, max_wait=5.0
    )
    assert governor.on_rate_limited(10.0, 5.5) is False
    assert (governor.allowed, governor.paused(10.1), governor.unlimited) == (8, False, True)
    assert governor.on_rate_limited(10.0, 5.0) is True
    assert governor.paused(14.9) and not governor.paused(15.0)


def test_a_far_reset_holds_sends_no_longer_than_max_wait() -> None:
    """remaining = 0 with a reset a year away pauses max_wait; a low quota spreads over it."""
    governor = _Governor(
        concurrency=4, requests_per_minute=None, tokens_per_minute=None, max_wait=2.0
    )
    governor.on_success(5.0, 0, None, RateLimitInfo(limit=10, remaining=0, reset=31_536_000))
    assert governor.reserve(5.0, 0) == pytest.approx(2.0)
    governor = _Governor(
        concurrency=4, requests_per_minute=None, tokens_per_minute=None, max_wait=2.0
    )
    governor.on_success(0.0, 0, None, RateLimitInfo(limit=100, remaining=2, reset=1e9))
    assert [governor.reserve(0.0, 0) for _ in range(2)] == pytest.approx([0.0, 1.0])


@pytest.mark.parametrize("headers", ENDLESS_WAITS)
async def test_endless_retry_after_fails_the_request_instead_of_hanging(
    env: Env, headers: dict[str, str]
) -> None:
    """A 429 whose wait is infinite or over max_retry_after is the request's typed result
    at once (retry_after finite); the other requests still run."""
    limited = RawResponse(429, b'{"error": {"message": "later"}}', headers)
    env.gateway.script("*", [limited])
    with anyio.fail_after(5):
        results = await collect_batch(env.client, [chat(i) for i in range(3)], concurrency=1)
    first = results[0].error
    assert isinstance(first, RateLimitError)
    assert first.retry_after is not None and math.isfinite(first.retry_after)
    assert first.retry_after > env.client.retry_policy.max_retry_after
    assert math.ceil(first.retry_after) >= 60  # the README's web example works
    assert results[0].attempts == 1
    assert [r.ok for r in results[1:]] == [True, True]
    assert len(env.gateway.requests) == 3


async def test_batch_honours_the_clients_max_retry_after(env: Env) -> None:
    """A finite 2 s wait over RetryPolicy(max_retry_after=0.5) fails at once, not a pause."""
    from aiohelicone import RetryPolicy

    limited = RawResponse(429, b'{"error": {"message": "later"}}', {"retry-after": "2"})
    env.gateway.script("*", [limited])
    async with AsyncHelicone(
        api_key="sk-test",
        base_url=f"{env.server.url}/v1",
        retry_policy=RetryPolicy(max_retries=0, max_retry_after=0.5),
    ) as client:
        with anyio.fail_after(1.5):
            results = await collect_batch(client, [chat(0), chat(1)], concurrency=1)
    assert isinstance(results[0].error, RateLimitError)
    assert results[0].error.retry_after == 2.0
    assert results[1].ok and len(env.gateway.requests) == 2


async def test_client_retries_see_a_bounded_endless_wait(env: Env) -> None:
    """With client retries on, retry-after-ms: inf raises at once (retry waits switched off
    so only the decision is tested) with a finite retry_after."""
    from aiohelicone import _retry

    limited = RawResponse(429, b'{"error": {"message": "later"}}', {"retry-after-ms": "inf"})
    env.gateway.script("*", [limited], repeat=True)
    async with AsyncHelicone(
        api_key="sk-test", base_url=f"{env.server.url}/v1", max_retries=3
    ) as client:
        with no_retry_waits(), anyio.fail_after(5):
            [result] = await collect_batch(client, [chat(0)], rate_limit_retries=3)
    assert isinstance(result.error, RateLimitError)
    assert result.error.retry_after == _retry.MAX_WAIT
    assert len(env.gateway.requests) == 1


@pytest.mark.parametrize("reset", ["inf", "1e300", "31536000"])
async def test_a_far_gateway_reset_does_not_stall_the_batch(env: Env, reset: str) -> None:
    """Helicone-RateLimit-Remaining: 0 with an endless reset pauses max_retry_after at most."""
    from aiohelicone import RetryPolicy

    headers = {"helicone-ratelimit-remaining": "0", "helicone-ratelimit-reset": reset}
    env.gateway.script("*", [Reply(headers=headers)])
    async with AsyncHelicone(
        api_key="sk-test",
        base_url=f"{env.server.url}/v1",
        retry_policy=RetryPolicy(max_retries=0, max_retry_after=0.05),
    ) as client:
        with anyio.fail_after(5):
            results = await collect_batch(client, [chat(0), chat(1)], concurrency=1)
    assert all(r.ok for r in results)
    assert len(env.gateway.requests) == 2
