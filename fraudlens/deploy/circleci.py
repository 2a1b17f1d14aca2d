"""Check the CircleCI config offline: its schema, then our own rules.

The structure is checked against CircleCI's JSON schema as vendored by
check-jsonschema (``vendor.circle-ci``: read from the installed package, no
network). The schema cannot see across the file or into the repository, so
these rules are ours: every step is a built-in step, a declared command or an
orb's; every named executor is declared; every ``make TARGET`` in a ``run``
step is a target of the Makefile (CI runs what developers run); every workflow
job exists (or is an approval), every ``requires`` names a job of the same
workflow, and the job graph has no cycle. Optionally, an expected order of
stages and jobs that must wait for a manual approval.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fraudlens.deploy.problems import Problem
from fraudlens.errors import ConfigError

BUILTIN_STEPS = {
    "checkout",
    "run",
    "save_cache",
    "restore_cache",
    "persist_to_workspace",
    "attach_workspace",
    "store_artifacts",
    "store_test_results",
    "setup_remote_docker",
    "add_ssh_keys",
    "when",
    "unless",
}
SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
SCHEMA_FILE = "circle-ci.json"
_MAX_MESSAGE = 200
_MAKE = re.compile(r"(?:^|[;&|(`\s])(?:\$\(MAKE\)|make)((?:[ \t]+[^\s;&|)`]+)+)")
_TARGET = re.compile(r"^([A-Za-z0-9_.\-/]+(?:[ \t]+[A-Za-z0-9_.\-/]+)*)[ \t]*:(?!=)")


def makefile_targets(makefile: Path) -> set[str]:
    """The explicit targets of a Makefile (pattern and variable targets left out)."""
    targets: set[str] = set()
    for line in makefile.read_text().splitlines():
        if line.startswith(("\t", "#", ".")):
            continue
        match = _TARGET.match(line)
        if match:
            targets.update(match.group(1).split())
    return targets


def make_targets_in(command: str) -> list[str]:
    """Targets of every ``make`` invocation in a shell command (options and VAR=x skipped)."""
    found = []
    for match in _MAKE.finditer(command):
        words = match.group(1).split()
        skip_next = False
        for word in words:
            if skip_next:
                skip_next = False
                continue
            if word in {"-C", "-f", "-j", "-o", "-W", "-I", "--directory", "--file"}:
                skip_next = True
                continue
            if word.startswith("-") or "=" in word:
                continue
            if word.startswith(("$", "#", "&", "|", ">")):
                break
            found.append(word)
    return found


def circleci_problems(
    config_path: Path,
    makefile: Path,
    *,
    stage_order: Sequence[str] = (),
    needs_approval: Sequence[str] = (),
) -> list[Problem]:
    """Every problem of a CircleCI config.

    Args:
        config_path: ``.circleci/config.yml``.
        makefile: the Makefile whose targets ``make`` steps may use.
        stage_order: workflow job names where each must (transitively)
            require the one before it, e.g. lint -> unit -> ... -> production.
        needs_approval: jobs that must (transitively) wait for an approval job.
    """
    where = str(config_path)
    try:
        config = yaml.safe_load(config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [Problem(where, f"cannot read: {exc}")]
    if not isinstance(config, dict):
        return [Problem(where, "not a mapping")]
    problems = schema_problems(config, where)
    if problems:
        return problems  # the rules below assume a schema-valid config
    jobs = config.get("jobs") or {}
    commands = config.get("commands") or {}
    executors = config.get("executors") or {}
    orbs = set(config.get("orbs") or {})
    targets = makefile_targets(makefile)
    for name, command in commands.items():
        problems += _steps(where, f"commands.{name}", command.get("steps"), commands, orbs, targets)
    for name, job in jobs.items():
        path = f"jobs.{name}"
        executor = job.get("executor")
        executor_name = executor.get("name") if isinstance(executor, dict) else executor
        if (
            executor_name is not None
            and executor_name not in executors
            and "/" not in str(executor_name)
        ):
            problems.append(Problem(where, f"{path}.executor: {executor_name!r} is not defined"))
        problems += _steps(where, path, job.get("steps"), commands, orbs, targets)
    for name, workflow in (config.get("workflows") or {}).items():
        if name == "version":
            continue
        problems += _workflow(
            where, f"workflows.{name}", workflow, jobs, stage_order, needs_approval
        )
    return problems


def schema_problems(config: Any, where: str) -> list[Problem]:
    """Where ``config`` breaks CircleCI's schema (check-jsonschema's ``vendor.circle-ci``)."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    validator = Draft7Validator(circleci_schema(), format_checker=Draft7Validator.FORMAT_CHECKER)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        detail = best_match([error])  # the deepest reason inside an anyOf/oneOf
        path = ".".join(map(str, detail.absolute_path)) or "$"
        message = detail.message
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "..."
        problems.append(Problem(where, f"{path}: {message} (CircleCI schema)"))
    return problems


