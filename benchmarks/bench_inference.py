"""Hot-path benchmark, in process: model call, reasons, online read, coalescing, stream batches.

Run: ``.venv/bin/python -m benchmarks.bench_inference [--customers 2000]``.

Setup as ``bench_serving`` (``serving_setup``): a Redis online store filled
through Feast and a production-size champion (200 trees of depth 6, the 64-32
MLP) in MLflow. Each table sets the slow way ("before") beside the serving way
("after"), measured in the same run on the same data:

- model call per batch of 1, 64 and 512 rows: ``mlflow.pyfunc`` ``predict`` on
  a frame, ``FraudModel.predict`` on a frame (the MLP through torch: what the
  scorer called before) and the serving call (``FraudModel.predict_array`` on
  a float32 matrix, the MLP in numpy), with the largest score difference
  between the pyfunc and the serving call;
- reasons for a batch of 512: contributions of every row vs of the flagged
  rows only (what the scorer computes);
- online read of 100 transactions: one read per transaction vs one read for
  the batch (all cards and terminals at once), p50/p99 of the batched read
  (wall and CPU time, ``READ_SAMPLES`` reads: a p99 of fewer is just the
  slowest read), the collector's passes during them, the load average and
  the Redis round trips it takes. Measured as a replica runs: the heap is
  frozen once the store is open (``freeze_heap``) and the transactions are
  parsed from JSON (as the API and the stream scorer get them; built from the
  simulator's frame they would hold pandas Timestamps, slower to read);
- ``/v1/score`` without HTTP: concurrent callers scoring one transaction each,
  every call alone vs coalesced by ``MicroBatcher`` (calls/s, p50/p99);
- stream scorer core: batches of 500 through ``Scorer.score`` (transactions/s).

Timings are medians of repeated calls on a machine other processes share:
compare the columns of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.serving_setup import prepare
from fraudlens.scoring.factory import freeze_heap, single_threaded_numerics
from fraudlens.settings import Settings

BATCH_SIZES = (1, 64, 512)
READ_BATCH = 100
# Batched reads timed per way: a p99 of 50 reads is the slowest of them, i.e. noise.
READ_SAMPLES = 500
CALLERS = (1, 16)
STREAM_BATCH = 500


def median_us(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``call`` in microseconds (after one warm-up call)."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


class Collections:
    """Counts the cyclic collector's passes (and their longest pause) while active."""

    def __init__(self) -> None:
        self.count = 0
        self.longest_ms = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        self.count += 1
        self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._start) * 1000)

    def __enter__(self) -> Collections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def percentiles_ms(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 of durations in seconds, in milliseconds."""
    p50, p99 = np.percentile(np.asarray(samples) * 1000, [50, 99])
    return round(float(p50), 3), round(float(p99), 3)


def model_calls(settings: Settings, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Pyfunc vs serving call per batch size; prints one row per size."""
    import mlflow

    from fraudlens.model import load_model

    model = load_model(settings)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.mlflow.model_name}@champion")
    rows = []
    print("model call per batch     pyfunc   frame+torch   serving   pyfunc/serving   max |diff|")
    for size in BATCH_SIZES:
        batch = frame[model.feature_names].head(size).astype("float64")
        matrix = batch.to_numpy(dtype=np.float32)
        repeat = 400 if size < 512 else 100
        pyfunc_us = median_us(lambda b=batch: pyfunc.predict(b), repeat)
        frame_us = median_us(lambda b=batch: model.predict(b), repeat)
        serving_us = median_us(lambda m=matrix: model.predict_array(m), repeat)
        diff = float(np.max(np.abs(pyfunc.predict(batch) - model.predict_array(matrix))))
        row = {"rows": size, "pyfunc_us": round(pyfunc_us), "frame_torch_us": round(frame_us)}
        row |= {"serving_us": round(serving_us), "max_abs_diff": diff}
        rows.append(row)
        print(
            f"  {size:>4} rows     {pyfunc_us:>8.0f} us {frame_us:>10.0f} us {serving_us:>7.0f} us "
            f"{pyfunc_us / serving_us:>12.1f}x   {diff:.1e}",
            flush=True,
        )
    return rows


