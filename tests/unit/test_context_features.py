"""Transaction context features: one definition for training rows and requests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from transactions import make_txn as txn

from fraudlens.features.context import (
    CONTEXT_FEATURES,
    CONTEXT_NAMES,
    fill_request_context,
    frame_context,
)
from fraudlens.schema import Channel, EntryMode
from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel


def test_one_column_per_channel_and_entry_mode_and_the_mcc() -> None:
    assert len(CONTEXT_NAMES) == len(Channel) + len(EntryMode) + 1
    assert all(spec.entity == "transaction" and spec.description for spec in CONTEXT_FEATURES)
    frame = pd.DataFrame(
        {
            "channel": ["atm", "ecommerce", "card_present"],
            "entry_mode": ["magstripe", "ecom_no_3ds", "chip"],
            "mcc": ["6011", "5732", "12x"],
        },
        index=[7, 8, 9],
    )
    out = frame_context(frame)
    assert list(out.columns) == list(CONTEXT_NAMES) and list(out.index) == [7, 8, 9]
    assert out["ctx_channel_atm"].tolist() == [1.0, 0.0, 0.0]
    assert out["ctx_channel_ecommerce"].tolist() == [0.0, 1.0, 0.0]
    assert out["ctx_entry_magstripe"].tolist() == [1.0, 0.0, 0.0]
    assert out["ctx_entry_ecom_no_3ds"].tolist() == [0.0, 1.0, 0.0]
    assert out["ctx_mcc"].tolist() == [6011.0, 5732.0, -1.0]  # not 4 digits: unknown
    # Every row has exactly one channel and one entry mode.
    channels = out[[c for c in CONTEXT_NAMES if c.startswith("ctx_channel_")]]
    modes = out[[c for c in CONTEXT_NAMES if c.startswith("ctx_entry_")]]
    assert (channels.sum(axis=1) == 1).all() and (modes.sum(axis=1) == 1).all()


def test_requests_get_the_same_values_as_history_rows() -> None:
    txns = [
        txn(0, channel="atm", entry_mode="magstripe", mcc="6011"),
        txn(1, channel="ecommerce", entry_mode="ecom_3ds", mcc="5999"),
    ]
    history = pd.DataFrame(
        {
            "channel": [t.channel.value for t in txns],
            "entry_mode": [t.entry_mode.value for t in txns],
            "mcc": [t.mcc for t in txns],
        }
    )
    served = pd.DataFrame(np.nan, index=range(2), columns=["txn_amount", *CONTEXT_NAMES])
    fill_request_context(served, txns)
    assert served["txn_amount"].isna().all()  # only the ctx_* columns are set
    pd.testing.assert_frame_equal(served[list(CONTEXT_NAMES)], frame_context(history))


def test_the_served_vector_carries_the_request_context() -> None:
    weights = {"txn_amount": 0.0, "ctx_entry_magstripe": 9.0, "ctx_mcc": 0.0}
    model = FakeModel("1", weights=weights)
    features = FakeFeatures()
    svc = ScoringService(FakeLoader([model], {"champion": "1"}), features)
    svc.apply_config(ScoringConfig())
    chip, stripe = svc.score(
        [txn(0, entry_mode="chip"), txn(1, entry_mode="magstripe", mcc="5944")]
    )
    assert not chip.degraded and not stripe.degraded  # never read from the store
    assert chip.features["ctx_entry_magstripe"] == 0.0
    assert stripe.features["ctx_entry_magstripe"] == 1.0 and stripe.features["ctx_mcc"] == 5944.0
    assert stripe.score is not None and chip.score is not None and stripe.score > chip.score
    # The store being down leaves them known: they come from the request alone.
    features.down = True
    (degraded,) = svc.score([txn(2, entry_mode="magstripe")])
    assert degraded.degraded and degraded.features["ctx_entry_magstripe"] == 1.0
