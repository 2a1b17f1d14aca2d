"""``fraudlens train`` and ``fraudlens evaluate`` as typed functions.

train: training data -> time split with a label-delay gap -> Ray Train
(XGBoost, MLP) -> ensemble chosen on validation -> evaluation on test ->
MLflow run + registered version (alias ``challenger``) + model card.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fraudlens.features import categories
from fraudlens.features.delay import DELAY_KEY
from fraudlens.features.extras import METADATA_KEY as EXTRAS_KEY
from fraudlens.history import find_history
from fraudlens.model import FraudModel, Reference, load_model, load_model_version, mlflow_client
from fraudlens.settings import Settings, TrainingSettings
from training import plots
from training.dataset import TrainingData, load_training_data
from training.ensemble import Choice
from training.evaluate import Evaluation, evaluate
from training.fit import fit_ensemble
from training.lineage import code_version
from training.model_card import constant_features, model_card
from training.register import Registered, attach_card, register
from training.scores import check_scores_path, score_table, write_scores
from training.split import SplitFrames, split_bounds, time_split, with_data_label_delay

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced (``data_source``: feast, memory or frame)."""

    version: str
    run_id: str
    model: FraudModel
    split: SplitFrames
    validation: Evaluation
    test: Evaluation
    card: str
    seconds: dict[str, float] = field(default_factory=dict)
    data_source: str = ""
    data_rows: int = 0


def train(
    settings: Settings,
    start: datetime | date | str,
    end: datetime | date | str,
    *,
    data: TrainingData | None = None,
) -> TrainResult:
    """Train, evaluate and register a new model version on ``[start, end)``.

    Args:
        settings: FraudLens settings (``training``, ``mlflow`` groups).
        start: first day of history to use.
        end: end of history (exclusive); the test period ends here.
        data: an already built training set (tests); default: Feast.

    Raises:
        DataError: the data or the time range is unusable.
        ModelError: training or registration failed.
    """
    cfg = settings.training
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    if data is None:
        logger.info("train 1/5: loading history and features (%s)", cfg.features_source)
        history = find_history(settings.data_dir, cfg.history_dir)
        cfg = with_data_label_delay(cfg, history.label_delay_days)
        data = load_training_data(settings, start, end, cfg.feature_service, folder=history.folder)
    split = time_split(data.frame, split_bounds(start, end, cfg), cfg)
    features = data.feature_names
    clock["data"] = time.perf_counter() - t0
    logger.info(
        "train 2/5: %d rows, %d features in %.0f s; XGBoost with Ray Train",
        len(data.frame),
        len(features),
        clock["data"],
    )

    if cfg.search_trials:
        cfg = _search(settings, data, split, cfg, clock)
    logger.info("train 3/5: XGBoost then MLP with Ray Train")
    fitted = fit_ensemble(
        split.train,
        split.valid,
        features,
        data.feature_service,
        cfg,
        settings.data_dir / "ray_results",
        data.categorical,
    )
    clock.update(fitted.seconds)
    model, choice = fitted.model, fitted.choice
    logger.info("train 4/5: ensemble chosen; evaluation")
    t0 = time.perf_counter()
    valid_eval = evaluate(split.valid, model.predict(split.valid), model.thresholds, cfg)
    test_scores = model.predict(split.test)
    test_eval = evaluate(split.test, test_scores, model.thresholds, cfg)
    model.reference = _reference(split.train, model, cfg.reference_rows, cfg.seed)
    lineage = {
        "feature_service": data.feature_service,
        **split.bounds.as_dict(),
        "data_fingerprint": data.fingerprint,
        "data_source": data.source,
        "code_version": code_version(),
    }
    choices = _choices(choice)
    # Serving fills a passthrough value the request lacks with its default from here
    # (the categorical extras' vocabularies are already in, from fit_ensemble).
    model.metadata.update({"lineage": lineage, "choices": choices, EXTRAS_KEY: dict(data.extras)})
    # The delay its matured features were computed with: serving refuses another one.
    model.metadata[DELAY_KEY] = settings.features.matured_delay_days
    clock["evaluate"] = time.perf_counter() - t0
    logger.info("train 5/5: evaluated in %.0f s; registering in MLflow", clock["evaluate"])

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fraudlens-plots-") as tmp:
        pngs = _plots(Path(tmp), split, model, test_scores)
        registered = register(
            settings,
            model,
            run_name=f"train {split.bounds.start.date()}..{split.bounds.end.date()}",
            params={**cfg.model_dump(), **choices, "features": len(model.feature_names)},
            metrics={
                **{f"valid_{k}": v for k, v in valid_eval.metrics.items()},
                **{f"test_{k}": v for k, v in test_eval.metrics.items()},
                **{f"valid_ap_{k}": v for k, v in choice.candidate_ap.items()},
            },
            lineage=lineage,
            plots=pngs,
            tables={"test_scenarios": test_eval.scenarios, "valid_scenarios": valid_eval.scenarios},
        )
    model.version = registered.version
    counts = {
        "train rows": len(split.train),
        "gap rows (left out)": split.gap_rows,
        "late-labelled train frauds": split.late_label_rows,
        "validation rows": len(split.valid),
        "test rows": len(split.test),
    }
    card = model_card(
        name=settings.mlflow.model_name,
        model=model,
        lineage=lineage,
        choices=choices,
        counts=counts,
        validation=valid_eval,
        test=test_eval,
        constant_columns=constant_features(model.inputs(split.train), model.feature_names),
    )
    attach_card(settings, registered, card)
    _set_challenger(settings, registered)
    clock["mlflow"] = time.perf_counter() - t0
    logger.info("trained version %s in %s", registered.version, clock)
    return TrainResult(
        registered.version,
        registered.run_id,
        model,
        split,
        valid_eval,
        test_eval,
        card,
        clock,
        data.source,
        len(data.frame),
    )


