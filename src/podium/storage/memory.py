"""Transactions of shared memory: scoped key/value JSON with an optional expiry.

An entry is `(app_id, scope, scope_id, key)`. Every read takes `now` and sees only entries
that have not expired (`expires_at IS NULL OR expires_at > now`), so an expired entry is gone
at once; `sweep_expired` removes the rows later. Writes and their `memory.updated` event are
one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podium.errors import NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.storage import knowledge
from podium.storage.script import Json, Row, Script, all_rows, execute, many, one
from podium.storage.transactions import append_events

SCOPES = ("session", "run", "app", "user")
# The knowledge namespace where entries are indexed for search (memory search).
INDEX_NAMESPACE = "_memory"
# The `app` scope's id in a path: the app's own id, or this stand-in for it.
THIS_APP = "-"
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_COLUMNS = "scope, scope_id, key, value, expires_at, updated_at"
_KEY_COLUMNS = ("scope", "scope_id", "key")


@dataclass(slots=True, frozen=True)
class ScopeRef:
    """A scope resolved in its app: the id it is stored under, and the session and run the
    events about it belong to (for subscribers of that session or run)."""

    scope: str
    scope_id: str
    session_id: str | None = None
    run_id: str | None = None


@dataclass(slots=True)
class MemoryEntry:
    scope: str
    scope_id: str
    key: str
    value: Any
    expires_at: float | None
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "scope_id": self.scope_id,
            "key": self.key,
            "value": self.value,
            "expires_at": self.expires_at,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True, frozen=True)
class Origin:
    """Who made a change (`usr_…`, `key_…`, `run_…`) and from which session and run, if any."""

    actor: str | None = None
    session_id: str | None = None
    run_id: str | None = None


def _entry(row: Row) -> MemoryEntry:
    value = row["value"]
    return MemoryEntry(
        row["scope"],
        row["scope_id"],
        row["key"],
        json.loads(value) if isinstance(value, str) else value,
        row["expires_at"],
        row["updated_at"],
    )


def resolve_scope(app_id: str, scope: str, scope_id: str) -> Script:
    """The scope's `ScopeRef`; NotFound when its id is not an object of this app."""
    if scope == "session":
        row = yield one("SELECT id FROM sessions WHERE id = ? AND app_id = ?", scope_id, app_id)
        if row is None:
            raise NotFound(f"session {scope_id!r} does not exist")
        return ScopeRef(scope, scope_id, session_id=scope_id)
    if scope == "run":
        row = yield one("SELECT session_id FROM runs WHERE id = ? AND app_id = ?", scope_id, app_id)
        if row is None:
            raise NotFound(f"run {scope_id!r} does not exist")
        return ScopeRef(scope, scope_id, session_id=row["session_id"], run_id=scope_id)
    if scope == "app":
        if scope_id not in (THIS_APP, app_id):
            raise NotFound(
                f"app {scope_id!r} is not this app: the app scope's id is this app's id or "
                f"{THIS_APP!r}"
            )
        return ScopeRef(scope, app_id)
    if scope == "user":
        row = yield one(
            "SELECT 1 AS known FROM memberships WHERE app_id = ? AND user_id = ? "
            "UNION ALL SELECT 1 AS known FROM sessions WHERE app_id = ? AND user_id = ? LIMIT 1",
            app_id,
            scope_id,
            app_id,
            scope_id,
        )
        if row is None:
            raise NotFound(
                f"user {scope_id!r} is not known in this app (neither a member nor the user "
                "of one of its sessions)"
            )
        return ScopeRef(scope, scope_id)
    raise ValueError(f"unknown memory scope {scope!r}")  # the service checked it


def index_key(scope: str, scope_id: str, key: str) -> str:
    """The key of an entry's document in the index (scope ids and keys hold no slash)."""
    return f"{scope}/{scope_id}/{key}"


def _unindex(app_id: str, ref: ScopeRef, key: str) -> Script:
    yield execute(
        "DELETE FROM knowledge_documents WHERE app_id = ? AND namespace = ? AND key = ?",
        app_id,
        INDEX_NAMESPACE,
        index_key(ref.scope, ref.scope_id, key),
    )


def _updated(app_id: str, ref: ScopeRef, origin: Origin, data: dict[str, Any]) -> Event:
    data = {"scope": ref.scope, "scope_id": ref.scope_id, **data}
    if origin.actor is not None:
        data["actor"] = origin.actor
    return Event(
        names.MEMORY_UPDATED,
        app_id,
        ref.session_id or origin.session_id,
        ref.run_id or origin.run_id,
        data,
    )


def get_entry(app_id: str, scope: str, scope_id: str, key: str, now: float) -> Script:
    """The entry, or None when there is none or it has expired."""
    ref = yield from resolve_scope(app_id, scope, scope_id)
    row = yield one(
        f"SELECT {_COLUMNS} FROM memory WHERE app_id = ? AND scope = ? AND scope_id = ? "
        f"AND key = ? AND {_LIVE}",
        app_id,
        ref.scope,
        ref.scope_id,
        key,
        now,
    )
    return None if row is None else _entry(row)


