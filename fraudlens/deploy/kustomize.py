"""A minimal kustomize: enough of it to render the ``kuberay/`` overlays in Python.

Supported kustomization fields: ``resources`` (files and directories),
``patches`` (strategic merge from a file or inline, JSON 6902 inline with a
target), ``namespace``, ``labels`` (metadata only) and ``images``. Any other
field raises ``ConfigError``: an unsupported field is never silently ignored,
so what is validated is what ``kubectl apply -k`` applies.

Strategic merge follows kustomize for kinds without a schema (custom
resources): maps merge key by key, a list of maps merges element by element
when every element carries one of kustomize's associative keys (``name``,
``containerPort``, ``mountPath``...), any other list is replaced, and a null
value deletes a key. Built-in kinds use the same merge keys for the fields
FraudLens patches (containers, env, ports, volumes, volumeMounts).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fraudlens.errors import ConfigError

Manifest = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SUPPORTED = {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}
# kyaml's keys for lists without a schema, in its order of preference.
_ASSOCIATIVE_KEYS = (
    "mountPath",
    "devicePath",
    "ip",
    "type",
    "topologyKey",
    "name",
    "containerPort",
)
_CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


def render(directory: Path) -> list[Manifest]:
    """Render the kustomization in ``directory`` to a list of objects.

    Raises:
        ConfigError: the kustomization is missing, malformed, uses a field
            this renderer does not support, or a patch does not apply.
    """
    directory = directory.resolve()
    kustomization = _load_kustomization(directory)
    objects: list[Manifest] = []
    for entry in kustomization.get("resources") or []:
        objects.extend(_load_resource(directory, entry))
    _check_unique(objects, directory)
    for patch in kustomization.get("patches") or []:
        _apply_patch(objects, patch, directory)
    if namespace := kustomization.get("namespace"):
        for obj in objects:
            if obj.get("kind") not in _CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = namespace
    for label_set in kustomization.get("labels") or []:
        _apply_labels(objects, label_set, directory)
    for image in kustomization.get("images") or []:
        _apply_image(objects, image, directory)
    return objects


def object_id(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` of an object, e.g. ``RayService/fraudlens-scoring``."""
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def _load_kustomization(directory: Path) -> Manifest:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            data = _load_yaml_documents(path)
            if len(data) != 1 or not isinstance(data[0], dict):
                raise ConfigError(f"{path}: expected one YAML mapping")
            unsupported = set(data[0]) - _SUPPORTED
            if unsupported:
                raise ConfigError(
                    f"{path}: fields {sorted(unsupported)} are not supported by the "
                    f"offline renderer (supported: {sorted(_SUPPORTED)})"
                )
            return data[0]
    raise ConfigError(f"{directory}: no kustomization.yaml")


def _load_yaml_documents(path: Path) -> list[Any]:
    try:
        return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _load_resource(directory: Path, entry: Any) -> list[Manifest]:
    if not isinstance(entry, str) or "://" in entry or entry.startswith(("github.com", "/")):
        raise ConfigError(f"{directory}: resource {entry!r} must be a relative local path")
    path = (directory / entry).resolve()
    if path.is_dir():
        return render(path)
    if not path.is_file():
        raise ConfigError(f"{directory}: resource {entry!r} does not exist")
    objects = _load_yaml_documents(path)
    for obj in objects:
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            raise ConfigError(f"{path}: every document must be an object with apiVersion and kind")
    return objects


def _check_unique(objects: Iterable[Manifest], directory: Path) -> None:
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (_group(obj.get("apiVersion", "")), object_id(obj))
        if key in seen:
            raise ConfigError(f"{directory}: {object_id(obj)} is defined twice")
        seen.add(key)


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _apply_patch(objects: list[Manifest], patch: Any, directory: Path) -> None:
    if not isinstance(patch, dict) or set(patch) - {"path", "patch", "target"}:
        raise ConfigError(f"{directory}: a patch needs `path` or `patch` (and optional `target`)")
    if "path" in patch:
        documents = _load_yaml_documents(directory / patch["path"])
        where = f"{directory / patch['path']}"
    else:
        documents = [yaml.safe_load(patch.get("patch") or "")]
        where = f"{directory}: inline patch"
    if len(documents) != 1:
        raise ConfigError(f"{where}: expected exactly one patch document")
    body = documents[0]
    target = patch.get("target")
    if isinstance(body, list):
        if not target:
            raise ConfigError(f"{where}: a JSON 6902 patch needs a target")
        matched = _select(objects, target)
        for obj in matched:
            _json6902(obj, body, f"{where} on {object_id(obj)}")
    elif isinstance(body, dict):
        selector = target or {
            "kind": body.get("kind"),
            "name": (body.get("metadata") or {}).get("name"),
        }
        matched = _select(objects, selector)
        for obj in matched:
            merged = strategic_merge(obj, body)
            obj.clear()
            obj.update(merged)
    else:
        raise ConfigError(f"{where}: a patch is a mapping (strategic merge) or a list (JSON 6902)")
    if not matched:
        raise ConfigError(f"{where}: matches no object (target {target or 'from patch'})")


