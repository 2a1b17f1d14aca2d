"""Simulator configuration and run sizing.

Volume is driven by ``customers`` x ``days`` x ``mean_tx_per_day``: the
expected number of legitimate rows is exactly that product (weekday
seasonality averages to one over a week), and fraud rows come on top so that
they make up ``fraud_rate`` of the total::

    rows ~= customers * days * mean_tx_per_day / (1 - fraud_rate)

``customers_for_rows`` inverts the formula to size a run for a target count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fraudlens.errors import ConfigError
from fraudlens.settings import SimulatorSettings

SCENARIOS: tuple[str, ...] = (
    "compromised_terminal",
    "stolen_card",
    "card_testing",
    "account_takeover",
    "high_amount",
    "merchant_collusion",
)
# Opt-in scenarios (concept-drift stories): never enabled by default, and their
# random streams come after the default ones, so existing runs do not change.
DRIFT_SCENARIOS: tuple[str, ...] = ("saved_card_abuse",)
ALL_SCENARIOS: tuple[str, ...] = SCENARIOS + DRIFT_SCENARIOS

MIN_CUSTOMERS = 10
MIN_TERMINALS = 30


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulation run depends on; the same config gives the same data.

    Attributes:
        customers: number of customers (each has one to three cards).
        terminals: number of terminals (physical, ATM and e-commerce).
        days: number of simulated days, starting at ``start_date`` 00:00 UTC.
        start_date: first simulated day.
        fraud_rate: target share of fraud rows among all rows (approximate;
            every enabled scenario gets at least one episode, so tiny runs
            exceed it).
        seed: random seed.
        scenarios: enabled fraud scenarios (names from ``ALL_SCENARIOS``;
            default ``SCENARIOS``).
        scenario_start_day: day index from which a scenario may occur (concept
            drift); scenarios not listed start on day 0.
        mean_tx_per_day: average legitimate transactions per customer per day.
    """

    customers: int = 5_000
    terminals: int = 2_000
    days: int = 60
    start_date: date = date(2026, 6, 1)
    fraud_rate: float = 0.004
    seed: int = 7
    scenarios: tuple[str, ...] = SCENARIOS
    scenario_start_day: Mapping[str, int] = field(default_factory=dict)
    mean_tx_per_day: float = 0.8

    def __post_init__(self) -> None:
        if self.customers < MIN_CUSTOMERS:
            raise ConfigError(f"simulator.customers must be >= {MIN_CUSTOMERS}")
        if self.terminals < MIN_TERMINALS:
            raise ConfigError(f"simulator.terminals must be >= {MIN_TERMINALS}")
        if self.days < 1:
            raise ConfigError("simulator.days must be >= 1")
        if not 0.0 <= self.fraud_rate <= 0.5:
            raise ConfigError("simulator.fraud_rate must be between 0 and 0.5")
        if self.seed < 0:
            raise ConfigError("simulator.seed must be >= 0")
        if not 0.0 < self.mean_tx_per_day <= 50.0:
            raise ConfigError("simulator.mean_tx_per_day must be in (0, 50]")
        scenarios = tuple(dict.fromkeys(self.scenarios))
        _check_names(scenarios, "simulator.scenarios")
        _check_names(tuple(self.scenario_start_day), "simulator.scenario_start_day")
        for name, day in self.scenario_start_day.items():
            if day < 0:
                raise ConfigError(f"simulator.scenario_start_day[{name!r}] must be >= 0")
        object.__setattr__(self, "scenarios", scenarios)
        object.__setattr__(self, "scenario_start_day", dict(self.scenario_start_day))

    @classmethod
    def from_settings(cls, settings: SimulatorSettings, **overrides: Any) -> SimulatorConfig:
        """Build a config from ``Settings().simulator``; keyword overrides win.

        Raises:
            ConfigError: a value is invalid (e.g. an unknown scenario name).
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown simulator option(s): {', '.join(unknown)}")
        values = {key: value for key, value in settings.model_dump().items() if key in known}
        values.update({key: value for key, value in overrides.items() if value is not None})
        values["start_date"] = _parse_date(values["start_date"])
        values["scenarios"] = tuple(values["scenarios"])
        return cls(**values)

    def start_day(self, scenario: str) -> int:
        """Day index from which ``scenario`` may occur."""
        return self.scenario_start_day.get(scenario, 0)

    @property
    def expected_rows(self) -> int:
        """Expected total row count (legitimate plus fraud)."""
        return expected_rows(self.customers, self.days, self.mean_tx_per_day, self.fraud_rate)


def expected_rows(
    customers: int, days: int, mean_tx_per_day: float = 0.8, fraud_rate: float = 0.004
) -> int:
    """Expected total rows for a run of this size (see the module docstring)."""
    return round(customers * days * mean_tx_per_day / (1.0 - fraud_rate))


def customers_for_rows(
    rows: int, days: int, mean_tx_per_day: float = 0.8, fraud_rate: float = 0.004
) -> int:
    """Number of customers that gives about ``rows`` transactions over ``days``.

    Example: ``customers_for_rows(1_000_000, days=60)`` is 20,750.
    """
    return max(MIN_CUSTOMERS, math.ceil(rows * (1.0 - fraud_rate) / (days * mean_tx_per_day)))


def _check_names(names: Sequence[str], option: str) -> None:
    unknown = [name for name in names if name not in ALL_SCENARIOS]
    if unknown:
        raise ConfigError(
            f"{option}: unknown scenario(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(ALL_SCENARIOS)}"
        )


def _parse_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"simulator.start_date {value!r} is not an ISO date") from exc
