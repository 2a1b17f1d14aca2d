"""Scoring benchmark: Ray Serve vs. a bare uvicorn app doing the same work, and the stream scorer.

Run: ``.venv/bin/python -m benchmarks.bench_serving [--duration 10]``. Only the
``/v1/score/batch`` figure of the Ray Serve app (no wrk), with the CPU time per
call of every process: ``--batch-only 20 --skip bare serve-proxy serve-direct
serve-legacy stream stages``. The stream scorer alone (no wrk): ``--only stream``.

Setup (``serving_setup``, in a temporary data dir): an online store in a
private Redis, a production-size champion in MLflow. Then ``wrk`` measures
requests/s and p50/p99 latency at concurrency 1, 16 and 64 for ``POST
/v1/score`` on the full path (Feast online read with on-demand features,
ensemble, decision policy, reasons for flagged transactions, decision log):

- ``bare``: ``ray_apps.api.create_api`` under one uvicorn process;
- ``ray-serve``: the Serve app as ``fraudlens serve`` runs it (production
  defaults of ``Settings.serve``, ``ray_apps.run.serve_env``), on its port;
- ``serve-<ingress>``: throughput-optimized mode with the other ingresses
  (``haproxy``: Ray's HAProxy forwards to the replica's own HTTP port;
  ``proxy``: Ray's Python proxy, gRPC to the replica; ``direct``: clients call
  the replica's port, no proxy);
- ``serve-legacy``: Ray Serve's own defaults (Python proxy, user code on a
  separate thread and loop).

After each app's three runs, ``serving_calls`` measures the server-side
latency at concurrency 1 (the ``latency_ms`` the API reports) and
``/v1/score/batch`` with 1,000 transactions per call; then one more run at
concurrency 16 measures where the time goes (``serving_profile``: CPU per
request per process, py-spy stages).
Then the stream scorer's transactions/s from Kafka to Kafka. Shadow scoring is
off everywhere, so all apps do the same work; all micro-batch the same way.
Everything, the load generator included, shares this machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.serving_calls import batch_calls, print_calls, server_side
from benchmarks.serving_profile import (
    StackSampler,
    cpu_per_request,
    print_breakdown,
    serve_roles,
    stage_timings,
)
from benchmarks.serving_setup import prepare, request_bodies
from fraudlens.scoring.factory import single_threaded_numerics
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

CONCURRENCY = (1, 16, 64)
# What one run can measure: the apps (bare, then the Serve variants), the stream scorer,
# the scoring stages.
PARTS = (
    "bare", "ray-serve", "serve-haproxy", "serve-proxy", "serve-direct", "serve-legacy",
    "stream", "stages",
)  # fmt: skip
PROFILE_CONCURRENCY = 16

_WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) degraded = 0; i = math.random(#bodies) end
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/v1/score", {["Content-Type"] = "application/json"}, bodies[i])
end
response = function(status, headers, body)
  if string.find(body, '"degraded":true', 1, true) then degraded = degraded + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local d = 0
  for _, t in ipairs(threads) do d = d + t:get("degraded") end
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"errors\\": %%d, \\"non2xx\\": %%d, \\"degraded\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, d,
    latency:percentile(50), latency:percentile(99)))
end
"""


# -- load generation ---------------------------------------------------------------


def wrk(url: str, script: Path, concurrency: int, duration: float) -> dict[str, Any]:
    """One ``wrk`` run; returns requests/s, p50/p99 (ms), error counts and wrk's CPU time."""
    threads = 1 if concurrency == 1 else 2
    cmd = [
        "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration:.0f}s", "--timeout", "5s",
        "-s", str(script), url,
    ]  # fmt: skip
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"WRKJSON (\{.*\})", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output: {out}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    return {
        "concurrency": concurrency,
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": raw["errors"],
        "non_2xx": raw["non2xx"],
        "degraded": raw["degraded"],
        "wrk_cpu_s": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
    }


def print_row(row: dict[str, Any]) -> None:
    """One line per app and concurrency."""
    print(
        f"{row['app']:>12}  c={row['concurrency']:<3} {row['rps']:>8.1f} req/s  "
        f"p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms  "
        f"errors {row['errors'] + row['non_2xx']}  degraded {row['degraded']}",
        flush=True,
    )


