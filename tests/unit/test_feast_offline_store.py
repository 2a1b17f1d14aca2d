"""The Feast offline store is DuckDB, embedded and in the Redis (production) overlay."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudlens.features.repo import repo_config
from fraudlens.settings import FeastSettings, Settings


@pytest.mark.parametrize("online_store", ["sqlite", "redis"])
def test_offline_store_is_duckdb(tmp_path: Path, online_store: str) -> None:
    settings = Settings(data_dir=tmp_path, feast=FeastSettings(online_store=online_store))
    config = repo_config(settings)
    assert config.online_store.type == online_store
    assert config.offline_store.type == "duckdb"
    assert type(config.offline_store).__name__ == "DuckDBOfflineStoreConfig"
