"""One builder of feature-store Settings for the feature tests (no Kafka started)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fraudlens.features.repo import apply
from fraudlens.settings import FeastSettings, FeaturesSettings, KafkaSettings, Settings


def store_settings(
    tmp_path: Path,
    redis_url: str,
    online_store: str = "sqlite",
    *,
    name: str = "store",
    kafka: KafkaSettings | None = None,
    features: FeaturesSettings | None = None,
    **feast: Any,
) -> Settings:
    """Settings in ``tmp_path/name`` with this online store and a fresh project, repo applied.

    ``kafka`` defaults to the settings' own (nothing started): the
    ``make_feature_settings`` fixture passes its fresh topics. ``features``
    (e.g. another matured delay) is applied to the repo too.
    """
    project = f"fl_{name}_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    settings = Settings(
        data_dir=tmp_path / name,
        kafka=kafka if kafka is not None else KafkaSettings(),
        feast=FeastSettings(
            online_store=online_store,  # type: ignore[arg-type]
            redis_connection_string=redis_url,
            project=project,
            **feast,
        ),
        features=features or FeaturesSettings(),
    )
    apply(settings)
    return settings
