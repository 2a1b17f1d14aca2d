"""Create the topics FraudLens uses, idempotently."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from fraudlens.errors import BrokerError
from fraudlens.settings import KafkaSettings

logger = logging.getLogger(__name__)


def all_topics(kafka: KafkaSettings) -> list[str]:
    """Return every topic named in ``kafka``: transactions, labels, decisions, dead-letter."""
    return [
        kafka.transactions_topic,
        kafka.labels_topic,
        kafka.decisions_topic,
        kafka.dead_letter_topic,
    ]


def ensure_topics(
    kafka: KafkaSettings,
    names: Iterable[str] | None = None,
    partitions: int | None = None,
    *,
    replication_factor: int = -1,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; existing topics are left as they are.

    Args:
        kafka: connection settings.
        names: topics to create; all FraudLens topics (see ``all_topics``) by default.
        partitions: partitions of new topics; ``kafka.partitions`` by default.
        replication_factor: replicas of new topics; -1 takes the broker default.
        timeout: seconds to wait for the broker.

    Returns:
        The names of the topics that were created by this call.

    Raises:
        BrokerError: the broker is unreachable or refused a topic.
    """
    wanted = list(dict.fromkeys(all_topics(kafka) if names is None else names))
    if not wanted:
        return []
    count = kafka.partitions if partitions is None else partitions
    admin = AdminClient(dict(kafka.client_config()))
    new = [
        NewTopic(name, num_partitions=count, replication_factor=replication_factor)
        for name in wanted
    ]
    try:
        futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(f"cannot create topics {wanted}: {exc}") from exc
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                logger.debug("topic %s already exists", name)
                continue
            raise BrokerError(f"cannot create topic {name!r}: {exc}") from exc
        except TimeoutError as exc:
            raise BrokerError(f"creating topic {name!r} timed out after {timeout} s") from exc
        created.append(name)
        logger.info("created topic %s with %d partitions", name, count)
    return created
