"""The MLP member of the ensemble and its input transform.

Both training (``training.train_torch``) and serving import this module, so the
network and its feature scaling cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class FraudMLP(nn.Module):
    """A small feed-forward network returning one fraud logit per row.

    Args:
        n_features: number of input features.
        hidden: sizes of the hidden layers.
    """

    def __init__(self, n_features: int, hidden: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(n,)``."""
        out: torch.Tensor = self.net(x).squeeze(-1)
        return out


def squash(x: np.ndarray) -> np.ndarray:
    """Compress heavy tails (amounts, counts) while keeping sign: ``asinh``."""
    out: np.ndarray = np.arcsinh(x, dtype=np.float32)
    return out


def fit_scaler(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the squashed training features."""
    z = squash(x)
    mean = z.mean(axis=0).astype(np.float32)
    std = z.std(axis=0).astype(np.float32)
    std[std < 1e-6] = 1.0  # constant columns stay at zero after scaling
    return mean, std


def scale(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The MLP's input: squashed, then standardized with training statistics.

    A missing value (NaN, e.g. a degraded request-only vector) becomes 0, the
    training mean; the XGBoost member treats it as missing natively.
    """
    out: np.ndarray = (squash(x) - mean) / std
    return np.nan_to_num(out.astype(np.float32, copy=False), nan=0.0)
