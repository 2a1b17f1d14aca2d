"""What the API layer costs on top of the scoring core: ``/v1/score/batch`` and ``/v1/score``.

Run: ``.venv/bin/python -m benchmarks.bench_api_layer [--rounds 7] [--fake]``.

The real FastAPI app (``ray_apps.api.create_api``) is called in-process as
an ASGI app (no socket, no HTTP client: a request is one scope, one body
message, and the response messages are collected). By default the setup is
``bench_serving``'s (``serving_setup.prepare``: Redis online store filled
through Feast, a production-size champion in MLflow; decision log off, as
``serving_profile.stage_timings``); ``--fake`` scores with the unit tests'
fakes instead, to iterate on the API layer in seconds.

For each call the CPU time of the process (``time.process_time``: the online
read runs on a pool thread) is split at ``ScoringService.ascore``:

- before: the body read, JSON parsing and validation, tokenization (FastAPI,
  pydantic, ``ray_apps``);
- scoring core: inside ``ascore`` (features, model, policy, reasons);
- after: building and serializing the response.

"API layer" is before + after, per 1,000 rows for batch calls. Throughput is
wall time of whole calls, transactions/s. Best round of ``--rounds``, each
round the median call. No assertion on any figure: it prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BATCH_ROWS = 1000


class _Split:
    """Process CPU time before, inside and after ``ScoringService.ascore`` for one call."""

    def __init__(self) -> None:
        self.entered: float | None = None
        self.left: float | None = None

    def install(self, service: Any) -> None:
        ascore = service.ascore

        async def timed(txns: Any) -> Any:
            self.entered = time.process_time()
            try:
                return await ascore(txns)
            finally:
                self.left = time.process_time()

        service.ascore = timed


async def _call(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    """One POST through the ASGI app; status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"api"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("api", 80),
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the app does not read past the body
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def measure(
    app: Any, split: _Split, path: str, body: bytes, rows: int, calls: int, rounds: int
) -> dict[str, float]:
    """Median per call (best round): CPU ms before/inside/after ``ascore``, wall ms, tx/s."""
    loop = asyncio.new_event_loop()

    def one() -> tuple[float, float, float, float]:
        split.entered = split.left = None
        wall, cpu = time.perf_counter(), time.process_time()
        status, out = loop.run_until_complete(_call(app, path, body))
        end_cpu, end_wall = time.process_time(), time.perf_counter()
        if status != 200:
            raise RuntimeError(f"{path}: {status} {out[:300]!r}")
        assert split.entered is not None and split.left is not None
        return (
            (split.entered - cpu) * 1000,
            (split.left - split.entered) * 1000,
            (end_cpu - split.left) * 1000,
            (end_wall - wall) * 1000,
        )

    status, out = loop.run_until_complete(_call(app, path, body))
    if status != 200:
        raise RuntimeError(f"{path}: {status} {out[:300]!r}")
    answer = json.loads(out)
    results = answer.get("results", [answer])
    degraded = sum(bool(r["degraded"]) for r in results)
    best: dict[str, float] = {}
    for _ in range(rounds):
        samples = [one() for _ in range(calls)]
        medians = [statistics.median(s[k] for s in samples) for k in range(4)]
        row = dict(zip(("before_ms", "core_ms", "after_ms", "wall_ms"), medians, strict=True))
        for key, value in row.items():
            best[key] = min(best.get(key, value), value)
    loop.close()
    scale = 1000 / rows
    figures = {
        "rows": rows,
        "parse_validate_ms": best["before_ms"],
        "core_ms": best["core_ms"],
        "response_ms": best["after_ms"],
        "api_layer_ms": best["before_ms"] + best["after_ms"],
        "api_layer_ms_per_1000": (best["before_ms"] + best["after_ms"]) * scale,
        "wall_ms": best["wall_ms"],
        "tx_per_s": rows / best["wall_ms"] * 1000,
        "degraded": degraded,
    }
    return {k: round(v, 3) for k, v in figures.items()}


def print_figures(name: str, f: dict[str, float]) -> None:
    """One block per endpoint."""
    print(
        f"{name} ({f['rows']:.0f} rows/call, median call of the best round, CPU ms):\n"
        f"  request read + parse + validate  {f['parse_validate_ms']:8.2f}\n"
        f"  scoring core (ascore)            {f['core_ms']:8.2f}\n"
        f"  response build + serialize       {f['response_ms']:8.2f}\n"
        f"  API layer                        {f['api_layer_ms']:8.2f}"
        f"  ({f['api_layer_ms_per_1000']:.2f} per 1,000 rows)\n"
        f"  wall per call {f['wall_ms']:.2f} ms: {f['tx_per_s']:,.0f} tx/s"
        f" (degraded answers {f['degraded']:.0f})",
        flush=True,
    )


