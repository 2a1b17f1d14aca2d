"""Card precision@k per test day, the Fraud Detection Handbook's protocol.

Each day an investigation team checks the k cards the model finds most
suspicious (a card's score is its highest transaction score that day). The
day's precision is the number of those cards that had a fraud that day,
divided by k. A card found compromised is blocked: its later transactions
are left out of the following test days, so the same card is not counted
twice. So is a card whose fraud label arrived before the day (``known``,
from ``known_compromised``): the team already knows it, as in the
Handbook's test sets. The figure of a period is the mean over its days.

``training.evaluate.card_precision_at_k`` is the simpler variant the gate
uses (no removal, divided by the cards ranked that day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CardPrecision:
    """Card precision@k of each test day and their mean.

    Attributes:
        days: the test days (UTC midnight), in order.
        per_day: precision of each day.
        detected: cards found compromised, per day.
        mean: mean over days (NaN without days).
    """

    days: list[pd.Timestamp]
    per_day: list[float]
    detected: list[int]
    mean: float


def known_compromised(frame: pd.DataFrame) -> pd.Series:
    """When each card's first fraud label arrived (index: card token).

    Args:
        frame: rows with ``card_token``, ``is_fraud`` and ``label_time``.
    """
    fraud = frame[frame["is_fraud"].astype(bool) & frame["label_time"].notna()]
    return fraud.groupby("card_token")["label_time"].min()


def card_precision_top_k(
    frame: pd.DataFrame,
    scores: np.ndarray,
    k: int,
    *,
    remove_detected: bool = True,
    known: pd.Series | None = None,
) -> CardPrecision:
    """Card precision@k per day (see the module docstring).

    Args:
        frame: rows with ``event_time``, ``card_token`` and ``is_fraud``.
        scores: one score per row.
        k: cards checked per day.
        remove_detected: leave cards detected on earlier days out of later days.
        known: when each card's fraud label arrived (``known_compromised``);
            a card is left out of the days after its label arrived.
    """
    cards = pd.DataFrame(
        {
            "day": frame["event_time"].dt.floor("D").to_numpy(),
            "card": frame["card_token"].to_numpy(),
            "score": np.asarray(scores, dtype=np.float64),
            "fraud": frame["is_fraud"].to_numpy(dtype=bool),
        }
    )
    detected: set[str] = set()
    days, per_day, found = [], [], []
    for day, rows in cards.groupby("day", sort=True):
        if remove_detected:
            rows = rows[~rows["card"].isin(detected)]
        if known is not None:
            rows = rows[~rows["card"].isin(known.index[known < day])]
        per_card = rows.groupby("card").agg(score=("score", "max"), fraud=("fraud", "max"))
        # Ties broken by card token so the figure does not depend on row order.
        top = per_card.reset_index().sort_values(["score", "card"], ascending=[False, True])[:k]
        hits = top.loc[top["fraud"], "card"].tolist()
        days.append(pd.Timestamp(day))
        per_day.append(len(hits) / k)
        found.append(len(hits))
        if remove_detected:
            detected.update(hits)
    mean = float(np.mean(per_day)) if per_day else math.nan
    return CardPrecision(days, per_day, found, mean)
