"""Ray setup shared by both trainers: connect once, size workers, store results."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import ray
import ray.data
from ray.train import RunConfig, ScalingConfig

from fraudlens.settings import TrainingSettings

logger = logging.getLogger(__name__)


def ensure_ray(cfg: TrainingSettings) -> None:
    """Connect to Ray (``ray_address``) or start a local instance, once per process."""
    if ray.is_initialized():
        return
    logger.info("starting Ray (address=%s)", cfg.ray_address or "local")
    ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=True)


def scaling(cfg: TrainingSettings) -> ScalingConfig:
    """Workers with fractional CPUs: whole CPUs on a small machine starve Ray Data."""
    return ScalingConfig(
        num_workers=cfg.ray_workers, resources_per_worker={"CPU": cfg.ray_cpus_per_worker}
    )


def threads_per_worker(cfg: TrainingSettings) -> int:
    """Threads a worker may use: its CPU share, at least one."""
    return max(1, int(cfg.ray_cpus_per_worker))


def run_config(storage: Path, kind: str) -> RunConfig:
    """A uniquely named run under ``storage`` (where checkpoints are written)."""
    storage.mkdir(parents=True, exist_ok=True)
    return RunConfig(name=f"{kind}-{uuid.uuid4().hex[:8]}", storage_path=str(storage.resolve()))


def to_ray(frame: pd.DataFrame, columns: Sequence[str]) -> ray.data.Dataset:
    """A Ray Dataset of the given columns (float32 features keep it small)."""
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray.data.from_pandas(frame[list(columns)].reset_index(drop=True))
