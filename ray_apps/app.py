"""The Serve application builder: ``import_path: ray_apps.app:build_app``.

``serve deploy ray_apps/serve_config.yaml`` (or a KubeRay RayService) calls
``build_app`` with the ``args`` of the config file, validated as ``AppArgs``.
Deployment options come from ``Settings.serve``; anything under
``deployments:`` in the config file overrides them, as Serve specifies.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from ray.serve import Application
from ray.serve.deployment import Deployment

from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.factory import default_config
from fraudlens.settings import Settings
from ray_apps.deployments import ScoringIngress, ShadowDeployment

APP_NAME = "fraudlens"


class AppArgs(BaseModel):
    """Arguments of the FraudLens Serve application.

    Attributes:
        settings: ``Settings`` overrides applied in every replica on top of its
            ``FRAUDLENS_*`` environment (secrets come from the environment only).
        scoring: the initial ``user_config`` of the scoring deployment; by default
            the model alias and shadow switch of ``settings.serve``.
        shadow: deploy the challenger in shadow (default ``serve.shadow``).
    """

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = Field(default_factory=dict)
    scoring: ScoringConfig | None = None
    shadow: bool | None = None


def settings_overrides(settings: Settings) -> dict[str, Any]:
    """A JSON-safe dump of ``settings`` for replicas, without any secret.

    A field typed as (or holding) ``SecretStr`` is left out entirely, so
    replicas read it from their own environment, never a masked value.
    """

    def public(model: BaseModel) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, info in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                out[name] = public(value)
            elif "Secret" not in repr(info.annotation):
                out[name] = to_jsonable_python(value)
        return out

    return public(settings)


def build_app(args: AppArgs) -> Application:
    """Build the Serve application: the scoring ingress (+ the shadow deployment).

    Args:
        args: see ``AppArgs`` (Serve passes the config file's ``args``).
    """
    if not isinstance(args, AppArgs):  # a plain dict when called directly
        args = AppArgs.model_validate(args)
    settings = Settings(**args.settings)
    serve_settings = settings.serve
    scoring = args.scoring or default_config(settings)
    options: dict[str, Any] = {
        "max_ongoing_requests": serve_settings.max_ongoing_requests,
        "ray_actor_options": {"num_cpus": serve_settings.num_cpus},
        "user_config": scoring.model_dump(mode="json"),
    }
    if serve_settings.autoscaling:
        options["autoscaling_config"] = {
            "min_replicas": serve_settings.min_replicas,
            "max_replicas": serve_settings.max_replicas,
            "target_ongoing_requests": serve_settings.target_ongoing_requests,
        }
    else:
        options["num_replicas"] = serve_settings.replicas
    shadow = None
    if serve_settings.shadow if args.shadow is None else args.shadow:
        shadow = (
            cast(Deployment, ShadowDeployment)
            .options(user_config={"challenger_alias": serve_settings.challenger_alias})
            .bind(args.settings)
        )
    return cast(Deployment, ScoringIngress).options(**options).bind(args.settings, shadow)


# Serve validates `args` into the builder's annotated model only when the
# annotation is a class; `from __future__ import annotations` leaves a string.
build_app.__annotations__["args"] = AppArgs
