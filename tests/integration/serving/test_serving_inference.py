"""The serving path scores exactly as the registered MLflow pyfunc does.

Serving loads the ensemble folder of a model version and calls it on a
float32 matrix (XGBoost ``inplace_predict``, the MLP under
``torch.inference_mode``); ``mlflow.pyfunc.load_model`` on the same version is
the reference. Rows: every simulated transaction's features plus edge rows
(request-only vectors with the stored features missing, random NaNs, zero
amounts, all zeros, all missing, huge values and the -1 sentinels).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from serving_data import Models, transactions_of

from benchmarks.bench_inference import redis_round_trips
from fraudlens.features.registry import FEATURE_NAMES
from fraudlens.model import load_model_version
from fraudlens.scoring.adapters import FeastFeatures, MlflowModels
from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.request_features import request_only_frame
from fraudlens.scoring.scorer import Scorer
from fraudlens.scoring.service import ScoringService
from fraudlens.settings import Settings
from fraudlens.simulator import Simulation
from training.local_features import compute_features

pytestmark = pytest.mark.integration

TOLERANCE = 1e-6


def edge_rows(features: pd.DataFrame, sim: Simulation) -> pd.DataFrame:
    """Rows a live system also scores: degraded, partly missing, zero and extreme."""
    rng = np.random.default_rng(7)
    names = list(FEATURE_NAMES)
    sample = features.sample(500, random_state=7).reset_index(drop=True)
    holes = sample.mask(rng.random(sample.shape) < 0.2)  # a fifth of the cells missing
    zero_amount = sample.copy()
    zero_amount["txn_amount"] = 0.0
    degraded = request_only_frame(transactions_of(sim.transactions.head(500)), names)
    extremes = pd.DataFrame(
        [[0.0] * len(names), [np.nan] * len(names), [-1.0] * len(names), [1e9] * len(names)],
        columns=names,
    )
    return pd.concat([holes, zero_amount, degraded[names], extremes], ignore_index=True)


@pytest.fixture(scope="module")
def rows(serving_sim: Simulation) -> pd.DataFrame:
    features = compute_features(serving_sim.transactions)[list(FEATURE_NAMES)]
    return pd.concat([features, edge_rows(features, serving_sim)], ignore_index=True)


def test_serving_scores_equal_the_mlflow_pyfunc(
    serving_settings: Settings, models: Models, rows: pd.DataFrame
) -> None:
    name = serving_settings.mlflow.model_name
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{models.champion}")
    model = load_model_version(serving_settings, models.champion)
    assert len(rows) > 3000 and rows.isna().any(axis=1).sum() > 500
    assert (rows["txn_amount"] == 0).sum() >= 500

    expected = np.asarray(pyfunc.predict(rows.astype("float64")), dtype=np.float64)
    native = model.predict_array(rows.to_numpy(dtype=np.float32))
    one_by_one = np.concatenate(
        [model.predict_array(rows.iloc[[i]].to_numpy(dtype=np.float32)) for i in range(300)]
    )

    assert np.isfinite(expected).all() and expected.std() > 0
    np.testing.assert_allclose(native, expected, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(one_by_one, expected[:300], rtol=0, atol=TOLERANCE)


@pytest.fixture(scope="module")
def service(serving_settings: Settings, models: Models) -> Iterator[ScoringService]:
    """A warm scoring service on the champion, reading the real Redis through Feast."""
    features = FeastFeatures(serving_settings)
    # A generous read budget: this module checks scores, not the degraded mode.
    scorer = Scorer(features, feature_timeout_s=30.0)
    service = ScoringService(MlflowModels(serving_settings), features, scorer=scorer)
    service.apply_config(ScoringConfig(model_version=models.champion))
    service.warm_up()
    yield service
    service.close()


def test_scoring_service_scores_equal_the_pyfunc_on_its_vectors(
    serving_settings: Settings, models: Models, serving_sim: Simulation, service: ScoringService
) -> None:
    results = service.score(transactions_of(serving_sim.transactions.tail(512)))
    name = serving_settings.mlflow.model_name
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{models.champion}")
    vectors = pd.DataFrame([r.features for r in results], dtype="float64")
    expected = np.asarray(pyfunc.predict(vectors), dtype=np.float64)

    assert not any(r.degraded for r in results)
    scores = np.array([r.score for r in results], dtype=np.float64)
    np.testing.assert_allclose(scores, expected, rtol=0, atol=TOLERANCE)
    flagged = [r for r in results if r.decision != "approve"]
    assert flagged, "the sample has flagged transactions"
    assert all(any(x.kind == "model" for x in r.reasons) for r in flagged)
    approved = [r for r in results if r.decision == "approve"]
    assert all(not any(x.kind == "model" for x in r.reasons) for r in approved)


def test_a_batch_is_one_online_store_round_trip_and_scores_as_single_rows(
    serving_sim: Simulation, service: ScoringService
) -> None:
    txns = transactions_of(serving_sim.transactions.tail(64))
    singles = [service.scorer.score([t], service.active).results[0] for t in txns]
    batch: list[Any] = []
    # keys read in each Redis round trip (the reader's script call, or a pipeline)
    round_trips = redis_round_trips(
        lambda: batch.extend(service.scorer.score(txns, service.active).results)
    )

    keys = len({t.card_token for t in txns}) + len({t.terminal_id for t in txns})
    assert round_trips == [keys]  # every card and terminal of the batch, each once
    assert keys < 2 * len(txns)  # the sample repeats cards or terminals
    assert [r.score for r in batch] == pytest.approx([r.score for r in singles], abs=TOLERANCE)
    assert [r.decision for r in batch] == [r.decision for r in singles]
