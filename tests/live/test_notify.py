"""Several processes on one database wake each other at once: LISTEN/NOTIFY on PostgreSQL,
the store's watch of the file on SQLite (`PODIUM_SQLITE_WATCH_SECONDS`).

Two runtimes on two stores stand for two processes (each store tells its own commits from the
others'); their poll interval is 30 s, so only a notification can explain a wake-up within
seconds. Live-only events cross processes on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import fast_settings
from podium.engine.flow import Flow
from podium.engine.runtime import Podium
from podium.events.envelope import Event
from podium.storage.store import open_store

FLOW = Flow.model_validate({"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []})
PROMPT = 5.0  # seconds: far below the 30 s poll


def poll_for(database_url: str) -> float:
    return 30.0


async def test_a_subscriber_sees_another_stores_commit_at_once(database_url: str) -> None:
    settings = fast_settings(poll_seconds=poll_for(database_url))
    async with (
        Podium.open(database_url, settings=settings, migrate=False, workers=0) as reader,
        Podium.open(database_url, settings=settings, migrate=False, workers=0) as writer,
    ):
        app_id = await writer.default_app()
        flow = await writer.register_flow(FLOW)
        subscription = reader.bus.subscribe(app_id)
        first = asyncio.create_task(anext(subscription))
        await asyncio.sleep(0.3)  # the reader has read the empty log and waits
        assert not first.done()
        started = time.monotonic()
        await writer.store.start_session(app_id, flow.id, {})
        event = await asyncio.wait_for(first, PROMPT)
        assert time.monotonic() - started < PROMPT
        assert event.app_id == app_id and event.seq == 1
        await subscription.aclose()


async def test_a_live_event_reaches_another_stores_subscriber(database_url: str) -> None:
    settings = fast_settings(poll_seconds=poll_for(database_url))
    async with (
        Podium.open(database_url, settings=settings, migrate=False, workers=0) as reader,
        Podium.open(database_url, settings=settings, migrate=False, workers=0) as writer,
    ):
        app_id = await writer.default_app()
        flow = await writer.register_flow(FLOW)
        session_id, _ = await writer.store.start_session(app_id, flow.id, {})
        subscription = reader.bus.subscribe(app_id, since=0, session_id=session_id)
        persisted = [await asyncio.wait_for(anext(subscription), PROMPT) for _ in range(2)]
        assert [e.seq for e in persisted] == [1, 2]
        delta = Event("message.delta", app_id, session_id, None, {"delta": "tok"})
        writer.bus.publish_live(delta)
        if database_url.startswith("postgres"):
            got = await asyncio.wait_for(anext(subscription), PROMPT)
            assert got.type == "message.delta" and got.data == {"delta": "tok"}
            assert got.seq is None
        else:  # SQLite: live-only events stay in the process that published them
            nothing = asyncio.create_task(anext(subscription))
            await asyncio.sleep(0.5)
            assert not nothing.done()
            subscription.end()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(nothing, PROMPT)
        await subscription.aclose()


async def test_an_idle_worker_claims_a_run_queued_by_another_store(database_url: str) -> None:
    settings = fast_settings(poll_seconds=poll_for(database_url))
    async with (
        Podium.open(database_url, settings=settings, migrate=False, workers=1) as worker,
        Podium.open(database_url, settings=settings, migrate=False, workers=0) as api,
    ):
        await asyncio.sleep(0.5)  # the worker found nothing to claim and sleeps
        assert worker.workers_running
        started = time.monotonic()
        handle = await api.start(FLOW, {"x": 1})
        run = await api.wait(handle.run_id, timeout=PROMPT)
        assert run.status == "succeeded", run.status
        assert time.monotonic() - started < PROMPT


async def test_a_dropped_listening_connection_reconnects_and_wakes_subscribers(
    database_url: str,
) -> None:
    if not database_url.startswith("postgres"):  # SQLite has no listening connection
        assert not hasattr(open_store(database_url), "_listening")
        return
    import asyncpg

    from podium.storage.urls import asyncpg_dsn

    settings = fast_settings(poll_seconds=30.0)
    silent = fast_settings(poll_seconds=30.0, notify=False)
    async with (
        Podium.open(database_url, settings=settings, migrate=False, workers=0) as reader,
        # It notifies nothing: only the reconnection's wake-up (or the 30 s poll) can tell
        # the reader about its commit, as with a notification lost while it was down.
        Podium.open(database_url, settings=silent, migrate=False, workers=0) as writer,
    ):
        app_id = await writer.default_app()
        flow = await writer.register_flow(FLOW)
        subscription = reader.bus.subscribe(app_id)
        first = asyncio.create_task(anext(subscription))
        await asyncio.sleep(0.3)
        await writer.store.start_session(app_id, flow.id, {})
        await asyncio.sleep(0.3)
        assert not first.done()
        listening = reader.store._listening  # type: ignore[attr-defined]
        admin = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", listening.get_server_pid())
        finally:
            await admin.close()
        event = await asyncio.wait_for(first, PROMPT)
        assert event.seq == 1
        assert reader.store._listening is not listening  # type: ignore[attr-defined]
        await subscription.aclose()
