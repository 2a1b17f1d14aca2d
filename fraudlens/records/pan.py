"""Scan every row of the records database for card numbers.

PostgreSQL's data files are binary pages whose digit runs look like card
numbers to a file scan; scan the rows instead (the demo's and the tests' PAN
checks do).
"""

from __future__ import annotations

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import RecordsError
from fraudlens.records.engine import db_error
from fraudlens.records.tables import metadata
from fraudlens.security.pan_scan import Finding, find_pans
from fraudlens.security.pan_stores import StoreScan


def scan_records(engine: Engine, *, networks_only: bool = False) -> StoreScan:
    """Scan each row of each records table, as JSON text.

    Args:
        engine: the records database (migrated).
        networks_only: see ``fraudlens.security.pan_scan``.

    Returns:
        Findings (``table T, row N``), and the rows read per table in ``counts``.

    Raises:
        RecordsError: a table cannot be read.
    """
    result = StoreScan()
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                alias = table.alias("t")
                query = select(text("row_to_json(t)::text")).select_from(alias)
                rows = conn.execution_options(yield_per=1000).execute(query).scalars()
                count = 0
                for count, line in enumerate(rows, start=1):
                    for hit in find_pans(line, networks_only=networks_only):
                        where = f"table {table.name}, row {count}, col {hit.start + 1}"
                        result.findings.append(Finding("postgresql", where, hit.masked))
                result.counts[table.name] = count
    except SQLAlchemyError as exc:
        raise RecordsError(f"cannot scan the records tables: {db_error(exc)}") from exc
    return result
