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
from store_settings import store_settings

from fraudlens.errors import FeatureStoreError
from fraudlens.features.fold import StateFolder
from fraudlens.features.sink import FeastSink
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
