"""License-free backend: scipy KS / chi-squared, numpy MMD and a CUSUM on the scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from drift.detectors import DriftDetector, OnlineResult
from drift.stats import PitCusum, mmd_permutation_test, standardize


class ScipyDetector(DriftDetector):
    """KS (numeric) and chi-squared (categorical) per column, permutation MMD, PIT-CUSUM."""

    name = "scipy"
    _cusum: PitCusum | None = None

    def _column_tests(self, window: pd.DataFrame) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for name in self.numeric:
            ref, cur = _clean(self.reference[name]), _clean(window[name])
            if ref.size == 0 or cur.size == 0:
                out[name] = (0.0, 1.0)
                continue
            # asymptotic p-values, as alibi-detect computes them
            res = ks_2samp(ref, cur, alternative="two-sided", method="asymp")
            out[name] = (float(res.statistic), float(res.pvalue))
        for name in self.categorical:
            out[name] = chi_squared(_clean(self.reference[name]), _clean(window[name]))
        return out

    def _mmd(self, ref: np.ndarray, cur: np.ndarray, seed: int) -> tuple[float, float]:
        ref_z, cur_z = standardize(ref, cur)
        return mmd_permutation_test(
            ref_z, cur_z, self.settings.mmd_permutations, np.random.default_rng(seed)
        )

    def _online(self, scores: np.ndarray) -> OnlineResult:
        if self._cusum is None:
            ref = _clean(self.reference["score"])
            rng = np.random.default_rng(0)
            if ref.size > self.settings.online_ref_size:
                ref = rng.choice(ref, size=self.settings.online_ref_size, replace=False)
            self._cusum = PitCusum(ref, ert=self.settings.online_ert)
        self._cusum.reset()
        at = self._cusum.update(scores[np.isfinite(scores)])
        return OnlineResult(
            drifted=at is not None,
            detected_at=at,
            statistic=self._cusum.statistic,
            threshold=self._cusum.threshold,
            n=self._cusum.t,
        )


def chi_squared(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity over the categories seen on either side."""
    if ref.size == 0 or cur.size == 0:
        return 0.0, 1.0
    cats = np.union1d(ref, cur)
    table = np.vstack(
        [
            np.array([(ref == c).sum() for c in cats]),
            np.array([(cur == c).sum() for c in cats]),
        ]
    )
    if table.shape[1] < 2:
        return 0.0, 1.0  # one category on both sides: nothing can have moved
    res = chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def _clean(values: pd.Series | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr[np.isfinite(arr)]
