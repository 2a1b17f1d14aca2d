"""Schema migrations (Alembic, shipped inside the package) run from code.

``fraudlens records upgrade`` and the tests call :func:`upgrade`; an installed
package can migrate its database without an ``alembic.ini``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import RecordsError
from fraudlens.records.engine import db_error

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises concurrent upgrades (several pods starting at once) on the database itself.
_UPGRADE_LOCK = 0x46524C4D  # "FRLM"


@dataclass(frozen=True)
class RecordsStatus:
    """Where the database stands against the migrations in this package."""

    current: str | None
    head: str
    tables: dict[str, int]

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the package's head revision."""
        return self.current == self.head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision shipped in this package."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RecordsError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision (None: never migrated)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise RecordsError(f"cannot read the schema revision: {db_error(exc)}") from exc


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the database to ``revision`` (default: the newest) and return it.

    Safe to run from several processes at once: they queue on an advisory lock.

    Raises:
        RecordsError: a migration failed (its transaction is rolled back).
    """
    config = _config()
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise RecordsError(f"migrating the records database failed: {db_error(exc)}") from exc
    now = current_revision(engine)
    logger.info("records database at revision %s", now)
    return now or ""


def status(engine: Engine) -> RecordsStatus:
    """The current and head revisions, and the row count of each table it has.

    A database behind the package lacks the newer tables: they are left out of
    ``tables``, not an error (``records status`` is how one finds that out).
    """
    from fraudlens.records.tables import metadata

    current = current_revision(engine)
    counts: dict[str, int] = {}
    if current is not None:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            for table in metadata.sorted_tables:
                if table.name in present:
                    counts[table.name] = int(
                        conn.execute(text(f'SELECT count(*) FROM "{table.name}"')).scalar_one()
                    )
    return RecordsStatus(current=current, head=head_revision(), tables=counts)
