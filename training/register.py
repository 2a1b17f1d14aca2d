"""Log a training run to MLflow and register the ensemble as a model version.

One run holds: parameters, validation and test metrics, plots, the per-scenario
tables, both members (``xgboost``, ``mlp``) and the ensemble pyfunc
(``ensemble``, registered under ``mlflow.model_name``) with its input
signature, plus lineage tags on the run and on the model version.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pytorch
import mlflow.xgboost
import numpy as np
import pandas as pd
import torch
import xgboost as xgb
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from fraudlens.errors import ModelError
from fraudlens.model import FraudModel, mlflow_client
from fraudlens.model.pyfunc import ARTIFACT_KEY, FraudLensPyfunc
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

TAG_PREFIX = "fraudlens."
MODEL_DIR = "fraud_model"


def requirements() -> list[str]:
    """Pinned runtime requirements (FraudLens itself comes with the image)."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"xgboost-cpu=={xgb.__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]


def signature(feature_names: list[str]) -> ModelSignature:
    """Input: one double column per feature, in model order; output: the score."""
    return ModelSignature(
        inputs=Schema([ColSpec("double", name) for name in feature_names]),
        outputs=Schema([ColSpec("double", "score")]),
    )


def _example(model: FraudModel) -> pd.DataFrame:
    """One input row for the pyfunc (a reference row, or zeros without a reference)."""
    if model.reference is not None and len(model.reference.features):
        return model.reference.features.head(1).astype("float64")
    return pd.DataFrame([[0.0] * len(model.feature_names)], columns=model.feature_names)


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """The training experiment, created with the configured artifact root if new."""
    found = client.get_experiment_by_name(settings.mlflow.experiment)
    if found is not None:
        return str(found.experiment_id)
    location = settings.mlflow.resolved_artifact_location(settings.data_dir)
    return str(client.create_experiment(settings.mlflow.experiment, artifact_location=location))


@dataclass(frozen=True)
class Registered:
    """Where a trained model went."""

    run_id: str
    version: str
    model_uri: str


def register(
    settings: Settings,
    model: FraudModel,
    *,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    lineage: Mapping[str, str],
    plots: list[Path],
    tables: Mapping[str, pd.DataFrame],
) -> Registered:
    """Log one training run and register the ensemble; returns the new version.

    Raises:
        ModelError: MLflow refused the run or the registration.
    """
    client = mlflow_client(settings)
    name = settings.mlflow.model_name
    tags = {TAG_PREFIX + key: str(value) for key, value in lineage.items()}
    sig = signature(model.feature_names)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="fraudlens-train-") as tmp,
            mlflow.start_run(
                experiment_id=experiment_id(client, settings), run_name=run_name
            ) as run,
        ):
            mlflow.set_tags(tags)
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
            for path in plots:
                mlflow.log_artifact(str(path), artifact_path="plots")
            for table, frame in tables.items():
                mlflow.log_text(frame.to_csv(index=False), f"evaluation/{table}.csv")
            model_dir = Path(tmp) / MODEL_DIR
            model.save(model_dir)
            mlflow.xgboost.log_model(
                model.booster, name="xgboost", signature=sig, pip_requirements=requirements()
            )
            mlflow.pytorch.log_model(
                model.mlp.module,
                name="mlp",
                serialization_format="pickle",
                pip_requirements=requirements(),
            )
            info = mlflow.pyfunc.log_model(
                name="ensemble",
                python_model=FraudLensPyfunc(),
                artifacts={ARTIFACT_KEY: str(model_dir)},
                signature=sig,
                input_example=_example(model),
                pip_requirements=requirements(),
                registered_model_name=name,
                metadata={"feature_service": model.feature_service},
            )
        version = str(info.registered_model_version)
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
        client.set_model_version_tag(name, version, TAG_PREFIX + "run_id", run.info.run_id)
    except MlflowException as exc:
        raise ModelError(f"MLflow could not log or register the model: {exc}") from exc
    logger.info("registered %s version %s (run %s)", name, version, run.info.run_id)
    return Registered(run.info.run_id, version, f"models:/{name}/{version}")


def attach_card(settings: Settings, registered: Registered, card: str) -> None:
    """Store the model card with the run (``model_card.md``) and as the version description."""
    client = mlflow_client(settings)
    client.log_text(registered.run_id, card, "model_card.md")
    client.update_model_version(settings.mlflow.model_name, registered.version, description=card)


def version_tags(settings: Settings, version: str) -> dict[str, str]:
    """Lineage tags of a registered version, without the ``fraudlens.`` prefix."""
    client = mlflow_client(settings)
    mv = client.get_model_version(settings.mlflow.model_name, version)
    return {k.removeprefix(TAG_PREFIX): v for k, v in mv.tags.items() if k.startswith(TAG_PREFIX)}
