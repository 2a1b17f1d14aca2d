"""Request-only feature vectors for degraded mode.

When the online store is unreachable, the features that need no stored state
(``txn_*``: amount, local hour, night and weekend flags) are still computed by
the same feature functions; every feature that needs the card's or terminal's
history is NaN (unknown), never a made-up zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fraudlens.features.context import is_context
from fraudlens.features.definitions import card_features, terminal_features
from fraudlens.features.extras import is_extra
from fraudlens.features.odfv import time_us
from fraudlens.features.online_ids import device_code, ip_code
from fraudlens.features.state import TxnEvent, coord
from fraudlens.schema import Transaction

REQUEST_ONLY_PREFIX = "txn_"


def txn_event(txn: Transaction) -> TxnEvent:
    """The feature functions' view of a transaction."""
    return TxnEvent(
        transaction_id=txn.transaction_id,
        time_us=time_us(txn.event_time),
        card_token=txn.card_token,
        terminal_id=txn.terminal_id,
        merchant_id=txn.merchant_id,
        country=txn.country,
        amount=float(txn.amount),
        latitude=coord(txn.latitude),
        longitude=coord(txn.longitude),
        device=device_code(txn.device_id),
        ip=ip_code(txn.ip_address),
    )


def from_request(feature: str) -> bool:
    """True for columns the request carries itself (context ``ctx_*``, passthrough ``x_*``):
    never read from the online store."""
    return is_context(feature) or is_extra(feature)


def is_request_only(feature: str) -> bool:
    """True for features computed from the request alone."""
    return feature.startswith(REQUEST_ONLY_PREFIX)


def request_only_frame(txns: Sequence[Transaction], names: Sequence[str]) -> pd.DataFrame:
    """Vectors in ``names`` order: request-only features computed, the rest NaN."""
    values = np.full((len(txns), len(names)), np.nan)
    wanted = [(j, name) for j, name in enumerate(names) if is_request_only(name)]
    for i, txn in enumerate(txns):
        event = txn_event(txn)
        computed = card_features(None, event) | terminal_features(None, event)
        for j, name in wanted:
            values[i, j] = computed[name]
    return pd.DataFrame(values, columns=list(names))
