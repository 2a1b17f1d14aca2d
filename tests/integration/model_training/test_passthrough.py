"""Passthrough columns, numeric and categorical, reach the served vector and carry their signal.

A simulated history is imported with two extra columns that split the frauds
between them: ``device_score`` (numeric) is above 0.9 for half the frauds and
below 0.85 everywhere else; ``device_type`` (text) says ``emulator`` for the
other half of the frauds, and ``mobile``, ``desktop`` or ``tablet`` elsewhere
(a handful say ``kiosk``, too rare for its own column, and some are empty).
Only a model that learnt both columns separates the frauds. The import writes
``x_device_score`` and ``x_device_type``; training reads them from the history
(``load_training_data``, in-memory features), learns the text column's
vocabulary on the training rows and trains with Ray Train. The real scoring
service (MLflow model, Feast online store filled from the same history) then
scores legitimate transactions with and without ``extras``: the served vector
holds the values sent (or the declared defaults, ``other`` for an unseen
text), the score follows either fraud value, and the reasons name the text one.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudlens.features.fold import StateFolder
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.store import open_store
from fraudlens.features.stream import to_event
from fraudlens.importer import ColumnMapping, import_transactions
from fraudlens.schema import TRANSACTION_FIELDS, Label, Transaction
from fraudlens.scoring.adapters import FeastFeatures, MlflowModels
from fraudlens.scoring.config import ScoringConfig, ThresholdOverride
from fraudlens.scoring.result import ScoreResult
from fraudlens.scoring.scorer import Scorer
from fraudlens.scoring.service import ScoringService
from fraudlens.security import KeyRing, Tokenizer
from fraudlens.settings import FeastSettings, Settings
from fraudlens.simulator import SimulatorConfig, label_records, simulate, transaction_records
from training.dataset import load_training_data
from training.pipeline import train

pytestmark = pytest.mark.integration

START, END = "2026-06-01", "2026-07-06"
SCORE_DEFAULT = 0.0
TYPE_DEFAULT = "mobile"
COLUMNS = [f"x_device_type__{i}" for i in range(4)] + ["x_device_type__other"]


def _import_file(tmp_path: Path) -> tuple[Path, ColumnMapping]:
    """A simulated history as the user's Parquet, two columns each giving half the frauds away."""
    config = SimulatorConfig(
        customers=350, terminals=100, days=35, start_date=date(2026, 6, 1), fraud_rate=0.03, seed=8
    )
    tx = simulate(config, Tokenizer("test", {"test": b"k" * 32})).transactions
    rng = np.random.default_rng(3)
    fraud = tx["is_fraud"].to_numpy(bool)
    by_score = fraud & (rng.random(len(tx)) < 0.5)
    by_type = fraud & ~by_score
    score = np.where(by_score, rng.uniform(0.91, 1.0, len(tx)), rng.uniform(0.0, 0.85, len(tx)))
    device = rng.choice(np.array(["mobile", "desktop", "tablet"], dtype=object), len(tx))
    device[by_type] = "emulator"
    legit = np.flatnonzero(~fraud)
    device[legit[:4]] = "kiosk"  # rare: no column of its own, it counts as other
    device[legit[4:40]] = None  # empty cells: the declared default
    fields = [
        f for f in TRANSACTION_FIELDS if f not in {"schema_version", "device_id", "ip_address"}
    ]
    source = tx[[*fields, "is_fraud", "label_time"]].assign(
        device_score=score.round(4), device_type=device
    )
    path = tmp_path / "history.parquet"
    source.to_parquet(path, index=False)
    mapping = ColumnMapping.model_validate(
        {
            "columns": {f: f for f in [*fields, "is_fraud", "label_time"]},
            "extras": {
                "numeric": {"device_score": SCORE_DEFAULT},
                "categorical": {"device_type": TYPE_DEFAULT},
            },
        }
    )
    return path, mapping


def _fill_online_store(settings: Settings, transactions: pd.DataFrame) -> None:
    """Register the feature repo, fold the imported history into entity state, write it to Feast."""
    apply(settings)
    labels = transactions.loc[transactions["is_fraud"]].assign(source="chargeback")
    events = [to_event(Transaction.model_validate(r)) for r in transaction_records(transactions)]
    events += [
        to_event(Label.model_validate(r))
        for r in label_records(labels[["transaction_id", "is_fraud", "label_time", "source"]])
    ]
    folder = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6)
    FeastSink(open_store(settings), offline_path(settings), "test").write(folder.apply(events))


