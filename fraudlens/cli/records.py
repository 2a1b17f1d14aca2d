"""``fraudlens records``: the PostgreSQL system of record (migrate, status, sink)."""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import asdict
from typing import Annotated

import typer

from fraudlens.cli.common import console, friendly, settings_of

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
) -> None:
    """Copy the decisions (and labels) topics into PostgreSQL, exactly once each (SIGTERM stops)."""
    from fraudlens.records.sink import run_decision_sink

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stats = run_decision_sink(
        settings_of(ctx), stop, idle_timeout=idle_timeout, batch_size=batch_size, labels=labels
    )
    console.print_json(json.dumps(asdict(stats)))
