"""Schedules (docs/schedules.md) on every backend, with a clock the test moves: each due time
fires once, across a restart and with two worker processes sweeping at once; the overlap
policies; pause and resume; bad expressions, time zones and flows are refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podium import FlowBuilder, Podium
from podium.config import Settings
from podium.engine import schedules as cron
from podium.engine.worker import Worker
from podium.errors import Conflict, ScheduleInvalid
from podium.events import names
from podium.sessions.schedules import ScheduleService, ScheduleSpec
from podium.sessions.service import SessionService
from podium.storage.store import Store
from support import nodes

SUPPORT = Path(__file__).resolve().parents[1] / "support"
T0 = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()
# Enough schedules that the two processes' sweeps of a due time overlap.
SCHEDULES = 12


def at(hhmm: str, day: int = 1) -> float:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(2026, 1, day, hours, minutes, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def opened(
    url: str, settings: Settings, clock: Clock
) -> AsyncIterator[tuple[Podium, ScheduleService, Worker]]:
    """A process's view: a runtime with no worker slots, its schedules and a sweeper."""
    async with Podium.open(url, settings=settings, migrate=False, workers=0) as podium:
        sessions = SessionService(podium)
        await sessions.open()
        yield podium, ScheduleService(sessions, clock), Worker(podium.store, settings, clock=clock)


async def fired(store: Store, app_id: str) -> list[dict[str, Any]]:
    events = await store.read_events(app_id, limit=1000)
    return [event.data for event in events if event.type == names.SCHEDULE_FIRED]


async def setup_app(podium: Podium) -> str:
    app_id = await podium.store.ensure_app("sched")
    flow = FlowBuilder("tick", reducers={"visited": "append"}).python("a", nodes.visit).build()
    await podium.register_flow(flow, app_id=app_id)
    return app_id


async def test_each_due_time_fires_once_across_a_restart(
    database_url: str, settings: Settings
) -> None:
    clock = Clock(T0)
    async with opened(database_url, settings, clock) as (podium, schedules, worker):
        app_id = await setup_app(podium)
        schedule = await schedules.create(
            app_id,
            ScheduleSpec(
                name="every5", flow="tick", input={"n": 1}, cron="*/5 * * * *", overlap="enqueue"
            ),
        )
        assert schedule.next_fire_at == at("00:05")
        assert await worker.fire_schedules() == []  # not due yet
        clock.now = at("00:05")
        assert await worker.fire_schedules() == ["started"]
        assert await worker.fire_schedules() == []  # the same due time again: nothing
    # A restart: a new process (store) reads where the schedule is.
    clock.now = at("00:05") + 10
    async with opened(database_url, settings, clock) as (podium, schedules, worker):
        assert await worker.fire_schedules() == []
        clock.now = at("00:10") + 1
        assert await worker.fire_schedules() == ["enqueued"]  # the first run is still queued
        # Stopped from 00:10 to 00:32: 00:30 fires, 00:15, 00:20, 00:25 are counted missed.
        clock.now = at("00:32")
        assert await worker.fire_schedules() == ["enqueued"]
        record = await schedules.get(app_id, schedule.id)
        assert record.next_fire_at == at("00:35") and record.fires == 3
        events = await fired(podium.store, app_id)
        assert [(e["due_at"], e["missed"]) for e in events] == [
            (at("00:05"), 0),
            (at("00:10"), 0),
            (at("00:30"), 3),
        ]
        runs = await podium.store.list_runs(app_id=app_id)
        assert len(runs) == 3 and {run.session_id for run in runs} == {record.session_id}
        assert all(run.input == {"n": 1} for run in runs)


