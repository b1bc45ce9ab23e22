"""``aiohelicone report``: end to end on the embedded fake, JSON and table output, arguments."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from aiohelicone._analytics import summarize
from aiohelicone._cli_report import parse_duration, render_report
from aiohelicone.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiohelicone", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_report_fake_end_to_end_prints_an_aligned_table() -> None:
    """`aiohelicone report --fake` seeds traffic and prints one aligned row per model."""
    done = run_cli("report", "--fake")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Helicone report: 8 requests in the last 24h, by model"
    header = lines[2]
    assert header.split() == [
        "model", "requests", "errors", "cache", "hits", "cost", "USD", "tokens",
        "p50", "ms", "p90", "ms", "p99", "ms",
    ]  # fmt: skip
    table = lines[2 : lines.index("", 2)]
    rows = {line.split()[0]: line for line in table[2:] if not line.startswith("-")}
    assert set(rows) == {"gpt-4o", "gpt-4o-mini", "claude-3.5-haiku", "total"}
    # Right-aligned numeric columns end where their headers end.
    assert {len(line) for line in table if not line.startswith("-")} == {len(header)}
    assert rows["total"].split()[1:4] == ["8", "12.5%", "12.5%"]
    assert rows["claude-3.5-haiku"].split()[2] == "50.0%"
    assert "Requests per 1h (UTC):" in lines


def test_report_fake_json_by_user(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the report as JSON; --by user groups by Helicone-User-Id."""
    assert main(["report", "--fake", "--json", "--by", "user"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by"] == "user"
    assert {g["key"]: g["requests"] for g in data["groups"]} == {"alice": 4, "bob": 2, "carol": 2}
    total = data["total"]
    assert (total["requests"], total["errors"], total["cached"]) == (8, 1, 1)
    assert total["cost_usd"] > 0
    assert total["latency_ms"]["count"] == 8
    assert total["latency_ms"]["p99"] >= total["latency_ms"]["p50"]


def test_report_fake_by_property_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """--by property:NAME groups by a custom property; --limit caps the rows read."""
    assert main(["report", "--fake", "--json", "--by", "property:env", "--limit", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["requests"] == 5
    assert {g["key"] for g in data["groups"]} <= {"prod", "staging"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "positive duration"),
        (["--since", "0h"], "positive duration"),
        (["--by", "colour"], "property:<name>"),
        (["--bucket", "5x"], "positive duration"),
        (["--limit", "-1"], "non-negative integer"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad --since/--by/--bucket values are argparse errors (exit 2) naming the problem."""
    with pytest.raises(SystemExit) as exited:
        main(["report", "--fake", *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_report_without_a_key_fails_cleanly() -> None:
    """Without --fake and without HELICONE_API_KEY: one error line, exit 1, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELICONE_")}
    done = run_cli("report", env=env)
    assert done.returncode == 1
    assert "HELICONE_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr


def test_parse_duration_units() -> None:
    """90s, 30m, 24h, 7d, 2w and decimals; anything else is an ArgumentTypeError."""
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration("1.5d") == timedelta(hours=36)
    assert parse_duration(" 2w ") == timedelta(weeks=2)
    for bad in ("", "h", "-1h", "10", "3y"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)


def test_render_empty_report() -> None:
    """No requests: a title and a one-line note, no table."""
    text = render_report(summarize([]), since=timedelta(days=7))
    assert text == "Helicone report: 0 requests in the last 7d, by model\nNo requests."


def test_demo_shows_feedback_and_a_cost_report() -> None:
    """`aiohelicone demo` ends with feedback on the first call and a per-model cost table."""
    done = run_cli("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Feedback and a cost report" in out
    assert "feedback on the first call: thumbs up" in out
    section = out[out.index("Feedback and a cost report") :]
    assert "gpt-4o-mini" in section
    assert "total" in section
