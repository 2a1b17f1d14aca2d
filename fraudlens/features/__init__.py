"""Feature platform: one definition of every feature, three runners.

``state`` (per-entity state + pure updates) and ``definitions`` (state +
request -> features) are the single source of truth; ``stream`` (Kafka ->
Feast push), ``batch`` (Spark backfill) and the ODFVs of ``feature_repo/``
all call them. ``state_codec`` is how a state is stored: one versioned blob
per entity. ``store`` is the one helper training and serving use to read
feature vectors.
"""

from __future__ import annotations

from fraudlens.features.batch import BackfillResult, backfill
from fraudlens.features.definitions import card_features, terminal_features
from fraudlens.features.registry import ALL_FEATURES, FEATURE_NAMES, FeatureSpec
from fraudlens.features.repo import apply, materialize
from fraudlens.features.state import CardState, TerminalState, TxnEvent
from fraudlens.features.state_codec import (
    decode_card,
    decode_terminal,
    encode_card,
    encode_terminal,
)
from fraudlens.features.store import (
    DEFAULT_SERVICE,
    historical_rows,
    historical_vectors,
    online_vector,
    online_vectors,
    open_store,
)
from fraudlens.features.stream import JobStats, StreamFeatureJob, run_stream_job

__all__ = [
    "ALL_FEATURES",
    "DEFAULT_SERVICE",
    "FEATURE_NAMES",
    "BackfillResult",
    "CardState",
    "FeatureSpec",
    "JobStats",
    "StreamFeatureJob",
    "TerminalState",
    "TxnEvent",
    "apply",
    "backfill",
    "card_features",
    "decode_card",
    "decode_terminal",
    "encode_card",
    "encode_terminal",
    "historical_rows",
    "historical_vectors",
    "materialize",
    "online_vector",
    "online_vectors",
    "open_store",
    "run_stream_job",
    "terminal_features",
]
