"""Shadow scoring: the challenger scores the champion's traffic, logged, never returned.

``ShadowScorer`` does the work (load the challenger, score, compare, log);
``InProcessShadow`` runs it on a background thread with a bounded queue so the
champion's path never waits for it. The Serve app runs ``ShadowScorer`` in its
own deployment instead (``ray_apps.deployments``). The comparison rows go where
decisions go (``factory.shadow_scorer``); ``read_shadow`` reads them back from
there: PostgreSQL or the shadow log.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from fraudlens.errors import FraudLensError, ModelNotFoundError
from fraudlens.features.categories import model_vocabularies
from fraudlens.features.context import fill_request_context
from fraudlens.features.extras import fill_request_extras, is_extra, model_defaults
from fraudlens.schema import Transaction
from fraudlens.scoring.interfaces import FeatureSource, ModelLoader, ScoringModel
from fraudlens.scoring.metrics import ServingMetrics, default_metrics
from fraudlens.scoring.rules import model_decision
from fraudlens.scoring.scorer import Scored

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


class ShadowLog(Protocol):
    """Where comparison rows go: the shadow log's files (``ParquetLog``), the
    shadow-scores topic (``shadow_topic.KafkaShadowLog``) or both."""

    def append(self, rows: list[dict[str, Any]]) -> None: ...

    def flush(self) -> int: ...

    def close(self) -> None: ...


class ChampionRow(NamedTuple):
    """What the shadow needs to know about the champion's decision."""

    transaction_id: str
    event_time: datetime
    score: float | None
    decision: str
    model_version: str


class ShadowBatch(NamedTuple):
    """One champion batch handed to the shadow (small and picklable)."""

    txns: Sequence[Transaction]
    frame: pd.DataFrame
    champion: list[ChampionRow]


def shadow_batch(scored: Scored) -> ShadowBatch:
    """Pack a champion ``Scored`` for the shadow."""
    rows = [
        ChampionRow(r.transaction_id, r.event_time, r.score, r.decision, r.model_version)
        for r in scored.results
    ]
    return ShadowBatch(scored.txns, scored.frame, rows)


class ShadowScorer:
    """Scores champion batches with the challenger and logs the comparison.

    Args:
        loader: model registry access.
        features: used when the challenger needs features the champion's vector lacks.
        log: where comparison rows go (see ``ShadowLog``).
        alias: registry alias of the challenger.
        metrics: where comparisons are counted (default: this process's metrics).
    """

    def __init__(
        self,
        loader: ModelLoader,
        features: FeatureSource,
        log: ShadowLog | None,
        alias: str = "challenger",
        metrics: ServingMetrics | None = None,
    ) -> None:
        self.loader = loader
        self.features = features
        self.log = log
        self.alias = alias
        self.metrics = metrics if metrics is not None else default_metrics()
        self.model: ScoringModel | None = None
        self.stats = {"rows": 0, "agree": 0, "abs_diff_sum": 0.0, "errors": 0}

    def load(self) -> ScoringModel | None:
        """(Re)load the challenger; None when the alias is not set."""
        try:
            self.model = self.loader.load_alias(self.alias)
        except ModelNotFoundError:
            self.model = None
        except FraudLensError as exc:
            logger.warning("challenger %s not loaded: %s", self.alias, exc)
            self.model = None
        return self.model

    def score(self, batch: ShadowBatch) -> int:
        """Score one batch with the challenger; returns the rows logged."""
        model = self.model
        if model is None or not batch.champion:
            return 0
        try:
            frame = self._frame(model, batch)
            scores = np.asarray(model.predict(frame), dtype=np.float64).reshape(-1)
        except Exception as exc:  # a broken challenger must never hurt the champion
            self.stats["errors"] += 1
            logger.warning("challenger %s failed on a batch: %s", model.version, exc)
            return 0
        review, decline = float(model.thresholds.review), float(model.thresholds.decline)
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for champ, score in zip(batch.champion, scores.tolist(), strict=True):
            decision = model_decision(score, review, decline)
            agree = decision == champ.decision
            self.stats["rows"] += 1
            self.stats["agree"] += int(agree)
            if champ.score is not None:
                self.stats["abs_diff_sum"] += abs(score - champ.score)
            rows.append(
                {
                    "transaction_id": champ.transaction_id,
                    "event_time": champ.event_time,
                    "scored_at": now,
                    "champion_version": champ.model_version,
                    "champion_score": champ.score,
                    "champion_decision": champ.decision,
                    "challenger_version": model.version,
                    "challenger_score": score,
                    "challenger_decision": decision,
                    "agree": agree,
                }
            )
        if self.log is not None:
            try:
                self.log.append(rows)
            except Exception as exc:  # e.g. the broker is down: counted, never raised
                self.stats["errors"] += 1
                logger.warning("%d shadow scores not recorded: %s", len(rows), exc)
        self.metrics.shadow(len(rows), sum(not row["agree"] for row in rows))
        return len(rows)

    def _frame(self, model: ScoringModel, batch: ShadowBatch) -> pd.DataFrame:
        names = list(model.feature_names)
        if set(names) <= set(batch.frame.columns):
            frame = batch.frame[names]
        else:
            frame = self.features.online(batch.txns, model)[names]
        frame = frame.copy()
        fill_request_context(frame, batch.txns)
        if any(is_extra(name) for name in names):  # with this model's own defaults
            fill_request_extras(
                frame,
                [t.extras for t in batch.txns],
                model_defaults(model),
                model_vocabularies(model),
            )
        return frame

    def summary(self) -> dict[str, Any]:
        """Agreement so far: rows, decision agreement rate, mean |score difference|."""
        rows = self.stats["rows"]
        return {
            "challenger_version": self.model.version if self.model else None,
            "rows": rows,
            "agreement": self.stats["agree"] / rows if rows else None,
            "mean_abs_score_diff": self.stats["abs_diff_sum"] / rows if rows else None,
            "errors": self.stats["errors"],
        }

    def close(self) -> None:
        """Write the rest of the shadow log (or wait for the topic's acknowledgements)."""
        if self.log is not None:
            self.log.close()


