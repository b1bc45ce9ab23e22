"""The REST API's refusals as Jawn's middleware sends them: the fake's answers, and the
typed errors the client raises for them (401 JSON, 400 ``Invalid token.``, 429, 5xx)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from aiohelicone import (
    APIStatusError,
    AsyncHelicone,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
)
from aiohelicone._rest_errors import (
    InvalidTokenError,
    RestAuthenticationError,
    RestRateLimitError,
    rest_status_error,
)
from aiohelicone._retry import retry_after_seconds
from aiohelicone.testing import FakeGateway, LoopbackServer, no_retry_waits

pytestmark = pytest.mark.anyio

KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"
READ_ONLY = "sk-helicone-readonl-yyyyyyy-zzzzzzz-0000000"
FAKE = "http://fake.test"


@pytest.fixture(autouse=True)
def no_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HELICONE_REST_BASE_URL", raising=False)
    with no_retry_waits():
        yield


@pytest.fixture
def gateway() -> FakeGateway:
    fake = FakeGateway(api_keys={KEY, READ_ONLY})
    fake.rest.gate.read_only_keys.add(READ_ONLY)
    return fake


@pytest.fixture
async def http(gateway: FakeGateway) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=gateway), base_url=FAKE
    ) as made:
        yield made


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


# -- the fake answers as Jawn's middleware does ---------------------------------------------


async def test_fake_refusals_have_jawns_shapes(http: httpx2.AsyncClient) -> None:
    """401 JSON with trace, 400 plain-text Invalid token., a read-only key's POST refused."""
    body = {"filter": "all"}
    missing = await http.post("/v1/request/count/query", json=body)
    assert missing.status_code == 401 and set(missing.json()) == {"error"}
    unknown = await http.post(
        "/v1/request/count/query", json=body, headers=_auth("sk-helicone-nope")
    )
    assert unknown.status_code == 401
    assert unknown.json()["trace"] == "isAuthenticated.error"
    garbled = await http.post("/v1/request/count/query", json=body, headers=_auth("garbled"))
    assert (garbled.status_code, garbled.text) == (400, "Invalid token.")
    assert garbled.headers["content-type"].startswith("text/plain")
    read_only = await http.post("/v1/request/count/query", json=body, headers=_auth(READ_ONLY))
    assert read_only.status_code == 401
    assert read_only.json() == {"error": None, "trace": "isAuthenticated.error"}
    fine = await http.post("/v1/request/count/query", json=body, headers=_auth(KEY))
    assert fine.status_code == 200
    # GETs only need read permission; the public registry needs no key at all.
    assert (await http.get("/v1/request/x", headers=_auth(READ_ONLY))).status_code == 500
    assert (await http.get("/v1/public/model-registry/models")).status_code == 200


async def test_fake_rate_limit_sends_retry_after_and_ratelimit_headers(
    http: httpx2.AsyncClient, gateway: FakeGateway
) -> None:
    """Over the limit: 429 JSON, Retry-After and RateLimit-*; a new window lets calls in."""
    now = [1_000.0]
    gateway.rest.wall_clock = lambda: now[0]
    gateway.rest.gate.rate_limit(2, window=300)
    body = {"filter": "all"}
    for _ in range(2):
        ok = await http.post("/v1/request/count/query", json=body, headers=_auth(KEY))
        assert ok.status_code == 200
    now[0] += 10
    limited = await http.post("/v1/request/count/query", json=body, headers=_auth(KEY))
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too many requests, please try again later."}
    assert limited.headers["retry-after"] == "290"
    assert limited.headers["ratelimit-reset"] == "290"
    assert (limited.headers["ratelimit-limit"], limited.headers["ratelimit-remaining"]) == (
        "2",
        "0",
    )
    assert retry_after_seconds(dict(limited.headers)) == 290
    now[0] += 290
    again = await http.post("/v1/request/count/query", json=body, headers=_auth(KEY))
    assert again.status_code == 200


def test_ratelimit_reset_is_read_as_a_wait() -> None:
    """RateLimit-Reset (seconds) is a wait when nothing earlier in the order says one."""
    assert retry_after_seconds({"ratelimit-reset": "42"}) == 42
    assert retry_after_seconds({"retry-after": "3", "ratelimit-reset": "42"}) == 3
    assert retry_after_seconds({"helicone-ratelimit-reset": "x", "ratelimit-reset": "7"}) == 7
    assert retry_after_seconds({"ratelimit-reset": "-1"}) is None


# -- typing the errors (pure) ----------------------------------------------------------------


