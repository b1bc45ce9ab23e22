"""Session names and tags: the fake's Jawn endpoints, and client.sessions over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from aiohelicone import AsyncHelicone, HeliconeOptions, InvalidInputError
from aiohelicone._session_names import SessionName, check_tag, names_body, read_tag
from aiohelicone.testing import FakeGateway, LoopbackServer, no_retry_waits

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


async def _traffic(client: AsyncHelicone) -> None:
    plan = [("s1", "checkout"), ("s1", "checkout"), ("s2", "checkout"), ("s3", "search")]
    for session, name in plan:
        await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            helicone=HeliconeOptions(session_id=session, session_name=name, session_path="/"),
        )
    await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "no session"}]
    )


async def test_session_names_count_sessions_per_name(client: AsyncHelicone) -> None:
    """One row per session name, with its distinct sessions; a name filter keeps one."""
    await _traffic(client)
    names = {n.name: n for n in await client.sessions.names()}
    assert set(names) == {"checkout", "search"}
    assert names["checkout"].session_count == 2 and names["search"].session_count == 1
    checkout = names["checkout"]
    assert checkout.first_used is not None and checkout.last_used is not None
    assert checkout.first_used <= checkout.last_used
    only = await client.sessions.names(name="search")
    assert [n.name for n in only] == ["search"]


async def test_session_tags_round_trip(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """A session has no tag until one is set; the newest tag wins; odd ids are encoded."""
    assert await client.sessions.tag("s1") is None
    await client.sessions.set_tag("s1", "needs-review")
    await client.sessions.set_tag("s1", "reviewed")
    assert await client.sessions.tag("s1") == "reviewed"
    await client.sessions.set_tag("order 42?", "vip")
    assert gateway.rest.session_tags.tags == {"s1": "reviewed", "order 42?": "vip"}
    with pytest.raises(InvalidInputError, match="tag"):
        await client.sessions.set_tag("s1", "  ")
    with pytest.raises(InvalidInputError, match="session_id"):
        await client.sessions.tag("..")


def test_pure_parts() -> None:
    """Bodies and answers are checked: bad arguments and shapes are typed errors."""
    body = names_body(name=None, since=None, until=None, filter_json="all", timezone_difference=0)
    assert body == {"nameContains": "", "timezoneDifference": 0}
    with pytest.raises(InvalidInputError, match="timezone_difference"):
        names_body(name=None, since=None, until=None, filter_json="all", timezone_difference=True)
    assert check_tag("x") == "x"
    assert read_tag(None) is None
    row = SessionName.from_json({"name": None, "session_count": "3", "avg_latency": "1.5"})
    assert (row.name, row.session_count, row.avg_latency_ms) == ("", 3, 1.5)


async def test_session_metrics_over_the_fakes_sessions(
    client: AsyncHelicone, gateway: FakeGateway
) -> None:
    """Requests per session: s1 has 2, s2 and s3 one each; means over all, a name filter."""
    from aiohelicone import SessionMetrics

    await _traffic(client)
    metrics = await client.sessions.metrics(percentile="p99")
    assert isinstance(metrics, SessionMetrics)
    assert metrics.average_requests == pytest.approx(4 / 3)
    # Bins hold the sessions at or below the (interpolated) 99th percentile, 1.98 requests:
    # the two one-request sessions, as ClickHouse's `agg_value <= p_value` keeps them.
    assert [(b.start, b.end, b.count) for b in metrics.requests_per_session] == [(1, 1, 2)]
    assert metrics.average_cost_usd is not None and metrics.average_cost_usd > 0
    assert metrics.average_duration_seconds is not None
    checkout = await client.sessions.metrics(name="checkout", percentile="p99")
    assert checkout.average_requests == pytest.approx(1.5)
    body = gateway.requests[-1].json
    assert isinstance(body, dict) and body["pSize"] == "p99"
    with pytest.raises(InvalidInputError, match="percentile"):
        await client.sessions.metrics(percentile="p42")  # type: ignore[arg-type]
