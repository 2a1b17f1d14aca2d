"""The container image, as far as it can be checked without a Docker engine."""

from __future__ import annotations

import fnmatch
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fraudlens.deploy.check import ray_version
from fraudlens.deploy.dockerfile import dockerfile_rules, hadolint, parse_dockerfile

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
GOOD = """\
FROM rayproject/ray:{v}-py311-cpu AS build
RUN echo build
FROM rayproject/ray:{v}-py311-cpu
USER 1000:100
HEALTHCHECK CMD ["true"]
"""


def test_dockerfile_is_hadolint_clean() -> None:
    problems = hadolint(DOCKERFILE)
    assert problems == [], "\n".join(map(str, problems))


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM ubuntu\nRUN apt-get update && apt-get install -y curl\nRUN pip install requests\n"
    )
    codes = {p.message.split()[0] for p in hadolint(bad)}
    assert {"DL3006", "DL3008", "DL3013"} <= codes


def test_dockerfile_follows_the_image_rules() -> None:
    assert dockerfile_rules(DOCKERFILE, ray_version()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("{v}", "2.9.0", 1), "Ray is pinned at"),
        (GOOD.replace("USER 1000:100\n", ""), "non-root USER"),
        (GOOD.replace("USER 1000:100", "USER root"), "non-root USER"),
        (GOOD.replace("USER 1000:100", "USER ray"), "USER should be numeric"),
        (GOOD.replace('HEALTHCHECK CMD ["true"]', "HEALTHCHECK NONE"), "no HEALTHCHECK"),
        ("FROM rayproject/ray:{v}-py311-cpu\nUSER 1000\nHEALTHCHECK CMD true\n", "not multi-stage"),
        (
            GOOD.replace("FROM rayproject/ray:{v}-py311-cpu\n", "FROM python:3.11-slim\n"),
            "final stage must be based on",
        ),
    ],
)
def test_image_rule_violations_are_caught(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(text.replace("{v}", ray_version()))
    assert expected in "\n".join(p.message for p in dockerfile_rules(path, ray_version()))


def test_parser_joins_continuations_and_skips_comments() -> None:
    instructions = parse_dockerfile("# c\nRUN a \\\n    # inside\n    && b\nUSER 1\n")
    assert [(i.keyword, i.arguments, i.line) for i in instructions] == [
        ("RUN", "a  && b", 2),
        ("USER", "1", 5),
    ]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins (! re-includes)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def test_dockerignore_lets_in_every_copied_path_and_keeps_the_rest_out() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for i in parse_dockerfile(DOCKERFILE.read_text())
        if i.keyword == "COPY" and "--from" not in i.arguments
        for source in [w for w in i.arguments.split() if not w.startswith("--")][:-1]
    ]
    assert copied
    for source in copied:
        assert not _ignored(source.rstrip("/"), patterns), source
    for private in (".venv/bin/python", "tests/unit/test_x.py", ".git/config", "var/data.parquet"):
        assert _ignored(private, patterns), private


def _healthcheck(env: dict[str, str]) -> int:
    script = ROOT / "docker" / "healthcheck.py"
    return subprocess.run(
        [sys.executable, str(script)], env=env, timeout=30, check=False
    ).returncode


def test_healthcheck_script() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # nothing listens once the socket closes
    assert _healthcheck({"FRAUDLENS_HEALTHCHECK_URL": "import"}) == 0
    assert _healthcheck({"FRAUDLENS_HEALTHCHECK_URL": f"http://127.0.0.1:{closed}/-/healthz"}) == 1
