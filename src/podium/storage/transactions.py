"""The engine's transactions, written once as scripts (see `script.py`) for every backend."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

from podium.errors import Conflict, InvalidInput, LeaseLost, NotFound, RunCancelled
from podium.events import names
from podium.events.envelope import Event
from podium.ids import new_id, step_id
from podium.storage.event_bounds import run_url, within_cap
from podium.storage.event_refs import EVENTS_READ, REFERENCE, hydrate, reference
from podium.storage.records import (
    ACTIVE_RUN_STATUSES,
    FlowRecord,
    InterruptRecord,
    RunRecord,
    SessionRecord,
    StepCommit,
    StepCommitted,
    StepRecord,
)
from podium.storage.script import (
    Json,
    Row,
    Script,
    all_rows,
    dialect,
    execute,
    loads,
    many,
    one,
)

# A run row's columns are RunRecord's fields in order: `run_record` reads a row by position.
RUN_COLUMNS = ", ".join(field.name for field in fields(RunRecord))
SESSION_STATUS = {
    "queued": "active",
    "running": "active",
    "interrupted": "waiting",
    "paused": "waiting",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
MULTITASK_STRATEGIES = ("reject", "enqueue", "interrupt")
# For SQL: `status IN (ACTIVE)` (the statuses are fixed words, not user input).
ACTIVE = ", ".join(f"'{status}'" for status in ACTIVE_RUN_STATUSES)
# A status that a worker's write turns into `paused` when the run was asked to pause meanwhile.
PAUSE_WINS = "CASE WHEN status = 'pausing' THEN 'paused' ELSE ? END"
PAUSE_KEEPS_QUEUED_AT = "CASE WHEN status = 'pausing' THEN queued_at ELSE ? END"


def run_record(row: Row) -> RunRecord:
    """A run from a row that selected RUN_COLUMNS (read by position: cheaper than by name)."""
    run_id, app_id, session_id, flow_id, status, given, options, progress, output, *rest = row
    return RunRecord(
        run_id,
        app_id,
        session_id,
        flow_id,
        status,
        loads(given),
        loads(options),
        loads(progress),
        loads(output),
        *rest,
    )


def flow_record(row: Row) -> FlowRecord:
    return FlowRecord(
        id=row["id"],
        app_id=row["app_id"],
        name=row["name"],
        version=row["version"],
        definition=loads(row["definition"]),
        base_path=row["base_path"],
        created_at=row["created_at"],
    )


def session_record(row: Row) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        app_id=row["app_id"],
        flow_id=row["flow_id"],
        user_id=row["user_id"],
        status=row["status"],
        state=loads(row["state"]),
        metadata=loads(row["metadata"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def interrupt_record(row: Row) -> InterruptRecord:
    return InterruptRecord(
        id=row["id"],
        app_id=row["app_id"],
        run_id=row["run_id"],
        session_id=row["session_id"],
        node_id=row["node_id"],
        iteration=row["iteration"],
        call_key=row["call_key"],
        question=row["question"],
        choices=loads(row["choices"]),
        schema=loads(row["schema"]),
        status=row["status"],
        answer=loads(row["answer"]),
        created_at=row["created_at"],
        answered_at=row["answered_at"],
        kind=row["kind"] or "question",
        artifact_id=row["artifact_id"],
    )


def step_record(row: Row) -> StepRecord:
    return StepRecord(
        id=step_id(row["run_id"], row["n"]),
        run_id=row["run_id"],
        node_id=row["node_id"],
        iteration=row["iteration"],
        attempt=row["attempt"],
        status=row["status"],
        output=loads(row["output"]),
        error=row["error"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        number=row["n"],
    )


# PostgreSQL's append: the app's next seqs and the insert in one round trip.
APPEND_POSTGRES = (
    "WITH a AS (UPDATE apps SET last_seq = last_seq + ?::bigint WHERE id = ? "
    "RETURNING last_seq, num), w AS (INSERT INTO events (app_num, seq, type, session_id, "
    "run_id, ts, data, step) SELECT a.num, a.last_seq - ?::bigint + t.i, t.type, t.session_id, "
    "t.run_id, ?::float8, t.data::jsonb, t.step FROM a, unnest(?::text[], ?::text[], "
    "?::text[], ?::text[], ?::int[]) WITH ORDINALITY AS t(type, session_id, run_id, data, "
    "step, i) RETURNING seq) SELECT MAX(seq) AS last_seq FROM w"
)


def append_events(
    app_id: str,
    events: list[Event],
    now: float,
    steps: list[StepRecord] | None = None,
    dialect_name: str | None = None,
) -> Script:
    """Give `events` the app's next seqs and write them; returns them with seq, id, ts.

    `steps`, written in the same transaction: a `node.completed` event that its step gives
    back whole is stored as a reference to it (`podium.storage.event_refs`); the events
    returned keep their whole data. `dialect_name`: the backend, when the caller knows it
    (else the script asks)."""
    if not events:
        return events
    by_number = {step.number: step for step in steps} if steps else None
    rows = []
    for event in events:
        event.ts, event.app_id = now, app_id
        step = reference(event, by_number) if by_number is not None else None
        if step is None:
            data: Any = Json(event.data)
            session_id = event.session_id
        else:  # a reference: the step and run rows hold the rest
            data, session_id = REFERENCE, None
        rows.append((event.type, session_id, event.run_id, data, step))
    if (dialect_name or (yield dialect())) == "postgresql":
        # One statement: the app's row (which orders its log) is locked from here to the
        # commit, so the seq is taken last and in the same round trip as the insert; every
        # other writer of the app waits for this transaction only as long as the commit.
        row = yield one(
            APPEND_POSTGRES,
            len(events),
            app_id,
            len(events),
            now,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3].dumps() for r in rows],
            [r[4] for r in rows],
        )
        if row is None or row["last_seq"] is None:
            raise NotFound(f"app {app_id!r} does not exist")
        seq = row["last_seq"] - len(events)
        for event in events:
            seq += 1
            event.seq = seq
        return events
    row = yield one(
        "UPDATE apps SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq, num",
        len(events),
        app_id,
    )
    if row is None:
        raise NotFound(f"app {app_id!r} does not exist")
    seq = row["last_seq"] - len(events)
    app_num = row["num"]
    values = []
    for event, (kind, session_id, run_id, data, step) in zip(events, rows, strict=True):
        seq += 1
        event.seq = seq
        values.append((app_num, seq, kind, session_id, run_id, now, data, step))
    yield many(
        "INSERT INTO events (app_num, seq, type, session_id, run_id, ts, data, step) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    )
    return events


# --- apps and flows -------------------------------------------------------------------


def ensure_app(name: str, now: float) -> Script:
    """The id of the app called `name`, created when it does not exist."""
    row = yield one("SELECT id FROM apps WHERE name = ?", name)
    if row is not None:
        return row["id"]
    app_id = new_id("app")
    yield execute(
        "INSERT INTO apps (id, name, last_seq, created_at) VALUES (?, ?, 0, ?)", app_id, name, now
    )
    return app_id


def save_flow(app_id: str, definition: dict[str, Any], base_path: str | None, now: float) -> Script:
    """Register a flow: a new version when its definition changed, else the latest one."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    checksum = hashlib.sha256(f"{text}\0{base_path}".encode()).hexdigest()
    name = definition["name"]
    latest = yield one(
        "SELECT * FROM flows WHERE app_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
        app_id,
        name,
    )
    if latest is not None and latest["checksum"] == checksum:
        return flow_record(latest)
    version = 1 if latest is None else latest["version"] + 1
    flow_id = new_id("flw")
    yield execute(
        "INSERT INTO flows (id, app_id, name, version, checksum, definition, base_path, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        flow_id,
        app_id,
        name,
        version,
        checksum,
        Json(definition),
        base_path,
        now,
    )
    return FlowRecord(flow_id, app_id, name, version, definition, base_path, now)


