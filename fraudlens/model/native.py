"""The MLP member as numpy matrix products: serving's inference path for the network.

``FraudModel.predict`` (what the MLflow pyfunc calls) runs the MLP through
torch. At serving sizes (1 to a few hundred rows, 64-32 hidden units) torch's
per-call dispatch costs more than the arithmetic, so serving multiplies the
same float32 weights with numpy. Scores agree with the pyfunc's within 1e-6
(``tests/integration/serving/test_serving_inference.py``); the trees keep
XGBoost's ``inplace_predict``, measured faster than treelite's GTIL at batch
sizes above one row (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from fraudlens.errors import ModelError
from fraudlens.model.mlp import FraudMLP, scale


@dataclass(frozen=True)
class NumpyMlp:
    """The MLP's layers as (weight transposed, bias) float32 pairs, with its input scaling."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def from_module(cls, module: FraudMLP, mean: np.ndarray, std: np.ndarray) -> NumpyMlp:
        """Copy the weights of ``module`` (Linear layers with ReLU between them).

        Raises:
            ModelError: the network has another shape than ``FraudMLP`` builds.
        """
        layers = list(module.net)
        linear = [layer for layer in layers if isinstance(layer, nn.Linear)]
        relu = [layer for layer in layers if isinstance(layer, nn.ReLU)]
        if len(linear) + len(relu) != len(layers) or len(relu) != len(linear) - 1:
            raise ModelError("the MLP is not Linear layers with ReLU between them")
        pairs = tuple(
            (
                np.ascontiguousarray(layer.weight.detach().numpy().T, dtype=np.float32),
                layer.bias.detach().numpy().astype(np.float32),
            )
            for layer in linear
        )
        return cls(pairs, mean, std)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """One logit per row of a float32 matrix in the model's feature order."""
        h = scale(x, self.mean, self.std)
        *hidden, (w_out, b_out) = self.layers
        for w, b in hidden:
            h = h @ w
            h += b
            np.maximum(h, 0.0, out=h)
        out: np.ndarray = (h @ w_out + b_out)[:, 0].astype(np.float64)
        return out
