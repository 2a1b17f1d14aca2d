"""Deterministic, vectorized card-transaction simulator with labelled fraud.

    sim = simulate(SimulatorConfig(customers=2_000, days=30), tokenizer)
    write_simulation(sim, out_dir)  # transactions.parquet, labels.parquet

See ``core`` for the output contract and ``config`` for run sizing.
"""

from __future__ import annotations

from fraudlens.simulator.config import (
    ALL_SCENARIOS,
    DRIFT_SCENARIOS,
    SCENARIOS,
    SimulatorConfig,
    customers_for_rows,
    expected_rows,
)
from fraudlens.simulator.core import (
    LABELS_COLUMNS,
    TRANSACTION_COLUMNS,
    Simulation,
    label_records,
    simulate,
    simulated_population,
    transaction_records,
    write_simulation,
)

__all__ = [
    "ALL_SCENARIOS",
    "DRIFT_SCENARIOS",
    "LABELS_COLUMNS",
    "SCENARIOS",
    "TRANSACTION_COLUMNS",
    "Simulation",
    "SimulatorConfig",
    "customers_for_rows",
    "expected_rows",
    "label_records",
    "simulate",
    "simulated_population",
    "transaction_records",
    "write_simulation",
]
