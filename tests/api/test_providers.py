"""Providers, integrations and MCP servers over HTTP: how an app's agents reach models,
outside services and MCP tools; health; secrets that go in and never come out."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import api_settings
from tests.api.test_agents import App, call, error_of, scripted

from podium.auth.service import server_secret
from podium.config import Settings
from podium.secretbox import SecretBox
from podium.storage import agents as tx
from podium.storage.agents import ProviderRecord
from support.fake_openai import FakeOpenAI
from support.fake_services import FakeService
from support.mcp_server import SCRIPT, read_calls

SECRET = "sk-app-secret-0123456789"
SERVICES = ["hubspot", "sendgrid", "google_calendar"]


@pytest.fixture
def api_config(database_url: str, tmp_path: Path) -> Settings:
    """The fake servers listen on 127.0.0.1, which the egress policy refuses unless listed
    (tests/security/test_egress.py shows the refusal); the operator offers the test MCP server
    over stdio as `calc`, its calls logged to `calls.jsonl`."""
    offered = tmp_path / "stdio-servers.json"
    calc = {
        "command": sys.executable,
        "args": [str(SCRIPT)],
        "env": {"MCP_CALL_LOG": str(tmp_path / "calls.jsonl")},
    }
    offered.write_text(json.dumps({"calc": calc}))
    return api_settings(
        database_url, egress_allow=["127.0.0.1"], mcp_stdio_servers_file=str(offered)
    )


@pytest.fixture
def app(admin: Any) -> App:
    return App(admin, admin.create_app("providers"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health(app: App) -> dict[str, Any]:
    response = app.get("/agents/health")
    assert response.status_code == 200, response.text
    return dict(response.json())


def providers_of(app: App) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in health(app)["providers"]}


def integrations_of(app: App) -> dict[str, tuple[str, str]]:
    return {i["service"]: (i["status"], i["detail"]) for i in health(app)["integrations"]}


async def _stored_provider(api: TestClient, app_id: str, name: str) -> tuple[ProviderRecord, str]:
    services = api.app.state.services  # type: ignore[attr-defined]
    store = services.podium.store
    record: ProviderRecord = await store.run_read(lambda: tx.get_provider(app_id, name))
    return record, await server_secret(store, services.settings)


# --- health -------------------------------------------------------------------------------------


def test_health_with_nothing_configured(app: App) -> None:
    found = health(app)
    assert found["default_model"] == "offline/echo" and found["mcp_servers"] == []
    providers = {p["name"]: p for p in found["providers"]}
    # Neither OpenAI nor Anthropic is configured; Ollama needs no configuration (localhost).
    assert set(providers) == {"offline", "ollama"}, providers
    assert providers["offline"] == {
        "name": "offline",
        "kind": "offline",
        "source": "server",
        "reachable": True,
        "detail": "built in",
    }
    assert integrations_of(app) == {
        "hubspot": ("not_configured", "hubspot not configured (no access_token)"),
        "sendgrid": ("not_configured", "sendgrid not configured (no api_key)"),
        "google_calendar": ("not_configured", "google_calendar not configured (no access_token)"),
    }
    assert app.get("/integrations").json() == [
        {"service": s, "configured": False, "source": None} for s in SERVICES
    ]
    assert app.get("/providers").json() == []


def test_health_probes_the_apps_integrations(app: App) -> None:
    with FakeService(tokens={"hubspot": "hub-right"}) as svc:
        hubspot = {"access_token": "hub-right", "base_url": svc.base_url}
        assert app.put("/integrations/hubspot", hubspot).status_code == 204
        assert integrations_of(app)["hubspot"] == ("ok", "hubspot answered HTTP 200")
        probe = svc.last
        assert (probe.method, probe.path) == ("GET", "/crm/v3/objects/contacts")
        assert probe.header("Authorization") == "Bearer hub-right"
        listed = app.get("/integrations")
        assert listed.json()[0] == {"service": "hubspot", "configured": True, "source": "app"}
        assert "hub-right" not in listed.text

        app.put("/integrations/hubspot", {**hubspot, "access_token": "hub-wrong"})
        status, detail = integrations_of(app)["hubspot"]
        assert status == "error" and detail.startswith("hubspot answered HTTP 401"), detail

        app.put("/integrations/hubspot", hubspot)
        svc.fail_next(500, "the fake is down")
        assert integrations_of(app)["hubspot"] == (  # the status line; the body is logged
            "error",
            "hubspot answered HTTP 500 Internal Server Error",
        )

        sendgrid = svc.credentials("sendgrid")
        google = svc.credentials("google_calendar")
        assert app.put("/integrations/sendgrid", sendgrid).status_code == 204
        assert app.put("/integrations/google_calendar", google).status_code == 204
        assert {s: v[0] for s, v in integrations_of(app).items()} == dict.fromkeys(SERVICES, "ok")

    unknown = app.put("/integrations/salesforce", {"access_token": "x"})
    assert "no integration named 'salesforce'" in error_of(unknown, 404)
    extra = app.put("/integrations/hubspot", {"access_token": "x", "password": "y"})
    assert "hubspot settings have no field(s) ['password']" in error_of(extra, 400)

    assert app.delete("/integrations/hubspot").status_code == 204
    assert integrations_of(app)["hubspot"][0] == "not_configured"
    assert "integration 'hubspot' is not configured" in error_of(
        app.delete("/integrations/hubspot"), 404
    )


def test_health_of_a_provider_nobody_answers_at(app: App) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    put = app.put("/providers/dead", {"kind": "openai", "base_url": dead, "api_key": SECRET})
    assert put.status_code == 200, put.text
    provider = providers_of(app)["dead"]
    assert provider["reachable"] is False and provider["source"] == "app"
    assert provider["kind"] == "openai" and provider["detail"]
    assert SECRET not in str(provider)


class TestServerWide:
    """Health with the server's own OpenAI (the fake) and HubSpot (the fake service)."""

    @pytest.fixture
    def openai_fake(self) -> Iterator[FakeOpenAI]:
        with FakeOpenAI(api_key="sk-test", models=["gpt-test", "gpt-other"]) as fake:
            yield fake

    @pytest.fixture
    def svc(self) -> Iterator[FakeService]:
        with FakeService(tokens={"hubspot": "server-hub"}) as svc:
            yield svc

    @pytest.fixture
    def api_config(self, database_url: str, openai_fake: FakeOpenAI, svc: FakeService) -> Settings:
        return api_settings(
            database_url,
            openai_base_url=openai_fake.base_url,
            openai_api_key="sk-test",
            hubspot_access_token="server-hub",
            hubspot_base_url=svc.base_url,
        )

    def test_server_configurations_are_reachable(
        self, app: App, openai_fake: FakeOpenAI, svc: FakeService
    ) -> None:
        openai = providers_of(app)["openai"]
        assert openai["reachable"] is True and openai["source"] == "server", openai
        assert openai["detail"] == f"2 models listed at {openai_fake.base_url}"
        assert openai_fake.health_count == 1
        assert integrations_of(app)["hubspot"] == ("ok", "hubspot answered HTTP 200")
        assert svc.last.header("Authorization") == "Bearer server-hub"
        assert app.get("/integrations").json()[0] == {
            "service": "hubspot",
            "configured": True,
            "source": "server",
        }

        # The app's own settings win over the server's.
        app.put("/integrations/hubspot", {"access_token": "app-hub"})
        status, detail = integrations_of(app)["hubspot"]
        assert status == "error" and "HTTP 401" in detail, detail
        assert svc.last.header("Authorization") == "Bearer app-hub"  # at the server's base_url


