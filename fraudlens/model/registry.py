"""Load the ensemble from the MLflow model registry by alias or version.

Models are downloaded once and kept in memory by the caller; the registry is
asked again only when the caller reloads (e.g. when an alias moves).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from fraudlens.errors import ModelError, ModelNotFoundError
from fraudlens.model.ensemble import FraudModel
from fraudlens.model.pyfunc import ARTIFACT_KEY
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def mlflow_client(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured tracking and registry URIs; return a client.

    The embedded default is a SQLite file under ``DATA_DIR/mlflow`` (its folder
    is created here, at first use).
    """
    tracking = settings.mlflow.resolved_tracking_uri(settings.data_dir)
    registry = settings.mlflow.resolved_registry_uri(settings.data_dir)
    for uri in (tracking, registry):
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)
    return MlflowClient(tracking_uri=tracking, registry_uri=registry)


def load_model(
    settings: Settings, alias: str = "champion", expected_features: Sequence[str] | None = None
) -> FraudModel:
    """Load the model version that ``alias`` points to.

    Args:
        settings: FraudLens settings (MLflow URIs and model name).
        alias: registry alias, e.g. ``champion`` or ``challenger``.
        expected_features: feature names the caller will provide (e.g. the
            feature service's); the model is refused if they differ.

    Raises:
        ModelNotFoundError: no version carries the alias.
        ModelError: the model cannot be loaded or its signature does not match.
    """
    client = mlflow_client(settings)
    name = settings.mlflow.model_name
    try:
        version = client.get_model_version_by_alias(name, alias).version
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            raise ModelNotFoundError(f"no version of model {name!r} has alias {alias!r}") from exc
        raise ModelError(f"cannot read alias {alias!r} of {name!r}: {exc}") from exc
    return load_model_version(settings, str(version), expected_features)


def load_model_version(
    settings: Settings, version: str, expected_features: Sequence[str] | None = None
) -> FraudModel:
    """Load one registered version of the ensemble.

    Raises:
        ModelNotFoundError: the version does not exist.
        ModelError: the model cannot be loaded or its signature does not match.
    """
    client = mlflow_client(settings)
    name = settings.mlflow.model_name
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            raise ModelNotFoundError(f"model {name!r} has no version {version!r}") from exc
        raise ModelError(f"cannot read version {version!r} of {name!r}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="fraudlens-model-") as tmp:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{name}/{version}", dst_path=tmp
                )
            )
            meta = Model.load(str(local / "MLmodel"))
        except (MlflowException, OSError) as exc:
            raise ModelError(f"cannot download {name!r} version {version}: {exc}") from exc
        signed = _signature_names(meta, name, version)
        rel = meta.flavors["python_function"]["artifacts"][ARTIFACT_KEY]["path"]
        model = FraudModel.load(local / rel, version=str(version))
    if signed != model.feature_names:
        raise ModelError(
            f"{name!r} version {version}: signature columns differ from the model's features"
        )
    if expected_features is not None and set(expected_features) != set(signed):
        missing = sorted(set(signed) - set(expected_features))
        extra = sorted(set(expected_features) - set(signed))
        raise ModelError(
            f"{name!r} version {version} expects other features "
            f"(model-only: {missing[:5]}, caller-only: {extra[:5]})"
        )
    logger.info("loaded model %s version %s", name, version)
    return model


def _signature_names(meta: Model, name: str, version: str) -> list[str]:
    if meta.signature is None:
        raise ModelError(f"{name!r} version {version} has no input signature")
    return [str(n) for n in meta.signature.inputs.input_names()]
