"""Demo step 7: where analysts work the day's review cases (the workspace's URL and top cases)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fraudlens.demo.state import DemoState

SHOWN = 5


def workspace_step(state: DemoState, console: Console) -> None:
    """Print the workspace URL and the top open cases the records sink opened."""
    from fraudlens.records import records_engine
    from fraudlens.workspace import QueueFilter, list_queue
    from fraudlens.workspace.overview import overview

    console.rule("7. analyst workspace: the review queue")
    settings = state.settings
    with records_engine(settings) as engine, engine.connect() as conn:
        rows = list_queue(conn, QueueFilter(), limit=SHOWN)
        waiting = overview(conn).queue_size
    title = f"top open cases ({waiting:,} waiting for an analyst)"
    table = Table("case", "score", "amount", "rules hit", "card (token)", title=title)
    for row in rows:
        amount = (row["transaction"] or {}).get("amount")
        table.add_row(
            row["transaction_id"],
            "-" if row["score"] is None else f"{row['score']:.3f}",
            "" if amount is None else f"{amount:,.2f}",
            ", ".join(row["rule_hits"]),
            row["card_token"][:16] + "...",
        )
    console.print(table)
    serve = settings.serve
    console.print(
        f"analyst workspace: http://{serve.host}:{serve.port}/workspace "
        "(run `fraudlens serve`; sign in with an analyst API key, see docs/workspace.md)"
    )
    state.summary["workspace"] = {"open_cases": waiting, "open_cases_shown": len(rows)}
