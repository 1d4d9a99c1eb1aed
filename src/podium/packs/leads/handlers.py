"""Follow-ups of a lead: the pack's event handlers (`@subscribe`), run durably from the app's
event log once the pack is enabled:

- `sync_to_crm` (lead.submitted): the contact (found by e-mail, else created) and a deal in
  HubSpot;
- `notify_by_email` (lead.analyzed): an e-mail to the team (the app's SendGrid sender
  address) with the score, tier and reasoning;
- `propose_call` (lead.analyzed, hot and warm leads): a 30-minute qualification call in the
  app's Google Calendar on the next weekday at 10:00 UTC, with the lead invited.

Each goes through the integration's tool (`podium.tools.integrations`) with the app's
credentials, and records what it did in the lead's `followups` (`ok`, `skipped` when the
integration is not configured, `not_needed`, or `error`), with the event's id. Handlers run
at least once per event: a follow-up already recorded for this event is not done again, and
the CRM contact is looked up before it is created. An integration that answers an error
raises `FollowupFailed`, so the handler is retried and its failure shows.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from podium.events.envelope import Event
from podium.packs.base import subscribe
from podium.packs.leads.service import ANALYZED, SUBMITTED, Leads
from podium.packs.leads.tables import LeadRecord
from podium.storage.store import Store
from podium.tools.base import Tool, ToolContext, ToolOutcome
from podium.tools.integrations import google_calendar, hubspot, sendgrid

CALL_HOUR_UTC = 10
CALL_MINUTES = 30
DEAL_STAGE = "appointmentscheduled"  # HubSpot's default pipeline's first stage


class FollowupFailed(Exception):
    """An integration answered an error; the handler is retried."""


class FollowupContext(Protocol):
    """What a follow-up uses of its `HandlerContext` (podium.packs.base)."""

    app_id: str
    store: Store
    event_id: str | None

    async def credentials(self, service: str) -> dict[str, Any] | None: ...


@subscribe(SUBMITTED)
async def sync_to_crm(event: Event, ctx: FollowupContext) -> None:
    """lead.submitted → the contact and a deal in the CRM."""
    leads, lead = await _lead(event, ctx)
    if _done(lead, "crm", ctx.event_id):
        return
    tools = _Tools(ctx)
    found = await tools.call(hubspot.crm_search_contacts, query=lead.email)
    if found.status != "ok":
        return await _settle(leads, ctx, lead, "crm", found)
    matches = [r for r in found.result["results"] if r["properties"].get("email") == lead.email]
    if matches:
        contact_id = matches[0]["id"]
    else:
        first, _, last = lead.name.partition(" ")
        contact = await tools.call(
            hubspot.crm_create_contact,
            email=lead.email,
            firstname=first,
            lastname=last or None,
            company=lead.company,
        )
        if contact.status != "ok":
            return await _settle(leads, ctx, lead, "crm", contact)
        contact_id = contact.result["id"]
    deal = await tools.call(
        hubspot.crm_create_deal,
        dealname=f"{lead.company or lead.name}: {lead.service}",
        amount=lead.budget,
        dealstage=DEAL_STAGE,
        pipeline="default",
    )
    if deal.status != "ok":
        return await _settle(leads, ctx, lead, "crm", deal)
    done = {"contact_id": contact_id, "deal_id": deal.result["id"]}
    await _settle(leads, ctx, lead, "crm", deal, done)


@subscribe(ANALYZED)
async def notify_by_email(event: Event, ctx: FollowupContext) -> None:
    """lead.analyzed → an e-mail to the team with the analysis."""
    leads, lead = await _lead(event, ctx)
    if _done(lead, "email", ctx.event_id):
        return
    credentials = await ctx.credentials("sendgrid") or {}
    team = credentials.get("from_email")
    if not team:  # the tool would say the same; the team's address is the sender's
        unset = ToolOutcome("skipped", error="sendgrid not configured")
        return await _settle(leads, ctx, lead, "email", unset)
    sent = await _Tools(ctx).call(
        sendgrid.email_send,
        to=team,
        subject=f"New {lead.tier} lead: {lead.name} ({lead.score}/100)",
        body=email_body(lead),
    )
    await _settle(leads, ctx, lead, "email", sent, {"to": team} if sent.status == "ok" else None)


@subscribe(ANALYZED)
async def propose_call(event: Event, ctx: FollowupContext) -> None:
    """lead.analyzed → for a hot or warm lead, a qualification call in the calendar."""
    leads, lead = await _lead(event, ctx)
    if _done(lead, "calendar", ctx.event_id):
        return
    if lead.tier not in ("hot", "warm"):
        outcome = {"status": "not_needed", "reason": f"a {lead.tier} lead gets no call"}
        await leads.record_followup(ctx.app_id, lead.id, "calendar", _stamped(outcome, ctx))
        return
    start = call_slot(event.ts or time.time())
    end = start + timedelta(minutes=CALL_MINUTES)
    made = await _Tools(ctx).call(
        google_calendar.calendar_create_event,
        summary=f"Qualification call: {lead.name}" + (f" ({lead.company})" if lead.company else ""),
        start=start.isoformat(),
        end=end.isoformat(),
        description=f"Lead {lead.id}, {lead.service}, score {lead.score}/100 ({lead.tier}).",
        attendees=[lead.email],
    )
    done = None
    if made.status == "ok":
        done = {"calendar_event_id": made.result.get("id"), "start": start.isoformat()}
    await _settle(leads, ctx, lead, "calendar", made, done)


def call_slot(ts: float) -> datetime:
    """The next weekday after `ts` at CALL_HOUR_UTC (UTC): the same for every retry of an
    event, so a retried proposal proposes the same slot."""
    day = datetime.fromtimestamp(ts, UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:  # Saturday, Sunday
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, CALL_HOUR_UTC, tzinfo=UTC)


def email_body(lead: LeadRecord) -> str:
    lines = [
        f"{lead.name} <{lead.email}>" + (f", {lead.company}" if lead.company else ""),
        f"Service: {lead.service}; budget: "
        + (f"${lead.budget:,}" if lead.budget is not None else "not given"),
        f"Score: {lead.score}/100 ({lead.tier})",
        "",
        *(f"- {f['factor']}: {f['points']}/{f['max']} ({f['why']})" for f in lead.reasoning or []),
        "",
        f"Their message: {lead.message}",
    ]
    return "\n".join(lines)


class _Tools:
    """Calls integration tools with the app's credentials, as an agent's tool call would."""

    def __init__(self, ctx: FollowupContext) -> None:
        self.context = ToolContext(ctx.app_id, credentials_lookup=ctx.credentials)

    async def call(self, tool: Tool, **arguments: Any) -> ToolOutcome:
        given = {key: value for key, value in arguments.items() if value is not None}
        return await tool.execute(json.dumps(given), self.context)


async def _lead(event: Event, ctx: FollowupContext) -> tuple[Leads, LeadRecord]:
    leads = Leads(ctx.store)
    return leads, await leads.get(ctx.app_id, str(event.data["lead_id"]))


def _done(lead: LeadRecord, kind: str, event_id: str | None) -> bool:
    """Whether this event's follow-up of this kind is already recorded (not as an error)."""
    previous = lead.followups.get(kind) or {}
    return bool(previous.get("event_id") == event_id and previous.get("status") != "error")


def _stamped(outcome: dict[str, Any], ctx: FollowupContext) -> dict[str, Any]:
    return {**outcome, "event_id": ctx.event_id, "at": time.time()}


async def _settle(
    leads: Leads,
    ctx: FollowupContext,
    lead: LeadRecord,
    kind: str,
    outcome: ToolOutcome,
    done: dict[str, Any] | None = None,
) -> None:
    """Record the follow-up's outcome; raise FollowupFailed on an error so it is retried."""
    if outcome.status == "ok":
        recorded = {"status": "ok", **(done or {})}
    elif outcome.status == "skipped":
        recorded = {"status": "skipped", "reason": outcome.error}
    else:
        recorded = {"status": "error", "error": outcome.error}
    await leads.record_followup(ctx.app_id, lead.id, kind, _stamped(recorded, ctx))
    if outcome.status == "error":
        raise FollowupFailed(f"{kind} follow-up of lead {lead.id}: {outcome.error}")
