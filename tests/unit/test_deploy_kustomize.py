"""The offline kustomize renderer: semantics, errors, and parity with real kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fraudlens.deploy.kustomize import object_id, render, split_image, strategic_merge
from fraudlens.errors import ConfigError

ROOT = Path(__file__).parents[2]
TARGETS = [
    "kuberay/base",
    "kuberay/training",
    "kuberay/overlays/dev",
    "kuberay/overlays/dev/training",
    "kuberay/overlays/prod",
    "kuberay/overlays/prod/training",
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


def test_strategic_merge_lists_by_name_replaces_scalars_lists_and_deletes_on_null() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "args": ["z"], "env": [{"name": "L", "value": "2"}]},
                        {"name": "c", "image": "new:3"},
                    ]
                }
            }
        },
        "metadata": {"name": None},
    }
    merged = strategic_merge(DEPLOYMENT, patch)
    containers = merged["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["a", "b", "c"]
    assert containers[0]["args"] == ["z"]  # a list of scalars is replaced
    assert containers[0]["env"] == [{"name": "K", "value": "1"}, {"name": "L", "value": "2"}]
    assert "name" not in merged["metadata"]
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "x",
        "y",
    ]  # input untouched


def test_lists_without_an_associative_key_are_replaced_like_kustomize() -> None:
    base = {"workerGroupSpecs": [{"groupName": "a", "maxReplicas": 1}, {"groupName": "b"}]}
    patch = {"workerGroupSpecs": [{"groupName": "a", "maxReplicas": 5}]}
    assert strategic_merge(base, patch) == patch


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


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ({"commonLabels": {"a": "b"}}, "not supported"),
        (
            {
                "patches": [
                    {"target": {"kind": "Service"}, "patch": "- {op: add, path: /x, value: 1}"}
                ]
            },
            "matches no object",
        ),
        (
            {
                "patches": [
                    {
                        "target": {"kind": "Deployment"},
                        "patch": "- {op: replace, path: /spec/nope/x, value: 1}",
                    }
                ]
            },
            "does not exist",
        ),
        ({"resources": ["../base", "https://example.com/remote"]}, "relative local path"),
        ({"resources": ["../base", "../base/app.yaml"]}, "defined twice"),
        ({"labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]}, "includeSelectors"),
    ],
)
def test_unsupported_or_broken_kustomizations_fail_loudly(
    tmp_path: Path, kustomization: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        render(_overlay(tmp_path, kustomization))


def test_missing_kustomization_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no kustomization.yaml"):
        render(tmp_path)


def test_split_image() -> None:
    assert split_image("reg:5000/a/b:1.2@sha256:x") == ("reg:5000/a/b", "1.2", "sha256:x")
    assert split_image("reg:5000/a/b") == ("reg:5000/a/b", "", "")


@pytest.mark.parametrize("target", TARGETS)
def test_renderer_matches_real_kustomize(target: str) -> None:
    """Parity with `kubectl kustomize` (kustomize v5): what is validated is what is applied."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: parity with real kustomize not checked here")
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    real = {object_id(o): o for o in yaml.safe_load_all(out) if o}
    mine = {object_id(o): o for o in render(ROOT / target)}
    assert mine == real
