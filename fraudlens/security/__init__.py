"""Card-data protection: PAN tokenization (and, later, field encryption)."""

from __future__ import annotations

from fraudlens.security.tokenize import (
    Tokenizer,
    luhn_valid,
    normalize_pan,
    tokenizer_from_settings,
)

__all__ = ["Tokenizer", "luhn_valid", "normalize_pan", "tokenizer_from_settings"]
