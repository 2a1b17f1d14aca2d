"""``fraudlens simulate|import|replay|broker|demo``: the ingest end of the flow."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from fraudlens.cli.common import console, friendly, settings_of

app = typer.Typer()


@app.command()
@friendly
def simulate(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: DATA_DIR/sim).")] = None,
    customers: Annotated[int | None, typer.Option(help="Number of customers.")] = None,
    days: Annotated[int | None, typer.Option(help="Number of simulated days.")] = None,
    fraud_rate: Annotated[float | None, typer.Option(help="Target share of fraud.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same data).")] = None,
    start_date: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    scenario_start: Annotated[
        list[str] | None,
        typer.Option(help="SCENARIO=DAY: start a fraud pattern on a given day (concept drift)."),
    ] = None,
) -> None:
    """Simulate card transactions with labelled fraud scenarios and write Parquet."""
    from fraudlens.pipeline import simulate_to_parquet

    overrides: dict[str, Any] = {
        "customers": customers,
        "days": days,
        "fraud_rate": fraud_rate,
        "seed": seed,
        "start_date": start_date,
    }
    starts = _parse_scenario_starts(scenario_start or [])
    result = simulate_to_parquet(settings_of(ctx), out, overrides, starts)
    console.print_json(json.dumps(result, default=str))


def _parse_scenario_starts(values: list[str]) -> dict[str, int]:
    starts: dict[str, int] = {}
    for value in values:
        name, sep, day = value.partition("=")
        if not sep or not day.isdigit():
            raise typer.BadParameter(
                f"{value!r}: expected SCENARIO=DAY", param_hint="--scenario-start"
            )
        starts[name] = int(day)
    return starts


@app.command("import")
@friendly
def import_(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="CSV or Parquet file with your transactions.")],
    mapping: Annotated[Path, typer.Option(help="YAML column mapping (see docs/import.md).")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: DATA_DIR/import).")
    ] = None,
) -> None:
    """Import your own transaction history, tokenizing card numbers on the way in."""
    from fraudlens.importer import import_transactions, load_mapping
    from fraudlens.security import keyring_from_settings, tokenizer_from_settings

    settings = settings_of(ctx)
    result = import_transactions(
        source,
        load_mapping(mapping),
        out or settings.data_dir / "import",
        tokenizer_from_settings(settings),
        keyring=keyring_from_settings(settings),
        max_amount=settings.validation.max_amount,
        max_future_seconds=settings.validation.max_future_seconds,
    )
    console.print_json(json.dumps(result.__dict__, default=str))


@app.command()
@friendly
def replay(
    ctx: typer.Context,
    source: Annotated[
        Path | None, typer.Option(help="Folder with transactions.parquet (default: DATA_DIR/sim).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Target events/s (default: as fast as possible).")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Replay only this day (YYYY-MM-DD), e.g. the last one.")
    ] = None,
    labels: Annotated[bool, typer.Option(help="Also publish the labels.")] = True,
) -> None:
    """Publish simulated or imported transactions to Kafka (needs a broker)."""
    from fraudlens.pipeline import replay_to_kafka

    settings = settings_of(ctx)
    only_day = date.fromisoformat(day) if day else None
    result = replay_to_kafka(settings, source or settings.data_dir / "sim", rate, only_day, labels)
    console.print_json(json.dumps(result, default=str))


@app.command()
@friendly
def broker(ctx: typer.Context) -> None:
    """Run the embedded Kafka-compatible broker in the foreground (Ctrl-C stops it)."""
    from fraudlens.pipeline import run_embedded_broker

    run_embedded_broker(settings_of(ctx), console)


@app.command()
@friendly
def demo(ctx: typer.Context) -> None:
    """Run the whole flow on embedded defaults and print a summary."""
    from fraudlens.demo import run_demo

    run_demo(settings_of(ctx), console)
