"""The direct state readers == Feast's ``get_online_features``, on a real Redis and SQLite.

The first half of a simulated history is folded and pushed through Feast
(``FeastSink``, as the stream job does), plus one card and one terminal with
non-ASCII ids. A batch then mixes cards and terminals the store holds, ones
it does not (new), and repeats. The direct reader must return the same blobs
as Feast's read, and ``online_feature_columns`` (which uses it on Redis) the
same feature bits as Feast's ODFVs (``online_vectors``).
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from redis.exceptions import NoPermissionError
from store_settings import store_settings

from fraudlens.errors import FeatureStoreError
from fraudlens.features.fold import StateFolder
from fraudlens.features.registry import FEATURE_NAMES
from fraudlens.features.sink import FeastSink
from fraudlens.features.state import CARD_BLOB, TERMINAL_BLOB
from fraudlens.features.state_codec import card_from_row, terminal_from_row
from fraudlens.features.state_reader import (
    SQLITE_CHUNK,
    FeastStateReader,
    RedisStateReader,
    SqliteStateReader,
    state_reader,
)
from fraudlens.features.store import (
    online_feature_columns,
    online_vectors,
    open_store,
    stored_state,
)
from fraudlens.features.stream import to_event
from fraudlens.schema import Label, Transaction
from fraudlens.settings import Settings
from fraudlens.simulator import Simulation, label_records, transaction_records

pytestmark = pytest.mark.integration

ODD_CARD = "kärtchen-ü-€"
ODD_TERMINAL = "términal-日本"


@pytest.fixture(params=["redis", "sqlite"])
def filled(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, feature_sim: Simulation
) -> tuple[Any, list[dict[str, Any]], Settings]:
    """A store holding the first half of the history; the requests of the second half;
    the store's settings."""
    settings = store_settings(tmp_path, redis_url, request.param, name="reader")
    store = open_store(settings)
    txns = feature_sim.transactions.sort_values("event_time").reset_index(drop=True)
    half = txns.iloc[: len(txns) // 2]
    cut = half["event_time"].max()
    labels = feature_sim.labels[feature_sim.labels["label_time"] <= cut]
    events = [to_event(Transaction.model_validate(r)) for r in transaction_records(half)]
    events += [to_event(Label.model_validate(r)) for r in label_records(labels)]
    events.sort(key=lambda e: e.time_us)
    result = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6).apply(events)
    sink = FeastSink(store, None, "test")
    sink.write(result, offline=False)
    sink.push("card_state", [{**result.card_rows[-1], "card_token": ODD_CARD}])
    sink.push("terminal_state", [{**result.terminal_rows[-1], "terminal_id": ODD_TERMINAL}])

    later = txns.iloc[len(txns) // 2 :].head(120).to_dict("records")
    odd = {**later[0], "card_token": ODD_CARD, "terminal_id": ODD_TERMINAL}
    new = {**later[1], "card_token": "never-seen-card", "terminal_id": "never-seen-terminal"}
    # Known, unknown (new cards in the second half too), non-ASCII, repeated.
    requests = [*later, odd, new, later[3], later[3], odd, new]
    return store, requests, settings


def test_direct_reader_equals_feast(filled: tuple[Any, list[dict[str, Any]], Settings]) -> None:
    store, requests, settings = filled
    reader = state_reader(store)
    direct_type = {"redis": RedisStateReader, "sqlite": SqliteStateReader}
    assert isinstance(reader, direct_type[store.config.online_store.type])  # the direct reader
    cards = [r["card_token"] for r in requests]
    terminals = [r["terminal_id"] for r in requests]

    direct = reader.read(cards, terminals)
    through_feast = FeastStateReader(store).read(cards, terminals)
    assert direct == through_feast
    for blob, values in ((CARD_BLOB, cards), (TERMINAL_BLOB, terminals)):
        found = [v is not None for v in direct[blob]]
        assert len(found) == len(values)
        assert any(found) and not all(found)  # the batch has known and unknown keys
        assert all(isinstance(v, bytes) for v in direct[blob] if v is not None)
    odd = cards.index(ODD_CARD)
    assert direct[CARD_BLOB][odd] is not None and direct[TERMINAL_BLOB][odd] is not None
    new = cards.index("never-seen-card")
    assert direct[CARD_BLOB][new] is None and direct[TERMINAL_BLOB][new] is None
    if isinstance(reader, RedisStateReader):  # read by one script; without scripts, pipelined
        assert reader._script is not None
        assert _without_scripts(settings, reader).read(cards, terminals) == direct

    # Serving's columns (direct read) == Feast's ODFVs, bit for bit.
    columns = online_feature_columns(store, requests)
    vectors = online_vectors(store, requests)
    for name in FEATURE_NAMES:
        odfv = np.array([v[name] for v in vectors], dtype=np.float64)
        served = np.array(columns[name], dtype=np.float64)
        assert np.array_equal(odfv, served, equal_nan=True), name
    assert np.nanmax(np.array(columns["card_tx_count_1h"], dtype=np.float64)) > 0

    # Transactions (what serving passes: attributes read as columns) and the
    # array form serving stacks: the same bits as the dicts' lists.
    known = requests[:120]
    txns = [Transaction.model_validate(r) for r in transaction_records(pd.DataFrame(known))]
    from_dicts = online_feature_columns(store, known)
    for form in (
        online_feature_columns(store, txns),
        online_feature_columns(store, txns, arrays=True),
    ):
        for name in FEATURE_NAMES:
            a = np.asarray(form[name], dtype=np.float64)
            assert np.array_equal(a, np.array(from_dicts[name], dtype=np.float64)), name

    # One card's state, as the analyst workspace reads it.
    card, terminal = stored_state(store, ODD_CARD, ODD_TERMINAL)
    row = {
        CARD_BLOB: through_feast[CARD_BLOB][odd],
        TERMINAL_BLOB: through_feast[TERMINAL_BLOB][odd],
    }
    assert card == card_from_row(row) and card is not None
    assert terminal == terminal_from_row(row)
    assert stored_state(store, "never-seen-card", None) == (None, None)


def _without_scripts(settings: Settings, reader: RedisStateReader) -> RedisStateReader:
    """A reader of the same store, connected as a Redis user whose ACL denies scripts."""
    reader._client.acl_setuser(
        "noscripts", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-@scripting"]
    )
    feast = settings.feast.model_copy(
        update={
            "redis_connection_string": (
                f"{settings.feast.redis_connection_string},username=noscripts,password=pw"
            )
        }
    )
    limited = RedisStateReader(open_store(settings.model_copy(update={"feast": feast})))
    with pytest.raises(NoPermissionError):
        limited._client.eval("return 1", 0)  # the ACL really refuses scripts
    assert limited._script is not None
    limited.read(["a-card"], ["a-terminal"])  # refused once: falls back for good
    assert limited._script is None
    return limited


def test_redis_keys_are_feasts(tmp_path: Path, redis_url: str) -> None:
    """The reader's keys and fields are the ones Feast's Redis store computes (pins
    the private helpers ``_mmh3`` and the key layout against Feast's own code)."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    store = open_store(store_settings(tmp_path, redis_url, "redis", name="reader"))
    reader = state_reader(store)
    assert isinstance(reader, RedisStateReader)
    online = store._get_provider().online_store
    for view, field, join_key, value, feature in (
        (reader._card, reader._card_field, "card_token", ODD_CARD, CARD_BLOB),
        (reader._terminal, reader._terminal_field, "terminal_id", "T000017", TERMINAL_BLOB),
    ):
        proto = EntityKey(join_keys=[join_key], entity_values=[Value(string_val=value)])
        [key] = online._generate_redis_keys_for_entities(store.config, [proto])
        assert view.key(value) == key
        table = store.get_feature_view(f"{join_key.split('_')[0]}_state")
        _, fields = online._generate_hset_keys_for_features(table, [feature])
        assert field == fields[:1]


def test_sqlite_reads_more_keys_than_one_chunk(
    tmp_path: Path, redis_url: str, feature_sim: Simulation
) -> None:
    """More unique keys than ``SQLITE_CHUNK`` (twice over), on a connection that
    allows 999 bound variables, as SQLite builds before 3.32 did."""
    store = open_store(store_settings(tmp_path, redis_url, "sqlite", name="reader"))
    head = feature_sim.transactions.sort_values("event_time").head(50)
    events = [to_event(Transaction.model_validate(r)) for r in transaction_records(head)]
    result = StateFolder(10**12).apply(events)
    known = SQLITE_CHUNK + 100
    sink = FeastSink(store, None, "test")
    card_row, terminal_row = result.card_rows[-1], result.terminal_rows[-1]
    sink.push("card_state", [{**card_row, "card_token": f"c{i}"} for i in range(known)])
    sink.push("terminal_state", [{**terminal_row, "terminal_id": f"t{i}"} for i in range(known)])
    # Known and unknown keys in both chunks, then repeats.
    cards = [f"c{i}" for i in range(2 * known)] + ["c1", "c1", "c4"]
    terminals = [f"t{i}" for i in range(len(cards))]
    expected = FeastStateReader(store).read(cards, terminals)

    reader = state_reader(store)
    assert isinstance(reader, SqliteStateReader)
    reader._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):
        reader._conn.execute(f"SELECT {','.join('?' * 1000)}", list(range(1000)))
    direct = reader.read(cards, terminals)
    assert direct == expected
    for blob in (CARD_BLOB, TERMINAL_BLOB):
        found = [v is not None for v in direct[blob]]
        assert found.count(True) > SQLITE_CHUNK and not all(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_redis_down_is_a_feature_store_error(tmp_path: Path, feature_sim: Simulation) -> None:
    store = open_store(store_settings(tmp_path, f"127.0.0.1:{free_port()}", "redis", name="reader"))
    requests = feature_sim.transactions.head(3).to_dict("records")
    with pytest.raises(FeatureStoreError, match="online feature read failed"):
        online_feature_columns(store, requests)
    with pytest.raises(FeatureStoreError):
        stored_state(store, "any-card", "any-terminal")
