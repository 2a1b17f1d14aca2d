"""alibi-detect backend: KSDrift, ChiSquareDrift, MMDDrift (pytorch) and CVMDriftOnline.

alibi-detect >= 0.11 is under the Business Source License; choose
``drift.backend=scipy`` where that licence is not acceptable. alibi-detect 0.13
declares numpy<2 but is installed without that pin; tests/unit/test_alibi_numpy2.py
proves the detectors used here work under numpy 2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from alibi_detect.cd import ChiSquareDrift, CVMDriftOnline, KSDrift, MMDDrift

from drift.detectors import DriftDetector, OnlineResult
from drift.stats import standardize


class AlibiDetector(DriftDetector):
    """Per-column p-values from alibi-detect; correction and PSI from ``drift.stats``."""

    name = "alibi"
    _ks: Any = None
    _chi2: Any = None
    _cvm: Any = None

    def _column_tests(self, window: pd.DataFrame) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        if self.numeric:
            if self._ks is None:
                self._ks = KSDrift(_f32(self.reference[self.numeric]), p_val=self.settings.p_value)
            out.update(self._feature_scores(self._ks, window[self.numeric], self.numeric))
        if self.categorical:
            if self._chi2 is None:
                self._chi2 = ChiSquareDrift(
                    _f32(self.reference[self.categorical]), p_val=self.settings.p_value
                )
            out.update(self._feature_scores(self._chi2, window[self.categorical], self.categorical))
        return out

    @staticmethod
    def _feature_scores(detector: Any, frame: pd.DataFrame, names: list[str]) -> dict[str, Any]:
        res = detector.predict(_f32(frame), drift_type="feature", return_distance=True)["data"]
        p_values = np.nan_to_num(np.asarray(res["p_val"], dtype=np.float64), nan=1.0)
        distances = np.asarray(res["distance"], dtype=np.float64)
        return {n: (float(d), float(p)) for n, d, p in zip(names, distances, p_values, strict=True)}

    def _mmd(self, ref: np.ndarray, cur: np.ndarray, seed: int) -> tuple[float, float]:
        import torch

        torch.manual_seed(seed)  # permutations use torch's generator
        ref_z, cur_z = standardize(ref, cur)
        detector = MMDDrift(
            ref_z.astype(np.float32),
            backend="pytorch",
            p_val=self.settings.p_value,
            n_permutations=self.settings.mmd_permutations,
            device="cpu",
        )
        res = detector.predict(cur_z.astype(np.float32), return_distance=True)["data"]
        return float(res["distance"]), float(res["p_val"])

    def _online(self, scores: np.ndarray) -> OnlineResult:
        if self._cvm is None:
            ref = self.reference["score"].to_numpy()
            ref = ref[np.isfinite(ref)]
            if ref.size > self.settings.online_ref_size:
                rng = np.random.default_rng(0)
                ref = rng.choice(ref, size=self.settings.online_ref_size, replace=False)
            self._cvm = CVMDriftOnline(
                ref,
                ert=self.settings.online_ert,
                window_sizes=[self.settings.online_window],
                n_bootstraps=self.settings.online_bootstraps,
                verbose=False,
            )
        self._cvm.reset_state()
        at: int | None = None
        stat, threshold = 0.0, float("inf")
        for value in scores[np.isfinite(scores)]:
            res = self._cvm.predict(np.array([value]))["data"]
            stat = float(np.max(np.nan_to_num(res["test_stat"], nan=0.0)))
            threshold = float(np.max(res["threshold"]))
            if res["is_drift"]:
                at = int(res["time"])
                break
        return OnlineResult(
            drifted=at is not None,
            detected_at=at,
            statistic=stat,
            threshold=threshold,
            n=int(self._cvm.t),
        )


def _f32(frame: pd.DataFrame) -> np.ndarray:
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float32))