class InProcessShadow:
    """Runs a ``ShadowScorer`` on a background thread (stream scorer, bare API).

    Args:
        scorer: the shadow scorer.
        max_pending: batches queued at most; more are dropped (and counted),
            so a slow challenger never slows the champion.
    """

    def __init__(self, scorer: ShadowScorer, max_pending: int = 64) -> None:
        self.scorer = scorer
        self.dropped = 0
        self._queue: queue.Queue[ShadowBatch | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="fraudlens-shadow", daemon=True)
        self._thread.start()

    def submit(self, scored: Scored) -> None:
        """Queue a champion batch; drop it if the queue is full."""
        if self.scorer.model is None:
            return
        try:
            self._queue.put_nowait(shadow_batch(scored))
        except queue.Full:
            self.dropped += 1

    def drain(self) -> None:
        """Wait until every queued batch is scored (tests, shutdown)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self.scorer.score(batch)
            finally:
                self._queue.task_done()

    def close(self) -> None:
        """Score what is queued, then write the shadow log."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        self.scorer.close()


def read_shadow(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """Shadow scores with ``start <= event_time < end``, oldest first.

    From the ``shadow_scores`` table when scoring records through Kafka only
    (``records.decision_sink=kafka``, production: no shadow files exist), else
    from the shadow log under ``DATA_DIR/shadow``, as the drift monitor picks
    its decisions (``drift.sources``).
    """
    if settings.resolved_decision_sink() == "kafka":
        from fraudlens.records.engine import records_engine
        from fraudlens.records.shadow import read_shadow_scores

        with records_engine(settings, pool_size=0) as engine, engine.connect() as conn:
            return read_shadow_scores(conn, start, end)
    from fraudlens.scoring.decision_log import read_log
    from fraudlens.scoring.factory import shadow_dir

    frame = read_log(shadow_dir(settings))
    if frame.empty:
        return frame
    times = pd.to_datetime(frame["event_time"], utc=True)
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= times >= pd.Timestamp(start)
    if end is not None:
        keep &= times < pd.Timestamp(end)
    return frame[keep].sort_values(["event_time", "transaction_id"], ignore_index=True)
