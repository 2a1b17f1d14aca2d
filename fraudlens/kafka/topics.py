"""Create the topics FraudLens uses, idempotently, with their retention set.

Every FraudLens topic gets ``retention.ms`` from the kafka settings
(``*_retention_days``, 7 days by default: the data inventory's limit). Topics
that exist already are checked, and a different retention is aligned with an
incremental config change; if the broker refuses that (no ALTER_CONFIGS
permission), a warning names the topic and both values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from fraudlens.errors import BrokerError
from fraudlens.settings import KafkaSettings

logger = logging.getLogger(__name__)

MS_PER_DAY = 86_400_000
RETENTION_MS = "retention.ms"


def all_topics(kafka: KafkaSettings) -> list[str]:
    """Return every topic named in ``kafka``: transactions, labels, decisions, dead-letter,
    shadow scores."""
    return [
        kafka.transactions_topic,
        kafka.labels_topic,
        kafka.decisions_topic,
        kafka.dead_letter_topic,
        kafka.shadow_topic,
    ]


def topic_configs(kafka: KafkaSettings) -> dict[str, dict[str, str]]:
    """Topic configs FraudLens sets, by topic name: ``{"transactions": {"retention.ms": ...}}``."""
    return {
        name: {RETENTION_MS: str(days * MS_PER_DAY)}
        for name, days in kafka.topic_retention_days().items()
    }


def ensure_topics(
    kafka: KafkaSettings,
    names: Iterable[str] | None = None,
    partitions: int | None = None,
    *,
    replication_factor: int = -1,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet and align the retention of the others.

    Args:
        kafka: connection settings and topic retention.
        names: topics to create; all FraudLens topics (see ``all_topics``) by default.
            Names that are not FraudLens topics get the broker's default configs.
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
    configs = topic_configs(kafka)
    admin = AdminClient(dict(kafka.client_config()))
    new = [
        NewTopic(
            name,
            num_partitions=count,
            replication_factor=replication_factor,
            config=configs.get(name, {}),
        )
        for name in wanted
    ]
    try:
        futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(f"cannot create topics {wanted}: {exc}") from exc
    created: list[str] = []
    existing: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                logger.debug("topic %s already exists", name)
                existing.append(name)
                continue
            raise BrokerError(f"cannot create topic {name!r}: {exc}") from exc
        except TimeoutError as exc:
            raise BrokerError(f"creating topic {name!r} timed out after {timeout} s") from exc
        created.append(name)
        logger.info(
            "created topic %s with %d partitions, %s",
            name,
            count,
            configs.get(name, "broker default configs"),
        )
    align_retention(admin, {n: configs[n] for n in existing if n in configs}, timeout)
    return created


def align_retention(
    admin: AdminClient, configs: Mapping[str, Mapping[str, str]], timeout: float = 30.0
) -> dict[str, str | None]:
    """Set ``retention.ms`` of existing topics where it differs from ``configs``.

    Args:
        admin: an admin client of the broker.
        configs: wanted topic configs by topic name (see ``topic_configs``).
        timeout: seconds to wait for each broker answer.

    Returns:
        The topics whose retention was changed (or could not be), with the
        value found before (None: not reported by the broker).

    Raises:
        BrokerError: the broker cannot describe the topics' configs.
    """
    if not configs:
        return {}
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in configs]
    try:
        described = admin.describe_configs(resources, request_timeout=timeout)
        found = {
            res.name: future.result(timeout=timeout).get(RETENTION_MS)
            for res, future in described.items()
        }
    except (KafkaException, TimeoutError) as exc:
        raise BrokerError(f"cannot describe the configs of topics {list(configs)}: {exc}") from exc
    changed: dict[str, str | None] = {}
    for name, entry in found.items():
        have = entry.value if entry is not None else None
        want = configs[name][RETENTION_MS]
        if have == want:
            continue
        changed[name] = have
        resource = ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(RETENTION_MS, want, incremental_operation=AlterConfigOpType.SET)
            ],
        )
        try:
            for future in admin.incremental_alter_configs(
                [resource], request_timeout=timeout
            ).values():
                future.result(timeout=timeout)
        except (KafkaException, TimeoutError) as exc:
            logger.warning(
                "topic %s has %s=%s, FraudLens wants %s, and the change was refused: %s",
                name,
                RETENTION_MS,
                have,
                want,
                exc,
            )
            continue
        logger.warning(
            "topic %s had %s=%s; set to %s (kafka settings)", name, RETENTION_MS, have, want
        )
    return changed
