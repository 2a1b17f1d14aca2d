"""Check that the FRAUDLENS_* variables the manifests set are real settings.

Unknown ``FRAUDLENS_*`` variables are ignored by pydantic-settings, so a
misspelt name in a ConfigMap would silently leave the default in force (say,
the embedded SQLite store in production). Each name must resolve to a field
of ``Settings`` and each literal value must validate against that field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fraudlens.deploy.kustomize import object_id
from fraudlens.deploy.problems import Problem
from fraudlens.deploy.workloads import pod_templates

PREFIX = "FRAUDLENS_"


def manifest_env(bundle: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str | None]]:
    """``{name: (where, literal value or None)}`` for every FRAUDLENS_* variable set."""
    found: dict[str, tuple[str, str | None]] = {}
    for obj in bundle:
        if obj.get("kind") == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                if key.startswith(PREFIX):
                    found[key] = (f"{object_id(obj)} data.{key}", str(value))
        for template in pod_templates(obj):
            for container in template.containers:
                for env in container.get("env") or []:
                    name = str(env.get("name", ""))
                    if name.startswith(PREFIX):
                        value = env.get("value")
                        found[name] = (
                            f"{object_id(obj)} {template.path} env {name}",
                            None if value is None else str(value),
                        )
    return found


def settings_env_problems(
    env: Mapping[str, tuple[str, str | None]],
    where: str,
    settings_cls: Any,
    pending_groups: Iterable[str] = (),
) -> list[Problem]:
    """Names that are not settings, and values their setting rejects.

    Args:
        env: from ``manifest_env`` (or secret names with a None value).
        where: prefix for problem locations (the environment).
        settings_cls: the pydantic-settings class (``fraudlens.settings.Settings``).
        pending_groups: top-level groups not in ``settings_cls`` yet, whose
            variables are accepted unchecked (another issue is adding them).
    """
    from pydantic import BaseModel, TypeAdapter, ValidationError

    pending = set(pending_groups)
    problems = []
    for name, (location, value) in sorted(env.items()):
        parts = name[len(PREFIX) :].lower().split("__")
        model: Any = settings_cls
        annotation: Any = None
        for i, part in enumerate(parts):
            fields = model.model_fields if model is not None else {}
            if part not in fields:
                if i == 0 and part in pending:
                    annotation = None
                    break
                problems.append(Problem(f"{where} {location}", f"{name} is not a setting"))
                annotation = None
                break
            annotation = fields[part].annotation
            is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            model = annotation if is_model else None
            if not is_model and i < len(parts) - 1:
                problems.append(Problem(f"{where} {location}", f"{name} is not a setting"))
                annotation = None
                break
        if annotation is None or value is None or model is not None:
            continue
        try:
            TypeAdapter(annotation).validate_python(value)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            problems.append(Problem(f"{where} {location}", f"{name}={value!r}: {message}"))
    return problems


def production_env_problems(
    env: Mapping[str, tuple[str, str | None]], where: str, settings_cls: Any
) -> list[Problem]:
    """What production mode would refuse (or lose) with these variables.

    Built from the literal values (the Secret's keys are known by name only):
    a checkpoint location on the pod's disk, per-replica rate limits, live
    rules in the pod's folder or in a Redis without a URL. Only when the
    environment sets ``FRAUDLENS_MODE=production``; values that do not
    validate are ``settings_env_problems``' to report.
    """
    from pydantic import ValidationError

    from fraudlens.errors import ConfigError

    literal = {name: value for name, (_, value) in env.items() if value is not None}
    if literal.get(f"{PREFIX}MODE") != "production":
        return []
    tree: dict[str, Any] = {}
    for name, value in literal.items():
        *groups, leaf = name[len(PREFIX) :].lower().split("__")
        node = tree
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    try:
        settings = settings_cls.model_validate(tree)
    except ValidationError:
        return []

    def refused(name: str, check: Callable[[], object]) -> list[Problem]:
        try:
            check()
        except ConfigError as exc:
            return [
                Problem(f"{where} {env[name][0] if name in env else 'unset ' + name}", str(exc))
            ]
        return []

    problems = refused(
        f"{PREFIX}CHECKPOINT__URL",
        lambda: settings.checkpoint.resolved_url(settings.mode, settings.data_dir),
    )
    limits = f"{PREFIX}SECURITY__RATE_LIMIT_STORAGE"
    if limits not in env or env[limits][1] is not None:  # a Secret's value is not ours to read
        problems += refused(
            limits, lambda: settings.security.resolved_rate_limit_storage("production")
        )
    rules = f"{PREFIX}SERVE__RULES_STORE"
    where_rules = f"{where} {env[rules][0] if rules in env else 'unset ' + rules}"
    if settings.serve.rules_store == "file":
        problems.append(Problem(where_rules, "serve.rules_store=file keeps live rules in one pod"))
    elif settings.serve.rules_store == "redis" and f"{PREFIX}SERVE__RULES_REDIS_URL" not in env:
        problems.append(Problem(where_rules, "serve.rules_store=redis needs serve.rules_redis_url"))
    return problems
