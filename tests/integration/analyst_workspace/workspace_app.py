"""The running workspace the browser tests drive (built by this folder's conftest).

Test modules import it as a sibling module (not ``conftest``, which names
another folder's conftest when several are loaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from fraudlens.records.audit import PgAuditLog
from fraudlens.settings import KafkaSettings
from fraudlens.workspace import CaseDesk


@dataclass
class Workspace:
    """The running workspace: its URL, the keys by id, the pieces behind it."""

    url: str
    keys: dict[str, str]
    engine: Engine
    kafka: KafkaSettings
    audit: PgAuditLog
    desk: CaseDesk  # what the case pages act through (a test may swap its audit trail)
    responses: list[tuple[str, bytes]] = field(default_factory=list)  # (path, body) sent so far
