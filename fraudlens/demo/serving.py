"""Demo step 5: serve the champion, score the last day through the API and the stream scorer."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from fraudlens.demo.state import DemoState
from fraudlens.kafka import EventProducer, ensure_topics, replay
from fraudlens.schema import TRANSACTION_FIELDS

API_SAMPLE = 300  # transactions sent one by one through the HTTP API


def serving_step(state: DemoState, console: Console) -> None:
    """Start Ray Serve, score a sample by HTTP and the whole last day from Kafka, summarize."""
    from ray import serve

    from fraudlens.scoring.decision_log import read_log
    from fraudlens.scoring.factory import decisions_dir
    from fraudlens.scoring.stream import run_stream_scorer
    from fraudlens.scoring.summary import require_not_degraded, summarize_decisions
    from ray_apps.run import serve_local

    console.rule("5. serve the champion; score the last day (HTTP API and stream scorer)")
    settings = state.settings
    transactions = pd.read_parquet(state.sim_dir / "transactions.parquet")
    last_day = transactions["event_time"].dt.date.max()
    day = transactions.loc[transactions["event_time"].dt.date == last_day]

    url = serve_local(settings, blocking=False)
    try:
        latencies, degraded = _score_over_http(url, day.head(API_SAMPLE), console)
        # The stream scorer takes the rest of the day: each transaction is decided once.
        rest = day.iloc[API_SAMPLE:]
        kafka = settings.kafka.model_copy(update={"transactions_topic": "demo-last-day"})
        day_settings = settings.model_copy(update={"kafka": kafka})
        ensure_topics(kafka, [kafka.transactions_topic, kafka.decisions_topic])
        with EventProducer(kafka) as producer:
            replay(rest, producer, kafka.transactions_topic)
        started = time.perf_counter()
        stats = run_stream_scorer(day_settings, idle_timeout=10.0, max_events=len(rest))
        seconds = time.perf_counter() - started
        console.print(
            f"stream scorer: the other {stats.processed:,} transactions of {last_day} scored and "
            f"published to '{kafka.decisions_topic}' in {seconds:.1f} s"
        )
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]

    summary = summarize_decisions(read_log(decisions_dir(settings)), transactions)
    state.summary["serving"] = summary | {
        "http_latency_ms": latencies,
        "http_degraded": degraded,
        "stream_published": stats.processed,
    }
    console.print(decisions_table(summary))
    # Every service is up: a degraded answer here is a defect, not a figure to report.
    require_not_degraded(degraded, "demo HTTP API")
    logged = int(summary.get("degraded", 0))
    require_not_degraded({"in the decision log": logged} if logged else {}, "demo scoring")


def decisions_table(summary: dict[str, Any]) -> Table:
    """The decision log's summary (``summarize_decisions``) as a table of figures."""
    table = Table(title="the day's decisions (decision log: HTTP API and stream scorer)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("decisions", f"{summary['decisions']:,}")
    for decision, count in summary.get("by_decision", {}).items():
        table.add_row(f"  {decision}", f"{count:,}")
    if "degraded" in summary:
        table.add_row("degraded (scored without stored features)", f"{summary['degraded']:,}")
    if "latency_ms" in summary:
        latency = summary["latency_ms"]
        table.add_row("decision latency p50 / p99", f"{latency['p50']} / {latency['p99']} ms")
    fraud = summary.get("fraud")
    if fraud:
        recall = "-" if fraud["recall"] is None else f"{fraud['recall']:.1%}"
        table.add_row("fraudulent transactions", f"{fraud['transactions']:,}")
        table.add_row("  caught (review or decline)", f"{fraud['caught']:,} ({recall})")
        table.add_row("  amount caught", f"{fraud['amount_caught']:,.2f} of {fraud['amount']:,.2f}")
        table.add_row("legitimate ones flagged", f"{fraud['legit_flagged']:,}")
    for code, count in summary.get("top_reasons", {}).items():
        table.add_row(f"reason of flagged: {code}", f"{count:,}")
    return table


def _score_over_http(
    url: str, sample: pd.DataFrame, console: Console
) -> tuple[dict[str, float], dict[str, int]]:
    """POST each transaction to /v1/score; print flagged ones with their reasons.

    Returns:
        Client latency figures, and the degraded answers by cause.
    """
    from fraudlens.scoring.summary import degraded_by_cause

    latencies: list[float] = []
    answers: list[dict[str, Any]] = []
    table = Table("transaction", "amount", "score", "decision", "reasons")
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for record in sample[list(TRANSACTION_FIELDS)].to_dict("records"):
            body = {k: v for k, v in record.items() if v is not None and v == v}
            body["event_time"] = record["event_time"].isoformat()
            started = time.perf_counter()
            response = client.post("/v1/score", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            answer = response.json()
            answers.append(answer)
            if answer["decision"] != "approve" and len(table.rows) < 8:
                reasons = "; ".join(r["text"] for r in answer["reasons"][:3])
                table.add_row(
                    answer["transaction_id"],
                    f"{record['amount']:.2f}",
                    f"{answer['score']:.3f}",
                    answer["decision"],
                    reasons,
                )
    figures = {
        "requests": float(len(latencies)),
        "p50": round(float(np.percentile(latencies, 50)), 2),
        "p99": round(float(np.percentile(latencies, 99)), 2),
    }
    console.print(
        f"HTTP API: {len(latencies)} requests one by one, client latency "
        f"p50 {figures['p50']} ms, p99 {figures['p99']} ms"
    )
    degraded = degraded_by_cause(answers)
    if degraded:
        why = ", ".join(f"{n} {cause.replace('_', ' ')}" for cause, n in degraded.items())
        console.print(
            f"[red]degraded answers: {sum(degraded.values())} of {len(answers)}[/red] ({why})"
        )
    else:
        console.print(f"degraded answers: 0 of {len(answers)}")
    console.print(table)
    return figures, degraded
