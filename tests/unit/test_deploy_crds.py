"""Where the KubeRay CRD schemas come from, and that they reject broken objects."""

from __future__ import annotations

import copy
import filecmp
from pathlib import Path
from typing import Any

import pytest

from fraudlens.deploy.crds import CRD_FILES, CRDS_ENV, find_crd_dir, strict_schema, validate_kuberay
from fraudlens.deploy.kustomize import render
from fraudlens.errors import ConfigError

ROOT = Path(__file__).parents[2]
VENDORED = ROOT / "kuberay" / "crds"
SHARED = ROOT.parent / "shared" / "kuberay-crds"


def _rayservice() -> dict[str, Any]:
    (obj,) = [
        o for o in render(ROOT / "kuberay" / "overlays" / "prod") if o["kind"] == "RayService"
    ]
    return copy.deepcopy(obj)


def test_vendored_crds_are_found_by_default() -> None:
    assert find_crd_dir(ROOT, environ={}) == VENDORED


def test_env_override_wins(tmp_path: Path) -> None:
    for name in CRD_FILES.values():
        (tmp_path / name).write_bytes((VENDORED / name).read_bytes())
    assert find_crd_dir(ROOT, environ={CRDS_ENV: str(tmp_path)}) == tmp_path


def test_env_override_to_a_missing_folder_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{CRDS_ENV}=.*does not exist"):
        find_crd_dir(ROOT, environ={CRDS_ENV: str(tmp_path / "nope")})


def test_incomplete_crd_folder_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "ray.io_rayservices.yaml").write_text("{}")
    with pytest.raises(ConfigError, match="lacks ray.io_rayjobs.yaml, ray.io_raycronjobs.yaml"):
        find_crd_dir(ROOT, environ={CRDS_ENV: str(tmp_path)})


def test_no_crds_anywhere_fails_not_skips(tmp_path: Path) -> None:
    repo = tmp_path / "clone"
    repo.mkdir()
    with pytest.raises(ConfigError, match=f"KubeRay CRD schemas not found.*set {CRDS_ENV}"):
        find_crd_dir(repo, environ={})


def test_shared_copy_beside_the_repo_is_the_fallback(tmp_path: Path) -> None:
    repo, shared = tmp_path / "clone", tmp_path / "shared" / "kuberay-crds"
    repo.mkdir()
    shared.mkdir(parents=True)
    for name in CRD_FILES.values():
        (shared / name).write_bytes((VENDORED / name).read_bytes())
    assert find_crd_dir(repo, environ={}) == shared


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/kuberay-crds beside this clone")
def test_vendored_crds_are_identical_to_the_shared_copy() -> None:
    for name in CRD_FILES.values():
        assert filecmp.cmp(VENDORED / name, SHARED / name, shallow=False), name


def test_strict_schema_closes_objects_but_not_preserve_unknown_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "free": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {},
            },
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    strict = strict_schema(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["a"]["additionalProperties"] is False
    assert "additionalProperties" not in strict["properties"]["free"]
    assert strict["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in schema  # input untouched


def test_rendered_rayservice_is_valid() -> None:
    assert validate_kuberay(_rayservice(), VENDORED, "prod") == []


def test_wrong_field_type_fails() -> None:
    obj = _rayservice()
    obj["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    obj["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = "12"
    messages = [p.message for p in validate_kuberay(obj, VENDORED, "prod")]
    assert (
        "spec.rayClusterConfig.headGroupSpec.rayStartParams.num-cpus: 0 is not of type 'string'"
        in messages
    )
    assert (
        "spec.rayClusterConfig.workerGroupSpecs[0].maxReplicas: '12' is not of type 'integer'"
        in messages
    )


def test_missing_required_field_fails() -> None:
    obj = _rayservice()
    del obj["spec"]["rayClusterConfig"]["headGroupSpec"]
    worker = obj["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    del worker["template"]["spec"]["containers"][0]["name"]
    messages = [p.message for p in validate_kuberay(obj, VENDORED, "prod")]
    assert "spec.rayClusterConfig: 'headGroupSpec' is a required property" in messages
    assert any("'name' is a required property" in m for m in messages)


def test_misspelt_field_fails() -> None:
    obj = _rayservice()
    obj["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 3
    problems = validate_kuberay(obj, VENDORED, "prod")
    assert any("'maxReplica' was unexpected" in p.message for p in problems)


def test_unknown_kind_and_version() -> None:
    obj = _rayservice()
    assert (
        "no known KubeRay CRD"
        in validate_kuberay({**obj, "kind": "RayThing"}, VENDORED, "x")[0].message
    )
    assert (
        "not served"
        in validate_kuberay({**obj, "apiVersion": "ray.io/v9"}, VENDORED, "x")[0].message
    )
