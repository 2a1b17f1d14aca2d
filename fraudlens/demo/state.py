"""What the demo steps hand to each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudlens.settings import Settings


@dataclass
class DemoState:
    """Settings in force (with the live broker) and each step's results."""

    settings: Settings
    sim_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)
