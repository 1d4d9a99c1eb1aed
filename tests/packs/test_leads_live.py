"""The leads pack on a live `podium serve` (every backend, offline model): submit → analyze
→ list with filters, an invalid submission refused with its message and nothing stored,
and the follow-up handlers, run durably from the event log, against the fake HubSpot,
SendGrid and Google Calendar on loopback — skipped when the app configured none, retried
and then shown when an integration fails."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.packs.conftest import Client

from support.fake_services import FakeService

LEADS = "/packs/leads/leads"
FORM = {
    "name": "Ada Lovelace",
    "email": "ada@analytical.example",
    "company": "Analytical Engines",
    "message": "We need a web shop before our launch next month; ready to start asap.",
    "service": "web_development",
    "budget": 60_000,
}


@pytest.fixture
def pack_env() -> dict[str, str]:
    return {
        "PODIUM_EGRESS_ALLOW": "127.0.0.1",  # the fake services listen on loopback
        "PODIUM_PACK_HANDLER_BACKOFF_SECONDS": "0.1",
        "PODIUM_PACK_HANDLER_MAX_ATTEMPTS": "2",
    }


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


@pytest.fixture
def shop(client: Client) -> Client:
    client.enable("leads")
    return client


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def followups(shop: Client, lead_id: str, *kinds: str) -> dict[str, Any] | None:
    """The lead's follow-ups once every one of `kinds` is recorded (else None)."""
    done: dict[str, Any] = shop.call("GET", f"{LEADS}/{lead_id}")["followups"]
    return done if all(kind in done for kind in kinds) else None


@pytest.mark.slow
def test_submit_analyze_and_list_on_a_live_server(shop: Client) -> None:
    status, refused = shop.request("POST", LEADS, {**FORM, "email": "ada@"})
    assert status == 422
    assert refused["error"]["message"] == (
        "body.email: Value error, 'ada@' is not an e-mail address; send one like name@example.com"
    )
    assert shop.call("GET", LEADS)["items"] == []

    hot = shop.call("POST", LEADS, FORM)
    cold = shop.call(
        "POST",
        LEADS,
        {
            **FORM,
            "name": "Bob",
            "email": "bob@gmail.com",
            "company": None,
            "budget": None,
            "service": "seo",
            "message": "a quote?",
        },
    )
    analyzed = shop.call("POST", f"{LEADS}/{hot['id']}/analyze")
    assert (analyzed["lead"]["score"], analyzed["lead"]["tier"]) == (88, "hot")
    assert analyzed["lead"]["reasoning"][0]["why"] == "budget $60,000 is at least $50,000"
    shop.call("POST", f"{LEADS}/{cold['id']}/analyze")

    def names(query: str) -> list[str]:
        return [lead["name"] for lead in shop.call("GET", f"{LEADS}?{query}")["items"]]

    assert names("") == ["Bob", "Ada Lovelace"]
    assert names("min_score=70") == ["Ada Lovelace"]
    assert names("max_score=39&service=seo") == ["Bob"]
    assert names("status=new") == []
    assert names("limit=1") == ["Bob"]

    # Unconfigured integrations: every follow-up ran, and says it was skipped.
    done = eventually(lambda: followups(shop, hot["id"], "crm", "email", "calendar"))
    assert {kind: f["status"] for kind, f in done.items()} == {
        "crm": "skipped",
        "email": "skipped",
        "calendar": "skipped",
    }
    assert done["crm"]["reason"] == "hubspot not configured"
    cold_done = eventually(lambda: followups(shop, cold["id"], "calendar"))
    assert cold_done["calendar"]["status"] == "not_needed"
    handlers = shop.call("GET", "/packs/leads/handlers")
    assert {h["name"] for h in handlers["handlers"]} == {
        "sync_to_crm",
        "notify_by_email",
        "propose_call",
    }
    assert handlers["failures"] == []


@pytest.mark.slow
def test_follow_ups_reach_the_crm_the_mailbox_and_the_calendar(
    shop: Client, svc: FakeService
) -> None:
    for service in ("hubspot", "sendgrid", "google_calendar"):
        shop.call("PUT", f"/integrations/{service}", svc.credentials(service))
    lead = shop.call("POST", LEADS, FORM)
    crm = eventually(lambda: followups(shop, lead["id"], "crm"))["crm"]
    assert crm["status"] == "ok"
    assert [c["id"] for c in svc.contacts] == [crm["contact_id"]]
    assert [d["properties"]["dealname"] for d in svc.deals] == [
        "Analytical Engines: web_development"
    ]

    shop.call("POST", f"{LEADS}/{lead['id']}/analyze")
    done = eventually(lambda: followups(shop, lead["id"], "email", "calendar"))
    assert done["email"] == {**done["email"], "status": "ok", "to": "agent@example.com"}
    assert done["calendar"]["status"] == "ok"
    (mail,) = svc.sent
    assert mail["subject"] == "New hot lead: Ada Lovelace (88/100)"
    (call,) = svc.events["primary"]
    assert call["id"] == done["calendar"]["calendar_event_id"]
    assert [a["email"] for a in call["attendees"]] == ["ada@analytical.example"]
    # One contact, one deal, one mail, one call: each handler ran once for its event.
    assert (len(svc.contacts), len(svc.deals), len(svc.sent)) == (1, 1, 1)


@pytest.mark.slow
def test_a_failing_crm_is_retried_and_then_shown(shop: Client, svc: FakeService) -> None:
    shop.call("PUT", "/integrations/hubspot", svc.credentials("hubspot"))
    svc.fail_next(500, times=10)
    lead = shop.call("POST", LEADS, FORM)

    def gave_up() -> list[dict[str, Any]]:
        failures = shop.call("GET", "/packs/leads/handlers")["failures"]
        return [f for f in failures if f["status"] == "failed"]

    (failure,) = eventually(gave_up)
    assert failure["handler"] == "sync_to_crm" and failure["attempts"] == 2
    assert "hubspot answered HTTP 500 Internal Server Error" in failure["error"]
    crm = shop.call("GET", f"{LEADS}/{lead['id']}")["followups"]["crm"]
    assert crm["status"] == "error" and svc.contacts == []
