"""License-free statistics shared by both backends: corrections, PSI, MMD, CUSUM.

Everything here is numpy/scipy only, so a bank that cannot accept the BSL
licence of alibi-detect still gets every test (see ``drift.backends.scipy``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Correction = Literal["bonferroni", "fdr"]

_PSI_EPS = 1e-4  # floor of a bin share, so an empty bin does not give log(0)


def correct(
    p_values: npt.ArrayLike, alpha: float, method: Correction
) -> tuple[npt.NDArray[np.bool_], float]:
    """Apply a multiple-testing correction to per-feature p-values.

    Bonferroni controls the family-wise error rate; ``fdr`` is
    Benjamini-Hochberg (the same rule alibi-detect applies at batch level).

    Args:
        p_values: one p-value per test.
        alpha: family-wise error rate (bonferroni) or false discovery rate (fdr).
        method: ``bonferroni`` or ``fdr``.

    Returns:
        ``(rejected, threshold)``: which tests reject, and the per-test
        p-value threshold in force (``p < threshold`` rejects).
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    n = p.size
    if n == 0:
        return np.zeros(0, dtype=bool), alpha
    if method == "bonferroni":
        threshold = alpha / n
        return p < threshold, threshold
    p_sorted = np.sort(p)
    steps = alpha * np.arange(1, n + 1) / n
    below = np.flatnonzero(p_sorted < steps)
    if below.size == 0:
        return np.zeros(n, dtype=bool), alpha / n
    k = int(below.max())
    return p <= p_sorted[k], float(steps[k])


def psi_numeric(reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = 10) -> float:
    """Population stability index over reference-quantile bins.

    Rules of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    """
    ref = _finite(reference)
    cur = _finite(current)
    if ref.size == 0 or cur.size == 0:
        return 0.0
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_share = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return _psi(ref_share / ref.size, cur_share / cur.size)


def psi_categorical(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Population stability index over the categories seen on either side."""
    ref = _finite(reference)
    cur = _finite(current)
    if ref.size == 0 or cur.size == 0:
        return 0.0
    cats = np.union1d(ref, cur)
    ref_share = np.array([(ref == c).sum() for c in cats]) / ref.size
    cur_share = np.array([(cur == c).sum() for c in cats]) / cur.size
    return _psi(ref_share, cur_share)


def _psi(ref_share: FloatArray, cur_share: FloatArray) -> float:
    ref_share = np.clip(ref_share, _PSI_EPS, None)
    cur_share = np.clip(cur_share, _PSI_EPS, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _finite(values: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return arr[np.isfinite(arr)]


def standardize(reference: FloatArray, current: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Scale both samples by the reference mean and std (std 0 becomes 1)."""
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    std[std == 0] = 1.0
    return (reference - mean) / std, (current - mean) / std


def mmd_permutation_test(
    x: FloatArray, y: FloatArray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Unbiased MMD^2 with a Gaussian kernel (median heuristic) and its permutation p-value.

    Args:
        x: reference sample, shape ``(m, d)``.
        y: current sample, shape ``(n, d)``.
        n_permutations: label permutations of the null distribution.
        rng: random generator (seeded by the caller for reproducible p-values).

    Returns:
        ``(mmd2, p_value)``.
    """
    z = np.vstack([x, y])
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)
    sigma2 = float(np.median(d2[np.triu_indices_from(d2, k=1)])) or 1.0
    kernel = np.exp(-d2 / (2.0 * sigma2))
    np.fill_diagonal(kernel, 0.0)  # unbiased estimator: drop self-similarity
    m, n = len(x), len(y)
    labels = np.zeros((m + n, n_permutations + 1))
    labels[:m, 0] = 1.0
    for j in range(1, n_permutations + 1):
        labels[rng.permutation(m + n)[:m], j] = 1.0
    k_a = kernel @ labels
    k_xx = np.sum(labels * k_a, axis=0)
    k_xy = np.sum((1.0 - labels) * k_a, axis=0)
    k_yy = kernel.sum() - k_xx - 2.0 * k_xy
    mmd2 = k_xx / (m * (m - 1)) + k_yy / (n * (n - 1)) - 2.0 * k_xy / (m * n)
    p_value = float((mmd2[1:] >= mmd2[0]).mean())
    return float(mmd2[0]), p_value


class PitCusum:
    """Two-sided CUSUM on the normal scores of the stream's reference ranks.

    Each new value ``s`` becomes ``z = Phi^-1(F_ref(s))``: standard normal while
    the stream follows the reference, whatever the score distribution. The
    alarm threshold is calibrated by simulation so that the expected run time
    without drift is ``ert`` values (the same meaning as alibi-detect's ERT).
    """

    def __init__(self, reference: npt.ArrayLike, ert: int, k: float = 0.25, seed: int = 0) -> None:
        from scipy.special import ndtri

        self._ndtri = ndtri
        self.reference = np.sort(_finite(reference))
        self.k = k
        self.ert = ert
        self.threshold = self._calibrate(np.random.default_rng(seed))
        self.reset()

    def reset(self) -> None:
        """Forget the stream seen so far."""
        self.t = 0
        self._up = 0.0
        self._down = 0.0

    def z(self, values: npt.ArrayLike) -> FloatArray:
        """Normal scores of ``values`` against the reference (mid-rank ECDF)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        n = self.reference.size
        lo = np.searchsorted(self.reference, v, side="left")
        hi = np.searchsorted(self.reference, v, side="right")
        u = np.clip((lo + hi) / (2.0 * n), 0.5 / n, 1.0 - 0.5 / n)
        return np.asarray(self._ndtri(u), dtype=np.float64)

    def update(self, values: npt.ArrayLike) -> int | None:
        """Feed values in stream order.

        Returns:
            The 1-based stream position of the first alarm in this call, or None.
        """
        for z in self.z(values):
            self.t += 1
            self._up = max(0.0, self._up + z - self.k)
            self._down = max(0.0, self._down - z - self.k)
            if max(self._up, self._down) > self.threshold:
                return self.t
        return None

    @property
    def statistic(self) -> float:
        """The current CUSUM value (the larger side)."""
        return max(self._up, self._down)

    def _calibrate(self, rng: np.random.Generator, streams: int = 200) -> float:
        length = 4 * self.ert  # censoring beyond 4 ERT biases the estimate by ~2 %
        z = self.z(rng.choice(self.reference, size=streams * length)).reshape(streams, length)
        up = np.zeros(streams)
        down = np.zeros(streams)
        path = np.empty((streams, length))
        for t in range(length):
            up = np.maximum(0.0, up + z[:, t] - self.k)
            down = np.maximum(0.0, down - z[:, t] - self.k)
            path[:, t] = np.maximum(up, down)
        running = np.maximum.accumulate(path, axis=1)
        lo, hi = 0.0, float(running[:, -1].max())
        for _ in range(40):  # bisection on the mean run length
            mid = (lo + hi) / 2.0
            alarms = running > mid
            run = np.where(alarms.any(axis=1), alarms.argmax(axis=1) + 1, length)
            lo, hi = (mid, hi) if run.mean() < self.ert else (lo, mid)
        return hi
