"""Reason codes in plain language from the model's top feature contributions.

An analyst should read "7 transactions on this card in the last 10 minutes",
not ``card_tx_count_10m=7``. Known feature-name shapes get a sentence; any
other feature falls back to its description from the feature registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from fraudlens.scoring.result import Reason

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_WINDOW = r"(?P<n>\d+)(?P<unit>[mhd])"


def _window(match: re.Match[str]) -> str:
    n, unit = int(match["n"]), _UNITS[match["unit"]]
    if (n, unit) == (1, "days"):
        return "the last 24 hours"
    return f"the last {unit[:-1]}" if n == 1 else f"the last {n} {unit}"


def _term_window(match: re.Match[str]) -> str:
    n = int(match["n"])
    return "the previous day" if n == 1 else f"the previous {n} days"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"


def _since_prev(m: re.Match[str], v: float) -> str:
    if v < 0:
        return "no earlier transaction on this card in 30 days"
    return f"{_duration(v)} since this card's previous transaction"


def _km(m: re.Match[str], v: float) -> str:
    if v < 0:
        return "location of the previous transaction unknown"
    return f"{v:,.0f} km from this card's previous transaction"


def _speed(m: re.Match[str], v: float) -> str:
    if v < 0:
        return "travel speed unknown"
    return f"implied travel speed of {v:,.0f} km/h since the previous transaction"


_Sentence = Callable[[re.Match[str], float], str]

# (pattern, sentence) pairs tried in order against the feature name; the names
# follow fraudlens.features.registry.
_TEMPLATES: list[tuple[re.Pattern[str], _Sentence]] = [
    (
        re.compile(rf"^card_tx_count_{_WINDOW}$"),
        lambda m, v: f"{v:,.0f} transactions in {_window(m)}",
    ),
    (
        re.compile(rf"^card_amount_sum_{_WINDOW}$"),
        lambda m, v: f"{v:,.2f} spent in {_window(m)}",
    ),
    (
        re.compile(rf"^card_amount_mean_{_WINDOW}$"),
        lambda m, v: f"mean amount {v:,.2f} in {_window(m)}",
    ),
    (
        re.compile(rf"^card_amount_max_{_WINDOW}$"),
        lambda m, v: f"largest amount {v:,.2f} in {_window(m)}",
    ),
    (
        re.compile(rf"^card_distinct_(?P<what>\w+?)_{_WINDOW}$"),
        lambda m, v: f"{v:,.0f} different {m['what']} used in {_window(m)}",
    ),
    (
        re.compile(rf"^card_new_(?P<what>\w+?)_{_WINDOW}$"),
        lambda m, v: (
            f"first time at this {m['what']} in 30 days" if v >= 0.5 else f"known {m['what']}"
        ),
    ),
    (
        re.compile(r"^card_amount_ratio_\w+$"),
        lambda m, v: f"amount {v:,.1f}x this card's usual",
    ),
    (
        re.compile(r"^card_amount_zscore_\w+$"),
        lambda m, v: f"amount {v:,.1f} standard deviations from this card's usual",
    ),
    (re.compile(r"^card_secs_since_prev$"), _since_prev),
    (re.compile(r"^card_km_from_prev$"), _km),
    (re.compile(r"^card_speed_kmh_from_prev$"), _speed),
    (re.compile(r"^txn_local_hour$"), lambda m, v: f"at {v:02.0f}h local time"),
    (re.compile(r"^txn_is_night$"), lambda m, v: "at night" if v >= 0.5 else "during the day"),
    (
        re.compile(r"^txn_is_weekend$"),
        lambda m, v: "on a weekend" if v >= 0.5 else "on a weekday",
    ),
    (re.compile(r"^txn_amount$"), lambda m, v: f"amount {v:,.2f}"),
    (
        re.compile(rf"^term_tx_count_{_WINDOW}$"),
        lambda m, v: f"{v:,.0f} transactions at this terminal in {_term_window(m)}",
    ),
    (
        re.compile(rf"^term_fraud_count_{_WINDOW}$"),
        lambda m, v: f"{v:,.0f} confirmed frauds at this terminal in {_term_window(m)}",
    ),
    (
        re.compile(rf"^term_fraud_rate_{_WINDOW}$"),
        lambda m, v: f"{v:.1%} of this terminal's transactions in {_term_window(m)} were fraud",
    ),
]


def describe_feature(feature: str, value: float, description: str | None = None) -> str:
    """One plain-language sentence for a feature value."""
    if math.isnan(value):
        return f"{description or feature}: unknown"
    for pattern, sentence in _TEMPLATES:
        match = pattern.match(feature)
        if match:
            return sentence(match, value)
    label = description or feature.replace("_", " ")
    return f"{label}: {value:,.4g}"


def top_reasons(
    feature_names: Sequence[str],
    values: np.ndarray,
    contributions: np.ndarray,
    k: int,
    describe: Callable[[str], str | None],
    sentence: Callable[[str, float], str | None] | None = None,
) -> list[Reason]:
    """The ``k`` features that pushed this score up the most, as reasons.

    Args:
        feature_names: column names, in the order of ``values``/``contributions``.
        values: the row's feature values.
        contributions: the row's per-feature contributions (any bias term dropped).
        k: how many reasons at most.
        describe: feature -> registry description (fallback text).
        sentence: (feature, value) -> this row's own sentence for a feature, tried
            first (the categorical extras name the value sent), or None.
    """
    if k <= 0:
        return []
    order = np.argsort(-contributions, kind="stable")[:k]
    reasons = []
    for i in order:
        contribution = float(contributions[i])
        if not contribution > 0:
            break
        name, value = feature_names[i], float(values[i])
        text = sentence(name, value) if sentence is not None else None
        reasons.append(
            Reason(
                kind="model",
                code=name,
                text=text or describe_feature(name, value, describe(name)),
                value=None if math.isnan(value) else value,
                contribution=round(contribution, 6),
            )
        )
    return reasons
