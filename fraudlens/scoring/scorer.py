"""The scoring core shared by the API and the stream scorer.

request transactions -> feature vectors (online store, or request-only in
degraded mode) -> model score -> decision policy -> reasons.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudlens.errors import FraudLensError
from fraudlens.features.categories import model_vocabularies, reason_text
from fraudlens.features.context import fill_request_context
from fraudlens.features.extras import fill_request_extras, is_extra, model_defaults
from fraudlens.schema import Transaction
from fraudlens.scoring.active import ActiveModel
from fraudlens.scoring.breaker import Breaker, Ticket
from fraudlens.scoring.interfaces import FeatureSource
from fraudlens.scoring.reasons import top_reasons
from fraudlens.scoring.result import FeatureRow, Reason, ScoreResult, case_facts, decision_id
from fraudlens.scoring.rules import decide, evaluate_batch, model_decisions

logger = logging.getLogger(__name__)

# Why an answer is degraded (``ScoreResult.degraded_cause``), with what an analyst reads.
STORE_TIMEOUT = "store_timeout"
STORE_ERROR = "store_error"
STORE_SKIPPED = "store_skipped"
MISSING_FEATURES = "missing_features"
DEGRADED_CAUSES: dict[str, str] = {
    STORE_TIMEOUT: "scored without stored history: the feature store did not answer in time",
    STORE_ERROR: "scored without stored history: the feature store read failed",
    STORE_SKIPPED: "scored without stored history: the feature store failed moments ago",
    MISSING_FEATURES: "scored without part of the stored history: features missing",
}
DEGRADED_REASONS = {
    cause: Reason(kind="system", code="degraded", text=text)
    for cause, text in DEGRADED_CAUSES.items()
}


@dataclass(slots=True)
class Scored:
    """Results of one batch plus the feature frame they were computed from."""

    txns: Sequence[Transaction]
    results: list[ScoreResult]
    frame: pd.DataFrame
    degraded: bool  # every row degraded (e.g. the online store is down)
    timings: dict[str, float] = field(default_factory=dict)


class Scorer:
    """Scores batches of transactions with the active model.

    Args:
        features: where feature vectors come from.
        feature_timeout_s: budget for the online read; past it the batch is
            scored in degraded mode.
        breaker_s: after an online-store failure, score degraded without
            reading for this long, then let one request probe the store (see
            ``fraudlens.scoring.breaker``).
    """

    def __init__(
        self, features: FeatureSource, *, feature_timeout_s: float = 0.1, breaker_s: float = 2.0
    ) -> None:
        self.features = features
        self.feature_timeout_s = feature_timeout_s
        self.breaker = Breaker(breaker_s)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fraudlens-features")

    def close(self) -> None:
        """Stop the feature-read threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def score(self, txns: Sequence[Transaction], active: ActiveModel) -> Scored:
        """Score a batch synchronously (stream scorer, tests)."""
        start = time.perf_counter()
        frame, cause = None, STORE_SKIPPED
        ticket = self.breaker.acquire()
        if ticket is not Ticket.SKIP:
            future = self._pool.submit(self.features.online, txns, active.model)
            try:
                frame = future.result(timeout=self.feature_timeout_s)
            except Exception as exc:  # any dependency failure means degraded, not an error
                cause = self._failed(ticket, exc, future)
            else:
                self.breaker.success(ticket)
        return self._finish(txns, active, frame, cause, start)

    async def ascore(self, txns: Sequence[Transaction], active: ActiveModel) -> Scored:
        """Score a batch from an event loop without blocking it on the online read."""
        start = time.perf_counter()
        frame, cause = None, STORE_SKIPPED
        ticket = self.breaker.acquire()
        if ticket is not Ticket.SKIP:
            future = self._pool.submit(self.features.online, txns, active.model)
            try:
                frame = await asyncio.wait_for(asyncio.wrap_future(future), self.feature_timeout_s)
            except Exception as exc:
                cause = self._failed(ticket, exc, future)
            else:
                self.breaker.success(ticket)
        return self._finish(txns, active, frame, cause, start)

    def warm_up(
        self, txns: Sequence[Transaction], active: ActiveModel, timeout_s: float
    ) -> tuple[pd.DataFrame | None, str | None]:
        """One online read with a cold store's budget, before taking traffic.

        The first read of a process pays for opening the store (registry,
        connections, on-demand views): far more than the request budget.

        Returns:
            The vectors (None if the read failed) and why it failed (None: it
            worked). A failure opens the breaker like any failed read.
        """
        future = self._pool.submit(self.features.online, txns, active.model)
        try:
            frame = future.result(timeout=timeout_s)
        except Exception as exc:
            self.breaker.failure(Ticket.READ, timeout=False)
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return None, f"{kind}: {exc}" if str(exc) else kind
        self.breaker.success(Ticket.READ)
        return frame, None

    def _failed(self, ticket: Ticket, exc: BaseException, future: Future[pd.DataFrame]) -> str:
        timeout = isinstance(exc, TimeoutError)
        if timeout:
            # A read past its budget may still finish: then the store is warm.
            future.add_done_callback(self._late)
        opened = self.breaker.failure(ticket, timeout=timeout)
        cause = STORE_TIMEOUT if timeout else STORE_ERROR
        if opened:
            logger.warning(
                "online features unavailable (%s%s: %s); degraded for %.1fs, then one probe",
                "probe " if ticket is Ticket.PROBE else "",
                cause,
                exc,
                self.breaker.open_s,
            )
        else:
            logger.info(
                "first online read still running after %.0f ms", self.feature_timeout_s * 1e3
            )
        return cause

    def _late(self, future: Future[pd.DataFrame]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.breaker.late_success()

    def _finish(
        self,
        txns: Sequence[Transaction],
        active: ActiveModel,
        frame: pd.DataFrame | None,
        cause: str,
        start: float,
    ) -> Scored:
        model = active.model
        names = list(model.feature_names)
        t_features = time.perf_counter()
        frame_failed = frame is None
        extras = [name for name in names if is_extra(name)]
        vocabularies = model_vocabularies(model) if extras else []
        if frame is None:
            frame = self.features.request_only(txns, model)[names]
            fill_request_context(frame, txns)
            if extras:
                fill_request_extras(
                    frame, [t.extras for t in txns], model_defaults(model), vocabularies
                )
            values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
            degraded = np.ones(len(txns), dtype=bool)
        else:
            # Features never use NaN (sentinels instead), so a NaN is a missing
            # feature: fill what the request alone gives and flag the row.
            if list(frame.columns) != names:
                frame = frame.reindex(columns=names)
            # Context and passthrough columns come from the request, never the store.
            frame = frame.copy()
            fill_request_context(frame, txns)
            if extras:
                fill_request_extras(
                    frame, [t.extras for t in txns], model_defaults(model), vocabularies
                )
            values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
            degraded = np.isnan(values).any(axis=1)
            if degraded.any():
                logger.warning("%d of %d online vectors lack features", degraded.sum(), len(txns))
                frame = frame.fillna(self.features.request_only(txns, model)[names])
                values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        scores = self._predict(active, values, bool(degraded.any()))
        t_model = time.perf_counter()

        results, flagged = self._results(
            txns, active, values, scores, degraded, cause, frame_failed
        )
        if flagged and active.config.max_reasons:
            self._explain(active, frame, values, flagged, results, txns)
        end = time.perf_counter()
        latency_ms = (end - start) * 1000
        for result in results:
            result.latency_ms = latency_ms
        timings = {
            "features_ms": (t_features - start) * 1000,
            "model_ms": (t_model - t_features) * 1000,
            "policy_ms": (end - t_model) * 1000,
        }
        return Scored(txns, results, frame, bool(degraded.all()), timings)

    @staticmethod
    def _results(
        txns: Sequence[Transaction],
        active: ActiveModel,
        values: np.ndarray,
        scores: np.ndarray | None,
        degraded: np.ndarray,
        cause: str,
        frame_failed: bool,
    ) -> tuple[list[ScoreResult], list[int]]:
        """One result per row, and the rows flagged by the model (to explain).

        Decisions and limits are computed over the batch's arrays; what stays
        per row is building the result itself. Its features are a view of a
        copy of ``values`` (``FeatureRow``), made into a dict only if read.
        """
        model = active.model
        names = tuple(model.feature_names)
        n = len(txns)
        if scores is None:
            scores = np.full(n, np.nan)
        known = (~np.isnan(scores)).tolist()  # NaN: no usable score, decided on the amount
        by_model = model_decisions(scores, active.review, active.decline)
        over = active.config.degraded_review_amount
        hits_of = evaluate_batch(txns, names, values, active.rules)
        score_of = scores.tolist()
        matrix = values.copy()  # the results' features: later changes to values must not show
        matrix.flags.writeable = False
        thresholds = (active.review, active.decline)
        version = model.version
        row_cause = cause if frame_failed else MISSING_FEATURES
        results: list[ScoreResult] = []
        flagged: list[int] = []
        missing = degraded.tolist()
        for i, txn in enumerate(txns):
            hits = hits_of[i]
            if known[i]:
                score, decision = score_of[i], by_model[i]
            else:
                score, decision = None, "review" if txn.amount > over else "approve"
            if hits:
                decision = decide(decision, hits)
            reasons = (
                [Reason(kind="rule", code=h.name, text=h.text, value=h.value) for h in hits]
                if hits
                else []
            )
            is_degraded = missing[i]
            if is_degraded:
                reasons.append(DEGRADED_REASONS[row_cause])
            if decision != "approve" and score is not None:
                flagged.append(i)
            results.append(
                ScoreResult(
                    transaction_id=txn.transaction_id,
                    decision_id=decision_id(txn.transaction_id),
                    event_time=txn.event_time,
                    card_token=txn.card_token,
                    score=score,
                    decision=decision,
                    reasons=reasons,
                    model_version=version,
                    degraded=is_degraded,
                    degraded_cause=row_cause if is_degraded else None,
                    thresholds=thresholds,
                    rule_hits=[h.name for h in hits] if hits else [],
                    features=FeatureRow(names, matrix, i),
                    transaction=case_facts(txn),
                )
            )
        return results, flagged

    @staticmethod
    def _predict(active: ActiveModel, values: np.ndarray, degraded: bool) -> np.ndarray | None:
        x = values.astype(np.float32)  # the model's input type, as the pyfunc casts it
        try:
            scores = np.asarray(active.model.predict_array(x), dtype=np.float64).reshape(-1)
        except Exception:  # a model that cannot score NaNs must not turn into a 500
            if not degraded:
                raise
            logger.warning("model %s cannot score request-only vectors", active.model.version)
            return None
        return scores

    def _explain(
        self,
        active: ActiveModel,
        frame: pd.DataFrame,
        values: np.ndarray,
        flagged: list[int],
        results: list[ScoreResult],
        txns: Sequence[Transaction],
    ) -> None:
        try:
            contrib = np.asarray(active.model.contributions(frame.iloc[flagged]), dtype=np.float64)
        except FraudLensError as exc:
            logger.warning("no contributions from model %s: %s", active.model.version, exc)
            return
        names = active.model.feature_names
        vocabularies = model_vocabularies(active.model)
        for j, i in enumerate(flagged):
            results[i].reasons.extend(
                top_reasons(
                    names,
                    values[i],
                    contrib[j, : len(names)],
                    active.config.max_reasons,
                    self.features.describe,
                    reason_text(vocabularies, txns[i].extras) if vocabularies else None,
                )
            )
