"""End to end: Ray Train (XGBoost + MLP) -> MLflow -> load by alias -> same scores."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from fraudlens.errors import ModelError, ModelNotFoundError
from fraudlens.model import load_model, load_model_version, mlflow_client
from fraudlens.settings import Settings
from training.dataset import TrainingData, from_frame
from training.pipeline import TrainResult, evaluate_model
from training.promote import promote

pytestmark = pytest.mark.integration


def test_training_registers_a_challenger_with_lineage(
    training_run: tuple[TrainResult, dict[str, str]], training_settings: Settings
) -> None:
    trained, aliases = training_run
    assert aliases == {"challenger": trained.version}
    assert trained.data_source == "frame" and trained.data_rows > 0
    client = mlflow_client(training_settings)
    name = training_settings.mlflow.model_name
    tags = client.get_model_version(name, trained.version).tags
    for key in ("feature_service", "data_start", "data_end", "data_fingerprint", "code_version"):
        assert tags[f"fraudlens.{key}"], key
    run = client.get_run(trained.run_id)
    assert run.data.params["ray_cpus_per_worker"] == "0.5"
    assert math.isfinite(run.data.metrics["test_average_precision"])
    artifacts = {a.path for a in client.list_artifacts(trained.run_id, "plots")}
    assert artifacts == {
        f"plots/{p}.png"
        for p in ("pr_curve", "score_distribution", "calibration", "feature_importance")
    }
    card = client.get_model_version(name, trained.version).description
    assert card.startswith(f"# Model card: fraudlens version {trained.version}")
    # Both members went through Ray Train (their checkpoints are on disk).
    runs = {p.name.split("-")[0] for p in (training_settings.data_dir / "ray_results").iterdir()}
    assert {"xgb", "mlp"} <= runs


def test_the_model_learns_fraud(trained: TrainResult) -> None:
    m = trained.test.metrics
    assert m["roc_auc"] > 0.85
    assert m["average_precision"] > 5 * m["fraud_rate"]
    assert not trained.test.scenarios.empty
    assert trained.model.thresholds.review <= trained.model.thresholds.decline


def test_loaded_by_alias_it_scores_the_same_rows_the_same(
    trained: TrainResult, training_settings: Settings
) -> None:
    promote(training_settings, trained.version)
    rows = trained.split.test
    expected = trained.model.predict(rows)
    champion = load_model(training_settings, "champion")
    assert champion.version == trained.version
    assert np.array_equal(champion.predict(rows), expected)
    assert champion.feature_names == trained.model.feature_names
    pyfunc = mlflow.pyfunc.load_model(f"models:/{training_settings.mlflow.model_name}@champion")
    inputs = rows[trained.model.feature_names].astype("float64")
    assert np.array_equal(np.asarray(pyfunc.predict(inputs)), expected)


def test_unknown_alias_and_version_are_not_found(training_settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError):
        load_model(training_settings, "no-such-alias")
    with pytest.raises(ModelNotFoundError):
        load_model_version(training_settings, "999")


def test_a_model_expecting_other_features_is_refused(
    trained: TrainResult, training_settings: Settings
) -> None:
    names = trained.model.feature_names
    with pytest.raises(ModelError, match="expects other features"):
        load_model_version(training_settings, trained.version, expected_features=names[:-1])
    ok = load_model_version(training_settings, trained.version, expected_features=names[::-1])
    assert ok.version == trained.version


def test_evaluating_a_registered_version_reproduces_its_test_figures(
    trained: TrainResult, training_settings: Settings, training_data: TrainingData, tmp_path: Path
) -> None:
    bounds = trained.split.bounds
    test = from_frame(
        training_data.frame,
        training_data.feature_names,
        "fraud_model_v1",
        bounds.test_start,
        bounds.end,
    )
    scores_path = tmp_path / "scores.parquet"
    report = evaluate_model(
        training_settings,
        bounds.test_start,
        bounds.end,
        version=trained.version,
        data=test,
        scores_path=scores_path,
    )
    assert pd.Series(report.metrics).equals(pd.Series(trained.test.metrics))  # NaN-safe
    rows = pd.read_parquet(scores_path)
    assert rows["transaction_id"].tolist() == test.frame["transaction_id"].tolist()
    assert int(rows["is_fraud"].sum()) == report.metrics["frauds"]
    assert int((rows["score"] >= trained.model.thresholds.review).sum()) == report.metrics["alerts"]
    assert set(rows["decision"]) <= {"approve", "review", "decline"}
