"""The case page's feature-store section: what the store holds of the card and terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from fraudlens.features.odfv import time_us
from fraudlens.features.state import US_PER_DAY, CardState, TerminalState
from fraudlens.scoring.fakes import FakeFeatures
from fraudlens.workspace.activity import read_activity, stored_activity

CASE_AT = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
CASE_US = time_us(CASE_AT)
DAY = CASE_US // US_PER_DAY


def _card(times: list[int]) -> CardState:
    n = len(times)
    return CardState(times, [float(i) for i in range(n)], ["T"] * n, ["M"] * n, ["FR"] * n)


def test_newest_first_later_sales_marked_and_fraud_days_counted() -> None:
    card = _card([CASE_US - 2, CASE_US, CASE_US + 1])
    terminal = TerminalState([DAY - 1, DAY], [4, 2], [400, 200], [CASE_US - 5] * 2, [DAY - 1] * 2)
    shown = stored_activity(card, terminal, CASE_US, shown=2)

    assert shown.card_total == 3 and [r["amount"] for r in shown.card] == [2.0, 1.0]
    assert [r["after_case"] for r in shown.card] == [True, False]  # the case itself is not after
    assert [(d["tx"], d["frauds"]) for d in shown.terminal] == [(2, 0), (4, 2)]
    empty = stored_activity(None, None, CASE_US)
    assert (empty.card, empty.card_total, empty.terminal, empty.error) == ([], 0, [], "")


def test_a_store_that_cannot_be_read_is_said_on_the_page() -> None:
    features = FakeFeatures()
    features.cards["tok"] = _card([CASE_US - 1])
    case = {"card_token": "tok", "event_time": CASE_AT, "transaction": {"terminal_id": "T1"}}
    assert read_activity(features, case).card_total == 1  # type: ignore[union-attr]
    features.down = True
    assert "down" in read_activity(features, case).error  # type: ignore[union-attr]
    assert read_activity(None, case) is None  # no feature store: no section
