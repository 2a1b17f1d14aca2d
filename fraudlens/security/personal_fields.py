"""Personal fields of transaction tables, encrypted at rest (importer output, raw history).

Columns in ``ENCRYPTED_FIELDS`` are AES-GCM encrypted with the field context
``raw_history|<column>|<transaction id>``: the layout ``fraudlens keys rotate``
expects for the ``raw_history`` store. Live events carry them in clear, so
replay decrypts them again before publishing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from fraudlens.security.encryption import KeyRing, field_context, is_ciphertext
from fraudlens.security.inventory import ENCRYPTED_FIELDS

if TYPE_CHECKING:
    from fraudlens.settings import Settings

STORE = "raw_history"
"""Inventory name of the importer's output, bound into each ciphertext."""


def encrypt_personal_fields(frame: pd.DataFrame, keyring: KeyRing) -> pd.DataFrame:
    """Encrypt the ``ENCRYPTED_FIELDS`` columns of a transactions frame (a copy)."""
    return _map_personal_fields(frame, lambda v, ctx: keyring.encrypt(str(v), ctx))


def decrypt_personal_fields(frame: pd.DataFrame, keyring: KeyRing) -> pd.DataFrame:
    """The inverse of ``encrypt_personal_fields``; plaintext values pass through.

    Raises:
        EncryptionError: a ciphertext does not decrypt in its row (wrong key or
            a value moved from another row or column).
    """
    return _map_personal_fields(
        frame, lambda v, ctx: keyring.decrypt(v, ctx) if is_ciphertext(v) else v
    )


def decrypted_for_replay(settings: Settings, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with personal fields decrypted (as live events carry them); the
    key ring is only built when something is encrypted (simulator output is not)."""
    from fraudlens.security.encryption import keyring_from_settings

    columns = [c for c in ENCRYPTED_FIELDS if c in frame.columns]
    if not any(frame[c].map(is_ciphertext).any() for c in columns):
        return frame
    return decrypt_personal_fields(frame, keyring_from_settings(settings))


def _map_personal_fields(frame: pd.DataFrame, func: Any) -> pd.DataFrame:
    out = frame.copy()
    ids = out["transaction_id"].astype(str).tolist() if "transaction_id" in out else []
    for column in (c for c in ENCRYPTED_FIELDS if c in out.columns):
        out[column] = [
            None if _missing(value) else func(value, field_context(STORE, column, rid))
            for rid, value in zip(ids, out[column].tolist(), strict=True)
        ]
        out[column] = out[column].astype(object)
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))
