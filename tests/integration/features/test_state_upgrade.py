"""An online store the previous release wrote (state as list columns) is refused by name.

The old rows are written the way that release did (Feast's ``online_write_batch``
of the state views, one list value per column), on a real Redis and SQLite.
The first read (serving's warm-up) must fail with the rebuild commands; once
the entities hold blobs again (what ``materialize`` writes) reads work, the
old fields beside them notwithstanding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Int64List, Value
from legacy_card_blob import format_1_blob
from store_settings import store_settings

from fraudlens.errors import FeatureStoreError
from fraudlens.features.fold import StateFolder
from fraudlens.features.sink import FeastSink
from fraudlens.features.state import CARD_BLOB
from fraudlens.features.state_codec import decode_card
from fraudlens.features.state_reader import state_reader
from fraudlens.features.store import online_feature_columns, open_store
from fraudlens.features.stream import to_event
from fraudlens.schema import Transaction
from fraudlens.simulator import Simulation, transaction_records

pytestmark = pytest.mark.integration


def write_legacy(store: Any, view: str, join_key: str, ids: list[str], column: str) -> None:
    """Rows as the previous release pushed them: list-typed columns, no blob."""
    table = store.get_feature_view(view)
    now = datetime.now(UTC)
    data = [
        (
            EntityKey(join_keys=[join_key], entity_values=[Value(string_val=i)]),
            {column: Value(int64_list_val=Int64List(val=[1, 2]))},
            now,
            None,
        )
        for i in ids
    ]
    store._get_provider().online_write_batch(store.config, table, data, None)


@pytest.mark.parametrize("online_store", ["redis", "sqlite"])
def test_previous_release_store_is_refused_until_rebuilt(
    online_store: str, tmp_path: Path, redis_url: str, feature_sim: Simulation
) -> None:
    settings = store_settings(tmp_path, redis_url, online_store, name="upgrade")
    head = feature_sim.transactions.sort_values("event_time").head(40)
    requests = head.to_dict("records")
    cards = sorted({r["card_token"] for r in requests})
    terminals = sorted({r["terminal_id"] for r in requests})

    store = open_store(settings)
    state_reader(store)  # a fresh store: nothing to refuse
    store = open_store(settings)
    write_legacy(store, "card_state", "card_token", cards, "c_ts")
    write_legacy(store, "terminal_state", "terminal_id", terminals, "t_day")
    for _attempt in range(2):  # refused at each first read until rebuilt
        with pytest.raises(FeatureStoreError) as info:
            online_feature_columns(store, requests)
        message = str(info.value)
        assert "previous release" in message
        assert f"{len(cards) + len(terminals)} found" in message
        assert "fraudlens features backfill" in message
        assert "fraudlens features materialize" in message

    # The rebuild writes a blob for every entity (the old fields stay beside it).
    events = [to_event(Transaction.model_validate(r)) for r in transaction_records(head)]
    result = StateFolder(10**12).apply(events)
    FeastSink(store, None, "test").write(result, offline=False)
    columns = online_feature_columns(store, requests)
    assert max(columns["card_tx_count_1h"]) > 0  # the rebuilt state is read


@pytest.mark.parametrize("online_store", ["redis", "sqlite"])
def test_previous_format_card_blobs_read_with_unknown_devices(
    online_store: str, tmp_path: Path, redis_url: str, feature_sim: Simulation
) -> None:
    """Card blobs of format 1 (no device / IP columns) in a real online store read
    as the same cards with unknown devices: never a new device, nothing else changed."""
    settings = store_settings(tmp_path, redis_url, online_store, name="format1")
    txns = feature_sim.transactions.sort_values("event_time")
    history, requests = txns.iloc[:-60], txns.iloc[-60:].to_dict("records")
    events = [to_event(Transaction.model_validate(r)) for r in transaction_records(history)]
    result = StateFolder(10**12).apply(events)
    store = open_store(settings)
    FeastSink(store, None, "test").write(result, offline=False)
    current = online_feature_columns(store, requests)
    for row in result.card_rows:
        row[CARD_BLOB] = format_1_blob(decode_card(row[CARD_BLOB]))
    FeastSink(store, None, "test").write(result, offline=False)
    old = online_feature_columns(store, requests)

    assert sorted(set(current["card_new_device_30d"])) == [-1, 0, 1]  # the data exercise it
    for name in ("card_new_device_30d", "card_new_ip_30d"):
        assert 1 not in old[name], name  # an old card never looks new
        pairs = list(zip(current[name], old[name], strict=True))
        assert all(c == 0 for c, o in pairs if o == 0), name  # found is found
    assert max(current["card_tx_count_30d"]) > 0
    assert max(current["card_device_age_secs_30d"]) > 0
    assert max(old["card_device_age_secs_30d"]) <= 0  # no age guessed from unknown history
    devices = ("card_new_device_30d", "card_new_ip_30d", "card_distinct_devices_30d")
    for name in old:
        if name not in (*devices, "card_device_age_secs_30d"):
            assert list(old[name]) == list(current[name]), name
