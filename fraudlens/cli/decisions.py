"""``fraudlens decisions ...``: upkeep of the decision log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from fraudlens.cli.common import console, friendly, settings_of

decisions_app = typer.Typer(help="The decision log (DATA_DIR/decisions, Parquet by day).")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@decisions_app.command("compact")
@friendly
def compact(
    ctx: typer.Context,
    before: Annotated[
        str | None,
        typer.Option(help="Compact the days before this date, YYYY-MM-DD (default: today, UTC)."),
    ] = None,
    day: Annotated[str | None, typer.Option(help="Compact this one day only, YYYY-MM-DD.")] = None,
) -> None:
    """Merge each day's part files into one file, dropping repeated decisions.

    Safe while writers run: files written during compaction are left for the
    next run. Do not run it at the same time as retention or erasure.
    """
    from fraudlens.scoring.compaction import compact_log
    from fraudlens.scoring.factory import decisions_dir

    before_day, one_day = _day(before, "--before"), _day(day, "--day")
    if before_day is not None and one_day is not None:
        raise typer.BadParameter("give --before or --day, not both", param_hint="--day")
    done = compact_log(decisions_dir(settings_of(ctx)), before=before_day, day=one_day)
    merged = [c for c in done if c.output is not None]
    for c in merged:
        console.print(
            f"{c.day}: {c.files_in} files, {c.rows_in} rows -> {c.rows_out} "
            f"({c.duplicates} repeats dropped)"
        )
    console.print(f"compacted {len(merged)} of {len(done)} days")