def get_flow(flow_id: str) -> Script:
    row = yield one("SELECT * FROM flows WHERE id = ?", flow_id)
    if row is None:
        raise NotFound(f"flow {flow_id!r} does not exist")
    return flow_record(row)


def find_flow(app_id: str, name: str) -> Script:
    """The newest version of the app's flow called `name`, or None."""
    row = yield one(
        "SELECT * FROM flows WHERE app_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
        app_id,
        name,
    )
    return None if row is None else flow_record(row)


def find_flow_id(app_id: str, name: str) -> Script:
    """The id of the newest version of the app's flow called `name`, or None."""
    row = yield one(
        "SELECT id FROM flows WHERE app_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
        app_id,
        name,
    )
    return None if row is None else row["id"]


# --- sessions and runs ----------------------------------------------------------------


def _insert_run(
    app_id: str,
    session_id: str,
    flow_id: str,
    run_input: dict[str, Any],
    options: dict[str, Any] | None,
    now: float,
    run_id: str | None = None,
) -> Script:
    run_id = run_id or new_id("run")
    yield execute(
        "INSERT INTO runs (id, app_id, session_id, flow_id, status, input, options, fence, "
        "steps_count, elapsed, created_at, queued_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, 0, "
        "0, ?, ?)",
        run_id,
        app_id,
        session_id,
        flow_id,
        Json(run_input),
        Json(options) if options else None,
        now,
        now,
    )
    return run_id


