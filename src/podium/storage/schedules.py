"""Transactions of schedules (docs/schedules.md): create, read, change, pause, resume,
delete, and fire a due time once.

Firing claims the due time with a conditional update (`WHERE next_fire_at = <the due time
read>`): of several processes that read the same due schedule, one moves it on and starts the
run in the same transaction; the others change nothing. The cron arithmetic (the next due
time) is the caller's (`podium.engine.schedules`): these scripts store what they are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import Conflict, NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.ids import new_id
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one
from podium.storage.transactions import ACTIVE, append_events, enqueue_run, find_flow, start_session

OVERLAP_POLICIES = ("skip", "enqueue", "cancel_previous")


@dataclass(slots=True)
class ScheduleRecord:
    id: str
    app_id: str
    name: str
    flow: str
    flow_app_id: str
    input: dict[str, Any]
    cron: str
    timezone: str
    overlap: str
    paused: bool
    next_fire_at: float | None
    last_fire_at: float | None
    last_run_id: str | None
    last_outcome: str | None
    session_id: str | None
    fires: int
    created_at: float
    updated_at: float


@dataclass(slots=True, frozen=True)
class DueSchedule:
    """What a sweeper needs to compute the due time it fires and the next one."""

    id: str
    cron: str
    timezone: str
    next_fire_at: float


def _record(row: Row) -> ScheduleRecord:
    return ScheduleRecord(
        id=row["id"],
        app_id=row["app_id"],
        name=row["name"],
        flow=row["flow"],
        flow_app_id=row["flow_app_id"],
        input=loads(row["input"]),
        cron=row["cron"],
        timezone=row["timezone"],
        overlap=row["overlap"],
        paused=bool(row["paused"]),
        next_fire_at=row["next_fire_at"],
        last_fire_at=row["last_fire_at"],
        last_run_id=row["last_run_id"],
        last_outcome=row["last_outcome"],
        session_id=row["session_id"],
        fires=row["fires"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def create_schedule(record: ScheduleRecord, max_per_app: int) -> Script:
    """Store a new schedule; Conflict when the app has one of that name or has its cap."""
    taken = yield one(
        "SELECT id FROM schedules WHERE app_id = ? AND name = ?", record.app_id, record.name
    )
    if taken is not None:
        raise Conflict(
            f"this app already has a schedule named {record.name!r}; PATCH it or pick another name",
            details={"field": "name", "schedule_id": taken["id"]},
        )
    count = yield one("SELECT COUNT(*) AS n FROM schedules WHERE app_id = ?", record.app_id)
    if count["n"] >= max_per_app:
        raise Conflict(
            f"this app has {count['n']} schedules, the server's cap "
            f"(PODIUM_SCHEDULE_MAX_PER_APP={max_per_app}); delete one first",
            details={"field": "name"},
        )
    record.id = new_id("sch")
    yield execute(
        "INSERT INTO schedules (id, app_id, name, flow, flow_app_id, input, cron, timezone, "
        "overlap, paused, next_fire_at, fires, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        record.id,
        record.app_id,
        record.name,
        record.flow,
        record.flow_app_id,
        Json(record.input),
        record.cron,
        record.timezone,
        record.overlap,
        record.paused,
        record.next_fire_at,
        record.created_at,
        record.updated_at,
    )
    return record


def list_schedules(app_id: str) -> Script:
    rows = yield all_rows("SELECT * FROM schedules WHERE app_id = ? ORDER BY name", app_id)
    return [_record(row) for row in rows]


def get_schedule(app_id: str, schedule_id: str) -> Script:
    """The app's schedule (another app's is not found, as one that does not exist)."""
    row = yield one("SELECT * FROM schedules WHERE id = ? AND app_id = ?", schedule_id, app_id)
    if row is None:
        raise NotFound(f"schedule {schedule_id!r} does not exist; GET /schedules lists them")
    return _record(row)


def save_schedule(record: ScheduleRecord) -> Script:
    """Write a changed schedule (its name, flow, input, cron, time zone, overlap policy,
    paused and next due time)."""
    if record.name:
        taken = yield one(
            "SELECT id FROM schedules WHERE app_id = ? AND name = ? AND id <> ?",
            record.app_id,
            record.name,
            record.id,
        )
        if taken is not None:
            raise Conflict(
                f"this app already has a schedule named {record.name!r}",
                details={"field": "name", "schedule_id": taken["id"]},
            )
    changed = yield execute(
        "UPDATE schedules SET name = ?, flow = ?, flow_app_id = ?, input = ?, cron = ?, "
        "timezone = ?, overlap = ?, paused = ?, next_fire_at = ?, updated_at = ? "
        "WHERE id = ? AND app_id = ?",
        record.name,
        record.flow,
        record.flow_app_id,
        Json(record.input),
        record.cron,
        record.timezone,
        record.overlap,
        record.paused,
        record.next_fire_at,
        record.updated_at,
        record.id,
        record.app_id,
    )
    if not changed:
        raise NotFound(f"schedule {record.id!r} does not exist; GET /schedules lists them")
    return record


def delete_schedule(app_id: str, schedule_id: str) -> Script:
    changed = yield execute(
        "DELETE FROM schedules WHERE id = ? AND app_id = ?", schedule_id, app_id
    )
    if not changed:
        raise NotFound(f"schedule {schedule_id!r} does not exist; GET /schedules lists them")
    return None


def due_schedules(now: float, limit: int) -> Script:
    """The schedules whose next due time has come, earliest first."""
    rows = yield all_rows(
        "SELECT id, cron, timezone, next_fire_at FROM schedules WHERE paused = ? AND "
        "next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
        False,
        now,
        limit,
    )
    return [DueSchedule(r["id"], r["cron"], r["timezone"], r["next_fire_at"]) for r in rows]


def fire_schedule(
    due: DueSchedule, fire_at: float, next_fire_at: float, missed: int, now: float
) -> Script:
    """Fire the due time `fire_at` (the latest one that has come; `missed` earlier ones are
    passed over) and move the schedule on to `next_fire_at`, only if no one else did since
    `due` was read; returns `(outcome, events)`, or None when another process fired it (or
    the schedule was paused, changed or deleted meanwhile)."""
    row = yield one(
        "UPDATE schedules SET next_fire_at = ?, last_fire_at = ?, fires = fires + 1, "
        "updated_at = ? WHERE id = ? AND next_fire_at = ? AND paused = ? RETURNING *",
        next_fire_at,
        fire_at,
        now,
        due.id,
        due.next_fire_at,
        False,
    )
    if row is None:
        return None
    schedule = _record(row)
    app_id = schedule.app_id
    events: list[Event] = []
    run_id: str | None = None
    session_id = schedule.session_id
    error: str | None = None
    flow = yield from find_flow(schedule.flow_app_id, schedule.flow)
    if flow is None:
        outcome = "failed"
        error = f"no flow named {schedule.flow!r} any more"
    elif session_id is None:
        metadata = {"schedule_id": schedule.id, "schedule": schedule.name}
        session_id, run_id, events = yield from start_session(
            app_id, flow.id, schedule.input, metadata, None, None, now
        )
        outcome = "started"
    else:
        active = yield all_rows(
            f"SELECT id FROM runs WHERE session_id = ? AND status IN ({ACTIVE})", session_id
        )
        if active and schedule.overlap == "skip":
            outcome = "skipped"
        else:
            cancel = schedule.overlap == "cancel_previous"
            strategy = "interrupt" if cancel else "enqueue"
            run_id, events = yield from enqueue_run(
                session_id, schedule.input, {"flow_id": flow.id}, strategy, now, app_id
            )
            outcome = "started" if not active else "cancelled_previous" if cancel else "enqueued"
    yield execute(
        "UPDATE schedules SET session_id = ?, last_run_id = COALESCE(?, last_run_id), "
        "last_outcome = ? WHERE id = ?",
        session_id,
        run_id,
        outcome,
        schedule.id,
    )
    data: dict[str, Any] = {
        "schedule_id": schedule.id,
        "name": schedule.name,
        "due_at": fire_at,
        "outcome": outcome,
        "missed": missed,
    }
    if error is not None:
        data["error"] = error
    fired = Event(names.SCHEDULE_FIRED, app_id, session_id, run_id, data)
    events += yield from append_events(app_id, [fired], now)
    return outcome, events
