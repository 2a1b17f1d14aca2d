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
