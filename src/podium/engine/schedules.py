"""Schedules' cron arithmetic and their firing (docs/schedules.md).

A schedule is a cron expression (five fields, or `@hourly`, `@daily`…) read in a time zone.
The workers' loop calls `fire_due(store, now)` every `PODIUM_SCHEDULE_POLL_SECONDS`: for
each schedule whose due time has come it fires the latest due time that has come (the ones
before it, passed while no worker ran, are counted as `missed`, not fired) and moves the
schedule on to its first due time after `now`, in one transaction that only one process can
win (`podium.storage.schedules.fire_schedule`). `now` comes from the caller, so that tests
drive a clock of their own.
"""

from __future__ import annotations

import itertools
import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from podium.errors import ScheduleInvalid
from podium.storage import schedules as tx
from podium.storage.store import Store

log = logging.getLogger("podium.schedules")

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# Due times passed while no worker ran: at most this many are counted one by one.
MAX_CATCH_UP = 10_000
# How many coming due times the minimum interval is checked over.
INTERVAL_SAMPLE = 24
# How many schedules one sweep fires at most (the rest at the next sweep).
SWEEP_LIMIT = 100


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (`Europe/Paris`, `UTC`); ScheduleInvalid otherwise."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalid(
            f"timezone {name!r} is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris', "
            "'America/New_York')",
            details={"field": "timezone"},
        ) from None


def _iterator(cron: str, zone: ZoneInfo, after: float) -> croniter:
    return croniter(cron, datetime.fromtimestamp(after, zone))


def check_cron(cron: str) -> str:
    """The expression, normalized (single spaces); ScheduleInvalid unless it has five fields
    (minute hour day-of-month month day-of-week) or is one of the `@` aliases."""
    text = " ".join(cron.split())
    fields = text.split(" ")
    if text.lower() in ALIASES:
        return text.lower()
    if len(fields) != 5 or not croniter.is_valid(text):
        raise ScheduleInvalid(
            f"cron {cron!r} is not a cron expression of five fields (minute hour day-of-month "
            "month day-of-week, e.g. '*/15 * * * *' or '0 9 * * mon-fri') or one of "
            f"{', '.join(ALIASES)}",
            details={"field": "cron"},
        )
    return text


def next_times(cron: str, zone_name: str, after: float, count: int) -> list[float]:
    """The next `count` due times strictly after `after` (Unix times)."""
    iterator = _iterator(cron, time_zone(zone_name), after)
    return [float(iterator.get_next(float)) for _ in range(count)]


def check_interval(cron: str, zone_name: str, now: float, minimum: float) -> None:
    """ScheduleInvalid when two of the coming due times are closer than `minimum` seconds."""
    times = next_times(cron, zone_name, now, INTERVAL_SAMPLE)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    if gaps and min(gaps) < minimum:
        raise ScheduleInvalid(
            f"cron {cron!r} fires every {min(gaps):g} seconds at times; the server's minimum "
            f"interval is {minimum:g} seconds (PODIUM_SCHEDULE_MIN_INTERVAL_SECONDS)",
            details={"field": "cron"},
        )


def plan(due: tx.DueSchedule, now: float) -> tuple[float, float, int]:
    """`(fire_at, next_fire_at, missed)` for a due schedule at `now`: the latest due time
    that has come, the first one after `now`, and how many came before the one fired."""
    zone = time_zone(due.timezone)
    iterator = _iterator(due.cron, zone, due.next_fire_at)
    fire_at, missed = due.next_fire_at, 0
    following = float(iterator.get_next(float))
    while following <= now and missed < MAX_CATCH_UP:
        fire_at, missed = following, missed + 1
        following = float(iterator.get_next(float))
    if following <= now:  # a very long stop: go on from now
        following = float(_iterator(due.cron, zone, now).get_next(float))
    return fire_at, following, missed


async def fire_due(store: Store, now: float) -> list[str]:
    """Fire the schedules due at `now` (the schedules' clock) that no other process fires
    first; the outcomes. Sessions, runs and events are stamped with the wall clock."""
    return await fire(store, await read_due(store, now), now)


async def read_due(store: Store, now: float) -> list[tx.DueSchedule]:
    """The schedules due at `now` (another process may fire them before this one does)."""
    due: list[tx.DueSchedule] = await store.run_read(lambda: tx.due_schedules(now, SWEEP_LIMIT))
    return due


async def fire(store: Store, due: list[tx.DueSchedule], now: float) -> list[str]:
    """Fire each schedule of `due` whose due time no one has fired since it was read."""
    outcomes: list[str] = []
    for schedule in due:
        try:
            fire_at, following, missed = plan(schedule, now)
            fired = await store.run_script(
                lambda s=schedule, f=fire_at, n=following, m=missed: tx.fire_schedule(  # type: ignore[misc]
                    s, f, n, m, time.time()
                )
            )
        except Exception:  # pragma: no cover - logged; the other schedules still fire
            log.exception("firing schedule %s failed", schedule.id)
            continue
        if fired is None:  # another process fired it first, or it changed meanwhile
            continue
        outcome, events = fired
        store._published(events)
        outcomes.append(outcome)
    return outcomes
