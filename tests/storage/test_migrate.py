"""The schema comes from Alembic migrations only, and SQLite is set up as DESIGN §4 says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.conftest import POSTGRES_URL

from podium.config import Settings
from podium.errors import InvalidInput
from podium.storage.migrate import head_revision, upgrade
from podium.storage.sqlite import SQLiteStore
from podium.storage.urls import async_url, asyncpg_dsn, dialect, sqlite_path, sqlite_url


def test_upgrade_creates_every_table_and_is_idempotent(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p.db")
    upgrade(url)
    upgrade(url)
    connection = sqlite3.connect(tmp_path / "p.db")
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    version = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    connection.close()
    expected = {"apps", "flows", "sessions", "runs", "steps", "calls", "interrupts", "events"}
    assert expected <= tables
    assert version == head_revision()


@pytest.mark.parametrize("synchronous, expected", [("normal", 1), ("full", 2)])
async def test_sqlite_uses_wal_foreign_keys_and_the_synchronous_setting(
    tmp_path: Path, synchronous: str, expected: int
) -> None:
    store = SQLiteStore(
        sqlite_url(tmp_path / "p.db"),
        Settings(sqlite_synchronous=synchronous),  # type: ignore[arg-type]
    )
    await store.open()
    try:
        connection = store.connect()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == expected
        assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        connection.close()
    finally:
        await store.close()


def test_database_urls() -> None:
    assert dialect("sqlite:///x.db") == "sqlite"
    assert dialect("postgresql+asyncpg://u@h/db") == "postgresql"
    assert sqlite_path("sqlite:////abs/x.db") == Path("/abs/x.db")
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgresql://u@h:5/db") == "postgresql+asyncpg://u@h:5/db"
    assert asyncpg_dsn("postgresql+asyncpg://u@h:5/db") == "postgresql://u@h:5/db"
    with pytest.raises(InvalidInput, match=r"use sqlite:///path/to/podium\.db or postgresql://"):
        dialect("mysql://u@h/db")
    with pytest.raises(InvalidInput, match="names no file"):
        sqlite_path("sqlite://")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PODIUM_TEST_DATABASE_URL (PostgreSQL)")
def test_processes_starting_at_once_on_a_new_postgresql_database_migrate_one_after_another() -> (
    None
):
    """An API process and its workers started together on an empty database: without the
    migration lock two of them created the same tables at once and one failed ("duplicate key
    value violates unique constraint pg_type_typname_nsp_index")."""
    import asyncio
    import subprocess
    import sys
    import uuid

    import asyncpg

    assert POSTGRES_URL is not None
    name = f"podium_migrate_{uuid.uuid4().hex[:8]}"
    fresh = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(POSTGRES_URL))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        # Processes, not threads: Alembic's `context` is one per process.
        script = "import sys; from podium.storage.migrate import upgrade; upgrade(sys.argv[1])"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", script, fresh],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(4)
        ]
        for process in processes:
            output, _ = process.communicate(timeout=120)
            assert process.returncode == 0, output

        async def version() -> str:
            connection = await asyncpg.connect(asyncpg_dsn(fresh))
            try:
                return str(await connection.fetchval("SELECT version_num FROM alembic_version"))
            finally:
                await connection.close()

        assert asyncio.run(version()) == head_revision()
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_0011_keeps_every_row_and_indexes_only_sessions_with_a_user(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    upgrade(sqlite_url(path), "0010")
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "INSERT INTO apps (id, name, last_seq, created_at) VALUES ('app_1', 'a', 1, 0)"
        )
        connection.execute(  # an event as every Podium before 0011 wrote it
            "INSERT INTO events (app_num, seq, type, session_id, run_id, ts, data) "
            "VALUES (1, 1, 'node.completed', 'ses_1', 'run_1', 0, '{\"node_id\":\"a\"}')"
        )
        for session_id, user_id in (("ses_1", "usr_1"), ("ses_2", None)):
            connection.execute(
                "INSERT INTO sessions (id, app_id, user_id, status, state, created_at, "
                "updated_at) VALUES (?, 'app_1', ?, 'active', '{}', 0, 0)",
                (session_id, user_id),
            )
    connection.close()
    upgrade(sqlite_url(path))
    connection = sqlite3.connect(path)
    (sql,) = connection.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'ix_sessions_user'"
    ).fetchone()
    assert "WHERE user_id IS NOT NULL" in sql
    query = "SELECT id FROM sessions WHERE app_id = ? AND user_id = ?"
    plan = " ".join(
        str(row) for row in connection.execute(f"EXPLAIN QUERY PLAN {query}", ("a", "u"))
    )
    assert "ix_sessions_user" in plan
    assert connection.execute(query, ("app_1", "usr_1")).fetchall() == [("ses_1",)]
    assert connection.execute("SELECT count(*) FROM sessions").fetchone() == (2,)
    assert connection.execute("SELECT session_id, data, step FROM events").fetchall() == [
        ("ses_1", '{"node_id":"a"}', None)
    ]
    connection.close()


def test_a_new_sqlite_file_has_small_pages_and_an_existing_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    upgrade(sqlite_url(tmp_path / "new.db"))
    connection = sqlite3.connect(tmp_path / "new.db")
    assert connection.execute("PRAGMA page_size").fetchone() == (2048,)
    connection.close()
    connection = sqlite3.connect(tmp_path / "old.db")
    connection.execute("PRAGMA page_size = 4096")
    connection.execute("CREATE TABLE older (x INTEGER)")  # written by an older Podium
    connection.close()
    upgrade(sqlite_url(tmp_path / "old.db"))
    connection = sqlite3.connect(tmp_path / "old.db")
    assert connection.execute("PRAGMA page_size").fetchone() == (4096,)
    connection.close()
