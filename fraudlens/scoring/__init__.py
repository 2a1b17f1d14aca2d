"""Real-time scoring shared by the API and the stream scorer.

request -> features (online store, or request-only when degraded) -> model ->
decision policy (thresholds, lists, limits) -> reasons -> decision log.
"""

from __future__ import annotations

from fraudlens.scoring.active import ActiveModel
from fraudlens.scoring.batcher import MicroBatcher
from fraudlens.scoring.config import (
    EntityLists,
    Limit,
    Rules,
    ScoringConfig,
    ThresholdOverride,
    load_rules,
)
from fraudlens.scoring.decision_log import DecisionLog, ParquetLog, read_log
from fraudlens.scoring.factory import build_service, decisions_dir, default_config, shadow_dir
from fraudlens.scoring.feature_sample import feature_sampled
from fraudlens.scoring.result import Reason, RuleHit, ScoreResult, decision_id
from fraudlens.scoring.scorer import Scored, Scorer
from fraudlens.scoring.service import NotReadyError, ScoringService, probe_model
from fraudlens.scoring.shadow import InProcessShadow, ShadowScorer, read_shadow
from fraudlens.scoring.summary import summarize_decisions

__all__ = [
    "ActiveModel",
    "DecisionLog",
    "EntityLists",
    "InProcessShadow",
    "Limit",
    "MicroBatcher",
    "NotReadyError",
    "ParquetLog",
    "Reason",
    "RuleHit",
    "Rules",
    "ScoreResult",
    "Scored",
    "Scorer",
    "ScoringConfig",
    "ScoringService",
    "ShadowScorer",
    "ThresholdOverride",
    "build_service",
    "decision_id",
    "decisions_dir",
    "default_config",
    "feature_sampled",
    "load_rules",
    "probe_model",
    "read_log",
    "read_shadow",
    "shadow_dir",
    "summarize_decisions",
]
