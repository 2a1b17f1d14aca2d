"""Alembic environment: runs on the connection ``fraudlens.records.migrate`` hands in."""

from __future__ import annotations

from alembic import context

from fraudlens.records.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` on the command line: use the ini's sqlalchemy.url
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given; run `fraudlens records upgrade` instead")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
else:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
