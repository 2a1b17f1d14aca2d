"""The drift detector interface and its two backends, chosen by ``drift.backend``.

    DriftDetector (fit on the reference, then test windows)
    ├── AlibiDetector   alibi-detect: KSDrift / ChiSquareDrift, MMDDrift (pytorch),
    │                   CVMDriftOnline on the score stream   (BSL-licensed)
    └── ScipyDetector   scipy/numpy: KS / chi-squared, PSI, permutation MMD,
                        CUSUM on the score stream            (license-free)

Both report the same result types, apply the same multiple-testing correction
(``drift.stats.correct``) and compute PSI the same way, so reports, metrics
and the retraining loop do not care which backend ran.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from drift.stats import correct, psi_categorical, psi_numeric
from fraudlens.errors import ConfigError, DataError
from fraudlens.settings import DriftSettings

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One column's test: KS for numeric columns, chi-squared for categorical ones."""

    name: str
    kind: Kind
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    psi: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class TabularResult:
    """Per-column tests after the multiple-testing correction."""

    features: list[FeatureDrift]
    correction: str
    threshold: float  # per-test p-value threshold after the correction
    drifted: bool

    @property
    def moved(self) -> list[str]:
        """Names of the columns that moved."""
        return [f.name for f in self.features if f.drifted]


@dataclass(frozen=True, slots=True)
class MmdResult:
    """Multivariate MMD test on a subsample of both sides."""

    statistic: float
    p_value: float
    drifted: bool
    n_reference: int
    n_current: int


@dataclass(frozen=True, slots=True)
class OnlineResult:
    """Online detector replayed over the window's scores in event-time order."""

    drifted: bool
    detected_at: int | None  # 1-based position in the replayed stream
    statistic: float
    threshold: float
    n: int


class DriftDetector(abc.ABC):
    """Fit once on the reference; test any number of windows.

    Args:
        reference: reference rows (feature columns, plus ``score`` if known).
        settings: the ``drift`` settings group.
        categorical: columns tested with chi-squared (default: integer columns
            with at most ``settings.max_categories`` reference values).

    Raises:
        DataError: the reference has no rows.
    """

    name = ""

    def __init__(
        self,
        reference: pd.DataFrame,
        settings: DriftSettings,
        categorical: list[str] | None = None,
    ) -> None:
        if reference.empty:
            raise DataError("the drift reference has no rows")
        self.settings = settings
        self.columns = [str(c) for c in reference.columns]
        self.categorical = list(
            categorical or infer_categorical(reference, settings.max_categories)
        )
        self.reference = reference.astype(np.float64)

    @property
    def numeric(self) -> list[str]:
        """Columns tested with KS, in reference order."""
        return [c for c in self.columns if c not in self.categorical]

    def tabular(self, window: pd.DataFrame) -> TabularResult:
        """Test every column, correct for multiple tests, and add PSI."""
        cur = self._align(window)
        raw = self._column_tests(cur)  # {name: (statistic, p_value)}
        names = self.numeric + self.categorical
        p_values = np.array([raw[n][1] for n in names])
        rejected, threshold = correct(p_values, self.settings.p_value, self.settings.correction)
        features = []
        for name, reject in zip(names, rejected, strict=True):
            kind: Kind = "categorical" if name in self.categorical else "numeric"
            ref_values, cur_values = self.reference[name].to_numpy(), cur[name].to_numpy()
            psi = (
                psi_categorical(ref_values, cur_values)
                if kind == "categorical"
                else psi_numeric(ref_values, cur_values, self.settings.psi_bins)
            )
            features.append(
                FeatureDrift(
                    name=name,
                    kind=kind,
                    test="chi2" if kind == "categorical" else "ks",
                    statistic=float(raw[name][0]),
                    p_value=float(raw[name][1]),
                    psi=psi,
                    drifted=bool(reject) and psi >= self.settings.min_psi,
                )
            )
        features.sort(key=lambda f: self.columns.index(f.name))
        return TabularResult(
            features=features,
            correction=self.settings.correction,
            threshold=threshold,
            drifted=any(f.drifted for f in features),
        )

    def mmd(self, window: pd.DataFrame, seed: int = 0) -> MmdResult:
        """MMD two-sample test on up to ``mmd_subsample`` rows per side (standardized)."""
        rng = np.random.default_rng(seed)
        size = self.settings.mmd_subsample
        ref = _subsample(self.reference[self.columns].to_numpy(), size, rng)
        cur = _subsample(self._align(window)[self.columns].to_numpy(), size, rng)
        statistic, p_value = self._mmd(ref, cur, seed)
        return MmdResult(
            statistic=statistic,
            p_value=p_value,
            drifted=p_value < self.settings.p_value,
            n_reference=len(ref),
            n_current=len(cur),
        )

    def online(self, scores: np.ndarray) -> OnlineResult:
        """Replay scores (oldest first) through the online detector from a fresh state."""
        if "score" not in self.columns:
            raise DataError("the drift reference has no score column for the online detector")
        return self._online(np.asarray(scores, dtype=np.float64).reshape(-1))

    def _align(self, window: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in window.columns]
        if missing:
            raise DataError(f"the window lacks reference columns: {missing[:5]}")
        cur = window[self.columns].astype(np.float64)
        if cur.empty:
            raise DataError("the drift window has no rows")
        return cur

    @abc.abstractmethod
    def _column_tests(self, window: pd.DataFrame) -> dict[str, tuple[float, float]]:
        """Uncorrected ``(statistic, p_value)`` for every column."""

    @abc.abstractmethod
    def _mmd(self, ref: np.ndarray, cur: np.ndarray, seed: int) -> tuple[float, float]:
        """``(statistic, p_value)`` of the MMD test on raw (unscaled) rows."""

    @abc.abstractmethod
    def _online(self, scores: np.ndarray) -> OnlineResult:
        """Run the online detector over the scores from a fresh state."""


def _subsample(rows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if len(rows) <= size:
        return rows
    return rows[rng.choice(len(rows), size=size, replace=False)]


def infer_categorical(frame: pd.DataFrame, max_categories: int) -> list[str]:
    """Integer-valued columns with few distinct values (flags, hour of day)."""
    out = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if name == "score" or values.size == 0:
            continue
        if np.all(values == np.round(values)) and np.unique(values).size <= max_categories:
            out.append(str(name))
    return out


def build_detector(
    reference: pd.DataFrame, settings: DriftSettings, categorical: list[str] | None = None
) -> DriftDetector:
    """The detector of the configured backend, fit on ``reference``.

    Raises:
        ConfigError: the alibi backend is chosen but alibi-detect is not installed.
    """
    if settings.backend == "scipy":
        from drift.backends.scipy import ScipyDetector

        return ScipyDetector(reference, settings, categorical)
    try:
        from drift.backends.alibi import AlibiDetector
    except ImportError as exc:
        raise ConfigError(
            "drift.backend=alibi needs alibi-detect (BSL-licensed); install it or set "
            "FRAUDLENS_DRIFT__BACKEND=scipy"
        ) from exc
    return AlibiDetector(reference, settings, categorical)
