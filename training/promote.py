"""Promotion gate: a challenger becomes champion only if it is better on new data.

Both models score the same holdout: rows neither model learned from (the
challenger's label-delay gap and test period, from the champion's test start
on) whose labels have matured (older than the label delay when the labels were
read). A younger fraud may not be labelled yet; counted as legit, it would
count against the model that caught it. The challenger is promoted when

* it beats the champion on ``gate_metric`` by at least ``gate_margin``, and
* it loses at most ``gate_tolerance`` on each of ``gate_guard_metrics``; a
  larger loss refuses only when it is beyond the holdout's noise (its paired
  bootstrap bound at ``gate_guard_confidence``, ``training.gate_noise``).

With no champion yet, the version is promoted. The decision, its reasons and
both models' figures are logged as an MLflow run and as version tags; a
refused version keeps (or gets) the ``challenger`` alias.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import mlflow
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import DataError, ModelNotFoundError
from fraudlens.model import FraudModel, load_model, load_model_version, mlflow_client
from fraudlens.settings import Settings, TrainingSettings
from training.dataset import TrainingData, load_training_data
from training.evaluate import fraud_metrics
from training.gate_noise import guard_bound
from training.register import TAG_PREFIX, experiment_id, version_tags

logger = logging.getLogger(__name__)

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous_champion"

Period = tuple[pd.Timestamp, pd.Timestamp]  # [from, to)
# Labelled rows of [start, end) with the features of a feature service.
HoldoutReader = Callable[[pd.Timestamp, pd.Timestamp, str], TrainingData]


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict on one version, with the figures behind it."""

    version: str
    champion: str | None
    promoted: bool
    reasons: list[str]
    holdout: tuple[tuple[str, str], ...] = ()
    rows: int = 0
    challenger_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)


def compare(
    challenger: dict[str, float],
    champion: dict[str, float],
    cfg: TrainingSettings,
    bound: Callable[[str], float] | None = None,
) -> tuple[bool, list[str]]:
    """Apply the margin and tolerance rules; returns (promote?, reasons).

    ``bound``: a guard's upper confidence bound of (challenger - champion)
    (``training.gate_noise.guard_bound``), asked for only when the guard's point
    estimate loses more than the tolerance; without it the point estimate decides.
    """
    reasons: list[str] = []
    key = cfg.gate_metric
    new, old = challenger[key], champion[key]
    ok = not math.isnan(new) and (math.isnan(old) or new >= old + cfg.gate_margin)
    verb = "beats" if ok else "does not beat"
    reasons.append(f"{key} {new:.4f} {verb} champion {old:.4f} + margin {cfg.gate_margin}")
    for guard in cfg.gate_guard_metrics:
        new_g, old_g = challenger[guard], champion[guard]
        if not math.isnan(old_g) and (math.isnan(new_g) or new_g < old_g - cfg.gate_tolerance):
            upper = math.nan if bound is None or math.isnan(new_g) else bound(guard)
            if upper >= -cfg.gate_tolerance:
                reasons.append(
                    f"{guard} {new_g:.4f} vs champion {old_g:.4f}: within the holdout's noise "
                    f"({cfg.gate_guard_confidence:.0%} bound of the difference {upper:+.4f})"
                )
                continue
            ok = False
            reasons.append(
                f"{guard} regresses: {new_g:.4f} < champion {old_g:.4f} - tolerance {cfg.gate_tolerance}"
            )
    return ok, reasons