def start_session(
    app_id: str,
    flow_id: str,
    run_input: dict[str, Any],
    metadata: dict[str, Any] | None,
    user_id: str | None,
    options: dict[str, Any] | None,
    now: float,
    run_id: str | None = None,
) -> Script:
    """Create a session and queue its first run (`run_id`, or a new id); returns
    `(session_id, run_id, events)`."""
    session_id = new_id("ses")
    yield execute(
        "INSERT INTO sessions (id, app_id, flow_id, user_id, status, state, metadata, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 'active', '{}', ?, ?, ?)",
        session_id,
        app_id,
        flow_id,
        user_id,
        Json(metadata) if metadata else None,
        now,
        now,
    )
    run_id = yield from _insert_run(app_id, session_id, flow_id, run_input, options, now, run_id)
    events = yield from append_events(
        app_id,
        [
            Event(names.SESSION_CREATED, app_id, session_id, None, {"flow_id": flow_id}),
            Event(names.RUN_QUEUED, app_id, session_id, run_id, {"flow_id": flow_id}),
        ],
        now,
    )
    return session_id, run_id, events


def enqueue_run(
    session_id: str,
    run_input: dict[str, Any],
    options: dict[str, Any] | None,
    strategy: str,
    now: float,
    app_id: str | None = None,
) -> Script:
    """Queue another run on a session, following the multitask strategy when one is active."""
    if strategy not in MULTITASK_STRATEGIES:
        raise InvalidInput(
            f"multitask_strategy {strategy!r} is unknown (use {', '.join(MULTITASK_STRATEGIES)})"
        )
    session = yield one("SELECT id, app_id, flow_id FROM sessions WHERE id = ?", session_id)
    if session is None or (app_id is not None and session["app_id"] != app_id):
        raise NotFound(f"session {session_id!r} does not exist")
    active = yield all_rows(
        f"SELECT id FROM runs WHERE session_id = ? AND status IN ({ACTIVE})", session_id
    )
    events: list[Event] = []
    if active and strategy == "reject":
        raise Conflict(
            f"session {session_id!r} already has an active run {active[0]['id']}; wait for it, "
            "or use multitask_strategy enqueue or interrupt",
            details={"active_run_id": active[0]["id"]},
        )
    if strategy == "interrupt":
        for row in active:
            events += yield from cancel_events(row["id"], now, "interrupted by a newer run")
    app = session["app_id"]
    flow_id = (options or {}).get("flow_id") or session["flow_id"]
    run_id = yield from _insert_run(app, session_id, flow_id, run_input, options, now)
    yield execute(
        "UPDATE sessions SET status = 'active', updated_at = ? "
        "WHERE id = ? AND status <> 'waiting'",
        now,
        session_id,
    )
    events += yield from append_events(
        app, [Event(names.RUN_QUEUED, app, session_id, run_id, {"flow_id": flow_id})], now
    )
    return run_id, events


