"""Transaction scripts that steer a run from outside its worker: cancel, pause and resume it,
answer its questions, deliver artifact actions to the runs that wait for them.

Each checks the run's app when one is given (another app's run does not exist) and returns
the events it wrote; the worker learns of the change from its next fenced write
(transactions._fenced).
"""

from __future__ import annotations

from typing import Any

from podium import effects
from podium.errors import Conflict, NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import ACTIVE_RUN_STATUSES
from podium.storage.script import Json, Script, all_rows, execute, loads, one
from podium.storage.transactions import (
    SESSION_STATUS,
    append_events,
    cancel_events,
    pause_events,
)


def cancel_run(run_id: str, now: float, app_id: str | None = None) -> Script:
    """Cancel a queued, running, interrupted, pausing or paused run; returns its final status
    and the events."""
    row = yield one("SELECT app_id, status FROM runs WHERE id = ?", run_id)
    if row is None or (app_id is not None and row["app_id"] != app_id):
        raise NotFound(f"run {run_id!r} does not exist")
    if row["status"] not in ACTIVE_RUN_STATUSES:
        raise Conflict(f"run {run_id} already ended ({row['status']}); there is nothing to cancel")
    events = yield from cancel_events(run_id, now, "cancelled")
    return "cancelled", events


def pause_run(run_id: str, now: float, app_id: str | None = None) -> Script:
    """Pause a run: a queued or interrupted one at once (`paused`), a running one once the
    nodes it executes have finished (`pausing` until then). Returns (its status, the events).
    """
    row = yield one("SELECT app_id, session_id, status FROM runs WHERE id = ?", run_id)
    if row is None or (app_id is not None and row["app_id"] != app_id):
        raise NotFound(f"run {run_id!r} does not exist")
    # Conditional on the status, so that a worker's commit in between cannot be overwritten.
    updated = yield one(
        "UPDATE runs SET status = CASE WHEN status = 'running' THEN 'pausing' ELSE 'paused' END "
        "WHERE id = ? AND status IN ('queued', 'running', 'interrupted') RETURNING status",
        run_id,
    )
    if updated is None:
        current = yield one("SELECT status FROM runs WHERE id = ?", run_id)
        status = current["status"]
        if status not in ACTIVE_RUN_STATUSES:
            raise Conflict(f"run {run_id} already ended ({status}); there is nothing to pause")
        return status, []  # already paused or pausing
    if updated["status"] == "pausing":  # its executor commits `paused` when it stops
        return "pausing", []
    return "paused", (yield from pause_events(row["app_id"], row["session_id"], run_id, now))


def resume_run(run_id: str, now: float, app_id: str | None = None) -> Script:
    """Resume a paused run: `interrupted` while it has pending questions, else `queued` for a
    worker; a pausing run just goes on running. Returns (its status, the events)."""
    row = yield one("SELECT app_id, session_id, status FROM runs WHERE id = ?", run_id)
    if row is None or (app_id is not None and row["app_id"] != app_id):
        raise NotFound(f"run {run_id!r} does not exist")
    status = row["status"]
    if status == "pausing":  # withdraw the request: its worker still holds the run
        withdrawn = yield execute(
            "UPDATE runs SET status = 'running' WHERE id = ? AND status = 'pausing'", run_id
        )
        if withdrawn:
            return "running", []
        status = (yield one("SELECT status FROM runs WHERE id = ?", run_id))["status"]
    if status == "paused":
        pending = yield one(
            "SELECT id FROM interrupts WHERE run_id = ? AND status = 'pending' LIMIT 1", run_id
        )
        status = "interrupted" if pending is not None else "queued"
        resumed = yield execute(
            "UPDATE runs SET status = ?, queued_at = ? WHERE id = ? AND status = 'paused'",
            status,
            now if status == "queued" else None,
            run_id,
        )
        if resumed:
            yield execute(
                "UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?",
                SESSION_STATUS[status],
                now,
                row["session_id"],
            )
            kind = names.RUN_QUEUED if status == "queued" else names.RUN_INTERRUPTED
            event = Event(kind, row["app_id"], row["session_id"], run_id, {"reason": "resumed"})
            return status, (yield from append_events(row["app_id"], [event], now))
        status = (yield one("SELECT status FROM runs WHERE id = ?", run_id))["status"]
    raise Conflict(
        f"run {run_id} is {status}, not paused; only a paused run can be resumed",
        details={"status": status},
    )


def answer_interrupt(
    interrupt_id: str, answer: Any, now: float, app_id: str | None = None
) -> Script:
    """Accept the answer once (a second is a Conflict) and queue the run again; an answer to
    an `in_doubt` question must be a decision (`effects.check_decision`, AnswerInvalid)."""
    row = yield one(
        "UPDATE interrupts SET status = 'answered', answer = ?, answered_at = ? "
        "WHERE id = ? AND status = 'pending' RETURNING app_id, run_id, session_id, node_id, "
        "iteration, call_key, kind",
        Json(answer),
        now,
        interrupt_id,
    )
    if row is None or (app_id is not None and row["app_id"] != app_id):
        existing = yield one("SELECT app_id, status FROM interrupts WHERE id = ?", interrupt_id)
        if existing is None or (app_id is not None and existing["app_id"] != app_id):
            raise NotFound(f"question {interrupt_id!r} does not exist")
        raise Conflict(
            f"question {interrupt_id} was already {existing['status']}; an answer is accepted once",
            details={"status": existing["status"]},
        )
    if row["kind"] == effects.IN_DOUBT:
        effects.check_decision(answer)  # refused: the transaction is rolled back
    run_id = row["run_id"]
    yield execute(
        "INSERT INTO calls (run_id, node_id, iteration, key, result, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        run_id,
        row["node_id"],
        row["iteration"],
        row["call_key"],
        Json(answer),
        now,
    )
    requeued = yield execute(
        "UPDATE runs SET status = 'queued', queued_at = ? WHERE id = ? AND status = 'interrupted' "
        "AND NOT EXISTS (SELECT 1 FROM interrupts WHERE run_id = ? AND status = 'pending')",
        now,
        run_id,
        run_id,
    )
    events: list[Event] = []
    if requeued:
        yield execute(
            "UPDATE sessions SET status = 'active', updated_at = ? WHERE id = ?",
            now,
            row["session_id"],
        )
        events = yield from append_events(
            row["app_id"],
            [
                Event(
                    names.RUN_QUEUED,
                    row["app_id"],
                    row["session_id"],
                    run_id,
                    {"reason": "answered", "interrupt_id": interrupt_id},
                )
            ],
            now,
        )
    return run_id, events


def deliver_action(
    app_id: str, artifact_id: str, action: str, payload: Any, actor: str | None, now: float
) -> Script:
    """Answer every question waiting for `action` on the artifact (`ctx.wait_for_action`),
    oldest first, and queue those runs again; returns (run ids, events)."""
    rows = yield all_rows(
        "SELECT id, choices FROM interrupts WHERE app_id = ? AND artifact_id = ? "
        "AND kind = 'action' AND status = 'pending' ORDER BY created_at, id",
        app_id,
        artifact_id,
    )
    runs: list[str] = []
    events: list[Event] = []
    answer = {"action": action, "payload": payload, "actor": actor}
    for row in rows:
        wanted = loads(row["choices"])
        if wanted and action not in wanted:
            continue
        run_id, written = yield from answer_interrupt(row["id"], answer, now, app_id)
        runs.append(run_id)
        events += written
    return runs, events