def load_test(
    name: str,
    url: str,
    script: Path,
    duration: float,
    roles: dict[str, list[int]],
    sampled: dict[str, int],
    batch_only: int = 0,
) -> dict[str, Any]:
    """Warm up, ``wrk`` at each concurrency, ``serving_calls``, one profiled run at c=16.

    Args:
        roles: processes whose CPU time is counted per request, by role.
        sampled: processes sampled with py-spy during the profiled run, by role.
        batch_only: when set, only ``batch_calls`` with this many calls (no wrk).
    """
    bodies = script.with_name("bodies.jsonl").read_text().splitlines()
    if batch_only:
        # CPU per call of each process (the client's is this process's; the warm-up
        # call is counted too), less sensitive than wall time to a loaded machine.
        client = time.process_time()

        def calls() -> dict[str, Any]:
            batch = batch_calls(url, bodies, batch_only)
            cpu_s = time.process_time() - client
            return {"batch": batch, "requests": batch_only + 1, "wrk_cpu_s": cpu_s}

        row, cpu = cpu_per_request(roles, calls)
        client_role = "client (this process)"
        cpu = {(client_role if k.startswith("wrk") else k): v for k, v in cpu.items()}
        batch = row["batch"]
        print(
            f"{name:>12}  /v1/score/batch of {batch['batch']}: {batch['tx_per_s']:,.0f} tx/s "
            f"(call p50 {batch['call_p50_ms']:.0f} ms, {batch['calls']} calls, "
            f"degraded {batch['degraded']})",
            flush=True,
        )
        print_breakdown(f"{name} /v1/score/batch (per call of 1,000)", cpu, {})
        return {"batch": batch, "cpu_ms_per_batch_call": cpu}
    wrk(url, script, 16, 3)
    rows = []
    for concurrency in CONCURRENCY:
        row = {"app": name, **wrk(url, script, concurrency, duration)}
        row.pop("wrk_cpu_s")
        print_row(row)
        rows.append(row)
    single, batch = server_side(url, bodies), batch_calls(url, bodies)
    print_calls(name, single, batch)
    samplers = {who: StackSampler(pid, duration - 1) for who, pid in sampled.items()}
    profiled, cpu = cpu_per_request(roles, lambda: wrk(url, script, PROFILE_CONCURRENCY, duration))
    stages = {who: s.result() for who, s in samplers.items()}
    print_breakdown(f"{name} at c={PROFILE_CONCURRENCY} (profiled run)", cpu, stages)
    return {
        "rows": rows,
        "server_side": single,
        "batch": batch,
        "cpu_ms_per_request": cpu,
        "stack_share_pct": stages,
    }


# -- the bare app ----------------------------------------------------------------------


def serve_bare(settings_file: Path, port: int) -> None:
    """The bare app: the same ``create_api`` and scoring service under one uvicorn process."""
    import uvicorn

    from fraudlens.scoring.factory import build_service, default_config, freeze_heap
    from fraudlens.security.tokenize import tokenizer_from_settings
    from ray_apps.api import ApiContext, create_api

    single_threaded_numerics()  # as the Serve replica does
    settings = Settings(**json.loads(settings_file.read_text()))
    service = build_service(settings, "api")
    service.apply_config(default_config(settings))
    freeze_heap()  # as the Serve replica does
    ctx = ApiContext(
        service,
        tokenizer_from_settings(settings),
        settings.validation,
        micro_batch_rows=settings.serve.micro_batch_rows,
    )
    uvicorn.run(create_api(ctx), host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def bare_app(settings: Settings, workdir: Path) -> Iterator[tuple[str, int]]:
    """Run ``serve_bare`` in a subprocess; yields its URL and pid once it answers."""
    import httpx

    from fraudlens.kafka import free_port
    from ray_apps.app import settings_overrides

    settings_file = workdir / "bare-settings.json"
    settings_file.write_text(json.dumps(settings_overrides(settings)))
    port = free_port()
    # Ray gives its workers OMP_NUM_THREADS=1 (their CPU share); the bare app gets the same.
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "benchmarks.bench_serving", "--bare-app", str(settings_file)]
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError("the bare app exited")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(20)


# -- the Serve app, one variant per fresh process (Serve reads its mode at start) ----------