# `_fenced`'s statements by their SET clause (a handful of constant clauses).
_FENCED: dict[str, tuple[str, str]] = {}


def _fenced(run_id: str, fence: int, sets: str, *args: Any, keeps_status: bool = False) -> Script:
    """Update the run only while this worker still holds it (running, or asked to pause);
    returns its status as updated, raises LeaseLost otherwise.

    `keeps_status`: `sets` does not change the status, so a running run (nearly always) is
    updated by a statement without RETURNING, which SQLite makes with a temporary table.

    On PostgreSQL the update also locks the run row until the transaction ends.
    """
    statements = _FENCED.get(sets)
    if statements is None:
        where = f"UPDATE runs SET {sets} WHERE id = ? AND fence = ? AND status"
        statements = _FENCED[sets] = (
            f"{where} = 'running'",
            f"{where} IN ('running', 'pausing') RETURNING status",
        )
    if keeps_status and (yield execute(statements[0], *args, run_id, fence)):
        return "running"
    updated = yield one(statements[1], *args, run_id, fence)
    if updated is not None:
        return updated["status"]
    row = yield one("SELECT status, fence FROM runs WHERE id = ?", run_id)
    if row is not None and row["status"] == "cancelled":
        raise RunCancelled(f"run {run_id} was cancelled")
    raise LeaseLost(
        f"run {run_id}: this worker's lease (fence {fence}) was taken over; it stops writing"
    )


def renew_lease(run_id: str, fence: int, lease_until: float) -> Script:
    yield from _fenced(run_id, fence, "lease_until = ?", lease_until, keeps_status=True)


def record_call(
    run_id: str, fence: int, node_id: str, iteration: int, key: str, result: Any, now: float
) -> Script:
    """Write a finished call's result before the step goes on (DESIGN §3.10)."""
    yield from _fenced(run_id, fence, "fence = fence", keeps_status=True)
    yield execute(
        "INSERT INTO calls (run_id, node_id, iteration, key, result, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        run_id,
        node_id,
        iteration,
        key,
        Json(result),
        now,
    )


