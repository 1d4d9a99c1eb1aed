"""The PixelCraft seed's per-agent tools, built on the HubSpot, SendGrid and Google Calendar
integrations (DESIGN: packs; seed 001):

    web_development      create_project_lead, schedule_technical_consultation
    digital_marketing    create_marketing_lead, send_marketing_proposal, schedule_strategy_session
    lead_qualification   sync_lead_to_crm, send_qualification_notification,
                         schedule_qualification_call

Each degrades as the integrations do: a service that is not configured answers `skipped:
<service> not configured` (and a tool that needs two services does what the configured one
can, saying what it skipped). A meeting without a `start` is proposed for the next weekday at
10:00 UTC. Code (a pack's event handler, say) calls them as any tool:
`await sync_lead_to_crm.execute(json.dumps(arguments), ToolContext(...))`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from podium.tools.base import Tool, ToolContext, tool
from podium.tools.integrations import google_calendar, hubspot, sendgrid

TAGS = ("integration", "leads")
Text = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Start = Annotated[
    str,
    Field(
        max_length=40,
        description='when it starts, RFC 3339 with an offset, e.g. "2025-03-03T10:00:00Z"; '
        "the next weekday at 10:00 UTC when omitted",
    ),
]
Minutes = Annotated[int, Field(ge=15, le=480)]
Score = Annotated[int, Field(ge=0, le=100)]
Budget = Annotated[float, Field(ge=0, le=1e12)]
# HubSpot's lifecycle stages a qualification maps to (standard property values).
LIFECYCLE = {"hot": "salesqualifiedlead", "warm": "marketingqualifiedlead", "cold": "lead"}


def _split(name: str | None) -> tuple[str | None, str | None]:
    if not name or not name.strip():
        return None, None
    first, _, last = name.strip().partition(" ")
    return first, last.strip() or None


def next_slot(now: datetime | None = None) -> datetime:
    """The next weekday (after today) at 10:00 UTC: a slot to propose."""
    day = (now or datetime.now(UTC)).astimezone(UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def _times(start: str | None, minutes: int) -> tuple[str, str]:
    if start is None:
        begin = next_slot()
    else:
        try:
            begin = datetime.fromisoformat(start)
        except ValueError:
            raise ValueError(
                f"start {start!r} is not an RFC 3339 time, e.g. '2025-03-03T10:00:00Z'"
            ) from None
        if begin.tzinfo is None:
            raise ValueError(f"start {start!r} needs an offset, e.g. 'Z' or '+01:00'")
    end = begin + timedelta(minutes=minutes)
    return begin.isoformat(), end.isoformat()


async def _call(item: Tool, ctx: ToolContext, **arguments: Any) -> Any:
    """Run an integration tool's function: its result, or ToolSkipped / its error raised."""
    return await item.invoke_fn({k: v for k, v in arguments.items() if v is not None}, ctx)


async def _contact(
    ctx: ToolContext, email: str, name: str | None, **more: str | None
) -> dict[str, Any]:
    """The CRM contact with this email: found by a search, else created."""
    found = await _call(hubspot.crm_search_contacts, ctx, query=email)
    for result in found.get("results") or []:
        if str(result["properties"].get("email", "")).lower() == email.lower():
            return {**result, "created": False}
    first, last = _split(name)
    given = {"email": email, "firstname": first, "lastname": last, **more}
    properties = {key: value for key, value in given.items() if value is not None}
    made = await hubspot._post(ctx, "/crm/v3/objects/contacts", {"properties": properties})
    return {**hubspot._compact(made), "created": True}


async def _deal(
    ctx: ToolContext, dealname: str, contact_id: Any, amount: float | None
) -> dict[str, Any]:
    properties = {"dealname": dealname[:200], "pipeline": "default"}
    properties["dealstage"] = "appointmentscheduled"
    if amount is not None:
        properties["amount"] = hubspot._amount(float(amount))
    body: dict[str, Any] = {"properties": properties}
    if contact_id is not None:
        association = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
        # 3: HubSpot's association type of a deal to its contact
        body["associations"] = [{"to": {"id": str(contact_id)}, "types": [association]}]
    return hubspot._compact(await hubspot._post(ctx, "/crm/v3/objects/deals", body))


async def _meeting(
    ctx: ToolContext,
    summary: str,
    email: str,
    start: str | None,
    minutes: int,
    description: str | None,
) -> dict[str, Any]:
    begin, end = _times(start, minutes)
    event = await _call(
        google_calendar.calendar_create_event,
        ctx,
        summary=summary[:200],
        start=begin,
        end=end,
        description=description,
        attendees=[email],
    )
    return {"scheduled": True, "event": event}


async def _email(ctx: ToolContext, to: str, subject: str, body: str) -> dict[str, Any]:
    sent = await _call(sendgrid.email_send, ctx, to=to, subject=subject[:200], body=body)
    return {"sent": True, "to": to, "message_id": sent.get("message_id")}


async def _lead(
    ctx: ToolContext,
    kind: str,
    name: str,
    email: str,
    company: str | None,
    budget: float | None,
    phone: str | None = None,
) -> dict[str, Any]:
    contact = await _contact(ctx, email, name, company=company, phone=phone)
    deal = await _deal(ctx, f"{kind}: {company or name}", contact.get("id"), budget)
    return {"contact": contact, "deal": deal}


