"""Which state reader a store gets, and the fallback reader's contract (no services)."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from fraudlens.errors import FeatureStoreError
from fraudlens.features.state import CARD_BLOB, TERMINAL_BLOB
from fraudlens.features.state_reader import STATE_REFS, FeastStateReader, state_reader


class FakeResponse:
    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self.columns = columns

    def to_dict(self) -> dict[str, list[Any]]:
        return self.columns


class FakeStore:
    """A store whose online store is neither Redis nor SQLite (e.g. PostgreSQL)."""

    def __init__(self, fail: bool = False) -> None:
        self.config = SimpleNamespace(online_store=SimpleNamespace(type="postgres"))
        self.fail = fail
        self.calls: list[tuple[list[str], list[dict[str, str]]]] = []

    def get_online_features(
        self, features: list[str], entity_rows: Sequence[dict[str, str]]
    ) -> FakeResponse:
        if self.fail:
            raise ConnectionError("connection refused")
        self.calls.append((features, list(entity_rows)))
        blobs = {r["card_token"]: b"card" for r in entity_rows if r["card_token"] != "new"}
        return FakeResponse(
            {
                "card_token": [r["card_token"] for r in entity_rows],
                CARD_BLOB: [blobs.get(r["card_token"]) for r in entity_rows],
                TERMINAL_BLOB: [b"term" for _ in entity_rows],
            }
        )


def test_other_online_stores_read_through_feast() -> None:
    store = FakeStore()
    reader = state_reader(store)
    assert isinstance(reader, FeastStateReader)
    assert state_reader(store) is reader  # one reader per store
    blobs = reader.read(["c1", "new", "c1"], ["t1", "t2", "t1"])
    assert blobs == {CARD_BLOB: [b"card", None, b"card"], TERMINAL_BLOB: [b"term"] * 3}
    [(features, rows)] = store.calls
    assert features == STATE_REFS == ["card_state:c_state", "terminal_state:t_state"]
    assert rows[1] == {"card_token": "new", "terminal_id": "t2"}


def test_a_failed_read_is_a_feature_store_error() -> None:
    with pytest.raises(FeatureStoreError, match="online feature read failed"):
        state_reader(FakeStore(fail=True)).read(["c1"], ["t1"])
