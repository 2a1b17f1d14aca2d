"""The model card says when a member is not used and warns about constant features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb

from fraudlens.model import FraudModel, MlpMember, Thresholds
from fraudlens.settings import TrainingSettings
from training.evaluate import Evaluation, evaluate
from training.model_card import constant_features, model_card

FEATURES = ["amount", "merchant_risk", "channel_online"]


def _model(weight: float) -> FraudModel:
    x = np.array([[1.0, 0.0, 0.0], [5.0, 0.0, 0.0]], dtype=np.float32)
    booster = xgb.train({"max_depth": 1}, xgb.DMatrix(x, label=[0, 1]), num_boost_round=1)
    module = torch.nn.Sequential(torch.nn.Linear(3, 1))
    mlp = MlpMember(module, [], np.zeros(3, np.float32), np.ones(3, np.float32))
    return FraudModel(
        booster=booster,
        mlp=mlp,
        weight=weight,
        calibration=(1.0, 0.0),
        feature_names=FEATURES,
        feature_service="test_service",
        thresholds=Thresholds(review=0.5, decline=0.9),
        version="3",
    )


def _evaluation() -> Evaluation:
    frame = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3"],
            "event_time": pd.to_datetime(["2026-06-01", "2026-06-01", "2026-06-02"], utc=True),
            "card_token": ["tok_k1_" + "a" * 32] * 3,
            "amount": [10.0, 20.0, 99.0],
            "is_fraud": [False, False, True],
        }
    )
    return evaluate(
        frame, np.array([0.1, 0.6, 0.95]), Thresholds(review=0.5, decline=0.9), TrainingSettings()
    )


def _card(weight: float, constant: list[str], model: FraudModel | None = None) -> str:
    report = _evaluation()
    return model_card(
        name="fraudlens",
        model=_model(weight) if model is None else model,
        lineage={},
        choices={},
        counts={},
        validation=report,
        test=report,
        constant_columns=constant,
    )


@pytest.mark.parametrize(
    ("weight", "said"),
    [
        (1.0, "MLP weight 0: not used"),
        (0.0, "XGBoost weight 0: not used"),
        (0.7, "XGBoost 0.70, MLP 0.30"),
    ],
)
def test_card_names_the_members_used(weight: float, said: str) -> None:
    card = _card(weight, [])
    assert said in card
    assert ("not used" in card) == (weight in (0.0, 1.0))


def test_card_warns_about_constant_features() -> None:
    train = pd.DataFrame(
        {
            "amount": [1.0, 2.0, 3.0],
            "merchant_risk": [0.0, 0.0, 0.0],
            "channel_online": [np.nan] * 3,
        }
    )
    constant = constant_features(train, FEATURES)
    assert constant == ["merchant_risk", "channel_online"]
    card = _card(0.5, constant)
    assert "2 of 3 features were constant" in card
    assert "`merchant_risk`, `channel_online`" in card
    assert "were constant" not in _card(0.5, [])


def test_card_lists_passthrough_columns_and_warns_when_one_is_constant() -> None:
    names = ["amount", "x_device_score", "x_V1"]
    train = pd.DataFrame({"amount": [1.0, 2.0], "x_device_score": [0.1, 0.9], "x_V1": [0.0, 0.0]})
    constant = constant_features(train, names)
    assert constant == ["x_V1"]
    model = _model(0.5)
    model.feature_names = names
    model.metadata = {"extras": {"device_score": 0.25, "V1": 0.0}}
    card = _card(0.5, constant, model)
    assert "`x_device_score` (default 0.25), `x_V1` (default 0)" in card
    assert "1 of 3 features were constant" in card and "`x_V1`" in card
    assert "Passthrough columns" not in _card(0.5, [])


def test_card_gives_vocabulary_sizes_and_warns_about_constant_one_hot_columns() -> None:
    names = ["amount", "x_device__0", "x_device__1", "x_device__other"]
    model = _model(0.5)
    model.feature_names = names
    vocabulary = {"device": {"default": "desktop", "values": ["mobile", "desktop"]}}
    model.metadata = {"categorical": vocabulary}
    # Training rows hold the raw text column; the model expands it with its vocabulary.
    train = pd.DataFrame({"amount": [1.0, 2.0, 3.0], "x_device": ["mobile", "desktop", "mobile"]})
    inputs = model.inputs(train)
    assert inputs[names[1:]].to_numpy().tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    constant = constant_features(inputs, names)
    assert constant == ["x_device__other"]
    card = _card(0.5, constant, model)
    assert "`x_device`: 2 values + other" in card and "default 'desktop'" in card
    assert "1 of 4 features were constant" in card and "`x_device__other`" in card
    assert "Categorical passthrough" not in _card(0.5, [])


def test_card_states_the_matured_delay_the_model_needs() -> None:
    assert "no `term_matured_*` feature" in _card(0.7, [])
    model = _model(0.7)
    model.feature_names = [*FEATURES[:2], "term_matured_fraud_rate_7d"]
    model.metadata["matured_delay_days"] = 3
    assert "windows ending 3 days before the transaction" in _card(0.7, [], model)
