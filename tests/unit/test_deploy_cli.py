"""``fraudlens deploy ...``: the whole check on the repository, render, sync."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fraudlens.deploy.check import EXTERNAL_SECRETS, SECRET_ENV, check_repo
from fraudlens.deploy.cli import deploy_app
from fraudlens.deploy.crds import CRDS_ENV

ROOT = Path(__file__).parents[2]
runner = CliRunner()


def test_the_repository_passes_every_deployment_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CRDS_ENV, raising=False)
    problems = check_repo(ROOT)
    assert problems == [], "\n".join(map(str, problems))


def test_check_command_fails_clearly_without_crds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CRDS_ENV, str(tmp_path / "missing"))
    result = runner.invoke(deploy_app, ["check", "--repo", str(ROOT)])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_render_prints_the_environment() -> None:
    result = runner.invoke(deploy_app, ["render", "dev", "--repo", str(ROOT)])
    assert result.exit_code == 0, result.output
    kinds = [o["kind"] for o in yaml.safe_load_all(result.stdout)]
    assert "RayService" in kinds and "RayJob" in kinds
    assert runner.invoke(deploy_app, ["render", "qa", "--repo", str(ROOT)]).exit_code == 2


def test_sync_command(tmp_path: Path) -> None:
    for part in ("kuberay/base", "ray_apps"):
        (tmp_path / part).mkdir(parents=True)
    shutil.copy(ROOT / "kuberay/base/rayservice-scoring.yaml", tmp_path / "kuberay/base")
    (tmp_path / "ray_apps/serve_config.yaml").write_text("applications: []\n")
    result = runner.invoke(deploy_app, ["sync-serve-config", "--repo", str(tmp_path)])
    assert result.exit_code == 0 and "updated" in result.output
    text = (tmp_path / "kuberay/base/rayservice-scoring.yaml").read_text()
    assert yaml.safe_load(text)["spec"]["serveConfigV2"] == "applications: []\n"


def test_deploy_doc_names_every_secret_users_must_create() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    missing = [name for name in (*EXTERNAL_SECRETS, *SECRET_ENV) if name not in doc]
    assert missing == []
