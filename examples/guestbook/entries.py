"""The `guestbook_entries` table, read and written with storage scripts (every query filters
on `app_id`: a pack's rows belong to one app, like every stored object)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from podium.storage.script import Script, all_rows, execute, one

SIGNED = "guestbook.signed"


def entry_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "message": row["message"],
        "greeting": row["greeting"],
        "handled": row["handled"],
        "created_at": row["created_at"],
    }


def add_entry(app_id: str, name: str, message: str) -> Script:
    entry_id = f"gbe_{uuid.uuid4().hex}"
    yield execute(
        "INSERT INTO guestbook_entries (id, app_id, name, message, handled, created_at) "
        "VALUES (?, ?, ?, ?, 0, ?)",
        entry_id,
        app_id,
        name,
        message,
        time.time(),
    )
    row = yield one("SELECT * FROM guestbook_entries WHERE id = ? AND app_id = ?", entry_id, app_id)
    return entry_json(row)


def list_entries(app_id: str, limit: int) -> Script:
    rows = yield all_rows(
        "SELECT * FROM guestbook_entries WHERE app_id = ? ORDER BY created_at, id LIMIT ?",
        app_id,
        limit,
    )
    return [entry_json(row) for row in rows]


def get_entry(app_id: str, entry_id: str) -> Script:
    row = yield one("SELECT * FROM guestbook_entries WHERE id = ? AND app_id = ?", entry_id, app_id)
    return None if row is None else entry_json(row)


def greet_entry(app_id: str, entry_id: str, greeting: str) -> Script:
    # `handled` counts the handler's runs for the entry: it shows that a handler runs once
    # per event, also across a crash.
    changed = yield execute(
        "UPDATE guestbook_entries SET greeting = ?, handled = handled + 1 "
        "WHERE id = ? AND app_id = ?",
        greeting,
        entry_id,
        app_id,
    )
    return bool(changed)
