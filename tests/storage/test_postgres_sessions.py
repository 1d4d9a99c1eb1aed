"""PostgreSQL pool connections: a frozen transaction is ended, a lost connection is an error
the worker survives, and the app's log stays ordered with the one-statement append."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conftest import POSTGRES_URL, fast_settings
from podium.errors import StoreUnavailable
from podium.events.envelope import Event
from podium.storage.script import Script, one
from podium.storage.store import open_store

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PODIUM_TEST_DATABASE_URL (PostgreSQL)"
)


def frozen_inside_a_transaction(app_id: str, seconds: float) -> Script:
    """Locks the app's row, then stalls (as a SIGSTOPped process would) before going on."""
    yield one("UPDATE apps SET last_seq = last_seq WHERE id = ? RETURNING last_seq", app_id)
    time.sleep(seconds)  # blocks this event loop: nothing more reaches PostgreSQL
    yield one("SELECT 1 AS one")
    raise AssertionError("the stalled transaction went on")


@needs_postgres
async def test_a_transaction_left_idle_past_half_the_lease_is_ended_and_its_locks_released(
    postgres_migrated: str,
) -> None:
    database_url = postgres_migrated
    # A 2-second lease: a pool connection may sit idle in a transaction for 1 second.
    store = open_store(database_url, fast_settings(lease_seconds=2.0))
    other = open_store(database_url, fast_settings())
    await store.open(migrate=False)
    await other.open(migrate=False)
    try:
        app_id = await store.ensure_app("frozen")
        loop = asyncio.get_running_loop()
        # The stalled transaction runs on a loop of its own (its sleep blocks that loop).
        stalled = loop.run_in_executor(None, lambda: asyncio.run(_stall(database_url, app_id, 3.0)))
        await asyncio.sleep(0.5)  # it holds the app's row now
        started = time.monotonic()
        # Another process writing to the app waits only until PostgreSQL ends the session.
        [event] = await other.append_events(app_id, [Event("test.note", app_id, None, None, {})])
        waited = time.monotonic() - started
        assert event.seq == 1
        assert waited < 2.5, f"the writer waited {waited:.1f}s for the frozen transaction"
        error = await stalled
        assert isinstance(error, StoreUnavailable), error
        assert error.code == "store_unavailable"
        assert "the database connection was lost; nothing was committed" in error.message
        # The pool replaces the connection: the next call works.
        [again] = await store.append_events(app_id, [Event("test.note", app_id, None, None, {})])
        assert again.seq == 2
    finally:
        await store.close()
        await other.close()


async def _stall(url: str, app_id: str, seconds: float) -> BaseException | None:
    store = open_store(url, fast_settings(lease_seconds=2.0))
    await store.open(migrate=False)
    try:
        await store.run_script(lambda: frozen_inside_a_transaction(app_id, seconds))
    except StoreUnavailable as exc:
        return exc
    finally:
        await store.close()
    return None


async def test_concurrent_appends_keep_each_apps_log_gapless_and_ordered(database_url: str) -> None:
    """The one-statement append (PostgreSQL) and the two-statement one (SQLite) give the same
    log: writers of one app at once get consecutive seqs, none shared, none skipped."""
    store = open_store(database_url, fast_settings())
    await store.open(migrate=False)
    try:
        apps = [await store.ensure_app(f"log-{n}") for n in range(2)]

        async def write(app_id: str, n: int) -> list[Any]:
            events = [Event("test.note", app_id, None, None, {"n": n, "k": k}) for k in range(3)]
            return await store.append_events(app_id, events)

        written = await asyncio.gather(*(write(apps[n % 2], n) for n in range(40)))
        for app_id in apps:
            seqs = [e.seq for batch in written for e in batch if e.app_id == app_id]
            assert sorted(seqs) == list(range(1, 61))
            for batch in written:
                if batch[0].app_id == app_id:  # a batch's events are consecutive
                    assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + 3))
            page = await store.read_events(app_id, after=0, limit=100)
            assert [e.seq for e in page] == list(range(1, 61))
            assert all(e.type == "test.note" and e.ts > 0 for e in page)
        with pytest.raises(Exception, match="does not exist"):
            await store.append_events("app_missing", [Event("test.note", "x", None, None, {})])
    finally:
        await store.close()
