"""Transactions of agent messages: what one agent of a run sends another (`request`,
`response`, `notification`, `handoff`), stored with its `agent.message` event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podium.errors import NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.ids import new_id
from podium.storage.script import Json, Row, Script, all_rows, execute, one
from podium.storage.transactions import append_events

# Messages of a run in the order they were sent; the id breaks ties of the same instant.
_ORDER = "created_at, id"


@dataclass(slots=True)
class AgentMessageRecord:
    id: str
    app_id: str
    run_id: str
    session_id: str | None
    sender: str | None
    recipient: str
    type: str
    content: Any
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "from": self.sender,
            "to": self.recipient,
            "type": self.type,
            "content": self.content,
            "created_at": self.created_at,
        }


@dataclass(slots=True, frozen=True)
class MessageFilter:
    """Which messages of a run to list: each field given narrows the list."""

    agent: str | None = None  # sent by or to this agent
    type: str | None = None


def _message(row: Row) -> AgentMessageRecord:
    content = row["content"]
    return AgentMessageRecord(
        row["id"],
        row["app_id"],
        row["run_id"],
        row["session_id"],
        row["sender"],
        row["recipient"],
        row["type"],
        json.loads(content) if isinstance(content, str) else content,
        row["created_at"],
    )


def _run_session(app_id: str, run_id: str) -> Script:
    row = yield one("SELECT session_id FROM runs WHERE id = ? AND app_id = ?", run_id, app_id)
    if row is None:
        raise NotFound(f"run {run_id!r} does not exist")
    return row["session_id"]


def send_message(
    app_id: str,
    run_id: str,
    sender: str | None,
    recipient: str,
    type: str,
    content: Any,
    now: float,
) -> Script:
    """Store a message of the run and its `agent.message` event; returns `(record, events)`."""
    session_id = yield from _run_session(app_id, run_id)
    record = AgentMessageRecord(
        new_id("msg"), app_id, run_id, session_id, sender, recipient, type, content, now
    )
    yield execute(
        "INSERT INTO agent_messages (id, app_id, run_id, session_id, sender, recipient, type, "
        "content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        record.id,
        app_id,
        run_id,
        session_id,
        sender,
        recipient,
        type,
        Json(content),
        now,
    )
    data = {"id": record.id, "from": sender, "to": recipient, "type": type, "content": content}
    event = Event(names.AGENT_MESSAGE, app_id, session_id, run_id, data)
    events = yield from append_events(app_id, [event], now)
    return record, events


def list_messages(
    app_id: str, run_id: str, filters: MessageFilter, limit: int, after: str | None
) -> Script:
    """The run's messages, oldest first, filtered; `after` is the last id of a page."""
    yield from _run_session(app_id, run_id)
    sql = "SELECT * FROM agent_messages WHERE app_id = ? AND run_id = ?"
    args: list[Any] = [app_id, run_id]
    if filters.agent is not None:
        sql += " AND (sender = ? OR recipient = ?)"
        args += [filters.agent, filters.agent]
    if filters.type is not None:
        sql += " AND type = ?"
        args.append(filters.type)
    if after is not None:
        sql += (
            " AND (created_at, id) > (SELECT created_at, id FROM agent_messages "
            "WHERE id = ? AND app_id = ? AND run_id = ?)"
        )
        args += [after, app_id, run_id]
    sql += f" ORDER BY {_ORDER} LIMIT ?"
    args.append(limit)
    rows = yield all_rows(sql, *args)
    return [_message(row) for row in rows]


def latest_message(app_id: str, run_id: str, type: str) -> Script:
    """The run's last message of this type, or None."""
    yield from _run_session(app_id, run_id)
    row = yield one(
        "SELECT * FROM agent_messages WHERE app_id = ? AND run_id = ? AND type = ? "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        app_id,
        run_id,
        type,
    )
    return None if row is None else _message(row)
