"""Helicone's REST API: the client's resources against the fake, filters, paging, errors."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx2
import pytest

from aiohelicone import (
    AsyncHelicone,
    AuthenticationError,
    HeliconeAPIError,
    HeliconeMetadata,
    HeliconeOptions,
    InternalServerError,
    InvalidInputError,
    LoggedRequest,
    NotFoundError,
    RequestFilter,
    SessionSummary,
)
from aiohelicone._rest import DEFAULT_UUID, request_id_of, resolve_rest_base_url
from aiohelicone.testing import Fail, FakeGateway, Reply, cost_usd, no_retry_waits, serve

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"
MODEL = "gpt-4o-mini/openai"
FAKE = "http://fake.test"


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(autouse=True)
def no_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HELICONE_REST_BASE_URL", raising=False)
    with no_retry_waits():
        yield


@pytest.fixture
async def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def http(gateway: FakeGateway) -> AsyncIterator[httpx2.AsyncClient]:
    """In process (ASGI): fast, and enough here (no streaming timing is tested)."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=gateway), base_url=FAKE
    ) as made:
        yield made


@pytest.fixture
async def client(http: httpx2.AsyncClient) -> AsyncIterator[AsyncHelicone]:
    async with AsyncHelicone(
        api_key=KEY, base_url=f"{FAKE}/v1", rest_base_url=FAKE, http_client=http
    ) as made:
        yield made


class Clock:
    """A settable wall clock for the fake's request_created_at."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def rest_calls(gateway: FakeGateway, suffix: str = "") -> list[Any]:
    return [r for r in gateway.requests if r.endpoint == "rest" and r.path.endswith(suffix)]


async def raw_post(
    http: httpx2.AsyncClient, path: str, body: Any, key: str = KEY
) -> httpx2.Response:
    return await http.post(path, json=body, headers={"authorization": f"Bearer {key}"})


# -- single requests -------------------------------------------------------------------------


async def test_feedback_is_posted_with_the_helicone_key(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """feedback() POSTs {"rating": bool} to /v1/request/{id}/feedback with Bearer auth."""
    done = await client.chat.completions.create(model=MODEL, messages=ask("hi"))
    await client.requests.feedback(done, True)
    assert done.helicone is not None
    request_id = done.helicone.request_id
    assert request_id is not None
    call = rest_calls(gateway, "/feedback")[-1]
    assert call.method == "POST"
    assert call.path == f"/v1/request/{request_id}/feedback"
    assert call.json == {"rating": True}
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert gateway.rest.feedback == {request_id: True}
    assert (await client.requests.get(request_id)).feedback is True


async def test_request_ids_come_from_results_metadata_strings_and_errors(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A completion, its metadata, a plain id and a gateway error all name a request."""
    gateway.script("gpt-4o-mini/openai", [Reply(), Fail(400, message="bad")])
    done = await client.chat.completions.create(model=MODEL, messages=ask("one"))
    with pytest.raises(InternalServerError) as failed:  # the gateway turns provider 400s to 500
        await client.chat.completions.create(model=MODEL, messages=ask("two"), max_retries=0)
    assert done.helicone is not None
    for ref in (done, done.helicone, str(done.helicone.request_id), failed.value):
        await client.requests.feedback(ref, False)
    error_id = failed.value.helicone.request_id if failed.value.helicone else None
    assert error_id is not None
    assert set(gateway.rest.feedback) == {done.helicone.request_id, error_id}
    logged = await client.requests.get(failed.value)
    assert logged.status == 500
    assert logged.is_error


def test_request_id_of_refuses_objects_without_an_id() -> None:
    """request_id_of() names the argument when no id can be found."""
    with pytest.raises(InvalidInputError, match="request_id"):
        request_id_of(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="non-empty"):
        request_id_of("")
    assert request_id_of("5f0e4a3c-0000-4000-8000-000000000000").startswith("5f0e4a3c")
    assert request_id_of("req_1.a~b-c") == "req_1.a~b-c"