# --- integrations through agents ------------------------------------------------------------------


def test_an_agent_records_leads_in_hubspot_when_it_is_connected(app: App) -> None:
    contact = {"email": "ada@example.com", "firstname": "Ada", "company": "Engines"}
    turns = [call("crm_create_contact", **contact), {"text": "Lead recorded."}]
    app.define(scripted("leads", turns, ["crm_create_contact"]))

    def qualify() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        answer = app.chat("Ada from Engines wants a demo", agent="leads")
        assert answer["status"] == "succeeded" and answer["answer"] == "Lead recorded."
        [row] = app.tool_calls(run_id=answer["run_id"])["items"]
        assert (row["tool"], row["agent"], row["arguments"]) == (
            "crm_create_contact",
            "leads",
            contact,
        )
        messages = app.state(answer["session_id"])["messages"]
        return row, [m for m in messages if m["role"] == "tool"]

    row, told = qualify()
    assert row["status"] == "skipped" and row["error"] == "hubspot not configured"
    assert [m["content"] for m in told] == ["skipped: hubspot not configured"]

    with FakeService() as svc:
        put = app.put(
            "/integrations/hubspot", {"access_token": "hub-token", "base_url": svc.base_url}
        )
        assert put.status_code == 204, put.text
        row, told = qualify()
        assert row["status"] == "ok" and row["error"] is None, row
        assert row["result"]["id"] == "1001"
        assert contact.items() <= row["result"]["properties"].items()
        request = svc.last
        assert (request.method, request.path) == ("POST", "/crm/v3/objects/contacts")
        assert request.header("Authorization") == "Bearer hub-token"
        assert request.body == {"properties": contact}
        assert len(svc.contacts) == 1

        svc.fail_next(500, "HubSpot is having a bad day")
        row, told = qualify()
        assert row["status"] == "error", row
        assert row["error"] == "IntegrationError: hubspot answered HTTP 500 Internal Server Error"
        assert told[0]["content"] == f"error: {row['error']}"
        assert len(svc.contacts) == 1


