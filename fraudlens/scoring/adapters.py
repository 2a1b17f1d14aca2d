"""Bind the scoring protocols to the real model registry (MLflow) and Feast."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.errors import FeatureStoreError, ModelError
from fraudlens.features.context import CONTEXT_FEATURES
from fraudlens.features.delay import check_model_delay, check_registry_delay, uses_matured
from fraudlens.features.extras import describe as describe_extra
from fraudlens.features.extras import is_extra
from fraudlens.features.registry import ALL_FEATURES
from fraudlens.features.state import CardState, TerminalState
from fraudlens.schema import Transaction
from fraudlens.scoring.interfaces import ScoringModel
from fraudlens.scoring.request_features import from_request, request_only_frame
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


class MlflowModels:
    """Loads ``FraudModel`` versions from the MLflow registry (``fraudlens.model``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load_alias(self, alias: str) -> ScoringModel:
        """The version ``alias`` points to (ModelNotFoundError / ModelError)."""
        from fraudlens.model import load_model

        model: ScoringModel = load_model(self.settings, alias)
        return model

    def load_version(self, version: str) -> ScoringModel:
        """One registered version (ModelNotFoundError / ModelError)."""
        from fraudlens.model import load_model_version

        model: ScoringModel = load_model_version(self.settings, version)
        return model

    def alias_version(self, alias: str) -> str | None:
        """The version behind ``alias`` now, or None when the alias is not set."""
        from mlflow.exceptions import MlflowException

        from fraudlens.model import mlflow_client

        try:
            client = mlflow_client(self.settings)
            found = client.get_model_version_by_alias(self.settings.mlflow.model_name, alias)
        except MlflowException as exc:
            if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
                return None
            raise ModelError(f"cannot read alias {alias!r}: {exc}") from exc
        return str(found.version)


class _ServiceCache:
    """A ``FeatureStore`` whose ``get_feature_service`` answers from memory.

    Feast rebuilds the FeatureService from its protobuf (with runtime type
    checks on every field) on each lookup: about 60% of a one-row online read
    here. A feature service is named per model version and never changes, so
    it is looked up once per name; everything else goes to the real store.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._services: dict[str, Any] = {}

    def get_feature_service(self, name: str, allow_cache: bool = False) -> Any:
        if name not in self._services:
            self._services[name] = self._store.get_feature_service(name, allow_cache=allow_cache)
        return self._services[name]

    def forget(self, name: str) -> None:
        self._services.pop(name, None)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)


class FeastFeatures:
    """Feature vectors from the Feast online store (one state read, then the features).

    The store is opened on first use, so building this object never touches
    the network.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Any = None
        self._lock = threading.Lock()
        self._indexes: dict[tuple[str, ...], pd.Index] = {}
        self._descriptions = {
            spec.name: spec.description for spec in (*ALL_FEATURES, *CONTEXT_FEATURES)
        }

    @property
    def store(self) -> Any:
        """The ``feast.FeatureStore`` (opened once)."""
        if self._store is None:
            from fraudlens.features.store import open_store

            with self._lock:
                if self._store is None:
                    try:
                        self._store = _ServiceCache(open_store(self.settings))
                    except Exception as exc:
                        raise FeatureStoreError(f"cannot open the feature store: {exc}") from exc
        return self._store

    def online(self, txns: Sequence[Transaction], model: ScoringModel) -> pd.DataFrame:
        """Full vectors in ``model.feature_names`` order; missing features are NaN.

        Raises:
            FeatureStoreError: the online read failed.
        """
        from fraudlens.features.store import online_feature_columns

        names = model.feature_names
        columns = online_feature_columns(
            self.store,
            txns,
            arrays=True,
            matured_delay_days=self.settings.features.matured_delay_days,
        )
        # One float block in model order; a missing or null (None) feature is NaN.
        values = np.full((len(txns), len(names)), np.nan)
        for j, name in enumerate(names):
            if name in columns:
                values[:, j] = np.asarray(columns[name], dtype=np.float64)
        # A ready column index: building one from the name list was a quarter of this block.
        return pd.DataFrame(values, columns=self._index(names), copy=False)

    def _index(self, names: Sequence[str]) -> pd.Index:
        """The frame's columns for a model's feature names (built once per list)."""
        key = tuple(names)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = pd.Index(key)
        return index

    def request_only(self, txns: Sequence[Transaction], model: ScoringModel) -> pd.DataFrame:
        """Request-only features; the ones needing stored state are NaN."""
        return request_only_frame(txns, model.feature_names)

    def stored_state(
        self, card_token: str, terminal_id: str | None
    ) -> tuple[CardState | None, TerminalState | None]:
        """The card's and terminal's state in the online store now."""
        from fraudlens.features.store import stored_state

        return stored_state(self.store, card_token, terminal_id)

    def validate(self, model: ScoringModel) -> None:
        """Refuse a model whose feature service is unknown or lacks its features,
        or whose matured features were computed with another delay than the store's.

        Raises:
            ModelError: the feature service does not serve ``model.feature_names``;
                the model was trained with another ``features.matured_delay_days``,
                or the Feast registry was applied with another one.
        """
        delay = self.settings.features.matured_delay_days
        metadata = getattr(model, "metadata", None) or {}
        check_model_delay(model.version, metadata, model.feature_names, delay)
        if uses_matured(model.feature_names):
            try:
                check_registry_delay(self.store, delay)
            except FeatureStoreError as exc:
                raise ModelError(f"model {model.version}: {exc}") from exc
        self.store.forget(model.feature_service)  # read it fresh for a new model
        try:
            service = self.store.get_feature_service(model.feature_service, allow_cache=False)
        except Exception as exc:
            raise ModelError(
                f"model {model.version}: feature service {model.feature_service!r} "
                f"is not in the feature store ({exc})"
            ) from exc
        served = {f.name for p in service.feature_view_projections for f in p.features}
        # Context (ctx_*) and passthrough (x_*) columns come from the request, not the store.
        missing = [n for n in model.feature_names if n not in served and not from_request(n)]
        if missing:
            raise ModelError(
                f"model {model.version}: feature service {model.feature_service!r} "
                f"does not serve {missing[:5]}"
            )

    def describe(self, feature: str) -> str | None:
        """The registry's description of a feature."""
        if is_extra(feature):
            return describe_extra(feature)
        return self._descriptions.get(feature)
