"""``FeastFeatures.online`` lays the feature columns out as the previous code did, bit for bit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fraudlens.features import store as feature_store
from fraudlens.scoring.adapters import FeastFeatures
from fraudlens.settings import Settings


def previous_frame(columns: dict[str, Any], rows: int, names: list[str]) -> pd.DataFrame:
    """The frame as ``FeastFeatures.online`` built it before (column writes)."""
    values = np.full((rows, len(names)), np.nan)
    for j, name in enumerate(names):
        if name in columns:
            values[:, j] = np.asarray(columns[name], dtype=np.float64)
    return pd.DataFrame(values, columns=names)


def columns_of(rows: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=rows) * 1e3
    floats[::7] = np.nan
    floats[1::5] = -0.0
    return {
        "counts": rng.integers(-1, 2**53, size=rows, dtype=np.int64),
        "amounts": floats,
        "extremes": np.array([np.inf, -np.inf, 5e-324, -1.0, 1e308] * rows)[:rows],
        "listed": [None if i % 3 == 0 else i / 7 for i in range(rows)],  # a list with nulls
        "flags": rng.integers(0, 2, size=rows).astype(bool),
        "not_in_model": np.zeros(rows),
    }


@pytest.mark.parametrize("rows", [1, 2, 16, 100, 513])
def test_the_frame_is_the_previous_code_s_bit_for_bit(
    rows: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    names = ["amounts", "missing", "counts", "listed", "extremes", "flags"]
    columns = columns_of(rows, seed=rows)
    monkeypatch.setattr(feature_store, "online_feature_columns", lambda *a, **k: columns)
    features = FeastFeatures(Settings(data_dir=tmp_path))
    features._store = object()  # not opened: the columns come from the patch above
    model = SimpleNamespace(feature_names=names)

    for _ in range(2):  # the second call reuses the cached column index
        got = features.online([object()] * rows, model)  # type: ignore[arg-type]
        want = previous_frame(columns, rows, names)
        assert list(got.columns) == names and got.columns.dtype == want.columns.dtype
        assert got.index.equals(want.index)
        assert list(got.dtypes) == list(want.dtypes) == [np.float64] * len(names)
        matrix, expected = got.to_numpy(), want.to_numpy()
        assert matrix.flags.c_contiguous == expected.flags.c_contiguous
        assert np.array_equal(matrix.view(np.int64), expected.view(np.int64))  # NaN, -0.0
