"""The Handbook data generator: seeded, and its three fraud scenarios as the Handbook defines them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.handbook import (
    COLUMNS,
    CUSTOMER_DAYS,
    DAY_SECONDS,
    TERMINAL_DAYS,
    HandbookConfig,
    customer_profiles,
    generate,
    terminal_profiles,
    terminals_within,
)

CFG = HandbookConfig(customers=300, terminals=600, days=40, seed=7)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return generate(CFG)


def test_same_seed_same_rows_other_seed_other_rows(data: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate(CFG), data)
    other = generate(HandbookConfig(customers=300, terminals=600, days=40, seed=8))
    assert len(other) != len(data) or not other["TX_AMOUNT"].equals(data["TX_AMOUNT"])


def test_layout_ids_and_times(data: pd.DataFrame) -> None:
    assert list(data.columns) == COLUMNS
    assert (data["TRANSACTION_ID"].to_numpy() == np.arange(len(data))).all()
    assert data["TX_DATETIME"].is_monotonic_increasing
    start = pd.Timestamp(CFG.start, tz="UTC")
    assert (data["TX_DATETIME"] - start).dt.total_seconds().eq(data["TX_TIME_SECONDS"]).all()
    assert data["TX_TIME_SECONDS"].floordiv(DAY_SECONDS).eq(data["TX_TIME_DAYS"]).all()
    second_of_day = data["TX_TIME_SECONDS"] % DAY_SECONDS
    assert (second_of_day > 0).all()
    assert data["TX_TIME_DAYS"].between(0, CFG.days - 1).all()
    assert (data["TX_AMOUNT"] >= 0).all()


def test_customers_use_only_terminals_within_the_radius(data: pd.DataFrame) -> None:
    rng = np.random.default_rng(CFG.seed)
    customers = customer_profiles(CFG.customers, rng)
    terminals = terminal_profiles(CFG.terminals, rng)
    reach = terminals_within(customers, terminals, CFG.radius)
    used = data.groupby("CUSTOMER_ID")["TERMINAL_ID"].unique()
    for customer, terms in used.items():
        assert set(terms) <= set(reach[int(customer)].tolist())
    # Profiles as the Handbook draws them.
    assert customers["mean_amount"].between(5, 100).all()
    assert (customers["std_amount"] == customers["mean_amount"] / 2).all()
    assert customers["mean_nb_tx_per_day"].between(0, 4).all()


def test_amount_above_220_is_always_fraud(data: pd.DataFrame) -> None:
    high = data[data["TX_AMOUNT"] > 220]
    assert len(high) > 0
    assert (high["TX_FRAUD"] == 1).all()
    assert (data.loc[data["TX_FRAUD_SCENARIO"] == 1, "TX_AMOUNT"] > 220).all()


def test_labels_match_scenarios(data: pd.DataFrame) -> None:
    assert set(data["TX_FRAUD_SCENARIO"]) == {0, 1, 2, 3}
    assert (data["TX_FRAUD"] == (data["TX_FRAUD_SCENARIO"] > 0)).all()


def test_compromised_terminal_frauds_take_every_transaction_of_the_day(
    data: pd.DataFrame,
) -> None:
    frauds = data[data["TX_FRAUD_SCENARIO"] == 2]
    assert len(frauds) > 0
    # On a day a terminal is compromised, all its transactions are fraud
    # (scenario 3 may relabel some of them).
    days = frauds[["TERMINAL_ID", "TX_TIME_DAYS"]].drop_duplicates()
    rows = data.merge(days, on=["TERMINAL_ID", "TX_TIME_DAYS"])
    assert rows["TX_FRAUD_SCENARIO"].isin([2, 3]).all()
    # Two terminals are drawn a day, each for 28 days.
    assert frauds["TERMINAL_ID"].nunique() <= 2 * (CFG.days - 1)
    span = frauds.groupby("TERMINAL_ID")["TX_TIME_DAYS"].agg(lambda d: d.max() - d.min())
    assert (span < TERMINAL_DAYS).mean() > 0.5


def test_compromised_card_frauds_are_a_third_of_its_days_with_amounts_times_five(
    data: pd.DataFrame,
) -> None:
    frauds = data[data["TX_FRAUD_SCENARIO"] == 3]
    assert frauds["CUSTOMER_ID"].nunique() <= 3 * (CFG.days - 1)
    # Their amounts are five times the legit draw: far above the card's own legit mean.
    legit = data[data["TX_FRAUD"] == 0].groupby("CUSTOMER_ID")["TX_AMOUNT"].mean()
    ratio = frauds["TX_AMOUNT"] / frauds["CUSTOMER_ID"].map(legit)
    assert ratio.median() > 3
    # Over a card's 14 compromised days, at most about a third of its rows are scenario 3.
    share = []
    for customer, rows in frauds.groupby("CUSTOMER_ID"):
        lo = rows["TX_TIME_DAYS"].min()
        window = data[
            (data["CUSTOMER_ID"] == customer)
            & data["TX_TIME_DAYS"].between(lo, lo + CUSTOMER_DAYS - 1)
        ]
        share.append((window["TX_FRAUD_SCENARIO"] == 3).mean())
    assert 0.15 < float(np.mean(share)) < 0.6
