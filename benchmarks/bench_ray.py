"""One batch job on a local Ray: aiohelicone.ray's mapper against Ray's HttpRequestProcessorConfig.

Issue 17's comparison. The same job (N chat completions, OpenAI Batch input lines in a JSONL
file, read with ``ray.data.read_text``) runs on a local ``ray.init(num_cpus=2)`` with the
same number of actors, two ways:

- **aiohelicone**: ``map_batches(HeliconeBatchMapper, concurrency=actors)``, each actor keeping
  ``--concurrency`` requests in flight (``run_batch`` underneath), its retries and the batch's
  429 handling on (the client's defaults).
- **ray-http**: ``ray.data.llm.build_processor(HttpRequestProcessorConfig(url=..., headers=...,
  max_retries=..., concurrency=(actors, actors)))``, the payload from a preprocess, as Ray's
  documentation shows it. Its stage sends the requests of one batch one after another (and
  Ray Data runs a few batches of an async stage at once), so its in-flight count is Ray's,
  not a setting: the server reports the most requests it saw waiting at once.

The server is ``server.py`` in its own process, a cheap fake that answers each chat request
``--latency-ms`` after it arrives (a provider's time to answer) and, in the fault scenarios,
by the fault script of ``server.py --faults`` (per row: a 429 on the first attempt for 2% of
rows, a 503 on the first attempt for 2%, a 500 on every attempt for 1%). Scenarios:

- ``clean``: no faults.
- ``faults``: the fault script.
- ``malformed``: the fault script, and one input line that is not JSON.

Each (scenario, arm) runs in a fresh process with its own Ray. Reported per run: rows/s per
actor (input rows over wall time from building the dataset to the last output row, divided
by the actors; Ray's start is excluded, its actors' start is not), the actor processes' CPU
per row (``/proc`` samples of every ``ray::MapWorker`` process: the HTTP stage, with any
per-row map Ray fused into it), the whole machine's CPU per row (``/proc/stat``, minus the
server's own CPU), the server's most requests in flight, and what became of the rows:
answered, failed as visible error rows, error answers returned as if they were answers (no
status code in the output), lost (no output row at all), and whether the job raised.

Run it (Ray and aiohttp needed: ``pip install -e '.[ray]' aiohttp``; about 5 minutes)::

    python benchmarks/bench_ray.py                      # 20,000 rows, 2 actors, 3 scenarios
    python benchmarks/bench_ray.py --rows 2000 --scenarios clean   # a smoke test

The machine should be otherwise idle: the CPU figures are the whole machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ARMS = ("aiohelicone", "ray-http")
SCENARIOS = ("clean", "faults", "malformed")
MALFORMED_ROW = 501
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- the input ---------------------------------------------------------------------------------


def write_input(path: Path, rows: int, malformed: bool) -> None:
    """``rows`` OpenAI Batch input lines; row n's message is ``"r<n>"`` (the fault script's key)."""
    with path.open("w") as out:
        for n in range(rows):
            if malformed and n == MALFORMED_ROW:
                out.write("{not json\n")
                continue
            body = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"r{n}"}],
                "max_tokens": 20,
            }
            line = {"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions"}
            out.write(json.dumps({**line, "body": body}) + "\n")


# -- CPU accounting from /proc ---------------------------------------------------------------


def _proc_cpu(pid: int | str) -> float | None:
    """User + system CPU seconds of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_cpu() -> float:
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


class ActorCpu:
    """The CPU that processes spend while titled ``ray::MapWorker...`` (Ray's actors).

    Sampled from ``/proc`` every ``period`` seconds; a process counts only between two samples
    that both found it an actor (Ray reuses worker processes for other work).
    """

    def __init__(self, period: float = 0.2) -> None:
        self.seconds = 0.0
        self.titles: set[str] = set()
        self._previous: dict[str, float] = {}
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._period)

    def sample(self) -> None:
        current: dict[str, float] = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read(200)
            except OSError:
                continue
            if not title.startswith(b"ray::MapWorker"):
                continue
            cpu = _proc_cpu(pid)
            if cpu is None:
                continue
            current[pid] = cpu
            self.titles.add(title.split(b"\0")[0].decode(errors="replace"))
            if pid in self._previous:
                self.seconds += cpu - self._previous[pid]
        self._previous = current

    def __enter__(self) -> ActorCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# -- one run, in a child process -----------------------------------------------------------------


