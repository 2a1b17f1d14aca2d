"""Lineage facts logged with every model: code version and data fingerprint."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import fraudlens

CODE_VERSION_ENV = "FRAUDLENS_CODE_VERSION"


def code_version() -> str:
    """The code's version: ``$FRAUDLENS_CODE_VERSION`` (set in images), else the git sha.

    A working tree with uncommitted changes gets a ``-dirty`` suffix; without
    git, the package version is returned.
    """
    if os.environ.get(CODE_VERSION_ENV):
        return os.environ[CODE_VERSION_ENV]
    root = Path(__file__).resolve().parent.parent
    try:
        sha = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return f"fraudlens-{fraudlens.__version__}"
    return f"{sha}-dirty" if dirty else sha


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
    )
    return out.stdout.strip()


def fingerprint(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """SHA-256 of the given columns' values, row order included (16 hex chars)."""
    hashed = pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(columns).encode())
    return digest.hexdigest()[:16]