def serve_variants(settings: Settings) -> dict[str, dict[str, str]]:
    """Name -> environment of each Serve variant measured (the default first)."""
    from ray_apps.run import serve_env

    cfg = settings.serve
    variants = {"ray-serve": serve_env(cfg)}
    for ingress in ("haproxy", "proxy", "direct"):
        if ingress != cfg.ingress or not cfg.throughput_optimized:
            update = {"throughput_optimized": True, "ingress": ingress}
            variants[f"serve-{ingress}"] = serve_env(cfg.model_copy(update=update))
    if cfg.throughput_optimized or cfg.ingress != "proxy":
        update = {"throughput_optimized": False, "ingress": "proxy"}
        variants["serve-legacy"] = serve_env(cfg.model_copy(update=update))
    return variants


def serve_variant(
    settings: Settings, script: Path, duration: float, name: str, batch_only: int = 0
) -> dict[str, Any]:
    """In this (fresh) process: start Ray and Serve, deploy, load-test (see ``load_test``)."""
    from ray import serve

    from ray_apps.run import deploy, start_ray

    start_ray(settings, log_to_driver=False)
    try:
        started = time.perf_counter()
        url = deploy(settings, shadow=False)
        direct = os.environ.get("RAY_SERVE_ENABLE_DIRECT_INGRESS") == "1"
        if direct and os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") != "1":
            url = _direct_ingress_url()
        body = script.with_name("bodies.jsonl").read_text().splitlines()[0]
        start_s, start_degraded = first_full_answer(url, body, started)
        print(
            f"{name:>12}  replica start to first non-degraded answer {start_s:.1f} s "
            f"(degraded answers before it: {start_degraded})",
            flush=True,
        )
        roles = serve_roles(os.getpid())
        sampled = {
            role: roles[role][0] for role in ("serve replica", "serve proxy") if roles.get(role)
        }
        result = load_test(name, url, script, duration, roles, sampled, batch_only)
        result |= {"start_to_full_answer_s": round(start_s, 2), "start_degraded": start_degraded}
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        import ray

        ray.shutdown()
    return result


def first_full_answer(url: str, body: str, started: float) -> tuple[float, int]:
    """Score ``body`` from the moment the app runs until an answer is not degraded.

    Returns:
        Seconds from ``started`` (before the deploy) to that answer, and how
        many degraded answers came first.
    """
    import httpx

    degraded = 0
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        while True:
            response = client.post("/v1/score", content=body, headers=headers)
            response.raise_for_status()
            if not response.json()["degraded"]:
                return time.perf_counter() - started, degraded
            degraded += 1
            if degraded >= 1000:
                raise RuntimeError("1000 degraded answers in a row: is the online store up?")


def _direct_ingress_url() -> str:
    import httpx

    first = int(os.environ["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"])
    for _ in range(60):
        for port in range(first, first + 20):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return f"http://127.0.0.1:{port}"
        time.sleep(0.5)
    raise RuntimeError("no replica answered on a direct-ingress port")


def serve_subprocess(
    settings: Settings,
    script: Path,
    duration: float,
    name: str,
    env: dict[str, str],
    batch_only: int = 0,
) -> dict[str, Any]:
    """Run ``serve_variant`` in a fresh process with ``env``; relay its output."""
    from fraudlens.kafka import free_port
    from ray_apps.app import settings_overrides

    settings_file = script.with_name(f"{name}-settings.json")
    settings_file.write_text(json.dumps(settings_overrides(settings)))
    first = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_SERVE_")}
    env = base | env | {
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(first),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(first + 100),
    }  # fmt: skip
    cmd = [
        sys.executable, "-m", "benchmarks.bench_serving", "--serve-variant", name,
        "--settings", str(settings_file), "--script", str(script), "--duration", str(duration),
        "--batch-only", str(batch_only),
    ]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if not line.startswith("RESULTJSON "):
            print(line, flush=True)
    match = re.search(r"RESULTJSON (\{.*\})", out.stdout)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"{name} failed: {out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["env"] = {k: v for k, v in env.items() if k.startswith("RAY_SERVE_") and "PORT" not in k}
    return result


