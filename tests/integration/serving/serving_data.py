"""What the serving tests share besides fixtures: registered versions, simulated transactions.

Test modules import it as a sibling module (not ``conftest``, which names
another folder's conftest when several are loaded).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fraudlens.schema import Transaction
from fraudlens.simulator.core import transaction_records


@dataclass
class Models:
    """Registered versions: the champion, the challenger and one that must be refused."""

    champion: str
    challenger: str
    bad: str


def transactions_of(frame: pd.DataFrame) -> list[Transaction]:
    """Validated transactions from a simulation frame."""
    return [Transaction.model_validate(r) for r in transaction_records(frame)]