def test_passthrough_columns_carry_their_signal_to_the_served_vector(
    ray_cluster: None, training_settings: Settings, tmp_path: Path
) -> None:
    # Smaller than the session's model: one class weighting, fewer rounds and epochs.
    cfg = training_settings.training.model_copy(
        update={
            "features_source": "memory",
            "imbalance_powers": [1.0],
            "xgb_rounds": 60,
            "mlp_epochs": 1,
            "ray_workers": 1,
            "categorical_min_count": 20,
        }
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        training=cfg,
        feast=FeastSettings(project=f"fl_extras_{os.getpid()}"),
    )
    source, mapping = _import_file(tmp_path)
    imported = import_transactions(
        source,
        mapping,
        settings.data_dir / "import",
        Tokenizer("test", {"test": b"k" * 32}),
        keyring=KeyRing("e1", {"e1": b"e" * 32}),
    )
    assert imported.rejected == 0 and imported.frauds > 50
    assert set(imported.extra_columns) == {"x_device_score", "x_device_type"}

    data = load_training_data(settings, START, END)
    assert data.extras == {"device_score": SCORE_DEFAULT}
    assert data.categorical == {"device_type": TYPE_DEFAULT}
    assert data.feature_names[-1] == "x_device_score"
    assert "x_device_type" in data.frame.columns
    assert not any(n.startswith("x_device_type") for n in data.feature_names)
    result = train(settings, START, END, data=data)
    model = result.model
    assert "x_device_score" in model.feature_names
    assert model.metadata["extras"] == {"device_score": SCORE_DEFAULT}
    vocabulary = model.metadata["categorical"]["device_type"]
    assert vocabulary["default"] == TYPE_DEFAULT
    assert sorted(vocabulary["values"]) == ["desktop", "emulator", "mobile", "tablet"]
    assert model.feature_names[-5:] == COLUMNS
    assert "`x_device_score` (default 0)" in result.card
    assert "`x_device_type`: 4 values + other" in result.card
    # Each column gives away half the frauds: the model must have learnt both.
    assert result.test.metrics["average_precision"] > 0.95

    history = pd.read_parquet(imported.transactions_path)
    _fill_online_store(settings, history)
    features = FeastFeatures(settings)
    service = ScoringService(
        MlflowModels(settings), features, scorer=Scorer(features, feature_timeout_s=30.0)
    )
    try:
        # Reasons come with review/decline decisions; the model's own thresholds come
        # from its validation frauds, so the test sets them: above 0.5 is a review.
        limits = ThresholdOverride(review=0.5, decline=0.999)
        config = ScoringConfig(model_version=result.version, thresholds=limits, shadow=False)
        service.apply_config(config)
        assert service.warm_up() == "ok"
        legit = history.loc[~history["is_fraud"] & (history["event_time"] >= "2026-07-01")]
        base = [Transaction.model_validate(r) for r in transaction_records(legit.head(20))]

        def send(extras: dict[str, float | str] | None) -> list[Transaction]:
            return [t.model_copy(update={"extras": extras}) for t in base]

        high_score = service.score(send({"device_score": 0.97, "unknown_field": 5.0}))
        low_score = service.score(send({"device_score": 0.05}))
        emulator = service.score(send({"device_type": "emulator", "unknown_field": "x"}))
        mobile = service.score(send({"device_type": "mobile"}))
        unseen = service.score(send({"device_type": "smart fridge"}))
        absent = service.score(send(None))
    finally:
        service.close()

    def slot(value: str) -> str:
        return str(COLUMNS[vocabulary["values"].index(value)])

    for results, score, hot in (
        (high_score, 0.97, slot(TYPE_DEFAULT)),
        (low_score, 0.05, slot(TYPE_DEFAULT)),
        (emulator, SCORE_DEFAULT, slot("emulator")),
        (mobile, SCORE_DEFAULT, slot("mobile")),
        (unseen, SCORE_DEFAULT, "x_device_type__other"),
        (absent, SCORE_DEFAULT, slot(TYPE_DEFAULT)),
    ):
        assert not any(r.degraded for r in results)
        assert [r.features["x_device_score"] for r in results] == [score] * len(base)
        assert all(
            {c: r.features[c] for c in COLUMNS} == {c: float(c == hot) for c in COLUMNS}
            for r in results
        )
        assert "x_unknown_field" not in results[0].features

    def scores(results: list[ScoreResult]) -> np.ndarray:
        return np.array([r.score for r in results], dtype=np.float64)

    assert (scores(high_score) > scores(low_score)).all()
    assert scores(high_score).min() > 0.5 > scores(low_score).max()
    assert scores(emulator).min() > 0.5 > scores(mobile).max()
    assert [r.score for r in absent] == [r.score for r in mobile]
    texts = [reason.text for r in emulator for reason in r.reasons if reason.kind == "model"]
    assert "device_type is 'emulator'" in texts
