"""``FraudModel``: the XGBoost + MLP ensemble as one object serving can call.

Score = sigmoid(a * (w * xgb_margin + (1 - w) * mlp_logit) + b): the members
are averaged in log-odds with the weight ``w`` chosen on validation, then a
Platt calibration (a, b), also fitted on validation, maps the blend to a fraud
probability. Calibration is monotone, so it never changes the ranking.

Two ways to compute the same score: ``predict`` on a frame (the reference, what
the MLflow pyfunc and training call: the MLP through torch) and
``predict_array`` on a float32 matrix (serving's path: the MLP as numpy matrix
products, ``fraudlens.model.native``). They agree within 1e-6.

On disk a model is a folder: ``model.json`` (feature names, weights,
thresholds, metadata), ``xgb.ubj``, ``mlp.pt`` and ``reference.parquet``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xgboost as xgb
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fraudlens.errors import ModelError
from fraudlens.features.categories import model_vocabularies, with_onehot
from fraudlens.model.mlp import FraudMLP, scale
from fraudlens.model.native import NumpyMlp

FORMAT_VERSION = 1


class Thresholds(BaseModel):
    """Decision thresholds on the score scale: approve < review <= decline."""

    model_config = ConfigDict(frozen=True)

    review: float = Field(ge=0.0, le=1.0, description="scores at or above go to an analyst")
    decline: float = Field(ge=0.0, le=1.0, description="scores at or above are declined")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.decline < self.review:
            raise ValueError("decline threshold must not be below the review threshold")
        return self


@dataclass(frozen=True)
class Reference:
    """A sample of training rows and their scores, the baseline for drift checks."""

    features: pd.DataFrame
    scores: np.ndarray


@dataclass
class MlpMember:
    """The MLP member with the scaling statistics of its training data."""

    module: FraudMLP
    hidden: list[int]
    mean: np.ndarray
    std: np.ndarray


@dataclass
class FraudModel:
    """The ensemble that serving loads (see the module docstring for the formula).

    Attributes:
        booster: the XGBoost member (binary:logistic).
        mlp: the MLP member.
        weight: ensemble weight of the XGBoost member in log-odds (0..1).
        calibration: Platt slope and intercept ``(a, b)``.
        feature_names: input columns, in order.
        feature_service: the Feast feature service the features come from.
        thresholds: review / decline thresholds chosen on validation.
        version: registry version ("" before registration).
        reference: training sample for drift detection.
        metadata: lineage and training choices (free-form, JSON-safe).
    """

    booster: xgb.Booster
    mlp: MlpMember
    weight: float
    calibration: tuple[float, float]
    feature_names: list[str]
    feature_service: str
    thresholds: Thresholds
    version: str = ""
    reference: Reference | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mlp.module.eval()
        # One thread: single-row calls dominate serving and threads cost more than they save.
        self.booster.set_param({"nthread": 1})
        self._numpy_mlp: NumpyMlp | None = None

    def inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        """``features`` with the one-hot columns of categorical extras added when absent.

        A frame of history rows holds a categorical extra as its raw text column
        ``x_<name>``; the model's vocabulary (metadata) expands it, as serving does.
        """
        vocabularies = model_vocabularies(self)
        if not vocabularies or all(c in features.columns for c in self.feature_names):
            return features
        missing = [v.column for v in vocabularies if v.column not in features.columns]
        if missing:
            raise ModelError(f"missing feature columns: {', '.join(missing)}")
        return with_onehot(features, vocabularies)

    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        features = self.inputs(features)
        missing = [name for name in self.feature_names if name not in features.columns]
        if missing:
            raise ModelError(f"missing feature columns: {', '.join(missing)}")
        out: np.ndarray = features[self.feature_names].to_numpy(dtype=np.float32)
        return out

    def _mlp_logit(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.mlp.module(torch.from_numpy(scale(x, self.mlp.mean, self.mlp.std)))
        logits: np.ndarray = out.numpy().astype(np.float64)
        return logits

    def member_margins(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds of each member for a float32 matrix in ``feature_names`` order."""
        margin = self.booster.inplace_predict(x, predict_type="margin")
        return np.asarray(margin, dtype=np.float64), self._mlp_logit(x)

    def _probability(self, xgb_margin: np.ndarray, mlp_logit: np.ndarray) -> np.ndarray:
        a, b = self.calibration
        blend = self.weight * xgb_margin + (1.0 - self.weight) * mlp_logit
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(a * blend + b)))
        return out

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """Fraud probabilities for a float32 matrix in ``feature_names`` order (serving).

        The same score as ``predict`` within 1e-6, without a frame and without
        torch: the MLP runs as numpy matrix products over its weights, copied
        at the first call (the weights must not change afterwards).
        """
        if self._numpy_mlp is None:
            self._numpy_mlp = NumpyMlp.from_module(self.mlp.module, self.mlp.mean, self.mlp.std)
        margin = self.booster.inplace_predict(x, predict_type="margin")
        return self._probability(np.asarray(margin, np.float64), self._numpy_mlp.logits(x))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Fraud probability in [0, 1], one per row; deterministic (the reference).

        Args:
            features: a frame holding at least ``feature_names`` (extra columns
                such as ids are ignored).

        Raises:
            ModelError: a feature column is missing.
        """
        return self._probability(*self.member_margins(self._matrix(features)))

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Approximate per-feature contributions to the score, in log-odds.

        XGBoost's fast (Saabas) ``approx_contribs`` for the tree member plus
        gradient x input (relative to the training mean) for the MLP, blended
        and scaled exactly as the score is. Shape ``(n, len(feature_names))``.
        """
        x = self._matrix(features)
        trees = self.booster.predict(
            xgb.DMatrix(x, feature_names=self.feature_names),
            pred_contribs=True,
            approx_contribs=True,
        )[:, :-1]  # the last column is the bias
        z = torch.from_numpy(scale(x, self.mlp.mean, self.mlp.std)).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.mlp.module(z).sum(), z)  # no parameter grads
        mlp = (grad * z).detach().numpy().astype(np.float64)
        a, _ = self.calibration
        out: np.ndarray = a * (self.weight * trees + (1.0 - self.weight) * mlp)
        return out

    def feature_importance(self) -> dict[str, float]:
        """Total gain per feature of the XGBoost member."""
        gain = self.booster.get_score(importance_type="total_gain")
        return {name: float(np.sum(gain.get(name, 0.0))) for name in self.feature_names}

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """``approve`` / ``review`` / ``decline`` for each score."""
        out = np.full(scores.shape, "approve", dtype=object)
        out[scores >= self.thresholds.review] = "review"
        out[scores >= self.thresholds.decline] = "decline"
        return out

    def save(self, path: Path) -> None:
        """Write the model folder (created if needed)."""
        path.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(path / "xgb.ubj"))
        torch.save(self.mlp.module.state_dict(), path / "mlp.pt")
        spec = {
            "format": FORMAT_VERSION,
            "feature_names": self.feature_names,
            "feature_service": self.feature_service,
            "weight": self.weight,
            "calibration": list(self.calibration),
            "thresholds": self.thresholds.model_dump(),
            "mlp": {
                "hidden": self.mlp.hidden,
                "mean": self.mlp.mean.tolist(),
                "std": self.mlp.std.tolist(),
            },
            "metadata": self.metadata,
        }
        (path / "model.json").write_text(json.dumps(spec, indent=2, default=str))
        if self.reference is not None:
            ref = self.reference.features.copy()
            ref["__score__"] = self.reference.scores
            ref.to_parquet(path / "reference.parquet", index=False)

    @classmethod
    def load(cls, path: Path, version: str = "") -> FraudModel:
        """Read a model folder written by ``save``.

        Raises:
            ModelError: the folder is missing files or has another format.
        """
        try:
            spec = json.loads((path / "model.json").read_text())
            if spec.get("format") != FORMAT_VERSION:
                raise ModelError(f"unsupported model format {spec.get('format')!r} in {path}")
            booster = xgb.Booster()
            booster.load_model(str(path / "xgb.ubj"))
            names = list(spec["feature_names"])
            module = FraudMLP(len(names), spec["mlp"]["hidden"])
            module.load_state_dict(torch.load(path / "mlp.pt", weights_only=True))
        except (OSError, KeyError, ValueError, RuntimeError, xgb.core.XGBoostError) as exc:
            raise ModelError(f"cannot load model from {path}: {exc}") from exc
        reference = None
        if (path / "reference.parquet").exists():
            ref = pd.read_parquet(path / "reference.parquet")
            reference = Reference(ref.drop(columns="__score__"), ref["__score__"].to_numpy())
        mlp = MlpMember(
            module,
            list(spec["mlp"]["hidden"]),
            np.asarray(spec["mlp"]["mean"], dtype=np.float32),
            np.asarray(spec["mlp"]["std"], dtype=np.float32),
        )
        return cls(
            booster=booster,
            mlp=mlp,
            weight=float(spec["weight"]),
            calibration=(float(spec["calibration"][0]), float(spec["calibration"][1])),
            feature_names=names,
            feature_service=str(spec["feature_service"]),
            thresholds=Thresholds(**spec["thresholds"]),
            version=version,
            reference=reference,
            metadata=dict(spec.get("metadata", {})),
        )
