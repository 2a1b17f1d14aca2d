"""License-free statistics: corrections, PSI, permutation MMD, the calibrated CUSUM."""

from __future__ import annotations

import numpy as np
import pytest

from drift.stats import (
    PitCusum,
    correct,
    mmd_permutation_test,
    psi_categorical,
    psi_numeric,
)


def test_bonferroni_divides_the_level() -> None:
    rejected, threshold = correct([0.001, 0.02, 0.5], 0.05, "bonferroni")
    assert threshold == pytest.approx(0.05 / 3)
    assert rejected.tolist() == [True, False, False]


def test_benjamini_hochberg_step_up() -> None:
    # sorted: 0.001 < 0.0125, 0.008 < 0.025, 0.039 > 0.0375, 0.041 < 0.05 -> all four rejected
    p = [0.041, 0.001, 0.039, 0.008]
    rejected, threshold = correct(p, 0.05, "fdr")
    assert rejected.all() and threshold == pytest.approx(0.05)
    none, floor = correct([0.2, 0.9], 0.05, "fdr")
    assert not none.any() and floor == pytest.approx(0.025)
    assert correct([], 0.05, "fdr")[0].size == 0


def test_psi_is_zero_for_the_same_sample_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    assert psi_numeric(ref, ref) == pytest.approx(0.0, abs=1e-12)
    small = psi_numeric(ref, rng.normal(0.1, 1.0, 5000))
    large = psi_numeric(ref, rng.normal(1.0, 1.0, 5000))
    assert small < 0.1 < 0.25 < large
    assert psi_numeric(ref, [np.nan]) == 0.0


def test_psi_categorical_counts_new_categories() -> None:
    ref = np.array([0] * 90 + [1] * 10)
    assert psi_categorical(ref, ref) == pytest.approx(0.0, abs=1e-12)
    assert psi_categorical(ref, np.array([0] * 50 + [1] * 30 + [2] * 20)) > 0.25


def test_mmd_permutation_test() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 4))
    same = mmd_permutation_test(x, rng.normal(size=(150, 4)), 100, np.random.default_rng(0))
    moved = mmd_permutation_test(x, rng.normal(0.5, 1.0, (150, 4)), 100, np.random.default_rng(0))
    assert same[1] > 0.05 and moved[1] < 0.01 and moved[0] > same[0]


def test_cusum_run_length_is_near_the_ert_and_alarms_fast_on_a_shift() -> None:
    rng = np.random.default_rng(2)
    ref = rng.beta(0.5, 30.0, 500)
    cusum = PitCusum(ref, ert=200)
    runs = []
    for _ in range(60):
        cusum.reset()
        at = cusum.update(rng.choice(ref, 2000))
        runs.append(at or 2000)
    assert 100 < np.mean(runs) < 400
    cusum.reset()
    at = cusum.update(rng.beta(0.5, 5.0, 500))
    assert at is not None and at < 40
