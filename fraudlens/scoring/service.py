"""The scoring service: the active model, safe model switches, and sinks.

Used the same way by the API (Serve replica or bare uvicorn) and the stream
scorer. A new model version is loaded and probed *before* it replaces the
active one; if loading or the probe fails, the old version keeps serving.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from fraudlens.errors import FraudLensError, ModelError
from fraudlens.schema import Transaction
from fraudlens.scoring.active import ActiveModel
from fraudlens.scoring.config import Rules, ScoringConfig
from fraudlens.scoring.freshness import FeatureAgeProbe
from fraudlens.scoring.interfaces import FeatureSource, ModelLoader, ScoringModel
from fraudlens.scoring.metrics import ServingMetrics, default_metrics
from fraudlens.scoring.result import ScoreResult
from fraudlens.scoring.scorer import Scored, Scorer

logger = logging.getLogger(__name__)


class DecisionSink(Protocol):
    """Receives every decision (the decision log)."""

    def write(self, results: Sequence[ScoreResult]) -> None: ...

    def close(self) -> None: ...


class ShadowSink(Protocol):
    """Receives the champion's batches to score the challenger on (never blocks)."""

    def submit(self, scored: Scored) -> None: ...

    def close(self) -> None: ...


class NotReadyError(FraudLensError):
    """No model is active yet."""


# A card no one holds (token digests use only a-p): the warm-up read is real,
# through the same code as requests, and finds no stored history.
WARMUP_CARD = "tok_warmup_" + "a" * 32


def warmup_transaction() -> Transaction:
    """A synthetic transaction for the warm-up read (never scored for a client)."""
    return Transaction(
        transaction_id="warmup",
        event_time=datetime.now(UTC),
        card_token=WARMUP_CARD,
        customer_id="warmup",
        terminal_id="warmup",
        merchant_id="warmup",
        mcc="5411",
        amount=10.0,
        currency="EUR",
        channel="card_present",
        entry_mode="chip",
        country="FR",
    )


def probe_model(model: ScoringModel) -> None:
    """Refuse a model that cannot score a vector in its own feature order.

    Raises:
        ModelError: no features, or non-finite / out-of-range probabilities.
    """
    names = list(model.feature_names)
    if not names:
        raise ModelError(f"model {model.version} declares no features")
    probe = np.zeros((2, len(names)), dtype=np.float32)
    try:
        scores = np.asarray(model.predict_array(probe), dtype=np.float64).reshape(-1)
    except Exception as exc:
        raise ModelError(f"model {model.version} failed the probe: {exc}") from exc
    if scores.shape != (2,) or not np.all(np.isfinite(scores)):
        raise ModelError(f"model {model.version} returned {scores!r} for the probe")
    if np.any((scores < 0) | (scores > 1)):
        raise ModelError(f"model {model.version} returned scores outside [0, 1]")


