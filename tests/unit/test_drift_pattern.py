"""The opt-in drift pattern (saved-card abuse) and the monitor's windowing guards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from drift.detectors import build_detector
from drift.monitor import DriftMonitor, Window, checked_columns
from drift.reference import Reference
from drift.synthetic import decision_rows, synthetic_rows
from fraudlens.security import Tokenizer
from fraudlens.settings import DriftSettings, Settings
from fraudlens.simulator import DRIFT_SCENARIOS, SCENARIOS, SimulatorConfig, simulate

KEYS = {"t1": b"drift-pattern-test-key-0123456789"}
BASE = SimulatorConfig(customers=600, terminals=200, days=30, fraud_rate=0.03, seed=5)
ONSET = 20


def _run(**changes: object) -> pd.DataFrame:
    return simulate(
        SimulatorConfig(**{**vars(BASE), **changes}), Tokenizer("t1", KEYS)
    ).transactions


def test_pattern_is_opt_in_and_starts_on_its_day() -> None:
    assert "saved_card_abuse" in DRIFT_SCENARIOS and "saved_card_abuse" not in SCENARIOS
    assert "saved_card_abuse" not in set(_run()["fraud_scenario"].dropna())
    tx = _run(
        scenarios=(*SCENARIOS, "saved_card_abuse"), scenario_start_day={"saved_card_abuse": ONSET}
    )
    rows = tx[tx["fraud_scenario"] == "saved_card_abuse"]
    assert len(rows) > 50
    assert rows["event_time"].min() >= pd.Timestamp(BASE.start_date, tz="UTC") + pd.Timedelta(
        days=ONSET
    )


def test_pattern_repeats_ordinary_purchases_at_one_known_shop() -> None:
    tx = _run(scenarios=(*SCENARIOS, "saved_card_abuse"))
    rows = tx[tx["fraud_scenario"] == "saved_card_abuse"].sort_values("event_time")
    assert set(rows["channel"]) == {"ecommerce"}
    legit = tx[~tx["is_fraud"]]
    # the victim's own shop: most (card, terminal) pairs were used legitimately by the customer
    seen = set(zip(legit["customer_id"], legit["terminal_id"], strict=True))
    pairs = list(zip(rows["customer_id"], rows["terminal_id"], strict=True))
    assert np.mean([p in seen for p in pairs]) > 0.5
    # several purchases per card at one shop within hours
    per_card = rows.groupby("card_token").agg(
        n=("transaction_id", "size"), shops=("terminal_id", "nunique")
    )
    assert per_card["n"].min() >= 2 and (per_card["shops"] == 1).mean() > 0.9
    gaps = rows.groupby("card_token")["event_time"].diff().dropna().dt.total_seconds() / 60
    assert gaps.median() < 60
    # amounts close to the customer's usual ones, unlike account takeover
    usual = legit.groupby("customer_id")["amount"].median()
    ratio = rows["amount"].to_numpy() / usual.reindex(rows["customer_id"]).to_numpy()
    assert 0.5 < np.nanmedian(ratio) < 2.5


def test_excluded_features_are_not_tested() -> None:
    cols = ["term_fraud_count_7d", "term_fraud_rate_1d", "txn_is_weekend", "txn_amount"]
    ref = Reference("3", cols, pd.DataFrame({c: [0.0, 1.0] for c in [*cols, "score"]}))
    assert checked_columns(ref, DriftSettings().exclude_features) == ["txn_amount", "score"]
    assert checked_columns(ref, []) == [*cols, "score"]


def _settings(tmp_path: Path, **drift: object) -> Settings:
    cfg = {"backend": "scipy", "min_window_rows": 200, "mmd": False, "online": False} | drift
    return Settings(data_dir=tmp_path, drift=DriftSettings.model_validate(cfg))


def test_a_window_shorter_than_min_window_days_gets_no_verdict(tmp_path: Path) -> None:
    columns = {"amount": "float64", "txn_is_weekend": "int64"}
    ref_rows = synthetic_rows(1000, seed=1, columns=columns)
    ref_rows["txn_is_weekend"] = (np.arange(1000) % 7 >= 5).astype(np.float64)  # 2 days in 7
    reference = Reference("5", list(columns), ref_rows)
    day = pd.Timestamp("2026-07-04", tz="UTC")  # a Saturday: all weekend
    feats = synthetic_rows(800, seed=2, columns=columns)
    feats["txn_is_weekend"] = 1
    rows = decision_rows(feats, "5", day, seconds=86_399, id_prefix="w-")
    monitor = DriftMonitor(_settings(tmp_path), reference_loader=lambda _: reference)
    window = Window(day.to_pydatetime(), (day + timedelta(days=1)).to_pydatetime())
    short = monitor.check_frame(rows, reference, window)
    assert short.status == "insufficient_data" and "min_window_days" in short.notes[0]
    # with the guard off, the weekend flag is still not tested: no drift from the calendar
    loose = DriftMonitor(_settings(tmp_path, min_window_days=0.0))
    report = loose.check_frame(rows, reference, window)
    assert report.status == "no_drift"
    assert [f.name for f in report.tabular.features] == ["amount", "score"]  # type: ignore[union-attr]
    # ... while testing it would call the weekend "drift"
    all_cols = build_detector(ref_rows, DriftSettings(backend="scipy")).tabular(rows)
    assert "txn_is_weekend" in all_cols.moved
