"""Fraud scenarios injected on top of legitimate activity.

Each scenario is a function ``(Context, Generator) -> Events`` labelled with its
name in ``fraud_scenario``. The fraud budget (``fraud_rate`` of all rows) is
shared among the enabled scenarios in proportion to ``WEIGHTS`` times the days
each is active, so a scenario that starts late (concept drift) occurs at the
same daily rate as the others once it has started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from fraudlens.simulator._util import DAY_US, epoch_us
from fraudlens.simulator.config import ALL_SCENARIOS, SimulatorConfig
from fraudlens.simulator.events import Events
from fraudlens.simulator.population import Population
from fraudlens.simulator.scenarios._base import Context
from fraudlens.simulator.scenarios.amount import high_amount
from fraudlens.simulator.scenarios.online import account_takeover, card_testing
from fraudlens.simulator.scenarios.physical import (
    compromised_terminal,
    merchant_collusion,
    stolen_card,
)
from fraudlens.simulator.scenarios.saved_card import saved_card_abuse

__all__ = ["GENERATORS", "WEIGHTS", "Context", "fraud_budgets", "generate_fraud"]

logger = logging.getLogger(__name__)

Generator = Callable[[Context, np.random.Generator], Events]

GENERATORS: dict[str, Generator] = {
    "compromised_terminal": compromised_terminal,
    "stolen_card": stolen_card,
    "card_testing": card_testing,
    "account_takeover": account_takeover,
    "high_amount": high_amount,
    "merchant_collusion": merchant_collusion,
    "saved_card_abuse": saved_card_abuse,
}

# Relative share of fraud rows per active day.
WEIGHTS: dict[str, float] = {
    "compromised_terminal": 0.20,
    "stolen_card": 0.20,
    "card_testing": 0.20,
    "account_takeover": 0.15,
    "high_amount": 0.10,
    "merchant_collusion": 0.15,
    "saved_card_abuse": 1.50,
}


def fraud_budgets(config: SimulatorConfig, legit_rows: int) -> dict[str, int]:
    """Target fraud rows per enabled scenario so fraud is ``fraud_rate`` of all rows.

    Every enabled scenario that has at least one active day gets at least one
    episode when ``fraud_rate`` is positive.
    """
    if config.fraud_rate <= 0.0 or legit_rows == 0:
        return {}
    total = legit_rows * config.fraud_rate / (1.0 - config.fraud_rate)
    active = {
        name: config.days - config.start_day(name)
        for name in config.scenarios
        if config.start_day(name) < config.days
    }
    for name in sorted(set(config.scenarios) - set(active)):
        logger.warning("scenario %s starts after the last simulated day: none generated", name)
    weight = {name: WEIGHTS[name] * days for name, days in active.items()}
    scale = total / sum(weight.values()) if weight else 0.0
    return {name: max(1, round(w * scale)) for name, w in weight.items()}


def generate_fraud(
    population: Population,
    config: SimulatorConfig,
    legit: Events,
    rng_for: Callable[[str], np.random.Generator],
) -> list[Events]:
    """Run every enabled scenario, each with its own random stream."""
    base = epoch_us(config.start_date)
    batches: list[Events] = []
    for name, budget in fraud_budgets(config, len(legit)).items():
        ctx = Context(
            config=config,
            population=population,
            legit=legit,
            code=ALL_SCENARIOS.index(name),
            budget=budget,
            start_us=base + config.start_day(name) * DAY_US,
            end_us=base + config.days * DAY_US,
        )
        batch = GENERATORS[name](ctx, rng_for(name))
        logger.debug("scenario %s: %d rows (budget %d)", name, len(batch), budget)
        batches.append(batch)
    return batches