@tool(tags=TAGS)
async def create_project_lead(
    ctx: ToolContext,
    name: Text,
    email: Email,
    project_type: Text,
    company: Text | None = None,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """Record a web project lead in the CRM: the client's contact (found or created) and a
    deal for the project.

    Args:
        name: The client's full name.
        email: The client's email address.
        project_type: What is to be built, e.g. "e-commerce site".
        company: The client's company.
        budget: The project's budget, in the account's currency.
    """
    return await _lead(ctx, f"Web project ({project_type})", name, email, company, budget)


@tool(tags=TAGS)
async def schedule_technical_consultation(
    ctx: ToolContext,
    email: Email,
    start: Start | None = None,
    duration_minutes: Minutes = 45,
    topic: LongText | None = None,
) -> dict[str, Any]:
    """Put a technical consultation with the client in the calendar (they are invited).

    Args:
        email: The client's email address.
        start: When it starts, RFC 3339 with an offset (the next weekday at 10:00 UTC when
            omitted).
        duration_minutes: How long it lasts (15 to 480).
        topic: What is to be discussed.
    """
    return await _meeting(ctx, "Technical consultation", email, start, duration_minutes, topic)


@tool(tags=TAGS)
async def create_marketing_lead(
    ctx: ToolContext,
    name: Text,
    email: Email,
    services: Annotated[list[Text], Field(max_length=20)],
    company: Text | None = None,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """Record a marketing lead in the CRM: the contact (found or created) and a deal for
    the services wanted.

    Args:
        name: The contact's full name.
        email: The contact's email address.
        services: The marketing services wanted, e.g. ["SEO", "paid social"].
        company: The contact's company.
        budget: The budget, in the account's currency.
    """
    kind = f"Marketing ({', '.join(services) or 'services'})"
    return await _lead(ctx, kind, name, email, company, budget)


@tool(tags=TAGS)
async def send_marketing_proposal(
    ctx: ToolContext,
    to: Email,
    name: Text,
    proposal: LongText,
    company: Text | None = None,
) -> dict[str, Any]:
    """E-mail a marketing proposal to a prospect.

    Args:
        to: The prospect's email address.
        name: The prospect's name, for the greeting.
        proposal: The proposal: the plan, the services and their price.
        company: The prospect's company, for the subject.
    """
    subject = f"Your marketing proposal{f' for {company}' if company else ''}"
    return await _email(ctx, to, subject, f"Dear {name},\n\n{proposal}\n")


@tool(tags=TAGS)
async def schedule_strategy_session(
    ctx: ToolContext,
    email: Email,
    start: Start | None = None,
    duration_minutes: Minutes = 60,
    agenda: LongText | None = None,
) -> dict[str, Any]:
    """Put a marketing strategy session with the prospect in the calendar (they are
    invited).

    Args:
        email: The prospect's email address.
        start: When it starts, RFC 3339 with an offset (the next weekday at 10:00 UTC when
            omitted).
        duration_minutes: How long it lasts (15 to 480).
        agenda: What the session covers.
    """
    return await _meeting(ctx, "Strategy session", email, start, duration_minutes, agenda)


@tool(tags=TAGS)
async def sync_lead_to_crm(
    ctx: ToolContext,
    name: Text,
    email: Email,
    score: Score,
    tier: Annotated[str, Field(pattern=r"^(hot|warm|cold)$")],
    company: Text | None = None,
    phone: Annotated[str, Field(max_length=40)] | None = None,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """Record a qualified lead in the CRM: the contact (found or created) at the lifecycle
    stage its tier means, and a deal named with its score.

    Args:
        name: The lead's full name.
        email: The lead's email address.
        score: The qualification score, 0 to 100.
        tier: hot, warm or cold.
        company: The lead's company.
        phone: The lead's phone number.
        budget: The lead's budget, in the account's currency.
    """
    contact = await _contact(
        ctx, email, name, company=company, phone=phone, lifecyclestage=LIFECYCLE[tier]
    )
    deal_name = f"Lead: {company or name} (score {score}, {tier})"
    deal = await _deal(ctx, deal_name, contact.get("id"), budget)
    return {"contact": contact, "deal": deal, "score": score, "tier": tier}


@tool(tags=TAGS)
async def send_qualification_notification(
    ctx: ToolContext,
    to: Email,
    lead_name: Text,
    score: Score,
    tier: Annotated[str, Field(pattern=r"^(hot|warm|cold)$")],
    reasoning: LongText = "",
    lead_email: Email | None = None,
) -> dict[str, Any]:
    """E-mail the sales team that a lead was qualified: its score, tier and why.

    Args:
        to: Who to notify (the sales team's address).
        lead_name: The lead's name.
        score: The qualification score, 0 to 100.
        tier: hot, warm or cold.
        reasoning: Why the lead scored so.
        lead_email: The lead's email address, to reach them.
    """
    contact = f" ({lead_email})" if lead_email else ""
    body = f"Lead: {lead_name}{contact}\nScore: {score}/100 ({tier})\n\n{reasoning}".rstrip()
    subject = f"New {tier} lead: {lead_name} ({score}/100)"
    return await _email(ctx, to, subject, body + "\n")


@tool(tags=TAGS)
async def schedule_qualification_call(
    ctx: ToolContext,
    email: Email,
    start: Start | None = None,
    duration_minutes: Minutes = 30,
    notes: LongText | None = None,
) -> dict[str, Any]:
    """Put a qualification call with the lead in the calendar (they are invited).

    Args:
        email: The lead's email address.
        start: When it starts, RFC 3339 with an offset (the next weekday at 10:00 UTC when
            omitted).
        duration_minutes: How long it lasts (15 to 480).
        notes: What to ask or confirm on the call.
    """
    return await _meeting(ctx, "Qualification call", email, start, duration_minutes, notes)


TOOLS: list[Tool] = [
    create_project_lead,
    schedule_technical_consultation,
    create_marketing_lead,
    send_marketing_proposal,
    schedule_strategy_session,
    sync_lead_to_crm,
    send_qualification_notification,
    schedule_qualification_call,
]
