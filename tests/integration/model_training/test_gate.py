"""Promotion gate: a worse challenger is refused, a better one is promoted."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch

from fraudlens.model import FraudModel, MlpMember, mlflow_client
from fraudlens.model.mlp import FraudMLP, fit_scaler
from fraudlens.settings import Settings
from training.dataset import TrainingData, from_frame
from training.ensemble import choose_thresholds, fit_calibration
from training.pipeline import TrainResult
from training.promote import promote
from training.train_xgb import train_xgb_local

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def weak_version(
    trained: TrainResult,
    training_settings: Settings,
    register_variant: Callable[[FraudModel, str, dict[str, str]], str],
) -> str:
    """A model trained on shuffled labels (no signal), registered without Ray."""
    split, names, cfg = trained.split, trained.model.feature_names, training_settings.training
    shuffled = split.train.assign(
        is_fraud=np.random.default_rng(0).permutation(split.train["is_fraud"].to_numpy())
    )
    booster = train_xgb_local(shuffled, split.valid, names, cfg, pos_weight=1.0, nthread=1)
    torch.manual_seed(0)
    mean, std = fit_scaler(split.train[names].to_numpy(np.float32))
    model = FraudModel(
        booster,
        MlpMember(FraudMLP(len(names), [8]), [8], mean, std),
        1.0,
        (1.0, 0.0),
        names,
        trained.model.feature_service,
        trained.model.thresholds,
    )
    y = split.valid["is_fraud"].to_numpy(np.int8)
    margin, _ = model.member_margins(split.valid[names].to_numpy(np.float32))
    model.calibration = fit_calibration(margin, y)
    model.thresholds = choose_thresholds(model.predict(split.valid), y, cfg)
    return register_variant(model, "weak", {"labels": "shuffled"})


@pytest.fixture(scope="module")
def holdout(history: pd.DataFrame, trained: TrainResult) -> TrainingData:
    """The trained model's test period: newer than what either model learned from."""
    bounds = trained.split.bounds
    return from_frame(
        history, trained.model.feature_names, "fraud_model_v1", bounds.test_start, bounds.end
    )


def _aliases(settings: Settings) -> dict[str, str]:
    client = mlflow_client(settings)
    return {
        k: str(v)
        for k, v in client.get_registered_model(settings.mlflow.model_name).aliases.items()
    }


def test_a_worse_challenger_is_refused(
    trained: TrainResult, training_settings: Settings, weak_version: str, holdout: TrainingData
) -> None:
    client = mlflow_client(training_settings)
    name = training_settings.mlflow.model_name
    client.set_registered_model_alias(name, "champion", trained.version)
    decision = promote(training_settings, weak_version, holdout=holdout)
    assert not decision.promoted
    assert decision.champion == trained.version and decision.rows == len(holdout.frame)
    assert (
        decision.challenger_metrics["average_precision"]
        < decision.champion_metrics["average_precision"]
    )
    aliases = _aliases(training_settings)
    assert aliases["champion"] == trained.version
    assert aliases["challenger"] == weak_version
    tags = client.get_model_version(name, weak_version).tags
    assert tags["fraudlens.gate_decision"] == "refused"
    assert "does not beat" in tags["fraudlens.gate_reasons"]


def test_a_better_challenger_is_promoted(
    trained: TrainResult, training_settings: Settings, weak_version: str, holdout: TrainingData
) -> None:
    client = mlflow_client(training_settings)
    name = training_settings.mlflow.model_name
    client.set_registered_model_alias(name, "champion", weak_version)
    decision = promote(training_settings, trained.version, holdout=holdout)
    assert decision.promoted, decision.reasons
    aliases = _aliases(training_settings)
    assert aliases["champion"] == trained.version
    assert aliases["previous_champion"] == weak_version
    assert aliases.get("challenger") != trained.version
    runs = mlflow_client(training_settings).search_runs(
        [mlflow_client(training_settings).get_experiment_by_name("fraudlens").experiment_id],
        filter_string="tags.`fraudlens.gate_decision` = 'promoted'",
    )
    assert runs and "challenger_average_precision" in runs[0].data.metrics