# -- stream scorer -------------------------------------------------------------------
def stream_benchmark(settings: Settings, sim: Any, workdir: Path) -> dict[str, float]:
    """Kafka -> score -> Kafka with the stream scorer's own classes; transactions/s."""
    from fraudlens.kafka import EmbeddedBroker, EventProducer, ensure_topics
    from fraudlens.kafka.consumer import ConsumedEvent, EventConsumer
    from fraudlens.schema import Transaction
    from fraudlens.scoring.factory import build_service, default_config, freeze_heap
    from fraudlens.scoring.stream import StreamScorer
    from fraudlens.simulator.core import transaction_records

    txns = [Transaction.model_validate(r) for r in transaction_records(sim.transactions)]
    with EmbeddedBroker(workdir / "kafka") as broker:
        kafka = settings.kafka.model_copy(
            update={"bootstrap_servers": broker.bootstrap_servers, "partitions": 2}
        )
        ensure_topics(kafka)
        with EventProducer(kafka) as producer:
            for txn in txns:
                producer.send_event(kafka.transactions_topic, txn)
        run_settings = settings.model_copy(update={"kafka": kafka})
        service = build_service(run_settings, "stream", feature_timeout_s=10.0)
        service.apply_config(default_config(run_settings))
        service.warm_up()  # as run_stream_scorer does before consuming
        freeze_heap()  # idem: else full collections walk the model and the benchmark's data
        out = EventProducer(kafka)
        scorer = StreamScorer(service, out, kafka.decisions_topic, model_poll_s=0)
        clock: list[float] = []

        def handler(batch: list[ConsumedEvent]) -> None:
            start = time.perf_counter()
            scorer(batch)
            clock.extend((start, time.perf_counter()))

        consumer = EventConsumer(
            kafka,
            [kafka.transactions_topic],
            handler,
            group_id="bench-stream",
            batch_size=settings.serve.stream_batch_size,
            config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
        )
        with consumer:
            cpu, broker_cpu = time.process_time(), _cpu_seconds(broker.pid)
            stats = consumer.run(max_events=len(txns), idle_timeout=30)
            cpu, broker_cpu = time.process_time() - cpu, _cpu_seconds(broker.pid) - broker_cpu
        out.close()
        service.close()
    seconds = clock[-1] - clock[0]
    busy = sum(clock[i + 1] - clock[i] for i in range(0, len(clock), 2))
    figures = {
        "transactions": stats.processed,
        "batch_size": settings.serve.stream_batch_size,
        "tx_per_s": round(scorer.scored / seconds, 1),
        "handler_tx_per_s": round(scorer.scored / busy, 1),
        # every thread of this process (librdkafka's and the log writer's included),
        # from the group join to the last commit
        "cpu_us_per_tx": round(cpu / scorer.scored * 1e6, 1),
        "broker_cpu_us_per_tx": round(broker_cpu / scorer.scored * 1e6, 1),
        "load_avg": round(os.getloadavg()[0], 2),
    }
    print(
        f"stream scorer: {figures['transactions']} transactions, {figures['tx_per_s']:.0f} tx/s "
        f"end to end (Kafka in -> decisions acknowledged), "
        f"{figures['handler_tx_per_s']:.0f} tx/s inside the handler, "
        f"CPU us a transaction: scorer {figures['cpu_us_per_tx']:.0f}, broker "
        f"{figures['broker_cpu_us_per_tx']:.0f} (load {figures['load_avg']:.2f})",
        flush=True,
    )
    return figures


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``; 0 without a pid)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- main --------------------------------------------------------------------------------


