"""When and how fraud labels arrive.

Most labels are chargebacks: lognormal delay, median 10 days, between 1 and 60
days. Some come faster from the customer (median 1.5 days, at least an hour)
or from an analyst's review (median 4 days, at least 2 hours). The share of
customer reports depends on how visible the fraud is: a missing card is
noticed at once, a few cents of card testing rarely.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fraudlens.schema import LabelSource
from fraudlens.simulator._util import DAY_US, IntArray
from fraudlens.simulator.config import ALL_SCENARIOS

SOURCES: tuple[str, ...] = (
    LabelSource.CHARGEBACK.value,
    LabelSource.CUSTOMER_REPORT.value,
    LabelSource.ANALYST.value,
)
MAX_DELAY_DAYS = 60.0


class Delay(NamedTuple):
    median_days: float
    sigma: float
    min_days: float
    max_days: float


DELAYS: tuple[Delay, ...] = (
    Delay(10.0, 0.5, 1.0, MAX_DELAY_DAYS),  # chargeback
    Delay(1.5, 0.9, 1.0 / 24, MAX_DELAY_DAYS),  # customer report
    Delay(4.0, 0.7, 2.0 / 24, MAX_DELAY_DAYS),  # analyst
)

# Per scenario: share of customer reports, share of analyst findings (rest: chargebacks).
SOURCE_SHARES: dict[str, tuple[float, float]] = {
    "compromised_terminal": (0.30, 0.10),
    "stolen_card": (0.60, 0.05),
    "card_testing": (0.15, 0.20),
    "account_takeover": (0.40, 0.10),
    "high_amount": (0.35, 0.10),
    "merchant_collusion": (0.10, 0.30),
    "saved_card_abuse": (0.40, 0.10),
}


def label_delays(rng: np.random.Generator, scenario: IntArray) -> tuple[IntArray, IntArray]:
    """Draw a label source and delay for each fraud row.

    Args:
        rng: random generator.
        scenario: index in ``ALL_SCENARIOS`` of each fraud row.

    Returns:
        ``(delay in microseconds (> 0), index in SOURCES)`` per row.
    """
    shares = np.array([SOURCE_SHARES[name] for name in ALL_SCENARIOS])[scenario]
    u = rng.random(scenario.size)
    source = np.where(u < shares[:, 0], 1, np.where(u < shares.sum(axis=1), 2, 0))
    table = np.array(DELAYS)[source]
    days = np.exp(np.log(table[:, 0]) + table[:, 1] * rng.standard_normal(scenario.size))
    days = np.clip(days, table[:, 2], table[:, 3])
    return np.maximum((days * DAY_US).astype(np.int64), 1), source.astype(np.int64)