# --- providers ------------------------------------------------------------------------------------


def test_an_apps_provider_keeps_its_key_secret_and_serves_its_agents(
    api: TestClient, app: App
) -> None:
    with FakeOpenAI(api_key=SECRET, models=["gpt-app"]) as fake:
        body = {"kind": "openai", "base_url": fake.base_url, "api_key": SECRET, "max_retries": 0}
        put = app.put("/providers/acme", body)
        assert put.status_code == 200, put.text
        assert SECRET not in put.text
        public = put.json()
        assert {k: public[k] for k in ("name", "kind", "base_url", "has_api_key", "options")} == {
            "name": "acme",
            "kind": "openai",
            "base_url": fake.base_url,
            "has_api_key": True,
            "options": {"max_retries": 0},
        }
        for path in ("/providers", "/providers/acme", "/agents/health"):
            read = app.get(path)
            assert read.status_code == 200 and SECRET not in read.text, path
        assert app.get("/providers/acme").json() == public

        record, secret = api.portal.call(_stored_provider, api, app.id, "acme")  # type: ignore[union-attr]
        assert record.api_key_encrypted is not None
        assert SECRET not in record.api_key_encrypted
        assert SecretBox(secret).open(record.api_key_encrypted) == SECRET

        app.define({"name": "acme_agent", "model": "acme/gpt-app"})
        fake.reply_text("Answered by acme.")
        answer = app.chat("hello", agent="acme_agent")
        assert answer["status"] == "succeeded" and answer["answer"] == "Answered by acme.", answer
        assert fake.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
        assert fake.requests[-1].body["model"] == "gpt-app"
        acme = providers_of(app)["acme"]
        assert acme["reachable"] is True and acme["source"] == "app"

        # An update without a key keeps the stored one.
        kept = app.put("/providers/acme", {"kind": "openai", "base_url": fake.base_url})
        assert kept.status_code == 200 and kept.json()["has_api_key"] is True
        fake.reply_text("Still acme.")
        assert app.chat("again", agent="acme_agent")["answer"] == "Still acme."
        assert fake.requests[-1].headers["authorization"] == f"Bearer {SECRET}"

    assert app.delete("/providers/acme").status_code == 204
    gone = app.get("/providers/acme")
    assert error_of(gone, 404) == "provider 'acme' is not configured in this app"
    assert gone.json()["error"]["code"] == "not_found"
    assert error_of(app.delete("/providers/acme"), 404)
    failed = app.chat("hello", agent="acme_agent")
    assert failed["status"] == "failed"
    assert "names provider 'acme', which is not configured" in (failed["error"] or "")


