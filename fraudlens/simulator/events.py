"""Columnar batches of simulated events, before they become a DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from fraudlens.schema import EntryMode
from fraudlens.simulator import world
from fraudlens.simulator._util import FloatArray, IntArray, ObjArray

ENTRY_MODES: tuple[str, ...] = tuple(mode.value for mode in EntryMode)
CHIP, CONTACTLESS, MAGSTRIPE, KEYED, ECOM_3DS, ECOM_NO_3DS = range(len(ENTRY_MODES))
LEGIT = -1  # scenario code of legitimate rows


@dataclass(frozen=True)
class Events:
    """One batch of transactions as parallel arrays (indices into the population)."""

    time_us: IntArray  # microseconds since the epoch, UTC
    card: IntArray
    terminal: IntArray
    amount: FloatArray  # in the terminal's currency, rounded to cents
    entry: IntArray  # index into ENTRY_MODES
    device: ObjArray  # str or None
    ip: ObjArray  # str or None
    scenario: IntArray  # index into config.SCENARIOS, LEGIT for legitimate rows

    def __len__(self) -> int:
        return int(self.time_us.size)

    def take(self, index: IntArray) -> Events:
        """Rows at ``index`` (a boolean mask or positions)."""
        return Events(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(batches: list[Events]) -> Events:
        """Stack batches in order."""
        return Events(
            **{
                f.name: np.concatenate([getattr(b, f.name) for b in batches])
                for f in fields(Events)
            }
        )

    @staticmethod
    def empty() -> Events:
        """A batch with no rows."""
        ints = np.zeros(0, dtype=np.int64)
        objs = np.zeros(0, dtype=object)
        return Events(ints, ints, ints, np.zeros(0), ints, objs, objs, ints)


def present_entry(rng: np.random.Generator, amount_eur: FloatArray, kind: IntArray) -> IntArray:
    """Entry modes of legitimate rows: contactless for small tickets, chip otherwise.

    ``kind`` is the terminal kind (``world.PHYSICAL`` / ``ATM`` / ``ONLINE``).
    """
    n = amount_eur.size
    u = rng.random(n)
    entry = np.where((amount_eur <= 50.0) & (u < 0.75), CONTACTLESS, CHIP)
    entry = np.where(u > 0.985, MAGSTRIPE, entry)
    entry = np.where(u > 0.996, KEYED, entry)
    entry = np.where(kind == world.ATM, CHIP, entry)
    online = np.where(rng.random(n) < 0.75, ECOM_3DS, ECOM_NO_3DS)
    return np.where(kind == world.ONLINE, online, entry).astype(np.int64)
