"""The ``fraudlens`` command. Each subcommand is a thin wrapper over a typed function.

Subcommands follow the data flow: simulate -> import -> replay -> features ->
stream -> train -> promote -> serve -> drift, plus labels (label delays), deploy,
keys, audit, privacy and demo; records (PostgreSQL, the system of record).
"""

from __future__ import annotations

from typing import Annotated

import typer

from fraudlens.cli import decisions, ingest, labels, models, records, runtime, security
from fraudlens.deploy.cli import deploy_app

app = typer.Typer(help="FraudLens: real-time fraud detection for card transactions.")

app.add_typer(ingest.app)
app.add_typer(models.app)
app.add_typer(runtime.app)
app.add_typer(runtime.features_app, name="features")
app.add_typer(runtime.stream_app, name="stream")
app.add_typer(labels.labels_app, name="labels")
app.add_typer(decisions.decisions_app, name="decisions")
app.add_typer(models.drift_app, name="drift")
app.add_typer(deploy_app, name="deploy")
app.add_typer(security.keys_app, name="keys")
app.add_typer(security.audit_app, name="audit")
app.add_typer(security.privacy_app, name="privacy")
app.add_typer(records.records_app, name="records")


@app.callback()
def main(
    ctx: typer.Context,
    log_level: Annotated[
        str | None, typer.Option(help="Log level (default: FRAUDLENS_LOG_LEVEL or INFO).")
    ] = None,
) -> None:
    """Settings come from FRAUDLENS_* variables (see docs/configuration.md); logs are JSON."""
    ctx.ensure_object(dict)["log_level"] = log_level


__all__ = ["app"]
