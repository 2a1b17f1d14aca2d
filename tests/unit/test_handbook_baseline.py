"""The Handbook baseline's 15 features, against the Handbook's pandas rolling windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks.handbook import HandbookConfig, generate
from benchmarks.handbook_baseline import DELAY_DAYS, features, fit_and_score


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    data = generate(HandbookConfig(customers=150, terminals=300, days=50, seed=3))
    fraud = data["TX_FRAUD"] == 1
    return pd.DataFrame(
        {
            "event_time": data["TX_DATETIME"],
            "card_token": "tok" + data["CUSTOMER_ID"].astype(str),
            "terminal_id": "T" + data["TERMINAL_ID"].astype(str),
            "amount": data["TX_AMOUNT"],
            "is_fraud": fraud,
            "label_time": data["TX_DATETIME"].where(fraud) + pd.Timedelta(days=DELAY_DAYS),
        }
    )


def test_fifteen_features_equal_the_handbooks_rolling_windows(frame: pd.DataFrame) -> None:
    feats = features(frame)
    assert feats.shape == (len(frame), 15)
    for _, rows in frame.groupby("card_token"):
        by_time = rows.set_index("event_time")["amount"]
        for w in (1, 7, 30):
            got = feats.loc[rows.index]
            assert np.allclose(
                got[f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW"], by_time.rolling(f"{w}D").count()
            )
            assert np.allclose(
                got[f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW"], by_time.rolling(f"{w}D").mean()
            )
    for _, rows in frame.groupby("terminal_id"):
        fraud = rows.set_index("event_time")["is_fraud"].astype(float)
        delayed_n, delayed_f = fraud.rolling("7D").count(), fraud.rolling("7D").sum()
        for w in (1, 7, 30):
            n = fraud.rolling(f"{DELAY_DAYS + w}D").count() - delayed_n
            f = fraud.rolling(f"{DELAY_DAYS + w}D").sum() - delayed_f
            got = feats.loc[rows.index]
            assert np.allclose(got[f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW"], n)
            assert np.allclose(got[f"TERMINAL_ID_RISK_{w}DAY_WINDOW"], (f / n).fillna(0))
    assert feats["TX_DURING_NIGHT"].eq(frame["event_time"].dt.hour <= 6).all()
    assert feats["TX_DURING_WEEKEND"].eq(frame["event_time"].dt.weekday >= 5).all()


def test_terminal_risk_ignores_labels_that_arrive_after_the_delay(frame: pd.DataFrame) -> None:
    late = frame.assign(label_time=frame["label_time"] + pd.Timedelta(days=30))
    feats = features(late)
    for w in (1, 7, 30):
        assert (feats[f"TERMINAL_ID_RISK_{w}DAY_WINDOW"] == 0).all()


def test_baseline_learns_the_amount_threshold(frame: pd.DataFrame) -> None:
    feats = features(frame)
    start = frame["event_time"].min().floor("D")
    history_end, cutoff = start + pd.Timedelta(days=30), start + pd.Timedelta(days=37)
    test = frame.index[frame["event_time"] >= cutoff]
    scores = fit_and_score(frame, feats, history_end, cutoff, test)
    assert scores.shape == (len(test),)
    high = frame.loc[test, "amount"].to_numpy() > 220
    legit = ~frame.loc[test, "is_fraud"].to_numpy()
    assert high.any()
    keep = high | legit
    assert roc_auc_score(high[keep], scores[keep]) > 0.95
