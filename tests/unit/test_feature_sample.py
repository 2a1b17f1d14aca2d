"""Which decisions carry their feature vector to PostgreSQL, and how it travels."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from fraudlens.records import decision_row
from fraudlens.records.sink import parse_decision
from fraudlens.scoring.decision_topic import KafkaDecisionSink
from fraudlens.scoring.feature_sample import feature_sampled
from fraudlens.scoring.result import ScoreResult
from fraudlens.scoring.stream import DecisionEvent, decision_event
from fraudlens.settings import Settings

T0 = datetime(2026, 6, 1, tzinfo=UTC)
IDS = [f"tx-{i}:7" for i in range(20_000)]


def _result(decision_id: str, features: dict[str, float] | None = None) -> ScoreResult:
    return ScoreResult(
        transaction_id=decision_id.split(":")[0],
        decision_id=decision_id,
        event_time=T0,
        card_token="tok_a",
        score=0.2,
        decision="approve",
        reasons=[],
        model_version="7",
        degraded=False,
        thresholds=(0.5, 0.9),
        features={"amount": 12.5, "count_1d": 3.0} if features is None else features,
    )


def test_the_sample_is_a_function_of_the_decision_id_alone() -> None:
    once = [feature_sampled(i, 0.1) for i in IDS]
    assert once == [feature_sampled(i, 0.1) for i in IDS]  # replicas, redeliveries agree
    assert not any(feature_sampled(i, 0.0) for i in IDS)
    assert all(feature_sampled(i, 1.0) for i in IDS)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_the_sampled_share_is_the_rate(rate: float) -> None:
    share = sum(feature_sampled(i, rate) for i in IDS) / len(IDS)
    assert share == pytest.approx(rate, abs=4 * (rate * (1 - rate) / len(IDS)) ** 0.5)


def test_a_higher_rate_keeps_every_decision_a_lower_one_sampled() -> None:
    low = {i for i in IDS if feature_sampled(i, 0.05)}
    high = {i for i in IDS if feature_sampled(i, 0.2)}
    assert low < high


def test_the_sampled_decisions_come_first_in_md5_order() -> None:
    # PostgreSQL's md5() is this hex digest: the drift read's order lists the sample first
    ordered = sorted(IDS, key=lambda i: hashlib.md5(i.encode()).hexdigest())
    flags = [feature_sampled(i, 0.1) for i in ordered]
    head = flags.index(False)
    assert all(flags[:head]) and not any(flags[head:])


def test_a_sampled_decision_carries_its_features_on_the_topic_and_into_the_row() -> None:
    ids = IDS[:400]
    events = [decision_event(_result(i), T0, "api", feature_sample_rate=0.25) for i in ids]
    carried = [e.decision_id for e in events if e.features is not None]
    assert carried == [i for i in ids if feature_sampled(i, 0.25)] and carried
    sampled = next(e for e in events if e.features is not None)
    stored = decision_row(parse_decision(sampled.model_dump_json().encode()))
    assert stored["features"] == {"amount": 12.5, "count_1d": 3.0}
    unsampled = next(e for e in events if e.features is None)
    assert decision_row(unsampled)["features"] is None
    assert b"features" in sampled.model_dump_json().encode()


def test_without_a_rate_or_features_nothing_extra_travels() -> None:
    assert decision_event(_result(IDS[0]), T0).features is None  # default rate: none
    assert decision_event(_result(IDS[0], {}), T0, feature_sample_rate=1.0).features is None


def test_non_finite_features_are_stored_as_null() -> None:
    event = decision_event(
        _result(IDS[0], {"amount": float("nan"), "km": float("inf"), "n": 1.0}), T0, "api", 1.0
    )
    row = decision_row(event)
    assert row["features"] == {"amount": None, "km": None, "n": 1.0}
    assert json.dumps(row["features"], allow_nan=False)
    wire = parse_decision(event.model_dump_json().encode())
    assert wire.features == {"amount": None, "km": None, "n": 1.0}


def test_events_of_older_producers_still_parse() -> None:
    old = decision_event(_result(IDS[0]), T0).model_dump(mode="json")
    del old["features"]
    event = DecisionEvent.model_validate_json(json.dumps(old))
    assert event.features is None and decision_row(event)["features"] is None


def test_the_api_topic_sink_samples_at_the_configured_rate() -> None:
    class Producer:
        sent: list[bytes] = []

        def send(self, topic: str, key: str, value: bytes, headers: object = None) -> None:
            self.sent.append(value)

        def flush(self, timeout: float = 60.0) -> None:
            pass

    producer = Producer()
    sink = KafkaDecisionSink(producer, "decisions", feature_sample_rate=1.0)  # type: ignore[arg-type]
    sink.write([_result(i) for i in IDS[:3]])
    assert all(json.loads(v)["features"]["amount"] == 12.5 for v in producer.sent)
    assert Settings().records.feature_sample_rate == 1.0
