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
        (_raw(features={f"f{i}": 0.0 for i in range(1025)}), "features"),
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


def test_a_refused_batch_is_counted_and_not_acknowledged() -> None:
    from fraudlens.errors import RecordsError
    from fraudlens.kafka.consumer import ConsumedEvent
    from fraudlens.records import make_engine
    from fraudlens.records.sink import DecisionWriter

    engine = make_engine("postgresql://nobody@127.0.0.1:1/none", pool_size=0)  # nothing listens
    writer = DecisionWriter(engine)
    batch = [ConsumedEvent(parse_decision(_raw()), "decisions", 0, 0)]  # type: ignore[arg-type]
    with pytest.raises(RecordsError, match="storing a batch of 1 failed"):
        writer(batch)
    errors = writer.metrics.registry.get_sample_value("fraudlens_records_sink_errors_total")
    stored = writer.metrics.registry.get_sample_value(
        "fraudlens_records_sink_stored_total", {"kind": "decision"}
    )
    assert (errors, stored, writer.stats.inserted) == (1.0, None, 0)


def test_production_scoring_writes_no_files() -> None:
    from pydantic import ValidationError as SettingsError

    prod = {"mode": "production", "kafka": {"bootstrap_servers": "b:9092"}}
    assert Settings.model_validate(prod).records.decision_sink == "kafka"
    assert Settings.model_validate(prod).resolved_decision_sink() == "kafka"
    assert Settings().resolved_decision_sink() == "parquet"  # no broker: the Parquet log
    # With a broker and the workspace, the API's reviews reach the sink, which opens cases.
    broker = {"kafka": {"bootstrap_servers": "127.0.0.1:9092"}}
    assert Settings.model_validate(broker).resolved_decision_sink() == "both"
    no_workspace = broker | {"workspace": {"enabled": False}}
    assert Settings.model_validate(no_workspace).resolved_decision_sink() == "parquet"
    chosen = broker | {"records": {"decision_sink": "parquet"}}
    assert Settings.model_validate(chosen).resolved_decision_sink() == "parquet"
    for choice in ("parquet", "both"):
        with pytest.raises(SettingsError, match="records.decision_sink must be kafka"):
            Settings.model_validate(prod | {"records": {"decision_sink": choice}})
