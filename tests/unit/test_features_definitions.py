"""Feature functions on small, hand-computed cases (no Feast, no Kafka)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from fraudlens.features.definitions import card_features, haversine_km, terminal_features
from fraudlens.features.fold import LabelEvent, StateFolder, fold_card
from fraudlens.features.registry import CARD_FEATURES, FEATURE_NAMES, TERMINAL_FEATURES
from fraudlens.features.state import (
    CARD_MAX_EVENTS,
    MISSING_COORD,
    US_PER_DAY,
    US_PER_SECOND,
    CardState,
    TxnEvent,
    update_card,
)
from fraudlens.features.state_codec import card_from_row, card_row, decode_card

T0 = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()) * US_PER_SECOND  # a Monday
MIN = 60 * US_PER_SECOND
HOUR = 60 * MIN


def txn(
    i: int,
    t: int,
    amount: float = 10.0,
    *,
    card: str = "c1",
    terminal: str = "t1",
    merchant: str = "m1",
    country: str = "FR",
    lat: float = MISSING_COORD,
    lon: float = MISSING_COORD,
) -> TxnEvent:
    return TxnEvent(f"x{i}", t, card, terminal, merchant, country, amount, lat, lon)


def build(events: list[TxnEvent]) -> CardState:
    state: CardState | None = None
    for event in events:
        state = update_card(state, event)
    assert state is not None
    return state


def test_registry_matches_definitions() -> None:
    card = card_features(None, txn(0, T0))
    term = terminal_features(None, txn(0, T0))
    assert list(card) == sorted(card, key=[s.name for s in CARD_FEATURES].index)
    assert set(card) == {s.name for s in CARD_FEATURES}
    assert set(term) == {s.name for s in TERMINAL_FEATURES}
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    for spec in CARD_FEATURES + TERMINAL_FEATURES:
        value = {**card, **term}[spec.name]
        assert isinstance(value, int if spec.dtype == "int64" else float), spec.name


def test_new_card_has_empty_windows_and_sentinels() -> None:
    f = card_features(None, txn(0, T0, 25.0))
    assert f["card_tx_count_30d"] == 0
    assert f["card_amount_mean_1d"] == 0.0
    assert f["card_secs_since_prev"] == -1.0
    assert f["card_km_from_prev"] == -1.0
    assert f["card_amount_ratio_30d"] == 1.0
    assert f["card_new_terminal_30d"] == 1
    assert f["txn_amount"] == 25.0


def test_window_counts_sums_and_edges() -> None:
    history = [
        txn(1, T0 - 10 * MIN, 5.0),  # exactly 10 minutes before: inside (t - W <= ts)
        txn(2, T0 - 10 * MIN - 1, 7.0),  # one microsecond older: outside 10m
        txn(3, T0 - 2 * HOUR, 20.0),
        txn(4, T0 - 3 * US_PER_DAY, 100.0),
        txn(5, T0 - 30 * US_PER_DAY, 1.0),  # exactly 30 days: inside
        txn(6, T0 - 30 * US_PER_DAY - 1, 1000.0),  # outside 30d (but retained)
    ]
    f = card_features(build(history), txn(0, T0, 50.0))
    assert f["card_tx_count_10m"] == 1 and f["card_amount_sum_10m"] == 5.0
    assert f["card_tx_count_1h"] == 2 and f["card_amount_sum_1h"] == 12.0
    assert f["card_amount_mean_1h"] == 6.0 and f["card_amount_max_1h"] == 7.0
    assert f["card_tx_count_1d"] == 3 and f["card_amount_sum_1d"] == 32.0
    assert f["card_tx_count_7d"] == 4 and f["card_amount_max_7d"] == 100.0
    assert f["card_tx_count_30d"] == 5 and f["card_amount_sum_30d"] == 133.0
    assert f["card_secs_since_prev"] == 600.0


def test_amount_ratio_and_zscore() -> None:
    history = [txn(1, T0 - HOUR, 10.0), txn(2, T0 - 2 * HOUR, 30.0)]
    f = card_features(build(history), txn(0, T0, 40.0))
    assert f["card_amount_ratio_30d"] == 2.0  # 40 / mean(10, 30)
    assert f["card_amount_zscore_30d"] == 2.0  # (40 - 20) / pstdev = 20 / 10


def test_amount_ratio_at_the_same_terminal_sees_a_high_amount_fraud() -> None:
    """A 20x payment at the card's usual grocer hides under a 30-day mean swollen by rent.

    The simulator's ``high_amount`` frauds are 10-30x the card's usual amount *at that
    terminal*: against the mean over every terminal they scored like legit payments.
    """
    history = [txn(i, T0 - i * HOUR, 20.0, terminal="grocer") for i in range(1, 9)]
    history += [txn(20, T0 - 3 * US_PER_DAY, 1800.0, terminal="landlord")]
    state = build(sorted(history, key=lambda e: e.time_us))
    fraud = card_features(state, txn(0, T0, 400.0, terminal="grocer"))
    rent = card_features(state, txn(0, T0, 1800.0, terminal="landlord"))
    assert fraud["card_amount_ratio_30d"] < 2.0  # the card-wide ratio cannot tell them apart
    assert fraud["card_amount_ratio_terminal_30d"] == 20.0  # 400 / mean(20, ... 20)
    assert rent["card_amount_ratio_terminal_30d"] == 1.0
    elsewhere = card_features(state, txn(0, T0, 400.0, terminal="never-used"))
    # No history there: the card-wide ratio, so a new terminal never looks more usual.
    assert elsewhere["card_amount_ratio_terminal_30d"] == elsewhere["card_amount_ratio_30d"] > 1.0
    assert card_features(None, txn(0, T0))["card_amount_ratio_terminal_30d"] == 1.0


def test_distinct_and_first_time_at_terminal() -> None:
    history = [
        txn(1, T0 - HOUR, terminal="t1", merchant="m1", country="FR"),
        txn(2, T0 - 2 * HOUR, terminal="t2", merchant="m1", country="DE"),
        txn(3, T0 - 5 * US_PER_DAY, terminal="t3", merchant="m2", country="FR"),
    ]
    f = card_features(build(history), txn(0, T0, terminal="t3", merchant="m9", country="FR"))
    assert f["card_distinct_terminals_1d"] == 2
    assert f["card_distinct_terminals_30d"] == 3
    assert f["card_distinct_merchants_1d"] == 1
    assert f["card_distinct_merchants_30d"] == 2
    assert f["card_distinct_countries_1d"] == 2
    assert f["card_new_terminal_30d"] == 0
    assert f["card_new_merchant_30d"] == 1
    assert f["card_new_country_30d"] == 0


def test_distance_and_speed_from_previous_located_transaction() -> None:
    paris, berlin = (48.8566, 2.3522), (52.52, 13.405)
    history = [
        txn(1, T0 - 2 * HOUR, lat=paris[0], lon=paris[1]),
        txn(2, T0 - HOUR),  # no location: skipped for distance, used for time
    ]
    f = card_features(build(history), txn(0, T0, lat=berlin[0], lon=berlin[1]))
    km = haversine_km(*paris, *berlin)
    assert 870 < km < 890
    assert f["card_km_from_prev"] == km
    assert f["card_speed_kmh_from_prev"] == km / 2.0
    assert f["card_secs_since_prev"] == 3600.0


def test_night_and_weekend_use_local_solar_time() -> None:
    saturday_utc_23h = int(datetime(2026, 6, 6, 23, 0, tzinfo=UTC).timestamp()) * US_PER_SECOND
    utc = card_features(None, txn(0, saturday_utc_23h))
    assert (utc["txn_local_hour"], utc["txn_is_night"], utc["txn_is_weekend"]) == (23, 0, 1)
    # 30 degrees east is UTC+2: Sunday 01:00, night and weekend.
    east = card_features(None, txn(0, saturday_utc_23h, lat=10.0, lon=30.0))
    assert (east["txn_local_hour"], east["txn_is_night"], east["txn_is_weekend"]) == (1, 1, 1)
    monday = card_features(None, txn(0, T0))
    assert monday["txn_is_weekend"] == 0


def test_current_and_later_events_in_state_do_not_change_features() -> None:
    history = [txn(1, T0 - HOUR, 10.0), txn(2, T0 - 30 * MIN, 20.0)]
    request = txn(0, T0, 99.0)
    before = card_features(build(history), request)
    with_self = card_features(build([*history, request]), request)
    later = [txn(7, T0 + MIN, 500.0), txn(8, T0 + 12 * HOUR, 1.0)]
    ahead = card_features(build([*history, request, *later]), request)
    assert before == with_self == ahead
    assert before["card_tx_count_1h"] == 2


def test_other_event_at_the_same_microsecond_is_not_before() -> None:
    history = [txn(1, T0 - HOUR, 10.0), txn(2, T0, 20.0)]
    f = card_features(build(history), txn(0, T0, 5.0))
    assert f["card_tx_count_1h"] == 1


def test_state_retention_and_cap() -> None:
    old = txn(1, T0 - 40 * US_PER_DAY)
    state = build([old, txn(2, T0)])
    assert state.ts == [T0]  # older than 31 days before the newest event
    many = build([txn(i, T0 + i) for i in range(CARD_MAX_EVENTS + 10)])
    assert len(many.ts) == CARD_MAX_EVENTS and many.ts[0] == T0 + 10


def test_late_event_is_inserted_in_time_order() -> None:
    state = build([txn(1, T0), txn(2, T0 - HOUR, 3.0)])
    assert state.ts == [T0 - HOUR, T0]
    assert state.amount == [3.0, 10.0]


def test_state_row_round_trip_and_null_means_no_state() -> None:
    state = build([txn(1, T0, lat=1.0, lon=2.0), txn(2, T0 + 1)])
    assert card_from_row(card_row(state)) == state
    assert card_from_row({}) is None
    assert card_from_row({"c_state": None}) is None
    assert card_from_row(card_row(CardState())) is None  # an empty state is no state


def test_fold_emits_one_row_per_distinct_time() -> None:
    rows = fold_card("c1", [txn(2, T0), txn(1, T0), txn(3, T0 + 5)])
    assert [r["state_ts"] for r in rows] == [T0, T0 + 5]
    assert decode_card(rows[0]["c_state"]).ts == [T0, T0]
    assert decode_card(rows[1]["c_state"]).ts == [T0, T0, T0 + 5]


def test_fold_matches_incremental_folder() -> None:
    # The stream applies time-ordered micro-batches; Spark folds whole histories.
    events = [txn(i, T0 + (i // 2) * HOUR, 1.0 + i, card=f"c{i % 3}") for i in range(30)]
    folder = StateFolder(max_label_delay_us=90 * US_PER_DAY)
    streamed = folder.apply(events[:10]).card_rows + folder.apply(events[10:]).card_rows
    for card in ("c0", "c1", "c2"):
        batch = fold_card(card, [e for e in events if e.card_token == card])
        assert [r for r in streamed if r["card_token"] == card] == batch


@pytest.mark.parametrize("amount", [0.01, 123.45, 999_999.0])
def test_txn_amount_is_the_request_amount(amount: float) -> None:
    assert card_features(None, txn(0, T0, amount))["txn_amount"] == amount
    assert math.isfinite(card_features(None, txn(0, T0, amount))["card_amount_zscore_30d"])


def test_duplicate_transaction_is_counted_once() -> None:
    folder = StateFolder(max_label_delay_us=90 * US_PER_DAY)
    folder.apply([txn(1, T0)])
    result = folder.apply([txn(1, T0), LabelEvent("x1", T0 + HOUR, True)])
    assert folder.duplicates == 1
    assert folder.cards["c1"].ts == [T0]
    assert result.card_rows == []


@pytest.mark.parametrize(
    "history",
    [
        [],  # a first transaction
        [0.0],  # one earlier card check
        [0.0, 0.0, 0.0],  # only card checks: mean and std are 0
        [10.0, 0.0, 30.0],  # a mixed history
    ],
)
@pytest.mark.parametrize("amount", [0.0, 25.0])
def test_zero_amounts_give_finite_features(history: list[float], amount: float) -> None:
    events = [txn(i, T0 + i * HOUR, a) for i, a in enumerate(history)]
    state = build(events) if events else None
    request = txn(99, T0 + 10 * HOUR, amount)
    values = {**card_features(state, request), **terminal_features(None, request)}
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    assert not bad
    if amount == 0.0 and history and sum(history) > 0:
        assert values["card_amount_ratio_30d"] == 0.0
        assert values["card_amount_zscore_30d"] < 0.0
    if not any(history):
        assert values["card_amount_ratio_30d"] == 1.0
        assert values["card_amount_zscore_30d"] == 0.0
