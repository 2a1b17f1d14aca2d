"""The fraud model as serving uses it: the XGBoost + MLP ensemble in one object.

from fraudlens.model import load_model
model = load_model(settings)            # the "champion" alias
scores = model.predict(features)        # one probability per row
reasons = model.contributions(features) # (n, n_features), log-odds
"""

from __future__ import annotations

from fraudlens.model.ensemble import FraudModel, MlpMember, Reference, Thresholds
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