def _line_column(batch: Any) -> Any:
    """``read_text``'s ``text`` column as the mapper's ``line`` column."""
    return batch.rename_columns(["line"])


def _ray_http_preprocess(row: dict[str, Any]) -> dict[str, Any]:
    line = json.loads(row["text"])  # a line that is not JSON raises here, as user code would
    return {"custom_id": line["custom_id"], "payload": line["body"]}


def _ray_http_postprocess(row: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": row["custom_id"], "http_response": json.dumps(row["http_response"])}


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one arm of one scenario on a fresh local Ray; return its figures."""
    import ray
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    server_cpu0, machine0 = _proc_cpu(args.server_pid) or 0.0, _machine_cpu()
    outcome: dict[str, Any] = {"ok": 0, "failed_rows": 0, "hidden_errors": 0, "job_error": None}
    ids: list[str | None] = []
    with ActorCpu() as actors_cpu:
        started = time.perf_counter()
        dataset = ray.data.read_text(args.input)
        try:
            if args.arm == "aiohelicone":
                _run_ours(args, dataset, ids, outcome)
            else:
                _run_ray_http(args, dataset, ids, outcome)
        except Exception as exc:  # the job failed: what came out before is what it did
            first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()[0]
            outcome["job_error"] = f"{type(exc).__name__}: {first[:160]}"
        wall = time.perf_counter() - started
    server_cpu = (_proc_cpu(args.server_pid) or 0.0) - server_cpu0
    machine = _machine_cpu() - machine0 - server_cpu
    ray.shutdown()
    expected = {f"r{n}" for n in range(args.rows)}
    if args.malformed:
        expected.discard(f"r{MALFORMED_ROW}")
    seen = [i for i in ids if i is not None]
    return {
        **outcome,
        "rows_out": len(ids),
        "duplicates": len(seen) - len(set(seen)),
        "lost": len(expected - set(seen)) + int(args.malformed and None not in ids),
        "wall_s": wall,
        "rows_per_s_per_actor": len(ids) / wall / args.actors,
        "actor_cpu_ms_per_row": actors_cpu.seconds / len(ids) * 1000 if ids else None,
        "machine_cpu_ms_per_row": machine / len(ids) * 1000 if ids else None,
        "actor_titles": sorted(actors_cpu.titles),
    }


def _run_ours(args: argparse.Namespace, dataset: Any, ids: list[str | None], out: Any) -> None:
    import ray.data

    from aiohelicone.ray import HeliconeBatchMapper

    answered = dataset.map_batches(_line_column, batch_format="pyarrow").map_batches(
        HeliconeBatchMapper,
        fn_constructor_kwargs={
            "base_url": f"http://127.0.0.1:{args.port}/v1",
            "api_key": "sk-helicone-bench",
            "actors": args.actors,
            "concurrency": args.concurrency,
        },
        compute=ray.data.ActorPoolStrategy(size=args.actors),
        num_cpus=0.5,
        batch_size=args.batch_size,
        batch_format="pyarrow",
    )
    for batch in answered.iter_batches(batch_format="pyarrow", batch_size=None):
        for custom_id, error in zip(
            batch.column("custom_id").to_pylist(), batch.column("error").to_pylist(), strict=True
        ):
            ids.append(custom_id)
            if error is None:
                out["ok"] += 1
            else:
                out["failed_rows"] += 1


def _run_ray_http(args: argparse.Namespace, dataset: Any, ids: list[str | None], out: Any) -> None:
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    config = HttpRequestProcessorConfig(
        url=f"http://127.0.0.1:{args.port}/v1/chat/completions",
        headers={"Authorization": "Bearer sk-helicone-bench"},
        max_retries=args.ray_max_retries,
        concurrency=(args.actors, args.actors),
        batch_size=args.ray_batch_size,
        http_request_stage={"num_cpus": 0.5},
    )
    processor = build_processor(
        config, preprocess=_ray_http_preprocess, postprocess=_ray_http_postprocess
    )
    for batch in processor(dataset).iter_batches(batch_format="pyarrow", batch_size=None):
        for custom_id, text in zip(
            batch.column("custom_id").to_pylist(),
            batch.column("http_response").to_pylist(),
            strict=True,
        ):
            ids.append(custom_id)
            # Arrow gives every row the union of the answers' keys: an answer without an
            # error has "error": null.
            if json.loads(text).get("error") is not None:  # an error answer, as an answer
                out["hidden_errors"] += 1
            else:
                out["ok"] += 1


# -- the parent: server, runs, table --------------------------------------------------------------


def _server(latency_ms: float, faults: bool) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, str(HERE / "server.py"), "--port", "0", "--no-pin"]
    command += ["--latency-ms", str(latency_ms)] + (["--faults"] if faults else [])
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _http(port: int, method: str, path: str) -> dict[str, Any]:
    data = b"" if method == "POST" else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def _run_child(
    args: argparse.Namespace, arm: str, path: Path, malformed: bool, port: int, pid: int
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", arm, "--input", str(path), "--port", str(port)]
    command += ["--server-pid", str(pid), "--rows", str(args.rows), "--actors", str(args.actors)]
    command += ["--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size)]
    command += ["--ray-batch-size", str(args.ray_batch_size)]
    command += ["--ray-max-retries", str(args.ray_max_retries)]
    command += ["--malformed"] if malformed else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        raise SystemExit(f"{arm} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32, help="aiohelicone: per actor")
    parser.add_argument("--batch-size", type=int, default=256, help="aiohelicone's batches")
    parser.add_argument("--ray-batch-size", type=int, default=64, help="ray-http (its default)")
    parser.add_argument(
        "--ray-max-retries", type=int, default=3, help="ray-http's retries (its default is 0)"
    )
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per (scenario, arm)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", help="write every run's figures here")
    # The child's own arguments.
    parser.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--malformed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.arm = args.child
        print(json.dumps(child(args)), flush=True)
        return

    scenarios = [s for s in args.scenarios.split(",") if s]
    arms = [a for a in args.arms.split(",") if a]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in scenarios:
            malformed = scenario == "malformed"
            path = Path(tmp) / f"{scenario}.jsonl"
            write_input(path, args.rows, malformed)
            proc, port = _server(args.latency_ms, scenario != "clean")
            try:
                for index in range(args.repeat):
                    order = arms if index % 2 == 0 else arms[::-1]
                    for arm in order:
                        _http(port, "POST", "/_bench/reset")
                        print(f"{scenario} {arm} ...", file=sys.stderr, flush=True)
                        run = _run_child(args, arm, path, malformed, port, proc.pid)
                        run["max_in_flight"] = _http(port, "GET", "/_bench/stats")["max_in_flight"]
                        results.setdefault((scenario, arm), []).append(run)
                        print(f"  {json.dumps(run)}", file=sys.stderr, flush=True)
            finally:
                proc.terminate()
                proc.wait()
    _table(args, results)
    if args.json:
        Path(args.json).write_text(
            json.dumps({f"{s}/{a}": runs for (s, a), runs in results.items()}, indent=2)
        )


def _table(args: argparse.Namespace, results: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    print(
        f"{args.rows:,} rows, {args.actors} actors, {args.latency_ms:g} ms per answer; "
        f"aiohelicone {args.concurrency} in flight per actor, batches of {args.batch_size}; "
        f"ray-http batches of {args.ray_batch_size}, max_retries={args.ray_max_retries}"
    )
    print()
    print(
        "| scenario | arm | rows/s per actor | actor CPU ms/row | machine CPU ms/row "
        "| in flight | answered | failed rows | errors as answers | lost | job |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (scenario, arm), runs in results.items():

        def med(key: str, digits: int, runs: list[dict[str, Any]] = runs) -> str:
            values = [r[key] for r in runs if r[key] is not None]
            return f"{statistics.median(values):.{digits}f}" if values else "n/a"

        last = runs[-1]
        print(
            f"| {scenario} | {arm} | {med('rows_per_s_per_actor', 0)} "
            f"| {med('actor_cpu_ms_per_row', 2)} | {med('machine_cpu_ms_per_row', 2)} "
            f"| {last['max_in_flight']} | {last['ok']:,} | {last['failed_rows']:,} "
            f"| {last['hidden_errors']:,} | {last['lost']:,} "
            f"| {last['job_error'] or 'finished'} |"
        )
    for scenario in dict.fromkeys(s for s, _ in results):
        ours, theirs = results.get((scenario, "aiohelicone")), results.get((scenario, "ray-http"))
        if ours and theirs and not theirs[-1]["job_error"]:
            ratio = statistics.median(r["rows_per_s_per_actor"] for r in ours) / statistics.median(
                r["rows_per_s_per_actor"] for r in theirs
            )
            print(f"\n{scenario}: aiohelicone / ray-http rows/s per actor = {ratio:.2f}x")


if __name__ == "__main__":
    main()
