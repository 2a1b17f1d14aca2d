"""Demo step 5b: the decisions topic and the labels topic into PostgreSQL (the system of record)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from fraudlens.demo.state import DemoState
from fraudlens.errors import DataError

if TYPE_CHECKING:
    from fraudlens.records.sink import SinkStats


def records_step(state: DemoState, console: Console) -> None:
    """Run the records sink over the topics; every published decision must be stored once."""
    from fraudlens.records import count_decisions, records_engine
    from fraudlens.records.sink import run_decision_sink

    console.rule("5b. system of record: decisions and labels from Kafka into PostgreSQL")
    settings = state.settings
    serving = state.summary["serving"]
    published = int(serving["stream_published"])
    if settings.resolved_decision_sink() != "parquet":  # the API published its answers too
        published += int(serving["http_latency_ms"]["requests"])
    started = time.perf_counter()
    stats = run_decision_sink(settings, idle_timeout=10.0, labels=True)
    seconds = time.perf_counter() - started
    with records_engine(settings) as engine, engine.connect() as conn:
        stored = count_decisions(conn)
    records = settings.records
    where = (
        "the configured database"
        if records.database_url
        else str(records.resolved_embedded_dir(settings.data_dir))
    )
    console.print(
        f"records sink: {stats.inserted:,} decisions and {stats.labels_inserted:,} labels stored "
        f"in PostgreSQL ({where}) "
        f"in {seconds:.1f} s; {stats.cases_opened:,} cases opened for analysts; "
        f"{stats.dead_lettered} dead-lettered"
    )
    state.summary["records"] = {
        "decisions_stored": stored,
        "labels_stored": stats.labels_inserted,
        "dead_lettered": stats.dead_lettered,
        "cases_opened": stats.cases_opened,
    }
    if stored != published:
        raise DataError(
            f"demo check failed: the API and the stream scorer published {published:,} decisions, "
            f"PostgreSQL holds {stored:,}"
        )
    console.print(f"every published decision is stored exactly once ({stored:,} rows)")
    if settings.resolved_decision_sink() != "parquet":  # the log's decisions all reached the sink
        require_cases(serving.get("by_decision", {}), settings.workspace.case_decisions, stats)


def require_cases(
    by_decision: dict[str, int], case_decisions: Sequence[str], stats: SinkStats
) -> None:
    """Every decision that opens a case (``workspace.case_decisions``) opened exactly one.

    Raises:
        DataError: the sink opened a different number of cases.
    """
    expected = sum(int(by_decision.get(d, 0)) for d in case_decisions)
    if stats.cases_opened != expected:
        raise DataError(
            f"demo check failed: the day has {expected:,} decisions that open a case "
            f"({', '.join(case_decisions)}), the records sink opened {stats.cases_opened:,}"
        )
