"""What the workspace routes need: the records database, opened on first use, and its parts."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine

from fraudlens.records.api_keys import PgKeyStore
from fraudlens.records.engine import engine_from_settings
from fraudlens.scoring.interfaces import FeatureSource
from fraudlens.scoring.rule_admin import RuleAdmin
from fraudlens.security.audit import audit_log_from_settings
from fraudlens.security.auth import Authenticator
from fraudlens.settings import Settings, WorkspaceSettings
from fraudlens.workspace.actions import CaseDesk, LabelPublisher


class WorkspaceContext:
    """What the workspace routes need; the database parts are made on first use.

    A scoring replica builds its app at start; opening the records database
    then (and, in embedded mode, starting PostgreSQL) would slow every replica
    and fail scoring when the database is down. So ``connect`` runs on the
    first workspace request that needs the database (in a worker thread).

    Args:
        connect: returns the records engine and the ``CaseDesk`` (called once).
        authenticator: checks the API keys / tokens given at sign-in (None:
            no credentials configured, so nobody can sign in).
        settings: the ``workspace`` settings.
    """

    def __init__(
        self,
        connect: Callable[[], tuple[Engine, CaseDesk]],
        authenticator: Authenticator | None,
        settings: WorkspaceSettings | None = None,
    ) -> None:
        self._connect = connect
        self._parts: tuple[Engine, CaseDesk] | None = None
        self._lock = threading.Lock()
        self.authenticator = authenticator
        self.settings = settings or WorkspaceSettings()
        self.rules: RuleAdmin | None = None  # set by the API app when it has an admin context
        self.features: FeatureSource | None = None  # set by the API app: its feature store

    @classmethod
    def ready(
        cls,
        engine: Engine,
        desk: CaseDesk,
        authenticator: Authenticator | None,
        settings: WorkspaceSettings | None = None,
    ) -> WorkspaceContext:
        """A context over an engine and desk that already exist."""
        return cls(lambda: (engine, desk), authenticator, settings)

    def _open(self) -> tuple[Engine, CaseDesk]:
        with self._lock:
            if self._parts is None:
                self._parts = self._connect()
            return self._parts

    @property
    def engine(self) -> Engine:
        """The records database (opened on first use)."""
        return self._open()[0]

    @property
    def keys(self) -> PgKeyStore | None:
        """The authenticator's stored API keys (None: it accepts only the settings' keys,
        so keys made here would not work and the users page is off)."""
        store = self.authenticator.key_store if self.authenticator else None
        return store if isinstance(store, PgKeyStore) else None

    @property
    def desk(self) -> CaseDesk:
        """The analysts' actions (made on first use)."""
        return self._open()[1]


def workspace_context(
    settings: Settings, authenticator: Authenticator | None, publisher: LabelPublisher
) -> WorkspaceContext:
    """Wire the workspace from settings: records engine, audit chain, label publisher.

    Nothing is opened here; the first workspace request that needs the
    database opens it (``ConfigError`` / ``RecordsError`` then answer 503).
    """

    def connect() -> tuple[Engine, CaseDesk]:
        engine = engine_from_settings(settings)
        return engine, CaseDesk(engine, publisher, audit_log_from_settings(settings))

    return WorkspaceContext(connect, authenticator, settings.workspace)
