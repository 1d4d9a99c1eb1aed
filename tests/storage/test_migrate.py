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
