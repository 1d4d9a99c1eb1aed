"""How big the database is: rows and bytes per table, rows per app (`podium db stats`).

Bytes are what each backend says a table takes with its indexes: on SQLite the pages of
its b-trees (the `dbstat` table, when SQLite was built with it; else only the file's pages
in all), on PostgreSQL `pg_total_relation_size`. Deleted rows give their pages back at
once on SQLite (to the free list, reported as `free_bytes`, which `VACUUM` returns to the
file system); on PostgreSQL the space is reused after `VACUUM` and returned by
`VACUUM FULL` (docs/retention.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from podium.storage.script import Script, all_rows, one
from podium.storage.urls import asyncpg_dsn, dialect, sqlite_path

# The tables retention prunes, and those beside them that grow with use.
TABLES = (
    "events",
    "steps",
    "calls",
    "runs",
    "sessions",
    "interrupts",
    "tool_calls",
    "artifact_versions",
    "artifacts",
    "agent_messages",
    "memory",
)

# Rows per app: `(table, SQL counting them by app id)`.
PER_APP = (
    ("sessions", "SELECT app_id, COUNT(*) AS n FROM sessions GROUP BY app_id"),
    ("runs", "SELECT app_id, COUNT(*) AS n FROM runs GROUP BY app_id"),
    (
        "steps",
        "SELECT r.app_id, COUNT(*) AS n FROM steps s JOIN runs r ON r.id = s.run_id "
        "GROUP BY r.app_id",
    ),
    (
        "events",
        "SELECT a.id AS app_id, COUNT(*) AS n FROM events e JOIN apps a ON a.num = e.app_num "
        "GROUP BY a.id",
    ),
    ("tool_calls", "SELECT app_id, COUNT(*) AS n FROM tool_calls GROUP BY app_id"),
    (
        "artifact_versions",
        "SELECT a.app_id, COUNT(*) AS n FROM artifact_versions v "
        "JOIN artifacts a ON a.id = v.artifact_id GROUP BY a.app_id",
    ),
)


def row_counts() -> Script:
    """`{table: rows}` and `{app_id: {"name", "oldest_seq", table: rows}}`."""
    tables = {}
    for table in TABLES:
        row = yield one(f"SELECT COUNT(*) AS n FROM {table}")
        tables[table] = row["n"]
    apps: dict[str, dict[str, Any]] = {}
    rows = yield all_rows(
        "SELECT a.id, a.name, a.last_seq, MIN(e.seq) AS oldest FROM apps a "
        "LEFT JOIN events e ON e.app_num = a.num GROUP BY a.id, a.name, a.last_seq"
    )
    for row in rows:
        oldest = row["oldest"] if row["oldest"] is not None else row["last_seq"] + 1
        apps[row["id"]] = {"name": row["name"], "oldest_seq": oldest, "last_seq": row["last_seq"]}
        apps[row["id"]].update(dict.fromkeys((name for name, _sql in PER_APP), 0))
    for table, sql in PER_APP:
        for row in (yield all_rows(sql)):
            if row["app_id"] in apps:
                apps[row["app_id"]][table] = row["n"]
    return tables, apps


def sqlite_pages() -> Script:
    """`(page_size, page_count, freelist_count)` of a SQLite database."""
    size = yield one("PRAGMA page_size")
    count = yield one("PRAGMA page_count")
    free = yield one("PRAGMA freelist_count")
    return size[0], count[0], free[0]


def sqlite_table_bytes() -> Script:
    """`{table: bytes}` from `dbstat` (each index counted with its table); raises where
    SQLite has no `dbstat`."""
    owners = yield all_rows(
        "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
    )
    table_of = {row["name"]: row["tbl_name"] for row in owners}
    rows = yield all_rows("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name")
    sizes: dict[str, int] = {}
    for row in rows:
        table = table_of.get(row["name"], row["name"])
        sizes[table] = sizes.get(table, 0) + row["bytes"]
    return sizes


def postgres_table_bytes() -> Script:
    """`{table: bytes}` with indexes and TOAST, and the database's size."""
    rows = yield all_rows(
        "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
    )
    total = yield one("SELECT pg_database_size(current_database()) AS bytes")
    return {row["name"]: row["bytes"] for row in rows}, total["bytes"]


async def vacuum(url: str, *, full: bool = False) -> None:
    """Give the space of deleted rows back: SQLite `VACUUM` (the file shrinks; it takes the
    write lock for as long as it copies the database), PostgreSQL `VACUUM` (space reused; with
    `full`, `VACUUM FULL`, which rewrites every table and locks each while it does)."""
    if dialect(url) == "sqlite":
        import sqlite3

        def run() -> None:
            connection = sqlite3.connect(sqlite_path(url), isolation_level=None)
            try:
                connection.execute("PRAGMA busy_timeout = 10000")
                connection.execute("VACUUM")
            finally:
                connection.close()

        await asyncio.to_thread(run)
        return
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("VACUUM FULL" if full else "VACUUM")
    finally:
        await connection.close()