def reasons(settings: Settings, frame: pd.DataFrame) -> dict[str, Any]:
    """Contributions of a whole batch vs of its flagged rows only."""
    from fraudlens.model import load_model

    model = load_model(settings)
    batch = frame[model.feature_names].head(512)
    flagged = batch[model.predict(batch) >= model.thresholds.review]
    every = median_us(lambda: model.contributions(batch), 30)
    only = median_us(lambda: model.contributions(flagged), 30) if len(flagged) else 0.0
    print(
        f"reasons for 512 rows: every row {every / 1000:.2f} ms, the {len(flagged)} flagged "
        f"rows only {only / 1000:.2f} ms",
        flush=True,
    )
    return {
        "every_row_ms": round(every / 1000, 3),
        "flagged": len(flagged),
        "flagged_ms": round(only / 1000, 3),
    }


def online_reads(settings: Settings, txns: Sequence[Any]) -> dict[str, Any]:
    """One read per transaction vs one read per batch of ``READ_BATCH``."""
    from fraudlens.features.state_reader import state_reader
    from fraudlens.model import load_model
    from fraudlens.scoring.adapters import FeastFeatures

    model = load_model(settings)
    features = FeastFeatures(settings)
    batch = list(txns[:READ_BATCH])
    features.online(batch, model)  # open the store
    freeze_heap()  # as a replica does once its model and store are loaded
    each = median_us(lambda: [features.online([t], model) for t in batch], 5)
    reader = state_reader(features.store)
    script = getattr(reader, "_script", None)
    samples: dict[str, list[float]] = {"script": [], "pipelined": []}
    cpu: list[float] = []
    load = os.getloadavg()[0]
    with Collections() as collections:
        for _ in range(READ_SAMPLES):  # the two ways alternate: load hits both alike
            for way in samples:
                reader._script = script if way == "script" else None  # type: ignore[union-attr]
                start, start_cpu = time.perf_counter(), time.process_time()
                features.online(batch, model)
                samples[way].append(time.perf_counter() - start)
                if way == "script":
                    cpu.append(time.process_time() - start_cpu)
    reader._script = script  # type: ignore[union-attr]
    load = round(max(load, os.getloadavg()[0]), 2)
    p50, p99 = percentiles_ms(samples["script"])
    cpu_p50, cpu_p99 = percentiles_ms(cpu)
    pipe_p50, pipe_p99 = percentiles_ms(samples["pipelined"])
    trips = redis_round_trips(lambda: features.online(batch, model))
    print(
        f"online read of {READ_BATCH} transactions: one read each {each / 1000:.1f} ms, "
        f"one batched read p50 {p50:.2f} ms p99 {p99:.2f} ms (CPU p50 {cpu_p50:.2f} ms "
        f"p99 {cpu_p99:.2f} ms; {READ_SAMPLES} reads; {collections.count} GC passes, longest "
        f"{collections.longest_ms:.1f} ms; load average {load}) "
        f"({len(trips)} Redis round trip(s) reading {trips} keys); the same by pipelined "
        f"HMGETs (Redis Cluster, or scripts refused): p50 {pipe_p50:.2f} ms p99 {pipe_p99:.2f} ms",
        flush=True,
    )
    figures = {"rows": READ_BATCH, "one_each_ms": round(each / 1000, 2), "round_trips": trips}
    figures |= {"pipelined_p50_ms": pipe_p50, "pipelined_p99_ms": pipe_p99}
    figures |= {"samples": READ_SAMPLES, "cpu_p50_ms": cpu_p50, "cpu_p99_ms": cpu_p99}
    figures |= {"gc_passes": collections.count, "gc_longest_ms": round(collections.longest_ms, 2)}
    figures |= {"load_average": load}
    return figures | {"batched_p50_ms": p50, "batched_p99_ms": p99}


def redis_round_trips(call: Callable[[], object]) -> list[int]:
    """Keys each Redis pipeline or script call of ``call`` reads (one entry per round trip)."""
    import redis.client
    import redis.commands.core

    trips: list[int] = []
    execute = redis.client.Pipeline.execute
    run = redis.commands.core.Script.__call__

    def counted(pipe: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        trips.append(len(pipe.command_stack))
        return execute(pipe, *args, **kwargs)

    def counted_script(script: Any, keys: Any = None, *args: Any, **kwargs: Any) -> Any:
        trips.append(len(keys or []))
        return run(script, keys, *args, **kwargs)

    redis.client.Pipeline.execute = counted  # type: ignore[method-assign]
    redis.commands.core.Script.__call__ = counted_script  # type: ignore[method-assign]
    try:
        call()
    finally:
        redis.client.Pipeline.execute = execute  # type: ignore[method-assign]
        redis.commands.core.Script.__call__ = run  # type: ignore[method-assign]
    return trips


async def _callers(
    score: Callable[[Any], Awaitable[object]], txns: Sequence[Any], callers: int, calls: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def caller(offset: int) -> None:
        for i in range(offset, calls, callers):
            start = time.perf_counter()
            await score(txns[i % len(txns)])
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(callers)))
    return time.perf_counter() - start, latencies


