"""What every fraud scenario receives, and the helpers they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fraudlens.simulator import world
from fraudlens.simulator._util import (
    DAY_US,
    FloatArray,
    IntArray,
    ObjArray,
    epoch_us,
    ipv4,
    local_amount,
    random_hex_ids,
)
from fraudlens.simulator.config import SimulatorConfig
from fraudlens.simulator.events import Events
from fraudlens.simulator.population import Population


@dataclass(frozen=True)
class Context:
    """Inputs of one scenario run.

    Attributes:
        config: the run's configuration.
        population: customers, cards and terminals.
        legit: the legitimate transactions (some scenarios build on them).
        code: the scenario's index in ``SCENARIOS``.
        budget: target number of fraud rows for this scenario.
        start_us: first instant the scenario may occur (its start day).
        end_us: end of the simulated period (exclusive).
    """

    config: SimulatorConfig
    population: Population
    legit: Events
    code: int
    budget: int
    start_us: int
    end_us: int

    @property
    def start_day(self) -> int:
        """Day index of ``start_us``."""
        return (self.start_us - epoch_us(self.config.start_date)) // DAY_US

    def episode_starts(self, rng: np.random.Generator, n: int, span_us: int) -> IntArray:
        """Uniform start times leaving ``span_us`` before the end when possible."""
        hi = max(self.start_us + 1, self.end_us - span_us)
        return rng.integers(self.start_us, hi, size=n)

    def random_cards(self, rng: np.random.Generator, n: int) -> IntArray:
        """``n`` cards drawn uniformly from the portfolio, distinct while possible."""
        cards = self.population.card_tokens.size
        return rng.choice(cards, size=n, replace=n > cards).astype(np.int64)

    def customer_of(self, card: IntArray) -> IntArray:
        """Customer index of each card."""
        return self.population.card_customer[card]

    def finish(
        self,
        *,
        time_us: IntArray,
        card: IntArray,
        terminal: IntArray,
        entry: IntArray,
        eur: FloatArray | None = None,
        amount: FloatArray | None = None,
        device: ObjArray | None = None,
        ip: ObjArray | None = None,
    ) -> Events:
        """Build the scenario's events, dropping rows outside the run.

        Give either ``eur`` (converted to the terminal's currency) or
        ``amount`` (already in the terminal's currency).
        """
        term = self.population.terminals
        n = time_us.size
        if amount is None:
            if eur is None:
                raise ValueError("give eur or amount")
            amount = local_amount(eur, term.per_eur[terminal], term.kind[terminal] == world.ATM)
        events = Events(
            time_us=time_us.astype(np.int64),
            card=card.astype(np.int64),
            terminal=terminal.astype(np.int64),
            amount=amount,
            entry=entry.astype(np.int64),
            device=device if device is not None else np.full(n, None, dtype=object),
            ip=ip if ip is not None else np.full(n, None, dtype=object),
            scenario=np.full(n, self.code, dtype=np.int64),
        )
        inside: npt.NDArray[np.bool_] = (time_us >= self.start_us) & (time_us < self.end_us)
        return events.take(np.flatnonzero(inside))


def fraud_devices(rng: np.random.Generator, n: int) -> ObjArray:
    """Device ids never seen for the victim (same shape as genuine ones)."""
    return random_hex_ids(rng, n, "dev_")


def fraud_ips(rng: np.random.Generator, n: int) -> ObjArray:
    """IPs from ranges no customer lives in."""
    return ipv4(rng, rng.choice(np.array(world.FRAUD_IP_OCTETS), size=n))


def redraw_while(
    rng: np.random.Generator,
    pool: IntArray,
    bad: npt.NDArray[Any],
    attribute: npt.NDArray[Any],
) -> IntArray:
    """Draw one element of ``pool`` per row, avoiding ``attribute[x] == bad`` where possible."""
    chosen = pool[rng.integers(0, pool.size, size=bad.size)]
    for _ in range(32):
        clash = np.flatnonzero(attribute[chosen] == bad)
        if clash.size == 0:
            break
        chosen[clash] = pool[rng.integers(0, pool.size, size=clash.size)]
    return chosen
