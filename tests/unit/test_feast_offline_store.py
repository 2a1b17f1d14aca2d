"""The Feast offline store: DuckDB by default (embedded and Redis), Spark on request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fraudlens.errors import ConfigError
from fraudlens.features.repo import load_definitions, repo_config
from fraudlens.settings import FeastSettings, Settings, SparkSettings


@pytest.mark.parametrize("online_store", ["sqlite", "redis"])
def test_offline_store_is_duckdb(tmp_path: Path, online_store: str) -> None:
    settings = Settings(data_dir=tmp_path, feast=FeastSettings(online_store=online_store))
    config = repo_config(settings)
    assert config.online_store.type == online_store
    assert config.offline_store.type == "duckdb"
    assert type(config.offline_store).__name__ == "DuckDBOfflineStoreConfig"


def spark_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        feast=FeastSettings(
            online_store="redis",
            offline_store="spark",
            spark_conf={"spark.executor.memory": "4g", "spark.driver.memory": "3g"},
        ),
        spark=SparkSettings(master="spark://spark-master:7077", shuffle_partitions=64),
    )


def test_spark_offline_store_takes_its_conf_from_the_settings(tmp_path: Path) -> None:
    config = repo_config(spark_settings(tmp_path))
    assert config.online_store.type == "redis"
    assert type(config.offline_store).__name__ == "SparkOfflineStoreConfig"
    conf = config.offline_store.spark_conf
    assert conf["spark.master"] == "spark://spark-master:7077"
    assert conf["spark.sql.shuffle.partitions"] == "64"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    # feast.spark_conf adds entries and wins over the ones built from spark.*.
    assert conf["spark.executor.memory"] == "4g" and conf["spark.driver.memory"] == "3g"


def test_spark_offline_store_reads_the_same_folders_as_spark_sources(tmp_path: Path) -> None:
    from feast import PushSource
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

    before = os.environ.get("FRAUDLENS_FEAST__OFFLINE_STORE")
    settings = spark_settings(tmp_path)
    objects = load_definitions(settings)
    sources = {o.name: o for o in objects if type(o).__name__.endswith("Source")}
    # The state views' Parquet sources are the batch sources of their push sources.
    sources |= {o.batch_source.name: o.batch_source for o in objects if isinstance(o, PushSource)}
    assert os.environ.get("FRAUDLENS_FEAST__OFFLINE_STORE") == before  # restored
    folders = tmp_path / "feast" / "offline"
    for name, folder in (
        ("transaction_feature_files", "transaction_features"),
        ("card_state_files", "card_state"),
        ("terminal_state_files", "terminal_state"),
    ):
        source = sources[name]
        assert isinstance(source, SparkSource), name
        assert source.file_format == "parquet"
        assert source.path == str((folders / folder).resolve())
    duckdb = Settings(data_dir=tmp_path, feast=FeastSettings(online_store="redis"))
    objects = load_definitions(duckdb)
    kinds = {type(o.batch_source).__name__ for o in objects if isinstance(o, PushSource)}
    kinds |= {type(o).__name__ for o in objects if o.name == "transaction_feature_files"}
    assert kinds == {"FileSource"}


def test_spark_offline_store_needs_the_redis_online_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, feast=FeastSettings(offline_store="spark"))
    with pytest.raises(ConfigError, match="online_store=redis"):
        repo_config(settings)
