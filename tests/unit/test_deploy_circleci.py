"""The CircleCI pipeline: structure, job graph, make targets (offline)."""

from __future__ import annotations

import ast
import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlens.deploy.check import NEEDS_APPROVAL, PIPELINE
from fraudlens.deploy.circleci import (
    circleci_problems,
    circleci_schema,
    make_targets_in,
    makefile_targets,
)

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / ".circleci" / "config.yml"
MAKEFILE = ROOT / "Makefile"
Config = dict[str, Any]


def _problems(config: Config, tmp_path: Path) -> str:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    found = circleci_problems(path, MAKEFILE, stage_order=PIPELINE, needs_approval=NEEDS_APPROVAL)
    return "\n".join(str(p) for p in found)


def _config() -> Config:
    return copy.deepcopy(yaml.safe_load(CONFIG.read_text()))


def _workflow_job(config: Config, name: str) -> dict[str, Any]:
    for entry in config["workflows"]["pipeline"]["jobs"]:
        if isinstance(entry, dict) and name in entry:
            job: dict[str, Any] = entry[name]
            return job
    raise KeyError(name)


def test_repository_pipeline_is_valid() -> None:
    problems = circleci_problems(
        CONFIG, MAKEFILE, stage_order=PIPELINE, needs_approval=NEEDS_APPROVAL
    )
    assert problems == [], "\n".join(map(str, problems))


def test_pipeline_runs_the_make_targets_developers_run() -> None:
    text = CONFIG.read_text()
    for target in ("install", "lint", "unit", "integration"):
        assert f"make {target}" in text
    assert {"install", "lint", "unit", "integration", "test"} <= makefile_targets(MAKEFILE)


def test_integration_job_points_the_fixtures_at_its_service_containers() -> None:
    job = _config()["jobs"]["integration"]
    images = [d["image"].split(":")[0] for d in job["docker"][1:]]
    # No Kafka container: the broker fixture always starts the embedded Tansu.
    assert images == ["cimg/redis", "cimg/postgres"]
    env = job["environment"]
    assert env["FRAUDLENS_TEST_REDIS_URL"] == "localhost:6379"  # Feast's host:port form
    postgres = job["docker"][2]["environment"]
    assert env["FRAUDLENS_TEST_DATABASE_URL"] == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@localhost:5432/{postgres['POSTGRES_DB']}"
    )


def _ci_environment(config: Config) -> dict[str, str]:
    """``{name: where}`` of every variable CI sets for our own commands.

    Job-level ``environment``, the primary container's and each ``run`` step's;
    the service containers' own variables (``POSTGRES_USER``...) are theirs.
    """
    found: dict[str, str] = {}
    for name, job in config["jobs"].items():
        maps = [(f"jobs.{name}.environment", job.get("environment"))]
        docker = job.get("docker") or [{}]
        maps.append((f"jobs.{name}.docker.0.environment", docker[0].get("environment")))
        for i, step in enumerate(job.get("steps") or []):
            body = step.get("run") if isinstance(step, dict) else None
            if isinstance(body, dict):
                maps.append((f"jobs.{name}.steps.{i}.run.environment", body.get("environment")))
        for where, env in maps:
            found.update({var: where for var in env or {}})
    return found


