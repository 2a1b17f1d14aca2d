"""Run a simulation and hand it over as DataFrames or Parquet files.

Output contract (others depend on it):

* ``transactions``: every field of ``schema.Transaction`` plus ``is_fraud``
  (bool), ``fraud_scenario`` (str or None) and ``label_time`` (when the fraud
  label arrives, NaT for legitimate rows); times are ``datetime64[us, UTC]``;
  sorted by ``event_time`` then ``transaction_id`` (ids follow time order).
  E-commerce rows have no latitude/longitude (NaN) and carry ``device_id`` and
  ``ip_address``; card-present and ATM rows leave those two None.
* ``labels``: ``transaction_id``, ``is_fraud`` (True), ``label_time``,
  ``source`` (a ``LabelSource`` value), ``fraud_scenario``; one row per fraud
  transaction, sorted by ``label_time`` then ``transaction_id``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.schema import LABEL_FIELDS, SCHEMA_VERSION, TRANSACTION_FIELDS
from fraudlens.security.tokenize import Tokenizer
from fraudlens.simulator import world
from fraudlens.simulator._util import IntArray, format_ids, id_width
from fraudlens.simulator.config import ALL_SCENARIOS, DRIFT_SCENARIOS, SCENARIOS, SimulatorConfig
from fraudlens.simulator.events import ENTRY_MODES, Events
from fraudlens.simulator.labels import SOURCES, label_delays
from fraudlens.simulator.legit import generate_legit
from fraudlens.simulator.population import Population, build_population
from fraudlens.simulator.scenarios import generate_fraud

logger = logging.getLogger(__name__)

LABEL_COLUMNS: tuple[str, ...] = ("is_fraud", "fraud_scenario", "label_time")
TRANSACTION_COLUMNS: tuple[str, ...] = (*TRANSACTION_FIELDS, *LABEL_COLUMNS)
LABELS_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "is_fraud",
    "label_time",
    "source",
    "fraud_scenario",
)
# Random streams, one per component: toggling a scenario leaves the others unchanged.
# Opt-in scenarios come last so the default streams keep their keys.
_STREAMS: tuple[str, ...] = ("population", "legit", *SCENARIOS, "labels", *DRIFT_SCENARIOS)
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Simulation:
    """A simulated data set.

    Attributes:
        transactions: one row per transaction (see the module docstring).
        labels: one row per fraud transaction, in arrival order.
        config: the configuration that produced it.
    """

    transactions: pd.DataFrame
    labels: pd.DataFrame
    config: SimulatorConfig


def simulate(config: SimulatorConfig, tokenizer: Tokenizer) -> Simulation:
    """Simulate card transactions with labelled fraud scenarios.

    The same ``config`` and tokenizer keys always give identical frames.

    Args:
        config: sizes, period, fraud rate, scenarios and seed.
        tokenizer: turns each synthetic card number into its token (once per
            card); card numbers are never kept.

    Returns:
        The transactions and their fraud labels.
    """
    started = time.perf_counter()
    rng_for = _streams(config.seed)
    population = build_population(config, tokenizer, rng_for("population"))
    legit = generate_legit(population, config, rng_for("legit"))
    fraud = generate_fraud(population, config, legit, rng_for)
    events = Events.concat([legit, *fraud])
    events = events.take(np.argsort(events.time_us, kind="stable"))

    fraud_rows = np.flatnonzero(events.scenario >= 0)
    delay, source = label_delays(rng_for("labels"), events.scenario[fraud_rows])
    label_us = np.full(len(events), _NAT, dtype=np.int64)
    label_us[fraud_rows] = events.time_us[fraud_rows] + delay

    transactions = _transactions_frame(population, events, label_us)
    arrival = np.lexsort((fraud_rows, label_us[fraud_rows]))  # label time, then id
    order = fraud_rows[arrival]
    labels = pd.DataFrame(
        {
            "transaction_id": transactions["transaction_id"].to_numpy()[order],
            "is_fraud": np.ones(order.size, dtype=bool),
            "label_time": _utc(label_us[order]),
            "source": np.array(SOURCES, dtype=object)[source[arrival]],
            "fraud_scenario": transactions["fraud_scenario"].to_numpy()[order],
        }
    )
    logger.info(
        "simulated %d transactions (%d fraud, %.3f%%) in %.2f s",
        len(transactions),
        fraud_rows.size,
        100.0 * fraud_rows.size / max(len(transactions), 1),
        time.perf_counter() - started,
    )
    return Simulation(transactions=transactions, labels=labels, config=config)


def simulated_population(config: SimulatorConfig, tokenizer: Tokenizer) -> Population:
    """The population ``simulate(config, tokenizer)`` drew (same random stream).

    For analyses that need the hidden truth behind the rows, such as each
    customer's usual amount and spread (``benchmarks.bench_high_amount``).
    """
    return build_population(config, tokenizer, _streams(config.seed)("population"))


def write_simulation(sim: Simulation, out_dir: Path) -> dict[str, Path]:
    """Write ``transactions.parquet`` and ``labels.parquet`` into ``out_dir``.

    Returns:
        ``{"transactions": path, "labels": path}``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "transactions": out_dir / "transactions.parquet",
        "labels": out_dir / "labels.parquet",
    }
    sim.transactions.to_parquet(paths["transactions"], index=False)
    sim.labels.to_parquet(paths["labels"], index=False)
    logger.info("wrote %d transactions to %s", len(sim.transactions), out_dir)
    return paths


