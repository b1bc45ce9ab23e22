"""Run the aiohelicone benchmarks against raw httpx2 and print a table of ratios.

One command (see benchmarks/README.md)::

    python benchmarks/run.py [--quick] [--reps 5] [--only chat_c1,stream_1] \\
        [--drivers httpx2,aiohelicone] [--backends asyncio,trio] [--json out.json]

It starts ``server.py`` in its own process (pinned to the second CPU), then runs every
(scenario, driver, backend) in a fresh ``drivers.py`` process (pinned to the first CPU)
``--reps`` times, rotating the driver order each repetition so machine noise spreads evenly,
and reports medians. Ratios compare each driver with raw httpx2 on the same backend in the same
run; ``trio/asyncio`` compares one driver with itself across backends.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _affinity import pin_to_cpu

HERE = Path(__file__).resolve().parent
BASELINE = "httpx2"
ALL_DRIVERS = (
    "httpx2",
    "aiohelicone",
    "aiohelicone-fast",
    "aiohelicone-chain",
    "aiohelicone-batch",
    "openai",
)
ASYNCIO_ONLY = frozenset({"openai"})
IMPORT_MODULES = {"httpx2": "httpx2", "aiohelicone": "aiohelicone", "openai": "openai"}
MIN_IMPORT_REPS = 7
QUICK_IMPORT_REPS = 3


@dataclass(frozen=True)
class Scenario:
    """One row of issue 8's table."""

    name: str
    title: str
    kind: str  # "chat", "stream" or "import"
    count: int = 0  # requests, or streams
    chunks: int = 0  # per stream
    concurrency: int = 1
    quick_count: int = 0
    quick_chunks: int = 0
    quick_rounds: int = 1
    rounds: int = 1  # measured rounds inside each child process (median kept)
    primary: str = "cpu_us_per_unit"  # the metric the target is about
    drivers: tuple[str, ...] = ("httpx2", "aiohelicone", "openai")


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "chat_c1",
            "chat, 2,000 requests, concurrency 1",
            "chat",
            2000,
            0,
            1,
            100,
            drivers=("httpx2", "aiohelicone", "aiohelicone-fast", "aiohelicone-chain", "openai"),
        ),
        Scenario(
            "chat_c64",
            "chat, 5,000 requests, concurrency 64",
            "chat",
            5000,
            0,
            64,
            320,
            drivers=("httpx2", "aiohelicone", "aiohelicone-fast", "aiohelicone-chain", "openai"),
        ),
        # A stream scenario takes a fraction of a second: each child measures several rounds.
        Scenario(
            "stream_1",
            "one stream of 5,000 chunks",
            "stream",
            1,
            5000,
            1,
            1,
            500,
            rounds=5,
            drivers=("httpx2", "aiohelicone", "aiohelicone-fast", "openai"),
        ),
        Scenario(
            "stream_c32",
            "300 streams x 50 chunks, concurrency 32",
            "stream",
            300,
            50,
            32,
            64,
            50,
            rounds=3,
            drivers=("httpx2", "aiohelicone", "aiohelicone-fast", "openai"),
        ),
        Scenario(
            "mem_c256",
            "10,000 requests, concurrency 256 (peak memory, throughput)",
            "chat",
            10000,
            0,
            256,
            256,
            primary="peak_rss_mb",
            drivers=("httpx2", "aiohelicone", "aiohelicone-batch", "openai"),
        ),
        Scenario("import", "`python -c 'import X'` (fresh process)", "import"),
    )
}

UNIT = {"chat": "µs/req", "stream": "µs/chunk"}


# ---------------------------------------------------------------------------------------------
# Processes


class BenchServer:
    """The loopback server subprocess; stops when its stdin closes."""

    def __init__(self, events_per_chunk: int) -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "server.py"),
                "--port=0",
                f"--events-per-chunk={events_per_chunk}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"bench server did not start (said {line!r})")
        self.port = int(line)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            self._proc.wait(timeout=10)


