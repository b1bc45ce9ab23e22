"""``aiohelicone batch``: input checks, resumable output, kills, Ctrl-C, --retry-failed."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiohelicone import APIConnectionError, BatchRequest, BatchResult, RateLimitError
from aiohelicone._batch_output import (
    OutputFile,
    OutputLock,
    OutputLocked,
    OutputProblem,
    result_line,
)
from aiohelicone._cli_batch_input import InputProblems, scan_input
from aiohelicone._cli_progress import LineProgress, PlainProgress, make_progress
from aiohelicone.cli import main
from aiohelicone.testing import FakeGateway, Reply, RequestRecord, Respond, serve

ROOT = Path(__file__).resolve().parent.parent
MODEL = "gpt-4o-mini"


def input_line(i: int, **extra: Any) -> str:
    """One OpenAI Batch API input line for ``msg <i>``."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": f"msg {i}"}]}
    data = {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    return json.dumps({**data, **extra}) + "\n"


def write_input(path: Path, count: int) -> Path:
    """An input file of ``count`` chat requests r0..r<count-1>."""
    path.write_text("".join(input_line(i) for i in range(count)))
    return path


def child_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m aiohelicone``: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("HELICONE_API_KEY", None)
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    """The command line of ``python -m aiohelicone <args>``."""
    return [sys.executable, "-m", "aiohelicone", *args]


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the command line to the end."""
    return subprocess.run(
        command(*args), capture_output=True, text=True, env=child_env(), timeout=timeout
    )


def read_output(path: Path) -> list[dict[str, Any]]:
    """Every line of an output file, parsed (a torn line fails the test)."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(raw) for raw in data.splitlines()]


def wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str]) -> None:
    """Poll until ``path`` has ``count`` lines (the child must still be running)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {count} lines")


# -- end to end (subprocesses) -------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_writes_openai_output_and_retry_failed_replaces_failures(
    tmp_path: Path, backend: str
) -> None:
    """A run writes one OpenAI Batch output line per id; --retry-failed reruns only failures."""
    source = write_input(tmp_path / "in.jsonl", 20)
    out = tmp_path / "out.jsonl"
    first = cli(
        *("--backend", backend, "batch", str(source), "-o", str(out), "--fake"),
        *("--fake-fail-rate", "0.3", "--concurrency", "8"),
    )
    assert first.returncode == 3, first.stderr
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == sorted(f"r{i}" for i in range(20))
    failed = {line["custom_id"] for line in lines if line["error"] is not None}
    assert 0 < len(failed) < 20
    for line in lines:
        assert set(line) == {"id", "custom_id", "response", "error"}
        assert line["id"].startswith("batch_req_")
        if line["custom_id"] in failed:
            assert line["error"]["code"] == "fake_failure"
            assert line["response"]["status_code"] == 400
        else:
            i = line["custom_id"][1:]
            assert line["response"]["status_code"] == 200
            assert line["response"]["request_id"]
            assert (
                line["response"]["body"]["choices"][0]["message"]["content"] == f"You said: msg {i}"
            )
    kept = {line["custom_id"]: line["id"] for line in lines if line["error"] is None}

    retry = cli(
        "--backend", backend, "batch", str(source), "-o", str(out), "--fake", "--retry-failed"
    )
    assert retry.returncode == 0, retry.stderr
    assert f"{20 - len(failed)} skipped" in retry.stderr
    lines = read_output(out)
    assert len(lines) == 20 and len({line["custom_id"] for line in lines}) == 20
    assert all(line["error"] is None for line in lines)
    assert {line["custom_id"]: line["id"] for line in lines if line["custom_id"] in kept} == kept

    before = out.read_bytes()
    again = cli("--backend", backend, "batch", str(source), "-o", str(out), "--fake")
    assert again.returncode == 0
    assert "0 of 0 run" in again.stderr and "20 skipped" in again.stderr
    assert out.read_bytes() == before


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_bad_input_is_reported_with_line_numbers_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    """Malformed lines and duplicate ids are all listed by line number; exit 2; no request."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        input_line(0)
        + "{not json\n"
        + "\n"
        + input_line(0)
        + input_line(2, method="GET")
        + input_line(3, url="/v1/audio/speech")
        + "[1, 2]\n"
        + json.dumps({"custom_id": "x", "url": "/v1/embeddings"})
        + "\n"
        + input_line(8)
    )
    out = tmp_path / "out.jsonl"
    gateway = FakeGateway()
    async with serve(gateway) as server:
        result = await anyio.run_process(
            command("batch", str(bad), "-o", str(out), "--base-url", f"{server.url}/v1"),
            env=child_env(HELICONE_API_KEY="sk-test"),
            check=False,
        )
    stderr = result.stderr.decode()
    assert result.returncode == 2
    assert f"{bad}:2: line: is not valid JSON" in stderr
    assert f"{bad}:4: duplicate custom_id 'r0' (first on line 1)" in stderr
    assert f"{bad}:5: method: must be 'POST'" in stderr
    assert f"{bad}:6: url: unsupported '/v1/audio/speech'" in stderr
    assert f"{bad}:7: line: must be a JSON object" in stderr
    assert f"{bad}:8: body:" in stderr
    assert "6 bad input line(s); nothing was sent" in stderr
    assert gateway.requests == []
    assert not out.exists()


