"""Layer 9 (command line): ``aiohelicone report``: cost, volume, latency, errors, cache hits.

    aiohelicone report [--since 24h] [--by model|provider|user|session|property:NAME]
                       [--bucket 1h] [--limit N] [--json] [--fake]

It queries ``POST /v1/request/query-clickhouse`` (``client.requests.query``) for the
requests since ``--since`` and summarises them client-side (``_analytics.py``). Requests
whose log has no cost are priced from Helicone's model registry (``client.models.registry()``,
read only when some cost is missing) and shown apart, marked ``~`` as estimates. ``--fake``
first sends some traffic through the embedded fake gateway, then reports on it: no key and
no network.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._analytics import GroupStats, Report, group_key, registry_estimator, summarize

if TYPE_CHECKING:
    from ._client import AsyncHelicone
    from .testing import FakeGateway

__all__ = ["add_report_parser", "parse_duration", "render_report"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_DEFAULT_LIMIT = 10_000


def parse_duration(text: str) -> timedelta:
    """Read ``90s``, ``30m``, ``24h``, ``7d`` or ``2w``.

    Args:
        text: the duration.

    Returns:
        The timedelta.

    Raises:
        argparse.ArgumentTypeError: not a positive duration in one of those units.
    """
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 90s, 30m, 24h, 7d or 2w, got {text!r}"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _grouping(text: str) -> str:
    try:
        group_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


def add_report_parser(sub: Any) -> None:
    """Register the ``report`` command on the CLI's subparsers.

    Args:
        sub: the object ``ArgumentParser.add_subparsers()`` returned.
    """
    report = sub.add_parser(
        "report",
        help="cost, volume, latency and error report from Helicone's REST API",
        description="Summarise the requests Helicone logged (client-side analytics).",
    )
    report.add_argument(
        "--since", type=parse_duration, default=timedelta(hours=24), help="look back (24h)"
    )
    report.add_argument(
        "--by",
        type=_grouping,
        default="model",
        help="group by model (default), provider, user, session or property:NAME",
    )
    report.add_argument(
        "--bucket", type=parse_duration, default=timedelta(hours=1), help="volume bucket (1h)"
    )
    report.add_argument(
        "--limit",
        type=_count,
        default=_DEFAULT_LIMIT,
        help=f"most requests read ({_DEFAULT_LIMIT})",
    )
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.add_argument(
        "--fake", action="store_true", help="report on seeded traffic of the embedded fake"
    )
    report.add_argument(
        "--rest-base-url",
        default=None,
        help="REST API URL (default: HELICONE_REST_BASE_URL or https://api.helicone.ai)",
    )
    report.add_argument("--region", choices=("us", "eu"), default=None, help="REST API region")
    report.set_defaults(func=run_report)


async def run_report(args: argparse.Namespace) -> int:
    """Run ``aiohelicone report``.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).

    Raises:
        HeliconeError: no API key, or the REST API failed.
    """
    from ._client import AsyncHelicone

    if args.fake:
        from .testing import FakeGateway, serve

        gateway = FakeGateway()
        async with (
            serve(gateway) as server,
            AsyncHelicone(
                api_key="sk-helicone-fake", base_url=f"{server.url}/v1", rest_base_url=server.url
            ) as client,
        ):
            await seed_traffic(client, gateway)
            report, note = await _query_report(client, args)
    else:
        async with AsyncHelicone(rest_base_url=args.rest_base_url, region=args.region) as client:
            report, note = await _query_report(client, args)
    if args.json:
        data = report.as_dict()
        if note is not None:
            data["note"] = note
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(render_report(report, since=args.since, note=note) + "\n")
    sys.stdout.flush()
    return 0


async def _query_report(
    client: AsyncHelicone, args: argparse.Namespace
) -> tuple[Report, str | None]:
    """The report, and a note when costs are missing and the registry could not be read."""
    from ._exceptions import APIError
    from ._rest_filters import RequestFilter

    query = client.requests.query(
        RequestFilter.created_after(args.since),
        sort={"created_at": "desc"},
        limit=args.limit,
        page_size=min(max(args.limit, 1), 1000),
    )
    records = [record async for record in query]
    uncosted = sum(1 for r in records if r.cost is None)
    estimate, note = None, None
    if uncosted:
        try:
            estimate = registry_estimator(await client.models.registry())
        except APIError as exc:
            note = (
                f"{uncosted} requests have no logged cost, and the model registry could not "
                f"be read to estimate it: {exc}"
            )
    return summarize(records, by=args.by, bucket=args.bucket, estimate=estimate), note


async def seed_traffic(client: AsyncHelicone, gateway: FakeGateway) -> None:
    """Send a small, varied workload through the fake gateway (about 0.2 s).

    Three models, three users, an ``env`` property, a session, a stream, a cache hit, a
    failure, and thumbs-up feedback on the first request.

    Args:
        client: a client pointed at the fake (gateway and REST API).
        gateway: the fake, scripted here.
    """
    from ._exceptions import APIStatusError
    from ._helicone import HeliconeOptions
    from .testing import Fail, Reply

    def usage(prompt: int, completion: int) -> dict[str, int]:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    gateway.script(
        "gpt-4o-mini/openai",
        [Reply(delay=d, usage=usage(p, c)) for d, p, c in ((0.01, 420, 180), (0.02, 380, 95))],
    )
    gateway.script("gpt-4o/openai", [Reply(delay=0.04, usage=usage(1200, 640))] * 2)
    gateway.script(
        "claude-3.5-haiku/anthropic",
        [Reply(delay=0.03, usage=usage(900, 300)), Fail(503, message="overloaded")],
    )
    plan = [
        ("gpt-4o-mini/openai", "alice", "prod", False, False),
        ("gpt-4o-mini/openai", "bob", "prod", False, False),
        ("gpt-4o/openai", "alice", "prod", False, False),
        ("gpt-4o/openai", "carol", "staging", True, False),
        ("claude-3.5-haiku/anthropic", "bob", "staging", True, False),
        ("claude-3.5-haiku/anthropic", "carol", "prod", False, False),
        ("gpt-4o-mini/openai", "alice", "prod", False, True),
        ("gpt-4o-mini/openai", "alice", "prod", False, True),
    ]
    first = None
    for index, (model, user, env, stream, cache) in enumerate(plan):
        options = HeliconeOptions(
            user_id=user,
            properties={"env": env},
            session_id="demo-session" if index < 3 else None,
            cache_enabled=True if cache else None,
        )
        messages = [{"role": "user", "content": "Cached question" if cache else f"Q{index}"}]
        try:
            if stream:
                chunks = await client.chat.completions.create(
                    model=model, messages=messages, helicone=options, stream=True, max_retries=0
                )
                async with chunks:
                    await chunks.get_final_completion()
            else:
                result = await client.chat.completions.create(
                    model=model, messages=messages, helicone=options, max_retries=0
                )
                first = first or result
        except APIStatusError:
            pass  # the scripted failure: it is logged with its status, as Helicone would
    if first is not None:
        await client.requests.feedback(first, True)


def _money(value: float) -> str:
    return f"{value:.6f}" if value < 1 else f"{value:,.2f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _row(g: GroupStats, estimates: bool) -> list[str]:
    cells = [g.key, str(g.requests), _rate(g.error_rate), _rate(g.cache_hit_rate), _money(g.cost)]
    if estimates:
        cells.append(f"~{_money(g.estimated_cost)}" if g.estimated else "-")
    return [
        *cells,
        f"{g.total_tokens:,}",
        _ms(g.latency.p50),
        _ms(g.latency.p90),
        _ms(g.latency.p99),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def render_report(
    report: Report, *, since: timedelta | None = None, note: str | None = None
) -> str:
    """The plain-text report: a summary line, a table per group, and volume per bucket.

    When some requests were priced by an estimate, an ``est. USD`` column (values marked
    ``~``) and a line saying so follow ``cost USD``, which stays the logged cost.

    Args:
        report: what :func:`analyze` returned.
        since: the look-back window, for the title.
        note: a line to add at the end (e.g. why costs could not be estimated).

    Returns:
        Aligned text (no colours, no trailing spaces).
    """
    total = report.total
    window = "" if since is None else f" in the last {_duration(since)}"
    lines = [f"Helicone report: {total.requests} requests{window}, by {report.by}"]
    if not total.requests:
        return "\n".join([*lines, "No requests.", *([note] if note else [])])
    lines.append("")
    estimates = total.estimated > 0
    header = [report.by, "requests", "errors", "cache hits", "cost USD"]
    header += ["est. USD"] if estimates else []
    header += ["tokens", "p50 ms", "p90 ms", "p99 ms"]
    rows = [_row(g, estimates) for g in report.groups]
    body = _table(header, [*rows, _row(total, estimates)])
    # A rule above the total row.
    lines += [*body[:-1], body[1], body[-1]]
    if estimates:
        lines.append(
            f"~ estimated: {total.estimated} requests had no logged cost; priced from "
            "Helicone's model registry at base prices (not included in cost USD)."
        )
    if report.volume:
        lines += ["", f"Requests per {_duration(report.bucket)} (UTC):"]
        peak = max(b.requests for b in report.volume) or 1
        for b in report.volume:
            bar = "#" * round(b.requests / peak * 40)
            when = b.start.strftime("%Y-%m-%d %H:%M")
            lines.append(f"  {when}  {b.requests:>6}  {bar}".rstrip())
    if report.undated:
        lines.append(f"({report.undated} requests had no date and are not in the volume.)")
    if note:
        lines.append(note)
    return "\n".join(lines)


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        # "24h" reads better than "1d": days and weeks only from two of them.
        if seconds >= size * (2 if unit in "wd" else 1) and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
