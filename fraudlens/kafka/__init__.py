"""The Kafka layer: embedded broker, topics, producer, at-least-once consumer, replay."""

from __future__ import annotations

from fraudlens.kafka.broker import EmbeddedBroker, broker_binary, free_port
from fraudlens.kafka.consumer import (
    CONSUMER_DEFAULTS,
    ConsumedEvent,
    ConsumerStats,
    Decoder,
    EventConsumer,
    Handler,
    consume,
    dead_letter_headers,
    default_decoders,
)
from fraudlens.kafka.producer import PRODUCER_DEFAULTS, EventProducer, event_key
from fraudlens.kafka.replay import (
    ReplayResult,
    TokenBucket,
    encode_events,
    replay,
    replay_labels,
)
from fraudlens.kafka.topics import all_topics, ensure_topics

__all__ = [
    "CONSUMER_DEFAULTS",
    "PRODUCER_DEFAULTS",
    "ConsumedEvent",
    "ConsumerStats",
    "Decoder",
    "EmbeddedBroker",
    "EventConsumer",
    "EventProducer",
    "Handler",
    "ReplayResult",
    "TokenBucket",
    "all_topics",
    "broker_binary",
    "consume",
    "dead_letter_headers",
    "default_decoders",
    "encode_events",
    "ensure_topics",
    "event_key",
    "free_port",
    "replay",
    "replay_labels",
]