def summarize(figures: dict[str, Any]) -> None:
    """Ratios to the bare app, the goals, and Little's law for the p99 goal."""
    apps = figures["apps"]
    bare = {r["concurrency"]: r for r in apps.get("bare", {}).get("rows", [])}
    print("\nsummary (same machine, same run):", flush=True)
    for name, result in apps.items():
        if name == "bare" or not bare:
            continue
        ratios = ", ".join(
            f"c={r['concurrency']} {r['rps'] / bare[r['concurrency']]['rps']:.2f}"
            for r in result.get("rows", [])
            if r["concurrency"] in bare and bare[r["concurrency"]]["rps"]
        )
        print(f"  {name} / bare throughput: {ratios}", flush=True)
    for name, result in apps.items():
        c16 = next((r for r in result.get("rows", []) if r["concurrency"] == 16), None)
        if c16 is None:
            continue
        # Little's law: 16 requests always in flight at X req/s -> mean latency 16 / X.
        mean_ms = 16 / c16["rps"] * 1000 if c16["rps"] else float("inf")
        print(
            f"  {name} c=16: p99 {c16['p99_ms']:.1f} ms (goal < 25), mean latency by "
            f"Little's law 16 / {c16['rps']:.0f} req/s = {mean_ms:.1f} ms; a p99 under 25 ms "
            f"needs well over {16 / 0.025:.0f} req/s",
            flush=True,
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the whole benchmark; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000, help="simulated customers")
    parser.add_argument("--days", type=int, default=14, help="simulated days of history")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument(
        "--skip", nargs="*", default=[], help="any of: bare serve-legacy serve-direct stream stages"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        metavar="PART",
        help=f"run only these parts, any of: {' '.join(PARTS)} (--only stream: the stream "
        "scorer alone, no wrk needed)",
    )
    parser.add_argument(
        "--batch-only",
        type=int,
        default=0,
        metavar="CALLS",
        help="only /v1/score/batch, this many calls per app (no wrk; e.g. with --skip "
        "bare serve-proxy serve-direct serve-legacy stream stages: the Ray Serve app alone)",
    )
    parser.add_argument(
        "--stream-rounds",
        type=int,
        default=1,
        metavar="N",
        help="run the stream scorer N times, each on a fresh broker (default 1; the "
        "figures are the median round's, every round is printed)",
    )
    parser.add_argument(
        "--stream-batch-size",
        type=int,
        default=0,
        metavar="N",
        help="the stream scorer's micro-batch (default: serve.stream_batch_size)",
    )
    parser.add_argument("--bare-app", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-variant", help=argparse.SUPPRESS)
    parser.add_argument("--settings", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--script", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        args.skip = [part for part in PARTS if part not in args.only]
    if args.bare_app is not None:
        serve_bare(args.bare_app, args.port)
        return {}
    if args.serve_variant is not None:
        settings = Settings(**json.loads(args.settings.read_text()))
        result = serve_variant(
            settings, args.script, args.duration, args.serve_variant, args.batch_only
        )
        print("RESULTJSON " + json.dumps(result), flush=True)
        return {}
    apps = [part for part in PARTS[:-2] if part not in args.skip]
    if apps and shutil.which("wrk") is None and not args.batch_only:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    logging.basicConfig(level=logging.WARNING)
    print(f"load before the run: {os.getloadavg()[0]:.2f} (1-min average), {os.cpu_count()} cores")
    figures: dict[str, Any] = {"apps": {}, "load_avg_start": os.getloadavg()}
    workdir = Path(tempfile.mkdtemp(prefix="fraudlens-bench-serving-"))
    try:
        from fraudlens.redis_server import EmbeddedRedis

        with EmbeddedRedis(workdir / "redis") as redis:
            started = time.perf_counter()
            settings, sim = prepare(workdir / "data", redis.url, args.customers, args.days)
            print(
                f"setup: {len(sim.transactions)} transactions in the online store, "
                f"champion registered ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            single_threaded_numerics()  # as the serving entry points do
            bodies = request_bodies(sim, 1000)
            (workdir / "bodies.jsonl").write_text("\n".join(bodies) + "\n")
            script = workdir / "score.lua"
            script.write_text(_WRK_SCRIPT % {"bodies": workdir / "bodies.jsonl"})
            if "bare" not in args.skip:
                with bare_app(settings, workdir) as (url, pid):
                    figures["apps"]["bare"] = load_test(
                        "bare", url, script, args.duration, {"bare app": [pid]},
                        {"bare app": pid}, args.batch_only,
                    )  # fmt: skip
            for name, env in serve_variants(settings).items():
                if name not in args.skip:
                    figures["apps"][name] = serve_subprocess(
                        settings, script, args.duration, name, env, args.batch_only
                    )
            if "stream" not in args.skip:
                if args.stream_batch_size:
                    serve = settings.serve.model_copy(
                        update={"stream_batch_size": args.stream_batch_size}
                    )
                    settings = settings.model_copy(update={"serve": serve})
                rounds = [
                    stream_benchmark(settings, sim, workdir / f"stream-{i}")
                    for i in range(args.stream_rounds)
                ]
                # the median round's figures (what targets.py reads), and every round
                median = sorted(rounds, key=lambda r: r["tx_per_s"])[(len(rounds) - 1) // 2]
                figures["stream"] = median | ({"rounds": rounds} if len(rounds) > 1 else {})
            if "stages" not in args.skip:
                figures["stages"] = stage_timings(settings, bodies)
            figures["load_avg_end"] = os.getloadavg()
            summarize(figures)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
