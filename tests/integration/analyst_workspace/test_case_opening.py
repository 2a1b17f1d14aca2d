"""Every review decision the records sink stores opens one case, grouped by card and window.

(Reviews only here; declines opening cases too, the default, is in test_case_decisions.py.)
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cases_data import CARD_A, CARD_B, decision, store
from rich.console import Console
from sqlalchemy import Engine, select

from fraudlens.demo.state import DemoState
from fraudlens.demo.workspace import workspace_step
from fraudlens.records.sink import DecisionWriter
from fraudlens.records.tables import case_events, cases, decisions
from fraudlens.settings import RecordsSettings, Settings
from fraudlens.workspace import QueueFilter, list_queue

pytestmark = pytest.mark.integration


def test_review_decisions_open_grouped_cases_once(records_engine: Engine) -> None:
    writer = DecisionWriter(
        records_engine, group_window=timedelta(minutes=60), case_decisions=("review",)
    )
    rows = [
        decision("a1", CARD_A, 0, score=0.70),
        decision("a2", CARD_A, 30, score=0.95, amount=900.0),  # same card, within the window
        decision("a3", CARD_A, 200, score=0.60),  # same card, after the window: a new group
        decision("a4", CARD_A, 201, decision="approve", score=0.1),
        decision("b1", CARD_B, 10, decision="decline", score=0.99),
        decision("b2", CARD_B, 12, score=0.81, model_version="8"),
    ]
    store(writer, rows)
    store(writer, rows)  # redelivered: nothing new
    assert writer.stats.cases_opened == 4

    with records_engine.connect() as conn:
        found = {r.case_id: r for r in conn.execute(select(cases))}
        opened = conn.execute(select(case_events).where(case_events.c.action == "opened")).all()
        facts = conn.execute(
            select(decisions.c.transaction).where(decisions.c.decision_id == "d-a2")
        ).scalar_one()
        top = list_queue(conn, QueueFilter())
        by_amount = list_queue(conn, QueueFilter(sort="amount", min_amount=500))
        of_version = list_queue(conn, QueueFilter(model_version="8"))
        grouped = list_queue(conn, QueueFilter(grouped=True))
        grouped_by_age = list_queue(conn, QueueFilter(grouped=True, sort="age"))

    assert set(found) == {"d-a1", "d-a2", "d-a3", "d-b2"}
    assert len(opened) == 4
    assert found["d-a2"].group_key == found["d-a1"].group_key == "d-a1"
    assert found["d-a3"].group_key == "d-a3"
    assert all(c.status == "open" for c in found.values())
    assert facts["amount"] == 900.0 and facts["terminal_id"] == "T42"
    assert "pan" not in facts
    assert [r["case_id"] for r in top] == ["d-a2", "d-b2", "d-a1", "d-a3"]
    assert top[0]["group_size"] == 2
    assert [r["case_id"] for r in by_amount] == ["d-a2"]
    assert [r["case_id"] for r in of_version] == ["d-b2"]
    # One row per card group: its top case in the chosen order, with the group's size.
    assert [(r["case_id"], r["group_size"]) for r in grouped] == [
        ("d-a2", 2),
        ("d-b2", 1),
        ("d-a3", 1),
    ]
    # By age (all opened in one transaction: ties broken by case id) a1 stands for its group.
    assert [r["case_id"] for r in grouped_by_age] == ["d-a1", "d-a3", "d-b2"]
    assert "group_rank" not in grouped[0]


def test_demo_ends_with_the_workspace_and_open_cases(
    records_url: str, tmp_path: Path, records_engine: Engine
) -> None:
    writer = DecisionWriter(records_engine, case_decisions=("review",))
    store(writer, [decision("demo-1", CARD_B, 50, score=0.9)])
    settings = Settings(
        data_dir=tmp_path,
        records=RecordsSettings(database_url=records_url),  # type: ignore[arg-type]
    )
    console = Console(record=True, width=140)
    state = DemoState(settings, tmp_path)
    workspace_step(state, console)
    text = console.export_text()
    assert "http://127.0.0.1:8000/workspace" in text
    assert "demo-1" in text and "a2" in text  # the top open cases
    # one row per card group: {a1, a2}, {a3} and {b2, demo-1}
    assert state.summary["workspace"] == {"open_cases": 5, "open_cases_shown": 3}
    assert text.count("2 cases") == 2 and "1 case " in text
    assert "5 waiting for an analyst" in text
