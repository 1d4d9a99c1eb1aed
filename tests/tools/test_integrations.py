"""The integration tools against a fake of each service: what goes on the wire, and how an
unconfigured or failing service degrades (skipped, or an error the model reads)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest

from podium.config import Settings
from podium.tools.base import DEFAULT, Tool, ToolContext
from podium.tools.integrations import (
    SERVICES,
    TOOLS,
    probe,
    registry,
    settings_credentials,
    tools_for,
    with_defaults,
)
from podium.tools.integrations.google_calendar import calendar_create_event, calendar_list_events
from podium.tools.integrations.hubspot import (
    crm_create_contact,
    crm_create_deal,
    crm_list_deals,
    crm_search_contacts,
)
from podium.tools.integrations.sendgrid import email_send
from support.fake_services import FakeService

# Each tool, its service, and arguments that make a valid call.
CALLS: list[tuple[Tool, str, dict[str, Any]]] = [
    (crm_create_contact, "hubspot", {"email": "ada@example.com"}),
    (crm_search_contacts, "hubspot", {"query": "ada"}),
    (crm_create_deal, "hubspot", {"dealname": "Big deal"}),
    (crm_list_deals, "hubspot", {}),
    (email_send, "sendgrid", {"to": "bob@example.com", "subject": "Hi", "body": "Hello"}),
    (
        calendar_create_event,
        "google_calendar",
        {"summary": "Call", "start": "2025-03-01T10:00:00Z", "end": "2025-03-01T10:30:00Z"},
    ),
    (calendar_list_events, "google_calendar", {}),
]
IDS = [t.name for t, _, _ in CALLS]


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


def context(credentials: dict[str, dict[str, Any]]) -> ToolContext:
    async def lookup(service: str) -> dict[str, Any] | None:
        return credentials.get(service)

    return ToolContext(app_id="app_x", credentials_lookup=lookup)


def configured(svc: FakeService) -> ToolContext:
    return ToolContext(app_id="app_x", credentials_lookup=svc.credentials_lookup())


async def run(tool: Tool, ctx: ToolContext, **arguments: Any) -> Any:
    outcome = await tool.execute(json.dumps(arguments), ctx)
    assert outcome.status == "ok", outcome.error
    return outcome.result


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- registration ---


def test_every_tool_is_registered_and_tagged_by_service_and_domain() -> None:
    assert len(TOOLS) == 7
    domains = {"hubspot": "crm", "sendgrid": "email", "google_calendar": "calendar"}
    for item, service, _ in CALLS:
        assert DEFAULT.get(item.name) is item
        assert item.tags == ("integration", service, domains[service])
        assert "ctx" not in item.parameters["properties"]
    assert [t.name for t in tools_for("crm")] == [
        "crm_create_contact",
        "crm_create_deal",
        "crm_list_deals",
        "crm_search_contacts",
    ]
    assert tools_for("hubspot") == tools_for("crm")
    assert [t.name for t in tools_for("email")] == ["email_send"]
    assert [t.name for t in tools_for("calendar")] == [
        "calendar_create_event",
        "calendar_list_events",
    ]
    assert registry("sendgrid").names() == ["email_send"]
    assert len(registry().names()) == 7


def test_schemas_carry_the_docstrings_and_limits() -> None:
    props = crm_create_contact.parameters["properties"]
    assert crm_create_contact.parameters["required"] == ["email"]
    assert "email address" in props["email"]["description"]
    limit = crm_list_deals.parameters["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 10)


# --- unconfigured: skipped ---


@pytest.mark.parametrize(("item", "service", "arguments"), CALLS, ids=IDS)
async def test_an_unconfigured_service_is_skipped(
    item: Tool, service: str, arguments: dict[str, Any]
) -> None:
    for ctx in (context({}), ToolContext(app_id="app_x")):
        outcome = await item.execute(json.dumps(arguments), ctx)
        assert outcome.status == "skipped"
        assert outcome.error == f"{service} not configured"
        assert outcome.for_model() == f"skipped: {service} not configured"


@pytest.mark.parametrize(
    ("item", "service", "credentials"),
    [
        (crm_list_deals, "hubspot", {"base_url": "http://127.0.0.1:9"}),
        (crm_list_deals, "hubspot", {"access_token": ""}),
        (email_send, "sendgrid", {"api_key": "SG.x"}),  # no sender address
        (email_send, "sendgrid", {"from_email": "a@example.com"}),
        (calendar_list_events, "google_calendar", {"calendar_id": "primary"}),
    ],
)
async def test_credentials_without_their_secret_are_not_configured(
    item: Tool, service: str, credentials: dict[str, Any]
) -> None:
    arguments = next(a for t, _, a in CALLS if t is item)
    outcome = await item.execute(json.dumps(arguments), context({service: credentials}))
    assert (outcome.status, outcome.error) == ("skipped", f"{service} not configured")


# --- configured: what reaches the service ---


async def test_crm_create_contact(svc: FakeService) -> None:
    result = await run(
        crm_create_contact,
        configured(svc),
        email="ada@example.com",
        firstname="Ada",
        lastname="Lovelace",
        company="Analytical Engines",
    )
    request = svc.last
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/contacts")
    assert request.header("Authorization") == "Bearer test-hubspot-token"
    assert request.header("Content-Type") == "application/json"
    assert request.body == {
        "properties": {
            "email": "ada@example.com",
            "firstname": "Ada",
            "lastname": "Lovelace",
            "company": "Analytical Engines",
        }
    }
    assert result["id"] == svc.contacts[0]["id"]
    assert result["properties"]["email"] == "ada@example.com"
    assert result["properties"]["hs_object_id"] == result["id"]
    assert set(result) == {"id", "properties"}


async def test_crm_search_contacts(svc: FakeService) -> None:
    ctx = configured(svc)
    await run(crm_create_contact, ctx, email="ada@example.com", firstname="Ada")
    await run(crm_create_contact, ctx, email="bob@example.com", firstname="Bob")
    result = await run(crm_search_contacts, ctx, query="ada")
    request = svc.last
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/contacts/search")
    assert request.header("Authorization") == "Bearer test-hubspot-token"
    assert request.body == {"query": "ada", "limit": 10}
    assert result["total"] == 1
    assert [r["properties"]["email"] for r in result["results"]] == ["ada@example.com"]


async def test_crm_create_deal(svc: FakeService) -> None:
    result = await run(
        crm_create_deal,
        configured(svc),
        dealname="Big deal",
        amount=1500,
        dealstage="appointmentscheduled",
        pipeline="default",
    )
    request = svc.last
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/deals")
    assert request.header("Authorization") == "Bearer test-hubspot-token"
    assert request.body == {
        "properties": {
            "dealname": "Big deal",
            "amount": "1500",
            "dealstage": "appointmentscheduled",
            "pipeline": "default",
        }
    }
    assert result["properties"]["dealname"] == "Big deal"
    await run(crm_create_deal, configured(svc), dealname="Small", amount=12.5)
    assert svc.last.body == {"properties": {"dealname": "Small", "amount": "12.5"}}


async def test_crm_list_deals(svc: FakeService) -> None:
    ctx = configured(svc)
    for name in ("one", "two", "three"):
        await run(crm_create_deal, ctx, dealname=name)
    result = await run(crm_list_deals, ctx, limit=2)
    request = svc.last
    assert (request.method, request.path, request.query) == (
        "GET",
        "/crm/v3/objects/deals",
        {"limit": "2"},
    )
    assert request.header("Authorization") == "Bearer test-hubspot-token"
    assert request.body is None
    assert [d["properties"]["dealname"] for d in result["results"]] == ["one", "two"]
    await run(crm_list_deals, ctx)
    assert svc.last.query == {"limit": "10"}
    bad = await crm_list_deals.execute('{"limit": 1000}', ctx)
    assert bad.status == "error" and "limit" in (bad.error or "")


@pytest.mark.parametrize("html", [False, True])
async def test_email_send(svc: FakeService, html: bool) -> None:
    result = await run(
        email_send,
        configured(svc),
        to="bob@example.com",
        subject="Your order",
        body="<p>Shipped</p>" if html else "Shipped",
        html=html,
    )
    request = svc.last
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.header("Authorization") == "Bearer test-sendgrid-token"
    assert request.body == {
        "personalizations": [{"to": [{"email": "bob@example.com"}]}],
        "from": {"email": "agent@example.com"},
        "subject": "Your order",
        "content": [
            {
                "type": "text/html" if html else "text/plain",
                "value": "<p>Shipped</p>" if html else "Shipped",
            }
        ],
    }
    assert result == {"status": "sent", "message_id": svc.sent[0]["message_id"]}


async def test_calendar_create_event(svc: FakeService) -> None:
    result = await run(
        calendar_create_event,
        configured(svc),
        summary="Kick-off",
        start="2025-03-01T10:00:00+01:00",
        end="2025-03-01T11:00:00+01:00",
        description="Agenda: everything",
        attendees=["ada@example.com", "bob@example.com"],
    )
    request = svc.last
    assert (request.method, request.path) == ("POST", "/calendar/v3/calendars/primary/events")
    assert request.header("Authorization") == "Bearer test-google_calendar-token"
    assert request.body == {
        "summary": "Kick-off",
        "description": "Agenda: everything",
        "start": {"dateTime": "2025-03-01T10:00:00+01:00"},
        "end": {"dateTime": "2025-03-01T11:00:00+01:00"},
        "attendees": [{"email": "ada@example.com"}, {"email": "bob@example.com"}],
    }
    assert result["id"] == svc.events["primary"][0]["id"]
    assert result["attendees"] == ["ada@example.com", "bob@example.com"]
    assert result["htmlLink"].startswith("https://www.google.com/calendar/event")


async def test_calendar_create_all_day_event(svc: FakeService) -> None:
    await run(
        calendar_create_event, configured(svc), summary="Off", start="2025-03-01", end="2025-03-02"
    )
    assert svc.last.body == {
        "summary": "Off",
        "start": {"date": "2025-03-01"},
        "end": {"date": "2025-03-02"},
    }


async def test_calendar_list_events(svc: FakeService) -> None:
    ctx = configured(svc)
    await run(
        calendar_create_event,
        ctx,
        summary="Call",
        start="2025-03-01T10:00:00Z",
        end="2025-03-01T10:30:00Z",
    )
    result = await run(
        calendar_list_events, ctx, time_min="2025-03-01T00:00:00+01:00", max_results=5
    )
    request = svc.last
    assert (request.method, request.path) == ("GET", "/calendar/v3/calendars/primary/events")
    assert request.header("Authorization") == "Bearer test-google_calendar-token"
    assert request.query == {
        "maxResults": "5",
        "singleEvents": "true",
        "orderBy": "startTime",
        "timeMin": "2025-03-01T00:00:00+01:00",
    }
    assert [e["summary"] for e in result["events"]] == ["Call"]
    await run(calendar_list_events, ctx)  # from now on
    assert svc.last.query["maxResults"] == "10"
    assert svc.last.query["timeMin"].endswith("Z")


async def test_the_calendar_id_is_url_encoded(svc: FakeService) -> None:
    calendar_id = "team#ops@group.calendar.google.com"
    credentials = svc.credentials("google_calendar", calendar_id=calendar_id)
    ctx = context({"google_calendar": credentials})
    await run(calendar_list_events, ctx)
    assert svc.last.path == ("/calendar/v3/calendars/team%23ops%40group.calendar.google.com/events")
    assert list(svc.events) == [calendar_id]


async def test_app_credentials_may_omit_the_calendar_id(svc: FakeService) -> None:
    ctx = context({"google_calendar": svc.credentials("google_calendar", calendar_id=None)})
    await run(calendar_list_events, ctx)
    assert svc.last.path == "/calendar/v3/calendars/primary/events"


def test_missing_base_urls_are_the_real_endpoints() -> None:
    assert with_defaults("hubspot", {"access_token": "t"}) == {
        "access_token": "t",
        "base_url": "https://api.hubapi.com",
    }
    assert with_defaults("sendgrid", {"api_key": "k", "base_url": None})["base_url"] == (
        "https://api.sendgrid.com"
    )
    assert with_defaults("google_calendar", {"access_token": "t"}) == {
        "access_token": "t",
        "calendar_id": "primary",
        "base_url": "https://www.googleapis.com/calendar/v3",
    }
    assert with_defaults("hubspot", {"base_url": "http://x/"})["base_url"] == "http://x"


# --- failing: an error the model reads ---

FAILURES = [
    (
        crm_create_contact,
        401,
        {"status": "error", "message": "Authentication credentials not found."},
    ),
    (crm_search_contacts, 400, {"status": "error", "message": "Invalid input JSON"}),
    (
        email_send,
        400,
        {"errors": [{"message": "The from email does not match a verified Sender Identity."}]},
    ),
    (
        calendar_create_event,
        403,
        {"error": {"code": 403, "message": "The caller does not have permission"}},
    ),
    (calendar_list_events, 401, {"error": {"code": 401, "message": "Invalid Credentials"}}),
]


@pytest.mark.parametrize(("item", "status", "body"), FAILURES, ids=[f[0].name for f in FAILURES])
async def test_a_failing_service_is_an_error_naming_service_and_status_line_only(
    svc: FakeService, item: Tool, status: int, body: dict[str, Any], caplog: Any
) -> None:
    service, arguments = next((s, a) for t, s, a in CALLS if t is item)
    svc.fail_next(status, body)
    with caplog.at_level("INFO", logger="podium.tools.integrations"):
        outcome = await item.execute(json.dumps(arguments), configured(svc))
    assert outcome.status == "error"
    words = (
        body.get("message")
        or (body.get("errors") or [{}])[0].get("message")
        or body["error"]["message"]
    )
    # The service's own words stay in the server's log: a tenant may choose the base URL, so
    # an answer's body must not come back through Podium.
    phrase = HTTPStatus(status).phrase
    assert outcome.error == f"IntegrationError: {service} answered HTTP {status} {phrase}"
    assert words not in (outcome.error or "")
    assert words in caplog.text


@pytest.mark.parametrize(("item", "service", "arguments"), CALLS, ids=IDS)
async def test_every_tool_reports_the_service_error_shape(
    svc: FakeService, item: Tool, service: str, arguments: dict[str, Any]
) -> None:
    svc.fail_next(401, "token revoked")  # in the service's own error shape
    outcome = await item.execute(json.dumps(arguments), configured(svc))
    assert outcome.status == "error"
    assert outcome.error == f"IntegrationError: {service} answered HTTP 401 Unauthorized"


async def test_a_wrong_token_is_refused_by_the_fake_like_the_real_service() -> None:
    with FakeService(tokens={"hubspot": "right"}) as svc:
        ctx = context({"hubspot": svc.credentials("hubspot", access_token="wrong")})
        outcome = await crm_list_deals.execute("{}", ctx)
    assert outcome.status == "error"
    assert outcome.error == "IntegrationError: hubspot answered HTTP 401 Unauthorized"


async def test_an_error_without_json_still_names_the_status(svc: FakeService) -> None:
    svc.fail_next(502, ["not", "an", "object"])
    outcome = await crm_list_deals.execute("{}", configured(svc))
    assert outcome.error == "IntegrationError: hubspot answered HTTP 502 Bad Gateway"


async def test_an_unreachable_service_is_an_error_naming_it() -> None:
    ctx = context(
        {"sendgrid": {"api_key": "k", "from_email": "a@x.io", "base_url": closed_port_url()}}
    )
    outcome = await email_send.execute(
        json.dumps({"to": "b@x.io", "subject": "s", "body": "b"}), ctx
    )
    assert outcome.status == "error"
    assert (outcome.error or "").startswith("IntegrationError: sendgrid: could not be reached")


# --- probe ---


@pytest.mark.parametrize("service", SERVICES)
async def test_probe_not_configured(service: str) -> None:
    status, detail = await probe(service, None)
    assert status == "not_configured"
    assert detail.startswith(f"{service} not configured")
    assert (await probe(service, {"base_url": "http://127.0.0.1:9"}))[0] == "not_configured"


PROBES = {
    "hubspot": ("/crm/v3/objects/contacts", {"limit": "1"}),
    "sendgrid": ("/v3/scopes", {}),
    "google_calendar": ("/calendar/v3/users/me/calendarList", {"maxResults": "1"}),
}


@pytest.mark.parametrize("service", SERVICES)
async def test_probe_ok(svc: FakeService, service: str) -> None:
    status, detail = await probe(service, svc.credentials(service))
    assert (status, detail) == ("ok", f"{service} answered HTTP 200")
    request = svc.last
    assert (request.method, request.path, request.query) == ("GET", *PROBES[service])
    assert request.header("Authorization") == f"Bearer test-{service}-token"


async def test_probe_of_sendgrid_without_a_sender_says_so(svc: FakeService) -> None:
    status, detail = await probe("sendgrid", svc.credentials("sendgrid", from_email=None))
    assert status == "ok"
    assert "from_email is not set" in detail


@pytest.mark.parametrize("service", SERVICES)
async def test_probe_error(svc: FakeService, service: str) -> None:
    svc.fail_next(401, "bad token")
    status, detail = await probe(service, svc.credentials(service))
    assert (status, detail) == ("error", f"{service} answered HTTP 401 Unauthorized")


async def test_probe_never_raises() -> None:
    status, detail = await probe("hubspot", {"access_token": "t", "base_url": closed_port_url()})
    assert status == "error" and detail.startswith("hubspot: could not be reached")
    status, detail = await probe("hubspot", {"access_token": "t", "base_url": "nonsense://"})
    assert status == "error" and detail.startswith("hubspot")
    assert (await probe("salesforce", {"access_token": "t"}))[0] == "error"


# --- server-wide credentials ---


def test_settings_credentials() -> None:
    settings = Settings(
        hubspot_access_token="pat-na1-x",
        hubspot_base_url="http://hubspot.test/",
        sendgrid_api_key="SG.key",
        sendgrid_from_email="agent@example.com",
        google_calendar_access_token="ya29.x",
        google_calendar_id="team@group.calendar.google.com",
    )
    assert settings_credentials("hubspot", settings) == {
        "access_token": "pat-na1-x",
        "base_url": "http://hubspot.test",
    }
    assert settings_credentials("sendgrid", settings) == {
        "api_key": "SG.key",
        "from_email": "agent@example.com",
        "base_url": "https://api.sendgrid.com",
    }
    assert settings_credentials("google_calendar", settings) == {
        "access_token": "ya29.x",
        "calendar_id": "team@group.calendar.google.com",
        "base_url": "https://www.googleapis.com/calendar/v3",
    }


def test_settings_credentials_are_none_without_the_secret() -> None:
    settings = Settings(
        hubspot_access_token=None,
        sendgrid_api_key=None,
        sendgrid_from_email="agent@example.com",
        google_calendar_access_token="",
    )
    for service in SERVICES:
        assert settings_credentials(service, settings) is None
    with pytest.raises(ValueError, match="unknown integration"):
        settings_credentials("salesforce", settings)


async def test_settings_credentials_drive_the_tools(svc: FakeService) -> None:
    settings = Settings(hubspot_access_token="pat", hubspot_base_url=svc.base_url)

    async def lookup(service: str) -> dict[str, Any] | None:
        return settings_credentials(service, settings)

    ctx = ToolContext(app_id="app_x", credentials_lookup=lookup)
    await run(crm_list_deals, ctx)
    assert svc.last.header("Authorization") == "Bearer pat"
    outcome = await email_send.execute('{"to": "a@x.io", "subject": "s", "body": "b"}', ctx)
    assert (outcome.status, outcome.error) == ("skipped", "sendgrid not configured")
