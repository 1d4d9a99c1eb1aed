"""SQLite: a write waits for another process's write lock, and fails cleanly past its timeout.

A plain `sqlite3` connection holding `BEGIN IMMEDIATE` stands for another process committing
to the same file (the store's writer has no busy handler: it waits in short sleeps itself).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium.config import Settings
from podium.storage.sqlite import SQLiteStore
from podium.storage.urls import sqlite_url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(sqlite_url(tmp_path / "p.db"), Settings())
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def other_process(store: SQLiteStore) -> sqlite3.Connection:
    """Another writer on the same file, holding the write lock until it commits."""
    connection = sqlite3.connect(store.path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "INSERT INTO apps (id, name, last_seq, created_at) VALUES ('app_other', 'other', 0, 0)"
    )
    return connection


def app_names(store: SQLiteStore) -> set[str]:
    connection = sqlite3.connect(store.path)
    try:
        return {name for (name,) in connection.execute("SELECT name FROM apps")}
    finally:
        connection.close()


async def test_a_write_waits_for_another_process_and_then_commits(store: SQLiteStore) -> None:
    other = other_process(store)
    try:
        write = asyncio.ensure_future(store.ensure_app("mine"))
        await asyncio.sleep(0.3)
        assert not write.done()  # still waiting for the lock: nothing failed, nothing written
        other.execute("COMMIT")
        await asyncio.wait_for(write, timeout=10)
    finally:
        other.close()
    assert app_names(store) == {"other", "mine"}


async def test_past_its_timeout_a_write_fails_as_locked_and_stores_nothing(
    store: SQLiteStore,
) -> None:
    store.lock_timeout = 0.2
    other = other_process(store)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await asyncio.wait_for(store.ensure_app("mine"), timeout=10)
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert app_names(store) == set()
    # The store writes again once the lock is free.
    await store.ensure_app("mine")
    assert app_names(store) == {"mine"}