def find_entries(app_id: str, scope: str, scope_id: str, keys: list[str], now: float) -> Script:
    """The live entries of the scope (its id resolved: `-` for the app) among `keys`, by
    key."""
    ref = yield from resolve_scope(app_id, scope, scope_id)
    if not keys:
        return {}
    rows = yield all_rows(
        f"SELECT {_COLUMNS} FROM memory WHERE app_id = ? AND scope = ? AND scope_id = ? "
        f"AND key IN ({', '.join('?' * len(keys))}) AND {_LIVE}",
        app_id,
        ref.scope,
        ref.scope_id,
        *keys,
        now,
    )
    return {row["key"]: _entry(row) for row in rows}


def resolved_scope(app_id: str, scope: str, scope_id: str) -> Script:
    """The scope's `ScopeRef` (NotFound when its id is not an object of this app)."""
    ref = yield from resolve_scope(app_id, scope, scope_id)
    return ref


def set_entry(
    app_id: str,
    scope: str,
    scope_id: str,
    key: str,
    value: Any,
    ttl: float | None,
    origin: Origin,
    now: float,
    index: tuple[str, list[str]] | None = None,
) -> Script:
    """Create or replace the entry (a set without `ttl` makes it permanent); returns
    `(entry, events)`. With `index` (the entry's text and its chunks) the entry is indexed
    for search in the same transaction; without it, it is taken out of the index."""
    ref = yield from resolve_scope(app_id, scope, scope_id)
    expires_at = None if ttl is None else now + ttl
    yield execute(
        "INSERT INTO memory (app_id, scope, scope_id, key, value, expires_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, scope, scope_id, key) DO UPDATE SET "
        "value = excluded.value, expires_at = excluded.expires_at, "
        "updated_at = excluded.updated_at",
        app_id,
        ref.scope,
        ref.scope_id,
        key,
        Json(value),
        expires_at,
        now,
    )
    if index is None or not index[1]:
        yield from _unindex(app_id, ref, key)
    else:
        text, chunks = index
        document = knowledge.NewDocument(
            index_key(ref.scope, ref.scope_id, key),
            text,
            {"scope": ref.scope, "scope_id": ref.scope_id, "key": key},
            chunks,
        )
        yield from knowledge.put_documents(
            app_id, INDEX_NAMESPACE, [document], origin.actor, now, []
        )
    data: dict[str, Any] = {"key": key, "op": "set"}
    if ttl is not None:
        data["ttl"] = ttl
        data["expires_at"] = expires_at
    events = yield from append_events(app_id, [_updated(app_id, ref, origin, data)], now)
    entry = MemoryEntry(ref.scope, ref.scope_id, key, value, expires_at, now)
    return entry, events


def delete_entry(
    app_id: str, scope: str, scope_id: str, key: str, origin: Origin, now: float
) -> Script:
    """Delete the entry; returns the events written (none when there was no live entry)."""
    ref = yield from resolve_scope(app_id, scope, scope_id)
    where = "app_id = ? AND scope = ? AND scope_id = ? AND key = ?"
    changed = yield execute(
        f"DELETE FROM memory WHERE {where} AND {_LIVE}", app_id, ref.scope, ref.scope_id, key, now
    )
    yield from _unindex(app_id, ref, key)
    if not changed:  # none, or expired: take an expired row away now that it was asked for
        yield execute(f"DELETE FROM memory WHERE {where}", app_id, ref.scope, ref.scope_id, key)
        return []
    event = _updated(app_id, ref, origin, {"key": key, "op": "delete"})
    events = yield from append_events(app_id, [event], now)
    return events


def list_entries(
    app_id: str,
    scope: str,
    scope_id: str,
    prefix: str,
    limit: int,
    after: str | None,
    now: float,
) -> Script:
    """The scope's live entries whose key starts with `prefix`, by key; `after` is the last
    key of the page before."""
    ref = yield from resolve_scope(app_id, scope, scope_id)
    sql = (
        f"SELECT {_COLUMNS} FROM memory WHERE app_id = ? AND scope = ? AND scope_id = ? AND {_LIVE}"
    )
    args: list[Any] = [app_id, ref.scope, ref.scope_id, now]
    if prefix:
        # substr, not LIKE: keys may hold `_`, and SQLite's LIKE ignores case.
        sql += " AND substr(key, 1, ?) = ?"
        args += [len(prefix), prefix]
    if after is not None:
        sql += " AND key > ?"
        args.append(after)
    sql += " ORDER BY key LIMIT ?"
    args.append(limit)
    rows = yield all_rows(sql, *args)
    return [_entry(row) for row in rows]


def sweep_expired(now: float, batch: int) -> Script:
    """Delete up to `batch` entries that expired by `now` (and their documents in the
    index); returns how many."""
    deleted = yield all_rows(
        "DELETE FROM memory WHERE (app_id, scope, scope_id, key) IN (SELECT app_id, scope, "
        "scope_id, key FROM memory WHERE expires_at <= ? LIMIT ?) "
        "RETURNING app_id, scope, scope_id, key",
        now,
        batch,
    )
    if deleted:
        yield many(
            "DELETE FROM knowledge_documents WHERE app_id = ? AND namespace = ? AND key = ?",
            [
                (
                    row["app_id"],
                    INDEX_NAMESPACE,
                    index_key(row["scope"], row["scope_id"], row["key"]),
                )
                for row in deleted
            ],
        )
    return len(deleted)
