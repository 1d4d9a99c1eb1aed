"""The leads follow-ups against the fake HubSpot, SendGrid and Google Calendar on loopback
(tests/support/fake_services.py): what goes on the wire, what is recorded on the lead,
skipped when an integration is not configured, retried (raised) on an error, and done once
per event when a handler runs again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.conftest import fast_settings

from podium import egress
from podium.config import Settings
from podium.events.envelope import Event
from podium.packs.base import HandlerContext, PackContext
from podium.packs.leads import handlers
from podium.packs.leads.schemas import LeadCreate
from podium.packs.leads.service import ANALYZED, SUBMITTED, Leads
from podium.storage.store import Store
from support.fake_services import FakeService

FRIDAY = datetime(2026, 12, 4, 15, 30, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def loopback_allowed() -> Iterator[None]:
    egress.configure(Settings(egress_allow=["127.0.0.1"]))
    yield
    egress.configure(None)


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


def context(store: Store, event: Event, lookup: Any) -> HandlerContext:
    """The context the handler runner gives with an event (its id is the idempotency key)."""
    base = PackContext(event.app_id, store, fast_settings(), None, lookup, "leads")
    return HandlerContext(base, event, "test", 1)


async def unconfigured(service: str) -> dict[str, Any] | None:
    return None


async def submitted(store: Store, **fields: Any) -> tuple[str, Event]:
    app_id = await store.ensure_app("shop")
    values: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@analytical.example",
        "company": "Analytical Engines",
        "message": "A web shop before our launch next month, ready to start asap.",
        "service": "web_development",
        "budget": 60_000,
    }
    values.update(fields)
    await Leads(store).submit(app_id, LeadCreate(**values), None)
    (event,) = [e for e in await store.read_events(app_id) if e.type == SUBMITTED]
    return app_id, event


async def analyzed(store: Store, app_id: str, lead_id: str) -> Event:
    lead, _ = await Leads(store).record_analysis(app_id, lead_id, None)
    data = {"lead_id": lead_id, "score": lead.score, "tier": lead.tier}
    return Event(ANALYZED, app_id, None, None, data, seq=99, ts=FRIDAY)


async def test_a_submitted_lead_becomes_a_contact_and_a_deal_once(
    leads_store: Store, svc: FakeService
) -> None:
    app_id, event = await submitted(leads_store)
    ctx = context(leads_store, event, svc.credentials_lookup())
    await handlers.sync_to_crm(event, ctx)
    (contact,) = svc.contacts
    assert {k: contact["properties"][k] for k in ("email", "firstname", "lastname", "company")} == {
        "email": "ada@analytical.example",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "company": "Analytical Engines",
    }
    (deal,) = svc.deals
    assert deal["properties"]["dealname"] == "Analytical Engines: web_development"
    assert deal["properties"]["amount"] == "60000"
    crm = (await Leads(leads_store).get(app_id, event.data["lead_id"])).followups["crm"]
    assert crm["status"] == "ok" and crm["event_id"] == event.id
    assert (crm["contact_id"], crm["deal_id"]) == (contact["id"], deal["id"])

    requests = len(svc.requests)
    await handlers.sync_to_crm(event, ctx)  # the same event again: nothing new on the wire
    assert len(svc.requests) == requests

    # Another event for the same e-mail finds the contact instead of making a second one.
    other = Event(SUBMITTED, app_id, None, None, event.data, seq=1000, ts=event.ts)
    await handlers.sync_to_crm(other, context(leads_store, other, svc.credentials_lookup()))
    assert len(svc.contacts) == 1 and len(svc.deals) == 2


async def test_an_analyzed_hot_lead_is_mailed_to_the_team_and_offered_a_call(
    leads_store: Store, svc: FakeService
) -> None:
    app_id, event = await submitted(leads_store)
    lead_id = event.data["lead_id"]
    done = await analyzed(leads_store, app_id, lead_id)
    assert done.data["tier"] == "hot"
    ctx = context(leads_store, done, svc.credentials_lookup())
    await handlers.notify_by_email(done, ctx)
    await handlers.propose_call(done, ctx)

    (mail,) = svc.sent
    assert mail["personalizations"] == [{"to": [{"email": "agent@example.com"}]}]
    assert mail["subject"] == f"New hot lead: Ada Lovelace ({done.data['score']}/100)"
    assert "- budget: 35/35 (budget $60,000 is at least $50,000)" in mail["content"][0]["value"]
    (call,) = svc.events["primary"]
    assert call["summary"] == "Qualification call: Ada Lovelace (Analytical Engines)"
    # Friday afternoon → Monday 10:00 UTC, 30 minutes, the lead invited.
    assert call["start"] == {"dateTime": "2026-12-07T10:00:00+00:00"}
    assert call["end"] == {"dateTime": "2026-12-07T10:30:00+00:00"}
    assert [a["email"] for a in call["attendees"]] == ["ada@analytical.example"]
    followups = (await Leads(leads_store).get(app_id, lead_id)).followups
    assert followups["email"]["status"] == "ok" and followups["email"]["to"] == "agent@example.com"
    assert followups["calendar"]["start"] == "2026-12-07T10:00:00+00:00"


async def test_a_cold_lead_gets_no_call(leads_store: Store, svc: FakeService) -> None:
    app_id, event = await submitted(
        leads_store,
        budget=None,
        company=None,
        email="x@gmail.com",
        message="hello",
        service="other",
    )
    done = await analyzed(leads_store, app_id, event.data["lead_id"])
    assert done.data["tier"] == "cold"
    await handlers.propose_call(done, context(leads_store, done, svc.credentials_lookup()))
    assert svc.requests == []
    calendar = (await Leads(leads_store).get(app_id, event.data["lead_id"])).followups["calendar"]
    assert calendar["status"] == "not_needed" and calendar["reason"] == "a cold lead gets no call"


async def test_unconfigured_integrations_are_skipped_and_said_so(
    leads_store: Store, svc: FakeService
) -> None:
    app_id, event = await submitted(leads_store)
    done = await analyzed(leads_store, app_id, event.data["lead_id"])
    await handlers.sync_to_crm(event, context(leads_store, event, unconfigured))
    await handlers.notify_by_email(done, context(leads_store, done, unconfigured))
    await handlers.propose_call(done, context(leads_store, done, unconfigured))
    assert svc.requests == []
    followups = (await Leads(leads_store).get(app_id, event.data["lead_id"])).followups
    assert {kind: (f["status"], f["reason"]) for kind, f in followups.items()} == {
        "crm": ("skipped", "hubspot not configured"),
        "email": ("skipped", "sendgrid not configured"),
        "calendar": ("skipped", "google_calendar not configured"),
    }


async def test_an_error_is_recorded_and_raised_so_the_handler_is_retried(
    leads_store: Store, svc: FakeService
) -> None:
    app_id, event = await submitted(leads_store)
    ctx = context(leads_store, event, svc.credentials_lookup())
    svc.fail_next(503)
    with pytest.raises(handlers.FollowupFailed) as failed:
        await handlers.sync_to_crm(event, ctx)
    assert str(failed.value) == (
        f"crm follow-up of lead {event.data['lead_id']}: IntegrationError: hubspot answered "
        "HTTP 503 Service "
        "Unavailable"
    )
    leads = Leads(leads_store)
    crm = (await leads.get(app_id, event.data["lead_id"])).followups["crm"]
    assert crm["status"] == "error" and svc.contacts == []
    await handlers.sync_to_crm(event, ctx)  # the retry of the same event goes through
    crm = (await leads.get(app_id, event.data["lead_id"])).followups["crm"]
    assert crm["status"] == "ok" and len(svc.contacts) == 1


def test_the_call_slot_is_the_next_weekday_at_ten() -> None:
    monday = datetime(2026, 12, 7, 9, tzinfo=UTC).timestamp()
    assert handlers.call_slot(monday).isoformat() == "2026-12-08T10:00:00+00:00"
    assert handlers.call_slot(FRIDAY).isoformat() == "2026-12-07T10:00:00+00:00"


async def test_sendgrid_without_a_sender_address_is_skipped(
    leads_store: Store, svc: FakeService
) -> None:
    app_id, event = await submitted(leads_store)
    done = await analyzed(leads_store, app_id, event.data["lead_id"])

    async def no_sender(service: str) -> dict[str, Any] | None:
        return svc.credentials(service, from_email=None)

    await handlers.notify_by_email(done, context(leads_store, done, no_sender))
    assert svc.requests == []
    email = (await Leads(leads_store).get(app_id, event.data["lead_id"])).followups["email"]
    assert (email["status"], email["reason"]) == ("skipped", "sendgrid not configured")
