"""Training: dataset -> time split -> Ray Train (XGBoost, MLP) -> ensemble -> evaluate
-> MLflow registry -> promotion gate.

The CLI and the demo call these typed functions:

    result = train(settings, start, end)          # registers a version, alias "challenger"
    decision = promote(settings, result.version)  # the gate; "champion" if it wins
    report = evaluate_model(settings, start, end) # metrics of the champion on a period

The names are imported on first use: every Ray Train worker imports its train
loop's module (``training.train_xgb`` / ``training.train_torch``) and with it
this package; importing the whole pipeline here (MLflow, scikit-learn,
matplotlib) cost each worker of each run seconds of start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.evaluate import Evaluation
    from training.pipeline import TrainResult, evaluate_model, train
    from training.promote import GateDecision, promote

__all__ = ["Evaluation", "GateDecision", "TrainResult", "evaluate_model", "promote", "train"]

_HOME = {
    "Evaluation": "training.evaluate",
    "GateDecision": "training.promote",
    "TrainResult": "training.pipeline",
    "evaluate_model": "training.pipeline",
    "promote": "training.promote",
    "train": "training.pipeline",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # once: later lookups (and monkeypatch) see a plain attribute
    return value