@functools.cache
def circleci_schema() -> dict[str, Any]:
    """CircleCI's config schema as check-jsonschema ships it (offline).

    Raises:
        ConfigError: check-jsonschema is not installed (a dev dependency).
    """
    from importlib import resources

    try:
        text = (resources.files(SCHEMA_PACKAGE) / SCHEMA_FILE).read_text()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(
            "the CircleCI schema comes with check-jsonschema: pip install -e '.[dev]'"
        ) from exc
    schema: dict[str, Any] = json.loads(text)
    return schema


def _steps(
    where: str,
    path: str,
    steps: Any,
    commands: Mapping[str, Any],
    orbs: set[str],
    targets: set[str],
) -> list[Problem]:
    if not isinstance(steps, list):
        return []  # reported by the schema
    problems = []
    for i, step in enumerate(steps):
        step_path = f"{path}.steps[{i}]"
        if isinstance(step, str):
            name, body = step, None
        elif isinstance(step, dict) and len(step) == 1:
            name, body = next(iter(step.items()))
        else:
            continue  # reported by the schema
        if name in {"when", "unless"} and isinstance(body, dict):
            problems += _steps(where, step_path, body.get("steps"), commands, orbs, targets)
        elif name not in BUILTIN_STEPS and name not in commands and name.split("/")[0] not in orbs:
            problems.append(Problem(where, f"{step_path}: unknown step or command {name!r}"))
        if name == "run":
            command = body.get("command") if isinstance(body, dict) else body
            for target in make_targets_in(str(command or "")):
                if target not in targets:
                    problems.append(
                        Problem(
                            where, f"{step_path}: `make {target}`: no such target in the Makefile"
                        )
                    )
    return problems


def _workflow(
    where: str,
    path: str,
    workflow: Any,
    jobs: Mapping[str, Any],
    stage_order: Sequence[str],
    needs_approval: Sequence[str],
) -> list[Problem]:
    problems = []
    entries = list(_entries(workflow.get("jobs") if isinstance(workflow, dict) else None))
    if not entries:
        return [Problem(where, f"{path}.jobs: none")]
    graph: dict[str, list[str]] = {}
    approvals = set()
    for job, alias, options in entries:
        if alias in graph:
            problems.append(Problem(where, f"{path}: job name {alias!r} used twice"))
        graph[alias] = [str(r) for r in options.get("requires") or []]
        if options.get("type") == "approval":
            approvals.add(alias)
        elif job not in jobs:
            problems.append(Problem(where, f"{path}: job {job!r} is not defined under jobs"))
    for alias, requires in graph.items():
        for required in requires:
            if required not in graph:
                problems.append(
                    Problem(where, f"{path}.{alias}.requires: {required!r} is not in the workflow")
                )
    cycle = _find_cycle(graph)
    if cycle:
        problems.append(Problem(where, f"{path}: job graph has a cycle: {' -> '.join(cycle)}"))
        return problems
    for before, after in zip(stage_order, stage_order[1:], strict=False):
        if after in graph and before not in _ancestors(graph, after):
            problems.append(Problem(where, f"{path}: {after!r} must run after {before!r}"))
    for alias in stage_order:
        if alias not in graph:
            problems.append(Problem(where, f"{path}: stage {alias!r} is missing"))
    for alias in needs_approval:
        if alias in graph and not (_ancestors(graph, alias) & approvals):
            problems.append(Problem(where, f"{path}: {alias!r} must wait for a manual approval"))
    return problems


def _entries(jobs: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(job, name in the workflow, options)`` for each workflow job entry."""
    for entry in jobs or []:
        if isinstance(entry, str):
            yield entry, entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            job, options = next(iter(entry.items()))
            options = options if isinstance(options, dict) else {}
            yield str(job), str(options.get("name", job)), options


def _ancestors(graph: Mapping[str, list[str]], node: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(node, []))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, []))
    return seen


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt in graph and state.get(nxt) is None and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if state.get(node) is None and (found := visit(node)):
            return found
    return []
