"""The fraud model as serving uses it: the XGBoost + MLP ensemble in one object.

from fraudlens.model import load_model
model = load_model(settings)            # the "champion" alias
scores = model.predict(features)        # one probability per row
reasons = model.contributions(features) # (n, n_features), log-odds

The registry functions (MLflow) are imported on first use: a Ray Train worker
that only needs ``MlpMember`` does not load MLflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fraudlens.model.ensemble import FraudModel, MlpMember, Reference, Thresholds

if TYPE_CHECKING:
    from fraudlens.model.registry import load_model, load_model_version, mlflow_client

__all__ = [
    "FraudModel",
    "MlpMember",
    "Reference",
    "Thresholds",
    "load_model",
    "load_model_version",
    "mlflow_client",
]

_REGISTRY = ("load_model", "load_model_version", "mlflow_client")


def __getattr__(name: str) -> Any:
    if name not in _REGISTRY:
        raise AttributeError(f"module 'fraudlens.model' has no attribute {name!r}")
    value = getattr(importlib.import_module("fraudlens.model.registry"), name)
    globals()[name] = value  # once: later lookups see a plain attribute
    return value
