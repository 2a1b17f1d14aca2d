"""What every check returns: a list of problems, each saying where and what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fraudlens.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a deployment file.

    Attributes:
        where: the file, overlay or object, e.g. ``overlays/prod RayService/fraudlens-scoring``.
        message: what is wrong, naming the field (``spec.rayClusterConfig...: ...``).
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def raise_for_problems(problems: Sequence[Problem], what: str) -> None:
    """Raise ``ConfigError`` listing every problem, if there is any."""
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise ConfigError(f"{what}: {len(problems)} problem(s)\n{lines}")


def json_path(path: Sequence[object]) -> str:
    """``spec.workerGroupSpecs[0].minReplicas`` from a jsonschema-style path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"