def transaction_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as event dicts for ``schema.parse_transaction`` (or a Kafka replay).

    Extra columns (labels) are dropped; NaN/NaT become None.
    """
    return _records(frame, TRANSACTION_FIELDS)


def label_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a labels frame as event dicts for ``schema.parse_label``."""
    return _records(frame, tuple(f for f in LABEL_FIELDS if f in frame.columns))


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    part = frame.loc[:, list(columns)]
    records: list[dict[str, Any]] = part.astype(object).where(part.notna(), None).to_dict("records")
    return records


def _streams(seed: int) -> Callable[[str], np.random.Generator]:
    def rng_for(name: str) -> np.random.Generator:
        key = _STREAMS.index(name)
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))

    return rng_for


def _utc(us: IntArray) -> pd.Series:
    return pd.Series(us.view("datetime64[us]")).dt.tz_localize("UTC")


def _transactions_frame(population: Population, events: Events, label_us: IntArray) -> pd.DataFrame:
    term, n = population.terminals, len(events)
    t = events.terminal
    names = np.array([*ALL_SCENARIOS, None], dtype=object)  # LEGIT (-1) maps to None
    return pd.DataFrame(
        {
            "schema_version": np.full(n, SCHEMA_VERSION, dtype=np.int64),
            "transaction_id": format_ids("tx", np.arange(n), id_width(n, 10)),
            "event_time": _utc(events.time_us),
            "card_token": population.card_tokens[events.card],
            "card_last4": population.card_last4[events.card],
            "customer_id": population.customers.ids[population.card_customer[events.card]],
            "terminal_id": term.ids[t],
            "merchant_id": term.merchant_ids[term.merchant[t]],
            "mcc": term.mcc[t],
            "amount": events.amount,
            "currency": term.currency[t],
            "channel": np.array(world.KIND_CHANNEL, dtype=object)[term.kind[t]],
            "entry_mode": np.array(ENTRY_MODES, dtype=object)[events.entry],
            "country": term.country[t],
            "latitude": term.lat[t],
            "longitude": term.lon[t],
            "device_id": events.device,
            "ip_address": events.ip,
            "is_fraud": events.scenario >= 0,
            "fraud_scenario": names[events.scenario],
            "label_time": _utc(label_us),
        },
        columns=list(TRANSACTION_COLUMNS),
    )
