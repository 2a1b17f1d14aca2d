"""Simulator output contract: columns, dtypes, order, labels, determinism, no PANs."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from fraudlens.errors import ConfigError
from fraudlens.schema import (
    COUNTRIES,
    CURRENCIES,
    ID_PATTERN,
    TOKEN_PATTERN,
    LabelSource,
    parse_label,
    parse_transaction,
)
from fraudlens.security import Tokenizer, luhn_valid
from fraudlens.settings import Settings, SimulatorSettings
from fraudlens.simulator import (
    LABELS_COLUMNS,
    SCENARIOS,
    TRANSACTION_COLUMNS,
    Simulation,
    SimulatorConfig,
    customers_for_rows,
    expected_rows,
    label_records,
    simulate,
    transaction_records,
    world,
    write_simulation,
)

KEYS = {"t1": b"simulator-test-key-0123456789"}
SMALL = SimulatorConfig(customers=600, terminals=200, days=40, fraud_rate=0.02, seed=11)
DIGIT_RUN = re.compile(r"(?<!\d)\d{12,19}(?!\d)")


class SpyTokenizer(Tokenizer):
    """A real tokenizer that remembers every PAN it was given (test only)."""

    def __init__(self) -> None:
        super().__init__("t1", KEYS)
        self.pans: list[str] = []

    def tokenize(self, pan: str, kid: str | None = None) -> str:
        self.pans.append(pan)
        return super().tokenize(pan, kid)


@pytest.fixture(scope="module")
def spy() -> SpyTokenizer:
    return SpyTokenizer()


@pytest.fixture(scope="module")
def sim(spy: SpyTokenizer) -> Simulation:
    return simulate(SMALL, spy)


def test_columns_and_dtypes(sim: Simulation) -> None:
    tx, labels = sim.transactions, sim.labels
    assert tuple(tx.columns) == TRANSACTION_COLUMNS
    assert tuple(labels.columns) == LABELS_COLUMNS
    for frame, col in ((tx, "event_time"), (tx, "label_time"), (labels, "label_time")):
        assert str(frame[col].dtype) == "datetime64[us, UTC]"
    assert tx["schema_version"].dtype == np.int64
    assert tx["amount"].dtype == np.float64
    assert tx["latitude"].dtype == tx["longitude"].dtype == np.float64
    assert tx["is_fraud"].dtype == bool and labels["is_fraud"].dtype == bool
    for col in ("transaction_id", "card_token", "mcc", "channel", "entry_mode", "device_id"):
        assert tx[col].dtype == object
    assert tx["mcc"].str.fullmatch(r"\d{4}").all()


def test_sorted_with_unique_ids(sim: Simulation) -> None:
    tx = sim.transactions
    assert tx["event_time"].is_monotonic_increasing
    assert tx["transaction_id"].is_unique and tx["transaction_id"].is_monotonic_increasing
    assert tx["transaction_id"].str.fullmatch(ID_PATTERN[1:-1]).all()
    start = pd.Timestamp(SMALL.start_date, tz="UTC")
    assert tx["event_time"].min() >= start
    assert tx["event_time"].max() < start + pd.Timedelta(days=SMALL.days)
    assert sim.labels["label_time"].is_monotonic_increasing


def test_fraud_rate_near_target(sim: Simulation, spy: SpyTokenizer) -> None:
    rate = sim.transactions["is_fraud"].mean()
    assert abs(rate - SMALL.fraud_rate) < 0.25 * SMALL.fraud_rate
    clean = simulate(SimulatorConfig(customers=200, terminals=60, days=10, fraud_rate=0.0), spy)
    assert not clean.transactions["is_fraud"].any() and clean.labels.empty


def test_volume_follows_sizing_formula(sim: Simulation) -> None:
    assert abs(len(sim.transactions) / SMALL.expected_rows - 1) < 0.05
    customers = customers_for_rows(1_000_000, days=60)
    assert customers == 20_750
    assert abs(expected_rows(customers, 60) - 1_000_000) < 100


def test_labels_match_fraud_rows(sim: Simulation) -> None:
    tx, labels = sim.transactions, sim.labels
    fraud = tx[tx["is_fraud"]]
    assert (tx["is_fraud"] == tx["fraud_scenario"].notna()).all()
    assert (tx["is_fraud"] == tx["label_time"].notna()).all()
    assert set(fraud["fraud_scenario"]) == set(SCENARIOS)
    assert len(labels) == len(fraud) and labels["is_fraud"].all()
    merged = labels.merge(fraud, on="transaction_id", suffixes=("", "_tx"), validate="1:1")
    assert (merged["label_time"] == merged["label_time_tx"]).all()
    assert (merged["fraud_scenario"] == merged["fraud_scenario_tx"]).all()
    assert set(labels["source"]) == {s.value for s in LabelSource}


def test_label_delays_positive_and_bounded(sim: Simulation) -> None:
    tx = sim.transactions.merge(sim.labels[["transaction_id", "source"]], on="transaction_id")
    delay = tx["label_time"] - tx["event_time"]
    assert (delay >= pd.Timedelta(hours=1)).all()
    assert (delay <= pd.Timedelta(days=60)).all()
    chargeback = delay[tx["source"] == LabelSource.CHARGEBACK.value]
    assert (chargeback >= pd.Timedelta(days=1)).all()
    assert pd.Timedelta(days=6) < chargeback.median() < pd.Timedelta(days=15)
    report = delay[tx["source"] == LabelSource.CUSTOMER_REPORT.value]
    assert report.median() < chargeback.median()


def test_deterministic_by_seed(sim: Simulation) -> None:
    again = simulate(SMALL, Tokenizer("t1", KEYS))
    pd.testing.assert_frame_equal(sim.transactions, again.transactions)
    pd.testing.assert_frame_equal(sim.labels, again.labels)
    other = simulate(SimulatorConfig(**{**vars(SMALL), "seed": 12}), Tokenizer("t1", KEYS))
    assert not other.transactions["amount"].equals(sim.transactions["amount"])
    assert set(other.transactions["card_token"]) != set(sim.transactions["card_token"])


def test_no_pan_in_output(sim: Simulation, spy: SpyTokenizer, tmp_path: Path) -> None:
    tx = sim.transactions
    pans = set(spy.pans)
    # One tokenization per card (not per row), of 16-digit Luhn-valid numbers.
    assert len(spy.pans) == len(pans) >= tx["card_token"].nunique()
    assert all(len(p) == 16 and luhn_valid(p) for p in pans)
    assert tx["card_token"].str.fullmatch(TOKEN_PATTERN[1:-1]).all()
    text_columns = [c for c in tx.columns if tx[c].dtype == object]
    blob = "\n".join(
        "\n".join(tx[c].dropna().astype(str)) for c in text_columns if c != "card_token"
    )
    runs = [run for run in DIGIT_RUN.findall(blob) if luhn_valid(run)]
    assert runs == []
    paths = write_simulation(sim, tmp_path)
    raw = b"".join(p.read_bytes() for p in paths.values())
    everything = "\n".join(tx[c].dropna().astype(str).str.cat(sep="\n") for c in text_columns)
    for pan in pans:
        assert pan not in everything and pan.encode() not in raw


def test_rows_pass_the_schema(sim: Simulation) -> None:
    tx = sim.transactions
    sample = pd.concat(
        [
            tx[tx["is_fraud"]],
            tx[tx["channel"] == "ecommerce"].head(100),
            tx.sample(300, random_state=0),
        ]
    )
    now = tx["label_time"].max().to_pydatetime() + timedelta(days=1)
    for record in transaction_records(sample):
        parse_transaction(record, max_future_seconds=0, now=now)
    for record in label_records(sim.labels):
        parse_label(record, max_future_seconds=0, now=now)


def test_field_domains(sim: Simulation) -> None:
    tx = sim.transactions
    assert set(tx["currency"]) <= CURRENCIES and set(tx["country"]) <= COUNTRIES
    assert (tx["currency"] == "EUR").mean() > 0.8
    assert (tx["amount"] > 0).all()
    assert np.allclose(tx["amount"], tx["amount"].round(2))
    web = tx["channel"] == "ecommerce"
    assert tx.loc[web, "entry_mode"].isin({"ecom_3ds", "ecom_no_3ds"}).all()
    assert tx.loc[web, "device_id"].notna().all() and tx.loc[web, "ip_address"].notna().all()
    assert tx.loc[web, "latitude"].isna().all()
    assert tx.loc[~web, ["device_id", "ip_address"]].isna().all().all()
    assert tx.loc[~web, ["latitude", "longitude"]].notna().all().all()
    atm = tx["channel"] == "atm"
    assert atm.any() and (tx.loc[atm, "mcc"] == "6011").all()
    assert (tx.loc[tx["mcc"] == "6011", "channel"] == "atm").all()
    assert tx["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert tx["terminal_id"].str.fullmatch(r"T\d{6}").all()
    assert tx["merchant_id"].str.fullmatch(r"M\d{6}").all()
    # Most customers live in one home country.
    assert (tx.loc[~web, "country"] == "FR").mean() > 0.6


def test_world_tables_use_known_codes() -> None:
    assert {c.currency for c in world.COUNTRIES.values()} <= CURRENCIES
    assert set(world.COUNTRIES) <= COUNTRIES
    assert {c.country for c in world.CITIES} <= set(world.COUNTRIES)
    assert set(world.ONLINE_COUNTRIES) <= set(world.COUNTRIES)


def test_write_simulation_keeps_microsecond_utc(sim: Simulation, tmp_path: Path) -> None:
    paths = write_simulation(sim, tmp_path / "out")
    assert set(paths) == {"transactions", "labels"}
    schema = pq.read_schema(paths["transactions"])
    assert str(schema.field("event_time").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("label_time").type) == "timestamp[us, tz=UTC]"
    back = pd.read_parquet(paths["transactions"])
    pd.testing.assert_frame_equal(back, sim.transactions)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["labels"]), sim.labels)


def test_config_from_settings() -> None:
    settings = SimulatorSettings(
        customers=100,
        terminals=50,
        scenarios=["stolen_card"],
        scenario_start_day={"stolen_card": 5},
    )
    config = SimulatorConfig.from_settings(settings, days=20, seed=None)
    assert config.customers == 100 and config.days == 20 and config.seed == settings.seed
    assert config.start_date == date(2026, 6, 1)
    assert config.scenarios == ("stolen_card",) and config.start_day("stolen_card") == 5
    assert config.start_day("card_testing") == 0


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDLENS_SIMULATOR__SCENARIO_START_DAY", '{"account_takeover": 40}')
    monkeypatch.setenv("FRAUDLENS_SIMULATOR__SCENARIOS", '["account_takeover", "high_amount"]')
    config = SimulatorConfig.from_settings(Settings().simulator)
    assert config.scenarios == ("account_takeover", "high_amount")
    assert config.start_day("account_takeover") == 40


@pytest.mark.parametrize(
    "changes",
    [
        {"scenarios": ("skimming",)},
        {"scenario_start_day": {"nope": 3}},
        {"scenario_start_day": {"stolen_card": -1}},
        {"customers": 1},
        {"fraud_rate": 0.9},
        {"seed": -1},
    ],
)
def test_config_rejects_bad_values(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SimulatorConfig(**{**vars(SMALL), **changes})  # type: ignore[arg-type]


def test_config_rejects_bad_start_date_and_unknown_options() -> None:
    with pytest.raises(ConfigError, match="start_date"):
        SimulatorConfig.from_settings(SimulatorSettings(start_date="June 1st"))
    with pytest.raises(ConfigError, match="unknown simulator option"):
        SimulatorConfig.from_settings(SimulatorSettings(), merchants=5)
