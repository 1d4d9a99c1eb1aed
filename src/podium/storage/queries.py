"""Reads and small writes the API needs over the engine's tables (all scoped to one app)."""

from __future__ import annotations

from typing import Any

from podium.errors import Conflict, NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import FlowRecord, InterruptRecord, RunRecord, SessionRecord
from podium.storage.script import Script, all_rows, execute, one
from podium.storage.transactions import (
    ACTIVE,
    RUN_COLUMNS,
    append_events,
    event_record,
    flow_record,
    interrupt_record,
    run_record,
    session_record,
    step_record,
)


def run_steps(run_id: str, *, after: int | None, limit: int) -> Script:
    """A page of a run's steps in order; `after` is the last step number seen."""
    rows = yield all_rows(
        "SELECT * FROM steps WHERE run_id = ? AND n > ? ORDER BY n LIMIT ?",
        run_id,
        -1 if after is None else after,
        limit,
    )
    return [step_record(row) for row in rows]


def steps_by_node(run_id: str) -> Script:
    """Per node of a run: how many steps it ran and its last step's times and error (what a
    drawing shows), without reading every step's output."""
    rows = yield all_rows(
        "SELECT s.node_id, c.steps, s.started_at, s.ended_at, s.error FROM steps s JOIN "
        "(SELECT node_id, COUNT(*) AS steps, MAX(n) AS last FROM steps WHERE run_id = ? "
        "GROUP BY node_id) c ON c.node_id = s.node_id AND c.last = s.n WHERE s.run_id = ?",
        run_id,
        run_id,
    )
    fields = ("steps", "started_at", "ended_at", "error")
    return {row["node_id"]: {name: row[name] for name in fields} for row in rows}


def list_sessions(
    app_id: str,
    *,
    flow_name: str | None,
    status: str | None,
    user_id: str | None,
    limit: int,
    before: tuple[float, str] | None,
) -> Script:
    """A page of the app's sessions, newest first; `before` is the last (created_at, id) seen."""
    sql = "SELECT s.* FROM sessions s"
    where: list[str] = ["s.app_id = ?"]
    args: list[Any] = [app_id]
    if flow_name is not None:
        sql += " JOIN flows f ON f.id = s.flow_id"
        where.append("f.name = ?")
        args.append(flow_name)
    if status is not None:
        where.append("s.status = ?")
        args.append(status)
    if user_id is not None:
        where.append("s.user_id = ?")
        args.append(user_id)
    if before is not None:
        where.append("(s.created_at < ? OR (s.created_at = ? AND s.id < ?))")
        args += [before[0], before[0], before[1]]
    rows = yield all_rows(
        f"{sql} WHERE {' AND '.join(where)} ORDER BY s.created_at DESC, s.id DESC LIMIT ?",
        *args,
        limit,
    )
    return [session_record(row) for row in rows]


def session_runs(session_id: str) -> Script:
    """Every run of a session, oldest first."""
    rows = yield all_rows(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY created_at, id", session_id
    )
    return [run_record(row) for row in rows]


def latest_run(session_id: str) -> Script:
    row = yield one(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY created_at DESC, id DESC "
        "LIMIT 1",
        session_id,
    )
    return None if row is None else run_record(row)


def session_view(app_id: str, session_id: str) -> Script:
    """`(session, latest run or None, pending questions)` in one read."""
    row = yield one("SELECT * FROM sessions WHERE id = ? AND app_id = ?", session_id, app_id)
    if row is None:
        raise NotFound(f"session {session_id!r} does not exist")
    run: RunRecord | None = yield from latest_run(session_id)
    rows = yield all_rows(
        "SELECT * FROM interrupts WHERE session_id = ? AND status = 'pending' "
        "ORDER BY created_at, id",
        session_id,
    )
    questions: list[InterruptRecord] = [interrupt_record(r) for r in rows]
    session: SessionRecord = session_record(row)
    return session, run, questions


