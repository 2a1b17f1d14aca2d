"""Transaction context: how and where the card was used (channel, entry mode, MCC).

These features belong to the transaction itself, like the passthrough extras:
they need no state and no backfill, so they are point-in-time by construction.
One function computes them from the transaction's own columns, for the
history rows at training and for the requests at serving:

- ``ctx_channel_<channel>``: 1 for the transaction's channel (``Channel``);
- ``ctx_entry_<mode>``: 1 for how the card data was captured (``EntryMode``);
- ``ctx_mcc``: the merchant category code as a number (ISO 18245 groups
  neighbouring codes, so trees split on ranges); -1 when it is not 4 digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fraudlens.features.registry import FeatureSpec
from fraudlens.schema import Channel, EntryMode, Transaction

PREFIX = "ctx_"
MCC = f"{PREFIX}mcc"
_WORDS = {
    Channel.CARD_PRESENT: "at a physical terminal",
    Channel.ECOMMERCE: "online (e-commerce)",
    Channel.MOTO: "by mail or telephone order",
    Channel.ATM: "at a cash machine",
    EntryMode.CHIP: "read from the chip",
    EntryMode.CONTACTLESS: "read contactless",
    EntryMode.MAGSTRIPE: "read from the magnetic stripe",
    EntryMode.KEYED: "typed in by hand",
    EntryMode.ECOM_3DS: "entered online with 3-D Secure",
    EntryMode.ECOM_NO_3DS: "entered online without 3-D Secure",
}

CONTEXT_FEATURES: tuple[FeatureSpec, ...] = (
    *(
        FeatureSpec(
            f"{PREFIX}channel_{c.value}",
            "int64",
            "transaction",
            f"1 if the card was used {_WORDS[c]}",
        )
        for c in Channel
    ),
    *(
        FeatureSpec(
            f"{PREFIX}entry_{m.value}",
            "int64",
            "transaction",
            f"1 if the card data was {_WORDS[m]}",
        )
        for m in EntryMode
    ),
    FeatureSpec(MCC, "int64", "transaction", "merchant category code as a number (-1 if unknown)"),
)
CONTEXT_NAMES: tuple[str, ...] = tuple(s.name for s in CONTEXT_FEATURES)
_SPECS = {s.name: s for s in CONTEXT_FEATURES}


def is_context(feature: str) -> bool:
    """True for a transaction-context feature (``ctx_*``)."""
    return feature in _SPECS


def spec(feature: str) -> FeatureSpec:
    """The registry entry of a context feature."""
    return _SPECS[feature]


def context_columns(
    channel: Iterable[object], entry_mode: Iterable[object], mcc: Iterable[object]
) -> dict[str, NDArray[np.float64]]:
    """Every context feature for every row, as float columns (the models' input type)."""
    channels = np.array([str(c) for c in channel], dtype=object)
    modes = np.array([str(m) for m in entry_mode], dtype=object)
    out = {f"{PREFIX}channel_{c.value}": (channels == c.value).astype(np.float64) for c in Channel}
    out |= {f"{PREFIX}entry_{m.value}": (modes == m.value).astype(np.float64) for m in EntryMode}
    out[MCC] = np.array([_mcc_number(code) for code in mcc], dtype=np.float64)
    return out


def _mcc_number(code: object) -> float:
    text = str(code)
    return float(text) if len(text) == 4 and text.isascii() and text.isdigit() else -1.0


def frame_context(frame: pd.DataFrame) -> pd.DataFrame:
    """The context features of a transaction frame (``channel``, ``entry_mode``, ``mcc``)."""
    columns = context_columns(frame["channel"], frame["entry_mode"], frame["mcc"])
    return pd.DataFrame(columns, index=frame.index)


def fill_request_context(frame: pd.DataFrame, txns: Sequence[Transaction]) -> None:
    """Set the ``ctx_*`` columns of ``frame`` (one row per transaction) from the requests."""
    wanted = [c for c in frame.columns if is_context(str(c))]
    if not wanted:
        return
    columns = context_columns(
        [t.channel for t in txns], [t.entry_mode for t in txns], [t.mcc for t in txns]
    )
    for name in wanted:
        frame[name] = columns[str(name)]