async def test_overlap_policies(database_url: str, settings: Settings) -> None:
    clock = Clock(T0)
    async with opened(database_url, settings, clock) as (podium, schedules, worker):
        app_id = await setup_app(podium)
        created = {}
        for policy in ("skip", "enqueue", "cancel_previous"):
            spec = ScheduleSpec(name=policy, flow="tick", cron="* * * * *", overlap=policy)
            created[policy] = await schedules.create(app_id, spec)
        for minute in (1, 2, 3):  # no worker runs them: each first run stays queued
            clock.now = at(f"00:0{minute}")
            await worker.fire_schedules()
        outcomes: dict[str, list[str]] = {}
        for event in await fired(podium.store, app_id):
            outcomes.setdefault(event["name"], []).append(event["outcome"])
        assert outcomes == {
            "skip": ["started", "skipped", "skipped"],
            "enqueue": ["started", "enqueued", "enqueued"],
            "cancel_previous": ["started", "cancelled_previous", "cancelled_previous"],
        }
        for policy, statuses in (
            ("skip", ["queued"]),
            ("enqueue", ["queued", "queued", "queued"]),
            ("cancel_previous", ["cancelled", "cancelled", "queued"]),
        ):
            record = await schedules.get(app_id, created[policy].id)
            runs = await podium.store.list_runs(app_id=app_id, limit=100)
            mine = sorted(
                (run for run in runs if run.session_id == record.session_id),
                key=lambda run: run.created_at,
            )
            assert [run.status for run in mine] == statuses, policy
        # Once the previous run has ended, skip starts the next one.
        skip = await schedules.get(app_id, created["skip"].id)
        assert skip.last_run_id is not None
        await podium.store.cancel_run(skip.last_run_id)
        clock.now = at("00:04")
        await worker.fire_schedules()
        assert (await schedules.get(app_id, skip.id)).last_outcome == "started"


async def test_pause_resume_and_preview(database_url: str, settings: Settings) -> None:
    clock = Clock(T0)
    async with opened(database_url, settings, clock) as (podium, schedules, worker):
        app_id = await setup_app(podium)
        spec = ScheduleSpec(name="nine", flow="tick", cron="0 9 * * *", timezone="Europe/Paris")
        schedule = await schedules.create(app_id, spec)
        # 09:00 in Paris is 08:00 UTC in winter.
        assert await schedules.preview(app_id, schedule.id, 2) == [at("08:00"), at("08:00", 2)]
        paused = await schedules.set_paused(app_id, schedule.id, True)
        assert paused.paused and paused.next_fire_at is None
        clock.now = at("08:00", 3)
        assert await worker.fire_schedules() == []
        resumed = await schedules.set_paused(app_id, schedule.id, False)
        assert resumed.next_fire_at == at("08:00", 4)  # the time passed while paused is not fired
        clock.now = at("08:00", 4)
        assert await worker.fire_schedules() == ["started"]


async def test_a_due_time_read_by_two_sweepers_fires_once(
    database_url: str, settings: Settings
) -> None:
    """Two processes (two stores) read the same due schedules before either fires: the
    conditional update lets one of them fire each due time, the other changes nothing."""
    clock = Clock(T0)
    async with opened(database_url, settings, clock) as (podium, schedules, _):
        app_id = await setup_app(podium)
        for name in ("a", "b"):
            await schedules.create(app_id, ScheduleSpec(name=name, flow="tick", cron="@hourly"))
        async with opened(database_url, settings, clock) as (other, _, _):
            clock.now = at("01:00")
            mine = await cron.read_due(podium.store, clock.now)
            theirs = await cron.read_due(other.store, clock.now)
            assert len(mine) == len(theirs) == 2
            assert await cron.fire(podium.store, mine[:1], clock.now) == ["started"]
            assert await cron.fire(other.store, theirs, clock.now) == ["started"]  # only b
            assert await cron.fire(podium.store, mine, clock.now) == []
        events = await fired(podium.store, app_id)
        assert sorted(e["name"] for e in events) == ["a", "b"]


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"cron": "every day"}, "cron", "is not a cron expression"),
        ({"cron": "0 9 * * * *"}, "cron", "five fields"),
        ({"cron": "61 * * * *"}, "cron", "is not a cron expression"),
        ({"timezone": "Mars/Olympus"}, "timezone", "is not an IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "is not an IANA time zone"),
        ({"flow": "nope"}, "flow", "no flow named 'nope'"),
        ({"overlap": "sometimes"}, "overlap", "overlap 'sometimes' is unknown"),
        ({"cron": "* * * * *", "name": "fast"}, "cron", None),  # allowed: 60 s
        ({"input": {"blob": "x" * 70_000}}, "input", "the server's cap is 65536"),
    ],
)
async def test_bad_schedules_are_refused(
    database_url: str, settings: Settings, spec: dict[str, Any], field: str, says: str | None
) -> None:
    async with opened(database_url, settings, Clock(T0)) as (podium, schedules, _):
        app_id = await setup_app(podium)
        values = {"name": "bad", "flow": "tick", "cron": "*/5 * * * *", **spec}
        if says is None:
            assert (await schedules.create(app_id, ScheduleSpec(**values))).id
            return
        with pytest.raises(ScheduleInvalid, match=says.replace("(", r"\(")) as caught:
            await schedules.create(app_id, ScheduleSpec(**values))
        assert caught.value.details == {"field": field}
        assert await schedules.list_all(app_id) == []