def evaluate_model(
    settings: Settings,
    start: datetime | date | str,
    end: datetime | date | str,
    alias: str = "champion",
    *,
    version: str | None = None,
    data: TrainingData | None = None,
    scores_path: Path | None = None,
) -> Evaluation:
    """Score ``[start, end)`` with a registered model and compute every metric.

    Args:
        settings: FraudLens settings.
        start: first instant of the period.
        end: end of the period, exclusive.
        alias: the model to judge (ignored when ``version`` is given).
        version: a registered version instead of an alias.
        data: labelled rows with features (tests); default: ``load_training_data``.
        scores_path: also write one row per transaction (``training.scores``)
            to this ``.parquet`` or ``.csv`` file.

    Raises:
        ModelNotFoundError: no model has the alias or version.
        DataError: no labelled data in the range, or a bad ``scores_path``.
    """
    if scores_path is not None:
        check_scores_path(scores_path)
    model = load_model_version(settings, version) if version else load_model(settings, alias)
    data = data or load_training_data(settings, start, end, model.feature_service)
    scores = model.predict(data.frame)
    if scores_path is not None:
        write_scores(score_table(data.frame, scores, model.decide(scores)), scores_path)
    return evaluate(data.frame, scores, model.thresholds, settings.training)


def _search(
    settings: Settings,
    data: TrainingData,
    split: SplitFrames,
    cfg: TrainingSettings,
    clock: dict[str, float],
) -> TrainingSettings:
    """Ray Tune on the backtest folds before the validation start (``training.search``)."""
    from training.search import search, search_folds

    t0 = time.perf_counter()
    logger.info("train: model search, %d Ray Tune trials", cfg.search_trials)
    bounds = split.bounds
    folds = search_folds(data.frame, bounds.label_cutoff, bounds.train_end, cfg, settings.backtest)
    features = data.feature_names
    if data.categorical:  # one vocabulary for every fold: the run's training rows'
        vocabularies = categories.learn(
            split.train,
            data.categorical,
            cfg.categorical_min_count,
            cfg.categorical_max_categories,
        )
        folds = [
            replace(
                f,
                train=categories.with_onehot(f.train, vocabularies),
                valid=categories.with_onehot(f.valid, vocabularies),
                test=categories.with_onehot(f.test, vocabularies),
            )
            for f in folds
        ]
        features = [*features, *categories.onehot_names(vocabularies)]
    found = search(folds, features, cfg, settings.data_dir / "ray_results")
    clock["search"] = time.perf_counter() - t0
    return found.apply(cfg)


def _reference(train: pd.DataFrame, model: FraudModel, rows: int, seed: int) -> Reference:
    sample = train.sample(n=min(rows, len(train)), random_state=seed).sort_values("event_time")
    features = model.inputs(sample)[model.feature_names].reset_index(drop=True)
    return Reference(features, model.predict(features))


def _choices(choice: Choice) -> dict[str, object]:
    return {
        "xgb_imbalance_power": choice.xgb.power,
        "xgb_scale_pos_weight": round(choice.xgb.pos_weight, 3),
        "xgb_rounds": choice.xgb.booster.num_boosted_rounds(),
        "mlp_imbalance_power": choice.mlp.power,
        "mlp_pos_weight": round(choice.mlp.pos_weight, 3),
        "ensemble_grid_weight": choice.grid_weight,
        "ensemble_xgb_weight": round(choice.weight, 4),
        "calibration": tuple(round(v, 4) for v in choice.calibration),
    }


def _plots(
    folder: Path, split: SplitFrames, model: FraudModel, test_scores: np.ndarray
) -> list[Path]:
    y_test = split.test["is_fraud"].to_numpy(np.int8)
    y_valid = split.valid["is_fraud"].to_numpy(np.int8)
    periods = {"validation": (y_valid, model.predict(split.valid)), "test": (y_test, test_scores)}
    return [
        plots.pr_curve(periods, folder / "pr_curve.png"),
        plots.score_distribution(y_test, test_scores, folder / "score_distribution.png"),
        plots.calibration(y_test, test_scores, folder / "calibration.png"),
        plots.feature_importance(model.feature_importance(), folder / "feature_importance.png"),
    ]


def _set_challenger(settings: Settings, registered: Registered) -> None:
    client = mlflow_client(settings)
    client.set_registered_model_alias(settings.mlflow.model_name, CHALLENGER, registered.version)
