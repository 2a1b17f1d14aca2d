"""Reading the stored card and terminal state blobs of a batch from the online store.

``state_reader(store)`` picks the reader by the online store type:

- ``RedisStateReader`` (the production store): Feast's own Redis layout read
  directly. Key = ``serialize_entity_key`` (version 3) + project; hash field
  = ``_mmh3("{view}:{feature}")``. One server-side script does an HGET per
  unique card and terminal of the batch and answers one array (one reply to
  parse instead of one per key: about half the client's time), then
  ``bytes_val`` of each ``ValueProto``. Where scripts cannot run (a Redis
  Cluster, whose keys of a batch sit in many slots, or an ACL without
  ``EVALSHA``) one pipelined HMGET per key, in one round trip. No per-entity
  ``EntityKey`` protos, no response building: those were half of a batched
  ``get_online_features`` here.
- ``SqliteStateReader`` (the embedded store): the same keys (without the
  project), one ``SELECT ... WHERE entity_key IN (...)`` per view and per
  ``SQLITE_CHUNK`` keys.
- ``FeastStateReader`` (any other store): ``get_online_features``.

All give the same values (tests/integration/features/test_state_reader.py).
The direct readers work out keys and fields once per store: a view's online
name changes only with Feast's online view versioning (off here), and then a
new store must be opened.
The direct readers refuse a store the previous release wrote (state as list
columns, no blob), when first set up (the first read: serving's warm-up, so
readiness says why): such a card would read as new, its history silently
lost. See ``LEGACY_MESSAGE`` for the rebuild.

Feast's online reads ignore the view's ``ttl`` (ours is 0: no expiry) and only
Redis itself expires keys (``key_ttl_seconds``), so neither reader filters by
age. An entity the store does not hold (a new card) reads as None.
"""

from __future__ import annotations

import logging
import re
import struct
import weakref
from collections.abc import Sequence
from typing import Any, Protocol

from fraudlens.errors import FeatureStoreError
from fraudlens.features.state import CARD_BLOB, TERMINAL_BLOB

CARD_VIEW = "card_state"
TERMINAL_VIEW = "terminal_state"
STATE_REFS = [f"{CARD_VIEW}:{CARD_BLOB}", f"{TERMINAL_VIEW}:{TERMINAL_BLOB}"]

logger = logging.getLogger(__name__)

Blobs = dict[str, list[Any]]

# The previous release's first state column (lists, no blob): a row it wrote.
LEGACY_FIELDS = {CARD_VIEW: "c_ts", TERMINAL_VIEW: "t_day"}
# Redis: online keys sampled for such rows when a reader is set up.
PROBE_KEYS = 1000
LEGACY_MESSAGE = (
    "the online store holds card or terminal state written by the previous release "
    "(list columns, no state blob; {count} found): those cards and terminals would read "
    "as new. Rebuild it: `fraudlens features apply`, `fraudlens features backfill`, then "
    "`fraudlens features materialize --from <first day of the history> --to <now>` "
    "(docs/design/feature-layer.md, Upgrading)"
)

# Keys per SQLite SELECT: SQLite builds before 3.32 cap bound variables at 999.
SQLITE_CHUNK = 500


class StateReader(Protocol):
    """Reads the state blobs of (card, terminal) pairs."""

    def read(self, cards: Sequence[str], terminals: Sequence[str]) -> Blobs:
        """``{CARD_BLOB: [...], TERMINAL_BLOB: [...]}``, one value per input pair.

        A value is the stored blob, or None when the store holds none.

        Raises:
            FeatureStoreError: the online read failed.
        """
        ...


