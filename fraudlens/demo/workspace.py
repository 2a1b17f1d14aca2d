"""Demo step 7: where analysts work the day's cases (the workspace's URL and top cases).

The embedded demo configures no API keys, so it makes a throwaway analyst key
(``fraudlens.security.generate_api_key``) and prints, once and on the terminal
only, the commands that serve the workspace with it. Only the key's SHA-256
goes into the setting; neither the log file nor the summary sees the key.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fraudlens.demo.state import DemoState
from fraudlens.errors import DataError
from fraudlens.settings import Settings

SHOWN = 5
KEY_ID = "demoanalyst"  # names the key in the audit trail: api_key:demoanalyst


def workspace_step(state: DemoState, console: Console) -> None:
    """Print the workspace URL and the top open cases (one per card group) the sink opened."""
    from fraudlens.records import records_engine
    from fraudlens.workspace import QueueFilter, list_queue
    from fraudlens.workspace.overview import overview

    console.rule("7. analyst workspace: the review queue")
    settings = state.settings
    with records_engine(settings) as engine, engine.connect() as conn:
        rows = list_queue(conn, QueueFilter(grouped=True), limit=SHOWN)
        waiting = overview(conn).queue_size
    if waiting == 0:  # the step's point is a queue to work: an empty one is a defect
        raise DataError(
            "demo check failed: no open case; the day's reviews and declines open them "
            f"({', '.join(settings.workspace.case_decisions)})"
        )
    title = f"top open cases ({waiting:,} waiting for an analyst)"
    table = Table(title=title)
    table.add_column("case", no_wrap=True)  # the id to find in the workspace: never cut
    for name in (
        "decision",
        "score",
        "amount",
        "rules hit",
        "card (token, last four)",
        "its group",
    ):
        table.add_column(name)
    for row in rows:
        facts = row["transaction"] or {}
        amount = facts.get("amount")
        table.add_row(
            row["transaction_id"],
            row["decision"],
            "-" if row["score"] is None else f"{row['score']:.3f}",
            "" if amount is None else f"{amount:,.2f}",
            ", ".join(row["rule_hits"]),
            row["card_token"][:16] + "... " + (facts.get("card_last4") or ""),
            f"{row['group_size']} case" + ("s" if row["group_size"] > 1 else ""),
        )
    console.print(table)
    print_sign_in(settings, console)
    state.summary["workspace"] = {"open_cases": waiting, "open_cases_shown": len(rows)}


def _fraudlens() -> str:
    """The ``fraudlens`` command of this environment, relative to here when it is below."""
    command = Path(sys.executable).parent / "fraudlens"
    if not command.exists():
        return "fraudlens"
    try:
        return shlex.quote(str(command.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(command))


def print_sign_in(settings: Settings, console: Console) -> None:
    """Print how to open the workspace on this data dir with a new throwaway analyst key."""
    from fraudlens.security import generate_api_key

    key_id, key, sha256 = generate_api_key(KEY_ID)
    keys = json.dumps({key_id: {"role": "analyst", "sha256": sha256}})
    data_dir = f"FRAUDLENS_DATA_DIR={shlex.quote(str(settings.data_dir.absolute()))}"
    serve = settings.serve
    url = f"http://{serve.host}:{serve.port}/workspace/sign-in"
    lines = [
        "To work these cases in the analyst workspace (docs/workspace.md), serve the API and",
        "the workspace with a throwaway analyst key and an embedded broker for the verdicts",
        "(plain http on this machine, so the session cookie is not https-only):",
        f"   {data_dir} FRAUDLENS_SECURITY__API_KEYS={shlex.quote(keys)} "
        f"FRAUDLENS_WORKSPACE__SECURE_COOKIE=false {_fraudlens()} serve --broker",
        f"then open {url} and sign in with the analyst key:",
        f"   {key}",
        "   (shown only here, not in the log file or the summary; with a key configured,",
        "   /v1/score also asks for one: docs/security.md)",
    ]
    for line in lines:  # one terminal line each, so a copy-paste is exact
        console.print(line, soft_wrap=True, markup=False, highlight=False)