def session_history(app_id: str, session_id: str) -> Script:
    """Every step of every run of the session, in order: `(run_id, step row)` pairs."""
    yield from _session_exists(app_id, session_id)
    rows = yield all_rows(
        "SELECT s.* FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.session_id = ? "
        "ORDER BY r.created_at, r.id, s.n",
        session_id,
    )
    return [step_record(row) for row in rows]


def _session_exists(app_id: str, session_id: str) -> Script:
    row = yield one("SELECT id FROM sessions WHERE id = ? AND app_id = ?", session_id, app_id)
    if row is None:
        raise NotFound(f"session {session_id!r} does not exist")
    return None


def session_messages(app_id: str, session_id: str, limit: int) -> Script:
    """The session's transcript: its `message.created` events, oldest first."""
    yield from _session_exists(app_id, session_id)
    rows = yield all_rows(
        "SELECT * FROM events WHERE app_num = (SELECT num FROM apps WHERE id = ?) "
        "AND session_id = ? AND type = ? ORDER BY seq LIMIT ?",
        app_id,
        session_id,
        names.MESSAGE_CREATED,
        limit,
    )
    return [event_record(row, app_id) for row in rows]


def complete_session(
    app_id: str, session_id: str, now: float, except_run_id: str | None = None
) -> Script:
    """Mark a session completed; refused while one of its runs is active (other than
    `except_run_id`: the run whose node code completes its own session)."""
    yield from _session_exists(app_id, session_id)
    active = yield one(
        f"SELECT id, status FROM runs WHERE session_id = ? AND status IN ({ACTIVE}) "
        "AND id <> ? LIMIT 1",
        session_id,
        except_run_id or "",
    )
    if active is not None:
        raise Conflict(
            f"session {session_id} has an active run {active['id']} ({active['status']}); "
            "cancel it or let it finish before completing the session",
            details={"active_run_id": active["id"]},
        )
    yield execute(
        "UPDATE sessions SET status = 'completed', updated_at = ? WHERE id = ?", now, session_id
    )
    events = yield from append_events(
        app_id, [Event(names.SESSION_COMPLETED, app_id, session_id, None, {})], now
    )
    return events


def active_run_ids(app_id: str, session_id: str) -> Script:
    yield from _session_exists(app_id, session_id)
    rows = yield all_rows(
        f"SELECT id FROM runs WHERE session_id = ? AND status IN ({ACTIVE}) ORDER BY created_at",
        session_id,
    )
    return [row["id"] for row in rows]


def get_interrupt(app_id: str, interrupt_id: str) -> Script:
    row = yield one("SELECT * FROM interrupts WHERE id = ? AND app_id = ?", interrupt_id, app_id)
    if row is None:
        raise NotFound(f"question {interrupt_id!r} does not exist")
    return interrupt_record(row)


def latest_flows(app_ids: list[str]) -> Script:
    """The newest version of every flow of these apps, by name."""
    marks = ", ".join("?" for _ in app_ids)
    rows = yield all_rows(
        f"SELECT f.* FROM flows f WHERE f.app_id IN ({marks}) AND f.version = (SELECT "
        "MAX(g.version) FROM flows g WHERE g.app_id = f.app_id AND g.name = f.name) "
        "ORDER BY f.name",
        *app_ids,
    )
    return [flow_record(row) for row in rows]


def flow_versions(app_id: str, name: str) -> Script:
    rows = yield all_rows(
        "SELECT * FROM flows WHERE app_id = ? AND name = ? ORDER BY version DESC", app_id, name
    )
    records: list[FlowRecord] = [flow_record(row) for row in rows]
    return records


def counts() -> Script:
    """Numbers for `/status` and `/metrics`: apps, users, sessions, runs by status."""
    result: dict[str, Any] = {}
    for table in ("apps", "users", "sessions"):
        row = yield one(f"SELECT COUNT(*) AS n FROM {table}")
        result[table] = int(row["n"])
    rows = yield all_rows("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
    result["runs"] = {row["status"]: int(row["n"]) for row in rows}
    return result


def schema_revision() -> Script:
    row = yield one("SELECT version_num FROM alembic_version")
    return None if row is None else row["version_num"]
