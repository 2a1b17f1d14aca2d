"""Build a ready-to-use scoring service from Settings (API replicas, stream scorer)."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

from fraudlens.scoring.adapters import FeastFeatures, MlflowModels
from fraudlens.scoring.config import Rules, ScoringConfig, load_rules
from fraudlens.scoring.decision_log import DecisionLog, ParquetLog
from fraudlens.scoring.interfaces import FeatureSource, ModelLoader
from fraudlens.scoring.scorer import Scorer
from fraudlens.scoring.service import DecisionSink, ScoringService, ShadowSink
from fraudlens.scoring.shadow import InProcessShadow, ShadowLog, ShadowScorer
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


def single_threaded_numerics() -> None:
    """Tune this process for serving (API replicas, stream scorer).

    XGBoost, torch and numpy's BLAS (the MLP's matrix products) run on one
    thread: a request scores a handful of rows, thread pools cost more than
    they save, and on a small machine they fight the other replicas for the
    cores (measured here under load: feature contributions 37 ms p50 with 2
    threads, 1 ms with 1; the MLP on 512 rows 12-19 ms with OpenBLAS's 2
    threads, 0.3 ms with 1). The GIL switch interval
    drops from 5 ms to 1 ms, so the online-read thread is not held up behind
    the event loop for 5 ms at every I/O call.
    """
    import torch
    import xgboost as xgb
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    xgb.set_config(nthread=1)
    threadpool_limits(1, user_api="blas")  # for the rest of the process
    sys.setswitchinterval(0.001)


def freeze_heap() -> None:
    """Move everything alive now (model, feature store, registry) out of the GC's reach.

    Call once a model is loaded. Python's full collections otherwise walk that
    large, long-lived heap every so often: pauses of 100-300 ms that set the
    p99 of the API (measured here, bare app at concurrency 16: p99 205 ms
    without, 22 ms with). Objects created later are collected as usual.
    """
    gc.collect()
    gc.freeze()


def decisions_dir(settings: Settings) -> Path:
    """Where the decision log is written (``DATA_DIR/decisions``)."""
    return settings.data_dir / "decisions"


def shadow_dir(settings: Settings) -> Path:
    """Where the shadow comparison log is written (``DATA_DIR/shadow``), unless
    ``records.decision_sink`` is ``kafka``."""
    return settings.data_dir / "shadow"


def file_rules(settings: Settings) -> Rules | None:
    """Rules from ``serve.rules_file``, if one is set (ConfigError if unreadable)."""
    path = settings.serve.rules_file
    return load_rules(path) if path is not None else None


def default_config(settings: Settings) -> ScoringConfig:
    """The scoring config implied by settings alone (alias, shadow on/off)."""
    return ScoringConfig(model_alias=settings.serve.model_alias, shadow=settings.serve.shadow)


def shadow_scorer(
    settings: Settings, loader: ModelLoader | None = None, features: FeatureSource | None = None
) -> ShadowScorer:
    """A challenger scorer recording where decisions go (challenger not loaded yet).

    ``records.decision_sink`` picks the place, as for decisions: the shadow log
    under ``DATA_DIR/shadow`` (parquet), the shadow-scores topic, stored in
    PostgreSQL by the records sink (kafka: no files, as in production), or both.
    """
    choice = settings.resolved_decision_sink()
    files = ParquetLog(shadow_dir(settings), "shadow") if choice != "kafka" else None
    log: ShadowLog | None = files
    if choice != "parquet":
        # Imported here: the topic log uses the stream module, which imports this one.
        from fraudlens.kafka.producer import EventProducer
        from fraudlens.scoring.shadow_topic import FanOutLog, KafkaShadowLog

        topic = KafkaShadowLog(EventProducer(settings.kafka), settings.kafka.shadow_topic)
        log = topic if files is None else FanOutLog([files, topic])
    return ShadowScorer(
        loader or MlflowModels(settings),
        features or FeastFeatures(settings),
        log,
        alias=settings.serve.challenger_alias,
    )


def decision_sink(settings: Settings, source: str) -> DecisionSink | None:
    """Where decisions are recorded (None: ``serve.decision_log`` is off).

    The API follows ``records.decision_sink`` (Parquet log, decisions topic or
    both); the stream scorer publishes to the topic itself, so it keeps the
    Parquet log only, or nothing with ``kafka`` (no files, as in production).
    """
    if not settings.serve.decision_log:
        return None
    choice = settings.resolved_decision_sink()
    if source != "api":
        return None if choice == "kafka" else DecisionLog(decisions_dir(settings), source)
    log = DecisionLog(decisions_dir(settings), source) if choice != "kafka" else None
    if choice == "parquet" and log is not None:
        return log
    # Imported here: the topic sink uses the stream module, which imports this one.
    from fraudlens.kafka.producer import EventProducer
    from fraudlens.scoring.decision_topic import FanOutSink, KafkaDecisionSink

    topic = KafkaDecisionSink(
        EventProducer(settings.kafka),
        settings.kafka.decisions_topic,
        source,
        feature_sample_rate=settings.records.feature_sample_rate,
    )
    return topic if log is None else FanOutSink([log, topic])


def build_service(
    settings: Settings,
    source: str,
    *,
    loader: ModelLoader | None = None,
    features: FeatureSource | None = None,
    shadow: ShadowSink | None = None,
    in_process_shadow: bool = False,
    feature_timeout_s: float | None = None,
) -> ScoringService:
    """A scoring service wired to MLflow, Feast and the decision log.

    No model is loaded yet: call ``apply_config`` (Serve does it in ``reconfigure``).

    Args:
        settings: FraudLens settings.
        source: who scores (``api`` or ``stream``), recorded in the decision log.
        loader: model loader (default: the MLflow registry).
        features: feature source (default: the Feast online store).
        shadow: a shadow sink (the Serve app passes one bound to its deployment).
        in_process_shadow: without ``shadow``, score the challenger on a
            background thread of this process (when ``serve.shadow`` is on).
        feature_timeout_s: online read budget (default ``serve.feature_timeout_ms``).
    """
    loader = loader or MlflowModels(settings)
    features = features or FeastFeatures(settings)
    timeout = feature_timeout_s or settings.serve.feature_timeout_ms / 1000
    if shadow is None and in_process_shadow and settings.serve.shadow:
        challenger = shadow_scorer(settings, loader, features)
        if challenger.load() is not None:
            shadow = InProcessShadow(challenger)
        else:
            logger.info("no %s model: shadow scoring off", settings.serve.challenger_alias)
    decisions = decision_sink(settings, source)
    return ScoringService(
        loader,
        features,
        scorer=Scorer(features, feature_timeout_s=timeout),
        file_rules=file_rules(settings),
        decisions=decisions,
        shadow=shadow,
    )