async def test_server_caps(database_url: str) -> None:
    settings = Settings(
        poll_seconds=0.05, schedule_max_per_app=2, schedule_min_interval_seconds=3600
    )
    async with opened(database_url, settings, Clock(T0)) as (podium, schedules, _):
        app_id = await setup_app(podium)
        with pytest.raises(ScheduleInvalid, match="minimum interval is 3600 seconds"):
            await schedules.create(app_id, ScheduleSpec(name="a", flow="tick", cron="*/5 * * * *"))
        for name in ("a", "b"):
            await schedules.create(app_id, ScheduleSpec(name=name, flow="tick", cron="@hourly"))
        with pytest.raises(Conflict, match="already has a schedule named 'a'"):
            await schedules.create(app_id, ScheduleSpec(name="a", flow="tick", cron="@daily"))
        with pytest.raises(Conflict, match="PODIUM_SCHEDULE_MAX_PER_APP=2"):
            await schedules.create(app_id, ScheduleSpec(name="c", flow="tick", cron="@daily"))


def _set_clock(path: Path, now: float) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(repr(now))
    os.replace(temporary, path)


async def _schedules_of_the_race(url: str, settings: Settings) -> str:
    async with opened(url, settings, Clock(T0)) as (podium, schedules, _):
        app_id = await setup_app(podium)
        for index in range(SCHEDULES):
            spec = ScheduleSpec(name=f"s{index}", flow="tick", cron="* * * * *", overlap="enqueue")
            await schedules.create(app_id, spec)
        return app_id


async def _fired_and_counts(
    url: str, settings: Settings, app_id: str
) -> tuple[list[dict[str, Any]], list[int]]:
    async with opened(url, settings, Clock(T0)) as (podium, schedules, _):
        records = await schedules.list_all(app_id)
        return await fired(podium.store, app_id), [record.fires for record in records]


def test_two_worker_processes_fire_each_due_time_once(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    """Two `Worker` processes sweep the same database with the same clock, every 20 ms."""
    app_id = asyncio.run(_schedules_of_the_race(database_url, settings))
    clock_file = tmp_path / "clock"
    _set_clock(clock_file, T0)
    env = {
        **os.environ,
        "PODIUM_SCHEDULE_POLL_SECONDS": "0.02",
        "PODIUM_POLL_SECONDS": "0.05",
        "PYTHONPATH": str(SUPPORT.parent),
    }
    command = [sys.executable, str(SUPPORT / "schedule_worker.py"), database_url, str(clock_file)]
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    due_times = [at(f"00:0{minute}") for minute in range(1, 7)]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for due in due_times:
            _set_clock(clock_file, due + 0.5)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                events, _ = asyncio.run(_fired_and_counts(database_url, settings, app_id))
                if sum(1 for e in events if e["due_at"] == due) >= SCHEDULES:
                    break
                time.sleep(0.05)
            time.sleep(0.15)  # both processes sweep this due time again meanwhile
    finally:
        (tmp_path / "clock.stop").write_text("")
        for worker in workers:
            worker.wait(20)
            assert worker.stdout is not None
            worker.stdout.close()
    assert all(worker.returncode == 0 for worker in workers)
    events, counts = asyncio.run(_fired_and_counts(database_url, settings, app_id))
    pairs = sorted((e["name"], e["due_at"]) for e in events)
    expected = sorted((f"s{index}", due) for index in range(SCHEDULES) for due in due_times)
    assert pairs == expected  # each schedule, each due time, exactly once
    assert counts == [len(due_times)] * SCHEDULES
