"""The Feast repo as FraudLens uses it: configuration from Settings, apply, materialize.

``feature_repo/feature_store.yaml`` (SQLite online, DuckDB offline),
``feature_repo/envs/redis.yaml`` (Redis online, DuckDB offline) and
``feature_repo/envs/redis-spark.yaml`` (Redis online, Spark offline) use
``${FRAUDLENS_*}`` variables; ``feast_variables`` gives their values for a
Settings object, so the yaml, the settings and the ``feast`` CLI agree on
names. With ``feast.registry_url`` the registry is a SQL registry on
PostgreSQL (shared by every pod) instead of the file.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from fraudlens.errors import ConfigError, FeatureStoreError
from fraudlens.features.offline import ensure_offline_folders
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

REPO_MODULES = ("entities", "data_sources", "feature_views", "on_demand", "feature_services")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def feast_dir(settings: Settings) -> Path:
    """Where the embedded Feast files live (``DATA_DIR/feast``)."""
    return settings.data_dir / "feast"


def offline_path(settings: Settings) -> Path:
    """The Parquet folder of the offline store."""
    return (settings.feast.offline_path or feast_dir(settings) / "offline").resolve()


def feast_variables(settings: Settings) -> dict[str, str]:
    """The ``${VAR}`` values of the feature_store yaml files for these settings."""
    feast = settings.feast
    return {
        "FRAUDLENS_FEAST__PROJECT": feast.project,
        "FRAUDLENS_FEAST__REGISTRY_PATH": str(
            (feast.registry_path or feast_dir(settings) / "registry.db").resolve()
        ),
        "FRAUDLENS_FEAST__SQLITE_PATH": str(
            (feast.sqlite_path or feast_dir(settings) / "online.db").resolve()
        ),
        "FRAUDLENS_FEAST__REDIS_CONNECTION_STRING": feast.redis_connection_string,
        "FRAUDLENS_FEAST__OFFLINE_PATH": str(offline_path(settings)),
        "FRAUDLENS_FEAST__OFFLINE_STORE": feast.offline_store,
        "FRAUDLENS_SPARK__MASTER": settings.spark.master,
        "FRAUDLENS_SPARK__DRIVER_MEMORY": settings.spark.driver_memory,
        "FRAUDLENS_SPARK__SHUFFLE_PARTITIONS": str(settings.spark.shuffle_partitions),
        DELAY_VARIABLE: str(settings.features.matured_delay_days),
    }


# on_demand.py bakes this into the terminal ODFV (its source and its tags).
DELAY_VARIABLE = "FRAUDLENS_FEATURES__MATURED_DELAY_DAYS"
# The variables data_sources.py and on_demand.py read when the repo modules are imported.
_SOURCE_VARIABLES = (
    "FRAUDLENS_FEAST__OFFLINE_PATH",
    "FRAUDLENS_FEAST__OFFLINE_STORE",
    DELAY_VARIABLE,
)


def yaml_path(settings: Settings) -> Path:
    """The feature_store yaml for the configured online and offline stores.

    Raises:
        ConfigError: the Spark offline store with the SQLite online store (the
            Spark store is the production choice, with Redis).
    """
    repo, feast = settings.feast.repo_path, settings.feast
    if feast.offline_store == "spark":
        if feast.online_store != "redis":
            raise ConfigError(
                "feast.offline_store=spark goes with feast.online_store=redis "
                "(envs/redis-spark.yaml); the embedded SQLite store uses DuckDB"
            )
        return repo / "envs" / "redis-spark.yaml"
    if feast.online_store == "redis":
        return repo / "envs" / "redis.yaml"
    return repo / "feature_store.yaml"


def repo_config(settings: Settings) -> Any:
    """A Feast ``RepoConfig`` built from the yaml with the settings' values."""
    from feast.repo_config import RepoConfig

    path = yaml_path(settings)
    if not path.is_file():
        raise ConfigError(f"feast.repo_path: {path} not found")
    values = {**os.environ, **feast_variables(settings)}

    def _sub(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ConfigError(f"{path.name}: ${{{match.group(1)}}} is not set")
        return values[match.group(1)]

    raw = yaml.safe_load(_VAR.sub(_sub, path.read_text()))
    if settings.feast.registry_url is not None:
        raw["registry"] = sql_registry(settings.feast.registry_url.get_secret_value())
    if settings.feast.offline_store == "spark":
        raw["offline_store"]["spark_conf"].update(settings.feast.spark_conf)
    config = RepoConfig(**raw)
    config.repo_path = settings.feast.repo_path
    return config


def sql_registry(url: str) -> dict[str, Any]:
    """The ``registry`` block of a Feast SQL registry on PostgreSQL (psycopg 3 driver).

    Raises:
        ConfigError: not a PostgreSQL URL (``feast.registry_url``).
    """
    from sqlalchemy.pool import NullPool

    from fraudlens.records.engine import sqlalchemy_url

    return {
        "registry_type": "sql",
        "path": sqlalchemy_url(url, "feast.registry_url"),
        "cache_ttl_seconds": 60,
        # Reads are cached for the TTL; no pool, so no connection outlives its
        # use (Feast never disposes the registry's engine).
        "sqlalchemy_config_kwargs": {"poolclass": NullPool},
    }


@contextmanager
def _repo_import(settings: Settings) -> Iterator[dict[str, Any]]:
    """Import the repo modules fresh, with the settings' offline path and store."""
    repo = str(settings.feast.repo_path.resolve())
    values = feast_variables(settings)
    saved_env = {name: os.environ.get(name) for name in _SOURCE_VARIABLES}
    os.environ.update({name: values[name] for name in _SOURCE_VARIABLES})
    sys.path.insert(0, repo)
    for name in REPO_MODULES:
        sys.modules.pop(name, None)
    try:
        yield {name: importlib.import_module(name) for name in REPO_MODULES}
    finally:
        sys.path.remove(repo)
        for name in REPO_MODULES:
            sys.modules.pop(name, None)
        for name, saved in saved_env.items():
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved


def load_definitions(settings: Settings) -> list[Any]:
    """Every Feast object defined in ``feature_repo/`` (entities, views, services...)."""
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource
    from feast.on_demand_feature_view import OnDemandFeatureView

    kinds = (Entity, DataSource, FeatureView, OnDemandFeatureView, FeatureService)
    objects: dict[int, Any] = {}
    with _repo_import(settings) as modules:
        for module in modules.values():
            for value in vars(module).values():
                if isinstance(value, kinds):
                    objects[id(value)] = value
    return list(objects.values())


def apply(settings: Settings) -> list[str]:
    """Register the feature repo (``feast apply``) and create the store folders.

    Returns:
        The names of the objects applied.

    Raises:
        FeatureStoreError: when Feast refuses the definitions.
    """
    from feast import FeatureStore

    ensure_offline_folders(offline_path(settings))
    feast_dir(settings).mkdir(parents=True, exist_ok=True)
    objects = load_definitions(settings)
    try:
        store = FeatureStore(config=repo_config(settings))
        store.apply(objects)
    except (ConfigError, FeatureStoreError):
        raise
    except Exception as exc:
        raise FeatureStoreError(f"feast apply failed: {exc}") from exc
    names = sorted(getattr(obj, "name", "") for obj in objects)
    logger.info("feast apply: %d objects", len(names))
    return names


def materialize(settings: Settings, start: datetime, end: datetime) -> None:
    """Load the latest state rows with ``start <= state_ts <= end`` into the online store.

    Raises:
        FeatureStoreError: when materialization fails.
    """
    from feast import FeatureStore

    if start.tzinfo is None or end.tzinfo is None:
        raise ConfigError("materialize: start and end must carry a timezone")
    try:
        store = FeatureStore(config=repo_config(settings))
        # Feast prints its progress on stdout; stdout is for results, so it goes to stderr.
        with redirect_stdout(sys.stderr):
            store.materialize(start_date=start, end_date=end)
    except Exception as exc:
        raise FeatureStoreError(f"feast materialize failed: {exc}") from exc
    logger.info("feast materialize %s .. %s done", start.isoformat(), end.isoformat())
