"""Feature vectors computed in memory from a transaction frame.

The same feature functions as every other runner (``fraudlens.features``),
folded over the events in one Python loop: exact point-in-time values without
Feast or Spark. Meant for tests, benchmarks and small experiments; training
on real history reads Feast (``training.dataset``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.errors import DataError
from fraudlens.features import ALL_FEATURES, FEATURE_NAMES, card_features, terminal_features
from fraudlens.features.online_ids import CODE_COLUMNS, device_code, history_codes, ip_code
from fraudlens.features.state import (
    DEFAULT_MATURED_DELAY_DAYS,
    CardState,
    FraudMark,
    TerminalState,
    TxnEvent,
    coord,
    label_applies,
    terminal_retention_days,
    update_card,
    update_terminal_fraud,
    update_terminal_txn,
)

logger = logging.getLogger(__name__)

_NEEDED = (
    "transaction_id",
    "event_time",
    "card_token",
    "terminal_id",
    "merchant_id",
    "country",
    "amount",
    "latitude",
    "longitude",
    "is_fraud",
    "label_time",
)


def _micros(values: pd.Series) -> np.ndarray:
    us = values.dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64")
    out: np.ndarray = us.to_numpy()
    return out


def compute_features(
    transactions: pd.DataFrame,
    max_label_delay_days: int = 120,
    *,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> pd.DataFrame:
    """Return one row of features (``FEATURE_NAMES``) per transaction, same order.

    Fraud labels feed the terminal features at their ``label_time`` only.

    Args:
        transactions: the simulator's / importer's frame (schema fields plus
            ``is_fraud`` and ``label_time``).
        max_label_delay_days: labels later than this are ignored (as in Feast).
        matured_delay_days: ``features.matured_delay_days`` (matured terminal risk).

    Raises:
        DataError: a needed column is missing.
    """
    missing = [c for c in _NEEDED if c not in transactions.columns]
    if missing:
        raise DataError(f"transactions lack column(s): {', '.join(missing)}")
    times = _micros(transactions["event_time"])
    fraud = transactions["is_fraud"].to_numpy(dtype=bool)
    label_us = np.full(len(transactions), -1, dtype=np.int64)
    label_us[fraud] = _micros(transactions.loc[fraud, "label_time"])
    max_delay_us = max_label_delay_days * 86_400 * 1_000_000
    # (time, kind, row): transactions (0) before labels (1) at the same time.
    order = [(int(t), 0, i) for i, t in enumerate(times)]
    order += [(int(label_us[i]), 1, int(i)) for i in np.flatnonzero(fraud)]
    order.sort()
    cols: dict[str, Any] = {
        name: transactions[name].to_numpy() for name in _NEEDED if name != "event_time"
    }
    # Optional (card-present only data has none): codes, never the values.
    absent = [None] * len(transactions)
    devices, ips = (
        history_codes(transactions.get(name, absent), transactions.get(CODE_COLUMNS[name]), code)
        for name, code in (("device_id", device_code), ("ip_address", ip_code))
    )
    cards: dict[str, CardState] = {}
    terms: dict[str, TerminalState] = {}
    out = np.zeros((len(transactions), len(FEATURE_NAMES)), dtype=np.float64)
    retention = terminal_retention_days(matured_delay_days)
    for time_us, kind, i in order:
        term_id = cols["terminal_id"][i]
        if kind == 1:
            if label_applies(True, time_us, int(times[i]), max_delay_us):
                mark = FraudMark(cols["transaction_id"][i], term_id, time_us, int(times[i]))
                terms[term_id] = update_terminal_fraud(
                    terms.get(term_id), mark, retention_days=retention
                )
            continue
        event = TxnEvent(
            transaction_id=cols["transaction_id"][i],
            time_us=time_us,
            card_token=cols["card_token"][i],
            terminal_id=term_id,
            merchant_id=cols["merchant_id"][i],
            country=cols["country"][i],
            amount=float(cols["amount"][i]),
            latitude=coord(cols["latitude"][i]),
            longitude=coord(cols["longitude"][i]),
            device=devices[i],
            ip=ips[i],
        )
        card = cards.get(event.card_token)
        terminal = terminal_features(
            terms.get(term_id), event, matured_delay_days=matured_delay_days
        )
        values = {**card_features(card, event), **terminal}
        out[i] = [values[name] for name in FEATURE_NAMES]
        cards[event.card_token] = update_card(card, event)
        terms[term_id] = update_terminal_txn(
            terms.get(term_id), time_us, event.amount, retention_days=retention
        )
    frame = pd.DataFrame(out, columns=list(FEATURE_NAMES), index=transactions.index)
    frame = frame.astype({spec.name: spec.dtype for spec in ALL_FEATURES})
    logger.info("computed %d features for %d transactions", len(FEATURE_NAMES), len(frame))
    return frame
