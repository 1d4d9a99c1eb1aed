"""The embedded runtime's waits: every waiter of a run is woken by its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.conftest import fast_settings

from podium import FlowBuilder, Podium
from podium.ids import new_id
from podium.sessions.service import SessionService
from podium.storage.records import RunRecord
from support import nodes


@pytest.fixture
async def slow_polling(database_url: str) -> AsyncIterator[Podium]:
    # Polling every 60 s: a wait that is not woken by the run's outcome event would hang.
    settings = fast_settings(poll_seconds=60.0)
    async with Podium.open(database_url, settings=settings, migrate=False) as runtime:
        yield runtime


async def test_a_wait_that_gives_up_does_not_deafen_another_wait_of_the_same_run(
    slow_polling: Podium,
) -> None:
    flow = (
        FlowBuilder("slow")
        .python("nap", nodes.slow_visit)  # 0.2 s
        .output("out")
        .chain("nap", "out")
        .build()
    )
    handle = await slow_polling.start(flow, {})
    patient = asyncio.create_task(slow_polling.wait(handle.run_id))
    impatient = await slow_polling.wait(handle.run_id, timeout=0.05)
    assert impatient.status in ("queued", "running")
    run = await asyncio.wait_for(patient, timeout=20)
    assert run.status == "succeeded"


def _chain() -> Any:
    return FlowBuilder("quick").python("a", nodes.visit).output("out").chain("a", "out").build()


async def _chain_flow_id(runtime: Podium) -> tuple[str, str]:
    """`(app_id, flow_id)` of the chain, registered in a fresh app."""
    app_id = await runtime.store.ensure_app("watch")
    flow = await runtime.register_flow(_chain(), app_id=app_id)
    return app_id, flow.id


class RunReader:
    """`RunWatch.until`'s read of one run, counting its reads."""

    def __init__(self, runtime: Podium, run_id: str) -> None:
        self.runtime, self.run_id, self.reads = runtime, run_id, 0

    async def __call__(self) -> tuple[str, RunRecord]:
        self.reads += 1
        run = await self.runtime.store.get_run(self.run_id)
        return run.status, run


async def test_a_run_watched_before_it_was_queued_is_not_missed_when_it_ends_first(
    database_url: str,
) -> None:
    # The run ends before `until` is called: the notification came to the watch meanwhile.
    settings = fast_settings(poll_seconds=60.0)
    async with Podium.open(database_url, settings=settings, migrate=False, workers=2) as runtime:
        app_id, flow_id = await _chain_flow_id(runtime)
        run_id = new_id("run")
        read = RunReader(runtime, run_id)
        with runtime.watching(run_id) as watch:
            await runtime.store.start_session(app_id, flow_id, {}, run_id=run_id)
            for _ in range(400):
                if (await runtime.store.get_run(run_id)).status == "succeeded":
                    break
                await asyncio.sleep(0.025)
            run = await asyncio.wait_for(watch.until(read, 30, queued=True), timeout=10)
        assert (run.id, run.status, read.reads) == (run_id, "succeeded", 1)
        assert run_id not in runtime._run_waiters  # the watch is gone with its block


async def test_a_queued_watch_reads_once_at_its_timeout_when_nothing_came(
    database_url: str,
) -> None:
    settings = fast_settings(poll_seconds=60.0)
    async with Podium.open(database_url, settings=settings, migrate=False, workers=0) as runtime:
        app_id, flow_id = await _chain_flow_id(runtime)
        run_id = new_id("run")
        with runtime.watching(run_id) as watch:
            await runtime.store.start_session(app_id, flow_id, {}, run_id=run_id)
            run = await watch.until(RunReader(runtime, run_id), 0.2, queued=True)
        assert run.status == "queued"


async def test_a_session_wait_follows_its_own_run_when_another_is_queued_on_the_session(
    database_url: str,
) -> None:
    # The view's latest run is then the other one (still queued): the wait reads its own run
    # and answers once that has ended, not at the timeout.
    settings = fast_settings(poll_seconds=60.0)
    async with Podium.open(database_url, settings=settings, migrate=False, workers=0) as runtime:
        sessions = SessionService(runtime)
        await sessions.open()
        app_id = await runtime.store.ensure_app("watch")
        await runtime.register_flow(_chain(), app_id=app_id)
        waiting = asyncio.create_task(
            sessions.create_session(app_id, "quick", {}, metadata=None, user_id=None, wait=30)
        )
        runs: list[RunRecord] = []
        for _ in range(400):
            runs = await runtime.store.list_runs(app_id=app_id)
            if runs:
                break
            await asyncio.sleep(0.025)
        first = runs[0]
        second = await runtime.store.enqueue_run(first.session_id, {}, strategy="enqueue")
        await runtime.store.cancel_run(first.id)
        view = await asyncio.wait_for(waiting, timeout=10)
        assert view.session.id == first.session_id
        assert view.run is not None and (view.run.id, view.run.status) == (second, "queued")
        assert (await runtime.store.get_run(first.id)).status == "cancelled"
