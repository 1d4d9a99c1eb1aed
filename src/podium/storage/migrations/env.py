"""Alembic environment: runs the migrations over SQLAlchemy's async engine."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config


# The page size of a new SQLite file (an existing file keeps its own). Every table and index
# holds at least one page, and there are about a hundred; half of SQLite's default halves
# what an empty database costs, and a commit of a few small rows writes half as many bytes to
# the WAL. Rows are still read and written whole; a large JSON value spills over more, smaller
# pages (docs/engine.md, "Storage").
SQLITE_PAGE_SIZE = 2048


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Takes effect only while the file is empty, before its first table is written.
        connection.exec_driver_sql(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
    # A pack's migrations keep their own version table (podium.storage.migrate).
    version_table = config.get_main_option("version_table") or "alembic_version"
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=True,
        version_table=version_table,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes starting at once on a new database (an API and its workers)
            # migrate one after the other: the next one finds the tables there. The lock is
            # the transaction's, released at its commit.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('podium.migrate'))"))
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:  # a failed migration must not leave connections (and the file) open
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
