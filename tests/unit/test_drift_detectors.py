"""Both detector backends on synthetic data: unshifted stays quiet, shifted columns are found."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from drift.detectors import build_detector, infer_categorical
from drift.synthetic import synthetic_rows
from fraudlens.errors import ConfigError, DataError
from fraudlens.settings import DriftSettings

BACKENDS = ["scipy", "alibi"]
COLUMNS = {
    "amount": "float64",
    "count_1d": "int64",
    "ratio": "float64",
    "is_night": "int64",
    "km": "float64",
    "count_7d": "int64",
}


def _settings(backend: str, **kw: object) -> DriftSettings:
    base: dict[str, object] = {
        "backend": backend,
        "mmd_subsample": 150,
        "mmd_permutations": 50,
        "online_ert": 300,
        "online_window": 20,
        "online_ref_size": 100,
        "online_bootstraps": 3000,
    }
    return DriftSettings.model_validate(base | kw)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return synthetic_rows(2000, seed=1, columns=COLUMNS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unshifted_window_is_quiet(backend: str, reference: pd.DataFrame) -> None:
    detector = build_detector(reference, _settings(backend))
    window = synthetic_rows(5000, seed=2, columns=COLUMNS)
    result = detector.tabular(window)
    assert not result.drifted and result.moved == []
    assert {f.name for f in result.features} == set(reference.columns)
    assert all(f.psi < 0.05 for f in result.features)
    assert not detector.mmd(window).drifted


@pytest.mark.parametrize("backend", BACKENDS)
def test_shifted_columns_are_found(backend: str, reference: pd.DataFrame) -> None:
    detector = build_detector(reference, _settings(backend))
    shift = {"amount": 0.5, "is_night": 1.0, "score": 3.0}
    window = synthetic_rows(5000, seed=3, columns=COLUMNS, shift=shift)
    result = detector.tabular(window)
    assert result.drifted
    assert set(result.moved) == set(shift)
    tests = {f.name: f.test for f in result.features}
    assert tests["is_night"] == "chi2" and tests["amount"] == "ks"
    assert detector.mmd(window).drifted


@pytest.mark.parametrize("backend", BACKENDS)
def test_online_detector_flags_a_shifted_score_stream(
    backend: str, reference: pd.DataFrame
) -> None:
    detector = build_detector(reference, _settings(backend))
    shifted = synthetic_rows(400, seed=4, columns=COLUMNS, shift={"score": 8.0})["score"]
    alarm = detector.online(shifted.to_numpy())
    assert alarm.drifted and alarm.detected_at is not None and alarm.detected_at <= 100
    quiet = detector.online(reference["score"].to_numpy()[:60])
    assert not quiet.drifted and quiet.n == 60


def test_backends_agree_on_p_values(reference: pd.DataFrame) -> None:
    window = synthetic_rows(3000, seed=5, columns=COLUMNS, shift={"ratio": 0.05})
    scipy_p = build_detector(reference, _settings("scipy")).tabular(window)
    alibi_p = build_detector(reference, _settings("alibi")).tabular(window)
    for a, b in zip(scipy_p.features, alibi_p.features, strict=True):
        assert a.name == b.name and a.test == b.test
        assert a.p_value == pytest.approx(b.p_value, rel=1e-3, abs=1e-6)
        assert a.psi == pytest.approx(b.psi)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fdr_finds_at_least_what_bonferroni_finds(backend: str, reference: pd.DataFrame) -> None:
    window = synthetic_rows(2000, seed=6, columns=COLUMNS, shift={"amount": 0.08, "km": 0.08})
    bonf = build_detector(reference, _settings(backend)).tabular(window)
    fdr = build_detector(reference, _settings(backend, correction="fdr")).tabular(window)
    assert set(bonf.moved) <= set(fdr.moved)
    assert fdr.threshold >= bonf.threshold


def test_min_psi_keeps_tiny_but_significant_shifts_out(reference: pd.DataFrame) -> None:
    window = synthetic_rows(20000, seed=7, columns=COLUMNS, shift={"amount": 0.1})
    assert "amount" in build_detector(reference, _settings("scipy")).tabular(window).moved
    strict = build_detector(reference, _settings("scipy", min_psi=0.25)).tabular(window)
    assert strict.moved == []


def test_categorical_inference() -> None:
    frame = pd.DataFrame(
        {
            "flag": [0, 1, 0, 1],
            "hour": [1, 5, 23, 0],
            "amount": [1.5, 2.0, 3.0, 4.0],
            "score": [0.0, 1.0, 0.0, 1.0],
        }
    )
    assert infer_categorical(frame, max_categories=24) == ["flag", "hour"]
    assert infer_categorical(frame, max_categories=3) == ["flag"]


def test_bad_inputs_raise_typed_errors(reference: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="no rows"):
        build_detector(reference.iloc[:0], _settings("scipy"))
    detector = build_detector(reference, _settings("scipy"))
    with pytest.raises(DataError, match="lacks reference columns"):
        detector.tabular(reference.drop(columns=["amount"]))
    with pytest.raises(DataError, match="no score column"):
        build_detector(reference.drop(columns=["score"]), _settings("scipy")).online(np.ones(3))


def test_alibi_backend_missing_is_a_config_error(
    reference: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "drift.backends.alibi", None)
    with pytest.raises(ConfigError, match="FRAUDLENS_DRIFT__BACKEND=scipy"):
        build_detector(reference, _settings("alibi"))