def _select(objects: list[Manifest], target: dict[str, Any]) -> list[Manifest]:
    unsupported = set(target) - {"kind", "name", "group", "version"}
    if unsupported:
        raise ConfigError(f"patch target fields {sorted(unsupported)} are not supported")
    found = []
    for obj in objects:
        api_version = obj.get("apiVersion", "")
        name = (obj.get("metadata") or {}).get("name", "")
        if target.get("kind") and obj.get("kind") != target["kind"]:
            continue
        if target.get("name") and not re.fullmatch(target["name"], name):
            continue
        if "group" in target and _group(api_version) != target["group"]:
            continue
        if "version" in target and api_version.split("/")[-1] != target["version"]:
            continue
        found.append(obj)
    return found


def strategic_merge(base: Any, patch: Any) -> Any:
    """Merge ``patch`` into a copy of ``base`` the way kustomize does without a schema."""
    if isinstance(base, dict) and isinstance(patch, dict):
        if "$patch" in patch:
            raise ConfigError("`$patch` directives are not supported by the offline renderer")
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list):
        key = _associative_key(base + patch)
        if key is None:
            return copy.deepcopy(patch)
        merged_list = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old[key] == item[key]), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _associative_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in _ASSOCIATIVE_KEYS:
        if all(key in item for item in items):
            return key
    return None


def _json6902(obj: Manifest, operations: list[Any], where: str) -> None:
    for op in operations:
        if not isinstance(op, dict) or op.get("op") not in {"add", "remove", "replace"}:
            raise ConfigError(f"{where}: supported operations are add, remove and replace: {op}")
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
        if not tokens:
            raise ConfigError(f"{where}: cannot patch the whole object")
        parent: Any = obj
        for token in tokens[:-1]:
            parent = _step(parent, token, where, op["path"])
        last = tokens[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else _index(last, where, op["path"])
            if op["op"] == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif index >= len(parent):
                raise ConfigError(f"{where}: {op['path']} does not exist")
            elif op["op"] == "replace":
                parent[index] = copy.deepcopy(op["value"])
            else:
                del parent[index]
        elif isinstance(parent, dict):
            if op["op"] != "add" and last not in parent:
                raise ConfigError(f"{where}: {op['path']} does not exist")
            if op["op"] == "remove":
                del parent[last]
            else:
                parent[last] = copy.deepcopy(op["value"])
        else:
            raise ConfigError(f"{where}: {op['path']} does not exist")


def _step(node: Any, token: str, where: str, path: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list):
        index = _index(token, where, path)
        if index < len(node):
            return node[index]
    raise ConfigError(f"{where}: {path} does not exist")


def _index(token: str, where: str, path: str) -> int:
    if not token.isdigit():
        raise ConfigError(f"{where}: {path}: {token!r} is not a list index")
    return int(token)


def _apply_labels(objects: list[Manifest], label_set: Any, directory: Path) -> None:
    if not isinstance(label_set, dict) or not isinstance(label_set.get("pairs"), dict):
        raise ConfigError(f"{directory}: each `labels` entry needs `pairs`")
    if label_set.get("includeSelectors") or label_set.get("includeTemplates"):
        raise ConfigError(
            f"{directory}: labels with includeSelectors/includeTemplates are not supported "
            "(selectors are immutable; set template labels in the resources)"
        )
    for obj in objects:
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels.update({str(k): str(v) for k, v in label_set["pairs"].items()})


def _apply_image(objects: list[Manifest], image: Any, directory: Path) -> None:
    if not isinstance(image, dict) or "name" not in image:
        raise ConfigError(f"{directory}: each `images` entry needs `name`")
    for obj in objects:
        for container in _containers(obj):
            name, tag, digest = split_image(str(container.get("image", "")))
            if name != image["name"]:
                continue
            name = str(image.get("newName", name))
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
                continue
            tag = str(image["newTag"]) if "newTag" in image else tag
            suffix = f"@{digest}" if digest and "newTag" not in image else ""
            container["image"] = f"{name}:{tag}{suffix}" if tag else f"{name}{suffix}"


def _containers(node: Any) -> Iterable[dict[str, Any]]:
    """Every container (and init container) at any depth, as kustomize's image filter."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"containers", "initContainers"} and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def split_image(image: str) -> tuple[str, str, str]:
    """Split ``registry:5000/repo/name:tag@sha256:...`` into name, tag and digest."""
    image, _, digest = image.partition("@")
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :], digest
    return image, "", digest
