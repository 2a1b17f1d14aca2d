"""Where a stream batch's time goes: the scoring core stage by stage (issue #12).

Run: ``.venv/bin/python -m benchmarks.scorer_stages [--sizes 500 1000] [--rounds 7]``.

Setup as ``bench_inference`` (``serving_setup.prepare``: a Redis online store
filled through Feast, a production-size champion in MLflow); the transactions
are parsed from JSON, as the stream scorer and the API receive them. Each
batch runs on the main thread: the online read (``FeastFeatures.online``),
``Scorer._finish`` (model, decisions, reasons) and the stream scorer's
publish step (``decision_json`` per row, without Kafka).
The heap is frozen first, as the serving entry points do (``freeze_heap``).

Each stage is timed by wrapping the function that does it: CPU seconds of
the scoring thread (``time.thread_time``, steadier than wall time on a
shared machine; the Redis wait is not CPU), best of ``--rounds`` rounds per
stage, per batch. Stages without a function of their own are differences:
"request columns" is ``online_feature_columns`` minus its parts, "policy" is
``_finish`` minus the model and the reasons. Throughput is wall time, best round.
"""

from __future__ import annotations

import argparse
import functools
import gc
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_spent: defaultdict[str, float] = defaultdict(float)


def _timed(owner: Any, name: str, stage: str, *also: Any) -> None:
    """Replace ``owner.name`` (and the same name in ``also``) by a timed wrapper."""
    raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    static = isinstance(raw, staticmethod)
    call: Callable[..., Any] = raw.__func__ if static else raw

    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return call(*args, **kwargs)
        finally:
            _spent[stage] += time.thread_time() - start

    setattr(owner, name, staticmethod(timed) if static else timed)
    for module in also:
        setattr(module, name, timed)


def _instrument() -> None:
    import fraudlens.features.compute as compute
    import fraudlens.features.compute_terminal as compute_terminal
    import fraudlens.features.odfv as odfv
    import fraudlens.features.store as store
    from fraudlens.features.state_reader import RedisStateReader
    from fraudlens.scoring.adapters import FeastFeatures
    from fraudlens.scoring.scorer import Scorer

    _timed(RedisStateReader, "read", "read")
    _timed(compute, "card_batch", "card_blobs")
    _timed(compute, "request_codes", "request_codes")
    _timed(compute, "card_columns", "card_columns")
    _timed(compute_terminal, "terminal_matrix", "terminal", odfv)
    _timed(store, "online_feature_columns", "columns")
    _timed(FeastFeatures, "online", "online")
    _timed(Scorer, "_predict", "model")
    _timed(Scorer, "_explain", "reasons")
    _timed(Scorer, "_finish", "finish")


def stage_table(spent: dict[str, float]) -> list[tuple[str, float]]:
    """Milliseconds per stage from the wrapped functions' totals."""
    parts = ("read", "card_blobs", "card_columns", "terminal")
    return [
        ("request columns and entity keys", spent["columns"] - sum(spent[k] for k in parts)),
        ("online read (Redis round trip, blobs)", spent["read"]),
        ("card blobs decoded (card_batch)", spent["card_blobs"]),
        ("request codes (request_codes)", spent["request_codes"]),
        ("other card features", spent["card_columns"] - spent["request_codes"]),
        ("terminal features", spent["terminal"]),
        ("feature block (FeastFeatures.online)", spent["online"] - spent["columns"]),
        ("model (predict_array)", spent["model"]),
        ("policy: decisions, rules, results", spent["finish"] - spent["model"] - spent["reasons"]),
        ("reasons of flagged rows", spent["reasons"]),
        ("publish: decision JSON per row", spent["publish"]),
        ("total", spent["total"]),
    ]


def measure(service: Any, txns: Sequence[Any], size: int, rounds: int) -> dict[str, Any]:
    """Stage milliseconds per batch of ``size`` (best round) and tx/s (best round)."""
    from fraudlens.scoring.stream import decision_json

    active = service.active
    scorer = service.scorer
    batches = [txns[i : i + size] for i in range(0, len(txns) - size + 1, size)]

    def one(batch: Sequence[Any]) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        frame = scorer.features.online(batch, active.model)
        scored = scorer._finish(batch, active, frame, "", wall)
        published = time.thread_time()
        now = datetime.now(UTC)
        for result in scored.results:
            decision_json(result, now)
        _spent["publish"] += time.thread_time() - published
        _spent["total"] += time.thread_time() - cpu
        _spent["wall"] += time.perf_counter() - wall

    one(batches[0])
    best: dict[str, float] = {}
    for _ in range(rounds):
        _spent.clear()
        for batch in batches:
            one(batch)
        for key, value in _spent.items():
            per_batch = value / len(batches) * 1000
            best[key] = min(best.get(key, per_batch), per_batch)
    stages = stage_table(best)
    print(f"batch of {size}: {size / best['wall'] * 1000:,.0f} tx/s (wall, best round)")
    for label, ms in stages:
        print(f"  {label:<42} {ms:7.2f} ms")
    return {"size": size, "tx_per_s": round(size / best["wall"] * 1000)} | {
        label: round(ms, 2) for label, ms in stages
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the stage table for each batch size; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[500, 1000], help="batch sizes")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per size (best is kept)")
    parser.add_argument("--customers", type=int, default=2000, help="simulated customers")
    args = parser.parse_args(argv)

    from benchmarks.serving_setup import prepare
    from fraudlens.redis_server import EmbeddedRedis
    from fraudlens.schema import Transaction
    from fraudlens.scoring.factory import build_service, default_config, single_threaded_numerics
    from fraudlens.simulator.core import transaction_records

    workdir = Path(tempfile.mkdtemp(prefix="fraudlens-scorer-stages-"))
    figures = []
    try:
        with EmbeddedRedis(workdir / "redis") as redis:
            settings, sim = prepare(workdir / "data", redis.url, args.customers, 14)
            single_threaded_numerics()
            records = transaction_records(sim.transactions.tail(5000))
            txns = [Transaction.model_validate(r).model_dump_json() for r in records]
            parsed = [Transaction.model_validate_json(t) for t in txns]
            service = build_service(settings, "stream", feature_timeout_s=10.0)
            service.apply_config(default_config(settings))
            service.warm_up()
            _instrument()
            gc.collect()
            gc.freeze()
            try:
                figures = [measure(service, parsed, size, args.rounds) for size in args.sizes]
            finally:
                service.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
