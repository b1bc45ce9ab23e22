"""aiohelicone.ray on a local Ray (num_cpus=2) against the fake gateway over TCP loopback.

Ray's actors are other processes, so the fake is served on a thread of this process on a
loopback port; its request records say what was sent. Run with ``pytest -m ray``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
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


def _slow_input(path: Path, rows: int) -> None:
    path.write_text("\n".join(_line(n) for n in range(rows)) + "\n")


def _wait_for_lines(path: Path, process: subprocess.Popen[str] | None = None) -> None:
    """Wait (generously: Ray starts slowly on a busy machine) until ``path`` has a line."""
    for _ in range(1200):
        if path.exists() and path.stat().st_size:
            return
        assert process is None or process.poll() is None, "the run ended before any line"
        time.sleep(0.25)
    raise AssertionError(f"no line in {path}")


def _lock_is_free(output: Path) -> bool:
    from aiohelicone._batch_output import OutputLock, OutputLocked

    lock = OutputLock(str(output))
    try:
        lock.acquire()
    except OutputLocked:
        return False
    lock.release()
    return True


def test_cli_batch_ray_refuses_a_second_run_and_stops_on_sigint(
    fake: tuple[ThreadedFake, Faults], tmp_path: Path
) -> None:
    """--ray: a second run on the same output exits 4 sending nothing; SIGINT saves and exits 130."""
    served, _ = fake
    rows = 3000
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _slow_input(source, rows)
    command = [sys.executable, "-m", "aiohelicone", "batch", str(source), "-o", str(output)]
    command += ["--ray", "-q", "--ray-actors", "1", "--concurrency", "8"]
    first = subprocess.Popen(
        [*command, "--fake", "--fake-latency", "0.1"], stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_lines(output, first)
        # A second run on the same output, against a gateway whose records we can read.
        env = {**os.environ, "HELICONE_API_KEY": "sk-helicone-test"}
        second = subprocess.run(
            [*command, "--base-url", f"{served.url}/v1"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert second.returncode == 4, second.stderr[-2000:]
        # The message of the command without --ray, from run_on_ray's one lock, taken
        # before Ray starts (there is no second acquisition for another run to slip before).
        assert (
            f"another aiohelicone batch run is using {output} (it holds {output}.lock); "
            "nothing was sent" in second.stderr
        )
        assert "Started a local Ray" not in second.stderr
        assert list(served.gateway.requests) == []
        assert first.poll() is None, "the first run must still be running for the SIGINT"

        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 130, stderr[-2000:]
    assert "interrupted by SIGINT" in stderr
    assert "rerun the same command to resume" in stderr
    text = output.read_text()
    assert text.endswith("\n")  # no torn last line
    saved = _read_output(output)  # compacted: one line per custom_id
    assert 0 < len(saved) < rows
    assert all(line["error"] is None for line in saved.values())
    assert _lock_is_free(output)

    again = subprocess.run([*command, "--fake"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{rows - len(saved)} run" in again.stderr
    assert f"{len(saved)} skipped" in again.stderr
    assert len(_read_output(output)) == rows


def test_run_on_ray_stop_event(
    local_ray: None, fake: tuple[ThreadedFake, Faults], tmp_path: Path
) -> None:
    """Setting `stop` ends the job early: finished rows saved and compacted, lock released."""
    from aiohelicone.ray import run_on_ray

    served, source, output = _slow_job(fake, tmp_path)
    stop = threading.Event()

    def set_stop() -> None:
        _wait_for_lines(output)
        stop.set()

    setter = threading.Thread(target=set_stop, daemon=True)
    setter.start()
    options = {"base_url": f"{served.url}/v1", "api_key": "sk-helicone-test", "concurrency": 4}
    summary = run_on_ray(str(source), str(output), actors=1, progress=False, stop=stop, **options)
    setter.join(10)
    assert summary.interrupted
    saved = _read_output(output)
    assert 0 < summary.run == len(saved) == summary.output_lines < ROWS
    assert _lock_is_free(output)


def _slow_job(fake: tuple[ThreadedFake, Faults], tmp_path: Path) -> tuple[ThreadedFake, Path, Path]:
    """A ROWS-line input and a fake that answers each request 50 ms late, only transient faults."""
    served, faults = fake
    faults.persistent = False
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _slow_input(source, ROWS)
    served.gateway.script("*", [Respond(_slowly(faults))], repeat=True)
    return served, source, output


def _slowly(faults: Faults) -> Any:
    from aiohelicone.testing import Delay

    def decide(record: Any) -> Any:
        return Delay(0.05, faults(record))

    return decide


def test_run_on_ray_keyboard_interrupt_leaves_a_compacted_output(
    local_ray: None, fake: tuple[ThreadedFake, Faults], tmp_path: Path
) -> None:
    """Ctrl-C in the main thread during run_on_ray: output compacted, lock released, Ray usable."""
    from aiohelicone.ray import run_on_ray

    served, source, output = _slow_job(fake, tmp_path)

    def interrupt() -> None:
        _wait_for_lines(output)
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt, daemon=True)
    interrupter.start()
    options = {"base_url": f"{served.url}/v1", "api_key": "sk-helicone-test", "concurrency": 4}
    with pytest.raises(KeyboardInterrupt):
        run_on_ray(str(source), str(output), actors=1, progress=False, **options)
    interrupter.join(10)
    assert output.read_text().endswith("\n")
    saved = _read_output(output)
    assert 0 < len(saved) < ROWS
    assert _lock_is_free(output)
    # The rerun sends only the rest.
    served.gateway.clear()
    served.gateway.script("*", [Respond(fake[1])], repeat=True)
    summary = run_on_ray(str(source), str(output), actors=1, progress=False, **options)
    assert summary.skipped == len(saved) and summary.run == ROWS - len(saved)
    assert set(served.sent_ids()) == {f"r{n}" for n in range(ROWS)} - set(saved)


class LoopThread:
    """An asyncio loop running forever in a daemon thread, as Ray runs an async mapper."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _table(rows: int) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist([{"line": _line(n)} for n in range(rows)])


