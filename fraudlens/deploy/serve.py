"""The Serve config: validated with Ray's own schema, one source of truth.

``ray_apps/serve_config.yaml`` (what ``serve deploy`` takes locally) is the
source; the RayService embeds a copy in ``spec.serveConfigV2``.
``sync_serve_config`` rewrites the copy, ``serve_config_drift`` reports any
difference. Ray's schema ignores unknown keys; here they are errors, so a
misspelt ``autoscalng_config`` cannot silently turn autoscaling off.
"""

from __future__ import annotations

import re
import typing
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fraudlens.deploy.problems import Problem, json_path
from fraudlens.errors import ConfigError

SERVE_SOURCE = Path("ray_apps") / "serve_config.yaml"
SERVE_PORT = 8000
_BLOCK = re.compile(r"^(?P<indent>[ \t]*)serveConfigV2:[ \t]*\|[-+]?[ \t]*$")


def _schema_models() -> dict[str, Any]:
    """Ray's Serve schema models; imported lazily (Ray is heavy) and quietly."""
    with warnings.catch_warnings():
        # Ray 2.60 declares Field(update_type=...), deprecated in pydantic 2.
        from pydantic.warnings import PydanticDeprecatedSince20

        warnings.simplefilter("ignore", PydanticDeprecatedSince20)
        from ray.serve.config import AutoscalingConfig
        from ray.serve.schema import ServeDeploySchema

    return {"deploy": ServeDeploySchema, "autoscaling": AutoscalingConfig}


def load_serve_config(text: str, where: str) -> dict[str, Any]:
    """Parse a Serve config from YAML text.

    Raises:
        ConfigError: not YAML, or not a mapping.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: Serve config is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: Serve config must be a mapping")
    return data


def validate_serve_config(config: Mapping[str, Any], where: str) -> list[Problem]:
    """Validate with ``ServeDeploySchema``, reject unknown keys, check autoscaling configs."""
    from pydantic import ValidationError

    models = _schema_models()
    problems = [Problem(where, msg) for msg in _unknown_keys(models["deploy"], config, [])]
    try:
        models["deploy"].model_validate(dict(config))
    except ValidationError as exc:
        problems += [
            Problem(where, f"{json_path(list(err['loc']))}: {err['msg']}") for err in exc.errors()
        ]
        return problems
    for a, app in enumerate(config.get("applications") or []):
        for d, dep in enumerate(app.get("deployments") or []):
            autoscaling = dep.get("autoscaling_config")
            if not isinstance(autoscaling, Mapping):
                continue
            path = f"applications[{a}].deployments[{d}].autoscaling_config"
            problems += [
                Problem(where, f"{path}.{m}")
                for m in _unknown_keys(models["autoscaling"], autoscaling, [])
            ]
            try:
                models["autoscaling"].model_validate(dict(autoscaling))
            except ValidationError as exc:
                problems += [Problem(where, f"{path}: {err['msg']}") for err in exc.errors()]
    return problems


def _unknown_keys(model: Any, data: Any, path: list[object]) -> list[str]:
    """Keys in ``data`` that ``model`` (a pydantic class) does not declare, recursively."""
    if not isinstance(data, Mapping):
        return []
    fields = model.model_fields
    messages = []
    for key, value in data.items():
        if key not in fields:
            messages.append(
                f"{json_path([*path, key])}: unknown field (known: {', '.join(fields)})"
            )
            continue
        sub_model, is_list = _nested_model(fields[key].annotation)
        if sub_model is None:
            continue
        items = value if is_list and isinstance(value, list) else [value]
        for i, item in enumerate(items):
            sub_path = [*path, key, i] if is_list else [*path, key]
            messages += _unknown_keys(sub_model, item, sub_path)
    return messages


def _nested_model(annotation: Any) -> tuple[Any, bool]:
    """The pydantic model inside ``Optional[M]``, ``list[M]`` or ``M``, if any."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        model, _ = _nested_model(args[0])
        return model, True
    if args and origin is not dict:
        models = [m for m in (_nested_model(a)[0] for a in args) if m is not None]
        if len(models) == 1 and not any(typing.get_origin(a) is dict or a is dict for a in args):
            return models[0], False
    return None, False


