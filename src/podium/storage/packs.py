"""Transactions of packs: which apps enabled which pack, and the durable state of the packs'
event handlers (a cursor per handler and app, held by one process at a time under a lease,
and the events a handler is retrying or gave up on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.storage.script import Row, Script, all_rows, execute, one


@dataclass(slots=True)
class HandlerFailure:
    pack: str
    handler: str
    app_id: str
    event_seq: int
    event_id: str
    event_type: str
    status: str  # retrying | failed
    attempts: int
    error: str
    next_attempt_at: float | None
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "handler": self.handler,
            "event_seq": self.event_seq,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": self.updated_at,
        }


def _failure(row: Row) -> HandlerFailure:
    return HandlerFailure(
        row["pack"],
        row["handler"],
        row["app_id"],
        int(row["event_seq"]),
        row["event_id"],
        row["event_type"],
        row["status"],
        int(row["attempts"]),
        row["error"],
        row["next_attempt_at"],
        row["updated_at"],
    )


# --- enablement ----------------------------------------------------------------------------


def enable_pack(app_id: str, pack: str, handlers: list[str], now: float) -> Script:
    """Enable the pack for the app (True when it was not enabled). Its handlers start after
    the app's last event: what happened before the pack was enabled is not theirs."""
    changed = yield execute(
        "INSERT INTO pack_enablements (app_id, pack, enabled_at) VALUES (?, ?, ?) "
        "ON CONFLICT (app_id, pack) DO NOTHING",
        app_id,
        pack,
        now,
    )
    row = yield one("SELECT last_seq FROM apps WHERE id = ?", app_id)
    last_seq = int(row["last_seq"]) if row is not None else 0
    for handler in handlers:
        yield execute(
            "INSERT INTO pack_handler_cursors (pack, handler, app_id, last_seq, lease_until) "
            "VALUES (?, ?, ?, ?, 0) ON CONFLICT (pack, handler, app_id) DO UPDATE SET "
            "last_seq = CASE WHEN ? THEN excluded.last_seq ELSE pack_handler_cursors.last_seq END",
            pack,
            handler,
            app_id,
            last_seq,
            bool(changed),
        )
    return bool(changed)


def disable_pack(app_id: str, pack: str) -> Script:
    """Disable it (False when it was not enabled); its tables keep the app's rows."""
    changed = yield execute(
        "DELETE FROM pack_enablements WHERE app_id = ? AND pack = ?", app_id, pack
    )
    return bool(changed)


def enabled_packs(app_id: str) -> Script:
    rows = yield all_rows("SELECT pack FROM pack_enablements WHERE app_id = ?", app_id)
    return {row["pack"] for row in rows}


def pack_enabled(app_id: str, pack: str) -> Script:
    row = yield one(
        "SELECT 1 AS found FROM pack_enablements WHERE app_id = ? AND pack = ?", app_id, pack
    )
    return row is not None


def enablements() -> Script:
    """Every (app, pack) enabled, for the handler runner."""
    rows = yield all_rows("SELECT app_id, pack FROM pack_enablements ORDER BY app_id, pack")
    return [(row["app_id"], row["pack"]) for row in rows]


# --- handler cursors -----------------------------------------------------------------------


def claim_cursor(
    pack: str, handler: str, app_id: str, owner: str, lease_seconds: float, now: float
) -> Script:
    """Hold the cursor until `now + lease_seconds` (None when another process holds it);
    the seq it is at."""
    changed = yield execute(
        "UPDATE pack_handler_cursors SET owner = ?, lease_until = ? "
        "WHERE pack = ? AND handler = ? AND app_id = ? "
        "AND (owner IS NULL OR owner = ? OR lease_until < ?)",
        owner,
        now + lease_seconds,
        pack,
        handler,
        app_id,
        owner,
        now,
    )
    if not changed:
        return None
    row = yield one(
        "SELECT last_seq FROM pack_handler_cursors WHERE pack = ? AND handler = ? AND app_id = ?",
        pack,
        handler,
        app_id,
    )
    return None if row is None else int(row["last_seq"])


def handled(pack: str, handler: str, app_id: str, owner: str, seq: int) -> Script:
    """The handler is done with the event `seq` (it succeeded, or was given up on): the
    cursor moves past it, only while `owner` still holds it (False otherwise)."""
    changed = yield execute(
        "UPDATE pack_handler_cursors SET last_seq = ? "
        "WHERE pack = ? AND handler = ? AND app_id = ? AND owner = ? AND last_seq < ?",
        seq,
        pack,
        handler,
        app_id,
        owner,
        seq,
    )
    yield execute(
        "DELETE FROM pack_handler_failures WHERE pack = ? AND handler = ? AND app_id = ? "
        "AND event_seq = ? AND status = 'retrying'",
        pack,
        handler,
        app_id,
        seq,
    )
    return bool(changed)


def record_failure(failure: HandlerFailure, owner: str) -> Script:
    """Keep a failed attempt; when the handler gives up (`failed`), the cursor moves on in
    the same transaction."""
    yield execute(
        "INSERT INTO pack_handler_failures (pack, handler, app_id, event_seq, event_id, "
        "event_type, status, attempts, error, next_attempt_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (pack, handler, app_id, event_seq) DO UPDATE SET status = excluded.status, "
        "attempts = excluded.attempts, error = excluded.error, "
        "next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
        failure.pack,
        failure.handler,
        failure.app_id,
        failure.event_seq,
        failure.event_id,
        failure.event_type,
        failure.status,
        failure.attempts,
        failure.error,
        failure.next_attempt_at,
        failure.updated_at,
    )
    if failure.status == "failed":
        yield execute(
            "UPDATE pack_handler_cursors SET last_seq = ? "
            "WHERE pack = ? AND handler = ? AND app_id = ? AND owner = ? AND last_seq < ?",
            failure.event_seq,
            failure.pack,
            failure.handler,
            failure.app_id,
            owner,
            failure.event_seq,
        )


def pending_failure(pack: str, handler: str, app_id: str, seq: int) -> Script:
    """The retry state of the event `seq` for the handler, if it failed before."""
    row = yield one(
        "SELECT * FROM pack_handler_failures WHERE pack = ? AND handler = ? AND app_id = ? "
        "AND event_seq = ?",
        pack,
        handler,
        app_id,
        seq,
    )
    return None if row is None else _failure(row)


def handler_states(app_id: str, pack: str) -> Script:
    """Each handler's cursor and its failures (retrying and given up), newest first."""
    cursors = yield all_rows(
        "SELECT handler, last_seq FROM pack_handler_cursors WHERE app_id = ? AND pack = ?",
        app_id,
        pack,
    )
    failures = yield all_rows(
        "SELECT * FROM pack_handler_failures WHERE app_id = ? AND pack = ? "
        "ORDER BY event_seq DESC LIMIT 200",
        app_id,
        pack,
    )
    return {row["handler"]: int(row["last_seq"]) for row in cursors}, [
        _failure(row) for row in failures
    ]
