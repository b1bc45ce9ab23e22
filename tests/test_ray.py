"""aiohelicone.ray on a local Ray (num_cpus=2) against the fake gateway over TCP loopback.

Ray's actors are other processes, so the fake is served on a thread of this process on a
loopback port; its request records say what was sent. Run with ``pytest -m ray``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

import anyio  # noqa: E402

from aiohelicone.testing import FakeGateway, RawResponse, Reply, Respond, serve  # noqa: E402

pytestmark = [
    pytest.mark.ray,
    # Ray warns about its own deprecated settings when a DataContext is touched.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    pytest.mark.filterwarnings("ignore::FutureWarning:ray"),
]

ROWS = 2000
_ERROR_BODY = b'{"error":{"message":"scripted","type":"server_error","code":"scripted"}}'


class Faults:
    """Scripted faults by row number: a 429 then success, a 503 then success, always 500."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.persistent = True

    def __call__(self, record: Any) -> Any:
        custom_id = json.loads(record.body)["messages"][0]["content"]
        n = int(custom_id.removeprefix("r"))
        seen = self.attempts.get(custom_id, 0)
        self.attempts[custom_id] = seen + 1
        if n % 50 == 7 and seen == 0:
            return RawResponse(
                429, body=_ERROR_BODY, headers={"retry-after": "0"}, content_type="application/json"
            )
        if n % 50 == 13 and seen == 0:
            return RawResponse(503, body=_ERROR_BODY, content_type="application/json")
        if n % 100 == 99 and self.persistent:
            return RawResponse(500, body=_ERROR_BODY, content_type="application/json")
        return Reply()


