"""``fraudlens records``: the PostgreSQL system of record (migrate, status, sink, history)."""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import asdict
from typing import Annotated

import typer

from fraudlens.cli.common import console, friendly, settings_of
from fraudlens.cli.runtime import MetricsPort, with_metrics_port

records_app = typer.Typer(help="PostgreSQL, the system of record: migrations and the sink.")


@records_app.command("upgrade")
@friendly
def records_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option(help="Target revision (default: the newest).")] = "head",
) -> None:
    """Create or migrate the records tables (Alembic, shipped in the package); print the revision."""
    from fraudlens.records import records_engine, upgrade

    with records_engine(settings_of(ctx), check_schema=False) as engine:
        console.print(f"records database at revision {upgrade(engine, revision)}")


@records_app.command("status")
@friendly
def records_status(ctx: typer.Context) -> None:
    """Print the schema revision (current vs. this package's) and row counts; exit 1 if behind."""
    from fraudlens.records import records_engine, status

    with records_engine(settings_of(ctx), check_schema=False) as engine:
        report = status(engine)
    console.print_json(json.dumps(asdict(report) | {"up_to_date": report.up_to_date}))
    if not report.up_to_date:
        raise typer.Exit(1)


@records_app.command("sink")
@friendly
def records_sink(
    ctx: typer.Context,
    idle_timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without messages.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Messages per transaction.")] = 500,
    labels: Annotated[
        bool, typer.Option(help="Also store the labels topic in the labels table.")
    ] = True,
    metrics_port: MetricsPort = None,
) -> None:
    """Copy the decisions (and labels) topics into PostgreSQL, exactly once each (SIGTERM stops)."""
    from fraudlens.records.sink import run_decision_sink

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    settings = with_metrics_port(settings_of(ctx), metrics_port)
    stats = run_decision_sink(
        settings, stop, idle_timeout=idle_timeout, batch_size=batch_size, labels=labels
    )
    console.print_json(json.dumps(asdict(stats)))


@records_app.command("promotions")
@friendly
def records_promotions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Newest promotions to print.")] = 20,
    all_models: Annotated[
        bool, typer.Option("--all-models", help="Every model, not only mlflow.model_name.")
    ] = False,
) -> None:
    """Print the model promotions stored in PostgreSQL (newest first) as JSON."""
    from fraudlens.records import records_engine
    from fraudlens.records.operations import promotion_history

    settings = settings_of(ctx)
    name = None if all_models else settings.mlflow.model_name
    with records_engine(settings, pool_size=0) as engine, engine.connect() as conn:
        rows = promotion_history(conn, name, limit)
    console.print_json(json.dumps(rows, default=str))
