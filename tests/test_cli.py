"""The command line end to end, through subprocesses (``python -m aiohelicone``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any

import anyio
import httpx2
import pytest

from aiohelicone import cli
from aiohelicone.testing import FakeGateway, serve

BACKENDS = ["asyncio", "trio"]
# Helicone variables of the developer's shell must not leak into the runs.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("HELICONE_")}
CLEAN_ENV.pop("AIOHELICONE_DEBUG", None)


def aiohelicone(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiohelicone", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or CLEAN_ENV,
        timeout=30,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("aiohelicone")
    for needle in needles:
        assert needle in done.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_demo_shows_every_scenario(backend: str) -> None:
    """demo: exits 0 and shows the answer, a stream, properties, MISS then HIT, and a 429."""
    done = aiohelicone("--backend", backend, "demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "You said: What is the capital of France?" in out
    assert "Streaming" in out and "You said: Write a short poem about AI" in out
    assert "'environment': 'production'" in out
    assert out.index("first call: cache MISS") < out.index("second call: cache HIT")
    assert "call 3: 429" in out
    assert "cut after 6 events: StreamTruncatedError, partial 'You said:'" in out
    assert done.stderr == ""


def test_chat_fake_streams_text() -> None:
    """chat --fake -m MODEL prompt: the answer on stdout, nothing on stderr."""
    # trio runs of chat: test_chat_options_reach_the_gateway and test_gateway_error_is_one_line.
    done = aiohelicone("chat", "--fake", "-m", "gpt-4o-mini", "hi")
    assert (done.returncode, done.stdout, done.stderr) == (0, "You said: hi\n", "")


def test_chat_json_reads_stdin() -> None:
    """chat --json with the prompt on stdin: one JSON document with Helicone metadata."""
    done = aiohelicone("chat", "--fake", "--json", "-m", "claude-3.5-haiku/anthropic", stdin="hi\n")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["object"] == "chat.completion"
    # The trailing newline of the piped prompt is not sent.
    assert data["choices"][0]["message"]["content"] == "You said: hi"
    assert data["helicone"]["provider"] == "anthropic"
    assert data["usage"]["total_tokens"] > 0


def test_chat_responses_streams_and_prints_json() -> None:
    """chat --responses streams from /v1/responses; with --json it prints the Response."""
    done = aiohelicone("chat", "--fake", "--responses", "-m", "gpt-4o-mini", "hi")
    assert (done.returncode, done.stdout, done.stderr) == (0, "You said: hi\n", "")
    done = aiohelicone("chat", "--fake", "--responses", "--json", "--max-tokens", "1", "a b c")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["object"] == "response" and data["status"] == "incomplete"
    assert data["helicone"]["provider"] == "openai"


@pytest.mark.anyio
async def test_chat_options_reach_the_gateway(anyio_backend: str) -> None:
    """chat --base-url: key, properties, user, session, cache and parameters are all sent."""
    gateway = FakeGateway()
    env = {**CLEAN_ENV, "HELICONE_API_KEY": "sk-helicone-cli"}
    async with serve(gateway) as server:
        done = await anyio.run_process(
            [
                sys.executable,
                "-m",
                "aiohelicone",
                "--backend",
                anyio_backend,
                "chat",
                "--base-url",
                f"{server.url}/v1",
                "-m",
                "gpt-4o-mini/openai",
                "-p",
                "env=prod",
                "-p",
                "Team=a=b",
                "--user",
                "u1",
                "--session",
                "s1",
                "--cache",
                "-t",
                "0.5",
                "--max-tokens",
                "20",
                "hello",
                "there",
            ],
            env=env,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == "You said: hello there\n"
    (record,) = gateway.requests
    assert record.headers["authorization"] == "Bearer sk-helicone-cli"
    assert record.properties == {"env": "prod", "team": "a=b"}
    assert record.headers["helicone-property-Team".lower()] == "a=b"
    assert (record.user_id, record.session_id) == ("u1", "s1")
    assert record.headers["helicone-cache-enabled"] == "true"
    assert record.json["model"] == "gpt-4o-mini/openai"
    assert record.json["messages"] == [{"role": "user", "content": "hello there"}]
    assert (record.json["temperature"], record.json["max_tokens"]) == (0.5, 20)
    assert record.json["stream"] is True


def test_chat_without_key_is_one_clear_line() -> None:
    """chat with no HELICONE_API_KEY and no --fake: exit 1, one line naming the variable."""
    assert_one_line_error(aiohelicone("chat", "hi"), "HELICONE_API_KEY")


def test_bad_property_is_one_line_and_debug_shows_traceback() -> None:
    """A bad -p value: one line and exit 1; with --debug the traceback is shown."""
    assert_one_line_error(aiohelicone("chat", "--fake", "-p", "novalue", "hi"), "--property")
    done = aiohelicone("--debug", "chat", "--fake", "-p", "novalue", "hi")
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_gateway_error_is_one_line() -> None:
    """A gateway refusal (no provider for the model): one line with the gateway's message."""
    done = aiohelicone("--backend", "trio", "chat", "--fake", "-m", "nosuch/openai", "hi")
    assert_one_line_error(done, "No available providers")


def test_top_level_help() -> None:
    """--help lists every command and exits 0."""
    done = aiohelicone("--help")
    assert done.returncode == 0
    for command in ("demo", "chat", "serve-fake"):
        assert command in done.stdout


def _commands() -> list[str]:
    parser = cli._parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(sub.choices, dict)
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """COMMAND --help prints a usage line and exits 0 (in process: argparse only)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: aiohelicone {command}" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX")
@pytest.mark.anyio
async def test_serve_fake_serves_then_ctrl_c_exits_130(anyio_backend: str) -> None:
    """serve-fake --port N: serves completions; SIGINT exits 130 without a traceback."""
    port = _free_port()
    command = [sys.executable, "-m", "aiohelicone", "--backend", anyio_backend]
    command += ["serve-fake", "--port", str(port)]
    async with await anyio.open_process(command, env=CLEAN_ENV) as process:
        assert process.stdout is not None and process.stderr is not None
        ready = b""
        with anyio.fail_after(15):
            while not ready.endswith(b"\n"):
                ready += await process.stdout.receive(1)
        assert f"http://127.0.0.1:{port}".encode() in ready

        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}/v1") as http:
            response = await http.post(
                "/chat/completions",
                headers={"authorization": "Bearer sk-helicone-any"},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            )
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        assert body["choices"][0]["message"]["content"] == "You said: hi"
        assert response.headers["helicone-provider"] == "openai"

        process.send_signal(signal.SIGINT)
        with anyio.fail_after(15):
            returncode = await process.wait()
        stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr == "interrupted\n"
