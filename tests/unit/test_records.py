"""Records without a database: what the decision sink refuses, and URLs from settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fraudlens.errors import ConfigError, ValidationError
from fraudlens.records import database_url, decision_row, sqlalchemy_url
from fraudlens.records.sink import parse_decision
from fraudlens.scoring.result import Reason
from fraudlens.scoring.stream import DecisionEvent
from fraudlens.settings import Settings

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _raw(**changes: object) -> bytes:
    event = DecisionEvent(
        decision_id="dec-1",
        transaction_id="tx-1",
        event_time=T0,
        card_token="tok_a",
        score=0.2,
        decision="approve",
        reasons=[],
        model_version="3",
        degraded=False,
        scored_at=T0,
    )
    return event.model_copy(update=changes).model_dump_json().encode()


def test_a_valid_decision_parses() -> None:
    event = parse_decision(_raw())
    assert (event.decision_id, event.source, event.event_time) == ("dec-1", "stream", T0)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (None, "$"),
        (b"{not json", "$"),
        (_raw().replace(b'"decision":"approve"', b'"decision":"maybe"'), "decision"),
        (_raw().replace(b'"decision_id":"dec-1",', b""), "decision_id"),
        (_raw(source="batch"), "source"),
        (_raw(decision_id="d" * 65), "decision_id"),
        (_raw(card_token="tok_" + "a" * 200), "card_token"),
        (_raw(model_version="v\x00"), "$"),
    ],
)
def test_what_cannot_be_stored_is_refused_naming_the_field(raw: bytes | None, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_decision(raw)
    assert caught.value.field == field


def test_urls_get_the_psycopg_driver_and_production_needs_one() -> None:
    assert sqlalchemy_url("postgresql://u:p@db:5432/fl") == "postgresql+psycopg://u:p@db:5432/fl"
    with pytest.raises(ConfigError, match="postgresql"):
        sqlalchemy_url("mysql://u@db/fl")
    with pytest.raises(ConfigError, match="not a valid"):
        sqlalchemy_url("::nope::")
    production = Settings(mode="production", kafka={"bootstrap_servers": "b:9092"})
    with pytest.raises(ConfigError, match="FRAUDLENS_RECORDS__DATABASE_URL"):
        database_url(production)
    configured = Settings(records={"database_url": "postgresql://u:pw-Zq81@db/fl"})
    assert database_url(configured) == "postgresql+psycopg://u:pw-Zq81@db/fl"
    assert "pw-Zq81" not in repr(configured)


def test_decision_rows_hold_no_nan_and_list_the_rule_hits() -> None:
    event = parse_decision(_raw())
    event = event.model_copy(
        update={
            "reasons": [
                Reason(kind="rule", code="blocked_card", text="card on block list"),
                Reason(kind="model", code="amount", text="amount", value=float("nan")),
            ]
        }
    )
    row = decision_row(event)
    assert row["rule_hits"] == ["blocked_card"]
    assert row["reasons"][1]["value"] is None
    assert json.dumps(row["reasons"], allow_nan=False)
