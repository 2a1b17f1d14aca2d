"""Shadow scores beside (or instead of) the shadow log: publish to the shadow-scores topic.

With ``records.decision_sink=kafka`` (or ``both``) the challenger's scores go
where decisions go: the scorer publishes each comparison row as a
``ShadowEvent`` to ``kafka.shadow_topic`` and ``fraudlens records sink``
stores it in the ``shadow_scores`` table, one row per transaction and
challenger version. No file is written on the scoring pod, so no replica's
scores are lost with it or kept apart from the others'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from fraudlens.kafka.producer import EventProducer
from fraudlens.scoring.decision_topic import close_all
from fraudlens.scoring.shadow import ShadowLog

Decision = Literal["approve", "review", "decline"]


class ShadowEvent(BaseModel):
    """One shadow comparison as published on the shadow-scores topic (keyed by transaction id)."""

    schema_version: Literal[1] = 1
    transaction_id: str
    event_time: datetime
    scored_at: datetime
    champion_version: str
    champion_score: float | None
    champion_decision: Decision
    challenger_version: str
    challenger_score: float
    challenger_decision: Decision
    agree: bool


class KafkaShadowLog:
    """A ``ShadowLog`` that publishes its rows and waits for the broker's acknowledgement.

    Args:
        producer: an open producer (closed by ``close``).
        topic: the shadow-scores topic.
        ack_timeout_s: how long ``append`` waits for the acknowledgement.
    """

    def __init__(self, producer: EventProducer, topic: str, ack_timeout_s: float = 10.0) -> None:
        self.producer = producer
        self.topic = topic
        self.ack_timeout_s = ack_timeout_s

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Publish the rows (``ShadowScorer``'s comparison rows).

        Raises:
            BrokerError: the broker did not acknowledge every row in time.
        """
        for row in rows:
            event = ShadowEvent.model_validate(row)
            self.producer.send(self.topic, event.transaction_id, event.model_dump_json().encode())
        self.producer.flush(self.ack_timeout_s)

    def flush(self) -> int:
        """Nothing is buffered here: ``append`` waits for the broker."""
        return 0

    def close(self) -> None:
        """Release the producer (BrokerError names rows not delivered)."""
        self.producer.close()


class FanOutLog:
    """Appends every batch of rows to several shadow logs, in order."""

    def __init__(self, logs: Sequence[ShadowLog]) -> None:
        self.logs = list(logs)

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Append the rows to each log."""
        for log in self.logs:
            log.append(rows)

    def flush(self) -> int:
        """Flush each log; the most rows one of them wrote."""
        return max((log.flush() for log in self.logs), default=0)

    def close(self) -> None:
        """Close every log, even when one fails (the first error is raised)."""
        close_all(self.logs, "shadow log")
