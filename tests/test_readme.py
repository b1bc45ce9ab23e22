"""The README cannot drift: its Quick start matches CI, and every Python example runs."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiohelicone import AsyncHelicone, HeliconeOptions
from aiohelicone.testing import FakeGateway, LoopbackServer, serve

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block in the given language."""
    found = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```", README, re.S | re.M):
        line = README.count("\n", 0, match.start()) + 1
        found.append((line, match.group(1)))
    return found


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh|shell|console)\n(.*?)```", section, re.S)
    assert block is not None, "Quick start has no shell code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands() -> None:
    """The first shell block under Quick start holds the demo and the test command."""
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert "pip install" in commands[0] and "aiohelicone demo" in commands[0]
    assert "pip install" in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs the README's second Quick start command verbatim."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _quick_start_commands()[1] in ci.splitlines()


PYTHON_BLOCKS = _blocks("python")
PYTEST_FILES = [(line, code) for line, code in PYTHON_BLOCKS if code.startswith("# test_")]
SCRIPT_BLOCKS = [(line, code) for line, code in PYTHON_BLOCKS if "anyio.run(" in code]
SNIPPETS = [
    (line, code)
    for line, code in PYTHON_BLOCKS
    if "anyio.run(" not in code and not code.startswith("# test_")
]


def test_readme_has_examples() -> None:
    """The examples this test runs are really there."""
    assert len(SNIPPETS) >= 8
    assert SCRIPT_BLOCKS
    assert PYTEST_FILES


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeGateway, LoopbackServer]]:
    gateway = FakeGateway()
    async with serve(gateway) as server:
        yield gateway, server


@pytest.mark.anyio
@pytest.mark.parametrize(("line", "code"), SNIPPETS, ids=[f"line{n}" for n, _ in SNIPPETS])
async def test_readme_snippet_runs(
    line: int,
    code: str,
    fake: tuple[FakeGateway, LoopbackServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each Python snippet runs against the fake gateway, with `client` pointed at it."""
    gateway, server = fake
    async with AsyncHelicone(
        api_key="sk-helicone-readme", base_url=f"{server.url}/v1", rest_base_url=server.url
    ) as client:
        namespace: dict[str, Any] = {
            "client": client,
            "AsyncHelicone": AsyncHelicone,
            "HeliconeOptions": HeliconeOptions,
        }
        # dont_inherit: run the snippet as a reader would, without this file's
        # `from __future__ import annotations` (which would turn its annotations into strings).
        compiled = compile(
            code,
            f"README.md:{line}",
            "exec",
            flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
        result = eval(compiled, namespace)
        if result is not None:
            await result
    own = namespace.get("gateway")  # an example that serves its own fake
    used = own.requests if isinstance(own, FakeGateway) else gateway.requests
    if "client." in code:
        assert used, "the example made no request"
    capsys.readouterr()


@pytest.mark.parametrize(
    ("line", "code"), SCRIPT_BLOCKS, ids=[f"line{n}" for n, _ in SCRIPT_BLOCKS]
)
def test_readme_script_runs(line: int, code: str, tmp_path: Path) -> None:
    """Whole-script examples run in a fresh process against `aiohelicone serve-fake`."""
    server = subprocess.Popen(
        [sys.executable, "-m", "aiohelicone", "serve-fake", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", ready)
        assert url is not None, ready
        script = tmp_path / "example.py"
        script.write_text(code, encoding="utf-8")
        env = {
            **os.environ,
            "HELICONE_API_KEY": "sk-helicone-readme",
            "HELICONE_BASE_URL": f"{url.group(0)}/v1",
        }
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


@pytest.mark.parametrize(("line", "code"), PYTEST_FILES, ids=[f"line{n}" for n, _ in PYTEST_FILES])
def test_readme_pytest_example_passes(line: int, code: str, tmp_path: Path) -> None:
    """The README's complete pytest example passes when run as a test file of its own."""
    (tmp_path / "test_example.py").write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
