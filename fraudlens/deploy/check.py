"""Run every deployment check on a repository: what ``fraudlens deploy check`` does.

For each environment (an overlay plus its training job, rendered together):
core objects against the Kubernetes schemas, KubeRay objects against their
CRDs and the operator's rules, the embedded Serve config against Ray's schema
(and against ``ray_apps/serve_config.yaml``, its source), the Serve builder's
arguments and ``user_config`` against their models, cross-references and house
rules, and the FRAUDLENS_* variables against ``Settings``. Then the Dockerfile
and the CircleCI config.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from fraudlens.deploy.circleci import circleci_problems
from fraudlens.deploy.crds import find_crd_dir, is_kuberay, validate_kuberay
from fraudlens.deploy.dockerfile import dockerfile_rules, hadolint
from fraudlens.deploy.k8s import validate_core, validate_metadata
from fraudlens.deploy.kuberay_rules import kuberay_rules, serve_capacity
from fraudlens.deploy.kustomize import Manifest, object_id, render
from fraudlens.deploy.offline_store import offline_store_problems
from fraudlens.deploy.policy import policy_problems
from fraudlens.deploy.problems import Problem
from fraudlens.deploy.serve import (
    SERVE_SOURCE,
    load_serve_config,
    serve_config_drift,
    serve_rules,
    validate_serve_config,
)
from fraudlens.deploy.settings_env import (
    manifest_env,
    production_env_problems,
    settings_env_problems,
)
from fraudlens.errors import ConfigError

# Each environment is what one cluster runs: the overlay applied with
# `kubectl apply -k`, the training job created on demand, and in prod the
# optional MLflow tracking server (namespace mlflow).
ENVIRONMENTS: dict[str, tuple[str, ...]] = {
    "dev": ("kuberay/overlays/dev", "kuberay/overlays/dev/training"),
    "prod": (
        "kuberay/overlays/prod",
        "kuberay/overlays/prod/training",
        "kuberay/overlays/prod/mlflow",
    ),
}
# Secrets the manifests reference; users create them (docs/deploy.md).
EXTERNAL_SECRETS = (
    "fraudlens-secrets",
    "fraudlens-kafka-ca",
    "fraudlens-ray-gcs-redis",
    "mlflow-backend-store",
)
# Keys of the Secret fraudlens-secrets, passed to the Pods with envFrom.
SECRET_ENV = (
    "FRAUDLENS_SECURITY__TOKEN_KEYS",
    "FRAUDLENS_SECURITY__ENCRYPTION_KEYS",
    "FRAUDLENS_SECURITY__API_KEYS",
    "FRAUDLENS_SECURITY__AUDIT_HMAC_KEY",
    "FRAUDLENS_KAFKA__SASL_PASSWORD",
    "FRAUDLENS_FEAST__REDIS_CONNECTION_STRING",
    "FRAUDLENS_FEAST__REGISTRY_URL",
    "FRAUDLENS_RECORDS__DATABASE_URL",
    "FRAUDLENS_SECURITY__RATE_LIMIT_STORAGE",
)
# Settings groups the manifests use before Settings has them (another issue adds
# them); their variables are accepted unchecked. Empty: every group has landed.
PENDING_SETTINGS: tuple[str, ...] = ()
# The CI pipeline's stages, in order, and the jobs that need a manual approval.
PIPELINE = (
    "lint",
    "unit",
    "integration",
    "train-gate",
    "build-image",
    "deploy-staging",
    "approve-production",
    "deploy-production",
)
NEEDS_APPROVAL = ("deploy-production",)
# Serve deployments allowed a fixed replica count: shadow scoring is best
# effort (one replica, a bounded queue), never on the request path.
FIXED_REPLICAS_OK = ("shadow",)
# user_config models of Serve deployments, by deployment name.
USER_CONFIG_MODELS = {"scoring": "fraudlens.scoring.config:ScoringConfig"}
RAYSERVICE_FILE = Path("kuberay") / "base" / "rayservice-scoring.yaml"


def ray_version() -> str:
    """The installed (pinned) Ray version."""
    return metadata.version("ray")


def render_environment(repo_root: Path, environment: str) -> list[Manifest]:
    """Every object of one environment (overlay + training job).

    Raises:
        ConfigError: unknown environment, or a kustomization does not render.
    """
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {environment!r} (known: {', '.join(ENVIRONMENTS)})")
    return [obj for folder in ENVIRONMENTS[environment] for obj in render(repo_root / folder)]


def check_bundle(
    bundle: Sequence[Manifest],
    where: str,
    *,
    repo_root: Path,
    crd_dir: Path,
    pending_settings: Iterable[str] = (),
) -> list[Problem]:
    """Every check of one environment's objects.

    Schemas first; the rules (which assume well-typed objects) run only when
    every object passes its schema.
    """
    from fraudlens.settings import Settings

    version = ray_version()
    problems: list[Problem] = []
    for obj in bundle:
        here = f"{where} {object_id(obj)}"
        if is_kuberay(obj):
            problems += validate_metadata(obj, here)
            problems += validate_kuberay(obj, crd_dir, here)
        else:
            problems += validate_core(obj, here)
    if problems:
        return problems  # the rules below assume schema-valid objects
    for obj in bundle:
        here = f"{where} {object_id(obj)}"
        if is_kuberay(obj):
            problems += kuberay_rules(obj, here, version)
        if obj.get("kind") == "RayService":
            problems += _serve_problems(obj, here, repo_root)
    problems += policy_problems(bundle, where, EXTERNAL_SECRETS)
    problems += offline_store_problems(bundle, where)
    env = manifest_env(bundle) | {name: ("Secret fraudlens-secrets", None) for name in SECRET_ENV}
    problems += settings_env_problems(env, where, Settings, pending_settings)
    problems += production_env_problems(env, where, Settings)
    return problems


def _serve_problems(obj: Mapping[str, Any], here: str, repo_root: Path) -> list[Problem]:
    text = (obj.get("spec") or {}).get("serveConfigV2")
    if not isinstance(text, str):
        return []  # kuberay_rules reports the missing serveConfigV2
    try:
        config = load_serve_config(text, f"{here} serveConfigV2")
    except ConfigError as exc:
        return [Problem(here, str(exc))]
    where = f"{here} serveConfigV2"
    problems = validate_serve_config(config, where)
    if problems:
        return problems
    problems += serve_rules(config, where, FIXED_REPLICAS_OK)
    problems += serve_capacity(obj, config, here)
    problems += serve_config_drift(text, repo_root / SERVE_SOURCE, here)
    problems += app_problems(config, where)
    return problems


def app_problems(config: Mapping[str, Any], where: str) -> list[Problem]:
    """Each application's import path resolves, its ``args`` fit the builder's model,
    and each known deployment's ``user_config`` fits its model."""
    from pydantic import BaseModel, ValidationError

    problems = []
    for a, app in enumerate(config.get("applications") or []):
        path = f"applications[{a}]"
        try:
            builder = _resolve(str(app.get("import_path")))
        except ConfigError as exc:
            problems.append(Problem(where, f"{path}.import_path: {exc}"))
            continue
        args_model = getattr(builder, "__annotations__", {}).get("args")
        if isinstance(args_model, type) and issubclass(args_model, BaseModel):
            try:
                args_model.model_validate(app.get("args") or {})
            except ValidationError as exc:
                problems += [
                    Problem(where, f"{path}.args: {e['msg']} at {e['loc']}") for e in exc.errors()
                ]
        for d, dep in enumerate(app.get("deployments") or []):
            model_path = USER_CONFIG_MODELS.get(str(dep.get("name")))
            if model_path is None or "user_config" not in dep:
                continue
            try:
                _resolve(model_path).model_validate(dep["user_config"])
            except ValidationError as exc:
                problems += [
                    Problem(where, f"{path}.deployments[{d}].user_config: {e['msg']} at {e['loc']}")
                    for e in exc.errors()
                ]
    return problems


