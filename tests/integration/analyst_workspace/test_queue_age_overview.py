"""The queue filters by how long a case has waited; the overview's figures match known cases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cases_data import CARD_A, CARD_B, decision, store
from sqlalchemy import Engine, func

from fraudlens.errors import ValidationError
from fraudlens.records.audit import PgAuditLog
from fraudlens.records.sink import DecisionWriter
from fraudlens.records.tables import cases
from fraudlens.workspace import CaseDesk, QueueFilter, list_queue
from fraudlens.workspace.overview import overview

pytestmark = pytest.mark.integration
CARD_C = "tok_k1_" + "c" * 32


class Quiet:
    def publish(self, batch: object) -> None:
        pass


@pytest.fixture(scope="module", autouse=True)
def _cases(records_engine: Engine) -> None:
    """Six cases (five reviews, a decline) over two days (one approve opens none), opened 5 min to 3 days ago;
    then three verdicts (two fraud, one legitimate): three stay in the queue."""
    store(
        DecisionWriter(records_engine, group_window=timedelta(0)),
        [
            decision("o1", CARD_A, 0),
            decision("o2", CARD_A, 60),
            decision("o3", CARD_B, 120),
            decision("o4", CARD_B, 24 * 60, decision="decline"),  # the next day
            decision("o5", CARD_C, 24 * 60 + 10),
            decision("o6", CARD_C, 24 * 60 + 20),
            decision("o7", CARD_C, 24 * 60 + 30, decision="approve"),
        ],
    )
    waited = {"d-o1": 3 * 24 * 60, "d-o2": 600, "d-o3": 120, "d-o4": 30, "d-o5": 5, "d-o6": 61}
    with records_engine.begin() as conn:
        for case_id, minutes in waited.items():
            conn.execute(
                cases.update()
                .where(cases.c.case_id == case_id)
                .values(opened_at=func.now() - timedelta(minutes=minutes))
            )
    desk = CaseDesk(records_engine, Quiet(), PgAuditLog(records_engine))
    desk.act("d-o1", "api_key:ana1", "fraud")
    desk.act("d-o2", "api_key:ana1", "legitimate")
    desk.act("d-o4", "api_key:ana2", "fraud")


def _ids(engine: Engine, wanted: QueueFilter) -> list[str]:
    with engine.connect() as conn:
        return [r["case_id"] for r in list_queue(conn, wanted)]


def test_the_queue_filters_by_age(records_engine: Engine) -> None:
    def aged(low: float | None, high: float | None, status: str = "all") -> list[str]:
        wanted = QueueFilter(status=status, min_age_minutes=low, max_age_minutes=high, sort="age")
        return _ids(records_engine, wanted)

    assert aged(None, None) == ["d-o1", "d-o2", "d-o3", "d-o6", "d-o4", "d-o5"]
    assert aged(60, None) == ["d-o1", "d-o2", "d-o3", "d-o6"]
    assert aged(None, 60) == ["d-o4", "d-o5"]
    assert aged(100, 700) == ["d-o2", "d-o3"]
    assert aged(60, None, status="open") == ["d-o3", "d-o6"]
    with pytest.raises(ValidationError) as err:
        QueueFilter(min_age_minutes=10, max_age_minutes=5)
    assert err.value.field == "max_age_minutes"
    with pytest.raises(ValidationError) as err:
        QueueFilter(min_age_minutes=-1)
    assert err.value.field == "min_age_minutes"


def test_the_overview_figures_match_the_cases(records_engine: Engine) -> None:
    with records_engine.connect() as conn:
        figures = overview(conn)
    assert figures.queue_size == 3  # o3, o5, o6
    assert figures.alerts_per_day == [(date(2026, 6, 3), 3), (date(2026, 6, 4), 3)]
    # o1 fraud and o2 legitimate on the first day, o4 fraud on the next.
    assert figures.verdicts_per_day == [(date(2026, 6, 3), 1, 2), (date(2026, 6, 4), 1, 1)]
    assert figures.decided == 3
    assert figures.precision == pytest.approx(2 / 3)
    assert figures.precision_by_decision == {"review": 0.5, "decline": 1.0}
    assert (figures.fraud_by_model, figures.fraud_by_rules) == (2, 0)
    assert figures.median_minutes_to_decision is not None
    assert figures.median_minutes_to_decision == pytest.approx(600, abs=5)  # 3 days, 600, 30
