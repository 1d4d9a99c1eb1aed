"""SQLite: a store tells its listeners what other processes committed to the same file.

Two stores on one file stand for two processes. The watcher's tick is `check_others()`; here
the interval is 60 s so that only the explicit calls below tick, and what each one announces
is exact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conftest import fast_settings
from podium.engine.flow import Flow
from podium.engine.runtime import Podium
from podium.storage.sqlite import SQLiteStore

FLOW = Flow.model_validate(
    {
        "name": "f",
        "nodes": [{"id": "a", "type": "output"}, {"id": "b", "type": "output"}],
        "edges": [{"source": "a", "target": "b"}],
    }
)
MANUAL = fast_settings(sqlite_watch_seconds=60.0, poll_seconds=30.0)


def heard(store: Any) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    store.add_remote_listener(lambda channel, payload: got.append((channel, payload)))
    return got


async def test_another_stores_runs_are_announced_and_its_own_are_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    async with (
        Podium.open(url, settings=MANUAL, workers=1) as here,
        Podium.open(url, settings=MANUAL, migrate=False, workers=0) as other,
    ):
        assert isinstance(here.store, SQLiteStore)
        here_heard, other_heard = heard(here.store), heard(other.store)
        # A run queued and executed by `here`: its own, nothing to announce to itself.
        handle = await here.start(FLOW, {})
        assert (await here.wait(handle.run_id, timeout=10)).status == "succeeded"
        here.store.check_others()
        assert here_heard == []
        # `other` did not write it: the app's events, the run that ended, and the queued run.
        other.store.check_others()
        app_id = await here.default_app()
        last = (await other.store.read_events(app_id, after=0, limit=100))[-1].seq
        assert other_heard == [
            ("events", {"app_id": app_id, "last_seq": last, "ended": [handle.run_id]}),
            ("runs", {}),
        ]
        # Nothing new: nothing announced again.
        other.store.check_others()
        assert len(other_heard) == 2
        # `other` queues a run (it has no worker slot): `here` hears of it, `other` does not.
        queued = await other.start(FLOW, {})
        here.store.check_others()
        other.store.check_others()
        assert [channel for channel, _ in here_heard] == ["events", "runs"]
        assert here_heard[0][1]["ended"] == []
        assert len(other_heard) == 2
        # `here`'s worker, woken by that announcement (its own poll is 30 s), runs it; its
        # events are `here`'s own, and `other` hears the run end.
        assert (await here.wait(queued.run_id, timeout=10)).status == "succeeded"
        other.store.check_others()
        assert other_heard[-1][1]["ended"] == [queued.run_id]


async def test_a_worker_store_hears_of_queued_runs_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    async with (
        Podium.open(url, settings=MANUAL, workers=0) as api,
        Podium.open(url, settings=MANUAL, migrate=False, workers=0) as worker,
    ):
        worker.store.remote_channels = frozenset({"runs"})
        got = heard(worker.store)
        await api.start(FLOW, {})
        worker.store.check_others()
        assert got == [("runs", {})]


async def test_the_watch_wakes_a_wait_in_another_store(tmp_path: Path) -> None:
    """With the default interval, a `/wait` in one store returns as soon as a run executed by
    another ends: its own poll (30 s) cannot explain it."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    watching = fast_settings(poll_seconds=30.0)
    async with (
        Podium.open(url, settings=watching, workers=0) as api,
        Podium.open(url, settings=watching, migrate=False, workers=1) as worker,
    ):
        assert watching.sqlite_watch_seconds == 0.01
        await asyncio.sleep(0.3)  # the worker's slot found nothing and sleeps (30 s)
        handle = await api.start(FLOW, {})
        run = await asyncio.wait_for(api.wait(handle.run_id), 5.0)
        assert run.status == "succeeded"
        assert worker.workers_running


async def test_no_watch_when_turned_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    off = fast_settings(sqlite_watch_seconds=0)
    async with Podium.open(url, settings=off, workers=0) as podium:
        assert isinstance(podium.store, SQLiteStore)
        assert podium.store._watcher is None


async def test_a_listener_that_raises_does_not_end_the_watch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    watching = fast_settings(poll_seconds=30.0)
    async with (
        Podium.open(url, settings=watching, workers=0) as here,
        Podium.open(url, settings=watching, migrate=False, workers=0) as other,
    ):
        got = heard(here.store)

        def broken(channel: str, payload: dict[str, Any]) -> None:
            raise RuntimeError("a listener's bug")

        here.store.add_remote_listener(broken)
        for count in (1, 2):  # the second is heard only if the first did not end the watch
            await other.start(FLOW, {})
            for _ in range(500):
                if len([c for c, _ in got if c == "runs"]) == count:
                    break
                await asyncio.sleep(0.01)
            assert len([c for c, _ in got if c == "runs"]) == count, got
