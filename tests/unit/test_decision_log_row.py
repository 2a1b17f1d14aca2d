"""The decision log's row of a result: the same columns and values, whatever the
features' container (a scored batch's ``FeatureRow`` or a plain dict)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from test_decision_json import _made, _scored

from fraudlens.scoring.decision_log import FEATURE_PREFIX, decision_row
from fraudlens.scoring.result import ScoreResult

SCORED_AT = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)


def _reference(result: ScoreResult, source: str) -> dict[str, Any]:
    """The row as written before the fast path, field by field."""
    row: dict[str, Any] = {
        "decision_id": result.decision_id,
        "transaction_id": result.transaction_id,
        "event_time": result.event_time,
        "scored_at": SCORED_AT,
        "card_token": result.card_token,
        "score": result.score,
        "decision": result.decision,
        "model_version": result.model_version,
        "degraded": result.degraded,
        "review_threshold": result.thresholds[0],
        "decline_threshold": result.thresholds[1],
        "rule_hits": json.dumps(result.rule_hits),
        "reasons": json.dumps([r.model_dump(exclude_none=True) for r in result.reasons]),
        "latency_ms": result.latency_ms,
        "source": source,
    }
    for name, value in result.features.items():
        row[FEATURE_PREFIX + name] = value
    return row


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal keys in order, equal values (NaN equal to NaN), equal types."""
    if list(a) != list(b):
        return False
    for key, value in a.items():
        other = b[key]
        if type(value) is not type(other):
            return False
        if isinstance(value, float) and math.isnan(value):
            if not math.isnan(other):
                return False
        elif value != other:
            return False
    return True


def test_decision_rows_keep_their_columns_and_values() -> None:
    results = _scored() + _scored(down=True) + _made()
    results.append(_made()[0])
    results[-1].features = {}
    assert any(r.rule_hits for r in results) and any(not r.reasons for r in results)
    for result in results:
        assert _same(decision_row(result, "stream", SCORED_AT), _reference(result, "stream"))
