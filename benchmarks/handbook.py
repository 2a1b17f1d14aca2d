"""The Fraud Detection Handbook's simulated card transactions, in numpy.

Source: Le Borgne et al., "Reproducible Machine Learning for Credit Card
Fraud Detection - Practical Handbook", chapter 3 "Simulated dataset"
(``generate_customer_profiles_table``, ``generate_terminal_profiles_table``,
``get_list_terminals_within_radius``, ``generate_transactions_table``,
``add_frauds``). The same distributions and rules, re-written vectorised:

* customer: location uniform on [0, 100]^2, mean amount uniform(5, 100),
  std amount half of it, mean transactions a day uniform(0, 4);
* terminal: location uniform on [0, 100]^2; a customer uses the terminals
  closer than ``radius`` (5), uniformly; a customer with none makes no
  transaction;
* transactions: per customer and day Poisson(mean a day); time of day
  normal(noon, 20,000 s), truncated to whole seconds, dropped (not redrawn)
  outside (0, 86,400); amount normal(mean, std), a negative draw replaced by
  uniform(0, 2 x mean), rounded to cents;
* frauds, in this order (a later scenario overwrites an earlier one):
  1. every amount above 220;
  2. for each day but the last, 2 random terminals: all their transactions of
     that day and the next 27 are fraud;
  3. for each day but the last, 3 random customers: a third (rounded down) of
     their transactions of that day and the next 13, drawn at random, get
     their amount multiplied by 5 and are fraud.

What differs: the Handbook seeds numpy's legacy global generator and Python's
``random`` (per customer, per day); this module draws everything from one
``numpy.random.Generator(seed)``, so the rows are not the published pickles,
only the same process. Ties in time are ordered by customer (the Handbook's
sort leaves them unspecified). The Handbook's full size is 5,000 customers,
10,000 terminals and 183 days from 2018-04-01 (about 1.75M transactions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_SECONDS = 86_400
FRAUD_THRESHOLD = 220.0
TERMINAL_DAYS = 28
CUSTOMER_DAYS = 14
SCENARIOS = {1: "amount_over_220", 2: "compromised_terminal", 3: "compromised_card"}
COLUMNS = [
    "TRANSACTION_ID",
    "TX_DATETIME",
    "CUSTOMER_ID",
    "TERMINAL_ID",
    "TX_AMOUNT",
    "TX_TIME_SECONDS",
    "TX_TIME_DAYS",
    "TX_FRAUD",
    "TX_FRAUD_SCENARIO",
]


@dataclass(frozen=True)
class HandbookConfig:
    """Sizes of one simulation (defaults: the Handbook's full dataset)."""

    customers: int = 5_000
    terminals: int = 10_000
    days: int = 183
    radius: float = 5.0
    start: str = "2018-04-01"
    seed: int = 0


def customer_profiles(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Location, amount mean and spread, and mean transactions a day per customer."""
    xy = rng.uniform(0, 100, size=(n, 2))
    mean_amount = rng.uniform(5, 100, size=n)
    return pd.DataFrame(
        {
            "CUSTOMER_ID": np.arange(n),
            "x_customer_id": xy[:, 0],
            "y_customer_id": xy[:, 1],
            "mean_amount": mean_amount,
            "std_amount": mean_amount / 2,
            "mean_nb_tx_per_day": rng.uniform(0, 4, size=n),
        }
    )


def terminal_profiles(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Location per terminal."""
    xy = rng.uniform(0, 100, size=(n, 2))
    return pd.DataFrame(
        {"TERMINAL_ID": np.arange(n), "x_terminal_id": xy[:, 0], "y_terminal_id": xy[:, 1]}
    )


def terminals_within(
    customers: pd.DataFrame, terminals: pd.DataFrame, radius: float
) -> list[np.ndarray]:
    """The terminal ids closer than ``radius`` to each customer."""
    term_xy = terminals[["x_terminal_id", "y_terminal_id"]].to_numpy()
    cust_xy = customers[["x_customer_id", "y_customer_id"]].to_numpy()
    reach: list[np.ndarray] = []
    for lo in range(0, len(cust_xy), 256):  # chunks keep the distance matrix small
        block = cust_xy[lo : lo + 256]
        dist = np.sqrt(((block[:, None, :] - term_xy[None, :, :]) ** 2).sum(axis=2))
        reach.extend(np.flatnonzero(row < radius) for row in dist)
    return reach


def transactions(
    customers: pd.DataFrame, reach: list[np.ndarray], cfg: HandbookConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Legit transactions of every customer and day, sorted by time, ids from 0."""
    n = len(customers)
    counts = rng.poisson(customers["mean_nb_tx_per_day"].to_numpy()[:, None], size=(n, cfg.days))
    cust = np.repeat(np.repeat(np.arange(n), cfg.days), counts.ravel())
    day = np.repeat(np.tile(np.arange(cfg.days), n), counts.ravel())
    seconds = rng.normal(DAY_SECONDS / 2, 20_000, size=len(cust)).astype(np.int64)
    keep = (seconds > 0) & (seconds < DAY_SECONDS)
    cust, day, seconds = cust[keep], day[keep], seconds[keep]
    mean = customers["mean_amount"].to_numpy()[cust]
    amount = rng.normal(mean, customers["std_amount"].to_numpy()[cust])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean[negative])
    sizes = np.array([len(r) for r in reach])
    has_terminal = sizes[cust] > 0
    cust, day, seconds, amount = (a[has_terminal] for a in (cust, day, seconds, amount))
    flat = np.concatenate([*reach, np.empty(0, dtype=np.int64)])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pick = (rng.random(len(cust)) * sizes[cust]).astype(np.int64)
    terminal = flat[offsets[cust] + pick]
    time_s = seconds + day * DAY_SECONDS
    order = np.lexsort((cust, time_s))
    frame = pd.DataFrame(
        {
            "TRANSACTION_ID": np.arange(len(order)),
            "TX_DATETIME": pd.Timestamp(cfg.start, tz="UTC")
            + pd.to_timedelta(time_s[order], unit="s"),
            "CUSTOMER_ID": cust[order],
            "TERMINAL_ID": terminal[order],
            "TX_AMOUNT": np.round(amount[order], 2),
            "TX_TIME_SECONDS": time_s[order],
            "TX_TIME_DAYS": day[order],
        }
    )
    return frame


def add_frauds(
    tx: pd.DataFrame, n_customers: int, n_terminals: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Label the three scenarios (``TX_FRAUD``, ``TX_FRAUD_SCENARIO``); scenario 3 scales amounts."""
    amount = tx["TX_AMOUNT"].to_numpy().copy()
    days = tx["TX_TIME_DAYS"].to_numpy()
    terminal = tx["TERMINAL_ID"].to_numpy()
    customer = tx["CUSTOMER_ID"].to_numpy()
    scenario = np.where(amount > FRAUD_THRESHOLD, 1, 0)
    last = int(days.max()) if len(days) else 0
    for day in range(last):
        hit = rng.choice(n_terminals, size=2, replace=False)
        scenario[(days >= day) & (days < day + TERMINAL_DAYS) & np.isin(terminal, hit)] = 2
    for day in range(last):
        hit = rng.choice(n_customers, size=3, replace=False)
        rows = np.flatnonzero((days >= day) & (days < day + CUSTOMER_DAYS) & np.isin(customer, hit))
        chosen = rng.choice(rows, size=len(rows) // 3, replace=False)
        amount[chosen] = np.round(amount[chosen] * 5, 2)
        scenario[chosen] = 3
    out = tx.copy()
    out["TX_AMOUNT"] = amount
    out["TX_FRAUD"] = (scenario > 0).astype(np.int8)
    out["TX_FRAUD_SCENARIO"] = scenario.astype(np.int8)
    return out


def generate(cfg: HandbookConfig) -> pd.DataFrame:
    """The whole dataset (columns ``COLUMNS``), the same for the same config."""
    rng = np.random.default_rng(cfg.seed)
    customers = customer_profiles(cfg.customers, rng)
    terminals = terminal_profiles(cfg.terminals, rng)
    reach = terminals_within(customers, terminals, cfg.radius)
    tx = transactions(customers, reach, cfg, rng)
    return add_frauds(tx, cfg.customers, cfg.terminals, rng)[COLUMNS]
