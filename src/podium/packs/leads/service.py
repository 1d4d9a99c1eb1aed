"""Leads: submit, read, list and analyze — what the routes, the analysis flow's nodes and the
follow-up handlers call. Everything is scoped to one app.

Events (into the app's durable log, which the pack's handlers follow):
    lead.submitted  {lead_id, service, budget}
    lead.analyzed   {lead_id, score, tier}
"""

from __future__ import annotations

import os
import time
from typing import Any

from podium.events.envelope import Event
from podium.ids import ulid_string
from podium.packs.leads import tables
from podium.packs.leads.rubric import Score, score_lead
from podium.packs.leads.schemas import LeadCreate
from podium.packs.leads.tables import LeadFilter, LeadRecord
from podium.sessions.service import decode_cursor, encode_cursor
from podium.storage.store import Store

SUBMITTED = "lead.submitted"
ANALYZED = "lead.analyzed"
ANALYSIS_FLOW = "leads_qualify"
MAX_NOTES = 4000  # characters of the agent's notes kept with the lead


def new_lead_id() -> str:
    """`lead_` and a lower-case ULID, like the core's ids (whose prefixes are the core's)."""
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"lead_{ulid_string(time.time_ns() // 1_000_000, randomness)}"


class Leads:
    """The leads of every app in one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def submit(self, app_id: str, lead: LeadCreate, submitted_by: str | None) -> LeadRecord:
        """Store a validated lead and emit `lead.submitted`.

        The row and the event are two transactions: a process that dies between them leaves
        a lead whose follow-ups never run (analyzing it still emits `lead.analyzed`)."""
        fields = lead.model_dump()
        lead_id = new_lead_id()
        record: LeadRecord = await self.store.run_script(
            lambda: tables.insert_lead(app_id, lead_id, fields, submitted_by, time.time())
        )
        data = {"lead_id": record.id, "service": record.service, "budget": record.budget}
        await self.store.append_events(app_id, [Event(SUBMITTED, app_id, None, None, data)])
        return record

    async def get(self, app_id: str, lead_id: str) -> LeadRecord:
        record: LeadRecord = await self.store.run_read(lambda: tables.get_lead(app_id, lead_id))
        return record

    async def list(
        self, app_id: str, where: LeadFilter, limit: int, cursor: str | None
    ) -> tuple[list[LeadRecord], str | None]:
        """A page of leads, newest first, and the cursor of the next page (None at the end)."""
        after = decode_cursor(cursor)
        records: list[LeadRecord] = await self.store.run_read(
            lambda: tables.list_leads(app_id, where, limit + 1, after)
        )
        more = len(records) > limit
        records = records[:limit]
        last = records[-1] if more else None
        return records, encode_cursor(last.created_at, last.id) if last else None

    async def start_analysis(
        self, app_id: str, lead_id: str, session_id: str, requested_at: float
    ) -> None:
        """Mark the lead `analyzing` by this session, unless the session's run (already
        queued) analyzed it since `requested_at`."""
        await self.store.run_script(
            lambda: tables.start_analysis(app_id, lead_id, session_id, requested_at, time.time())
        )

    async def record_analysis(
        self, app_id: str, lead_id: str, agent_notes: str | None
    ) -> tuple[LeadRecord, Score]:
        """Score the stored lead with the rubric and store the analysis with the agent's
        notes (status `analyzed`)."""
        lead = await self.get(app_id, lead_id)
        score = score_lead(lead.rubric_input())
        notes = agent_notes[:MAX_NOTES] if agent_notes else None
        record: LeadRecord = await self.store.run_script(
            lambda: tables.record_analysis(
                app_id, lead_id, score.score, score.tier, score.reasoning(), notes, time.time()
            )
        )
        return record, score

    async def record_followup(
        self, app_id: str, lead_id: str, kind: str, outcome: dict[str, Any]
    ) -> dict[str, Any]:
        followups: dict[str, Any] = await self.store.run_script(
            lambda: tables.record_followup(
                app_id, lead_id, kind, outcome, time.time(), self.store.dialect
            )
        )
        return followups


def analysis_prompt(lead: LeadRecord, score: Score) -> str:
    """The task of the lead_qualification agent: the lead, and the rubric's score to check."""
    lines = [
        "Qualify this sales lead in three short sentences: what they need, how ready they "
        "are to buy (budget, authority, need, timeline) and the next step.",
        f"Name: {lead.name}",
        f"Company: {lead.company or '(none given)'}",
        f"Service: {lead.service}",
        f"Budget: {'$' + format(lead.budget, ',') if lead.budget is not None else '(none given)'}",
        f"Message: {lead.message}",
        f"Rubric score: {score.summary()}",
    ]
    return "\n".join(lines)
