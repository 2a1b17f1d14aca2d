"""Kafka events as the feature runners see them, and the stream job's counters."""

from __future__ import annotations

from dataclasses import dataclass

from fraudlens.features.fold import Event, LabelEvent
from fraudlens.features.odfv import time_us
from fraudlens.features.online_ids import device_code, ip_code
from fraudlens.features.state import TxnEvent, coord
from fraudlens.schema import Label, Transaction


def to_event(event: Transaction | Label) -> Event:
    """The feature runners' view of a validated event."""
    if isinstance(event, Label):
        return LabelEvent(event.transaction_id, time_us(event.label_time), event.is_fraud)
    return TxnEvent(
        event.transaction_id,
        time_us(event.event_time),
        event.card_token,
        event.terminal_id,
        event.merchant_id,
        event.country,
        event.amount,
        coord(event.latitude),
        coord(event.longitude),
        device_code(event.device_id),
        ip_code(event.ip_address),
    )


@dataclass
class JobStats:
    """What one run of the job did (``*_seconds``: where the time went)."""

    consumed: int = 0
    applied: int = 0
    dead_lettered: int = 0
    late: int = 0
    batches: int = 0
    rows_offline: int = 0
    rows_pushed: int = 0
    replayed: int = 0
    seconds: float = 0.0
    read_seconds: float = 0.0
    fold_seconds: float = 0.0
    offline_seconds: float = 0.0
    push_seconds: float = 0.0
    first_message_at: float | None = None  # time.monotonic() of the first message
    last_batch_at: float | None = None  # time.monotonic() after the last pushed batch
