"""What the scoring core needs from the model and the feature store.

The real implementations live in ``fraudlens.model`` and ``fraudlens.features``;
the adapters in ``fraudlens.scoring.adapters`` bind them to these protocols, and
unit tests use small fakes behind the same protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from fraudlens.features.state import CardState, TerminalState
from fraudlens.schema import Transaction


class ThresholdsLike(Protocol):
    """Decision thresholds stored with a model version."""

    @property
    def review(self) -> float: ...

    @property
    def decline(self) -> float: ...


@runtime_checkable
class ScoringModel(Protocol):
    """A loaded model version (the champion or challenger ensemble)."""

    @property
    def version(self) -> str: ...

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def feature_service(self) -> str: ...

    @property
    def thresholds(self) -> ThresholdsLike: ...

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Fraud probabilities, one per row of ``df`` (columns: ``feature_names``)."""
        ...

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """The same probabilities for a float32 matrix in ``feature_names`` order (hot path)."""
        ...

    def contributions(self, df: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions to the score, shape ``(rows, len(feature_names))``."""
        ...


class ModelLoader(Protocol):
    """Loads model versions from the registry."""

    def load_alias(self, alias: str) -> ScoringModel:
        """Load the version an alias points to (ModelNotFoundError / ModelError)."""
        ...

    def load_version(self, version: str) -> ScoringModel:
        """Load one registered version (ModelNotFoundError / ModelError)."""
        ...

    def alias_version(self, alias: str) -> str | None:
        """The version an alias points to now, without loading it (None: unknown)."""
        ...


class FeatureSource(Protocol):
    """Builds feature vectors for request transactions."""

    def online(self, txns: Sequence[Transaction], model: ScoringModel) -> pd.DataFrame:
        """Full vectors (stored state + on-demand features), columns ``model.feature_names``.

        Raises:
            FeatureStoreError: the online store is unreachable or the read failed.
        """
        ...

    def request_only(self, txns: Sequence[Transaction], model: ScoringModel) -> pd.DataFrame:
        """Vectors from the request alone; features that need stored state are NaN."""
        ...

    def stored_state(
        self, card_token: str, terminal_id: str | None
    ) -> tuple[CardState | None, TerminalState | None]:
        """What the store holds now of a card and a terminal (the analyst's case page).

        Raises:
            FeatureStoreError: the online store is unreachable or the read failed.
        """
        ...

    def validate(self, model: ScoringModel) -> None:
        """Check the store serves the model's feature service with its columns.

        Raises:
            ModelError: the feature service is unknown or its columns differ.
        """
        ...

    def describe(self, feature: str) -> str | None:
        """Plain-language description of a feature from the registry, if any."""
        ...
