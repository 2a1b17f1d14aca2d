"""How well can `high_amount` fraud be found at all? Figures for issue #15, item 1.

Run: ``.venv/bin/python -m benchmarks.bench_high_amount [--customers N] [--days D]``.

The simulator's ``high_amount`` payments are 10-30 times the customer's usual
amount (``exp(amount_mu)`` x the terminal's ticket factor, in its currency) at
the customer's own terminals; legit payments are lognormal around the same
usual amount with the customer's spread ``amount_sigma`` (0.45-0.85). The
legit tail overlaps the fraud range, so even a scorer that knows every
customer's hidden parameters cannot rank every fraud first. Printed, for the
``high_amount`` frauds against all legit rows:

- **oracle**: the likelihood ratio from the hidden parameters (fraud log-ratio
  uniform over the log of [10, 30] x usual, legit normal with the customer's
  spread; cash withdrawals, whose amounts ignore the profile, score 0): the
  ceiling of any model on these rows;
- the AP of each card / terminal amount feature on its own;
- a depth-3 XGBoost trained on those features alone (``high_amount`` frauds
  against legit rows, days 7 to 32), scored on the days after.
"""

from __future__ import annotations

import argparse
import secrets

import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb
from sklearn.metrics import average_precision_score

from fraudlens.security import Tokenizer
from fraudlens.simulator import SimulatorConfig, simulate, simulated_population
from fraudlens.simulator.population import Population
from training.local_features import compute_features

SCENARIO = "high_amount"
FRAUD_RANGE = (10.0, 30.0)  # the scenario's multiple of the usual amount
PROFILE = (
    "txn_amount",
    "card_amount_mean_30d",
    "card_amount_max_30d",
    "card_tx_count_30d",
    "card_amount_ratio_30d",
    "card_amount_zscore_30d",
    "card_amount_ratio_terminal_30d",
    "term_amount_mean_30d",
    "term_amount_ratio_30d",
)


def usual_log_ratio(
    population: Population, transactions: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row: log(amount / the customer's usual amount here), and the customer's spread."""
    cust, term = population.customers, population.terminals
    c = pd.Index(cust.ids).get_indexer(transactions["customer_id"])
    t = pd.Index(term.ids).get_indexer(transactions["terminal_id"])
    usual = np.exp(cust.amount_mu[c]) * term.amount_factor[t] * term.per_eur[t]
    ratio = np.log(transactions["amount"].to_numpy(dtype=np.float64) / usual)
    return ratio, cust.amount_sigma[c].astype(np.float64)


def oracle_score(
    log_ratio: npt.NDArray[np.float64],
    sigma: npt.NDArray[np.float64],
    cash: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Fraud / legit likelihood ratio of each row's log-ratio (0 outside the fraud range)."""
    lo, hi = np.log(FRAUD_RANGE[0]) - 0.01, np.log(FRAUD_RANGE[1]) + 0.01  # cent rounding
    fraud = np.exp(log_ratio) / (FRAUD_RANGE[1] - FRAUD_RANGE[0])  # density of the log
    z = log_ratio / sigma
    legit = np.exp(-0.5 * z * z) / (sigma * np.sqrt(2.0 * np.pi))
    inside = (log_ratio > lo) & (log_ratio < hi) & ~cash
    return np.where(inside, fraud / np.maximum(legit, 1e-300), 0.0)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Simulate, then print the oracle, single-feature and depth-3 tree AP on high_amount."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5_000, help="customers")
    parser.add_argument("--days", type=int, default=60, help="simulated days (>= 40)")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args(argv)

    config = SimulatorConfig(customers=args.customers, days=args.days, seed=args.seed)
    # Throwaway key: tokens from this run cannot be linked to any other run.
    tokenizer = Tokenizer("bench", {"bench": secrets.token_bytes(32)})
    tx = simulate(config, tokenizer).transactions
    ratio, sigma = usual_log_ratio(simulated_population(config, tokenizer), tx)
    cash = (tx["channel"] == "atm").to_numpy()
    fraud = (tx["fraud_scenario"] == SCENARIO).to_numpy()
    keep = fraud | ~tx["is_fraud"].to_numpy()
    figures = {
        "oracle": float(
            average_precision_score(fraud[keep], oracle_score(ratio, sigma, cash)[keep])
        )
    }
    inside = (ratio > np.log(FRAUD_RANGE[0])) & (ratio < np.log(FRAUD_RANGE[1])) & ~cash
    print(
        f"{SCENARIO}: {int(fraud.sum())} frauds; {int((inside & ~tx['is_fraud']).sum())} legit "
        f"rows (not cash) also at {FRAUD_RANGE[0]:.0f}-{FRAUD_RANGE[1]:.0f}x the usual amount"
    )

    feats = compute_features(tx)
    for name in PROFILE:
        figures[name] = float(average_precision_score(fraud[keep], feats[name].to_numpy()[keep]))
    days = (tx["event_time"] - tx["event_time"].min()).dt.days.to_numpy()
    train, test = keep & (days >= 7) & (days < 32), keep & (days >= 32)
    x = feats[list(PROFILE)].assign(cash=cash.astype(np.int64))
    model = xgb.XGBClassifier(
        n_estimators=300, max_depth=3, learning_rate=0.1, tree_method="exact", n_jobs=2
    )
    model.fit(x[train], fraud[train])
    scores = model.predict_proba(x[test])[:, 1]
    figures["xgb_depth3_profile"] = float(average_precision_score(fraud[test], scores))
    figures["oracle_test_days"] = float(
        average_precision_score(fraud[test], oracle_score(ratio, sigma, cash)[test])
    )
    for name, value in figures.items():
        print(f"  AP {name:32s} {value:.3f}")
    return figures


if __name__ == "__main__":
    main()