def _fixture_variables() -> set[str]:
    """Names the tests' conftest.py files read from the environment.

    ``os.environ.get(X)``, ``os.environ[X]``, ``os.getenv(X)``, with X a string
    literal or a module-level constant holding one (``REDIS_ENV = "..."``).
    """
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("conftest.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            key: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                called = ast.unparse(node.func)
                if called in ("os.environ.get", "os.getenv"):
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and key.id in constants:
                names.add(constants[key.id])
    return names


# Variables CI sets for the tools themselves, not for our fixtures.
TOOL_VARIABLES = {"PIP_EXTRA_INDEX_URL", "PYTEST_ADDOPTS"}


def _dead_variables(config: Config) -> list[str]:
    read = _fixture_variables() | TOOL_VARIABLES
    return [f"{where}: {var}" for var, where in _ci_environment(config).items() if var not in read]


def test_every_variable_ci_sets_is_read_by_the_test_fixtures() -> None:
    assert _dead_variables(_config()) == []


def test_a_variable_no_fixture_reads_is_caught() -> None:
    config = _config()
    config["jobs"]["integration"]["environment"]["FRAUDLENS_IT_POSTGRES_URL"] = "postgresql://x"
    config["jobs"]["unit"]["steps"][1]["run"]["environment"]["FRAUDLENS_IT_KAFKA"] = "x"
    assert sorted(_dead_variables(config)) == [
        "jobs.integration.environment: FRAUDLENS_IT_POSTGRES_URL",
        "jobs.unit.steps.1.run.environment: FRAUDLENS_IT_KAFKA",
    ]


def test_make_target_parsing() -> None:
    assert make_targets_in("make install && make -C sub unit V=1; $(MAKE) lint") == [
        "install",
        "unit",
        "lint",
    ]
    assert make_targets_in("cmake --build . && echo make") == []


def _run(config: Config, job: str, command: str) -> None:
    config["jobs"][job]["steps"].append({"run": {"name": "x", "command": command}})


MUTATIONS: list[tuple[str, Callable[[Config], None], str]] = [
    (
        "missing make target",
        lambda c: _run(c, "unit", "make unit-fast"),
        "`make unit-fast`: no such target in the Makefile",
    ),
    (
        "missing target in a command",
        lambda c: c["commands"]["setup-python"]["steps"].append({"run": "make deps"}),
        "`make deps`: no such target",
    ),
    (
        "undefined job",
        lambda c: c["workflows"]["pipeline"]["jobs"].append({"smoke": {"requires": ["lint"]}}),
        "job 'smoke' is not defined under jobs",
    ),
    (
        "requires unknown job",
        lambda c: _workflow_job(c, "unit")["requires"].append("typecheck"),
        "'typecheck' is not in the workflow",
    ),
    (
        "cycle",
        lambda c: c["workflows"]["pipeline"]["jobs"].__setitem__(
            0, {"lint": {"requires": ["unit"]}}
        ),
        "job graph has a cycle: lint -> unit -> lint",
    ),
    (
        "production without approval",
        lambda c: _workflow_job(c, "deploy-production").__setitem__("requires", ["deploy-staging"]),
        "'deploy-production' must wait for a manual approval",
    ),
    (
        "stage skipped",
        lambda c: _workflow_job(c, "build-image").__setitem__("requires", ["unit"]),
        "'build-image' must run after 'train-gate'",
    ),
    (
        "unknown executor",
        lambda c: c["jobs"]["lint"].__setitem__("executor", "pythn"),
        "'pythn' is not defined",
    ),
    (
        "unknown step",
        lambda c: c["jobs"]["lint"]["steps"].append("setup-pyhton"),
        "unknown step or command 'setup-pyhton'",
    ),
    (
        "no steps",
        lambda c: c["jobs"]["lint"].__setitem__("steps", []),
        "jobs.lint.steps: [] should be non-empty (CircleCI schema)",
    ),
    (
        "misspelt run key",
        lambda c: c["jobs"]["lint"]["steps"].append({"run": {"nam": "x", "command": "true"}}),
        "jobs.lint.steps.2.run: ",
    ),
    (
        "empty workflow",
        lambda c: c["workflows"]["pipeline"].__setitem__("jobs", []),
        "workflows.pipeline.jobs: [] should be non-empty (CircleCI schema)",
    ),
    (
        "wrong version",
        lambda c: c.__setitem__("version", 2),
        "version: 2 is not one of ['2.1', 2.1] (CircleCI schema)",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_pipeline_mistake_is_caught(
    tmp_path: Path, case: str, mutate: Callable[[Config], None], expected: str
) -> None:
    config = _config()
    mutate(config)
    assert expected in _problems(config, tmp_path), case


def test_the_schema_is_check_jsonschema_s_and_needs_no_network() -> None:
    import check_jsonschema

    schema = circleci_schema()
    assert "circleci" in json.dumps(schema).lower()
    package = Path(check_jsonschema.__file__).parent
    assert (package / "builtin_schemas" / "vendor" / "circle-ci.json").is_file()
    remote = [ref for ref in _refs(schema) if not ref.startswith("#")]
    assert remote == []  # nothing to fetch: validation works offline


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["$ref"])] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_unparsable_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("jobs: [unclosed")
    assert "cannot read" in circleci_problems(path, MAKEFILE)[0].message


def _run_commands(steps: list[Any], commands: Config) -> list[str]:
    """The ``run`` commands of ``steps`` in order, declared commands expanded."""
    found: list[str] = []
    for step in steps:
        name, body = (step, None) if isinstance(step, str) else next(iter(step.items()))
        if name == "run":
            found.append(str(body.get("command") if isinstance(body, dict) else body))
        elif name in commands:
            found += _run_commands(commands[name]["steps"], commands)
    return found


def test_system_packages_are_installed_before_make_install() -> None:
    config = _config()
    for name, job in config["jobs"].items():
        runs = _run_commands(job["steps"], config["commands"])
        installs = [i for i, c in enumerate(runs) if "install" in make_targets_in(c)]
        if not installs:
            continue
        tools = [i for i, c in enumerate(runs) if "tools" in make_targets_in(c)]
        assert tools and tools[0] < installs[0], f"{name}: `make tools` must come first"
        late = [c for c in runs[installs[0] :] if "apt-get" in c]
        assert late == [], f"{name}: system packages installed after `make install`: {late}"


def test_make_tools_uses_passwordless_sudo_when_not_root(tmp_path: Path) -> None:
    log = tmp_path / "log"
    scripts = {
        "id": "echo 1000",
        "sudo": 'echo "sudo $*" >> "$LOG"; [ "$1" = -n ] && shift; "$@"',
        "apt-get": 'echo "apt-get $*" >> "$LOG"',
    }
    for name, body in scripts.items():
        (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / name).chmod(0o755)
    for name in ("env", "true"):
        (tmp_path / name).symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    make = shutil.which("make")
    assert make is not None
    env = {"PATH": str(tmp_path), "LOG": str(log)}  # no java, promtool, chromium on this PATH
    done = subprocess.run(
        [make, "-s", "-f", str(MAKEFILE), "tools"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert "sudo -n apt-get update -qq" in lines
    assert lines[-1].startswith("apt-get install -y") and lines[-1].endswith(
        "default-jre-headless prometheus chromium"
    )
