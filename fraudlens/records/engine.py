"""Connections to the system of record: the URL from settings, and an engine."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from fraudlens.errors import ConfigError, RecordsError

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


def sqlalchemy_url(url: str, setting: str = "records.database_url") -> str:
    """``url`` with the psycopg 3 driver (``postgresql://`` -> ``postgresql+psycopg://``).

    Raises:
        ConfigError: not a PostgreSQL URL (the message names ``setting``).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # ArgumentError, ValueError: both mean "not a URL"
        raise ConfigError(f"{setting} is not a valid database URL") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"{setting} must be a postgresql:// URL, not {parsed.get_backend_name()}://"
        )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def database_url(settings: Settings) -> str:
    """The records database URL: the configured one, or the embedded server's.

    Raises:
        ConfigError: production mode without ``records.database_url``.
        RecordsError: the embedded server did not start.
    """
    configured = settings.records.database_url
    if configured is not None:
        return sqlalchemy_url(configured.get_secret_value())
    if settings.mode == "production":
        raise ConfigError(
            "records.database_url is required in production mode "
            "(set FRAUDLENS_RECORDS__DATABASE_URL)"
        )
    from fraudlens.records.embedded import start_embedded

    return start_embedded(settings.records.resolved_embedded_dir(settings.data_dir))


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine for ``url`` that checks connections before use.

    Args:
        url: a PostgreSQL URL.
        pool_size: connections kept open; 0 opens one per use and closes it
            (for rare writers that never dispose their engine, e.g. the audit trail).

    Raises:
        ConfigError: the URL is not a PostgreSQL URL.
    """
    if pool_size == 0:
        return create_engine(sqlalchemy_url(url), poolclass=NullPool)
    return create_engine(
        sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def engine_from_settings(
    settings: Settings, pool_size: int | None = None, *, check_schema: bool = True
) -> Engine:
    """The engine of ``settings.records`` (starting the embedded server if needed).

    Args:
        settings: FraudLens settings.
        pool_size: overrides ``records.pool_size`` (0: no pool, see ``make_engine``).
        check_schema: make sure the tables are at this package's revision: the
            embedded server is migrated on the spot; a configured database must
            have been migrated with ``fraudlens records upgrade`` (schema changes
            on a shared database are an operator's step, not a side effect).

    Raises:
        ConfigError: production mode without a URL, or a non-PostgreSQL URL.
        RecordsError: the database cannot be reached, or is behind.
    """
    from fraudlens.records.migrate import current_revision, head_revision, upgrade

    size = settings.records.pool_size if pool_size is None else pool_size
    engine = make_engine(database_url(settings), size)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if check_schema:
            current, head = current_revision(engine), head_revision()
            if current != head and settings.records.database_url is None:
                upgrade(engine)
            elif current != head:
                raise RecordsError(
                    f"the records database is at revision {current or '(none)'}, this "
                    f"package needs {head}: run `fraudlens records upgrade`"
                )
    except SQLAlchemyError as exc:
        engine.dispose()
        raise RecordsError(f"cannot reach the records database: {db_error(exc)}") from exc
    except RecordsError:
        engine.dispose()
        raise
    return engine


@contextmanager
def records_engine(
    settings: Settings, pool_size: int | None = None, *, check_schema: bool = True
) -> Iterator[Engine]:
    """``engine_from_settings`` for one block, disposed of at its end."""
    engine = engine_from_settings(settings, pool_size, check_schema=check_schema)
    try:
        yield engine
    finally:
        engine.dispose()


def db_error(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's echo of the statement and parameters."""
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
