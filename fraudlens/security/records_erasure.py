"""Erasure and retention for the records database (PostgreSQL), next to the Parquet stores.

The records database is in use when ``records.database_url`` is set, or when
the embedded server's data folder exists (a laptop that ran the sink or the
demo); otherwise there is nothing to erase there.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import DataError, RecordsError
from fraudlens.security.privacy import ErasureSubject, StoreErasure

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from fraudlens.security.inventory import DataAsset
    from fraudlens.settings import Settings


def records_in_use(settings: Settings) -> bool:
    """Whether the records database may hold personal data."""
    records = settings.records
    return (
        records.database_url is not None
        or records.resolved_embedded_dir(settings.data_dir).exists()
    )


class RecordsEraser:
    """Deletes a subject's decisions, labels and cases (one transaction, verified).

    Discovery adds the transactions decided on the subject's card tokens, so
    their labels go too. The engine is opened on first use.
    """

    name = "records_database"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    def _connect(self) -> Engine:
        if self._engine is None:
            from fraudlens.records.engine import engine_from_settings

            self._engine = engine_from_settings(self.settings, pool_size=0)
        return self._engine

    def discover(self, subject: ErasureSubject) -> None:
        """Add the transaction ids of the subject's cards' decisions."""
        from fraudlens.records.privacy import linked_transactions

        try:
            with self._connect().connect() as conn:
                subject.transaction_ids |= linked_transactions(conn, subject.card_tokens)
        except SQLAlchemyError as exc:
            raise _failed("read", exc) from exc

    def erase(self, subject: ErasureSubject) -> StoreErasure:
        """Delete the rows and check none is left, in one transaction."""
        from fraudlens.records.privacy import erase_subject, subject_rows

        tokens, ids = subject.card_tokens, subject.transaction_ids
        try:
            with self._connect().begin() as conn:
                deleted = erase_subject(conn, tokens, ids)
                if subject_rows(conn, tokens, ids):
                    raise DataError("erasure verification failed: subject rows remain")
        except SQLAlchemyError as exc:
            raise _failed("erase", exc) from exc
        result = StoreErasure(self.name, files_scanned=len(deleted))
        result.files_rewritten = sum(1 for n in deleted.values() if n)
        result.rows_removed = sum(deleted.values())
        return result


def prune_records(settings: Settings, items: list[tuple[DataAsset, datetime]]) -> dict[str, int]:
    """Delete the rows older than each asset's cutoff, in one transaction; rows per asset."""
    from fraudlens.records.engine import records_engine
    from fraudlens.records.privacy import prune

    # cases first: a decision a closed, expired case pointed to can go in the same run
    ordered = sorted(items, key=lambda pair: pair[0].table != "cases")
    try:
        with records_engine(settings, pool_size=0) as engine, engine.begin() as conn:
            return {item.name: prune(conn, str(item.table), cutoff) for item, cutoff in ordered}
    except SQLAlchemyError as exc:
        raise _failed("prune", exc) from exc


def _failed(what: str, exc: SQLAlchemyError) -> RecordsError:
    from fraudlens.records.engine import db_error

    return RecordsError(f"cannot {what} the records database: {db_error(exc)}")