def test_a_stored_key_follows_its_url(app: App) -> None:
    """A key goes only to the URL (and kind) it was given with: changing either without a key
    in the same request drops the stored one; a key in the same request is the new one."""
    with FakeOpenAI(api_key=SECRET) as first, FakeOpenAI(api_key="sk-other") as second:
        keyed = {"kind": "openai", "base_url": first.base_url, "api_key": SECRET}
        assert app.put("/providers/acme", keyed).json()["has_api_key"] is True
        app.define({"name": "acme_agent", "model": "acme/gpt-app"})
        first.reply_text("First.")
        assert app.chat("hello", agent="acme_agent")["answer"] == "First."
        assert first.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
        reached_first = len(first.requests)

        moved = app.put("/providers/acme", {"kind": "openai", "base_url": second.base_url})
        assert moved.status_code == 200 and moved.json()["has_api_key"] is False
        failed = app.chat("hello", agent="acme_agent")
        assert failed["status"] == "failed", failed  # no key: the second server says 401
        assert second.requests[-1].headers["authorization"] != f"Bearer {SECRET}"
        assert SECRET not in str(second.requests)
        assert app.get("/providers/acme").json()["has_api_key"] is False

        with_key = {"kind": "openai", "base_url": second.base_url, "api_key": "sk-other"}
        assert app.put("/providers/acme", with_key).json()["has_api_key"] is True
        second.reply_text("Hello.")
        assert app.chat("hi", agent="acme_agent")["answer"] == "Hello."
        assert second.requests[-1].headers["authorization"] == "Bearer sk-other"

        kind = app.put("/providers/acme", {"kind": "anthropic", "base_url": second.base_url})
        assert kind.json()["has_api_key"] is False  # another kind: the key is dropped too
        record, _ = app.actor.client.portal.call(  # type: ignore[union-attr]
            _stored_provider, app.actor.client, app.id, "acme"
        )
        assert record.api_key_encrypted is None
    assert len(first.requests) == reached_first  # nothing went to the old URL after the move


def test_a_bad_provider_is_refused(app: App) -> None:
    kind = app.put("/providers/acme", {"kind": "mistral"})
    assert "body.kind: Input should be 'openai', 'anthropic' or 'ollama'" in error_of(kind, 422)
    url = app.put("/providers/acme", {"kind": "openai", "base_url": "ftp://example.com"})
    assert "body.base_url" in error_of(url, 422)
    name = app.put("/providers/Not-Lower", {"kind": "openai"})
    assert "provider name 'Not-Lower': lower-case letters" in error_of(name, 400)
    builtin = app.put("/providers/offline", {"kind": "openai"})
    assert "`offline` is the built-in provider's name" in error_of(builtin, 400)
    assert app.get("/providers").json() == []

    ollama = app.put("/providers/local", {"kind": "ollama"})
    assert ollama.status_code == 200, ollama.text
    assert ollama.json()["base_url"] == "http://localhost:11434/v1"
    assert ollama.json()["has_api_key"] is False


def test_an_apps_own_preset_gets_the_services_url(app: App) -> None:
    """`PUT /providers/mistral` with only a key: the preset's base URL, the app's key."""
    mistral = app.put("/providers/mistral", {"kind": "openai", "api_key": SECRET})
    assert mistral.status_code == 200, mistral.text
    assert mistral.json()["base_url"] == "https://api.mistral.ai/v1"
    assert mistral.json()["has_api_key"] is True
    other = app.put("/providers/acme", {"kind": "openai"})
    assert other.json()["base_url"] is None  # not a preset: the openai default applies


