"""``fraudlens labels``: what the fraud labels of the history say (label delays)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fraudlens.cli.common import HistoryOption, console, friendly, history_folder, settings_of

labels_app = typer.Typer(help="Fraud labels of the history: how late they arrive.")


@labels_app.command("delay")
@friendly
def labels_delay(
    ctx: typer.Context,
    source: HistoryOption = None,
    coverage: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="Share of fraud labels that must have arrived by the recommended delay "
            "(default one half: the newest matured day then holds at least half of its "
            "eventual frauds; a larger share makes the matured windows older).",
        ),
    ] = 0.5,
) -> None:
    """Print fraud-label delay quantiles and the recommended features.matured_delay_days.

    The delay of a fraud label is its label_time minus its transaction's event_time
    (the first fraud label of a transaction, within feast.max_label_delay_days, as the
    features count it). The recommendation is the smallest whole number of days by
    which at least COVERAGE of them have arrived: a transaction of the newest matured
    day is at least that many days old when scored, so at least that share of its
    frauds is known, and the window is no older than that requires. Changing the
    setting needs `fraudlens features apply`, `fraudlens features backfill`, a stream
    job restart with --no-snapshot and a retrain (docs/features.md).
    """
    from fraudlens.features.label_delay import label_delay_report

    settings = settings_of(ctx)
    folder = history_folder(settings, source)
    report = label_delay_report(folder, settings.feast.max_label_delay_days, coverage)
    out = report.as_dict() | {"configured_days": settings.features.matured_delay_days}
    console.print_json(json.dumps(out))
