"""``fraudlens features ...``, ``fraudlens stream ...`` and ``fraudlens serve``."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer

from fraudlens.cli.common import HistoryOption, console, friendly, history_folder, settings_of
from fraudlens.settings import Settings

app = typer.Typer()
features_app = typer.Typer(help="Build and serve features (Feast).")
stream_app = typer.Typer(help="Long-running Kafka stream jobs.")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


MetricsPort = Annotated[
    int | None,
    typer.Option(
        min=0, max=65535, help="Serve /metrics on this port (default: metrics.port; 0: off)."
    ),
]
IdleTimeout = Annotated[
    float | None, typer.Option(help="Stop after this many idle seconds (default: never).")
]


def with_metrics_port(settings: Settings, port: int | None) -> Settings:
    if port is None:
        return settings
    metrics = settings.metrics.model_copy(update={"port": port})
    return settings.model_copy(update={"metrics": metrics})


def _utc(value: str) -> datetime:
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


@features_app.command("apply")
@friendly
def features_apply(ctx: typer.Context) -> None:
    """Register the feature repo (entities, views, on-demand views, services) with Feast."""
    from fraudlens.features.repo import apply

    console.print(f"applied {len(apply(settings_of(ctx)))} Feast objects")


@features_app.command("backfill")
@friendly
def features_backfill(
    ctx: typer.Context,
    source: HistoryOption = None,
) -> None:
    """Recompute every feature state and per-transaction feature row with Spark (offline store)."""
    from fraudlens.features.batch import backfill

    settings = settings_of(ctx)
    folder = history_folder(settings, source)
    result = backfill(settings, folder / "transactions.parquet", folder / "labels.parquet")
    console.print(result)


@features_app.command("materialize")
@friendly
def features_materialize(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="Start (ISO date/time, UTC).")],
    end: Annotated[str, typer.Option("--to", help="End (ISO date/time, UTC).")],
) -> None:
    """Load the latest offline feature state in [FROM, TO] into the online store."""
    from fraudlens.features.repo import materialize

    materialize(settings_of(ctx), _utc(start), _utc(end))
    console.print("materialized")


@stream_app.command("features")
@friendly
def stream_features(
    ctx: typer.Context,
    idle_timeout: IdleTimeout = None,
    metrics_port: MetricsPort = None,
    from_snapshot: Annotated[
        bool,
        typer.Option(
            "--from-snapshot/--no-snapshot",
            help="Restore the newest state snapshot (checkpoint.url) and read only the topic "
            "tail; --no-snapshot rebuilds the state from the topics (still writes snapshots).",
        ),
    ] = True,
) -> None:
    """Consume transactions and labels, update feature state, push to Feast (SIGTERM stops)."""
    from fraudlens.features.stream import run_stream_job

    settings = with_metrics_port(settings_of(ctx), metrics_port)
    stats = run_stream_job(
        settings, _stop_on_signals(), idle_timeout=idle_timeout, from_snapshot=from_snapshot
    )
    console.print(stats)


@stream_app.command("score")
@friendly
def stream_score(
    ctx: typer.Context,
    idle_timeout: IdleTimeout = None,
    metrics_port: MetricsPort = None,
) -> None:
    """Score transactions from Kafka in micro-batches and publish decisions (SIGTERM stops)."""
    from fraudlens.scoring.stream import run_stream_scorer

    settings = with_metrics_port(settings_of(ctx), metrics_port)
    stats = run_stream_scorer(settings, _stop_on_signals(), idle_timeout=idle_timeout)
    console.print(stats)


@app.command()
@friendly
def serve(
    ctx: typer.Context,
    broker: Annotated[
        bool,
        typer.Option(
            help="Also run the embedded broker (in memory) for this run's decisions and "
            "analysts' labels, instead of kafka.bootstrap_servers (one machine only)."
        ),
    ] = False,
) -> None:
    """Start the scoring API on a local Ray Serve (Ctrl-C stops it)."""
    from ray_apps.run import serve_local

    settings = settings_of(ctx)
    if not broker:
        serve_local(settings, blocking=True, stop_event=_stop_on_signals())
        return
    from fraudlens.kafka import ensure_topics
    from fraudlens.pipeline import embedded_kafka

    with embedded_kafka(settings) as with_broker:
        ensure_topics(with_broker.kafka)
        console.print(f"embedded broker at {with_broker.kafka.bootstrap_servers}")
        serve_local(with_broker, blocking=True, stop_event=_stop_on_signals())