def commit_step(commit: StepCommit, now: float, dialect_name: str | None = None) -> Script:
    """The end of one or more steps (those that finished together) in one transaction: run
    progress, step rows, state, questions, events. Returns a `StepCommitted`.

    A run asked to pause (`pausing`) meanwhile is `paused` instead of waiting or queued; a run
    that succeeded or failed keeps that outcome. `run_status="paused"` (the executor stopped
    for a pause request) pauses the run only if the request still stands.
    """
    c = commit
    status = c.run_status
    events = list(c.events)
    if status == "interrupted" and not c.interrupts:
        pending = yield one(
            "SELECT id FROM interrupts WHERE run_id = ? AND status = 'pending' LIMIT 1", c.run_id
        )
        if pending is None:  # every question was answered while other branches ran
            status = "queued"
    if status is None:
        stored = yield from _fenced(
            c.run_id,
            c.fence,
            "progress = ?, steps_count = ?, elapsed = ?",
            Json(c.progress),
            c.steps_count,
            c.elapsed,
            keeps_status=True,
        )
        written = None
    elif status == "paused":
        # The request may have been withdrawn (resume of a pausing run): then it goes on.
        stored = yield from _fenced(
            c.run_id,
            c.fence,
            "progress = ?, steps_count = ?, elapsed = ?, "
            "available_at = CASE WHEN status = 'pausing' THEN ? ELSE available_at END, "
            "worker_id = CASE WHEN status = 'pausing' THEN NULL ELSE worker_id END, "
            "lease_until = CASE WHEN status = 'pausing' THEN NULL ELSE lease_until END, "
            "status = CASE WHEN status = 'pausing' THEN 'paused' ELSE status END",
            Json(c.progress),
            c.steps_count,
            c.elapsed,
            c.available_at,
        )
        written = "paused" if stored == "paused" else None
    else:
        ends = status in ("succeeded", "failed")  # an outcome wins over a pause request
        # Every SET expression sees the row as it was, so `status` in the CASEs is the old one.
        queued_at, new_status = ("?", "?") if ends else (PAUSE_KEEPS_QUEUED_AT, PAUSE_WINS)
        stored = yield from _fenced(
            c.run_id,
            c.fence,
            "progress = ?, steps_count = ?, elapsed = ?, output = ?, error = ?, ended_at = ?, "
            f"available_at = ?, queued_at = {queued_at}, worker_id = NULL, lease_until = NULL, "
            f"status = {new_status}",
            Json(c.progress),
            c.steps_count,
            c.elapsed,
            Json(c.run_output) if c.run_output is not None else None,
            c.run_error,
            now if ends else None,
            None if ends else c.available_at,
            now if status == "queued" else None,
            status,
        )
        written = stored
    if written is not None:
        data: dict[str, Any] = {}
        if written == "failed":
            data["error"] = c.run_error
        elif written == "succeeded":
            data["output"] = c.run_output
            if c.node_outputs is not None:
                data["outputs"] = c.node_outputs
        if c.retry is not None and written in ("queued", "paused", "interrupted"):
            data["retry"] = c.retry  # the node, attempt and error whose back-off it waits out
        kind = names.RUN_QUEUED if written == "queued" else names.RUN_ENDED[written]
        data = within_cap(data, c.max_event_bytes, run_url(c.app_id, c.run_id))
        events.append(Event(kind, c.app_id, c.session_id, c.run_id, data))
    if c.calls:
        yield many(
            "INSERT INTO calls (run_id, node_id, iteration, key, result, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (c.run_id, node, iteration, key, Json(result), now)
                for node, iteration, key, result in c.calls
            ],
        )
    if c.steps:
        yield many(
            "INSERT INTO steps (run_id, n, node_id, iteration, attempt, status, output, error, "
            "started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.run_id,
                    s.number,
                    s.node_id,
                    s.iteration,
                    s.attempt,
                    s.status,
                    Json(s.output, s.output_json) if s.output is not None else None,
                    s.error,
                    s.started_at,
                    s.ended_at,
                )
                for s in c.steps
            ],
        )
    if written is not None:
        session_status = SESSION_STATUS[written]
        if c.state_json is not None:
            yield execute(
                "UPDATE sessions SET state = ?, status = ?, updated_at = ? WHERE id = ?",
                c.state_json,
                session_status,
                now,
                c.session_id,
            )
        else:
            yield execute(
                "UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?",
                session_status,
                now,
                c.session_id,
            )
    elif c.state_json is not None:
        yield execute(
            "UPDATE sessions SET state = ?, updated_at = ? WHERE id = ?",
            c.state_json,
            now,
            c.session_id,
        )
    if c.interrupts:
        yield many(
            "INSERT INTO interrupts (id, app_id, run_id, session_id, node_id, iteration, call_key, "
            "question, choices, schema, status, created_at, kind, artifact_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            [
                (
                    i.id,
                    c.app_id,
                    c.run_id,
                    c.session_id,
                    i.node_id,
                    i.iteration,
                    i.call_key,
                    i.question,
                    Json(i.choices) if i.choices is not None else None,
                    Json(i.schema) if i.schema is not None else None,
                    now,
                    i.kind,
                    i.artifact_id,
                )
                for i in c.interrupts
            ],
        )
    written_events = yield from append_events(c.app_id, events, now, c.steps, dialect_name)
    return StepCommitted(written_events, written, stored == "pausing")