def test_rest_status_error_types_each_refusal() -> None:
    """401 -> RestAuthenticationError (hint on POST), 400 text -> InvalidTokenError, 429."""
    base = AuthenticationError(
        "null", status_code=401, body={"error": None, "trace": "isAuthenticated.error"}
    )
    posted = rest_status_error(base, "POST")
    assert isinstance(posted, RestAuthenticationError)
    assert posted.trace == "isAuthenticated.error" and posted.write_permission_hint
    assert "write permission" in str(posted)
    got = rest_status_error(base, "GET")
    assert isinstance(got, RestAuthenticationError) and not got.write_permission_hint
    assert "write permission" not in str(got)
    token = rest_status_error(
        BadRequestError("Invalid token.", status_code=400, body="Invalid token."), "POST"
    )
    assert isinstance(token, InvalidTokenError) and isinstance(token, BadRequestError)
    other = BadRequestError("nope", status_code=400, body={"error": "nope"})
    assert rest_status_error(other, "POST") is other
    limited = rest_status_error(
        RateLimitError(
            "Too many requests, please try again later.",
            status_code=429,
            headers={"RateLimit-Limit": "1000", "RateLimit-Remaining": "0", "RateLimit-Reset": "9"},
            retry_after=9.0,
        ),
        "POST",
    )
    assert isinstance(limited, RestRateLimitError)
    assert (limited.limit, limited.remaining, limited.reset, limited.retry_after) == (
        1000,
        0,
        9,
        9.0,
    )
    assert limited.reason == "rest_api_limit" and limited.helicone_generated


# -- end to end through the public client, over loopback -------------------------------------


def _client(server: LoopbackServer, key: str, **options: Any) -> AsyncHelicone:
    return AsyncHelicone(
        api_key=key, base_url=f"{server.url}/v1", rest_base_url=server.url, **options
    )


def _assert_no_secret(error: BaseException, key: str) -> None:
    assert isinstance(error, APIStatusError)
    for text in (str(error), repr(error), repr(error.body), repr(dict(error.headers))):
        assert key not in text


async def test_read_only_key_gets_a_typed_401_with_the_write_hint(
    server: LoopbackServer,
) -> None:
    """A query (a POST) with a read-only key: RestAuthenticationError saying why; GETs work."""
    async with _client(server, KEY) as writer:
        done = await writer.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    async with _client(server, READ_ONLY) as reader:
        with pytest.raises(RestAuthenticationError) as refused:
            await reader.requests.count()
        logged = await reader.requests.get(done)
    error = refused.value
    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401 and error.trace == "isAuthenticated.error"
    assert error.write_permission_hint and "write permission" in str(error)
    assert done.helicone is not None and logged.request_id == done.helicone.request_id
    _assert_no_secret(error, READ_ONLY)


async def test_unknown_key_and_garbled_token(server: LoopbackServer) -> None:
    """An unknown key is a 401 RestAuthenticationError; a non-key token is InvalidTokenError."""
    unknown = "sk-helicone-unknown-1234567-1234567-1234567"
    async with _client(server, unknown) as client:
        with pytest.raises(RestAuthenticationError) as refused:
            await client.sessions.feedback("s1", True)
    _assert_no_secret(refused.value, unknown)
    async with _client(server, "garbled-token-value") as client:
        with pytest.raises(InvalidTokenError) as garbled:
            await client.requests.count()
    assert garbled.value.status_code == 400 and isinstance(garbled.value, BadRequestError)
    _assert_no_secret(garbled.value, "garbled-token-value")


async def test_rate_limit_wait_is_honoured_by_the_retry(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A 429 with Retry-After is retried after exactly the server's wait, then succeeds."""
    now = [5_000.0]
    gateway.rest.wall_clock = lambda: now[0]
    gateway.rest.gate.rate_limit(1, window=30)
    seen: list[tuple[type[BaseException], float | None, float]] = []

    def on_retry(error: BaseException, retry: int, wait: float) -> None:
        seen.append((type(error), getattr(error, "retry_after", None), wait))
        now[0] += wait  # the fake's window passes while the client waits

    async with _client(server, KEY, on_retry=on_retry) as client:
        assert await client.requests.count() == 0
        now[0] += 5
        assert await client.requests.count() == 0
    assert len(seen) == 1
    kind, retry_after, wait = seen[0]
    assert issubclass(kind, RateLimitError) and retry_after == 25 and wait == 25


async def test_rate_limit_longer_than_max_retry_after_raises_at_once(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """A reset beyond max_retry_after is not slept through: RestRateLimitError, not retried."""
    gateway.rest.gate.rate_limit(1, window=300)
    async with _client(server, KEY) as client:
        await client.requests.count()
        before = len(gateway.requests)
        with pytest.raises(RestRateLimitError) as limited:
            await client.requests.count()
    error = limited.value
    assert len(gateway.requests) == before + 1  # no retry
    assert error.retry_after is not None and 295 <= error.retry_after <= 300
    assert (error.limit, error.remaining) == (1, 0)
    assert error.reason == "rest_api_limit" and error.helicone_generated
    assert isinstance(error, RateLimitError)
    _assert_no_secret(error, KEY)