def holdout_periods(
    challenger: dict[str, str], champion: dict[str, str], matured_by: pd.Timestamp
) -> list[Period]:
    """The periods neither model learned from, cut where labels have not matured.

    The challenger trained before ``train_end`` and tuned on its validation
    period; its gap (``train_end`` to ``valid_start``) and test period are new
    to it. The champion learned nothing from its ``test_start`` on. Rows from
    ``matured_by`` on are too young for their labels.

    Raises:
        DataError: a version lacks a lineage tag, or no such period exists yet.
    """
    try:
        floor = pd.Timestamp(champion["test_start"])
        new_to_it = [
            (challenger["train_end"], challenger["valid_start"]),
            (challenger["test_start"], challenger["data_end"]),
        ]
    except KeyError as exc:
        raise DataError(f"a model version lacks the lineage tag {exc}; pass a holdout") from exc
    periods = [
        (max(pd.Timestamp(lo), floor), min(pd.Timestamp(hi), matured_by)) for lo, hi in new_to_it
    ]
    periods = [(lo, hi) for lo, hi in periods if lo < hi]
    if not periods:
        raise DataError(
            f"no holdout yet: no rows newer than the champion's test start ({floor.date()}) "
            f"and older than {matured_by.date()} (labels not matured); run the gate again "
            "once the challenger's test period has matured"
        )
    return periods


def in_periods(frame: pd.DataFrame, periods: list[Period]) -> pd.DataFrame:
    """The rows of ``frame`` whose ``event_time`` falls in one of ``periods``."""
    t = pd.to_datetime(frame["event_time"], utc=True)
    keep = pd.Series(False, index=frame.index)
    for lo, hi in periods:
        keep |= (t >= lo) & (t < hi)
    return frame.loc[keep].reset_index(drop=True)


def promote(
    settings: Settings,
    version: str,
    *,
    holdout: TrainingData | None = None,
    read: HoldoutReader | None = None,
    labels_read_at: datetime | None = None,
    override: str | None = None,
    actor: str = "gate",
) -> GateDecision:
    """Run the gate for ``version`` and move the aliases accordingly.

    A promotion is also stored in the records database's ``promotions`` table
    when ``records.database_url`` is set (as the audit chain is).

    Args:
        settings: FraudLens settings (``training`` gate settings, ``mlflow``).
        version: the registered version to judge.
        holdout: labelled rows to judge on, as they are (tests); default: the
            matured holdout (``holdout_periods``), read by ``read``.
        read: reads the holdout's rows (default: ``load_training_data``, the
            history's labels and Feast's features).
        labels_read_at: when the labels ``read`` sees were known (default: now);
            with ``training.label_delay_days``, where rows count as matured.
        override: promote without the gate, for this reason (the caller audits it).
        actor: who asked (stored with the promotion).

    Raises:
        ModelNotFoundError: the version does not exist.
        DataError: no usable holdout.
    """
    challenger = load_model_version(settings, version)
    try:
        champion: FraudModel | None = load_model(settings, CHAMPION)
    except ModelNotFoundError:
        champion = None
    if champion is None:
        decision = GateDecision(version, None, True, ["no champion yet"])
    elif champion.version == version:
        decision = GateDecision(version, version, False, ["already the champion"])
    elif override:
        decision = GateDecision(version, champion.version, True, [f"gate overridden: {override}"])
    else:
        decision = _judge(settings, challenger, champion, holdout, read, labels_read_at)
    _apply(settings, decision)
    if decision.promoted and settings.records.database_url is not None:
        store_promotion(settings, decision, actor)
    return decision


def store_promotion(settings: Settings, decision: GateDecision, actor: str) -> None:
    """Store the promotion; the aliases have moved, so a failure is logged, not raised
    (MLflow's version tags and the caller's audit entry still say it happened)."""
    from fraudlens.errors import RecordsError
    from fraudlens.records.engine import records_engine
    from fraudlens.records.operations import record_promotion

    figures = {k: v for k, v in decision.challenger_metrics.items() if math.isfinite(v)}
    try:
        with records_engine(settings, pool_size=0) as engine, engine.begin() as conn:
            record_promotion(
                conn,
                settings.mlflow.model_name,
                decision.version,
                CHAMPION,
                actor,
                previous_version=decision.champion,
                metrics=figures,
            )
    except (RecordsError, SQLAlchemyError) as exc:
        logger.error(
            "version %s promoted, but not stored in the promotions table: %s",
            decision.version,
            str(exc).splitlines()[0],
        )


