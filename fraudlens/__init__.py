"""FraudLens: real-time fraud detection for card and payment transactions."""

from __future__ import annotations

from fraudlens.errors import FraudLensError, ValidationError
from fraudlens.schema import Label, Transaction, parse_label, parse_transaction
from fraudlens.settings import Settings

__all__ = [
    "FraudLensError",
    "Label",
    "Settings",
    "Transaction",
    "ValidationError",
    "parse_label",
    "parse_transaction",
]
__version__ = "0.1.0"