def body_line(i: int, url: str, body: Any) -> str:
    """An input line ``r<i>`` with its own URL and body."""
    return json.dumps({"custom_id": f"r{i}", "method": "POST", "url": url, "body": body}) + "\n"


@pytest.mark.anyio
async def test_bad_bodies_are_reported_with_line_numbers_and_nothing_is_sent(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Bodies the resources refuse are listed by line number and field; exit 2; no request."""
    chat, text, embed = "/v1/chat/completions", "/v1/completions", "/v1/embeddings"
    messages = [{"role": "user", "content": "hi"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        input_line(0)
        + body_line(1, chat, {"model": 5, "messages": messages})
        + body_line(2, chat, {"model": MODEL, "messages": "x"})
        + body_line(3, chat, {"messages": messages})
        + body_line(4, text, {"model": "m"})
        + body_line(5, embed, {"model": "m", "input": "hi", "dimensions": "3"})
        + body_line(
            6,
            chat,
            {"model": MODEL, "messages": messages, "metadata": {"Helicone-Cache-Enabled": 2}},
        )
        + body_line(7, "/v1/audio/speech", {"model": MODEL, "input": "hi"})
        + input_line(8)
    )
    out = tmp_path / "out.jsonl"
    gateway = FakeGateway()
    async with serve(gateway) as server:
        result = await anyio.run_process(
            command(
                *("--backend", anyio_backend, "batch", str(bad), "-o", str(out)),
                *("--base-url", f"{server.url}/v1"),
            ),
            env=child_env(HELICONE_API_KEY="sk-test"),
            check=False,
        )
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert f"{bad}:2: body.model: must be a str" in stderr
    assert f"{bad}:3: body.messages: must be a list of message mappings" in stderr
    assert f"{bad}:4: body.model: is required" in stderr
    assert f"{bad}:5: body.prompt: is required" in stderr
    assert f"{bad}:6: body.dimensions: must be an int" in stderr
    assert f"{bad}:7: body.metadata['Helicone-Cache-Enabled']:" in stderr
    assert f"{bad}:8: url: unsupported '/v1/audio/speech'" in stderr
    assert ":1:" not in stderr and ":9:" not in stderr
    assert "7 bad input line(s); nothing was sent" in stderr
    assert gateway.requests == []
    assert not out.exists()


def test_scan_input_checks_bodies_and_passes_good_files(tmp_path: Path) -> None:
    """scan_input refuses a bad body with its line number and accepts every endpoint's good one."""
    good = tmp_path / "good.jsonl"
    good.write_text(
        input_line(0)
        + body_line(1, "/v1/completions", {"model": "m", "prompt": "hi", "max_tokens": 3})
        + body_line(2, "/v1/embeddings", {"model": "m", "input": [1, 2], "extra_field": True})
    )
    assert scan_input(str(good)) == ["r0", "r1", "r2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        input_line(0) + "\n" + body_line(1, "/v1/embeddings", {"model": "m", "input": []})
    )
    with pytest.raises(InputProblems) as info:
        scan_input(str(bad))
    assert info.value.problems == [(3, "body.input: must be a str or a non-empty list")]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_each_request_reaches_the_gateway_exactly_once(tmp_path: Path) -> None:
    """Through --base-url: the gateway sees every body once, and the output matches."""
    source = write_input(tmp_path / "in.jsonl", 12)
    out = tmp_path / "out.jsonl"
    gateway = FakeGateway()
    async with serve(gateway) as server:
        result = await anyio.run_process(
            command(
                "batch",
                str(source),
                "-o",
                str(out),
                "--base-url",
                f"{server.url}/v1",
                "--concurrency",
                "4",
                "--quiet",
            ),
            env=child_env(HELICONE_API_KEY="sk-test"),
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    seen = sorted(r.last_user_message or "" for r in gateway.requests)
    assert seen == sorted(f"msg {i}" for i in range(12))
    by_id = {line["custom_id"]: line for line in read_output(out)}
    assert len(by_id) == 12
    assert {line["response"]["request_id"] for line in by_id.values()} == {
        r.helicone_id for r in gateway.requests
    }


def test_resume_after_sigkill_finishes_every_id_exactly_once(tmp_path: Path) -> None:
    """SIGKILL mid-run loses no finished line; the rerun does the rest, each id once."""
    source = write_input(tmp_path / "in.jsonl", 60)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        command(
            "batch",
            str(source),
            "-o",
            str(out),
            "--fake",
            "--fake-latency",
            "0.05",
            "--concurrency",
            "4",
            "--fsync-every",
            "0",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        wait_for_lines(out, 12, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    saved = read_output(out)  # whole lines only
    assert 12 <= len(saved) < 60

    rerun = cli("batch", str(source), "-o", str(out), "--fake", "--concurrency", "8")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(saved)} skipped" in rerun.stderr
    ids = [line["custom_id"] for line in read_output(out)]
    assert sorted(ids) == sorted(f"r{i}" for i in range(60))
    assert ids[: len(saved)] == [line["custom_id"] for line in saved]


def test_torn_last_line_is_dropped_and_redone(tmp_path: Path) -> None:
    """A partial last line (a kill mid-write) is cut off and its request run again."""
    source = write_input(tmp_path / "in.jsonl", 6)
    out = tmp_path / "out.jsonl"
    done = {"response": {"status_code": 200, "request_id": "x", "body": {}}, "error": None}
    whole = [(json.dumps({"custom_id": f"r{i}", **done}) + "\n").encode() for i in range(6)]
    torn = whole[-1][: len(whole[-1]) // 2]
    out.write_bytes(b"".join(whole[:-1]) + torn)
    lost = json.loads(whole[-1])["custom_id"]

    rerun = cli("batch", str(source), "-o", str(out), "--fake")
    assert rerun.returncode == 0, rerun.stderr
    assert f"dropped a torn last line ({len(torn)} bytes)" in rerun.stderr
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == sorted(f"r{i}" for i in range(6))
    assert lines[-1]["custom_id"] == lost


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_stops_cleanly_with_everything_saved(tmp_path: Path, backend: str) -> None:
    """SIGINT: in-flight requests are dropped, finished ones saved, a summary, exit 130."""
    source = write_input(tmp_path / "in.jsonl", 200)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        command(
            "--backend",
            backend,
            "batch",
            str(source),
            "-o",
            str(out),
            "--fake",
            "--fake-latency",
            "0.05",
            "--concurrency",
            "4",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        wait_for_lines(out, 8, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    saved = read_output(out)
    assert f"interrupted by SIGINT: {len(saved)} of 200 run" in stderr
    assert "rerun the same command to continue" in stderr
    assert len({line["custom_id"] for line in saved}) == len(saved) < 200


def test_an_output_file_not_written_by_batch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line that is not a result (other than a torn last one) stops the command: exit 2."""
    source = write_input(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.jsonl"
    out.write_text('{"custom_id": "r0", "response": null, "error": null}\nhello\n')
    assert main(["batch", str(source), "-o", str(out), "--fake"]) == 2
    assert "line 2 is not a batch result line" in capsys.readouterr().err
    assert out.read_text().endswith("hello\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--rpm", "0"], "--rpm must be positive"),
        (["--fsync-every", "-1"], "--fsync-every must not be negative"),
        (["--fake-fail-rate", "2"], "--fake-fail-rate"),
        (["-o", "IN"], "different files"),
    ],
)
def test_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Nonsense options are refused before anything runs."""
    source = write_input(tmp_path / "in.jsonl", 1)
    args = [str(source) if a == "IN" else a for a in args]
    assert main(["batch", str(source), "-o", str(tmp_path / "out"), "--fake", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable input file is named in the error."""
    assert main(["batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o"), "--fake"]) == 2
    assert "cannot read" in capsys.readouterr().err


# -- pieces (in process) ---------------------------------------------------------------------


def test_scan_input_lists_every_problem(tmp_path: Path) -> None:
    """scan_input returns the ids in order, or raises with every bad line numbered."""
    good = write_input(tmp_path / "good.jsonl", 3)
    assert scan_input(str(good)) == ["r0", "r1", "r2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(input_line(0).encode() + b"\xff\xfe\n" + input_line(0).encode())
    with pytest.raises(InputProblems) as info:
        scan_input(str(bad))
    assert [n for n, _ in info.value.problems] == [2, 3]


def test_output_state_latest_line_wins_and_compaction_keeps_one_per_id(tmp_path: Path) -> None:
    """A failure superseded by a success counts as done; compact() keeps only the latest."""
    path = tmp_path / "out.jsonl"
    failed = {"custom_id": "a", "response": None, "error": {"code": "x", "message": "m"}}
    ok = {"custom_id": "a", "response": {"status_code": 200, "body": {}}, "error": None}
    other = {"custom_id": "b", "response": {"status_code": 500, "body": {}}, "error": None}
    path.write_text("".join(json.dumps(d) + "\n" for d in (failed, other, ok)))
    output = OutputFile(str(path), fsync_every=1)
    output.load()
    assert output.latest_failed == {"a": False, "b": True}
    output.compact()
    assert [json.loads(x) for x in path.read_text().splitlines()] == [other, ok]
    assert not (tmp_path / ".out.jsonl.compacting").exists()


def test_output_without_newline_at_all_is_emptied(tmp_path: Path) -> None:
    """A file holding only a torn first line is truncated to nothing."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"custom_id": "a", "resp')
    output = OutputFile(str(path), fsync_every=0)
    output.load()
    assert output.torn_bytes == 24 and path.read_bytes() == b""


def test_output_that_is_not_ours_raises(tmp_path: Path) -> None:
    """A JSON line without a custom_id is not a result line."""
    path = tmp_path / "out.jsonl"
    path.write_text('{"x": 1}\n')
    with pytest.raises(OutputProblem, match="line 1"):
        OutputFile(str(path), fsync_every=0).load()


def test_result_lines_follow_the_openai_batch_output_format() -> None:
    """Success, HTTP error and connection error lines have the OpenAI Batch shape."""
    request = BatchRequest("embeddings", {"model": "m", "input": "x"}, id="e1")
    limited = RateLimitError("slow down", status_code=429, body={"error": {}}, request_id="h-1")
    line = result_line(BatchResult("e1", 0, request, error=limited))
    assert line["custom_id"] == "e1" and line["id"].startswith("batch_req_")
    assert line["response"] == {"status_code": 429, "request_id": "h-1", "body": {"error": {}}}
    assert line["error"] == {"code": "rate_limit", "message": str(limited)}
    broken = result_line(BatchResult("e1", 0, request, error=APIConnectionError()))
    assert broken["response"] is None
    assert broken["error"] == {"code": "api_connection", "message": "Connection error."}


def test_plain_progress_prints_a_line_per_interval() -> None:
    """Not a terminal: a line every interval with done, failures and rate; nothing between."""
    now = [0.0]
    stream = io.StringIO()
    progress = PlainProgress(100, stream, interval=5.0, clock=lambda: now[0])
    now[0] = 1.0
    progress.update(10, 1)
    assert stream.getvalue() == ""
    now[0] = 5.0
    progress.update(50, 2)
    assert stream.getvalue() == "batch: 50/100 done, 2 failed, 10.0/s, ETA 5s\n"
    now[0] = 7.0
    progress.tick()
    assert stream.getvalue().count("\n") == 1


def test_line_progress_rewrites_one_line() -> None:
    """On a terminal without tqdm/rich: a carriage-return line, ended by close()."""
    now = [0.0]
    stream = io.StringIO()
    progress = LineProgress(10, stream, clock=lambda: now[0])
    now[0] = 1.0
    progress.update(5, 0)
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\r[############------------] 5/10 0 failed 5.0/s, ETA 1s")
    assert text.endswith("\n") and text.count("\n") == 1


def test_progress_is_plain_lines_when_not_a_terminal() -> None:
    """A pipe or file gets periodic plain lines."""
    assert isinstance(make_progress(3, io.StringIO()), PlainProgress)


# -- one run per output file (issue #20 item 5) ---------------------------------------------


class HeldGateway:
    """A served FakeGateway whose answers wait until ``release`` is set, counting arrivals."""

    def __init__(self) -> None:
        self.gateway = FakeGateway()
        self.arrived = anyio.Event()
        self.release = anyio.Event()

        async def decide(record: RequestRecord) -> Reply:
            self.arrived.set()
            await self.release.wait()
            return Reply()

        self.gateway.script("*", [Respond(decide)], repeat=True)


def batch_command(backend: str, source: Path, out: Path, url: str, *extra: str) -> list[str]:
    """``python -m aiohelicone --backend B batch SOURCE -o OUT --base-url URL --quiet``."""
    return command(
        *("--backend", backend, "batch", str(source), "-o", str(out)),
        *("--base-url", f"{url}/v1", "--quiet", *extra),
    )


async def run_while_first_is_in_flight(
    anyio_backend: str, source: Path, out: Path, *extra: str
) -> tuple[int, subprocess.CompletedProcess[bytes], HeldGateway]:
    """Start a run, and while its requests are held at the gateway start a second one on
    the same output; then let the first finish. Returns (first's exit status, the second's
    process, the gateway)."""
    held = HeldGateway()
    env = child_env(HELICONE_API_KEY="sk-test")
    async with serve(held.gateway) as server:
        cmd = batch_command(anyio_backend, source, out, server.url, *extra)
        with anyio.fail_after(30):
            async with await anyio.open_process(cmd, env=env) as first:
                await held.arrived.wait()  # the first run holds the lock and is sending
                second = await anyio.run_process(cmd, env=env, check=False)
                held.release.set()
                status = await first.wait()
    return status, second, held


@pytest.mark.anyio
async def test_a_second_run_on_the_same_output_is_refused_and_nothing_is_sent_twice(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Two identical runs: the second exits 4 with a clear message before sending anything;
    the gateway sees each request once and the output holds every result once."""
    source = write_input(tmp_path / "in.jsonl", 6)
    out = tmp_path / "out.jsonl"
    status, second, held = await run_while_first_is_in_flight(anyio_backend, source, out)
    message = second.stderr.decode()
    assert second.returncode == 4, message
    assert f"another aiohelicone batch run is using {out}" in message
    assert "nothing was sent" in message
    assert status == 0
    seen = sorted(r.last_user_message or "" for r in held.gateway.requests)
    assert seen == sorted(f"msg {i}" for i in range(6))
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == [f"r{i}" for i in range(6)]
    assert all(line["error"] is None for line in lines)


@pytest.mark.anyio
async def test_a_run_cannot_append_while_another_compacts(
    tmp_path: Path, anyio_backend: str
) -> None:
    """A --retry-failed run (which compacts with os.replace at its end) keeps the lock until
    after compaction: a concurrent run is refused, and no result is lost in a replaced file."""
    source = write_input(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out.jsonl"
    failure = BatchResult(id="r0", index=0, request=None, error=APIConnectionError())
    failed = [dict(result_line(failure), custom_id=f"r{i}") for i in (0, 1)]
    done = [
        dict(result_line(failure), custom_id=f"r{i}", error=None, response={"status_code": 200})
        for i in (2, 3)
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in failed + done))
    status, second, held = await run_while_first_is_in_flight(
        anyio_backend, source, out, "--retry-failed"
    )
    assert second.returncode == 4, second.stderr.decode()
    assert status == 0
    assert sorted(r.last_user_message or "" for r in held.gateway.requests) == ["msg 0", "msg 1"]
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ["r0", "r1", "r2", "r3"]
    assert all(line["error"] is None for line in lines)


def test_a_held_lock_refuses_a_run_in_the_same_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """flock excludes a second open of the lock file even in one process; released, it runs."""
    source = write_input(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.jsonl"
    lock = OutputLock(str(out))
    lock.acquire()
    try:
        with pytest.raises(OutputLocked):
            OutputLock(str(out)).acquire()
        assert main(["batch", str(source), "-o", str(out), "--fake", "-q"]) == 4
        assert "another aiohelicone batch run is using" in capsys.readouterr().err
        assert not out.exists()
    finally:
        lock.release()
    assert main(["batch", str(source), "-o", str(out), "--fake", "-q"]) == 0
    assert len(read_output(out)) == 2
    assert main(["batch", str(source), "-o", str(out), "--fake", "-q"]) == 0  # lock reusable
