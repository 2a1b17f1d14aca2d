"""FraudModel (the wrapper serving uses) on a small model trained in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudlens.errors import ModelError
from fraudlens.model import FraudModel, MlpMember, Reference, Thresholds
from fraudlens.model.mlp import fit_scaler, scale
from fraudlens.settings import TrainingSettings
from training.ensemble import fit_calibration
from training.train_torch import fit_mlp
from training.train_xgb import train_xgb_local

FEATURES = ["amount", "night", "new_terminal", "count_1d"]


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "night": rng.random(n) < 0.1,
            "new_terminal": rng.random(n) < 0.3,
            "count_1d": rng.poisson(1.5, n),
        }
    ).astype(float)
    logit = -6 + 0.8 * np.log(frame["amount"]) + 1.5 * frame["night"] + frame["new_terminal"]
    frame["is_fraud"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame


@pytest.fixture(scope="module")
def model() -> FraudModel:
    cfg = TrainingSettings(xgb_rounds=60, xgb_max_depth=3, mlp_epochs=2, mlp_hidden=[8])
    train, valid = _data(4000, 1), _data(2000, 2)
    booster = train_xgb_local(train, valid, FEATURES, cfg, pos_weight=1.0, nthread=1)
    mean, std = fit_scaler(train[FEATURES].to_numpy(np.float32))
    config = {"hidden": cfg.mlp_hidden, "epochs": 2, "batch_size": 256, "lr": 1e-2, "seed": 7}
    x = scale(train[FEATURES].to_numpy(np.float32), mean, std)
    module = fit_mlp(x, train["is_fraud"].to_numpy(np.float32), config, pos_weight=1.0)
    model = FraudModel(
        booster=booster,
        mlp=MlpMember(module, [8], mean, std),
        weight=0.7,
        calibration=(1.0, 0.0),
        feature_names=FEATURES,
        feature_service="test_service",
        thresholds=Thresholds(review=0.3, decline=0.8),
    )
    xv = valid[FEATURES].to_numpy(np.float32)
    xgb_m, mlp_l = model.member_margins(xv)
    model.calibration = fit_calibration(0.7 * xgb_m + 0.3 * mlp_l, valid["is_fraud"].to_numpy())
    model.reference = Reference(valid[FEATURES].head(50), model.predict(valid.head(50)))
    return model


def test_predict_is_a_deterministic_probability_per_row(model: FraudModel) -> None:
    frame = _data(300, 3)
    scores = model.predict(frame)
    assert scores.shape == (300,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.array_equal(scores, model.predict(frame))
    # Column order and extra columns do not matter; rows score alone as in a batch.
    shuffled = frame[["count_1d", "is_fraud", *reversed(FEATURES[:3])]]
    assert np.array_equal(scores, model.predict(shuffled))
    assert model.predict(frame.iloc[[5]])[0] == pytest.approx(scores[5], abs=1e-6)


def test_the_serving_path_scores_as_the_reference(model: FraudModel) -> None:
    frame = _data(2000, 5)[FEATURES]
    frame.loc[:99, "amount"] = 0.0
    frame = frame.mask(np.random.default_rng(5).random(frame.shape) < 0.1)  # NaN = missing
    x = frame.to_numpy(np.float32)
    expected = model.predict(frame)
    assert np.isnan(x).any(axis=1).sum() > 500
    np.testing.assert_allclose(model.predict_array(x), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.predict_array(x[7:8]), expected[7:8], rtol=0, atol=1e-6)


def test_contributions_have_one_column_per_feature(model: FraudModel) -> None:
    frame = _data(50, 4)
    contrib = model.contributions(frame)
    assert contrib.shape == (50, len(FEATURES))
    assert np.isfinite(contrib).all()
    # The amount drives this synthetic fraud: large amounts push the score up.
    big = frame["amount"] > frame["amount"].quantile(0.9)
    assert contrib[big.to_numpy(), 0].mean() > contrib[~big.to_numpy(), 0].mean()


def test_missing_values_still_score(model: FraudModel) -> None:
    frame = _data(5, 5)
    frame.loc[0, "count_1d"] = np.nan
    assert np.isfinite(model.predict(frame)).all()


def test_a_missing_feature_column_is_a_model_error(model: FraudModel) -> None:
    with pytest.raises(ModelError, match="count_1d"):
        model.predict(_data(5, 6).drop(columns="count_1d"))


def test_save_and_load_give_the_same_scores(model: FraudModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    loaded = FraudModel.load(tmp_path / "m", version="3")
    frame = _data(200, 7)
    assert loaded.version == "3"
    assert loaded.feature_names == FEATURES and loaded.feature_service == "test_service"
    assert loaded.thresholds == model.thresholds
    assert np.array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.reference is not None and len(loaded.reference.features) == 50
    assert list(loaded.decide(np.array([0.1, 0.5, 0.9]))) == ["approve", "review", "decline"]


def test_loading_a_broken_folder_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        FraudModel.load(tmp_path)