def _judge(
    settings: Settings,
    challenger: FraudModel,
    champion: FraudModel,
    holdout: TrainingData | None,
    read: HoldoutReader | None,
    labels_read_at: datetime | None,
) -> GateDecision:
    cfg = settings.training
    if holdout is None:
        known = pd.Timestamp(labels_read_at or datetime.now(UTC))
        tags = version_tags(settings, challenger.version)
        periods = holdout_periods(
            tags,
            version_tags(settings, champion.version),
            known - pd.Timedelta(days=cfg.label_delay_days),
        )
        # One read to the end of the challenger's data, then the periods' rows.
        span = periods[0][0], pd.Timestamp(tags["data_end"])
        reader = read or (lambda lo, hi, svc: load_training_data(settings, lo, hi, svc))
        frames = {
            svc: in_periods(reader(*span, svc).frame, periods)
            for svc in {challenger.feature_service, champion.feature_service}
        }
        new_frame, old_frame = frames[challenger.feature_service], frames[champion.feature_service]
        window = tuple((lo.isoformat(), hi.isoformat()) for lo, hi in periods)
    else:
        window = ((holdout.start.isoformat(), holdout.end.isoformat()),)
        new_frame = old_frame = holdout.frame
    if len(new_frame) != len(old_frame) or not new_frame["transaction_id"].equals(
        old_frame["transaction_id"]
    ):
        raise DataError("the two feature services returned different holdout rows")
    scores = challenger.predict(new_frame), champion.predict(old_frame)
    new = fraud_metrics(new_frame, scores[0], challenger.thresholds, cfg)
    old = fraud_metrics(old_frame, scores[1], champion.thresholds, cfg)
    pair = challenger.thresholds, champion.thresholds

    def bound(guard: str) -> float:  # only for a guard whose point estimate lost
        return guard_bound(new_frame, scores, pair, guard, cfg)

    ok, reasons = compare(new, old, cfg, bound if cfg.gate_guard_confidence > 0 else None)
    return GateDecision(
        challenger.version, champion.version, ok, reasons, window, len(new_frame), new, old
    )


def _apply(settings: Settings, decision: GateDecision) -> None:
    """Log the decision and move aliases."""
    client = mlflow_client(settings)
    name = settings.mlflow.model_name
    verdict = "promoted" if decision.promoted else "refused"
    with mlflow.start_run(
        experiment_id=experiment_id(client, settings), run_name=f"gate v{decision.version}"
    ):
        mlflow.set_tags(
            {
                TAG_PREFIX + "gate_decision": verdict,
                TAG_PREFIX + "challenger_version": decision.version,
                TAG_PREFIX + "champion_version": str(decision.champion),
                TAG_PREFIX + "holdout": str(decision.holdout),
            }
        )
        mlflow.log_params({"gate_metric": settings.training.gate_metric, "rows": decision.rows})
        for prefix, figures in (
            ("challenger", decision.challenger_metrics),
            ("champion", decision.champion_metrics),
        ):
            mlflow.log_metrics(
                {f"{prefix}_{k}": v for k, v in figures.items() if not math.isnan(v)}
            )
        mlflow.log_text("\n".join(decision.reasons), "gate_reasons.txt")
    client.set_model_version_tag(name, decision.version, TAG_PREFIX + "gate_decision", verdict)
    client.set_model_version_tag(
        name, decision.version, TAG_PREFIX + "gate_reasons", "; ".join(decision.reasons)
    )
    if decision.promoted:
        if decision.champion is not None:
            client.set_registered_model_alias(name, PREVIOUS, decision.champion)
        client.set_registered_model_alias(name, CHAMPION, decision.version)
        aliases = client.get_registered_model(name).aliases
        if str(aliases.get(CHALLENGER)) == decision.version:
            client.delete_registered_model_alias(name, CHALLENGER)
    elif decision.champion != decision.version:
        client.set_registered_model_alias(name, CHALLENGER, decision.version)
    logger.info("gate: version %s %s (%s)", decision.version, verdict, "; ".join(decision.reasons))
