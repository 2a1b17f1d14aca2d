"""The simulated bank behind ``drift.scenario``: history, labels, features, serving.

One simulation (with the new pattern switched on at ``onset_day``) gives every
transaction, its label and its point-in-time features (``training.local_features``,
in memory, no Feast). Each simulated day is scored by the current champion
and written to the real decision log; retraining sees only the labels known
on its end date.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from drift.launchers import JobResult, retrain_and_promote
from drift.sources import decisions_dir, labels_dir
from fraudlens.settings import Settings


class ScenarioWorld:
    """Transactions with features and labels, and the champion's daily serving.

    Args:
        settings: FraudLens settings (data dir, MLflow, training).
        customers: simulated customers (about 0.8 transactions each per day).
        days: simulated days.
        fraud_rate: share of fraud rows.
        seed: simulator seed.
        new_pattern: opt-in scenario that starts on ``onset_day``.
        onset_day: day index the new pattern starts.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        customers: int,
        days: int,
        fraud_rate: float,
        seed: int,
        new_pattern: str,
        onset_day: int,
    ) -> None:
        from fraudlens.features.context import frame_context
        from fraudlens.security.tokenize import Tokenizer
        from fraudlens.simulator import SCENARIOS, SimulatorConfig, simulate
        from training.local_features import compute_features

        self.settings = settings
        sim_cfg = SimulatorConfig(
            customers=customers,
            terminals=max(600, customers // 3),
            days=days,
            fraud_rate=fraud_rate,
            seed=seed,
            scenarios=(*SCENARIOS, new_pattern),
            scenario_start_day={new_pattern: onset_day},
        )
        # throwaway key: tokens of this run link to nothing else
        sim = simulate(sim_cfg, Tokenizer("scn", {"scn": secrets.token_bytes(32)}))
        tx = sim.transactions.reset_index(drop=True)
        features = compute_features(tx, matured_delay_days=settings.features.matured_delay_days)
        self.frame = pd.concat([tx, features, frame_context(tx)], axis=1)
        self.times = pd.to_datetime(self.frame["event_time"], utc=True)
        self.labels = sim.labels
        self.new_pattern = new_pattern
        self.start = datetime.combine(sim_cfg.start_date, datetime.min.time(), UTC)
        self._models: dict[str, Any] = {}

    def at(self, day: int) -> datetime:
        """Midnight UTC starting day index ``day``."""
        return self.start + timedelta(days=day)

    def rows(self, first_day: int, end_day: int) -> pd.DataFrame:
        """Transactions of days ``[first_day, end_day)``."""
        keep = (self.times >= self.at(first_day)) & (self.times < self.at(end_day))
        return self.frame.loc[keep]

    def training_data(self, start: date, end: date) -> Any:
        """Labelled features of ``[start, end)`` with only the labels known at ``end``."""
        return known_rows(self.frame, self.settings.training.feature_service, start, end)

    def job(self) -> RetrainJob:
        """The retraining job body on this bank's rows (shipped to a Ray worker)."""
        return RetrainJob(self.frame, self.settings.training.feature_service)

    def publish_labels(self) -> None:
        """Every label into the label store; the monitor reads those known by its clock."""
        folder = labels_dir(self.settings)
        folder.mkdir(parents=True, exist_ok=True)
        self.labels.to_parquet(folder / "scenario.parquet", index=False)

    def serve_day(self, day: int) -> str:
        """Score one day with the champion, append it to the decision log; the version."""
        from fraudlens.scoring.decision_log import FEATURE_PREFIX, ParquetLog

        model = self.model(champion_version(self.settings))
        rows = self.rows(day, day + 1)
        scores = model.predict(rows)
        th = model.thresholds
        decision = np.where(
            scores >= th.decline, "decline", np.where(scores >= th.review, "review", "approve")
        )
        out = pd.DataFrame(
            {
                "transaction_id": rows["transaction_id"].to_numpy(),
                "event_time": self.times.loc[rows.index].to_numpy(),
                "score": scores,
                "decision": decision,
                "model_version": model.version,
                "degraded": False,
            }
        )
        for name in model.feature_names:
            out[FEATURE_PREFIX + name] = rows[name].to_numpy(dtype=np.float64)
        log = ParquetLog(decisions_dir(self.settings), "scenario", flush_rows=10**9)
        log.append(out.to_dict("records"))
        log.flush()
        return str(model.version)

    def model(self, version: str) -> Any:
        """A registered version, loaded once."""
        from fraudlens.model import load_model_version

        if version not in self._models:
            self._models[version] = load_model_version(self.settings, version)
        return self._models[version]

    def average_precision(self, version: str, first_day: int, end_day: int) -> float:
        """AP of a version on days ``[first_day, end_day)`` with every label."""
        from sklearn.metrics import average_precision_score

        rows = self.rows(first_day, end_day)
        scores = self.model(version).predict(rows)
        return float(average_precision_score(rows["is_fraud"].to_numpy(dtype=bool), scores))

    def compare(self, old: str, new: str, first_day: int, end_day: int) -> dict[str, float]:
        """AP of two versions on the same days, with every label (the final truth).

        Returns ``ap_old`` / ``ap_new`` on all rows and ``pattern_ap_old`` /
        ``pattern_ap_new`` on the new pattern's frauds against the legitimate rows.
        """
        from sklearn.metrics import average_precision_score

        rows = self.rows(first_day, end_day)
        y = rows["is_fraud"].to_numpy(dtype=bool)
        pattern = (rows["fraud_scenario"] == self.new_pattern).to_numpy()
        keep = pattern | ~y  # the new pattern against legitimate rows
        out: dict[str, float] = {}
        for label, version in (("old", old), ("new", new)):
            scores = self.model(version).predict(rows)
            out[f"ap_{label}"] = float(average_precision_score(y, scores))
            out[f"pattern_ap_{label}"] = float(average_precision_score(y[keep], scores[keep]))
        return out


def known_rows(frame: pd.DataFrame, feature_service: str, start: date, end: date) -> Any:
    """``training.dataset.TrainingData`` of ``[start, end)``, frauds labelled after ``end`` unknown."""
    from fraudlens.features import FEATURE_NAMES
    from fraudlens.features.context import CONTEXT_NAMES
    from training.dataset import from_frame

    known_by = pd.Timestamp(end, tz="UTC")
    frame = frame.copy()
    late = frame["is_fraud"] & (pd.to_datetime(frame["label_time"], utc=True) > known_by)
    frame.loc[late, "is_fraud"] = False
    frame.loc[late, "label_time"] = pd.NaT
    return from_frame(frame, [*FEATURE_NAMES, *CONTEXT_NAMES], feature_service, start, end)


@dataclass(frozen=True)
class RetrainJob:
    """The production job body (``retrain_and_promote``) reading the bank's rows.

    Only where the rows come from differs from a production job: the bank's
    features are already computed, where a job would read the history and
    the feature store.
    """

    frame: pd.DataFrame
    feature_service: str

    def __call__(self, settings: Settings, start: date, end: date) -> JobResult:
        return retrain_and_promote(settings, start, end, data=self.rows)

    def rows(self, start: date, end: date) -> Any:
        """Labelled rows of ``[start, end)``, as known at ``end``."""
        return known_rows(self.frame, self.feature_service, start, end)


def champion_version(settings: Settings) -> str:
    """The version the champion alias points to."""
    from fraudlens.model import mlflow_client

    client = mlflow_client(settings)
    return str(client.get_model_version_by_alias(settings.mlflow.model_name, "champion").version)
