"""Functions run in spawned processes by the records tests (importable by name)."""

from __future__ import annotations

from typing import Any

from fraudlens.records import PgAuditLog, make_engine


def append_audit_entries(url: str, key: bytes, count: int, actor: str, barrier: Any) -> None:
    """Append ``count`` audit entries as ``actor``, starting when ``barrier`` opens."""
    engine = make_engine(url, pool_size=1)
    log = PgAuditLog(engine, key)
    barrier.wait(timeout=60)
    for i in range(count):
        log.append(actor, "rule.changed", target=f"rule-{i}", details={"i": i, "by": actor})
    engine.dispose()


def run_sink(settings: Any, batch_size: int, consumer_config: dict[str, Any]) -> None:
    """Run the decision sink until killed."""
    from fraudlens.records.sink import run_decision_sink

    run_decision_sink(settings, batch_size=batch_size, consumer_config=consumer_config)


def serve_scoring_api(kafka: Any, data_dir: Any, port: int) -> None:
    """Serve the real scoring API (fake model, real decisions topic sink) until killed."""
    import uvicorn
    from fake_api import fake_api_context, fake_service

    from fraudlens.kafka import EventProducer
    from fraudlens.scoring.decision_topic import KafkaDecisionSink

    # A long linger: an answered decision must be durable whatever the producer batches.
    producer = EventProducer(kafka, config={"linger.ms": 500})
    decisions = KafkaDecisionSink(producer, kafka.decisions_topic, "api")
    service = fake_service(decisions=decisions)
    service.warm_up()
    from ray_apps.api import create_api

    uvicorn.run(
        create_api(fake_api_context(service)), host="127.0.0.1", port=port, log_level="warning"
    )


def score_stream(settings: Any, consumer_config: dict[str, Any], delay_s: float) -> None:
    """Run the stream scorer (fake model, a store taking ``delay_s`` per batch) until killed."""
    from fake_api import fake_service

    from fraudlens.scoring.fakes import FakeFeatures
    from fraudlens.scoring.stream import run_stream_scorer

    features = FakeFeatures()
    features.delay_s = delay_s
    run_stream_scorer(
        settings, service=fake_service(features=features), consumer_config=consumer_config
    )


def replica_settings(records_url: str, data_dir: Any, audit_key: str, keys: dict[str, str]) -> Any:
    """Settings of a replica or job on one records database: PostgreSQL rule store and
    audit chain, the admin API keys ``keys`` (key id -> SHA-256)."""
    from fraudlens.settings import Settings

    return Settings(
        data_dir=data_dir,
        records={"database_url": records_url},
        serve={"rules_store": "postgres"},
        security={
            "audit_hmac_key": audit_key,
            "api_keys": {kid: {"role": "admin", "sha256": digest} for kid, digest in keys.items()},
        },
    )


def serve_admin_api(settings: Any, port: int) -> None:
    """Serve the real scoring API with its admin routes wired from ``settings``
    (``AdminContext.from_settings``: the rule store and audit chain a replica uses)."""
    import uvicorn
    from fake_api import fake_api_context, fake_service

    from ray_apps.admin import AdminContext
    from ray_apps.api import authenticator_for, create_api

    service = fake_service()
    service.warm_up()
    ctx = fake_api_context(
        service,
        authenticator=authenticator_for(settings),
        admin=AdminContext.from_settings(settings),
    )
    uvicorn.run(create_api(ctx), host="127.0.0.1", port=port, log_level="warning")


def append_as_job(settings: Any, count: int, go: Any) -> None:
    """Append ``count`` promotion entries to the configured audit chain, as a retraining job
    process would (``audit_log_from_settings``), once ``go`` is set."""
    from fraudlens.security.audit import Action, audit_log_from_settings

    log = audit_log_from_settings(settings)
    go.wait(timeout=120)
    for i in range(count):
        log.append("job:retrain", Action.MODEL_PROMOTED, target=f"v{i}", details={"i": i})