def cancel_events(run_id: str, now: float, reason: str) -> Script:
    """Cancel the run if it is still active (its pending questions and its session too);
    returns the events written (none when it had already ended)."""
    row = yield one(
        "UPDATE runs SET status = 'cancelled', fence = fence + 1, ended_at = ?, worker_id = NULL,"
        f" lease_until = NULL, error = ? WHERE id = ? AND status IN ({ACTIVE}) "
        "RETURNING app_id, session_id",
        now,
        reason,
        run_id,
    )
    if row is None:
        return []
    yield execute(
        "UPDATE interrupts SET status = 'cancelled' WHERE run_id = ? AND status = 'pending'",
        run_id,
    )
    yield execute(
        "UPDATE sessions SET status = 'cancelled', updated_at = ? WHERE id = ?",
        now,
        row["session_id"],
    )
    return (
        yield from append_events(
            row["app_id"],
            [
                Event(
                    names.RUN_CANCELLED,
                    row["app_id"],
                    row["session_id"],
                    run_id,
                    {"reason": reason},
                )
            ],
            now,
        )
    )


def pause_events(app_id: str, session_id: str, run_id: str, now: float) -> Script:
    """What follows a run becoming `paused`: its session waits, and `run.paused`."""
    yield execute(
        "UPDATE sessions SET status = 'waiting', updated_at = ? WHERE id = ?", now, session_id
    )
    return (
        yield from append_events(
            app_id, [Event(names.RUN_PAUSED, app_id, session_id, run_id, {})], now
        )
    )


def release_run(run_id: str, fence: int, now: float, reason: str) -> Script:
    """Queue a run again that this worker holds but stops executing (it is shutting down), so
    that another worker takes it at once instead of after the lease; a run asked to pause is
    paused instead. Returns the events."""
    row = yield one(
        "UPDATE runs SET status = CASE WHEN status = 'pausing' THEN 'paused' ELSE 'queued' END, "
        "worker_id = NULL, lease_until = NULL, queued_at = ? WHERE id = ? AND fence = ? "
        "AND status IN ('running', 'pausing') RETURNING app_id, session_id, status",
        now,
        run_id,
        fence,
    )
    if row is None:  # the lease was already lost, or the run ended or was cancelled
        return []
    if row["status"] == "paused":
        return (yield from pause_events(row["app_id"], row["session_id"], run_id, now))
    return (
        yield from append_events(
            row["app_id"],
            [
                Event(
                    names.RUN_QUEUED,
                    row["app_id"],
                    row["session_id"],
                    run_id,
                    {"reason": reason},
                )
            ],
            now,
        )
    )


def expired_leases(now: float) -> Script:
    """The runs whose lease ran out (their worker died or stalled): `(row, status)` with the
    row's id, app_id and session_id, status `running` or `pausing`."""
    rows = yield all_rows(
        "SELECT id, app_id, session_id FROM runs WHERE status = 'running' AND lease_until < ?", now
    )
    # A separate query, so that each reads its partial index (ix_runs_leased, ix_runs_pausing).
    pausing = yield all_rows(
        "SELECT id, app_id, session_id FROM runs WHERE status = 'pausing' AND lease_until < ?", now
    )
    return [(row, "pausing") for row in pausing] + [(row, "running") for row in rows]


def requeue_expired(run_id: str, app_id: str, session_id: str, status: str, now: float) -> Script:
    """Queue again one run whose lease ran out; one that was asked to pause is paused instead.
    Returns the events (none when its worker renewed the lease or ended the run meanwhile).

    One run per transaction: it locks the run's row and then its app's (which orders the
    app's events), the order every other writer takes. A transaction requeueing several runs
    held one app's row while it waited for the next run's, and deadlocked with another
    sweeper or with a step commit of that run (found by tests/chaos on PostgreSQL)."""
    if status == "pausing":
        changed = yield execute(
            "UPDATE runs SET status = 'paused', worker_id = NULL, lease_until = NULL "
            "WHERE id = ? AND status = 'pausing' AND lease_until < ?",
            run_id,
            now,
        )
        if not changed:
            return []
        return (yield from pause_events(app_id, session_id, run_id, now))
    changed = yield execute(
        "UPDATE runs SET status = 'queued', worker_id = NULL, lease_until = NULL, "
        "queued_at = ? WHERE id = ? AND status = 'running' AND lease_until < ?",
        now,
        run_id,
        now,
    )
    if not changed:
        return []
    queued = Event(names.RUN_QUEUED, app_id, session_id, run_id, {"reason": "lease_expired"})
    return (yield from append_events(app_id, [queued], now))