def coalescing(settings: Settings, txns: Sequence[Any], calls: int = 600) -> list[dict[str, Any]]:
    """Concurrent one-transaction calls: each scored alone vs merged by ``MicroBatcher``."""
    from fraudlens.scoring.batcher import MicroBatcher
    from fraudlens.scoring.factory import build_service, default_config

    service = build_service(settings, "api", feature_timeout_s=10.0)
    service.apply_config(default_config(settings))
    service.warm_up()
    batcher = MicroBatcher(service, settings.serve.micro_batch_rows)
    ways: dict[str, Callable[[Any], Awaitable[object]]] = {
        "alone": lambda t: service.ascore([t]),
        "coalesced": lambda t: batcher.score([t]),
    }
    rows = []
    try:
        for callers in CALLERS:
            for way, score in ways.items():
                batches = batcher.batches
                seconds, latencies = asyncio.run(_callers(score, txns, callers, calls))
                p50, p99 = percentiles_ms(latencies)
                merged = batcher.batches - batches if way == "coalesced" else calls
                row = {"callers": callers, "way": way, "calls_per_s": round(calls / seconds)}
                row |= {"p50_ms": p50, "p99_ms": p99, "model_calls": merged}
                rows.append(row)
                print(
                    f"  c={callers:<3} {way:>9}: {calls / seconds:>6.0f} calls/s, "
                    f"p50 {p50:6.2f} ms, p99 {p99:6.2f} ms, {merged} batches for {calls} calls",
                    flush=True,
                )
    finally:
        service.close()
    return rows


def stream_core(settings: Settings, txns: Sequence[Any]) -> dict[str, Any]:
    """Batches of ``STREAM_BATCH`` through the scoring core (no Kafka, no decision log)."""
    from fraudlens.scoring.factory import build_service, default_config

    service = build_service(settings, "stream", feature_timeout_s=10.0)
    active = service.apply_config(default_config(settings))
    batches = [txns[i : i + STREAM_BATCH] for i in range(0, len(txns), STREAM_BATCH)]
    batches = [b for b in batches if len(b) == STREAM_BATCH][:10]
    service.scorer.score(batches[0], active)
    timings: dict[str, list[float]] = {}
    start = time.perf_counter()
    for batch in batches:
        for key, value in service.scorer.score(batch, active).timings.items():
            timings.setdefault(key, []).append(value)
    seconds = time.perf_counter() - start
    service.close()
    figures = {"batch": STREAM_BATCH, "tx_per_s": round(len(batches) * STREAM_BATCH / seconds)}
    figures |= {key: round(float(np.median(v)), 2) for key, v in timings.items()}
    print(
        f"stream scorer core, batches of {STREAM_BATCH}: {figures['tx_per_s']} tx/s "
        f"(per batch: features {figures['features_ms']} ms, model {figures['model_ms']} ms, "
        f"policy and reasons {figures['policy_ms']} ms)",
        flush=True,
    )
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the hot-path benchmark; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000, help="simulated customers")
    parser.add_argument("--days", type=int, default=14, help="simulated days of history")
    args = parser.parse_args(argv)

    from fraudlens.redis_server import EmbeddedRedis
    from fraudlens.schema import Transaction
    from fraudlens.simulator.core import transaction_records
    from training.local_features import compute_features

    workdir = Path(tempfile.mkdtemp(prefix="fraudlens-bench-inference-"))
    figures: dict[str, Any] = {}
    try:
        with EmbeddedRedis(workdir / "redis") as redis:
            settings, sim = prepare(workdir / "data", redis.url, args.customers, args.days)
            single_threaded_numerics()  # as the serving entry points do
            recent = sim.transactions.tail(5000)
            # Parsed from JSON, as the API and the stream scorer get them (datetimes,
            # not the frame's pandas Timestamps).
            txns = [
                Transaction.model_validate_json(Transaction.model_validate(r).model_dump_json())
                for r in transaction_records(recent)
            ]
            frame = compute_features(recent).reset_index(drop=True)
            figures["model_call"] = model_calls(settings, frame)
            figures["reasons"] = reasons(settings, frame)
            figures["online_read"] = online_reads(settings, txns)
            print("one-transaction calls, in process (no HTTP):")
            figures["coalescing"] = coalescing(settings, txns)
            figures["stream_core"] = stream_core(settings, txns)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
