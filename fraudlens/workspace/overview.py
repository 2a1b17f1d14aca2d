"""The team's overview: alerts and verdicts per day, queue size, time to decision, precision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, Date, cast, func, select

from fraudlens.records.tables import cases, decisions


@dataclass
class Overview:
    """Figures of the overview page.

    Attributes:
        alerts_per_day: cases opened per day of the transaction, oldest first.
        verdicts_per_day: (day of the transaction, confirmed frauds, verdicts), oldest first.
        queue_size: open and escalated cases.
        decided: cases with a verdict.
        median_minutes_to_decision: opened -> verdict (None: no verdict yet).
        precision: share of verdicts that confirmed fraud (None: no verdict yet).
        precision_by_decision: the same per decision that opened the case (review, decline).
        fraud_by_model: confirmed frauds where no rule hit (the model flagged them).
        fraud_by_rules: confirmed frauds where a rule hit.
    """

    alerts_per_day: list[tuple[date, int]] = field(default_factory=list)
    verdicts_per_day: list[tuple[date, int, int]] = field(default_factory=list)
    queue_size: int = 0
    decided: int = 0
    median_minutes_to_decision: float | None = None
    precision: float | None = None
    precision_by_decision: dict[str, float] = field(default_factory=dict)
    fraud_by_model: int = 0
    fraud_by_rules: int = 0


def overview(conn: Connection, days: int = 14) -> Overview:
    """Read the overview figures (the last ``days`` days that have alerts)."""
    day = cast(decisions.c.event_time, Date)
    joined = cases.join(decisions, decisions.c.decision_id == cases.c.decision_id)
    per_day = conn.execute(
        select(day, func.count()).select_from(joined).group_by(day).order_by(day.desc()).limit(days)
    ).all()
    verdicts = conn.execute(
        select(day, func.count().filter(cases.c.resolution == "fraud"), func.count())
        .select_from(joined)
        .where(cases.c.resolution.is_not(None))
        .group_by(day)
        .order_by(day.desc())
        .limit(days)
    ).all()
    queue = conn.execute(
        select(func.count()).where(cases.c.status.in_(("open", "escalated")))
    ).scalar_one()
    minutes = func.extract("epoch", cases.c.closed_at - cases.c.opened_at) / 60.0
    decided, median, frauds = conn.execute(
        select(
            func.count(),
            func.percentile_cont(0.5).within_group(minutes),
            func.count().filter(cases.c.resolution == "fraud"),
        ).where(cases.c.resolution.is_not(None))
    ).one()
    per_decision = conn.execute(
        select(
            decisions.c.decision, func.count().filter(cases.c.resolution == "fraud"), func.count()
        )
        .select_from(joined)
        .where(cases.c.resolution.is_not(None))
        .group_by(decisions.c.decision)
        .order_by(decisions.c.decision.desc())
    ).all()
    by_rules = conn.execute(
        select(func.count())
        .select_from(joined)
        .where(cases.c.resolution == "fraud", func.jsonb_array_length(decisions.c.rule_hits) > 0)
    ).scalar_one()
    return Overview(
        alerts_per_day=[(d, int(n)) for d, n in reversed(per_day)],
        verdicts_per_day=[(d, int(f), int(n)) for d, f, n in reversed(verdicts)],
        queue_size=int(queue),
        decided=int(decided),
        median_minutes_to_decision=None if median is None else float(median),
        precision=frauds / decided if decided else None,
        precision_by_decision={d: int(f) / int(n) for d, f, n in per_decision},
        fraud_by_model=int(frauds) - int(by_rules),
        fraud_by_rules=int(by_rules),
    )


def bar_chart(
    values: list[tuple[str, int]], width: int = 480, height: int = 120
) -> dict[str, object]:
    """Bars for a server-rendered SVG: each with x, y, width, height, label and value."""
    top = max((v for _, v in values), default=0) or 1
    step = width / max(len(values), 1)
    bars = [
        {
            "x": round(i * step + 2, 1),
            "width": round(max(step - 4, 1), 1),
            "height": round(v / top * (height - 20), 1),
            "y": round(height - 20 - v / top * (height - 20), 1),
            "label": label,
            "value": v,
        }
        for i, (label, v) in enumerate(values)
    ]
    return {"width": width, "height": height, "bars": bars}