def _mapper(served: ThreadedFake) -> Any:
    from aiohelicone.ray import HeliconeBatchMapper

    return HeliconeBatchMapper(base_url=f"{served.url}/v1", api_key="sk-helicone-test")


def _refused_mapper() -> Any:
    """A mapper whose gateway refuses connections: its client never holds an open socket."""
    import socket

    from aiohelicone.ray import HeliconeBatchMapper

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return HeliconeBatchMapper(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-helicone-test", max_retries=0
    )


def test_mapper_del_closes_the_client_on_its_loop(fake: tuple[ThreadedFake, Faults]) -> None:
    """Deleted from another thread (Ray's shutdown), the mapper closes its client on its loop."""
    from aiohelicone import APIConnectionError

    served, _ = fake
    runner = LoopThread()
    try:
        mapper = _mapper(served)
        out = runner.run(mapper(_table(8)))
        assert out.column("status_code").to_pylist()[:7] == [200] * 7
        client = mapper._client
        assert client is not None and not client.is_closed
        del mapper  # from this (the main) thread, while the loop runs in its own
        assert client.is_closed
        with pytest.raises(APIConnectionError, match="closed"):
            runner.run(client.models.list())
    finally:
        runner.close()


def test_mapper_del_gives_up_on_a_blocked_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop that cannot answer is waited for only briefly: __del__ returns, the client dropped."""
    import aiohelicone.ray

    monkeypatch.setattr(aiohelicone.ray, "_CLOSE_WAIT", 0.2)
    runner = LoopThread()
    blocked, release = threading.Event(), threading.Event()

    def block() -> None:
        blocked.set()
        release.wait(60)

    try:
        mapper = _refused_mapper()
        runner.run(mapper(_table(2)))
        client = mapper._client
        runner.loop.call_soon_threadsafe(block)
        assert blocked.wait(10)
        del mapper  # returns after the bounded wait (a hang here is the bug)
        release.set()
        assert client is not None and not client.is_closed  # given up on: dropped, not closed
    finally:
        release.set()
        runner.close()


def test_mapper_del_without_a_running_loop_drops_the_client() -> None:
    """After asyncio.run (a closed loop) or on trio, __del__ only drops the client, silently."""
    import asyncio

    import trio

    runs = (lambda m: asyncio.run(m(_table(2))), lambda m: trio.run(m, _table(2)))
    for run in runs:
        mapper = _refused_mapper()
        out = run(mapper)
        assert out.column("status_code").to_pylist() == [None, None]  # connection refused
        client = mapper._client
        del mapper
        assert client is not None and not client.is_closed


def test_mapper_del_on_its_own_loop_schedules_the_close(fake: tuple[ThreadedFake, Faults]) -> None:
    """Deleted on the loop's own thread, the mapper schedules the close without waiting."""
    import asyncio

    served, _ = fake

    async def main() -> bool:
        mapper = _mapper(served)
        await mapper(_table(2))
        client = mapper._client
        assert client is not None
        del mapper
        for _ in range(100):
            if client.is_closed:
                break
            await asyncio.sleep(0.01)
        return client.is_closed

    assert asyncio.run(main())
