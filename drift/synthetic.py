"""Synthetic feature rows shaped like FraudLens features, for tests and benchmarks.

Integer features get small counts or flags (chi-squared territory), float
features get skewed amounts (KS territory); ``shift`` moves chosen columns so
tests know what a detector should find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def default_columns() -> dict[str, str]:
    """Feature name -> dtype from the feature registry (a small fixed set if absent)."""
    try:
        from fraudlens.features.registry import ALL_FEATURES
    except ImportError:  # the registry is optional here
        return {"amount": "float64", "count_1d": "int64", "is_night": "int64", "ratio": "float64"}
    return {spec.name: spec.dtype for spec in ALL_FEATURES}


def synthetic_rows(
    n: int,
    seed: int,
    columns: Mapping[str, str] | None = None,
    shift: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """``n`` rows of features plus a ``score`` column.

    Args:
        n: rows.
        seed: random seed.
        columns: feature name -> ``int64`` | ``float64`` (default: the registry's).
        shift: column -> shift size; numeric columns move by ``shift`` standard
            units, integer columns raise their rate by that factor, ``score``
            raises the share of high scores.
    """
    rng = np.random.default_rng(seed)
    columns = columns or default_columns()
    shift = shift or {}
    data: dict[str, np.ndarray] = {}
    for i, (name, dtype) in enumerate(columns.items()):
        s = shift.get(name, 0.0)
        if dtype == "int64" and i % 3 == 0:
            data[name] = (rng.random(n) < 0.1 * (1.0 + s)).astype(np.float64)  # flags
        elif dtype == "int64":
            data[name] = rng.poisson(1.0 + i % 5 + s * (1.0 + i % 5), n).astype(np.float64)
        else:
            data[name] = rng.lognormal(1.0 + i % 4 + s, 1.0, n)
    score_shift = shift.get("score", 0.0)
    data["score"] = rng.beta(0.5, 30.0 / (1.0 + score_shift), n)
    return pd.DataFrame(data)


def decision_rows(
    features: pd.DataFrame,
    model_version: str,
    start: pd.Timestamp,
    seconds: float,
    id_prefix: str = "t",
) -> pd.DataFrame:
    """Decision-log-like rows (ids, times, version) around synthetic features."""
    n = len(features)
    times = start + pd.to_timedelta(np.linspace(0.0, seconds, n, endpoint=False), unit="s")
    meta = pd.DataFrame(
        {
            "transaction_id": [f"{id_prefix}{i:07d}" for i in range(n)],
            "event_time": times,
            "model_version": model_version,
            "degraded": False,
        }
    )
    return pd.concat([meta, features.reset_index(drop=True)], axis=1)


def feature_names(columns: Sequence[str]) -> list[str]:
    """The feature columns of a synthetic frame (all but ``score``)."""
    return [c for c in columns if c != "score"]
