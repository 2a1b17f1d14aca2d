"""Live rules in the ``rules`` table: every version kept, the newest one in force.

Replicas poll ``version()`` (one index lookup of the newest key) and read the
rules only when it changed, so all replicas on one database agree. Versions
come from the table's sequence: two concurrent writers get two versions and
the later one wins, as with the file and Redis stores.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Engine, func, select

from fraudlens.errors import ConfigError
from fraudlens.records.operations import add_rule_version
from fraudlens.records.tables import rules as table
from fraudlens.scoring.config import Rules
from fraudlens.scoring.rule_store import StoredRules


class PgRuleStore:
    """The ``RuleStore`` on the records database.

    Args:
        engine: a migrated records database (kept for the store's lifetime).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def version(self) -> int:
        """The current version (0 when never set)."""
        with self.engine.connect() as conn:
            newest = select(func.coalesce(func.max(table.c.version), 0))
            return int(conn.execute(newest).scalar_one())

    def get(self) -> StoredRules | None:
        """The newest version, or None if never set."""
        stmt = select(table).order_by(table.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return _stored(row) if row is not None else None

    def put(self, rules: Rules, actor: str) -> StoredRules:
        """Store ``rules`` as the next version."""
        with self.engine.begin() as conn:
            version = add_rule_version(conn, rules.model_dump(mode="json"), actor)
            row = conn.execute(select(table).where(table.c.version == version)).mappings().one()
        return _stored(row)

    def history(self, limit: int = 20) -> list[StoredRules]:
        """The newest ``limit`` versions, newest first."""
        stmt = select(table).order_by(table.c.version.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(stmt).mappings()]


def _stored(row: Any) -> StoredRules:
    try:
        rules = Rules.model_validate(row["rule_set"])
    except PydanticValidationError as exc:
        raise ConfigError(f"stored rules version {row['version']} are damaged: {exc}") from exc
    return StoredRules(
        int(row["version"]), rules, row["created_at"].isoformat(), str(row["author"])
    )
