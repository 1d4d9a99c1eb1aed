"""Node code of the analysis flow (flows/leads_qualify.json): read the lead and score it,
let the `lead_qualification` agent comment, store both and emit `lead.analyzed`.

The reads and writes are recorded calls (`ctx.step`), so a step that runs again after a
crash does not write twice; `lead.analyzed` is written with the step's end.
"""

from __future__ import annotations

from typing import Any

from podium.engine.context import Context
from podium.packs.leads.rubric import score_lead
from podium.packs.leads.service import ANALYZED, Leads, analysis_prompt
from podium.packs.leads.tables import LeadRecord


async def prepare(ctx: Context) -> dict[str, Any]:
    """The agent's task: the lead and the rubric's score."""
    lead_id = str(ctx.state["lead_id"])

    async def read() -> dict[str, Any]:
        return (await Leads(ctx.store).get(ctx.app_id, lead_id)).to_json()

    lead = LeadRecord(**await ctx.step("leads.read", read))
    return {"prompt": analysis_prompt(lead, score_lead(lead.rubric_input()))}


async def record(ctx: Context) -> dict[str, Any]:
    """Store the rubric's score, tier and reasoning with the agent's notes; emit
    `lead.analyzed`. When the agent failed (the node continues on error) the notes are
    null and the score stands."""
    lead_id = str(ctx.state["lead_id"])
    notes = ctx.state.get("agent_notes")

    async def store() -> dict[str, Any]:
        lead, _ = await Leads(ctx.store).record_analysis(
            ctx.app_id, lead_id, notes if isinstance(notes, str) else None
        )
        return {"score": lead.score, "tier": lead.tier}

    result: dict[str, Any] = await ctx.step("leads.record_analysis", store)
    ctx.emit(ANALYZED, {"lead_id": lead_id, **result})
    return result