class FeastStateReader:
    """``get_online_features`` for the state refs (every online store)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def read(self, cards: Sequence[str], terminals: Sequence[str]) -> Blobs:
        """See ``StateReader.read``."""
        rows = [{"card_token": c, "terminal_id": t} for c, t in zip(cards, terminals, strict=True)]
        try:
            state = self._store.get_online_features(features=STATE_REFS, entity_rows=rows)
            columns = state.to_dict()
        except Exception as exc:
            raise FeatureStoreError(f"online feature read failed: {exc}") from exc
        return {CARD_BLOB: columns[CARD_BLOB], TERMINAL_BLOB: columns[TERMINAL_BLOB]}


class _View:
    """How one state view's rows are keyed in Feast's online store.

    Args:
        suffix: what follows the serialized entity key (Redis: the project).
    """

    def __init__(self, store: Any, view: str, suffix: bytes) -> None:
        from feast.infra.key_encoding_utils import serialize_entity_key_prefix
        from feast.infra.online_stores.helpers import compute_versioned_name
        from feast.protos.feast.types.Value_pb2 import ValueType

        config = store.config
        table = store.get_feature_view(view)
        versioning = config.registry.enable_online_feature_view_versioning
        self.name: str = compute_versioned_name(table, versioning)
        # serialize_entity_key (v3) of one string join key = this prefix, then
        # the value's type, length and bytes (pinned by test_state_reader.py).
        self.prefix: bytes = serialize_entity_key_prefix(table.join_keys, 3)
        self.string_type: int = ValueType.STRING
        self.suffix = suffix

    def key(self, value: str) -> bytes:
        raw = value.encode()
        return b"".join(
            (self.prefix, struct.pack("<II", self.string_type, len(raw)), raw, self.suffix)
        )


def _check_key_version(config: Any) -> None:
    if config.entity_key_serialization_version != 3:
        raise FeatureStoreError(
            "the direct state reader needs entity_key_serialization_version 3, "
            f"not {config.entity_key_serialization_version}"
        )


# KEYS: the cards' then the terminals' keys; ARGV: how many cards, the two hash fields.
READ_SCRIPT = """
local cards = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, i <= cards and ARGV[2] or ARGV[3])
end
return out
"""


class RedisStateReader:
    """Feast's Redis layout, read by one script call (or one pipelined HMGET per entity).

    Uses the redis-py client Feast's ``RedisOnlineStore`` holds (same
    connection string, pool and options).
    """

    def __init__(self, store: Any) -> None:
        from feast.infra.online_stores.helpers import _mmh3
        from feast.protos.feast.types.Value_pb2 import Value as ValueProto

        config = store.config
        _check_key_version(config)
        online = store._get_provider().online_store
        self._client = online._get_client(config.online_store)
        self._parse = ValueProto.FromString
        project = config.project.encode()
        self._card = _View(store, CARD_VIEW, project)
        self._terminal = _View(store, TERMINAL_VIEW, project)
        self._card_field = [_mmh3(f"{self._card.name}:{CARD_BLOB}")]
        self._terminal_field = [_mmh3(f"{self._terminal.name}:{TERMINAL_BLOB}")]
        # Blob then legacy field, of both views: a key is a card's or a terminal's.
        self._probe_fields = [
            *self._card_field,
            _mmh3(f"{self._card.name}:{LEGACY_FIELDS[CARD_VIEW]}"),
            *self._terminal_field,
            _mmh3(f"{self._terminal.name}:{LEGACY_FIELDS[TERMINAL_VIEW]}"),
        ]
        self._pattern = b"*" + re.sub(rb"([][*?\\])", rb"\\\1", project)
        self._script = (
            None if _is_cluster(self._client) else self._client.register_script(READ_SCRIPT)
        )

    def legacy_rows(self) -> int:
        """Entities with previous-release state and no blob, among up to ``PROBE_KEYS`` keys.

        A sample (the first keys SCAN returns): a store never rebuilt holds
        only such entities.

        Raises:
            FeatureStoreError: the read failed.
        """
        try:
            keys: list[bytes] = []
            cursor = 0
            for _ in range(20):  # SCAN may return few keys per call; bounded either way
                cursor, found = self._client.scan(cursor, match=self._pattern, count=PROBE_KEYS)
                keys += found
                if cursor == 0 or len(keys) >= PROBE_KEYS:
                    break
            with self._client.pipeline(transaction=False) as pipe:
                for key in keys[:PROBE_KEYS]:
                    pipe.hmget(key, self._probe_fields)
                replies = pipe.execute()
        except Exception as exc:
            raise FeatureStoreError(f"online feature read failed: {exc}") from exc
        return sum(
            (card_old is not None and card is None) or (term_old is not None and term is None)
            for card, card_old, term, term_old in replies
        )

    def read(self, cards: Sequence[str], terminals: Sequence[str]) -> Blobs:
        """See ``StateReader.read``."""
        unique_cards = list(dict.fromkeys(cards))
        unique_terminals = list(dict.fromkeys(terminals))
        card_key, terminal_key = self._card.key, self._terminal.key
        keys = [*map(card_key, unique_cards), *map(terminal_key, unique_terminals)]
        try:
            replies = self._fetch(keys, len(unique_cards))
        except Exception as exc:
            raise FeatureStoreError(f"online feature read failed: {exc}") from exc
        parse = self._parse
        values = [None if r is None else _value(parse(r)) for r in replies]
        by_card = dict(zip(unique_cards, values, strict=False))
        by_terminal = dict(zip(unique_terminals, values[len(unique_cards) :], strict=True))
        return {
            CARD_BLOB: [by_card[c] for c in cards],
            TERMINAL_BLOB: [by_terminal[t] for t in terminals],
        }

    def _fetch(self, keys: list[bytes], cards: int) -> list[bytes | None]:
        """The state field of each key (the card field for the first ``cards``)."""
        if self._script is not None:
            args = [cards, self._card_field[0], self._terminal_field[0]]
            try:
                return list(self._script(keys=keys, args=args))
            except Exception as exc:
                if not _scripts_refused(exc):
                    raise
                logger.warning("online reads: Redis refuses scripts (%s); pipelining HMGETs", exc)
                self._script = None
        with self._client.pipeline(transaction=False) as pipe:
            for i, key in enumerate(keys):
                pipe.hmget(key, self._card_field if i < cards else self._terminal_field)
            return [reply[0] for reply in pipe.execute()]


def _is_cluster(client: Any) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def _scripts_refused(exc: Exception) -> bool:
    """Whether ``exc`` says this connection may not run scripts (ACL, disabled command)."""
    from redis.exceptions import NoPermissionError, ResponseError

    text = str(exc).lower()
    return isinstance(exc, NoPermissionError) or (
        isinstance(exc, ResponseError) and ("unknown command" in text or "noperm" in text)
    )


class SqliteStateReader:
    """Feast's SQLite layout (table ``{project}_{view}``), one SELECT per view and chunk.

    Uses the connection Feast's ``SqliteOnlineStore`` holds.
    """

    def __init__(self, store: Any) -> None:
        from feast.infra.online_stores.sqlite import _quote_id
        from feast.protos.feast.types.Value_pb2 import Value as ValueProto

        config = store.config
        _check_key_version(config)
        self._conn = store._get_provider().online_store._get_conn(config)
        self._parse = ValueProto.FromString
        self._card = _View(store, CARD_VIEW, b"")
        self._terminal = _View(store, TERMINAL_VIEW, b"")
        self._tables = {
            view: _quote_id(f"{config.project}_{view.name}")
            for view in (self._card, self._terminal)
        }

    def legacy_rows(self) -> int:
        """Entities with previous-release state and no blob (at most ``PROBE_KEYS``).

        Raises:
            FeatureStoreError: the read failed.
        """
        count = 0
        try:
            for view, blob in ((self._card, CARD_BLOB), (self._terminal, TERMINAL_BLOB)):
                table = self._tables[view]
                sql = (
                    f"SELECT COUNT(*) FROM (SELECT entity_key FROM {table} "
                    "WHERE feature_name = ? AND entity_key NOT IN "
                    f"(SELECT entity_key FROM {table} WHERE feature_name = ?) LIMIT ?)"
                )
                legacy = LEGACY_FIELDS[CARD_VIEW if view is self._card else TERMINAL_VIEW]
                [(found,)] = self._conn.execute(sql, [legacy, blob, PROBE_KEYS])
                count += found
        except Exception as exc:
            raise FeatureStoreError(f"online feature read failed: {exc}") from exc
        return count

    def _select(self, view: _View, feature: str, values: Sequence[str]) -> list[Any]:
        unique = list(dict.fromkeys(values))
        keys = [view.key(v) for v in unique]
        parse = self._parse
        found: dict[bytes, Any] = {}
        for start in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[start : start + SQLITE_CHUNK]
            sql = (
                f"SELECT entity_key, value FROM {self._tables[view]} "
                f"WHERE feature_name = ? AND entity_key IN ({','.join('?' * len(chunk))})"
            )
            for key, raw in self._conn.execute(sql, [feature, *chunk]):
                found[key] = _value(parse(raw))
        by_value = {v: found.get(k) for v, k in zip(unique, keys, strict=True)}
        return [by_value[v] for v in values]

    def read(self, cards: Sequence[str], terminals: Sequence[str]) -> Blobs:
        """See ``StateReader.read``."""
        try:
            return {
                CARD_BLOB: self._select(self._card, CARD_BLOB, cards),
                TERMINAL_BLOB: self._select(self._terminal, TERMINAL_BLOB, terminals),
            }
        except Exception as exc:
            raise FeatureStoreError(f"online feature read failed: {exc}") from exc


def _value(proto: Any) -> Any:
    """The Python value of a stored ``ValueProto``, as ``to_dict`` gives it."""
    kind = proto.WhichOneof("val")
    if kind == "bytes_val":
        return proto.bytes_val
    if kind is None:
        return None
    from feast.type_map import feast_value_type_to_python_type

    return feast_value_type_to_python_type(proto)  # not a blob: the decoder says so


_READERS: weakref.WeakKeyDictionary[Any, StateReader] = weakref.WeakKeyDictionary()


def state_reader(store: Any) -> StateReader:
    """The reader for this store's online store type (one per store).

    Raises:
        FeatureStoreError: the store could not be inspected (registry, client),
            or it holds state from the previous release (``LEGACY_MESSAGE``),
            checked again at each call until it is rebuilt.
    """
    reader = _READERS.get(store)
    if reader is None:
        reader = _new_reader(store)
        _READERS[store] = reader
    return reader


def _new_reader(store: Any) -> StateReader:
    from feast.infra.online_stores.redis import RedisOnlineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    direct: RedisStateReader | SqliteStateReader
    try:
        online = store.config.online_store
        if isinstance(online, RedisOnlineStoreConfig):
            direct = RedisStateReader(store)
        elif isinstance(online, SqliteOnlineStoreConfig):
            direct = SqliteStateReader(store)
        else:  # not probed: only the direct readers know the layout
            return FeastStateReader(store)
    except FeatureStoreError:
        raise
    except Exception as exc:
        raise FeatureStoreError(f"cannot set up the online state reader: {exc}") from exc
    count = direct.legacy_rows()
    if count:
        raise FeatureStoreError(LEGACY_MESSAGE.format(count=count))
    return direct