BAD_REQUEST_IDS = [".", "..", "...", "a/b", "../v1", "a b", "a%2e", "a?b", "é", "x" * 257, "\x00"]


@pytest.mark.parametrize("bad", BAD_REQUEST_IDS)
@pytest.mark.parametrize("method", ["feedback", "score", "set_property", "get"])
async def test_unsafe_request_ids_are_refused_before_sending(
    client: AsyncHelicone, gateway: FakeGateway, method: str, bad: str
) -> None:
    """Dot-segments and characters needing escapes never reach a URL: nothing is sent."""
    calls = {
        "feedback": lambda ref: client.requests.feedback(ref, True),
        "score": lambda ref: client.requests.score(ref, {"a": 1}),
        "set_property": lambda ref: client.requests.set_property(ref, "k", "v"),
        "get": lambda ref: client.requests.get(ref),
    }
    with pytest.raises(InvalidInputError) as refused:
        await calls[method](bad)
    assert refused.value.field == "request_id"
    # An id taken from a result's metadata (the server's Helicone-Id) is checked the same way.
    with pytest.raises(InvalidInputError):
        await calls[method](HeliconeMetadata(request_id=bad))
    assert gateway.requests == []


@pytest.mark.parametrize("bad", ["", ".", "..", " s", "s\n", "\x7f", "é"])
async def test_unsafe_session_ids_are_refused_before_sending(
    client: AsyncHelicone, gateway: FakeGateway, bad: str
) -> None:
    """sessions.feedback() refuses dot-segments and text no header could carry."""
    with pytest.raises(InvalidInputError) as refused:
        await client.sessions.feedback(bad, True)
    assert refused.value.field == "session_id"
    assert gateway.requests == []


