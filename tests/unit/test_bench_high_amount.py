"""The high_amount ceiling benchmark reads the simulator's hidden truth correctly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_high_amount import FRAUD_RANGE, oracle_score, usual_log_ratio
from fraudlens.security import Tokenizer
from fraudlens.simulator import SimulatorConfig, simulate, simulated_population

CFG = SimulatorConfig(
    customers=600, terminals=300, days=12, fraud_rate=0.02, seed=3, scenarios=("high_amount",)
)
TOKENS = Tokenizer("t", {"t": b"k" * 32})


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    tx = simulate(CFG, TOKENS).transactions
    ratio, sigma = usual_log_ratio(simulated_population(CFG, TOKENS), tx)
    return tx, ratio, sigma


def test_population_is_the_one_the_rows_came_from(
    rows: tuple[pd.DataFrame, np.ndarray, np.ndarray],
) -> None:
    tx, ratio, _ = rows
    fraud = (tx["fraud_scenario"] == "high_amount").to_numpy()
    assert fraud.sum() >= 20
    # Every high_amount payment is 10-30x the customer's usual amount there (cents rounded).
    assert np.all(ratio[fraud] > np.log(FRAUD_RANGE[0]) - 0.01)
    assert np.all(ratio[fraud] < np.log(FRAUD_RANGE[1]) + 0.01)
    # Legit card payments centre on the usual amount (log-ratio mean about 0).
    legit = ~tx["is_fraud"].to_numpy() & (tx["channel"] != "atm").to_numpy()
    assert abs(float(np.mean(ratio[legit]))) < 0.05
    # In every currency (CZK is about 25 a euro): the usual amount is in the terminal's.
    by_currency = pd.Series(ratio[legit]).groupby(tx["currency"].to_numpy()[legit]).mean()
    assert len(by_currency) >= 4
    assert by_currency.abs().max() < 1.5


def test_oracle_scores_zero_outside_the_fraud_range_and_for_cash() -> None:
    sigma = np.full(4, 0.6)
    ratio = np.log(np.array([1.0, 15.0, 15.0, 60.0]))
    cash = np.array([False, False, True, False])
    score = oracle_score(ratio, sigma, cash)
    assert score[0] == 0.0 and score[2] == 0.0 and score[3] == 0.0
    assert score[1] > 1.0
    # A wider spread makes the same 15x payment less surprising.
    wide = oracle_score(ratio[1:2], np.array([0.85]), cash[1:2])
    assert wide[0] < score[1]
