"""The stream feature job: Kafka (transactions + labels) -> state -> Feast push.

One loop per process::

    consume -> validate (bad events to the dead-letter topic, with the reason)
            -> watermark buffer (event-time order across partitions/topics)
            -> fold into card/terminal state (fraudlens.features.fold)
            -> Parquet (offline) + FeatureStore.push (online, newest row per entity)
            -> commit offsets up to the last applied event

Restart strategy: restore the newest state snapshot and replay the tail
(``fraudlens.features.checkpoint``; without a usable snapshot, from the first
retained offset). Events before the group's committed offset were already
written before the crash, so they only rebuild memory; then the newest state
of every entity they touched is pushed once. Writes are idempotent, so a
killed and restarted job ends with the same online store as an uninterrupted
one.

Scaling: card state is partitioned like the ``transactions`` topic (keyed by
card token), so card work scales with consumers in the group. Terminal state
and the label index need every transaction of a terminal and every label:
they are exact only when one member sees all partitions (the default: one
process). Beyond that, run ``role="card"`` members in one group and a single
``role="terminal"`` member in another (terminal updates are cheap counters).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fraudlens.features.events import JobStats, to_event
from fraudlens.features.job import BatchCallback, Role, StreamFeatureJob
from fraudlens.features.metrics import StreamMetrics
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["BatchCallback", "JobStats", "Role", "StreamFeatureJob", "run_stream_job", "to_event"]


def run_stream_job(
    settings: Settings,
    stop_event: threading.Event | None = None,
    *,
    store: Any | None = None,
    idle_timeout: float | None = None,
    metrics: StreamMetrics | None = None,
    on_batch: BatchCallback | None = None,
    **job_options: Any,
) -> JobStats:
    """Run the stream feature job until ``stop_event`` is set (or it idles out).

    Args:
        settings: FraudLens settings; the Feast repo must be applied.
        stop_event: set it to stop the job between micro-batches.
        store: a ``feast.FeatureStore``; opened from the settings when None.
        idle_timeout: stop after this many seconds without messages (demo, tests).
        metrics: Prometheus metrics; serve ``metrics.registry`` to scrape them.
        on_batch: called after each pushed micro-batch with its transactions.
        **job_options: passed to ``StreamFeatureJob`` (group_id, role, batch_size...).

    Returns:
        Counters of the run.
    """
    from fraudlens.features.store import open_store

    job = StreamFeatureJob(
        settings,
        store if store is not None else open_store(settings),
        metrics=metrics,
        on_batch=on_batch,
        **job_options,
    )
    try:
        stats = job.run(stop_event, idle_timeout=idle_timeout)
    finally:
        job.close()
    if stats.late:
        logger.warning(
            "%d events arrived behind the watermark (e.g. labels replayed after their "
            "transactions): online state is complete, but offline rows this run wrote may "
            "lag them; rebuild training data with the Spark backfill",
            stats.late,
        )
    logger.info(
        "stream feature job: %d events applied (%d replayed), %d dead-lettered, %d late in %.1f s",
        stats.applied,
        stats.replayed,
        stats.dead_lettered,
        stats.late,
        stats.seconds,
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    """``python -m fraudlens.features.stream``: run the job from FRAUDLENS_* settings.

    SIGTERM/SIGINT stop it between micro-batches. The ``fraudlens stream
    features`` command is the usual entry point; this one serves process-level
    tests (kill and restart) and ad-hoc runs.
    """
    import argparse
    import signal

    from fraudlens.log import configure_logging

    parser = argparse.ArgumentParser(prog="python -m fraudlens.features.stream")
    parser.add_argument("--idle-timeout", type=float, default=None, help="stop when idle (s)")
    parser.add_argument("--batch-size", type=int, default=5000, help="messages per poll")
    parser.add_argument("--group-id", default=None, help="consumer group id")
    parser.add_argument(
        "--no-snapshot", action="store_true", help="rebuild state from the topics, not a snapshot"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_stream_job(
        settings,
        stop,
        idle_timeout=args.idle_timeout,
        batch_size=args.batch_size,
        group_id=args.group_id,
        from_snapshot=not args.no_snapshot,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
