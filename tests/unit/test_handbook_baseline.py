"""The Handbook baseline's 15 features, against the Handbook's pandas rolling windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks.bench_handbook import handbook_card_precision
from benchmarks.handbook import HandbookConfig, generate
from benchmarks.handbook_baseline import DELAY_DAYS, features, fit_and_score
from training.card_precision import card_precision_top_k, known_compromised


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


def _handbooks_card_precision(
    frame: pd.DataFrame, scores: np.ndarray, cutoff: pd.Timestamp
) -> float:
    """The Handbook's ``get_train_test_set`` (7-day weeks) and ``card_precision_top_k``, transcribed."""
    df = frame.assign(
        day=(frame["event_time"] - frame["event_time"].min().floor("D")).dt.days,
        predictions=scores,
    )
    test_start = int((cutoff - frame["event_time"].min().floor("D")).days)
    train_start = test_start - DELAY_DAYS - 7
    train = df[(df["day"] >= train_start) & (df["day"] < train_start + 7)]
    known = set(train.loc[train["is_fraud"], "card_token"])
    test = []
    for day in range(7):
        delay_day = df[df["day"] == train_start + 7 + day - 1]
        known |= set(delay_day.loc[delay_day["is_fraud"], "card_token"])
        test_day = df[df["day"] == test_start + day]
        test.append(test_day[~test_day["card_token"].isin(known)])
    predictions = pd.concat(test)
    detected: list[str] = []
    precisions = []
    for day in sorted(predictions["day"].unique()):
        rows = predictions[predictions["day"] == day][["predictions", "card_token", "is_fraud"]]
        rows = rows[~rows["card_token"].isin(detected)]
        cards = rows.groupby("card_token").max().sort_values("predictions", ascending=False)
        top = cards.head(100)
        found = list(top[top["is_fraud"]].index)
        precisions.append(len(found) / 100)
        detected.extend(found)
    return float(np.mean(precisions))


def test_the_handbooks_card_precision_is_its_own_code(frame: pd.DataFrame) -> None:
    # continuous random scores: no ties, so the tie rule does not matter
    scores = np.random.default_rng(0).random(len(frame))
    cutoff = frame["event_time"].min().floor("D") + pd.Timedelta(days=30)
    test = (frame["event_time"] >= cutoff) & (frame["event_time"] < cutoff + pd.Timedelta(days=7))
    want = _handbooks_card_precision(frame, scores, cutoff)
    got = handbook_card_precision(frame, frame[test], scores[test.to_numpy()], cutoff, 100)
    assert got == pytest.approx(want) and want > 0
    # cards defrauded before the training week stay in: more frauds to find than without them
    everything = card_precision_top_k(
        frame[test], scores[test.to_numpy()], 100, known=known_compromised(frame)
    ).mean
    assert everything <= got
