"""Transactions of the `leads_leads` table, as storage scripts (`podium.storage.script`):
written once, run by SQLite and PostgreSQL alike. Every statement filters on `app_id`, so
a lead of another app is never read, changed or counted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import NotFound
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one

TABLE = "leads_leads"


@dataclass(slots=True)
class LeadRecord:
    id: str
    app_id: str
    name: str
    email: str
    company: str | None
    message: str
    service: str
    budget: int | None
    status: str
    score: int | None
    tier: str | None
    reasoning: list[dict[str, Any]] | None
    agent_notes: str | None
    analysis_session_id: str | None
    followups: dict[str, Any]
    submitted_by: str | None
    created_at: float
    updated_at: float
    analyzed_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def rubric_input(self) -> dict[str, Any]:
        """What the scoring rubric reads."""
        return {
            "budget": self.budget,
            "service": self.service,
            "message": self.message,
            "company": self.company,
            "email": self.email,
        }


def _lead(row: Row) -> LeadRecord:
    return LeadRecord(
        id=row["id"],
        app_id=row["app_id"],
        name=row["name"],
        email=row["email"],
        company=row["company"],
        message=row["message"],
        service=row["service"],
        budget=row["budget"],
        status=row["status"],
        score=row["score"],
        tier=row["tier"],
        reasoning=loads(row["reasoning"]),
        agent_notes=row["agent_notes"],
        analysis_session_id=row["analysis_session_id"],
        followups=loads(row["followups"]) or {},
        submitted_by=row["submitted_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        analyzed_at=row["analyzed_at"],
    )


def insert_lead(
    app_id: str, lead_id: str, fields: dict[str, Any], submitted_by: str | None, now: float
) -> Script:
    """Store a new lead (status `new`); `fields` are LeadCreate's, validated."""
    yield execute(
        f"INSERT INTO {TABLE} (id, app_id, name, email, company, message, service, budget, "
        "status, followups, submitted_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?)",
        lead_id,
        app_id,
        fields["name"],
        fields["email"],
        fields.get("company"),
        fields["message"],
        fields["service"],
        fields.get("budget"),
        Json({}),
        submitted_by,
        now,
        now,
    )
    row = yield one(f"SELECT * FROM {TABLE} WHERE app_id = ? AND id = ?", app_id, lead_id)
    return _lead(row)


def get_lead(app_id: str, lead_id: str) -> Script:
    row = yield one(f"SELECT * FROM {TABLE} WHERE app_id = ? AND id = ?", app_id, lead_id)
    if row is None:
        raise NotFound(
            f"no lead {lead_id[:60]!r} in this app; list them with GET /packs/leads/leads"
        )
    return _lead(row)


@dataclass(frozen=True, slots=True)
class LeadFilter:
    status: str | None = None
    service: str | None = None
    min_score: int | None = None
    max_score: int | None = None


def list_leads(
    app_id: str, where: LeadFilter, limit: int, after: tuple[float, str] | None
) -> Script:
    """Up to `limit` leads of the app, newest first, after the cursor `(created_at, id)`."""
    clauses = ["app_id = ?"]
    args: list[Any] = [app_id]
    if where.status is not None:
        clauses.append("status = ?")
        args.append(where.status)
    if where.service is not None:
        clauses.append("service = ?")
        args.append(where.service)
    # A score range leaves out leads not yet scored (their score is null).
    if where.min_score is not None:
        clauses.append("score >= ?")
        args.append(where.min_score)
    if where.max_score is not None:
        clauses.append("score <= ?")
        args.append(where.max_score)
    if after is not None:
        clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args += [after[0], after[0], after[1]]
    rows = yield all_rows(
        f"SELECT * FROM {TABLE} WHERE {' AND '.join(clauses)} "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        *args,
        limit,
    )
    return [_lead(row) for row in rows]


def start_analysis(
    app_id: str, lead_id: str, session_id: str, requested_at: float, now: float
) -> Script:
    """Mark the lead `analyzing` by the session that analyzes it. The session's run is
    queued before this, and may have finished already: an analysis stored since
    `requested_at` keeps its `analyzed` status."""
    changed = yield execute(
        f"UPDATE {TABLE} SET analysis_session_id = ?, updated_at = ?, status = CASE "
        "WHEN analyzed_at IS NOT NULL AND analyzed_at >= ? THEN status ELSE 'analyzing' END "
        "WHERE app_id = ? AND id = ?",
        session_id,
        now,
        requested_at,
        app_id,
        lead_id,
    )
    if not changed:
        raise NotFound(f"no lead {lead_id[:60]!r} in this app")
    return None


def record_analysis(
    app_id: str,
    lead_id: str,
    score: int,
    tier: str,
    reasoning: list[dict[str, Any]],
    agent_notes: str | None,
    now: float,
) -> Script:
    """Store the analysis (status `analyzed`); analyzing again replaces it."""
    yield execute(
        f"UPDATE {TABLE} SET status = 'analyzed', score = ?, tier = ?, reasoning = ?, "
        "agent_notes = ?, analyzed_at = ?, updated_at = ? WHERE app_id = ? AND id = ?",
        score,
        tier,
        Json(reasoning),
        agent_notes,
        now,
        now,
        app_id,
        lead_id,
    )
    return (yield from get_lead(app_id, lead_id))


def record_followup(
    app_id: str, lead_id: str, kind: str, outcome: dict[str, Any], now: float, dialect: str
) -> Script:
    """Set `followups[kind]` (crm, email, calendar) to what a handler did. Read and written
    in one transaction, so two handlers finishing at once do not undo each other (SQLite
    writes one transaction at a time; PostgreSQL locks the row with FOR UPDATE)."""
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    row = yield one(
        f"SELECT followups FROM {TABLE} WHERE app_id = ? AND id = ?{lock}", app_id, lead_id
    )
    if row is None:
        raise NotFound(f"no lead {lead_id[:60]!r} in this app")
    followups = loads(row["followups"]) or {}
    followups[kind] = outcome
    yield execute(
        f"UPDATE {TABLE} SET followups = ?, updated_at = ? WHERE app_id = ? AND id = ?",
        Json(followups),
        now,
        app_id,
        lead_id,
    )
    return followups
