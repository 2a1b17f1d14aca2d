"""Which decisions open a case: reviews and declines by default, as ``workspace.case_decisions`` says."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases_data import CARD_A, CARD_B, decision, store
from rich.console import Console
from sqlalchemy import Engine, select

from fraudlens.demo.records import require_cases
from fraudlens.demo.state import DemoState
from fraudlens.demo.workspace import workspace_step
from fraudlens.errors import DataError
from fraudlens.records.sink import DecisionWriter, SinkStats
from fraudlens.records.tables import case_events
from fraudlens.settings import Settings
from fraudlens.workspace import QueueFilter, list_queue

pytestmark = pytest.mark.integration


def test_the_demo_fails_on_an_empty_queue(
    records_url: str, records_engine: Engine, tmp_path: Path
) -> None:
    # First in this module: its schema holds no case yet.
    settings = Settings(data_dir=tmp_path, records={"database_url": records_url})  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no open case"):
        workspace_step(DemoState(settings, tmp_path), Console(record=True))


def test_the_demo_checks_one_case_per_review_and_decline() -> None:
    by_decision = {"approve": 90, "review": 3, "decline": 7}
    require_cases(by_decision, ["review", "decline"], SinkStats(cases_opened=10))
    with pytest.raises(DataError, match="10 decisions that open a case.*opened 3"):
        require_cases(by_decision, ["review", "decline"], SinkStats(cases_opened=3))


def test_reviews_and_declines_open_cases_by_default(records_engine: Engine) -> None:
    writer = DecisionWriter(records_engine)
    store(
        writer,
        [
            decision("r1", CARD_A, 0, decision="review", score=0.6),
            decision("x1", CARD_B, 5, decision="decline", score=0.97),
            decision("ok1", CARD_B, 6, decision="approve", score=0.01),
        ],
    )
    assert writer.stats.cases_opened == 2
    with records_engine.connect() as conn:
        queue = list_queue(conn, QueueFilter(grouped=False))
        notes = dict(
            conn.execute(
                select(case_events.c.case_id, case_events.c.note).where(
                    case_events.c.action == "opened"
                )
            ).all()
        )
    assert [(r["transaction_id"], r["decision"]) for r in queue] == [
        ("x1", "decline"),
        ("r1", "review"),
    ]
    assert notes == {"d-x1": "decline by stream", "d-r1": "review by stream"}


def test_the_setting_can_keep_declines_out_of_the_queue(records_engine: Engine) -> None:
    settings = Settings(workspace={"case_decisions": ["review"]})  # type: ignore[arg-type]
    writer = DecisionWriter(records_engine, case_decisions=settings.workspace.case_decisions)
    store(writer, [decision("x2", CARD_B, 30, decision="decline", score=0.99)])
    assert writer.stats.cases_opened == 0
    with pytest.raises(ValueError, match="case_decisions"):
        Settings(workspace={"case_decisions": ["approve"]})  # type: ignore[arg-type]
