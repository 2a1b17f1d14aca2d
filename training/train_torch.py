"""MLP member: data-parallel training with Ray Train (``TorchTrainer``, DDP on gloo).

Inputs are squashed and standardized with training statistics computed on the
driver (``fraudlens.model.mlp``), so serving applies the very same transform.
Class imbalance: ``BCEWithLogitsLoss(pos_weight=...)`` for each candidate
weight, all fitted in one run that reports to Ray Train once, at the end; the
driver keeps the candidate with the best validation AP.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray.train
import ray.train.torch
import torch
from ray.train.torch import TorchTrainer
from torch import nn

from fraudlens.errors import ModelError
from fraudlens.model import MlpMember
from fraudlens.model.mlp import FraudMLP, fit_scaler, scale
from fraudlens.settings import TrainingSettings
from training.ray_runtime import run_config, scaling, threads_per_worker, to_ray
from training.train_xgb import LABEL, pos_weights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MlpCandidate:
    """One fitted MLP and the positive weight it was trained with."""

    power: float
    pos_weight: float
    member: MlpMember


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    config: dict[str, Any],
    pos_weight: float,
    rank: int = 0,
    distributed: bool = False,
) -> nn.Module:
    """Train one MLP on scaled inputs; with ``distributed``, inside a Ray Train worker.

    Every worker draws the same number of batches per epoch (shards are split
    equally), which DDP needs to keep its all-reduce calls in step.
    """
    torch.manual_seed(config["seed"])
    model: nn.Module = FraudMLP(x.shape[1], config["hidden"])
    if distributed:
        model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = torch.Generator().manual_seed(config["seed"] + rank)
    batch = config["batch_size"]
    model.train()
    for _ in range(config["epochs"]):
        order = torch.randperm(len(xt), generator=rng)
        for lo in range(0, len(xt), batch):
            idx = order[lo : lo + batch]
            optimizer.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            optimizer.step()
    return getattr(model, "module", model)


def _worker(config: dict[str, Any]) -> None:
    """Ray Train worker: fit every candidate on this worker's shard, report once."""
    torch.set_num_threads(config["threads"])
    shard = ray.train.get_dataset_shard("train").materialize().to_pandas()
    mean, std = np.asarray(config["mean"], np.float32), np.asarray(config["std"], np.float32)
    x = scale(shard[config["features"]].to_numpy(np.float32), mean, std)
    y = shard[LABEL].to_numpy(np.float32)
    ctx = ray.train.get_context()
    rank, distributed = ctx.get_world_rank(), ctx.get_world_size() > 1
    states = [
        fit_mlp(x, y, config, w, rank, distributed).state_dict() for w in config["pos_weights"]
    ]
    metrics = {"rows": float(len(y))}
    if rank != 0:
        ray.train.report(metrics, checkpoint=None)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for i, state in enumerate(states):
            torch.save(state, Path(tmp) / f"mlp_{i}.pt")
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))


def train_mlp(
    train: pd.DataFrame, features: list[str], cfg: TrainingSettings, storage: Path
) -> list[MlpCandidate]:
    """Fit the MLP candidates with Ray Train.

    Raises:
        ModelError: the Ray Train run failed.
    """
    weights = pos_weights(train[LABEL], cfg.imbalance_powers)
    mean, std = fit_scaler(train[features].to_numpy(np.float32))
    cols = [*features, LABEL]
    frame = pd.DataFrame({c: train[c].to_numpy(np.float32) for c in cols})
    trainer = TorchTrainer(
        _worker,
        train_loop_config={
            "features": features,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "hidden": cfg.mlp_hidden,
            "epochs": cfg.mlp_epochs,
            "batch_size": cfg.mlp_batch_size,
            "lr": cfg.mlp_learning_rate,
            "seed": cfg.seed,
            "pos_weights": weights,
            "threads": threads_per_worker(cfg),
        },
        scaling_config=scaling(cfg),
        run_config=run_config(storage, "mlp"),
        datasets={"train": to_ray(frame, cols)},
    )
    started = time.perf_counter()
    try:
        result = trainer.fit()
    except Exception as exc:  # Ray wraps worker errors in its own types
        raise ModelError(f"MLP Ray Train run failed: {exc}") from exc
    if result.checkpoint is None:
        raise ModelError("MLP Ray Train run returned no checkpoint")
    candidates = []
    with result.checkpoint.as_directory() as folder:
        for i, (power, weight) in enumerate(zip(cfg.imbalance_powers, weights, strict=True)):
            module = FraudMLP(len(features), cfg.mlp_hidden)
            module.load_state_dict(torch.load(Path(folder) / f"mlp_{i}.pt", weights_only=True))
            member = MlpMember(module.eval(), list(cfg.mlp_hidden), mean, std)
            candidates.append(MlpCandidate(power, weight, member))
    logger.info(
        "mlp: %d candidate(s) in %.1f s with Ray Train",
        len(candidates),
        time.perf_counter() - started,
    )
    return candidates
