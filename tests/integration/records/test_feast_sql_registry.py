"""Feast's registry on PostgreSQL (``feast.registry_url``): every pod reads one registry.

The feature repo is applied through one Settings object; a second one with
another DATA_DIR (another pod) sees the same definitions, and no registry
file is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudlens.errors import ConfigError
from fraudlens.features.repo import apply, repo_config
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration


def test_the_feature_repo_lives_in_a_sql_registry(records_url: str, tmp_path: Path) -> None:
    from feast import FeatureStore

    applied = set(apply(Settings(data_dir=tmp_path / "a", feast={"registry_url": records_url})))
    other = Settings(data_dir=tmp_path / "b", feast={"registry_url": records_url})
    config = repo_config(other)
    assert config.registry.registry_type == "sql"
    store = FeatureStore(config=config)
    views = {v.name for v in store.list_feature_views()}
    services = {s.name for s in store.list_feature_services()}
    assert views and services and (views | services) <= applied
    assert not list(tmp_path.rglob("registry.db"))
    with pytest.raises(ConfigError, match="feast.registry_url must be a postgresql"):
        repo_config(Settings(data_dir=tmp_path, feast={"registry_url": "mysql://u@db/feast"}))