@functools.lru_cache(maxsize=32)
def _resolve(import_path: str) -> Any:
    from pydantic.warnings import PydanticDeprecatedSince20

    module_name, _, attribute = import_path.partition(":")
    try:
        with warnings.catch_warnings():
            # Ray 2.60 declares Field(update_type=...), deprecated in pydantic 2.
            warnings.simplefilter("ignore", PydanticDeprecatedSince20)
            return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {import_path}: {exc}") from exc


def check_repo(
    repo_root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    pending_settings: Iterable[str] = PENDING_SETTINGS,
) -> list[Problem]:
    """Every deployment check of the repository at ``repo_root``.

    Raises:
        ConfigError: a check cannot run at all (no CRDs, no hadolint, a
            kustomization that does not render).
    """
    crd_dir = find_crd_dir(repo_root, environ)
    pending = tuple(pending_settings)
    problems = []
    for environment in ENVIRONMENTS:
        bundle = render_environment(repo_root, environment)
        problems += check_bundle(
            bundle, environment, repo_root=repo_root, crd_dir=crd_dir, pending_settings=pending
        )
    dockerfile = repo_root / "docker" / "Dockerfile"
    problems += dockerfile_rules(dockerfile, ray_version())
    problems += hadolint(dockerfile)
    problems += circleci_problems(
        repo_root / ".circleci" / "config.yml",
        repo_root / "Makefile",
        stage_order=PIPELINE,
        needs_approval=NEEDS_APPROVAL,
    )
    return problems
