"""Transactions of artifacts: persistent, versioned JSON state behind a piece of UI.

An artifact changes only by JSON Merge Patch (RFC 7396), one version per patch: each patch
reads the state and the version, applies the patch, writes version + 1 with a history row
(the patch and who made it) and an `artifact.state.updated` event, all in one transaction.
Version 1 is the creation, its patch the initial state, so the history replays to the state.

Concurrent patches must not lose one another: SQLite runs write transactions one at a time
(`BEGIN IMMEDIATE` on one writer), and on PostgreSQL the read takes the row lock
(`SELECT … FOR UPDATE`), so a second patch waits and then reads the first one's result. The
update also compares the version it read (`WHERE version = ?`), which cannot fail under the
lock but would turn a lost update into an error rather than silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import json_merge_patch

from podium import jsonvalue
from podium.errors import Conflict, LimitTooHigh, NotFound, PreconditionFailed
from podium.events import names
from podium.events.envelope import Event
from podium.ids import new_id
from podium.storage.event_bounds import artifact_url, within_cap
from podium.storage.script import Json, Row, Script, all_rows, dumps, execute, loads, one
from podium.storage.transactions import append_events


@dataclass(slots=True)
class ArtifactRecord:
    id: str
    app_id: str
    type: str
    flow: str | None
    session_id: str | None  # the session it was made in
    state: dict[str, Any]
    version: int
    created_by: str | None
    created_at: float
    updated_at: float
    session_ids: list[str] = field(default_factory=list)  # every session it is attached to

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app_id": self.app_id,
            "type": self.type,
            "flow": self.flow,
            "session_id": self.session_id,
            "session_ids": list(self.session_ids),
            "state": self.state,
            "version": self.version,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True)
class ArtifactVersionRecord:
    artifact_id: str
    version: int
    patch: dict[str, Any]
    actor: str | None
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact_id": self.artifact_id,
            "version": self.version,
            "patch": self.patch,
            "actor": self.actor,
            "created_at": self.created_at,
        }


def _artifact(row: Row, session_ids: list[str]) -> ArtifactRecord:
    return ArtifactRecord(
        id=row["id"],
        app_id=row["app_id"],
        type=row["type"],
        flow=row["flow"],
        session_id=row["session_id"],
        state=loads(row["state"]),
        version=row["version"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        session_ids=session_ids,
    )


def apply_merge_patch(
    state: dict[str, Any], patch: dict[str, Any], max_bytes: int | None = None
) -> dict[str, Any]:
    """`state` with `patch` applied (RFC 7396): null removes a key, objects merge key by key,
    anything else (arrays too) replaces. `state` is changed in place and returned.

    Both passed the JSON boundary, so the merge (recursive) stays within its depth; the
    merged state is checked again, and against `max_bytes` (PODIUM_MAX_STATE_BYTES).
    """
    merged: dict[str, Any] = json_merge_patch.merge(state, patch)
    jsonvalue.check_value(merged, "the artifact's state after the patch")
    if max_bytes is not None:
        size = len(dumps(merged).encode())
        if size > max_bytes:
            raise LimitTooHigh(
                f"the patch would make the artifact's state {size} bytes, over the cap of "
                f"{max_bytes} (PODIUM_MAX_STATE_BYTES); keep large data elsewhere and store "
                "a reference to it",
                details={"setting": "PODIUM_MAX_STATE_BYTES", "cap": max_bytes, "bytes": size},
            )
    return merged


def _not_found(artifact_id: str) -> NotFound:
    return NotFound(f"artifact {artifact_id!r} does not exist")


def _session_in_app(app_id: str, session_id: str) -> Script:
    """The session's flow name (or None); NotFound when the session is not the app's."""
    row = yield one(
        "SELECT s.id, f.name FROM sessions s LEFT JOIN flows f ON f.id = s.flow_id "
        "WHERE s.id = ? AND s.app_id = ?",
        session_id,
        app_id,
    )
    if row is None:
        raise NotFound(f"session {session_id!r} does not exist")
    return row["name"]


def _attached(artifact_ids: list[str]) -> Script:
    """{artifact id: [session ids, in the order they were attached]}."""
    if not artifact_ids:
        return {}
    marks = ", ".join("?" for _ in artifact_ids)
    rows = yield all_rows(
        f"SELECT artifact_id, session_id FROM session_artifacts WHERE artifact_id IN ({marks}) "
        "ORDER BY created_at, session_id",
        *artifact_ids,
    )
    attached: dict[str, list[str]] = {artifact_id: [] for artifact_id in artifact_ids}
    for row in rows:
        attached[row["artifact_id"]].append(row["session_id"])
    return attached


def create_artifact(
    app_id: str,
    type: str,
    flow: str | None,
    state: dict[str, Any],
    session_id: str | None,
    actor: str | None,
    now: float,
    max_event_bytes: int | None = None,
) -> Script:
    """Create an artifact at version 1 (attached to `session_id` when given; its flow is then
    the session's unless `flow` says otherwise); returns `(record, events)`. A state that
    would make `artifact.created` larger than `max_event_bytes` is left out of it
    (podium.storage.event_bounds)."""
    if session_id is not None:
        session_flow = yield from _session_in_app(app_id, session_id)
        flow = flow or session_flow
    artifact_id = new_id("art")
    yield execute(
        "INSERT INTO artifacts (id, app_id, session_id, type, flow, state, version, created_by, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
        artifact_id,
        app_id,
        session_id,
        type,
        flow,
        Json(state),
        actor,
        now,
        now,
    )
    yield execute(
        "INSERT INTO artifact_versions (artifact_id, version, patch, actor, created_at) "
        "VALUES (?, 1, ?, ?, ?)",
        artifact_id,
        Json(state),
        actor,
        now,
    )
    if session_id is not None:
        yield execute(
            "INSERT INTO session_artifacts (session_id, artifact_id, created_at) VALUES (?, ?, ?)",
            session_id,
            artifact_id,
            now,
        )
    data = {"artifact_id": artifact_id, "type": type, "flow": flow, "version": 1, "state": state}
    data = within_cap(data, max_event_bytes, artifact_url(app_id, artifact_id), ("state",))
    events = yield from append_events(
        app_id, [Event(names.ARTIFACT_CREATED, app_id, session_id, None, data)], now
    )
    record = ArtifactRecord(
        artifact_id,
        app_id,
        type,
        flow,
        session_id,
        state,
        1,
        actor,
        now,
        now,
        [session_id] if session_id else [],
    )
    return record, events


def get_artifact(app_id: str, artifact_id: str) -> Script:
    row = yield one("SELECT * FROM artifacts WHERE id = ? AND app_id = ?", artifact_id, app_id)
    if row is None:
        raise _not_found(artifact_id)
    attached = yield from _attached([artifact_id])
    return _artifact(row, attached[artifact_id])


def list_artifacts(
    app_id: str,
    *,
    session_id: str | None,
    type: str | None,
    limit: int,
    after: tuple[float, str] | None,
) -> Script:
    """The app's artifacts, oldest first; with `session_id`, those attached to the session
    (the one it was made in counts); `after` is the last (created_at, id) of a page."""
    sql = "SELECT a.* FROM artifacts a WHERE a.app_id = ?"
    args: list[Any] = [app_id]
    if session_id is not None:
        sql += (
            " AND EXISTS (SELECT 1 FROM session_artifacts sa WHERE sa.artifact_id = a.id "
            "AND sa.session_id = ?)"
        )
        args.append(session_id)
    if type is not None:
        sql += " AND a.type = ?"
        args.append(type)
    if after is not None:
        sql += " AND (a.created_at > ? OR (a.created_at = ? AND a.id > ?))"
        args += [after[0], after[0], after[1]]
    rows = yield all_rows(sql + " ORDER BY a.created_at, a.id LIMIT ?", *args, limit)
    attached = yield from _attached([row["id"] for row in rows])
    return [_artifact(row, attached[row["id"]]) for row in rows]


def attach_artifact(app_id: str, session_id: str, artifact_id: str, now: float) -> Script:
    """Attach the artifact to the session (again is a no-op); both must be the app's."""
    yield from _session_in_app(app_id, session_id)
    row = yield one("SELECT id FROM artifacts WHERE id = ? AND app_id = ?", artifact_id, app_id)
    if row is None:
        raise _not_found(artifact_id)
    yield execute(
        "INSERT INTO session_artifacts (session_id, artifact_id, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        session_id,
        artifact_id,
        now,
    )
    return (yield from get_artifact(app_id, artifact_id))


def patch_artifact(
    app_id: str,
    artifact_id: str,
    patch: dict[str, Any],
    expected_version: int | None,
    actor: str | None,
    now: float,
    dialect: str,
    max_state_bytes: int | None = None,
    max_event_bytes: int | None = None,
) -> Script:
    """Apply a merge patch as the next version; returns `(record, events)`. A patch that
    would make `artifact.state.updated` larger than `max_event_bytes` is left out of it.

    Raises:
        NotFound: the artifact is not the app's.
        PreconditionFailed: `expected_version` is given and is not the current version.
    """
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    row = yield one(
        f"SELECT * FROM artifacts WHERE id = ? AND app_id = ?{lock}", artifact_id, app_id
    )
    if row is None:
        raise _not_found(artifact_id)
    current = row["version"]
    if expected_version is not None and expected_version != current:
        raise PreconditionFailed(
            f"artifact {artifact_id} is at version {current}, not {expected_version}: it changed "
            f"meanwhile; read it again and send the patch with If-Match: {current}",
            details={"current_version": current, "expected_version": expected_version},
        )
    state = apply_merge_patch(loads(row["state"]), patch, max_state_bytes)
    version = current + 1
    changed = yield execute(
        "UPDATE artifacts SET state = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?",
        Json(state),
        version,
        now,
        artifact_id,
        current,
    )
    if not changed:  # cannot happen under the lock; never drop a patch silently
        raise Conflict(f"artifact {artifact_id} changed while the patch was applied; send it again")
    yield execute(
        "INSERT INTO artifact_versions (artifact_id, version, patch, actor, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        artifact_id,
        version,
        Json(patch),
        actor,
        now,
    )
    data = {"artifact_id": artifact_id, "version": version, "patch": patch, "actor": actor}
    data = within_cap(data, max_event_bytes, artifact_url(app_id, artifact_id), ("patch",))
    events = yield from append_events(
        app_id,
        [Event(names.ARTIFACT_STATE_UPDATED, app_id, row["session_id"], None, data)],
        now,
    )
    attached = yield from _attached([artifact_id])
    record = _artifact(row, attached[artifact_id])
    record.state, record.version, record.updated_at = state, version, now
    return record, events


def artifact_history(app_id: str, artifact_id: str, limit: int, after: int) -> Script:
    """The artifact's versions after `after`, oldest first: each one's patch and actor."""
    row = yield one("SELECT id FROM artifacts WHERE id = ? AND app_id = ?", artifact_id, app_id)
    if row is None:
        raise _not_found(artifact_id)
    rows = yield all_rows(
        "SELECT * FROM artifact_versions WHERE artifact_id = ? AND version > ? "
        "ORDER BY version LIMIT ?",
        artifact_id,
        after,
        limit,
    )
    return [
        ArtifactVersionRecord(
            r["artifact_id"], r["version"], loads(r["patch"]), r["actor"], r["created_at"]
        )
        for r in rows
    ]


def session_artifact_ids(app_id: str, session_id: str) -> Script:
    """The ids of the artifacts attached to the app's session, in the order attached."""
    rows = yield all_rows(
        "SELECT sa.artifact_id FROM session_artifacts sa JOIN artifacts a ON a.id = "
        "sa.artifact_id WHERE sa.session_id = ? AND a.app_id = ? ORDER BY sa.created_at, "
        "sa.artifact_id",
        session_id,
        app_id,
    )
    return [row["artifact_id"] for row in rows]
