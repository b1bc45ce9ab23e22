"""The REST API's refusals as Jawn's middleware sends them: the fake's answers, and the
typed errors the client raises for them (401 JSON, 400 ``Invalid token.``, 429, 5xx)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from aiohelicone._exceptions import AuthenticationError, BadRequestError, RateLimitError
from aiohelicone._rest_errors import (
    InvalidTokenError,
    RestAuthenticationError,
    RestRateLimitError,
    rest_status_error,
)
from aiohelicone._retry import retry_after_seconds
from aiohelicone.testing import FakeGateway, no_retry_waits

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
