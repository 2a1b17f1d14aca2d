"""Training: dataset -> time split -> Ray Train (XGBoost, MLP) -> ensemble -> evaluate
-> MLflow registry -> promotion gate.

The CLI and the demo call these typed functions:

    result = train(settings, start, end)          # registers a version, alias "challenger"
    decision = promote(settings, result.version)  # the gate; "champion" if it wins
    report = evaluate_model(settings, start, end) # metrics of the champion on a period
"""

from __future__ import annotations

from training.evaluate import Evaluation
from training.pipeline import TrainResult, evaluate_model, train
from training.promote import GateDecision, promote

__all__ = ["Evaluation", "GateDecision", "TrainResult", "evaluate_model", "promote", "train"]
