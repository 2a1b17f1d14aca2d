"""Small, deterministic stand-ins for the model registry and the feature store.

They implement the same protocols as the real adapters, so unit tests (and
anyone trying the API without trained models) exercise the real scoring code.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.errors import FeatureStoreError, ModelError, ModelNotFoundError
from fraudlens.features.context import CONTEXT_FEATURES
from fraudlens.features.registry import ALL_FEATURES
from fraudlens.features.state import CardState, TerminalState
from fraudlens.schema import Transaction
from fraudlens.scoring.interfaces import ScoringModel
from fraudlens.scoring.request_features import from_request, request_only_frame

FAKE_WEIGHTS: dict[str, float] = {
    "card_tx_count_10m": 0.9,
    "card_amount_ratio_30d": 0.35,
    "card_new_terminal_30d": 0.8,
    "txn_is_night": 0.6,
    "txn_amount": 0.002,
}


@dataclass(frozen=True)
class FakeThresholds:
    """Thresholds of a fake model."""

    review: float = 0.5
    decline: float = 0.9


@dataclass
class FakeModel:
    """A logistic model over a few registry features; NaN inputs count as 0."""

    version: str = "1"
    weights: dict[str, float] = field(default_factory=lambda: dict(FAKE_WEIGHTS))
    bias: float = -4.0
    thresholds: FakeThresholds = field(default_factory=FakeThresholds)
    feature_service: str = "fraud_v1"
    fail: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. {"extras": {name: default}}

    @property
    def feature_names(self) -> list[str]:
        """Feature columns, in order."""
        return list(self.weights)

    def _x(self, df: pd.DataFrame) -> np.ndarray:
        if self.fail:
            raise ModelError(f"fake model {self.version} is broken")
        x = df[self.feature_names].to_numpy(dtype=np.float64)
        out: np.ndarray = np.nan_to_num(x, nan=0.0)
        return out

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Probabilities."""
        z = self._x(df) @ np.array(list(self.weights.values())) + self.bias
        out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return out

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for a matrix in ``feature_names`` order."""
        return self.predict(pd.DataFrame(x, columns=self.feature_names))

    def contributions(self, df: pd.DataFrame) -> np.ndarray:
        """Weight times value per feature."""
        out: np.ndarray = self._x(df) * np.array(list(self.weights.values()))
        return out


class FakeLoader:
    """A registry of fake model versions with movable aliases."""

    def __init__(self, models: Sequence[ScoringModel], aliases: dict[str, str]) -> None:
        self.models = {m.version: m for m in models}
        self.aliases = dict(aliases)
        self.loads = 0

    def load_version(self, version: str) -> ScoringModel:
        """Load one version."""
        self.loads += 1
        try:
            return self.models[version]
        except KeyError:
            raise ModelNotFoundError(f"no version {version}") from None

    def load_alias(self, alias: str) -> ScoringModel:
        """Load what an alias points to."""
        if alias not in self.aliases:
            raise ModelNotFoundError(f"no alias {alias}")
        return self.load_version(self.aliases[alias])

    def alias_version(self, alias: str) -> str | None:
        """The version behind an alias."""
        return self.aliases.get(alias)


class FakeFeatures:
    """An in-memory online store: per-card stored features plus request features.

    Attributes:
        stored: card token -> {feature: value} for features needing state.
        cards / terminals: the raw states ``stored_state`` returns, by key.
        down: when True, ``online`` raises like an unreachable store.
        delay_s: sleep this long in ``online`` (to test timeouts).
        cold_delay_s: sleep this long in the first ``online`` call only (a cold store).
    """

    def __init__(self, stored: dict[str, dict[str, float]] | None = None) -> None:
        self.stored = stored or {}
        self.cards: dict[str, CardState] = {}
        self.terminals: dict[str, TerminalState] = {}
        self.down = False
        self.delay_s = 0.0
        self.cold_delay_s = 0.0
        self.calls = 0
        self.descriptions = {
            spec.name: spec.description for spec in (*ALL_FEATURES, *CONTEXT_FEATURES)
        }
        self._lock = threading.Lock()

    def online(self, txns: Sequence[Transaction], model: ScoringModel) -> pd.DataFrame:
        """Request features plus stored ones (0 for a card never seen)."""
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        delay = self.delay_s + (self.cold_delay_s if first else 0.0)
        if delay:
            threading.Event().wait(delay)
        if self.down:
            raise FeatureStoreError("fake online store is down")
        frame = request_only_frame(txns, model.feature_names)
        for i, txn in enumerate(txns):
            stored = self.stored.get(txn.card_token, {})
            for name in model.feature_names:
                if not name.startswith("txn_"):
                    frame.loc[i, name] = stored.get(name, 0.0)
        return frame

    def request_only(self, txns: Sequence[Transaction], model: ScoringModel) -> pd.DataFrame:
        """Request features; the rest NaN."""
        return request_only_frame(txns, model.feature_names)

    def stored_state(
        self, card_token: str, terminal_id: str | None
    ) -> tuple[CardState | None, TerminalState | None]:
        """States set in ``cards`` / ``terminals`` (None when not set)."""
        if self.down:
            raise FeatureStoreError("fake online store is down")
        return self.cards.get(card_token), self.terminals.get(terminal_id or "")

    def validate(self, model: ScoringModel) -> None:
        """Every feature must be a registry feature."""
        unknown = [
            n for n in model.feature_names if n not in self.descriptions and not from_request(n)
        ]
        if unknown:
            raise ModelError(f"features not served by the store: {unknown}")

    def describe(self, feature: str) -> str | None:
        """Registry description."""
        return self.descriptions.get(feature)