class ThreadedFake:
    """A FakeGateway served on loopback from its own thread and event loop."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.url = ""
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=anyio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        async with serve(self.gateway) as server:
            self.url = server.url
            self._ready.set()
            while not self._stop.is_set():
                await anyio.sleep(0.05)

    def __enter__(self) -> ThreadedFake:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def sent_ids(self) -> list[str]:
        """The custom_id of every chat request received (one per attempt)."""
        return [
            json.loads(r.body)["messages"][0]["content"]
            for r in list(self.gateway.requests)
            if r.body and b"messages" in r.body
        ]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def fake() -> Iterator[tuple[ThreadedFake, Faults]]:
    faults = Faults()
    gateway = FakeGateway()
    gateway.script("*", [Respond(faults)], repeat=True)
    with ThreadedFake(gateway) as served:
        yield served, faults


def _line(n: int) -> str:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"r{n}"}]}
    return json.dumps(
        {"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    )


def _write_input(path: Path) -> None:
    lines = [_line(n) for n in range(ROWS)]
    lines[500] = json.dumps({"custom_id": "r500", "url": "/v1/chat/completions", "body": {}})
    lines[501] = "{not json"
    path.write_text("\n".join(lines) + "\n")


def _read_output(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(raw) for raw in path.read_text().splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert len(by_id) == len(lines), "one line per custom_id"
    return by_id


def test_job_with_faults_then_resume(
    local_ray: None, fake: tuple[ThreadedFake, Faults], tmp_path: Path
) -> None:
    """2,000 rows with 429s, 5xx and malformed rows: one line each; a resume sends only the rest."""
    from aiohelicone.ray import run_on_ray

    served, faults = fake
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(source)
    options = {"base_url": f"{served.url}/v1", "api_key": "sk-helicone-test", "concurrency": 16}

    summary = run_on_ray(str(source), str(output), actors=2, progress=False, **options)
    lines = _read_output(output)
    assert summary.run == ROWS and summary.skipped == 0
    # Every input row has exactly one line (the unreadable one under a stand-in id).
    assert len(lines) == ROWS
    assert {f"r{n}" for n in range(ROWS) if n != 501} <= set(lines)
    failed = {cid for cid, line in lines.items() if line["error"] is not None}
    persistent = {f"r{n}" for n in range(ROWS) if n % 100 == 99}
    invalid = {cid for cid in failed if cid.startswith("invalid-line-")}
    assert failed == persistent | {"r500"} | invalid and len(invalid) == 1
    assert lines["r500"]["error"]["code"] == "invalid_input"
    assert lines["r199"]["response"]["status_code"] == 500
    for n in (7, 13, 57):  # a 429 or a 503 first, then an answer
        assert lines[f"r{n}"]["response"]["status_code"] == 200
        assert lines[f"r{n}"]["response"]["body"]["choices"][0]["message"]["content"]
    assert summary.output_failed == len(failed)

    # A crash: only the first 1,200 lines were written, the last of them torn.
    kept = output.read_text().splitlines(keepends=True)[:1200]
    output.write_text("".join(kept) + kept[-1][:40])
    done = {line["custom_id"] for line in map(json.loads, kept[:-1]) if line["error"] is None}
    served.gateway.clear()
    faults.persistent = False
    summary = run_on_ray(str(source), str(output), actors=2, progress=False, **options)
    sent = served.sent_ids()
    expected = {f"r{n}" for n in range(ROWS) if n not in (500, 501)} - done
    assert set(sent) == expected  # nothing done is sent again, everything else is
    assert summary.skipped == len(done)
    lines = _read_output(output)
    assert len(lines) == ROWS
    assert {cid for cid, line in lines.items() if line["error"] is not None} == {"r500"} | invalid


def test_mapper_templates_and_rate_limit_policy(
    local_ray: None, fake: tuple[ThreadedFake, Faults]
) -> None:
    """A prompt column with a model: one output row per input row, the policy header sent."""
    from aiohelicone import RateLimitPolicy
    from aiohelicone.ray import OUTPUT_SCHEMA, HeliconeBatchMapper

    served, _ = fake
    rows = [{"id": f"p{n}", "prompt": f"r{n}"} for n in range(40)] + [{"id": "p40", "prompt": None}]
    out = ray.data.from_items(rows).map_batches(
        HeliconeBatchMapper,
        fn_constructor_kwargs={
            "base_url": f"{served.url}/v1",
            "api_key": "sk-helicone-test",
            "model": "gpt-4o-mini",
            "prompt_column": "prompt",
            "id_column": "id",
            "body": {"max_tokens": 20},
            "rate_limit_policy": RateLimitPolicy(quota=10000, window=60),
            "actors": 1,
            "max_requests_per_minute": 60000,
        },
        compute=ray.data.ActorPoolStrategy(size=1),
        num_cpus=0.5,
        batch_size=16,
        batch_format="pyarrow",
    )
    table = out.to_arrow_refs()
    result = ray.get(table)
    got = [row for part in result for row in part.to_pylist()]
    assert result[0].schema == OUTPUT_SCHEMA
    assert sorted(r["custom_id"] for r in got) == sorted(r["id"] for r in rows)
    bad = [r for r in got if r["error"] is not None]
    assert [r["custom_id"] for r in bad] == ["p40"]
    assert json.loads(bad[0]["error"])["code"] == "invalid_input"
    good = next(r for r in got if r["custom_id"] == "p3")
    assert good["status_code"] == 200 and json.loads(good["body"])["object"] == "chat.completion"
    policies = {
        r.headers.get("helicone-ratelimit-policy")
        for r in served.gateway.requests
        if r.body and b"messages" in r.body
    }
    assert policies == {"10000;w=60;u=request"}
    sent = [json.loads(r.body) for r in served.gateway.requests if r.body]
    assert all(body["max_tokens"] == 20 for body in sent)


def test_mapper_divides_the_budget() -> None:
    """The job's rpm/tpm are divided evenly among the actors."""
    from aiohelicone.ray import HeliconeBatchMapper

    mapper = HeliconeBatchMapper(
        actors=4, max_requests_per_minute=1000, max_tokens_per_minute=400_000
    )
    assert mapper.requests_per_minute == 250
    assert mapper.tokens_per_minute == 100_000
    assert "sk-" not in repr(HeliconeBatchMapper(api_key="sk-helicone-secret"))


def test_cli_batch_ray(tmp_path: Path) -> None:
    """`aiohelicone batch --ray --fake` writes the batch format; a rerun sends nothing."""
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(_line(n) for n in range(100)) + "\n")
    command = [sys.executable, "-m", "aiohelicone", "batch", str(source), "-o", str(output)]
    command += ["--ray", "--fake", "-q", "--ray-actors", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = _read_output(output)
    assert len(lines) == 100 and all(line["error"] is None for line in lines.values())
    assert lines["r5"]["id"].startswith("batch_req_")
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 run" in again.stderr and "100 skipped" in again.stderr
