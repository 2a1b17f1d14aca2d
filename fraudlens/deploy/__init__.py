"""Offline validation of the deployment: kustomize rendering, Kubernetes and KubeRay
schemas, the Serve config, house rules, the Dockerfile and the CircleCI pipeline.

Nothing here talks to a cluster; ``fraudlens deploy check`` runs it all.
"""

from __future__ import annotations

from fraudlens.deploy.check import (
    ENVIRONMENTS,
    check_bundle,
    check_repo,
    render_environment,
)
from fraudlens.deploy.circleci import circleci_problems, makefile_targets
from fraudlens.deploy.crds import CRDS_ENV, find_crd_dir, validate_kuberay
from fraudlens.deploy.dockerfile import dockerfile_rules, hadolint
from fraudlens.deploy.k8s import validate_core
from fraudlens.deploy.kustomize import render
from fraudlens.deploy.problems import Problem, raise_for_problems
from fraudlens.deploy.serve import serve_config_drift, sync_serve_config, validate_serve_config

__all__ = [
    "CRDS_ENV",
    "ENVIRONMENTS",
    "Problem",
    "check_bundle",
    "check_repo",
    "circleci_problems",
    "dockerfile_rules",
    "find_crd_dir",
    "hadolint",
    "makefile_targets",
    "raise_for_problems",
    "render",
    "render_environment",
    "serve_config_drift",
    "sync_serve_config",
    "validate_core",
    "validate_kuberay",
    "validate_serve_config",
]
