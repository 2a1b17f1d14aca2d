"""The drift reference: the champion's training sample (features + scores).

Training saves ``FraudModel.reference`` (a sample of training feature rows and
their scores) with every model version in MLflow. The monitor compares recent
decisions with the reference of the model that made them, so a new champion
brings its own baseline. References are cached as Parquet under
``DATA_DIR/drift/reference`` so a check does not download the model each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fraudlens.errors import DataError, ModelError
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

SCORE = "score"


class _ReferenceLike(Protocol):
    features: pd.DataFrame
    scores: np.ndarray


class ModelWithReference(Protocol):
    """What the monitor needs from ``fraudlens.model.FraudModel``."""

    @property
    def version(self) -> str: ...

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def reference(self) -> Any: ...


@dataclass(frozen=True)
class Reference:
    """Reference rows for one model version.

    Attributes:
        model_version: the registered version the sample belongs to.
        feature_names: model input columns, in order.
        frame: ``feature_names`` columns plus ``score``.
    """

    model_version: str
    feature_names: list[str]
    frame: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        """Columns the detectors test: the features, then the score."""
        return [*self.feature_names, SCORE]


def reference_from_model(model: ModelWithReference) -> Reference:
    """Build the reference from a loaded model.

    Raises:
        ModelError: the model was saved without a reference sample.
    """
    ref: _ReferenceLike | None = model.reference
    if ref is None or len(ref.features) == 0:
        raise ModelError(f"model version {model.version} has no drift reference sample")
    names = list(model.feature_names)
    frame = ref.features[names].astype(np.float64).reset_index(drop=True)
    frame[SCORE] = np.asarray(ref.scores, dtype=np.float64).reshape(-1)
    return Reference(str(model.version), names, frame)


def reference_dir(settings: Settings) -> Path:
    """Where references are cached (``DATA_DIR/drift/reference``)."""
    return settings.data_dir / "drift" / "reference"


def save_reference(reference: Reference, folder: Path) -> Path:
    """Write ``reference-<version>.parquet`` (feature order kept) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"reference-{reference.model_version}.parquet"
    tmp = path.with_name(f".{path.name}.tmp")
    reference.frame.to_parquet(tmp, index=False)
    tmp.rename(path)
    return path


def read_reference(folder: Path, version: str) -> Reference | None:
    """The cached reference of ``version``, or None."""
    path = folder / f"reference-{version}.parquet"
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    if SCORE not in frame.columns:
        raise DataError(f"{path} has no {SCORE} column")
    names = [c for c in frame.columns if c != SCORE]
    return Reference(version, names, frame)


def load_reference(
    settings: Settings, alias: str = "champion", version: str | None = None
) -> Reference:
    """The reference of a registered version (by default the one ``alias`` points to).

    Uses the Parquet cache when present; otherwise loads the model from MLflow
    and caches its sample.

    Raises:
        ModelNotFoundError: no version carries the alias.
        ModelError: the model cannot be loaded or has no reference sample.
    """
    from fraudlens.model import load_model, load_model_version, mlflow_client

    folder = reference_dir(settings)
    if version is None:
        client = mlflow_client(settings)
        try:
            version = str(
                client.get_model_version_by_alias(settings.mlflow.model_name, alias).version
            )
        except Exception:  # let load_model raise the typed error
            model = load_model(settings, alias)
            reference = reference_from_model(model)
            save_reference(reference, folder)
            return reference
    cached = read_reference(folder, version)
    if cached is not None:
        return cached
    reference = reference_from_model(load_model_version(settings, version))
    save_reference(reference, folder)
    logger.info("cached drift reference of model version %s", version)
    return reference
