"""What every ``fraudlens`` subcommand shares: the console, settings, error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pydantic
import typer
from rich.console import Console

from fraudlens.errors import FraudLensError
from fraudlens.log import configure_logging
from fraudlens.settings import Settings

console = Console()
F = TypeVar("F", bound=Callable[..., Any])
HistoryOption = Annotated[
    Path | None,
    typer.Option(
        "--source",
        help="Folder with transactions/labels Parquet (default: the history training "
        "reads: DATA_DIR/sim or DATA_DIR/import, see docs/import.md).",
    ),
]


def history_folder(settings: Settings, source: Path | None) -> Path:
    """``source``, or the history folder training reads (simulated or imported)."""
    from fraudlens.history import find_history

    return source or find_history(settings.data_dir, settings.training.history_dir).folder


def settings_of(ctx: typer.Context) -> Settings:
    """Build settings on first use (so ``--help`` works even with bad settings)."""
    state: dict[str, Any] = ctx.ensure_object(dict)
    if "settings" not in state:
        try:
            settings = Settings()
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            console.print(f"[red]error:[/red] setting {field or '(settings)'}: {err['msg']}")
            raise typer.Exit(2) from None
        configure_logging(state.get("log_level") or settings.log_level)
        state["settings"] = settings
    settings_: Settings = state["settings"]
    return settings_


def friendly(func: F) -> F:
    """Turn FraudLens errors into a one-line message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FraudLensError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