async def test_session_ids_are_percent_encoded(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A session id with spaces, '?' or '#' is one escaped path segment."""
    await client.sessions.feedback("my session?#1", True)
    assert gateway.rest.session_feedback == {"my session?#1": True}
    assert rest_calls(gateway)[0].path == "/v1/session/my session?#1/feedback"


async def test_scores_accept_ints_and_bools(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """score() sends ints and bools as given; Helicone stores bools as 1/0."""
    done = await client.chat.completions.create(model=MODEL, messages=ask("hi"))
    await client.requests.score(done, {"accuracy": 92, "grounded": True})
    assert rest_calls(gateway, "/score")[-1].json == {"scores": {"accuracy": 92, "grounded": True}}
    logged = await client.requests.get(done)
    assert logged.scores == {"accuracy": 92, "grounded": 1}


async def test_float_scores_are_refused_before_sending(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A float score raises InvalidInputError that says how to scale it; nothing is sent."""
    with pytest.raises(InvalidInputError) as refused:
        await client.requests.score("some-id", {"accuracy": 0.92})  # type: ignore[dict-item]
    assert refused.value.field == "scores['accuracy']"
    assert "integers or booleans" in str(refused.value)
    assert "= 92" in str(refused.value)
    with pytest.raises(InvalidInputError):
        await client.requests.score("some-id", {})
    with pytest.raises(InvalidInputError):
        await client.requests.score("some-id", {"x": "high"})  # type: ignore[dict-item]
    assert rest_calls(gateway) == []


async def test_fake_answers_float_scores_with_400(
    client: AsyncHelicone, http: httpx2.AsyncClient
) -> None:
    """The fake REST API itself refuses float scores with a 400 Result."""
    done = await client.chat.completions.create(model=MODEL, messages=ask("hi"))
    assert done.helicone is not None
    answer = await raw_post(
        http, f"/v1/request/{done.helicone.request_id}/score", {"scores": {"a": 0.5}}
    )
    assert answer.status_code == 400
    assert answer.json()["data"] is None
    assert "integers or booleans" in answer.json()["error"]


async def test_set_property_after_the_fact(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """set_property() PUTs {key, value}; the row then carries it and filters find it."""
    done = await client.chat.completions.create(model=MODEL, messages=ask("hi"))
    await client.requests.set_property(done, "reviewed", "yes")
    assert rest_calls(gateway, "/property")[-1].method == "PUT"
    assert (await client.requests.get(done)).property("REVIEWED") == "yes"
    found = await client.requests.query(RequestFilter.property("reviewed", "yes")).to_list()
    assert [r.request_id for r in found] == [done.helicone.request_id if done.helicone else None]
    with pytest.raises(InvalidInputError):
        await client.requests.set_property(done, "", "x")


async def test_get_returns_a_typed_record_with_optional_bodies(client: AsyncHelicone) -> None:
    """get() parses the row; include_body=True adds the request and response bodies."""
    done = await client.chat.completions.create(
        model=MODEL, messages=ask("hello there"), helicone=HeliconeOptions(user_id="ann")
    )
    plain = await client.requests.get(done)
    assert isinstance(plain, LoggedRequest)
    assert plain.model == "gpt-4o-mini"
    assert plain.provider == "openai"
    assert plain.status == 200
    assert plain.user_id == "ann"
    assert isinstance(plain.created_at, datetime)
    assert plain.created_at.tzinfo is not None
    assert done.usage is not None
    assert plain.prompt_tokens == done.usage.prompt_tokens
    assert plain.cost == cost_usd(
        "gpt-4o-mini", done.usage.prompt_tokens, done.usage.completion_tokens
    )
    assert plain.request_body is None
    full = await client.requests.get(done, include_body=True)
    assert full.request_body["messages"] == ask("hello there")
    assert full.response_body["choices"][0]["message"]["content"] == "You said: hello there"


async def test_unknown_request_is_a_final_500(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Jawn answers an unknown id with a 500 Result: raised at once, never retried."""
    with pytest.raises(InternalServerError) as failed:
        await client.requests.get("no-such-request")
    assert failed.value.message == "Request not found"
    assert len(rest_calls(gateway, "/no-such-request")) == 1
    with pytest.raises(InternalServerError, match="Error adding scores"):
        await client.requests.score("no-such-request", {"a": 1})


async def test_unknown_rest_path_is_a_404(http: httpx2.AsyncClient) -> None:
    """A path the REST API does not serve is express's 404."""
    answer = await raw_post(http, "/v1/request/a/b/c", {})
    assert answer.status_code == 404


async def test_bad_keys_are_refused(http: httpx2.AsyncClient) -> None:
    """A key the org does not have, and a public pk- key, get 401 from the REST API."""
    strict = FakeGateway(api_keys={KEY})
    transport = httpx2.ASGITransport(app=strict)
    for key in ("sk-helicone-wrong", "pk-helicone-public"):
        async with (
            httpx2.AsyncClient(transport=transport) as other,
            AsyncHelicone(
                api_key=key, base_url=f"{FAKE}/v1", rest_base_url=FAKE, http_client=other
            ) as client,
        ):
            with pytest.raises(AuthenticationError):
                await client.requests.count()
    answer = await raw_post(http, "/v1/request/count/query", {"filter": "all"}, key="pk-x")
    assert answer.status_code == 401
    assert "public keys" in answer.json()["error"]
    answer = await http.post("/v1/request/count/query", json={"filter": "all"})
    assert answer.status_code == 401


# -- queries ---------------------------------------------------------------------------------


async def send(client: AsyncHelicone, count: int, **options: Any) -> list[str]:
    ids = []
    for index in range(count):
        done = await client.chat.completions.create(
            model=options.get("model", MODEL),
            messages=ask(options.get("text") or f"message {index}"),
            helicone=options.get("helicone"),
        )
        assert done.helicone is not None
        assert done.helicone.request_id is not None
        ids.append(done.helicone.request_id)
    return ids


async def test_query_pages_through_more_than_one_page(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """7 rows with page_size=3 take 3 calls, newest first, without repeats."""
    ticks = iter(range(1_800_000_000, 1_800_000_100))
    gateway.rest.wall_clock = lambda: float(next(ticks))
    ids = await send(client, 7)
    pager = client.requests.query(page_size=3)
    rows = [row.request_id async for row in pager]
    assert rows == ids[::-1]
    assert pager.pages_fetched == 3
    bodies = [c.json for c in rest_calls(gateway, "/query-clickhouse")]
    assert [(b["offset"], b["limit"]) for b in bodies] == [(0, 3), (3, 3), (6, 3)]
    assert all(b["filter"] == "all" for b in bodies)


async def test_query_limit_and_offset(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """limit stops early (asking no more than needed); offset skips rows."""
    ticks = iter(range(1_800_000_000, 1_800_000_100))
    gateway.rest.wall_clock = lambda: float(next(ticks))
    ids = await send(client, 6)
    pager = client.requests.query(limit=4, page_size=3, sort={"created_at": "asc"})
    assert [r.request_id for r in await pager.to_list()] == ids[:4]
    limits = [c.json["limit"] for c in rest_calls(gateway, "/query-clickhouse")]
    assert limits == [3, 1]
    skipped = await client.requests.query(offset=4, sort={"created_at": "asc"}).to_list()
    assert [r.request_id for r in skipped] == ids[4:]
    assert await client.requests.query(limit=0).to_list() == []


async def test_query_sorts_by_cost(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """sort={"cost": "desc"} puts the most expensive model first."""
    await send(client, 1, model="gpt-4o-mini/openai")
    await send(client, 1, model="gpt-4o/openai")
    await send(client, 1, model="claude-3.5-haiku/anthropic")
    rows = await client.requests.query(sort={"cost": "desc"}).to_list()
    costs = [r.cost for r in rows]
    assert costs == sorted(costs, reverse=True)  # type: ignore[type-var]
    assert rows[0].model == "gpt-4o"
    with pytest.raises(InvalidInputError, match="unknown column"):
        client.requests.query(sort={"price": "desc"})


async def test_filters_select_the_right_rows(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Model, user, property, status, cached and cost filters, combined with & and |."""
    gateway.script("claude-3.5-haiku/anthropic", [Fail(503)])
    alice = HeliconeOptions(user_id="alice", properties={"env": "prod"})
    bob = HeliconeOptions(user_id="bob", properties={"env": "dev"}, cache_enabled=True)
    a = await send(client, 2, helicone=alice)
    b = await send(client, 2, model="gpt-4o/openai", helicone=bob, text="same")  # 2nd: a hit
    with pytest.raises(InternalServerError):
        await client.chat.completions.create(
            model="claude-3.5-haiku/anthropic", messages=ask("x"), max_retries=0
        )

    async def ids(f: RequestFilter) -> set[str]:
        return {r.request_id for r in await client.requests.query(f).to_list()}

    assert await ids(RequestFilter.model("gpt-4o-mini")) == set(a)
    assert await ids(RequestFilter.model(contains="GPT-4O")) == set(a + b)
    assert await ids(RequestFilter.user("bob")) == set(b)
    assert await ids(RequestFilter.property("env", "prod")) == set(a)
    assert await ids(RequestFilter.property("env", not_equals="prod")) != set(a)
    assert await ids(RequestFilter.cached(True)) == {b[1]}
    assert await ids(RequestFilter.status(gte=400)) == set(
        await ids(RequestFilter.model("claude-3.5-haiku"))
    )
    assert len(await ids(RequestFilter.status(gte=400))) == 1
    assert await ids(RequestFilter.cost(gt=0.0) & RequestFilter.user("bob")) == {b[0]}
    assert await ids(RequestFilter.user("alice") | RequestFilter.cached(True)) == {*a, b[1]}
    assert await ids(RequestFilter.all() & RequestFilter.user("alice")) == set(a)
    assert await client.requests.count(RequestFilter.user("alice")) == 2
    assert await client.requests.count() == 5


async def test_time_range_filters(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """created_after/created_before compare with request_created_at (two leaves)."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = Clock(start.timestamp())
    gateway.rest.wall_clock = clock
    ids = []
    for hours in range(3):
        clock.now = (start + timedelta(hours=hours)).timestamp()
        ids += await send(client, 1)
    window = RequestFilter.created_between(
        start + timedelta(minutes=30), start + timedelta(hours=1)
    )
    assert [r.request_id for r in await client.requests.query(window).to_list()] == [ids[1]]
    later = RequestFilter.created_after(start + timedelta(minutes=1))
    assert {r.request_id for r in await client.requests.query(later).to_list()} == set(ids[1:])
    rows = await client.requests.query(sort={"created_at": "asc"}).to_list()
    assert [r.created_at for r in rows] == [start + timedelta(hours=h) for h in range(3)]


async def test_unwrapped_filter_silently_matches_nothing_on_the_fake(
    client: AsyncHelicone, http: httpx2.AsyncClient
) -> None:
    """The trap: a leaf without request_response_rmt gives [] (no error); wrapped, rows."""
    await send(client, 2)
    unwrapped = {"model": {"equals": "gpt-4o-mini"}}
    answer = await raw_post(http, "/v1/request/query-clickhouse", {"filter": unwrapped})
    assert answer.status_code == 200
    assert answer.json() == {"data": [], "error": None}
    wrapped = {"request_response_rmt": unwrapped}
    answer = await raw_post(http, "/v1/request/query-clickhouse", {"filter": wrapped})
    assert len(answer.json()["data"]) == 2


async def test_client_refuses_unwrapped_raw_filters(client: AsyncHelicone) -> None:
    """A raw mapping is checked for the wrapper; a wrapped one is sent as it is."""
    await send(client, 1)
    with pytest.raises(InvalidInputError, match="request_response_rmt"):
        client.requests.query({"model": {"equals": "gpt-4o-mini"}})
    with pytest.raises(InvalidInputError, match="operator"):
        client.requests.query({"left": "all", "operator": "xor", "right": "all"})
    wrapped = {"request_response_rmt": {"model": {"equals": "gpt-4o-mini"}}}
    assert len(await client.requests.query(wrapped).to_list()) == 1
    not_json = {"request_response_rmt": {"request_created_at": {"gte": datetime.now(UTC)}}}
    with pytest.raises(InvalidInputError, match="not JSON"):
        client.requests.query(not_json)


def test_filter_builder_always_wraps_each_condition() -> None:
    """Every leaf is {"request_response_rmt": {field: {op: value}}}, one condition each."""
    built = (RequestFilter.model("gpt-4o") & RequestFilter.latency(gte=100, lte=500)) | (
        RequestFilter.property("env", "prod")
    )
    assert built.to_json() == {
        "left": {
            "left": {"request_response_rmt": {"model": {"equals": "gpt-4o"}}},
            "operator": "and",
            "right": {
                "left": {"request_response_rmt": {"latency": {"gte": 100}}},
                "operator": "and",
                "right": {"request_response_rmt": {"latency": {"lte": 500}}},
            },
        },
        "operator": "or",
        "right": {"request_response_rmt": {"properties": {"env": {"equals": "prod"}}}},
    }
    assert RequestFilter.model(not_contains="x").to_json() == {
        "request_response_rmt": {"model": {"not-contains": "x"}}
    }
    assert RequestFilter.feedback(True).to_json() == {
        "request_response_rmt": {"scores": {"helicone-score-feedback": {"equals": "1"}}}
    }
    when = RequestFilter.created_after(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)).to_json()
    assert when == {
        "request_response_rmt": {"request_created_at": {"gte": "2030-01-02T03:04:05.000Z"}}
    }
    assert (RequestFilter.all() | RequestFilter.user("x")).to_json() == "all"


@pytest.mark.parametrize(
    "build",
    [
        lambda: RequestFilter.model(),
        lambda: RequestFilter.model(gte="x"),
        lambda: RequestFilter.status(equals="200"),  # type: ignore[arg-type]
        lambda: RequestFilter.status(gte=1.5),  # type: ignore[arg-type]
        lambda: RequestFilter.latency(gte=float("nan")),
        lambda: RequestFilter.property("", "x"),
        lambda: RequestFilter.cached("yes"),  # type: ignore[arg-type]
        lambda: RequestFilter.created_after("yesterday"),  # type: ignore[arg-type]
        lambda: RequestFilter.model("x") & {"model": "x"},  # type: ignore[operator]
    ],
)
def test_filter_builder_refuses_bad_conditions(build: Callable[[], object]) -> None:
    """Wrong operators, types and values raise InvalidInputError when the filter is built."""
    with pytest.raises(InvalidInputError):
        build()


async def test_feedback_filter_finds_rated_requests(client: AsyncHelicone) -> None:
    """RequestFilter.feedback() uses the dashboard's scores shape and finds the rating."""
    first, second = await send(client, 2)
    await client.requests.feedback(first, True)
    await client.requests.feedback(second, False)
    up = await client.requests.query(RequestFilter.feedback(True)).to_list()
    assert [(r.request_id, r.feedback) for r in up] == [(first, True)]


# -- sessions and users ----------------------------------------------------------------------


async def test_session_query_and_feedback(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """sessions.query() sums a session's requests; sessions.feedback() posts a rating."""
    options = HeliconeOptions(session_id="s-1", session_name="support", user_id="ann")
    await send(client, 3, helicone=options)
    await send(client, 1, helicone=HeliconeOptions(session_id="s-2", session_name="other"))
    await send(client, 1)
    sessions = await client.sessions.query(since=timedelta(hours=1)).to_list()
    assert {s.session_id for s in sessions} == {"s-1", "s-2"}
    support = next(s for s in sessions if s.session_id == "s-1")
    assert isinstance(support, SessionSummary)
    assert support.total_requests == 3
    assert support.session_name == "support"
    assert support.user_ids == ("ann",)
    assert support.total_cost is not None and support.total_cost > 0
    named = await client.sessions.query(name="other").to_list()
    assert [s.session_id for s in named] == ["s-2"]
    body = rest_calls(gateway, "/session/query")[-1].json
    assert body["nameEquals"] == "other"
    assert set(body["timeFilter"]) == {"startTimeUnixMs", "endTimeUnixMs"}
    await client.sessions.feedback("s-1", True)
    assert gateway.rest.session_feedback == {"s-1": True}
    with pytest.raises(InvalidInputError):
        await client.sessions.feedback("s-1", 1)  # type: ignore[arg-type]


async def test_user_metrics_page_and_sort(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """users.metrics() returns one record per user, sorted, page by page."""
    await send(client, 2, helicone=HeliconeOptions(user_id="ann"))
    await send(client, 1, model="gpt-4o/openai", helicone=HeliconeOptions(user_id="bob"))
    await send(client, 1, helicone=HeliconeOptions(user_id="cy"))
    pager = client.users.metrics(sort={"cost": "desc"}, page_size=2)
    users = await pager.to_list()
    assert users[0].user_id == "bob"
    assert {u.user_id for u in users} == {"ann", "bob", "cy"}
    assert pager.pages_fetched == 2
    ann = next(u for u in users if u.user_id == "ann")
    assert ann.total_requests == 2
    assert ann.active_for == 1
    assert ann.cost is not None and ann.cost > 0
    assert rest_calls(gateway, "/user/metrics/query")[0].json["limit"] == 2


# -- errors and transport, over a mock transport ---------------------------------------------


def mock_client(handler: Callable[[httpx2.Request], httpx2.Response], **kw: Any) -> AsyncHelicone:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return AsyncHelicone(
        api_key=KEY,
        base_url="https://gw.test/v1",
        rest_base_url="https://rest.test",
        http_client=http,
        **kw,
    )


async def test_result_error_with_200_raises_helicone_api_error() -> None:
    """A 2xx Result with an error string is a HeliconeAPIError (an APIStatusError)."""
    client = mock_client(lambda _: httpx2.Response(200, json={"data": None, "error": "boom"}))
    with pytest.raises(HeliconeAPIError) as failed:
        await client.requests.count()
    assert failed.value.status_code == 200
    assert failed.value.message == "boom"
    assert KEY not in str(failed.value)


async def test_proxy_5xx_is_retried_but_a_result_5xx_is_not() -> None:
    """A 503 without a Result body is retried; a Result 500 is the final answer."""
    seen: list[str] = []
    answers = [
        httpx2.Response(503, text="upstream unavailable"),
        httpx2.Response(200, json={"data": 3, "error": None}),
    ]

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return answers.pop(0)

    assert await mock_client(handler).requests.count() == 3
    assert seen == ["https://rest.test/v1/request/count/query"] * 2
    calls: list[int] = []

    def final(request: httpx2.Request) -> httpx2.Response:
        calls.append(1)
        return httpx2.Response(500, json={"data": None, "error": "Request not found"})

    with pytest.raises(InternalServerError):
        await mock_client(final).requests.get("x")
    assert calls == [1]


async def test_rest_uses_the_helicone_key_in_legacy_proxy_mode() -> None:
    """With provider_api_key, REST still gets Authorization: Bearer <Helicone key>."""
    headers: list[httpx2.Headers] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        headers.append(request.headers)
        return httpx2.Response(200, json={"data": None, "error": None})

    client = mock_client(handler, provider_api_key="sk-openai-provider")
    await client.requests.feedback("abc", True)
    assert headers[0]["authorization"] == f"Bearer {KEY}"
    assert "helicone-auth" not in headers[0]
    assert "sk-openai-provider" not in repr(client._rest)


async def test_pager_stops_when_an_endpoint_ignores_limit() -> None:
    """A page longer than asked for ends the query (no endless repeats)."""
    rows = [{"session_id": f"s{i}"} for i in range(5)]
    calls: list[Any] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(json.loads(request.content))
        return httpx2.Response(200, json={"data": rows, "error": None})

    sessions = await mock_client(handler).sessions.query(page_size=2).to_list()
    assert [s.session_id for s in sessions] == [f"s{i}" for i in range(5)]
    assert len(calls) == 1


async def test_pagers_stop_when_the_server_ignores_offset(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """A page that repeats the previous one ends every query instead of looping forever."""
    ticks = itertools.count(1_800_000_000)
    gateway.rest.wall_clock = lambda: float(next(ticks))
    for index in range(7):
        await send(client, 1, helicone=HeliconeOptions(user_id=f"u{index}", session_id=f"s{index}"))
    gateway.rest.ignore_offset = True
    pagers: list[Any] = [
        client.requests.query(page_size=3),
        client.sessions.query(page_size=3, until=datetime.fromtimestamp(1_900_000_000, UTC)),
        client.users.metrics(page_size=3),
    ]
    for pager in pagers:
        with anyio.fail_after(5):
            rows = await pager.to_list()
        assert len(rows) == 3  # the first page, once
        assert pager.pages_fetched == 2
    # With a limit the repeat comes back shorter (a prefix of the previous page): also caught.
    limited = client.requests.query(page_size=3, limit=5)
    with anyio.fail_after(5):
        assert len(await limited.to_list()) == 3
    assert limited.pages_fetched == 2
    gateway.rest.ignore_offset = False
    assert len(await client.requests.query(page_size=3).to_list()) == 7


async def test_not_a_list_is_a_validation_error() -> None:
    """A query answer that is not a list of objects is an APIResponseValidationError."""
    from aiohelicone import APIResponseValidationError

    client = mock_client(lambda _: httpx2.Response(200, json={"data": {"x": 1}, "error": None}))
    with pytest.raises(APIResponseValidationError):
        await client.requests.query().to_list()
    client = mock_client(lambda _: httpx2.Response(200, json={"data": [{"x": 1}], "error": None}))
    with pytest.raises(APIResponseValidationError, match="request_id"):
        await client.requests.query().to_list()
    client = mock_client(lambda _: httpx2.Response(404, text="Cannot GET /v1/request/x"))
    with pytest.raises(NotFoundError):
        await client.requests.get("x")


async def test_rest_over_a_loopback_server() -> None:
    """Over real sockets too: the gateway and the REST API share one server and one pool."""
    gateway = FakeGateway()
    async with (
        serve(gateway) as server,
        AsyncHelicone(api_key=KEY, base_url=f"{server.url}/v1", rest_base_url=server.url) as client,
    ):
        done = await client.chat.completions.create(model=MODEL, messages=ask("hi"))
        await client.requests.feedback(done, True)
        assert (await client.requests.query().to_list())[0].feedback is True
        assert server.connections_total == 1


# -- parsing and configuration ---------------------------------------------------------------


def test_logged_request_tolerates_clickhouse_and_postgres_shapes() -> None:
    """Quoted 64-bit ints, both date styles, both score shapes and cache ids are read."""
    click = LoggedRequest.from_json(
        {
            "request_id": "r1",
            "request_created_at": "2026-11-27 14:00:35.123",
            "response_status": "200",
            "request_model": "gpt-4o",
            "prompt_tokens": "10",
            "completion_tokens": 5,
            "cost": "0.00125",
            "delay_ms": 812,
            "scores": {"accuracy": "92", "helicone-score-feedback": "1"},
            "cache_reference_id": "5f0e4a3c-0000-4000-8000-000000000000",
            "request_properties": {"Helicone-Session-Id": "s", "env": "prod"},
            "request_body": {"helicone_message": "fetching body from signed_url..."},
        }
    )
    assert click.created_at == datetime(2026, 11, 27, 14, 0, 35, 123000, tzinfo=UTC)
    assert (click.status, click.prompt_tokens, click.total_tokens) == (200, 10, 15)
    assert click.cost == 0.00125
    assert click.scores == {"accuracy": 92}
    assert click.feedback is True
    assert click.cached is True
    assert click.session_id == "s"
    assert click.request_body is None
    postgres = LoggedRequest.from_json(
        {
            "request_id": "r2",
            "request_created_at": "2026-11-27T14:00:35Z",
            "scores": {"a": {"value": 3, "valueType": "number"}},
            "feedback_rating": False,
            "cache_reference_id": DEFAULT_UUID,
        }
    )
    assert postgres.scores == {"a": 3}
    assert postgres.feedback is False
    assert postgres.cached is False
    assert postgres.is_error  # no status logged
    with pytest.raises(ValueError, match="request_id"):
        LoggedRequest.from_json({})


def test_rest_base_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit URL, region, environment, an EU key, then the US default."""
    assert resolve_rest_base_url(None, None, KEY) == "https://api.helicone.ai"
    assert resolve_rest_base_url(None, "eu", KEY) == "https://eu.api.helicone.ai"
    assert resolve_rest_base_url("http://x:1/", None, KEY) == "http://x:1"
    assert resolve_rest_base_url(None, None, "sk-helicone-eu-abc") == "https://eu.api.helicone.ai"
    monkeypatch.setenv("HELICONE_REST_BASE_URL", "http://env.test")
    assert resolve_rest_base_url(None, None, KEY) == "http://env.test"
    assert resolve_rest_base_url(None, "us", KEY) == "https://api.helicone.ai"
    with pytest.raises(InvalidInputError):
        resolve_rest_base_url("http://x", "eu", KEY)
    with pytest.raises(InvalidInputError):
        resolve_rest_base_url(None, "asia", KEY)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        AsyncHelicone(api_key=KEY, rest_base_url="ftp://x")
    client = AsyncHelicone(api_key=KEY, region="eu")
    client.requests  # noqa: B018 - the REST connection is built on first use
    assert client._rest is not None
    assert client._rest.base_url == "https://eu.api.helicone.ai"
