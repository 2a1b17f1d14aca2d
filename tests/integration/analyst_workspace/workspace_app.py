"""The running workspace the browser tests drive (built by this folder's conftest).

Test modules import it as a sibling module (not ``conftest``, which names
another folder's conftest when several are loaded).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from fraudlens.records.audit import PgAuditLog
from fraudlens.settings import KafkaSettings


@dataclass
class Workspace:
    """The running workspace: its URL, the keys by id, the pieces behind it."""

    url: str
    keys: dict[str, str]
    engine: Engine
    kafka: KafkaSettings
    audit: PgAuditLog