def child_env() -> dict[str, str]:
    """The environment for every child: as ours, but allowed to use and write ``.pyc`` files.

    With PYTHONDONTWRITEBYTECODE set (as on some CI and sandbox machines), an editable install
    such as ``pip install -e .`` recompiles its sources in every process: that inflates import
    time and peak RSS for the library under test only, and never happens to a user whose pip
    compiled the wheel.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def precompile(packages: Iterable[str]) -> None:
    """Write ``.pyc`` files for ``packages`` (and the benchmark scripts) without importing them."""
    dirs = [HERE]
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(Path(p) for p in spec.submodule_search_locations)
    for d in dirs:
        compileall.compile_dir(d, quiet=1, workers=1)


def probe(code: str) -> str | None:
    """Run ``code`` in a fresh interpreter; None when it works, else the error's last line."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE,
        env=child_env(),
    )
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def available_drivers(wanted: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``wanted`` into drivers whose library imports and skipped ones with a reason."""
    checks = {
        "httpx2": "import httpx2",
        "aiohelicone": "import aiohelicone; aiohelicone.AsyncHelicone",
        "aiohelicone-chain": "import aiohelicone; aiohelicone.AsyncHelicone",
        "aiohelicone-fast": "import aiohelicone._json, orjson",
        "aiohelicone-batch": "import aiohelicone; aiohelicone.AsyncHelicone; aiohelicone.run_batch",
        "openai": "import openai; openai.AsyncOpenAI",
    }
    ok: list[str] = []
    skipped: dict[str, str] = {}
    for name in wanted:
        reason = probe(checks[name])
        if reason is None:
            ok.append(name)
        else:
            skipped[name] = reason
    return ok, skipped


def run_child(
    port: int, scenario: Scenario, driver: str, backend: str, quick: bool, timeout: float
) -> dict[str, Any]:
    """Measure one (scenario, driver, backend) in a fresh process; return its JSON result."""
    count = scenario.quick_count if quick else scenario.count
    chunks = (scenario.quick_chunks if quick else scenario.chunks) or 50
    cmd = [
        sys.executable,
        str(HERE / "drivers.py"),
        f"--port={port}",
        f"--driver={driver}",
        f"--backend={backend}",
        f"--kind={scenario.kind}",
        f"--count={count}",
        f"--chunks={chunks}",
        f"--concurrency={scenario.concurrency}",
        f"--rounds={scenario.quick_rounds if quick else scenario.rounds}",
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=child_env()
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = proc.stderr.strip().splitlines()
        return {"error": err[-1] if err else f"exit {proc.returncode}, no output"}
    return result


def time_imports(modules: dict[str, str], reps: int) -> dict[str, dict[str, Any]]:
    """Median wall time of ``python -c "import X"`` and of the import statement alone.

    Each repetition runs every module once (interleaved) after one untimed warm run, which
    fills the OS file cache and writes ``.pyc`` files. The in-process probe also reports the
    number of threads alive after the import (a library should start none).
    """
    probe_code = (
        "import time; t = time.perf_counter(); import {m}; d = time.perf_counter() - t; "
        "import threading; print(d, threading.active_count())"
    )
    targets = {"(bare python)": "pass", **{name: f"import {m}" for name, m in modules.items()}}

    def pin() -> None:
        pin_to_cpu(0)

    def run(code: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            preexec_fn=pin,  # only sets CPU affinity
        )
        return time.perf_counter() - t0, proc.stdout

    env = child_env()
    for code in targets.values():
        run(code)
    walls: dict[str, list[float]] = {name: [] for name in targets}
    inproc: dict[str, list[float]] = {name: [] for name in modules}
    threads: dict[str, int] = {}
    for _ in range(reps):
        for name, code in targets.items():
            walls[name].append(run(code)[0])
            if name in modules:
                out = run(probe_code.format(m=modules[name]))[1].split()
                inproc[name].append(float(out[0]))
                threads[name] = int(out[1])
    return {
        name: {
            "wall_ms": 1000 * statistics.median(walls[name]),
            "wall_ms_runs": [1000 * w for w in walls[name]],
            "import_ms": 1000 * statistics.median(inproc[name]) if name in inproc else None,
            "threads_after_import": threads.get(name),
        }
        for name in targets
    }


# ---------------------------------------------------------------------------------------------
# Reporting


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of every metric over the successful runs, plus the primary metric's spread."""
    good = [r for r in runs if "units" in r]
    if not good:
        first = runs[0] if runs else {}
        return {"skipped": first.get("skipped"), "error": first.get("error")}
    keys = [
        "cpu_us_per_unit",
        "wall_s",
        "rate_per_s",
        "peak_rss_mb",
        "client_cpu_pct",
        "server_cpu_pct",
    ]
    out: dict[str, Any] = {k: _median(good, k) for k in keys}
    cpu = [r["cpu_us_per_unit"] for r in good]
    out["cpu_us_min"] = min(cpu)
    out["cpu_spread_pct"] = 100 * (max(cpu) - min(cpu)) / statistics.median(cpu)
    out["n"] = len(good)
    out["failed"] = len(runs) - len(good)
    return out


def add_paired_ratios(
    results: dict[str, dict[str, dict[str, Any]]], runs: dict[str, dict[str, list[dict[str, Any]]]]
) -> None:
    """Add each driver's median paired ratio: its CPU over raw httpx2's in the same repetition.

    The two runs of a pair are adjacent in time, so slow drifts of the machine (another
    tenant, frequency changes) largely cancel; the median then discards the odd pair.
    """
    for key, by_driver in runs.items():
        base_runs = by_driver.get(BASELINE, [])
        for driver, driver_runs in by_driver.items():
            ratios = [
                run["cpu_us_per_unit"] / base["cpu_us_per_unit"]
                for run, base in zip(driver_runs, base_runs, strict=False)
                if "units" in run and "units" in base and base["cpu_us_per_unit"] > 0
            ]
            if ratios:
                results[key][driver]["paired_ratio"] = statistics.median(ratios)
                results[key][driver]["paired_ratios"] = ratios


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def _paired(summary: dict[str, Any]) -> str:
    value = summary.get("paired_ratio")
    return "-" if value is None else f"{value:.2f}x"


def render(report: dict[str, Any]) -> str:
    """The markdown report: machine, results table, trio/asyncio table, imports table."""
    meta = report["meta"]
    out = [
        f"# Benchmarks ({meta['date']})",
        "",
        f"- machine: {meta['machine']}; {meta['cpus']} CPUs usable; pinning: {meta['pinning']}",
        f"- python {meta['python']}; " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- mode: {'quick' if meta['quick'] else 'full'}; {meta['reps']} repetitions, medians; "
        f"SSE events per HTTP chunk: {meta['events_per_chunk'] or 'all'}",
    ]
    out.extend(f"- skipped {name}: {why}" for name, why in meta["skipped"].items())
    results: dict[str, dict[str, dict[str, Any]]] = report["results"]
    if results:
        out += [
            "",
            "Ratios are to raw httpx2 on the same backend in this run. CPU = client process "
            "time per request (chat) or per chunk (streams), median over the repetitions; min and "
            "spread = (max-min)/median of it show the noise. *paired* = median over the "
            "repetitions of (this driver's CPU / raw httpx2's CPU in the same repetition), the "
            "ratio least moved by a noisy machine.",
            "",
            "| scenario | backend | driver | client CPU | x raw | paired | min | spread | wall s | "
            "rate/s | x raw | peak MB | x raw | client CPU % | server CPU % |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for key, by_driver in results.items():
            scen_name, backend = key.split("/")
            scen = SCENARIOS[scen_name]
            base = by_driver.get(BASELINE, {})
            for driver, s in by_driver.items():
                if "cpu_us_per_unit" not in s:
                    why = s.get("skipped") or s.get("error") or "no result"
                    out.append(f"| {scen_name} | {backend} | {driver} | {why} |" + " |" * 11)
                    continue
                unit = UNIT[scen.kind]
                out.append(
                    f"| {scen_name} | {backend} | {driver} "
                    f"| {s['cpu_us_per_unit']:.1f} {unit} "
                    f"| {_ratio(s['cpu_us_per_unit'], base.get('cpu_us_per_unit'))} "
                    f"| {_paired(s)} "
                    f"| {s['cpu_us_min']:.1f} "
                    f"| {s['cpu_spread_pct']:.0f}% "
                    f"| {s['wall_s']:.2f} | {s['rate_per_s']:.0f} "
                    f"| {_ratio(s['rate_per_s'], base.get('rate_per_s'))} "
                    f"| {s['peak_rss_mb']:.1f} "
                    f"| {_ratio(s['peak_rss_mb'], base.get('peak_rss_mb'))} "
                    f"| {s['client_cpu_pct']:.0f} | {s['server_cpu_pct']:.0f} |"
                )
        out += _render_backend_ratios(results)
        peaks = [
            r["server_cpu_pct"]
            for by in report["runs"].values()
            for rs in by.values()
            for r in rs
            if "server_cpu_pct" in r
        ]
        if peaks:
            verdict = "the client was the bottleneck" if max(peaks) < 50 else "CHECK THE SERVER"
            out += [
                "",
                f"Server CPU over each measured window: at most {max(peaks):.0f}% of its core "
                f"({verdict}).",
            ]
    if report.get("imports"):
        base_ms = report["imports"].get(BASELINE, {}).get("wall_ms")
        out += [
            "",
            f"Import (median of {meta['import_reps']} fresh processes): `python -c` wall time "
            "including interpreter start-up, and the import statement alone.",
            "",
            "| module | `python -c` ms | x httpx2 | import alone ms | threads after |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, s in report["imports"].items():
            alone = "-" if s["import_ms"] is None else f"{s['import_ms']:.1f}"
            threads = "-" if s["threads_after_import"] is None else s["threads_after_import"]
            out.append(
                f"| {name} | {s['wall_ms']:.1f} | {_ratio(s['wall_ms'], base_ms)} "
                f"| {alone} | {threads} |"
            )
    return "\n".join(out) + "\n"


def _render_backend_ratios(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    rows = []
    drivers = sorted({d for by in results.values() for d in by}, key=ALL_DRIVERS.index)
    for scen_name in SCENARIOS:
        a = results.get(f"{scen_name}/asyncio", {})
        t = results.get(f"{scen_name}/trio", {})
        if not a or not t:
            continue
        cells = []
        for d in drivers:
            metric = SCENARIOS[scen_name].primary
            cells.append(_ratio(t.get(d, {}).get(metric), a.get(d, {}).get(metric)))
        rows.append(f"| {scen_name} | {SCENARIOS[scen_name].primary} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "",
        "trio / asyncio, same driver, same run (target for aiohelicone: ≤ 1.20x):",
        "",
        "| scenario | metric | " + " | ".join(drivers) + " |",
        "|---|---|" + "---:|" * len(drivers),
        *rows,
    ]


def machine_info() -> dict[str, Any]:
    """Where and with what the numbers were measured."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("aiohelicone", "httpx2", "httpcore2", "anyio", "trio", "openai", "httpx"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {model}",
        "cpus": cpus,
        "pinning": "client CPU 0, server CPU 1"
        if cpus and cpus >= 2 and hasattr(os, "sched_setaffinity")
        else "none",
        "python": platform.python_version(),
        "versions": versions,
    }


# ---------------------------------------------------------------------------------------------
# Main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, 1 rep: a smoke test")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 1)")
    parser.add_argument(
        "--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS)
    )
    parser.add_argument("--drivers", default=",".join(ALL_DRIVERS), help="comma-separated drivers")
    parser.add_argument("--backends", default="asyncio,trio", help="comma-separated backends")
    parser.add_argument("--json", type=Path, help="also write every run and the medians here")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument(
        "--events-per-chunk",
        type=int,
        default=1,
        help="SSE events per HTTP chunk in streams (default 1, as a flushing gateway sends; "
        "0 = the whole stream in one HTTP chunk)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="per child process, s")
    args = parser.parse_args(argv)

    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    scenarios = [SCENARIOS[n] for n in names]
    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    backends = [b for b in args.backends.split(",") if b]
    wanted = [d for d in args.drivers.split(",") if d]
    bad = [d for d in wanted if d not in ALL_DRIVERS]
    if bad:
        parser.error(f"unknown driver(s) {bad}; choose from {list(ALL_DRIVERS)}")
    if BASELINE not in wanted:
        wanted.insert(0, BASELINE)
    precompile(p for p in ("httpx2", "aiohelicone", "openai") if importlib.util.find_spec(p))
    drivers, skipped = available_drivers(wanted)
    if BASELINE not in drivers:
        print(f"cannot run the baseline: {skipped[BASELINE]}", file=sys.stderr)
        return 2

    meta = machine_info() | {
        "quick": args.quick,
        "reps": reps,
        "skipped": skipped,
        "events_per_chunk": args.events_per_chunk,
    }
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    timed = [s for s in scenarios if s.kind != "import"]
    if timed:
        server = BenchServer(args.events_per_chunk)
        try:
            for rep in range(reps):
                for scen in timed:
                    for backend in backends:
                        order = [
                            d
                            for d in drivers
                            if d in scen.drivers
                            and not (backend != "asyncio" and d in ASYNCIO_ONLY)
                        ]
                        # Rotate so no driver always runs first (or right after a hog).
                        order = order[rep % len(order) :] + order[: rep % len(order)]
                        for driver in order:
                            result = run_child(
                                server.port, scen, driver, backend, args.quick, args.timeout
                            )
                            key = f"{scen.name}/{backend}"
                            runs.setdefault(key, {}).setdefault(driver, []).append(result)
                            _progress(rep, reps, key, driver, result)
        finally:
            server.close()
    report: dict[str, Any] = {"meta": meta, "runs": runs}
    report["results"] = {
        key: {d: summarise(by_driver[d]) for d in sorted(by_driver, key=ALL_DRIVERS.index)}
        for key, by_driver in runs.items()
    }
    add_paired_ratios(report["results"], runs)
    if any(s.kind == "import" for s in scenarios):
        modules = {k: v for k, v in IMPORT_MODULES.items() if k in drivers}
        meta["import_reps"] = QUICK_IMPORT_REPS if args.quick else max(reps, MIN_IMPORT_REPS)
        report["imports"] = time_imports(modules, meta["import_reps"])
    text = render(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.markdown:
        args.markdown.write_text(text)
    failed = any("error" in r for by in runs.values() for rs in by.values() for r in rs)
    return 1 if failed else 0


def _progress(rep: int, reps: int, key: str, driver: str, result: dict[str, Any]) -> None:
    if "units" in result:
        what = f"{result['cpu_us_per_unit']:.1f} µs/unit, {result['peak_rss_mb']:.1f} MB"
    else:
        what = result.get("skipped") or result.get("error") or "?"
    print(f"[{rep + 1}/{reps}] {key} {driver}: {what}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
