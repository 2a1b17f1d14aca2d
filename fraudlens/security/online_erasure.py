"""Erase a person from the Feast online store (SQLite or Redis), by entity key.

The online store keeps the latest state per entity. A person's entities are
the card tokens (and the customer id, should a view ever be keyed by it) that
the Parquet erasers discover; terminals are not personal data. Rows are found
with Feast's own key layout, so nothing is guessed:

- SQLite: one table per feature view, ``{project}_{view}``, one row per
  (entity key, feature); ``entity_key`` is Feast's serialized ``EntityKey``.
  ``secure_delete`` overwrites the deleted rows' bytes, so they do not linger
  in free pages.
- Redis: one hash per entity, key = serialized ``EntityKey`` + project name,
  holding every view of that entity: the whole key is deleted.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from fraudlens.errors import FeatureStoreError
from fraudlens.security.inventory import SUBJECT_COLUMNS

if TYPE_CHECKING:
    from fraudlens.security.privacy import ErasureSubject, StoreErasure
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


def entity_keys(views: list[Any], subject: ErasureSubject) -> dict[str, list[Any]]:
    """Feast ``EntityKey`` protos of ``subject`` per view keyed by one subject column."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    keys: dict[str, list[Any]] = {}
    for view in views:
        join_keys = list(view.join_keys)
        if len(join_keys) != 1 or join_keys[0] not in SUBJECT_COLUMNS:
            continue  # terminals and other non-personal entities
        values = sorted(subject.values_for(join_keys[0]))
        keys[view.name] = [
            EntityKey(join_keys=join_keys, entity_values=[Value(string_val=v)]) for v in values
        ]
    return keys


class OnlineStoreEraser:
    """Deletes a subject's entity rows from the configured Feast online store."""

    name = "online_store"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def discover(self, subject: ErasureSubject) -> None:
        """Nothing to link: online rows are keyed by the tokens found elsewhere."""

    def erase(self, subject: ErasureSubject) -> StoreErasure:
        """Delete every online row of the subject's entities (0 when never applied)."""
        from fraudlens.security.privacy import StoreErasure

        result = StoreErasure(self.name)
        store = self._store()
        if store is None:
            return result
        try:
            views = store.list_feature_views()
        except Exception as exc:  # Feast raises its own tree and plain errors
            raise FeatureStoreError(f"online erasure: cannot list feature views: {exc}") from exc
        keys = entity_keys(views, subject)
        result.files_scanned = len(keys)
        if not any(keys.values()):
            return result
        config = store.config
        kind = config.online_store.type
        if kind == "sqlite":
            result.rows_removed = _erase_sqlite(config, views, keys)
        elif kind == "redis":
            result.rows_removed = _erase_redis(config, keys)
        else:
            raise FeatureStoreError(f"online erasure: unsupported online store {kind!r}")
        result.files_rewritten = 1 if result.rows_removed else 0
        logger.info("online store: %d entity rows erased", result.rows_removed)
        return result

    def _store(self) -> Any:
        from fraudlens.features.repo import feast_variables
        from fraudlens.features.store import open_store

        registry = feast_variables(self.settings)["FRAUDLENS_FEAST__REGISTRY_PATH"]
        if not _path_exists(registry):
            return None  # feast apply never ran: no online store to erase
        return open_store(self.settings)


def _path_exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


def _erase_sqlite(config: Any, views: list[Any], keys: dict[str, list[Any]]) -> int:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import compute_table_id

    path = config.online_store.path
    if not _path_exists(path):
        return 0
    version = config.entity_key_serialization_version
    versioning = config.registry.enable_online_feature_view_versioning
    by_name = {v.name: v for v in views}
    removed = 0
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA secure_delete = ON")  # zero the deleted rows' bytes
        existing = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        with con:
            for name, protos in keys.items():
                table = compute_table_id(config.project, by_name[name], versioning)
                if table not in existing:
                    continue
                quoted = '"' + table.replace('"', '""') + '"'
                for proto in protos:
                    blob = serialize_entity_key(proto, entity_key_serialization_version=version)
                    cursor = con.execute(
                        f"DELETE FROM {quoted} WHERE entity_key = ?",  # noqa: S608 - Feast's table name
                        (blob,),
                    )
                    removed += 1 if cursor.rowcount else 0
    except sqlite3.Error as exc:
        raise FeatureStoreError(f"online erasure (SQLite {path}): {exc}") from exc
    finally:
        con.close()
    return removed


def _erase_redis(config: Any, keys: dict[str, list[Any]]) -> int:
    from feast.infra.online_stores.helpers import _redis_key
    from feast.infra.online_stores.redis import RedisOnlineStore
    from redis.exceptions import RedisError

    version = config.entity_key_serialization_version
    # Feast's own client honours the connection string (TLS, password, cluster).
    client = RedisOnlineStore()._get_client(config.online_store)
    names = {
        _redis_key(config.project, proto, entity_key_serialization_version=version)
        for protos in keys.values()
        for proto in protos
    }
    try:
        return int(client.delete(*sorted(names))) if names else 0
    except RedisError as exc:
        raise FeatureStoreError(f"online erasure (Redis): {exc}") from exc
    finally:
        client.close()
