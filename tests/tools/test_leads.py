"""The seed's per-agent tools against the fakes of HubSpot, SendGrid and Google Calendar: what
goes on the wire, and `skipped: <service> not configured` when a service is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from podium.agents.builtin import BUILTIN_AGENTS
from podium.tools.base import DEFAULT, Tool, ToolContext
from podium.tools.integrations.leads import (
    TOOLS,
    create_marketing_lead,
    create_project_lead,
    next_slot,
    schedule_qualification_call,
    schedule_strategy_session,
    schedule_technical_consultation,
    send_marketing_proposal,
    send_qualification_notification,
    sync_lead_to_crm,
)
from support.fake_services import FakeService

LEAD = {"name": "Ada Lovelace", "email": "ada@example.com"}
# Each tool, the service it needs first, and arguments that make a valid call.
CALLS: list[tuple[Tool, str, dict[str, Any]]] = [
    (create_project_lead, "hubspot", {**LEAD, "project_type": "e-commerce site"}),
    (schedule_technical_consultation, "google_calendar", {"email": LEAD["email"]}),
    (create_marketing_lead, "hubspot", {**LEAD, "services": ["SEO"]}),
    (
        send_marketing_proposal,
        "sendgrid",
        {"to": LEAD["email"], "name": "Ada", "proposal": "SEO for 3 months: 3000 EUR."},
    ),
    (schedule_strategy_session, "google_calendar", {"email": LEAD["email"]}),
    (sync_lead_to_crm, "hubspot", {**LEAD, "score": 82, "tier": "hot"}),
    (
        send_qualification_notification,
        "sendgrid",
        {"to": "sales@example.com", "lead_name": "Ada", "score": 82, "tier": "hot"},
    ),
    (schedule_qualification_call, "google_calendar", {"email": LEAD["email"]}),
]
IDS = [t.name for t, _, _ in CALLS]


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


def configured(svc: FakeService) -> ToolContext:
    return ToolContext(app_id="app_x", credentials_lookup=svc.credentials_lookup())


async def run(item: Tool, ctx: ToolContext, **arguments: Any) -> Any:
    outcome = await item.execute(json.dumps(arguments), ctx)
    assert outcome.status == "ok", outcome.error
    return outcome.result


def test_the_seed_names_each_tool_and_its_agent_has_it() -> None:
    assert sorted(t.name for t in TOOLS) == sorted(IDS)
    for item in TOOLS:
        assert DEFAULT.get(item.name) is item and item.tags == ("integration", "leads")
    owners = {
        "web_development": ["create_project_lead", "schedule_technical_consultation"],
        "digital_marketing": [
            "create_marketing_lead",
            "send_marketing_proposal",
            "schedule_strategy_session",
        ],
        "lead_qualification": [
            "sync_lead_to_crm",
            "send_qualification_notification",
            "schedule_qualification_call",
        ],
    }
    for agent, tools in owners.items():
        assert set(tools) <= set(BUILTIN_AGENTS[agent].tools), agent


@pytest.mark.parametrize(("item", "service", "arguments"), CALLS, ids=IDS)
async def test_an_unconfigured_service_is_skipped(
    item: Tool, service: str, arguments: dict[str, Any]
) -> None:
    outcome = await item.execute(json.dumps(arguments), ToolContext(app_id="app_x"))
    assert (outcome.status, outcome.for_model()) == (
        "skipped",
        f"skipped: {service} not configured",
    )


async def test_sync_lead_to_crm_creates_the_contact_then_finds_it(svc: FakeService) -> None:
    ctx = configured(svc)
    result = await run(
        sync_lead_to_crm,
        ctx,
        **LEAD,
        company="Analytical Engines",
        score=82,
        tier="hot",
        budget=15000,
    )
    search, contact, deal = svc.requests
    assert (search.path, search.body) == (
        "/crm/v3/objects/contacts/search",
        {"query": "ada@example.com", "limit": 10},
    )
    assert (contact.method, contact.path) == ("POST", "/crm/v3/objects/contacts")
    assert contact.body == {
        "properties": {
            "email": "ada@example.com",
            "firstname": "Ada",
            "lastname": "Lovelace",
            "company": "Analytical Engines",
            "lifecyclestage": "salesqualifiedlead",
        }
    }
    contact_id = svc.contacts[0]["id"]
    assert deal.body == {
        "properties": {
            "dealname": "Lead: Analytical Engines (score 82, hot)",
            "pipeline": "default",
            "dealstage": "appointmentscheduled",
            "amount": "15000",
        },
        "associations": [
            {
                "to": {"id": contact_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ],
    }
    assert result["contact"]["created"] is True and result["contact"]["id"] == contact_id
    assert (result["score"], result["tier"]) == (82, "hot")

    again = await run(sync_lead_to_crm, ctx, **LEAD, score=40, tier="cold")
    assert again["contact"] == {**result["contact"], "created": False}
    assert len(svc.contacts) == 1 and len(svc.deals) == 2
    assert svc.last.body["properties"]["dealname"] == "Lead: Ada Lovelace (score 40, cold)"


async def test_project_and_marketing_leads(svc: FakeService) -> None:
    ctx = configured(svc)
    project = await run(create_project_lead, ctx, **LEAD, project_type="e-commerce site")
    assert (
        project["deal"]["properties"]["dealname"] == "Web project (e-commerce site): Ada Lovelace"
    )
    marketing = await run(
        create_marketing_lead, ctx, **LEAD, services=["SEO", "paid social"], company="AE"
    )
    assert marketing["contact"]["created"] is False  # the same person
    assert marketing["deal"]["properties"]["dealname"] == "Marketing (SEO, paid social): AE"


@pytest.mark.parametrize(
    ("item", "summary", "minutes"),
    [
        (schedule_technical_consultation, "Technical consultation", 45),
        (schedule_strategy_session, "Strategy session", 60),
        (schedule_qualification_call, "Qualification call", 30),
    ],
)
async def test_meetings_invite_the_lead(
    svc: FakeService, item: Tool, summary: str, minutes: int
) -> None:
    ctx = configured(svc)
    result = await run(item, ctx, email="ada@example.com", start="2025-03-03T10:00:00+01:00")
    request = svc.last
    assert (request.method, request.path) == ("POST", "/calendar/v3/calendars/primary/events")
    end = f"2025-03-03T{10 + minutes // 60:02d}:{minutes % 60:02d}:00+01:00"
    assert request.body == {
        "summary": summary,
        "start": {"dateTime": "2025-03-03T10:00:00+01:00"},
        "end": {"dateTime": end},
        "attendees": [{"email": "ada@example.com"}],
    }
    assert result["scheduled"] is True and result["event"]["attendees"] == ["ada@example.com"]
    # without a start: the next weekday at 10:00 UTC is proposed
    before = next_slot()
    await run(item, ctx, email="ada@example.com")
    proposed = datetime.fromisoformat(svc.last.body["start"]["dateTime"])
    assert proposed in (before, next_slot()) and proposed.weekday() < 5  # (midnight between)


def test_the_proposed_slot_skips_the_weekend() -> None:
    friday = datetime(2025, 3, 7, 18, tzinfo=UTC)
    assert next_slot(friday) == datetime(2025, 3, 10, 10, tzinfo=UTC)
    assert next_slot(datetime(2025, 3, 4, 9, tzinfo=UTC)) == datetime(2025, 3, 5, 10, tzinfo=UTC)


async def test_the_e_mails(svc: FakeService) -> None:
    ctx = configured(svc)
    await run(
        send_qualification_notification,
        ctx,
        to="sales@example.com",
        lead_name="Ada",
        lead_email="ada@example.com",
        score=82,
        tier="hot",
        reasoning="Budget and timeline fit.",
    )
    message = svc.sent[-1]
    assert message["subject"] == "New hot lead: Ada (82/100)"
    assert message["personalizations"] == [{"to": [{"email": "sales@example.com"}]}]
    assert message["content"] == [
        {
            "type": "text/plain",
            "value": "Lead: Ada (ada@example.com)\nScore: 82/100 (hot)\n\n"
            "Budget and timeline fit.\n",
        }
    ]
    sent = await run(
        send_marketing_proposal,
        ctx,
        to="ada@example.com",
        name="Ada",
        proposal="SEO.",
        company="AE",
    )
    assert sent == {"sent": True, "to": "ada@example.com", "message_id": svc.sent[-1]["message_id"]}
    assert svc.sent[-1]["subject"] == "Your marketing proposal for AE"
    assert svc.sent[-1]["content"][0]["value"] == "Dear Ada,\n\nSEO.\n"


async def test_a_failing_service_is_an_error_the_model_reads(svc: FakeService) -> None:
    svc.fail_next(401)
    outcome = await sync_lead_to_crm.execute(
        json.dumps({**LEAD, "score": 1, "tier": "cold"}), configured(svc)
    )
    assert (outcome.status, outcome.error) == (
        "error",
        "IntegrationError: hubspot answered HTTP 401 Unauthorized",
    )
    assert svc.contacts == []


@pytest.mark.parametrize(
    ("item", "arguments", "problem"),
    [
        (sync_lead_to_crm, {**LEAD, "score": 101, "tier": "hot"}, "score: Input should be less"),
        (sync_lead_to_crm, {**LEAD, "score": 5, "tier": "lukewarm"}, "tier: String should match"),
        (create_project_lead, {**LEAD, "email": "not-an-email", "project_type": "x"}, "email:"),
        (schedule_qualification_call, {"email": "a@b.c", "start": "tomorrow"}, "not an RFC 3339"),
        (schedule_qualification_call, {"email": "a@b.c", "start": "2025-03-03T10:00"}, "offset"),
        (schedule_qualification_call, {"email": "a@b.c", "duration_minutes": 600}, "duration"),
        (create_marketing_lead, {**LEAD, "services": ["x"] * 21}, "services:"),
    ],
)
async def test_bad_arguments_are_refused_before_any_call(
    svc: FakeService, item: Tool, arguments: dict[str, Any], problem: str
) -> None:
    outcome = await item.execute(json.dumps(arguments), configured(svc))
    assert outcome.status == "error" and problem in (outcome.error or ""), outcome.error
    assert svc.requests == []
