"""Point-in-time rules for terminal risk: labels count only once they arrived."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fraudlens.features.definitions import terminal_features
from fraudlens.features.fold import LabelEvent, StateFolder, fold_terminal
from fraudlens.features.odfv import card_feature_columns, request_fields, terminal_feature_columns
from fraudlens.features.state import (
    DEFAULT_MATURED_DELAY_DAYS,
    US_PER_DAY,
    US_PER_SECOND,
    FraudMark,
    TxnEvent,
    terminal_retention_days,
)
from fraudlens.features.state_codec import terminal_from_row

DAY0 = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp()) * US_PER_SECOND
HOUR = 3600 * US_PER_SECOND
DELAY = 60 * US_PER_DAY


def txn(i: int, t: int, terminal: str = "t1") -> TxnEvent:
    return TxnEvent(f"x{i}", t, f"c{i}", terminal, "m1", "FR", 10.0)


def request(t: int) -> TxnEvent:
    return txn(999, t)


def test_label_after_transaction_is_invisible_before_it_arrives() -> None:
    folder = StateFolder(DELAY)
    fraud_txn = txn(1, DAY0 + 10 * HOUR)
    label_time = DAY0 + US_PER_DAY + 12 * HOUR  # next day, noon
    folder.apply([fraud_txn, txn(2, DAY0 + 11 * HOUR)])
    folder.apply([LabelEvent("x1", label_time, True)])
    state = folder.terminals["t1"]  # state now holds the label

    morning = terminal_features(state, request(DAY0 + US_PER_DAY + 9 * HOUR))
    assert morning["term_tx_count_1d"] == 2
    assert morning["term_fraud_count_1d"] == 0  # label not arrived yet
    assert morning["term_fraud_rate_1d"] == 0.0

    afternoon = terminal_features(state, request(label_time + 1))
    assert afternoon["term_fraud_count_1d"] == 1
    assert afternoon["term_fraud_rate_1d"] == 0.5
    at_label = terminal_features(state, request(label_time))
    assert at_label["term_fraud_count_1d"] == 0  # strictly before


def test_current_transactions_own_label_never_reaches_its_features() -> None:
    folder = StateFolder(DELAY)
    own = txn(1, DAY0 + 10 * HOUR)
    folder.apply([txn(0, DAY0 - US_PER_DAY), own])
    folder.apply([LabelEvent("x1", own.time_us + 1, True)])  # fastest possible label
    f = terminal_features(folder.terminals["t1"], own)
    assert f["term_fraud_count_1d"] == 0 and f["term_fraud_count_30d"] == 0
    assert f["term_tx_count_1d"] == 1  # only the previous day, never today


def test_today_is_excluded_and_windows_are_whole_days() -> None:
    rows = fold_terminal(
        "t1",
        [(t, 10.0) for t in (DAY0 - 30 * US_PER_DAY, DAY0 - 7 * US_PER_DAY, DAY0 - 1, DAY0 + HOUR)],
        [],
    )
    state = terminal_from_row(rows[-1])
    f = terminal_features(state, request(DAY0 + 2 * HOUR))
    assert (f["term_tx_count_1d"], f["term_tx_count_7d"], f["term_tx_count_30d"]) == (1, 2, 3)


def test_terminal_amount_profile_uses_whole_previous_days_only() -> None:
    """A shop's usual ticket: today's payments (this one included) never count."""
    times_amounts = [
        (DAY0 - 31 * US_PER_DAY, 9999.0),  # 31 days ago: outside the 30 days
        (DAY0 - 30 * US_PER_DAY, 10.0),
        (DAY0 - 2 * US_PER_DAY, 20.004),  # kept in whole cents: 20.00
        (DAY0 - 1, 30.0),
        (DAY0 + HOUR, 5000.0),  # today: not yet in the profile
    ]
    state = terminal_from_row(fold_terminal("t1", times_amounts, [])[-1])
    big = TxnEvent("x9", DAY0 + 2 * HOUR, "c9", "t1", "m1", "FR", 400.0)
    f = terminal_features(state, big)
    assert f["term_amount_mean_30d"] == 20.0  # (10 + 20 + 30) / 3
    assert f["term_amount_ratio_30d"] == 20.0
    new = terminal_features(None, big)
    # A terminal without sales in the window: the amount itself, never "usual".
    assert (new["term_amount_mean_30d"], new["term_amount_ratio_30d"]) == (0.0, 400.0)


def test_matured_risk_skips_the_unlabelled_week_and_unarrived_labels() -> None:
    """Matured windows end DEFAULT_MATURED_DELAY_DAYS (7) whole days before today."""
    assert DEFAULT_MATURED_DELAY_DAYS == 7
    folder = StateFolder(DELAY)
    old_fraud = txn(1, DAY0 - 10 * US_PER_DAY)  # in the matured 7-day window (days 8..14 back)
    late_fraud = txn(2, DAY0 - 12 * US_PER_DAY)  # in it too, but its label comes after t
    recent = txn(3, DAY0 - 2 * US_PER_DAY)  # too recent for any matured window
    folder.apply([late_fraud, old_fraud, recent, txn(4, DAY0 - 9 * US_PER_DAY)])
    t = DAY0 + HOUR
    folder.apply(
        [
            LabelEvent("x1", DAY0 - 3 * US_PER_DAY, True),
            LabelEvent("x3", DAY0 - US_PER_DAY, True),
            LabelEvent("x2", t + 1, True),  # arrives after scoring time
        ]
    )
    f = terminal_features(folder.terminals["t1"], request(t))
    assert f["term_matured_tx_count_7d"] == 3  # x1, x2, x4; not x3
    assert f["term_matured_fraud_count_7d"] == 1  # x1 only: x2's label has not arrived
    assert f["term_matured_fraud_rate_7d"] == 1 / 3
    assert f["term_fraud_count_7d"] == 1  # the plain 7 days hold x3, labelled yesterday
    assert f["term_matured_tx_count_30d"] == 3


def test_label_rules_delay_non_fraud_and_duplicates() -> None:
    folder = StateFolder(DELAY)
    folder.apply([txn(i, DAY0 + i) for i in range(1, 5)])
    folder.apply(
        [
            LabelEvent("x1", DAY0 + HOUR, True),
            LabelEvent("x1", DAY0 + 2 * HOUR, True),  # duplicate: counted once
            LabelEvent("x2", DAY0 + HOUR, False),  # not fraud
            LabelEvent("x3", DAY0 + 3 + DELAY + 1, True),  # later than the max delay
            LabelEvent("unknown", DAY0 + HOUR, True),
        ]
    )
    assert folder.terminals["t1"].fraud_label_us == [DAY0 + HOUR]
    assert folder.ignored_labels == 4


def test_fold_terminal_matches_stream_folder() -> None:
    txns = [txn(i, DAY0 + i * 5 * HOUR, terminal=f"t{i % 2}") for i in range(20)]
    labels = [LabelEvent(f"x{i}", DAY0 + i * 5 * HOUR + 30 * HOUR, True) for i in (3, 4, 9)]
    folder = StateFolder(DELAY)
    folder.apply(txns[:8] + labels[:1])
    folder.apply(txns[8:] + labels[1:])
    for key in ("t0", "t1"):
        marks = [
            FraudMark(lab.transaction_id, key, lab.time_us, t.time_us)
            for lab in labels
            for t in txns
            if t.transaction_id == lab.transaction_id and t.terminal_id == key
        ]
        rows = fold_terminal(
            key, [(t.time_us, t.amount) for t in txns if t.terminal_id == key], marks
        )
        assert terminal_from_row(rows[-1]) == folder.terminals[key]


def test_odfv_columns_equal_direct_calls() -> None:
    folder = StateFolder(DELAY)
    result = folder.apply([txn(1, DAY0), txn(2, DAY0 + HOUR)])
    req = request_fields(
        {
            "event_time": datetime(2026, 6, 2, tzinfo=UTC),
            "amount": 12.5,
            "terminal_id": "t1",
            "merchant_id": "m1",
            "country": "FR",
            "latitude": None,
        }
    )
    assert req["req_time_us"] == DAY0 + US_PER_DAY
    row = result.terminal_rows[-1]
    cols = terminal_feature_columns(
        {**{k: [v] for k, v in row.items()}, **{k: [v] for k, v in req.items()}}
    )
    assert cols["term_tx_count_1d"] == [2]
    empty = card_feature_columns({k: [v] for k, v in req.items()})  # entity not found
    assert empty["card_tx_count_30d"] == [0] and empty["txn_amount"] == [12.5]


@pytest.mark.parametrize("delay", [DEFAULT_MATURED_DELAY_DAYS, 3, 14, 0])
def test_matured_windows_end_exactly_delay_days_before_today(delay: int) -> None:
    """For any ``features.matured_delay_days``: windows ``[today - delay - w, today - delay)``,
    labels counted only once arrived, the same values row-wise and with numpy."""
    folder = StateFolder(DELAY, matured_delay_days=delay)
    today = DAY0 // US_PER_DAY

    def on(day: int, i: int, hour: int = 12) -> TxnEvent:
        return txn(i, (today - day) * US_PER_DAY + hour * HOUR)

    inside_last = on(delay + 1, 1, hour=23)  # last day of both matured windows
    too_recent = on(delay, 2, hour=0)  # the day the windows end: never in them
    inside_first = on(delay + 7, 3, hour=0)  # first day of the 7-day window
    older = on(delay + 8, 4)  # in the 30-day window only
    first_30 = on(delay + 30, 5)  # first day of the 30-day window
    before_30 = on(delay + 31, 6)  # the day before it: outside
    gone = on(delay + 32, 8)  # beyond the retention: evicted
    now = on(0, 7, hour=1)  # today: the newest event, so retention applies
    events = [inside_last, too_recent, inside_first, older, first_30, before_30, gone, now]
    folder.apply(events)
    t = DAY0 + 2 * HOUR
    folder.apply(
        [
            LabelEvent("x1", t - 1, True),  # arrived just before scoring
            LabelEvent("x2", t - HOUR, True),  # arrived, but its day is too recent
            LabelEvent("x3", t, True),  # arrives at scoring time: not yet known
            LabelEvent("x4", t - 2 * HOUR, True),
            LabelEvent("x5", t - 3 * HOUR, True),
            LabelEvent("x6", t - 3 * HOUR, True),
        ]
    )
    state = folder.terminals["t1"]
    # The retention follows the delay: 30 + delay + 1 days back are kept.
    assert min(state.day) == today - terminal_retention_days(delay) == today - delay - 31
    f = terminal_features(state, request(t), matured_delay_days=delay)
    assert f["term_matured_tx_count_7d"] == 2  # x1, x3
    assert f["term_matured_fraud_count_7d"] == 1  # x1; x3's label has not arrived
    assert f["term_matured_fraud_rate_7d"] == 0.5
    assert f["term_matured_tx_count_30d"] == 4  # x1, x3, x4, x5
    assert f["term_matured_fraud_count_30d"] == 3  # x1, x4, x5
    assert f["term_matured_fraud_rate_30d"] == 3 / 4
    row = folder.terminal_rows(["t1"])[0]
    inputs = {**{k: [v] for k, v in row.items()}, "req_time_us": [t], "req_amount": [10.0]}
    for min_rows in (1, 2):  # 1: numpy over the batch; 2: the definitions row by row
        cols = terminal_feature_columns(inputs, min_rows, matured_delay_days=delay)
        assert {k: v[0] for k, v in cols.items()} == f
        for name, value in f.items():
            assert type(cols[name][0]) is type(value), name
