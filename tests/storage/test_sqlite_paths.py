"""The SQLite backend's two paths: the event-loop connection and the writer thread.

Reads and quiet writes run on the loop thread's connection; a write gives way to the writer
thread when another connection holds the write lock (the loop keeps running), and when runs
execute concurrently.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium.config import Settings
from podium.storage.sqlite import SQLiteStore
from podium.storage.store import open_store

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}", Settings())
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_a_quiet_write_runs_on_the_event_loop_thread(sqlite_store: SQLiteStore) -> None:
    threads: list[str] = []
    sqlite_store._local.set_trace_callback(  # type: ignore[union-attr]
        lambda sql: threads.append(threading.current_thread().name)
    )
    app_id = await sqlite_store.ensure_app("quiet")
    assert threads and set(threads) == {threading.current_thread().name}
    assert (await sqlite_store.find_flow(app_id, "f")) is None


async def test_under_concurrent_runs_writes_go_to_the_writer_thread(
    sqlite_store: SQLiteStore,
) -> None:
    loop_statements: list[str] = []
    sqlite_store._local.set_trace_callback(loop_statements.append)  # type: ignore[union-attr]
    sqlite_store.active_runs = 2
    app_id = await sqlite_store.ensure_app("busy")
    flow = await sqlite_store.save_flow(app_id, FLOW)
    assert not any("INSERT" in sql for sql in loop_statements)  # written by the writer thread
    assert (await sqlite_store.get_flow(flow.id)).app_id == app_id  # read on the loop thread
    assert any("SELECT" in sql for sql in loop_statements)


async def test_a_write_lock_held_elsewhere_does_not_block_the_event_loop(
    sqlite_store: SQLiteStore,
) -> None:
    other = sqlite3.connect(sqlite_store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process, say, in the middle of a transaction
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    threading.Timer(0.3, other.execute, args=("COMMIT",)).start()
    started = time.monotonic()
    app_id = await sqlite_store.ensure_app("patient")
    waited = time.monotonic() - started
    ticking.cancel()
    other.close()
    assert app_id.startswith("app_")
    assert waited >= 0.25  # it waited for the lock (on the writer thread) ...
    assert ticks >= 10  # ... while the event loop went on running other tasks
    flow = await sqlite_store.save_flow(app_id, FLOW)  # and the loop path works again after
    assert (await sqlite_store.get_flow(flow.id)).name == "f"
