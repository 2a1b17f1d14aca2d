"""State views (each entity's compact state as one blob, see
fraudlens.features.state_codec) and the per-transaction feature view that
training reads.

``ttl`` is 0 (no expiry): the feature functions apply their own windows, so
online reads and historical joins see the same latest state row.

``transaction_features`` is offline only: one row of scalar features per
transaction at its own event time (fraudlens.features.transaction_rows), the
values the online path computed, or would have, when scoring it. A
historical retrieval from it is a plain as-of join on ``transaction_id``, with
no state blobs and no on-demand views. Serving keeps the state views + ODFVs.
"""

from __future__ import annotations

from datetime import timedelta

from data_sources import card_state_push, terminal_state_push, transaction_feature_files
from entities import card, terminal, transaction
from feast import FeatureView, Field
from feast.types import Bytes, Float64, Int64, PrimitiveFeastType, String

from fraudlens.features.registry import ALL_FEATURES
from fraudlens.features.state import CARD_COLUMNS, TERMINAL_COLUMNS
from fraudlens.features.transaction_rows import TXN_VIEW

_TYPES: dict[str, PrimitiveFeastType] = {
    "int64": Int64,
    "float64": Float64,
    "string": String,
    "bytes": Bytes,
}


def _fields(columns: tuple[tuple[str, str, str], ...]) -> list[Field]:
    return [Field(name=col, dtype=_TYPES[kind]) for col, _, kind in columns]


card_state = FeatureView(
    name="card_state",
    entities=[card],
    ttl=timedelta(0),
    schema=_fields(CARD_COLUMNS),
    source=card_state_push,
    online=True,
    description="The card's transactions of the last 31 days (times, amounts, places), "
    "one blob (fraudlens.features.state_codec).",
)

terminal_state = FeatureView(
    name="terminal_state",
    entities=[terminal],
    ttl=timedelta(0),
    schema=_fields(TERMINAL_COLUMNS),
    source=terminal_state_push,
    online=True,
    description="The terminal's daily counts and fraud labels with their arrival times, "
    "one blob (fraudlens.features.state_codec).",
)

transaction_features = FeatureView(
    name=TXN_VIEW,
    entities=[transaction],
    ttl=timedelta(0),
    schema=[Field(name=s.name, dtype=_TYPES[s.dtype]) for s in ALL_FEATURES],
    source=transaction_feature_files,
    online=False,
    description="Every feature of a transaction at its own time (training, offline only).",
)
