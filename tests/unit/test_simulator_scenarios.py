"""Each fraud scenario looks like what it claims to be, and obeys its switches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudlens.security import Tokenizer
from fraudlens.simulator import SCENARIOS, Simulation, SimulatorConfig, simulate

KEYS = {"t1": b"simulator-test-key-0123456789"}
BASE = SimulatorConfig(customers=800, terminals=250, days=40, fraud_rate=0.03, seed=5)


def run(**changes: object) -> Simulation:
    return simulate(SimulatorConfig(**{**vars(BASE), **changes}), Tokenizer("t1", KEYS))


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return run().transactions


def of(tx: pd.DataFrame, scenario: str) -> pd.DataFrame:
    rows = tx[tx["fraud_scenario"] == scenario]
    assert len(rows) > 0, scenario
    return rows


def km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle distance between rows of (lat, lon) degrees."""
    p1, p2 = np.radians(a[:, 0]), np.radians(b[:, 0])
    h = np.sin((p2 - p1) / 2) ** 2
    h += np.cos(p1) * np.cos(p2) * np.sin(np.radians(b[:, 1] - a[:, 1]) / 2) ** 2
    return 2 * 6371 * np.arcsin(np.sqrt(h))


def test_disabled_scenarios_are_absent() -> None:
    tx = run(scenarios=("stolen_card", "card_testing")).transactions
    assert set(tx["fraud_scenario"].dropna()) == {"stolen_card", "card_testing"}


def test_scenario_start_day_is_respected() -> None:
    starts = {"account_takeover": 25, "merchant_collusion": 30}
    tx = run(scenario_start_day=starts).transactions
    origin = pd.Timestamp(BASE.start_date, tz="UTC")
    for name, day in starts.items():
        rows = of(tx, name)
        assert rows["event_time"].min() >= origin + pd.Timedelta(days=day)
    # A scenario that would start after the last day never appears.
    late = run(scenario_start_day={"high_amount": BASE.days}).transactions
    assert "high_amount" not in set(late["fraud_scenario"].dropna())
    assert set(late["fraud_scenario"].dropna()) == set(SCENARIOS) - {"high_amount"}


def test_legitimate_rows_do_not_depend_on_scenarios(tx: pd.DataFrame) -> None:
    other = run(scenarios=("high_amount",)).transactions
    cols = ["event_time", "card_token", "terminal_id", "amount"]
    left = tx.loc[~tx["is_fraud"], cols].reset_index(drop=True)
    right = other.loc[~other["is_fraud"], cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


def test_card_testing_is_tiny_bursts_then_a_large_one(tx: pd.DataFrame) -> None:
    rows = of(tx, "card_testing").sort_values("event_time")
    for _, card in rows.groupby("card_token"):
        tiny = card[card["amount"].between(0.5, 2.0)]
        assert len(tiny) >= 3
        assert tiny["event_time"].max() - tiny["event_time"].min() < pd.Timedelta(minutes=30)
        assert tiny["terminal_id"].nunique() == 1
        assert (card["amount"] > 50).any()
        assert card.loc[card["amount"] > 50, "event_time"].min() > tiny["event_time"].max()
        assert card["channel"].eq("ecommerce").all() and card["device_id"].nunique() == 1


def test_stolen_card_uses_many_new_terminals_far_from_home(tx: pd.DataFrame) -> None:
    rows = of(tx, "stolen_card")
    per_card = rows.groupby("card_token")["terminal_id"].agg(["nunique", "size"])
    assert (per_card["nunique"] == per_card["size"]).all()  # a new shop each time
    assert per_card["nunique"].mean() >= 4
    spans = rows.groupby("card_token")["event_time"].agg(lambda t: t.max() - t.min())
    assert spans.median() < pd.Timedelta(days=1)
    legit = tx[~tx["is_fraud"] & tx["latitude"].notna()]
    home = legit.groupby("customer_id")[["latitude", "longitude"]].median()
    dist = km(home.loc[rows["customer_id"]].to_numpy(), rows[["latitude", "longitude"]].to_numpy())
    assert (dist > 100).mean() > 0.35
    seen = set(zip(legit["card_token"], legit["terminal_id"], strict=True))
    new = [(c, t) not in seen for c, t in zip(rows["card_token"], rows["terminal_id"], strict=True)]
    assert np.mean(new) > 0.8


def test_account_takeover_new_device_foreign_ip_larger_amounts(tx: pd.DataFrame) -> None:
    rows = of(tx, "account_takeover")
    legit = tx[~tx["is_fraud"]]
    assert rows["channel"].eq("ecommerce").all()
    assert rows["device_id"].notna().all() and rows["ip_address"].notna().all()
    known_devices = set(zip(legit["customer_id"], legit["device_id"], strict=True))
    known_ips = set(zip(legit["customer_id"], legit["ip_address"], strict=True))
    pairs = zip(rows["customer_id"], rows["device_id"], rows["ip_address"], strict=True)
    for customer, device, ip in pairs:
        assert (customer, device) not in known_devices and (customer, ip) not in known_ips
    # Customers who clearly shop in one country (in a small world, people from
    # small cities also shop in the next big one) are attacked from abroad.
    present = legit[legit["channel"] != "ecommerce"]
    shares = present.groupby("customer_id")["country"].value_counts(normalize=True)
    home = shares[shares >= 0.9].reset_index().set_index("customer_id")["country"]
    clear = rows[rows["customer_id"].isin(home.index)]
    assert len(clear) > 0.5 * len(rows)
    assert (clear["country"].to_numpy() != home.loc[clear["customer_id"]].to_numpy()).mean() > 0.95
    usual = legit.groupby("customer_id")["amount"].median()
    assert (rows["amount"].to_numpy() > 2 * usual.loc[rows["customer_id"]].to_numpy()).mean() > 0.8


def test_high_amount_is_far_above_the_usual_amount(tx: pd.DataFrame) -> None:
    rows = of(tx, "high_amount")
    legit = tx[~tx["is_fraud"]]
    usual = legit.groupby("card_token")["amount"].median()
    ratio = rows["amount"].to_numpy() / usual.reindex(rows["card_token"]).to_numpy()
    assert np.nanmedian(ratio) > 8


def test_compromised_terminal_victims_share_a_terminal(tx: pd.DataFrame) -> None:
    rows = of(tx, "compromised_terminal")
    assert (rows["entry_mode"] == "magstripe").mean() > 0.7
    first_fraud = rows.groupby("card_token")["event_time"].min()
    legit = tx[~tx["is_fraud"] & tx["card_token"].isin(first_fraud.index)]
    before = legit[legit["event_time"] < legit["card_token"].map(first_fraud)]
    victims_per_terminal = before.groupby("terminal_id")["card_token"].nunique()
    # The skimmed terminal was visited by most victims before their first fraud.
    assert victims_per_terminal.max() >= 0.5 * min(len(first_fraud), 10)
    assert len(first_fraud) >= 5


def test_merchant_collusion_many_cards_inflated_amounts(tx: pd.DataFrame) -> None:
    rows = of(tx, "merchant_collusion")
    per_merchant = rows.groupby("merchant_id")["card_token"].nunique()
    assert per_merchant.max() >= 8
    assert rows["channel"].eq("card_present").all()
    assert (rows["entry_mode"] == "keyed").mean() > 0.3
    legit = tx[~tx["is_fraud"]]
    usual = legit.groupby("mcc")["amount"].median()
    assert (rows["amount"].to_numpy() > 2 * usual.loc[rows["mcc"]].to_numpy()).mean() > 0.8
