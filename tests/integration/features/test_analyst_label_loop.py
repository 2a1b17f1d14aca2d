"""An analyst's verdict in the browser reaches the terminal's fraud count on the next score.

The whole path is real except the model (the package's small logistic fake):
the review decision goes through the records sink's writer (which opens the
case), an analyst signs in to the workspace in Chromium, opens the top case
and marks it fraud (label in PostgreSQL, on the labels topic, audited), the
stream feature job folds the transactions and that label into the Feast
online store, and the same scoring service reads the terminal's features
from it for the terminal's next transactions: one before the label arrived
(count 0), one after (count 1).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from browser import ResponseRecorder, chromium, served, signed_in
from fake_api import fake_api_context
from sqlalchemy import Engine, select

from fraudlens.features.stream import run_stream_job
from fraudlens.kafka import EventProducer
from fraudlens.kafka.consumer import ConsumedEvent
from fraudlens.records.audit import PgAuditLog
from fraudlens.records.sink import DecisionWriter
from fraudlens.records.tables import labels
from fraudlens.schema import Transaction
from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.adapters import FeastFeatures
from fraudlens.scoring.fakes import FakeLoader, FakeModel
from fraudlens.scoring.stream import decision_event
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.settings import ApiKeyEntry, Settings, WorkspaceSettings
from fraudlens.workspace import CaseDesk
from fraudlens.workspace.web import WorkspaceContext
from ray_apps.api import create_api
from ray_apps.labels import KafkaLabelPublisher

pytestmark = pytest.mark.integration

DAY = datetime(2026, 6, 1, tzinfo=UTC)
TERMINAL = "TLOOP1"
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def _txn(tid: str, card: str, when: datetime, amount: float = 80.0) -> Transaction:
    return Transaction(
        transaction_id=tid,
        event_time=when,
        card_token="tok_test_" + card * 32,
        customer_id=f"c-{card}",
        terminal_id=TERMINAL,
        merchant_id="M1",
        mcc="5732",
        amount=amount,
        currency="EUR",
        channel="card_present",  # type: ignore[arg-type]
        entry_mode="chip",  # type: ignore[arg-type]
        country="FR",
    )


def test_analyst_fraud_label_counts_on_the_next_score(
    feature_settings: Settings, records_engine: Engine, pan_guard: Any
) -> None:
    kafka = feature_settings.kafka
    model = FakeModel(
        "1",
        weights={"term_fraud_count_7d": 1.0, "term_tx_count_7d": 0.0},
        feature_service="fraud_model_v1",
    )
    service = ScoringService(
        FakeLoader([model], {"champion": "1"}), FeastFeatures(feature_settings)
    )
    service.apply_config(ScoringConfig())

    sold = [
        _txn("loop-1", "a", DAY + timedelta(hours=10), 900.0),
        _txn("loop-2", "b", DAY + timedelta(hours=11)),
    ]
    with EventProducer(kafka) as producer:
        for txn in sold:
            producer.send_event(kafka.transactions_topic, txn, key=txn.card_token)
        producer.flush()

    # The first sale was sent to review: the records sink stores it and opens its case.
    (result,) = service.score(sold[:1])
    event = decision_event(result, DAY + timedelta(hours=10, seconds=1)).model_copy(
        update={"decision": "review", "source": "stream"}
    )
    writer = DecisionWriter(records_engine)
    writer([ConsumedEvent(event, kafka.decisions_topic, 0, 0)])  # type: ignore[arg-type]
    assert writer.stats.cases_opened == 1

    verdict_time = DAY + timedelta(days=1, hours=8)
    publisher = KafkaLabelPublisher(kafka)
    audit = PgAuditLog(records_engine)
    desk = CaseDesk(records_engine, publisher, audit, clock=lambda: verdict_time)
    _, key, digest = generate_api_key("ana")
    authenticator = Authenticator({"ana": ApiKeyEntry(role="analyst", sha256=digest)})
    app = ResponseRecorder(
        create_api(
            fake_api_context(
                service,
                labels=publisher,
                authenticator=authenticator,
                workspace=WorkspaceContext.ready(
                    records_engine, desk, authenticator, WorkspaceSettings(secure_cookie=False)
                ),
            )
        )
    )
    with served(app) as url, chromium() as browser:
        page = signed_in(browser, f"{url}/workspace", key)
        page.locator("a.case-link").first.click()
        assert page.locator("#transaction-id").inner_text() == "loop-1"
        page.fill("textarea[name=note]", "confirmed with the cardholder")
        page.click("#mark-fraud")
        assert page.locator("#case-resolution").inner_text() == "fraud"
    publisher.close()
    with records_engine.connect() as conn:
        stored = conn.execute(select(labels).where(labels.c.transaction_id == "loop-1")).one()
    assert (stored.is_fraud, stored.source, stored.author) == (True, "analyst", "api_key:ana")
    assert audit.verify().problems == []
    for path, body in app.bodies:
        pan_guard.scan_text(body.decode(errors="replace"), f"workspace response {path}")

    stats = run_stream_job(
        feature_settings,
        threading.Event(),
        group_id=f"loop-{uuid.uuid4().hex[:6]}",
        idle_timeout=4.0,
        consumer_config=FAST_GROUP,
        offline=False,
    )
    assert stats.applied == 3  # two sales and the analyst's label

    before, after = service.score(
        [
            _txn("loop-3", "c", verdict_time - timedelta(hours=1)),  # label not arrived yet
            _txn("loop-4", "d", DAY + timedelta(days=2, hours=9)),  # the terminal's next sale
        ]
    )
    assert before.features["term_tx_count_7d"] == after.features["term_tx_count_7d"] == 2
    assert before.features["term_fraud_count_7d"] == 0
    assert after.features["term_fraud_count_7d"] == 1
    assert after.score is not None and before.score is not None and after.score > before.score
