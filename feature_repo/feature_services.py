"""Feature services, one per model version: training and serving ask for these."""

from __future__ import annotations

from feast import FeatureService
from on_demand import card_request_features, terminal_request_features

fraud_model_v1 = FeatureService(
    name="fraud_model_v1",
    features=[card_request_features, terminal_request_features],
    description="Every card and terminal feature of fraudlens.features.registry.",
)