# --- MCP servers ----------------------------------------------------------------------------------


def test_an_mcp_servers_tools_reach_agents_and_are_logged(app: App, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    # The operator's stdio server `calc`, enabled for the app by a platform admin (`admin`).
    created = app.put("/mcp-servers/calc/stdio", {"server": "calc"})
    assert created.status_code == 200, created.text
    reference = {"name": "calc", "transport": "stdio", "operator_server": "calc"}
    assert created.json()["config"] == reference  # the command stays in the operator's file
    listed = app.get("/mcp-servers")
    assert [s["config"] for s in listed.json()] == [reference]
    assert str(log) not in created.text and str(log) not in listed.text

    tools = app.get("/mcp-servers/calc/tools")
    assert tools.status_code == 200, tools.text
    by_name = {t["name"]: t for t in tools.json()}
    assert set(by_name) == {"calc__add", "calc__shout", "calc__fail", "calc__sleep"}
    assert set(by_name["calc__add"]["parameters"]["properties"]) == {"a", "b"}
    nope = app.get("/mcp-servers/nope/tools")
    assert error_of(nope, 404) == "MCP server 'nope' is not configured in this app"

    turns = [call("calc__add", a=2, b=3), call("calc__fail"), {"text": "Two and three make five."}]
    app.define(scripted("mathy", turns, ["mcp:calc"]))
    answer = app.chat("What is 2 + 3?", agent="mathy")
    assert answer["status"] == "succeeded", answer
    assert answer["answer"] == "Two and three make five."

    rows = app.tool_calls(run_id=answer["run_id"])["items"]
    assert [(r["tool"], r["status"]) for r in rows] == [
        ("calc__add", "ok"),
        ("calc__fail", "error"),
    ]
    assert rows[0]["arguments"] == {"a": 2, "b": 3} and rows[0]["result"] == {"result": 5}
    assert "the fail tool always fails" in rows[1]["error"]
    assert [r["id"] for r in app.tool_calls(tool="calc__add")["items"]] == [rows[0]["id"]]
    messages = app.state(answer["session_id"])["messages"]
    told = [m["content"] for m in messages if m["role"] == "tool"]
    assert told == [
        '{"result": 5}',
        "error: MCPToolError: Error executing tool fail: the fail tool always fails",
    ]
    assert [(c["tool"], c["arguments"]) for c in read_calls(log)] == [
        ("add", {"a": 2, "b": 3}),
        ("fail", {}),
    ]

    [server] = health(app)["mcp_servers"]
    assert server["name"] == "calc" and server["reachable"] is True, server

    assert app.delete("/mcp-servers/calc").status_code == 204
    assert app.get("/mcp-servers").json() == []
    assert error_of(app.delete("/mcp-servers/calc"), 404)


def test_a_bad_mcp_server_is_refused(app: App) -> None:
    stdio = app.post("/mcp-servers", {"name": "calc", "transport": "stdio", "command": "x"})
    assert "an app may register only streamable HTTP MCP servers" in error_of(stdio, 422)
    no_url = app.post("/mcp-servers", {"name": "calc", "transport": "http"})
    assert "uses the http transport and needs an http:// or https:// URL" in error_of(no_url, 400)
    bad_name = app.post("/mcp-servers", {"name": "Calc", "transport": "http", "url": "http://a"})
    assert "body.name" in error_of(bad_name, 422)
    unknown = app.put("/mcp-servers/calc/stdio", {"server": "shell"})
    assert "the operator offers no stdio MCP server named 'shell'" in error_of(unknown, 404)
    bad_app = app.actor.client.put(
        "/api/v1/apps/app_nope/mcp-servers/calc/stdio",
        json={"server": "calc"},
        headers=app.actor.headers,
    )
    assert "app 'app_nope' does not exist" in error_of(bad_app, 404)
    assert app.get("/mcp-servers").json() == []