# --- reads ----------------------------------------------------------------------------


def get_run(run_id: str, app_id: str | None = None) -> Script:
    row = yield one(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", run_id)
    if row is None or (app_id is not None and row["app_id"] != app_id):
        raise NotFound(f"run {run_id!r} does not exist")
    return run_record(row)


def list_runs(app_id: str | None, status: str | None, limit: int) -> Script:
    where, args = [], []
    if app_id is not None:
        where.append("app_id = ?")
        args.append(app_id)
    if status is not None:
        where.append("status = ?")
        args.append(status)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = yield all_rows(
        f"SELECT {RUN_COLUMNS} FROM runs{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
        *args,
        limit,
    )
    return [run_record(row) for row in rows]


def get_steps(run_id: str) -> Script:
    rows = yield all_rows("SELECT * FROM steps WHERE run_id = ? ORDER BY n", run_id)
    return [step_record(row) for row in rows]


def get_session(session_id: str, app_id: str | None = None) -> Script:
    row = yield one("SELECT * FROM sessions WHERE id = ?", session_id)
    if row is None or (app_id is not None and row["app_id"] != app_id):
        raise NotFound(f"session {session_id!r} does not exist")
    return session_record(row)


def get_interrupts(run_id: str, status: str | None = None) -> Script:
    if status is None:
        rows = yield all_rows(
            "SELECT * FROM interrupts WHERE run_id = ? ORDER BY created_at, id", run_id
        )
    else:
        rows = yield all_rows(
            "SELECT * FROM interrupts WHERE run_id = ? AND status = ? ORDER BY created_at, id",
            run_id,
            status,
        )
    return [interrupt_record(row) for row in rows]


def read_events(
    app_id: str,
    after: int,
    limit: int,
    session_id: str | None = None,
    run_id: str | None = None,
    artifact_id: str | None = None,
    dialect: str = "sqlite",
) -> Script:
    """Persisted events of one app with seq > `after`, oldest first; `artifact_id` keeps
    those whose `data.artifact_id` is that artifact. A `node.completed` stored as a reference
    to its step is read back whole from the step and run rows (`event_refs`)."""
    sql = f"{EVENTS_READ} WHERE e.app_num = (SELECT num FROM apps WHERE id = ?) AND e.seq > ?"
    args: list[Any] = [app_id, after]
    if session_id is not None:
        # A reference has no session id: its run has.
        sql += (
            " AND (e.session_id = ? OR (e.session_id IS NULL AND e.step IS NOT NULL AND "
            "e.run_id IN (SELECT id FROM runs WHERE session_id = ?)))"
        )
        args += [session_id, session_id]
    if run_id is not None:
        sql += " AND e.run_id = ?"
        args.append(run_id)
    if artifact_id is not None:
        sql += (
            " AND e.data->>'artifact_id' = ?"
            if dialect == "postgresql"
            else " AND json_extract(e.data, '$.artifact_id') = ?"
        )
        args.append(artifact_id)
    rows = yield all_rows(sql + " ORDER BY e.seq LIMIT ?", *args, limit)
    events = []
    for row in rows:
        event = event_record(row, app_id)
        if row["step"] is not None:
            hydrate(event, row)
        events.append(event)
    return events


def event_record(row: Row, app_id: str) -> Event:
    """A persisted event from its row (the row holds the app's number, not its id)."""
    return Event(
        type=row["type"],
        app_id=app_id,
        session_id=row["session_id"],
        run_id=row["run_id"],
        data=loads(row["data"]),
        seq=row["seq"],
        ts=row["ts"],
    )