def run(service: Any, tokenizer: Any, validation: Any, bodies: list[str], rounds: int) -> Any:
    """Build the app over ``service`` and measure both endpoints; returns the figures."""
    from ray_apps.api import ApiContext, create_api

    split = _Split()
    split.install(service)
    ctx = ApiContext(service, tokenizer, validation, max_body_bytes=10_000_000)
    app = create_api(ctx)
    rows = (bodies * (BATCH_ROWS // len(bodies) + 1))[:BATCH_ROWS]
    batch = ('{"transactions": [' + ",".join(rows) + "]}").encode()
    gc.collect()
    gc.freeze()
    figures = {"batch": measure(app, split, "/v1/score/batch", batch, BATCH_ROWS, 5, rounds)}
    print_figures("/v1/score/batch", figures["batch"])
    single = bodies[0].encode()
    figures["single"] = measure(app, split, "/v1/score", single, 1, 200, rounds)
    print_figures("/v1/score", figures["single"])
    return figures


def _fake(rounds: int) -> Any:
    from fraudlens.schema import Transaction
    from fraudlens.scoring import ScoringConfig, ScoringService
    from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
    from fraudlens.scoring.scorer import Scorer
    from fraudlens.security.tokenize import Tokenizer
    from fraudlens.settings import ValidationSettings

    tokenizer = Tokenizer("k1", {"k1": b"0123456789abcdef"})
    bodies = []
    for i in range(BATCH_ROWS):
        txn = Transaction(
            transaction_id=f"t{i}",
            event_time="2026-06-03T14:00:00Z",
            card_token="tok_k1_" + "".join("abcdefghijklmnop"[int(c, 16)] for c in f"{i:032x}"),
            customer_id=f"c{i % 97}",
            terminal_id=f"T{i % 31}",
            merchant_id=f"M{i % 13}",
            mcc="5411",
            amount=10.0 + i % 500,
            currency="EUR",
            channel="card_present",
            entry_mode="chip",
            country="FR",
            latitude=48.85,
            longitude=2.35,
        )
        bodies.append(txn.model_dump_json(exclude_none=True))
    features = FakeFeatures({})
    loader = FakeLoader([FakeModel("1")], {"champion": "1"})
    service = ScoringService(loader, features, scorer=Scorer(features, feature_timeout_s=10.0))
    service.apply_config(ScoringConfig())
    service.warm_up()
    return run(service, tokenizer, ValidationSettings(), bodies, rounds)


def _real(rounds: int, customers: int, decision_log: bool = False) -> Any:
    from benchmarks.serving_setup import prepare, request_bodies
    from fraudlens.redis_server import EmbeddedRedis
    from fraudlens.scoring.factory import build_service, default_config, single_threaded_numerics
    from fraudlens.security.tokenize import tokenizer_from_settings

    workdir = Path(tempfile.mkdtemp(prefix="fraudlens-bench-api-"))
    try:
        with EmbeddedRedis(workdir / "redis") as redis:
            settings, sim = prepare(workdir / "data", redis.url, customers, 14)
            settings = settings.model_copy(
                update={"serve": settings.serve.model_copy(update={"decision_log": decision_log})}
            )
            single_threaded_numerics()
            service = build_service(settings, "api", feature_timeout_s=10.0)
            service.apply_config(default_config(settings))
            service.warm_up()
            try:
                return run(
                    service,
                    tokenizer_from_settings(settings),
                    settings.validation,
                    request_bodies(sim, BATCH_ROWS),
                    rounds,
                )
            finally:
                service.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> Any:
    """Measure and print; returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="rounds (best median is kept)")
    parser.add_argument("--customers", type=int, default=2000, help="simulated customers")
    parser.add_argument("--fake", action="store_true", help="fake model and features")
    parser.add_argument(
        "--decision-log",
        action="store_true",
        help="record decisions in the Parquet log (on in bench_serving, as in production)",
    )
    args = parser.parse_args(argv)
    measure_with: Callable[[], Any] = (
        (lambda: _fake(args.rounds))
        if args.fake
        else (lambda: _real(args.rounds, args.customers, args.decision_log))
    )
    figures = measure_with()
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