class ScoringService:
    """Owns the active model and scores batches with it.

    Args:
        loader: loads model versions from the registry.
        features: the feature source (online store + request-only fallback).
        scorer: the scoring core (defaults to one over ``features``).
        file_rules: rules from ``serve.rules_file`` (used when the config has none).
        decisions: where every decision is recorded.
        shadow: where batches go to be scored by the challenger.
        metrics: decision and model metrics (default: this process's, see
            ``fraudlens.scoring.metrics.default_metrics``).
        freshness: samples the age of the stored features (default: one over
            the Feast store when ``features`` reads Feast).
    """

    def __init__(
        self,
        loader: ModelLoader,
        features: FeatureSource,
        *,
        scorer: Scorer | None = None,
        file_rules: Rules | None = None,
        decisions: DecisionSink | None = None,
        shadow: ShadowSink | None = None,
        metrics: ServingMetrics | None = None,
        freshness: FeatureAgeProbe | None = None,
    ) -> None:
        self.loader = loader
        self.features = features
        self.scorer = scorer or Scorer(features)
        self.file_rules = file_rules
        self.decisions = decisions
        self.shadow = shadow
        self.metrics = metrics if metrics is not None else default_metrics()
        self.freshness = freshness or FeatureAgeProbe.for_source(features, self.metrics)
        self._active: ActiveModel | None = None
        self._lock = threading.Lock()
        self.last_refusal: dict[str, str] | None = None
        self.rule_override: Rules | None = None  # from the rule store; wins, kept on reload
        self.warmed = False
        self.features_status = "not warmed up"  # "ok", or "degraded: <why>"

    @property
    def active(self) -> ActiveModel:
        """The active model snapshot.

        Raises:
            NotReadyError: nothing is loaded yet.
        """
        active = self._active
        if active is None:
            raise NotReadyError("no model loaded yet")
        return active

    @property
    def ready(self) -> bool:
        """True once a model is active."""
        return self._active is not None

    def apply_config(self, config: ScoringConfig) -> ActiveModel:
        """Load the model the config asks for and make it active.

        Raises:
            ModelError: the model cannot be loaded or fails the probe; the
                previously active model (if any) stays active.
        """
        with self._lock:
            target = config.model_version or f"alias {config.model_alias}"
            try:
                model = self._load(config)
                probe_model(model)
                self.features.validate(model)
            except FraudLensError as exc:
                self.last_refusal = {
                    "target": target,
                    "reason": str(exc),
                    "at": datetime.now(UTC).isoformat(),
                }
                kept = self._active.model.version if self._active else None
                logger.error("refused model %s: %s (still serving %s)", target, exc, kept)
                raise ModelError(f"refused model {target}: {exc}") from exc
            active = ActiveModel.build(model, config, self.file_rules)
            if self.rule_override is not None:
                active = dataclasses.replace(active, rules=self.rule_override)
            self._active = active
            alias = "pinned" if config.model_version else config.model_alias
            self.metrics.model_changed(model.version, alias)
            logger.info("serving model version %s (%s)", model.version, target)
            return self._active

    def warm_up(self, timeout_s: float = 30.0) -> str:
        """Pay every first-call cost before taking traffic; returns ``features_status``.

        One online read through the scoring code (cold budget ``timeout_s``),
        a predict and the feature contributions of the active model. If the
        store is down the service still becomes warm: degraded answers are the
        right answers during an outage, and the breaker probes the store until
        it is back. ``features_status`` says which.

        Raises:
            NotReadyError: no model is loaded yet.
        """
        active = self.active
        txns = [warmup_transaction()]
        started = time.perf_counter()
        frame, failure = self.scorer.warm_up(txns, active, timeout_s)
        read_ms = (time.perf_counter() - started) * 1000
        names = list(active.model.feature_names)
        if frame is None:
            frame = self.features.request_only(txns, active.model)[names]
        vectors = frame.reindex(columns=names).fillna(0.0)
        active.model.predict_array(vectors.to_numpy(dtype=np.float32))
        try:
            active.model.contributions(vectors)
        except FraudLensError as exc:  # scoring also carries on without reasons
            logger.warning("model %s gives no contributions: %s", active.model.version, exc)
        self.features_status = "ok" if failure is None else f"degraded: {failure}"
        self.warmed = True
        logger.info(
            "warmed up in %.0f ms (online read %.0f ms, features %s)",
            (time.perf_counter() - started) * 1000,
            read_ms,
            self.features_status,
        )
        return self.features_status

    def readiness(self) -> str:
        """``ok``, or ``degraded: <why>`` (store down at warm-up, or its breaker open now)."""
        state = self.scorer.breaker.state
        if state != "closed":
            return f"degraded: feature store breaker {state} after a failed read"
        return self.features_status if not self.scorer.breaker.warm else "ok"

    def set_rules(self, rules: Rules) -> None:
        """Apply rules from the rule store now; they also apply to later model loads."""
        with self._lock:
            self.rule_override = rules
            if self._active is not None:
                self._active = dataclasses.replace(self._active, rules=rules)

    def refresh_alias(self) -> bool:
        """Reload when the served alias now points to another version.

        Returns:
            True if a new version became active. Refusals are logged and
            recorded in ``last_refusal``, never raised.
        """
        active = self._active
        if active is None:
            return False
        # Re-assert the served-model gauge on every poll: a Ray gauge set once at start was
        # gone from the metrics agent's export minutes later (full-suite serving tests).
        pinned = active.config.model_version
        self.metrics.model_changed(
            active.model.version, "pinned" if pinned else active.config.model_alias
        )
        if pinned:
            return False
        try:
            current = self.loader.alias_version(active.config.model_alias)
        except FraudLensError as exc:
            logger.warning("cannot check alias %s: %s", active.config.model_alias, exc)
            return False
        if current is None or current == active.model.version:
            return False
        if self.last_refusal and self.last_refusal.get("version") == current:
            return False  # already refused this version; do not retry forever
        try:
            self.apply_config(active.config)
        except ModelError:
            if self.last_refusal is not None:
                self.last_refusal["version"] = current
            return False
        return True

    def score(self, txns: Sequence[Transaction]) -> list[ScoreResult]:
        """Score a batch synchronously and record it."""
        scored = self.scorer.score(txns, self.active)
        self._record(scored)
        if self.decisions is not None:
            self.decisions.write(scored.results)
        return scored.results

    async def ascore(self, txns: Sequence[Transaction]) -> list[ScoreResult]:
        """Score a batch from an event loop and record it."""
        scored = await self.scorer.ascore(txns, self.active)
        self._record(scored)
        if self.decisions is not None:
            # Off the event loop: the decisions topic returns once the broker acknowledged.
            await asyncio.to_thread(self.decisions.write, scored.results)
        return scored.results

    def _record(self, scored: Scored) -> None:
        """Metrics, freshness probe and shadow scoring (on the caller's thread: Serve
        handles and Ray metrics belong to the replica's event loop)."""
        self.metrics.results(scored.results)
        if self.freshness is not None and not scored.degraded:
            self.freshness.submit(scored.txns)
        if self.shadow is not None and self.active.config.shadow and not scored.degraded:
            self.shadow.submit(scored)

    def info(self) -> dict[str, Any]:
        """What is being served: version, thresholds, feature service, rules."""
        active = self.active
        rules = active.rules
        return {
            "model_version": active.model.version,
            "model_alias": active.config.model_alias,
            "pinned_version": active.config.model_version,
            "feature_service": active.model.feature_service,
            "features": list(active.model.feature_names),
            "thresholds": {"review": active.review, "decline": active.decline},
            "rules": {
                "block_entries": len(rules.block),
                "allow_entries": len(rules.allow),
                "limits": [limit.name for limit in rules.limits],
            },
            "loaded_at": active.loaded_at.isoformat(),
            "last_refusal": self.last_refusal,
        }

    def close(self) -> None:
        """Flush sinks and stop threads."""
        for sink in (self.decisions, self.shadow, self.freshness):
            if sink is not None:
                sink.close()
        self.scorer.close()

    def _load(self, config: ScoringConfig) -> ScoringModel:
        if config.model_version:
            return self.loader.load_version(config.model_version)
        return self.loader.load_alias(config.model_alias)