def serve_rules(
    config: Mapping[str, Any], where: str, fixed_replicas_ok: Iterable[str] = ()
) -> list[Problem]:
    """FraudLens rules for the Serve config on Kubernetes.

    Every deployment autoscales (``autoscaling_config``, no fixed
    ``num_replicas``) unless it is named in ``fixed_replicas_ok``, and the
    proxies listen on 0.0.0.0:8000, where the readiness probes and KubeRay's
    serve Service look.
    """
    fixed_ok = set(fixed_replicas_ok)
    problems = []
    http = config.get("http_options") or {}
    if http.get("host", "0.0.0.0") != "0.0.0.0":
        problems.append(Problem(where, "http_options.host must be 0.0.0.0 in a Pod"))
    if http.get("port", SERVE_PORT) != SERVE_PORT:
        problems.append(Problem(where, f"http_options.port must be {SERVE_PORT}"))
    if not config.get("applications"):
        problems.append(Problem(where, "applications: no application"))
    for a, app in enumerate(config.get("applications") or []):
        for d, dep in enumerate(app.get("deployments") or []):
            path = f"applications[{a}].deployments[{d}] ({dep.get('name')})"
            if dep.get("name") in fixed_ok:
                continue
            if not isinstance(dep.get("autoscaling_config"), Mapping):
                problems.append(Problem(where, f"{path}: autoscaling_config is required"))
            if dep.get("num_replicas") not in (None, "auto"):
                problems.append(
                    Problem(where, f"{path}: num_replicas is fixed; use autoscaling_config")
                )
    return problems


def serve_config_drift(embedded: str, source: Path, where: str) -> list[Problem]:
    """Differences between the RayService's serveConfigV2 and the source file."""
    if not source.is_file():
        return [Problem(where, f"{source} does not exist: nothing to compare serveConfigV2 with")]
    want = load_serve_config(source.read_text(), str(source))
    have = load_serve_config(embedded, f"{where} serveConfigV2")
    diffs = _diff(want, have, [])
    return [
        Problem(
            where,
            f"serveConfigV2 differs from {source.name} at {d}; run "
            "`fraudlens deploy sync-serve-config`",
        )
        for d in diffs[:10]
    ]


def _diff(want: Any, have: Any, path: list[object]) -> list[str]:
    if isinstance(want, dict) and isinstance(have, dict):
        out = []
        for key in list(want) + [k for k in have if k not in want]:
            if key not in have or key not in want:
                out.append(json_path([*path, key]))
            else:
                out += _diff(want[key], have[key], [*path, key])
        return out
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return [
            d
            for i, (w, h) in enumerate(zip(want, have, strict=True))
            for d in _diff(w, h, [*path, i])
        ]
    return [] if want == have else [json_path(path)]


def sync_serve_config(rayservice_file: Path, source: Path) -> bool:
    """Copy ``source`` into the ``serveConfigV2: |`` block of ``rayservice_file``.

    Comments and layout of the rest of the file are kept. Returns whether the
    file changed.

    Raises:
        ConfigError: the source is missing or invalid YAML, or the file has no
            ``serveConfigV2: |`` block.
    """
    if not source.is_file():
        raise ConfigError(f"{source} does not exist")
    body = source.read_text()
    load_serve_config(body, str(source))
    lines = rayservice_file.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _BLOCK.match(line)), None)
    if start is None:
        raise ConfigError(f"{rayservice_file}: no `serveConfigV2: |` block")
    match = _BLOCK.match(lines[start])
    assert match is not None
    indent = match.group("indent")
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > len(indent)
    ):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    block = [
        f"{indent}  {line}" if line.strip() else "\n" for line in body.splitlines(keepends=True)
    ]
    if block and not block[-1].endswith("\n"):
        block[-1] += "\n"
    new = lines[: start + 1] + block + lines[end:]
    if new == lines:
        return False
    rayservice_file.write_text("".join(new))
    return True
