"""Tenant isolation, generated from the route table so that a new route without the check fails
it: for every route that takes an id, a member of app B using app A's ids gets 404 and no data
of A; the WebSocket subscribe to A's objects and the SSE stream of A are refused too.

App A (owner alice, member carol) has a flow, a session waiting at a question, a finished run
and an API key. Bob owns app B, which has the same kinds of objects, and an admin key of B.
Bob, by his token and by B's key, sends every route A's ids: with A's app id (the direct
attack) and with B's app id and A's object ids (the confused deputy). Each answer must be the
404 envelope (403 on the platform admins' /users) without a single id or string of A that
the request did not itself contain. The same requests with B's own ids then succeed, so a
404 above cannot come from a wrong path or an invalid body.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount
from tests.api.conftest import ASK_FLOW, CHAIN_FLOW, PASSWORD, Actor, api_settings, login
from tests.packs.conftest import shipped_pack_specs

from podium.assembly import create_app
from podium.config import Settings

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")  # `{key:path}` too
MCP_SERVER = Path(__file__).parent.parent / "support" / "mcp_server.py"
# The example pack is installed, so that its mounted routes are probed like core ones.
EXAMPLE_PACK = Path(__file__).parents[2] / "examples" / "guestbook"


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves; WebSocket routes have the method "WS"."""
    # FastAPI ≥ 0.16x keeps included routers lazily; iter_route_contexts flattens them.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(flatten(app.routes)) if flatten else list(app.routes)
    table = []
    for route in routes:
        # The console's static files: public, no tenant data.
        if isinstance(getattr(route, "route", route), Mount):
            table.append(("MOUNT", str(route.path)))
            continue
        methods = getattr(route, "methods", None) or {"WS"}
        table += [(method, str(route.path)) for method in sorted(methods - {"HEAD"})]
    return sorted(set(table))


# --- the two tenants --------------------------------------------------------------------------


@dataclass
class Tenant:
    tag: str
    owner: Actor
    app_id: str = ""
    app_name: str = ""
    flow_name: str = ""
    flow_id: str = ""
    question: str = ""
    waiting_session: str = ""
    waiting_run: str = ""
    interrupt_id: str = ""
    done_session: str = ""
    done_run: str = ""
    step_ids: list[str] = field(default_factory=list)
    key_id: str = ""
    key_secret: str = ""
    member_id: str = ""
    invitation_id: str = ""  # the app's pending invitation (of someone else)
    incoming_invitation_id: str = ""  # an invitation of the owner to another app
    agent_name: str = ""
    provider_name: str = ""
    mcp_name: str = ""
    graph_name: str = ""
    memory_scope: str = "session"
    memory_scope_id: str = ""
    memory_key: str = ""
    artifact_id: str = ""
    guestbook_entry: str = ""  # a row of the example pack's table
    lead_id: str = ""  # a lead of the shipped leads pack, analyzed
    orchestrator_thread: str = ""  # a thread of the shipped orchestrator pack, asking
    knowledge_namespace: str = ""
    knowledge_key: str = ""  # a document of that namespace (its key holds a slash)
    character_id: str = ""  # a character of the storyflow pack
    component_id: str = ""  # a component of the app's own in the storyflow catalogue
    schedule_id: str = ""
    webhook_id: str = ""
    webhook_secret: str = ""
    data: list[str] = field(default_factory=list)  # emails, usernames, inputs, metadata

    @property
    def base(self) -> str:
        return f"/api/v1/apps/{self.app_id}"

    def flow(self) -> dict[str, Any]:
        definition = copy.deepcopy(ASK_FLOW)
        definition["name"] = self.flow_name
        definition["nodes"][0]["config"]["question"] = self.question
        return definition

    def ids_for(self, param: str, path: str) -> list[str]:
        """The values of a path parameter: every object of that kind the tenant has."""
        if param == "user_id":
            return [self.owner.user["id"]] if path.startswith("/api/v1/users") else [self.member_id]
        if param == "key" and "/knowledge/" in path:
            return [self.knowledge_key]
        if param == "name":
            for prefix, value in (
                ("/agents/", self.agent_name),
                ("/providers/", self.provider_name),
                ("/mcp-servers/", self.mcp_name),
                ("/workflow-graphs/", self.graph_name),
                ("/packs/", "guestbook"),
                ("/knowledge-samples/", "podium-docs"),
            ):
                if prefix in path:
                    return [value]
        return {
            "session_id": [self.waiting_session, self.done_session],
            "run_id": [self.waiting_run, self.done_run],
            "key_id": [self.key_id],
            "name": [self.flow_name],
            "service": ["hubspot"],
            "agent": [self.agent_name],  # /a2a/{app_id}/{agent}
            "scope": ["session", "run", "app", "user"],
            "scope_id": [
                self.waiting_session,
                self.done_session,
                self.waiting_run,
                self.done_run,
                self.app_id,
                self.member_id,
            ],
            "key": [self.memory_key],
            "artifact_id": [self.artifact_id],
            "entry_id": [self.guestbook_entry],
            "thread_id": [self.orchestrator_thread],
            "lead_id": [self.lead_id],
            "namespace": [self.knowledge_namespace],
            "character_id": [self.character_id],
            "component_id": [self.component_id],
            "schedule_id": [self.schedule_id],
            "webhook_id": [self.webhook_id],
            "number": ["1"],  # a step of each run (the question's, the chain's first)
            "invitation_id": [
                self.incoming_invitation_id
                if path.startswith("/api/v1/invitations")
                else self.invitation_id
            ],
        }[param]

    def secrets(self) -> set[str]:
        """Every id and string of this tenant that another tenant must never see."""
        values = {
            self.app_id,
            self.app_name,
            self.flow_name,
            self.flow_id,
            self.question,
            self.waiting_session,
            self.waiting_run,
            self.interrupt_id,
            self.character_id,
            self.schedule_id,
            self.webhook_id,
            self.webhook_secret,
            self.done_session,
            self.done_run,
            self.key_id,
            self.key_secret,
            self.key_secret[:10],
            self.member_id,
            self.invitation_id,
            self.incoming_invitation_id,
            self.agent_name,
            self.provider_name,
            self.mcp_name,
            self.graph_name,
            self.memory_key,
            self.artifact_id,
            self.guestbook_entry,
            self.lead_id,
            self.knowledge_namespace,
            self.knowledge_key,
            self.owner.user["id"],
            *self.step_ids,
            *self.data,
        }
        return {value for value in values if value}


def wait_run(owner: Actor, base: str, run_id: str, status: str) -> dict[str, Any]:
    response = owner.get(f"{base}/runs/{run_id}/wait", params={"timeout": 20})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == status, run
    return dict(run)


def lead_form(tag: str) -> dict[str, Any]:
    return {
        "name": f"{tag} Secret Lead",
        "email": f"{tag}-secret-lead@example.com",
        "message": f"{tag}-secret-lead-message",
        "service": "seo",
    }


def populate(tenant: Tenant, member: Actor | None, extra_data: list[str], admin: Actor) -> Tenant:
    """An app with a flow, a session waiting at a question, a finished run, a member, a key."""
    tag, owner = tenant.tag, tenant.owner
    tenant.app_name = f"{tag}-private-app"
    created = owner.post("/api/v1/apps", {"name": tenant.app_name, "description": f"{tag}-desc"})
    assert created.status_code == 201, created.text
    tenant.app_id = created.json()["id"]
    tenant.flow_name = f"{tag}_private_flow"
    tenant.question = f"{tag}'s secret question?"
    flow = owner.post(f"{tenant.base}/flows", tenant.flow())
    assert flow.status_code == 201, flow.text
    tenant.flow_id = flow.json()["id"]
    assert owner.post(f"{tenant.base}/flows", CHAIN_FLOW).status_code == 201

    waiting = owner.post(
        f"{tenant.base}/sessions",
        {
            "flow": tenant.flow_name,
            "input": {"topic": f"{tag}-secret-input"},
            "metadata": {"note": f"{tag}-secret-metadata"},
        },
    )
    assert waiting.status_code == 201, waiting.text
    tenant.waiting_session, tenant.waiting_run = waiting.json()["id"], waiting.json()["run_id"]
    run = wait_run(owner, tenant.base, tenant.waiting_run, "interrupted")
    tenant.interrupt_id = run["pending_questions"][0]["interrupt_id"]

    done = owner.post(f"{tenant.base}/sessions", {"flow": "chain", "input": {}})
    assert done.status_code == 201, done.text
    tenant.done_session, tenant.done_run = done.json()["id"], done.json()["run_id"]
    wait_run(owner, tenant.base, tenant.done_run, "succeeded")
    steps = owner.get(f"{tenant.base}/runs/{tenant.done_run}").json()["steps"]
    tenant.step_ids = [step["id"] for step in steps]
    assert tenant.step_ids

    key = owner.post(f"{tenant.base}/api-keys", {"name": f"{tag}-key", "role": "admin"})
    assert key.status_code == 201, key.text
    tenant.key_id, tenant.key_secret = key.json()["id"], key.json()["key"]
    if member is not None:  # invited by id; joins by accepting
        invited = owner.post(
            f"{tenant.base}/members", {"user": member.user["id"], "role": "member"}
        )
        assert invited.status_code == 202, invited.text
        accepted = member.post(f"/api/v1/invitations/{invited.json()['id']}/accept")
        assert accepted.status_code == 200, accepted.text
    tenant.member_id = member.user["id"] if member is not None else owner.user["id"]
    pending = owner.post(
        f"{tenant.base}/members", {"user": f"{tag}-invitee@example.com", "role": "viewer"}
    )
    assert pending.status_code == 202, pending.text
    tenant.invitation_id = pending.json()["id"]

    # Agents and what they reach: an agent, a provider with a key, an integration's
    # credentials, an MCP server, a chat.
    tenant.agent_name = f"{tag}_agent"
    defined = owner.post(
        f"{tenant.base}/agents",
        {"name": tenant.agent_name, "instructions": f"{tag}-secret-instructions"},
    )
    assert defined.status_code == 201, defined.text
    tenant.provider_name = f"{tag}-provider"
    provider = owner.client.put(
        f"{tenant.base}/providers/{tenant.provider_name}",
        json={"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": f"{tag}-sk"},
        headers=owner.headers,
    )
    assert provider.status_code == 200, provider.text
    hubspot = owner.client.put(
        f"{tenant.base}/integrations/hubspot",
        json={"access_token": f"{tag}-hubspot-token"},
        headers=owner.headers,
    )
    assert hubspot.status_code == 204, hubspot.text
    # The operator's stdio MCP server, enabled for the app by a platform admin.
    tenant.mcp_name = f"{tag}-mcp"
    mcp = admin.client.put(
        f"{tenant.base}/mcp-servers/{tenant.mcp_name}/stdio",
        json={"server": "support"},
        headers=admin.headers,
    )
    assert mcp.status_code == 200, mcp.text
    # A workflow graph whose gate closes a flow no probe starts.
    tenant.graph_name = f"{tag}_pack"
    graph = owner.client.put(
        f"{tenant.base}/workflow-graphs/{tenant.graph_name}",
        json={"gates": [{"flow": f"{tag}_gated", "requires": [tenant.flow_name]}]},
        headers=owner.headers,
    )
    assert graph.status_code == 200, graph.text
    artifact = owner.post(
        f"{tenant.base}/artifacts",
        {
            "type": "Tracker",
            "initial_state": {"note": f"{tag}-secret-artifact"},
            "session_id": tenant.waiting_session,
        },
    )
    assert artifact.status_code == 201, artifact.text
    tenant.artifact_id = artifact.json()["id"]
    tenant.memory_key, tenant.memory_scope_id = f"{tag}_note", tenant.done_session
    for scope, scope_id in (("session", tenant.done_session), ("app", "-")):
        note = owner.client.put(
            f"{tenant.base}/memory/{scope}/{scope_id}/{tenant.memory_key}",
            json={"value": f"{tag}-secret-memory"},
            headers=owner.headers,
        )
        assert note.status_code == 200, note.text
    message = owner.post(
        f"{tenant.base}/runs/{tenant.done_run}/messages",
        {
            "from": f"{tag}_planner",
            "to": f"{tag}_coder",
            "type": "request",
            "content": f"{tag}-secret-message",
        },
    )
    assert message.status_code == 201, message.text
    # The example pack, enabled, with an entry in its table.
    enabled = owner.client.put(f"{tenant.base}/packs/guestbook", headers=owner.headers)
    assert enabled.status_code == 200, enabled.text
    signed = owner.post(
        f"{tenant.base}/packs/guestbook/entries",
        {"name": f"{tag}-guest", "message": f"{tag}-secret-guestbook"},
    )
    assert signed.status_code == 201, signed.text
    tenant.guestbook_entry = signed.json()["id"]
    # The shipped leads pack, enabled, with a lead analyzed (its follow-ups skipped or
    # failing: no CRM answers here).
    enabled = owner.client.put(f"{tenant.base}/packs/leads", headers=owner.headers)
    assert enabled.status_code == 200, enabled.text
    lead = owner.post(f"{tenant.base}/packs/leads/leads", lead_form(tag))
    assert lead.status_code == 201, lead.text
    tenant.lead_id = lead.json()["id"]
    analyzed = owner.post(f"{tenant.base}/packs/leads/leads/{tenant.lead_id}/analyze")
    assert analyzed.status_code == 200, analyzed.text
    # The shipped orchestrator pack, enabled, with a thread waiting for an answer.
    enabled = owner.client.put(f"{tenant.base}/packs/orchestrator", headers=owner.headers)
    assert enabled.status_code == 200, enabled.text
    thread = owner.post(f"{tenant.base}/orchestrator/chat", {"prompt": "help me"})
    assert thread.json()["status"] == "pending_user_input", thread.text
    tenant.orchestrator_thread = thread.json()["thread_id"]
    tenant.knowledge_namespace, tenant.knowledge_key = f"{tag}_kb", f"{tag}/secret-doc.md"
    document = {
        "key": tenant.knowledge_key,
        "text": f"{tag}-secret-knowledge about the shared word lighthouse",
        "metadata": {"owner": f"{tag}-secret-knowledge-metadata"},
    }
    stored = owner.post(
        f"{tenant.base}/knowledge/{tenant.knowledge_namespace}/documents",
        {"documents": [document]},
    )
    assert stored.status_code == 200, stored.text
    # The storyflow pack, enabled, with a character and a component of the app's own.
    enabled = owner.client.put(f"{tenant.base}/packs/storyflow", headers=owner.headers)
    assert enabled.status_code == 200, enabled.text
    character = owner.post(
        f"{tenant.base}/packs/storyflow/characters",
        {"name": f"{tag}-secret-character", "description": f"{tag}-secret-persona"},
    )
    assert character.status_code == 201, character.text
    tenant.character_id = character.json()["id"]
    component = owner.post(
        f"{tenant.base}/packs/storyflow/components", storyflow_component(f"{tag}Component")
    )
    assert component.status_code == 201, component.text
    tenant.component_id = component.json()["id"]
    schedule = owner.post(
        f"{tenant.base}/schedules",
        {
            "name": f"{tag}-schedule",
            "flow": "chain",
            "cron": "0 0 1 1 *",
            "input": {"note": f"{tag}-secret-schedule-input"},
        },
    )
    assert schedule.status_code == 201, schedule.text
    tenant.schedule_id = schedule.json()["id"]
    webhook = owner.post(
        f"{tenant.base}/webhooks",
        {"url": f"https://{tag}-secret-hooks.example.com/in", "events": ["run.failed"]},
    )
    assert webhook.status_code == 201, webhook.text
    tenant.webhook_id = webhook.json()["id"]
    tenant.webhook_secret = webhook.json()["secret"]
    chat = owner.post(f"{tenant.base}/chat/messages", {"message": f"{tag}-secret-chat"})
    assert chat.status_code == 200 and chat.json()["status"] == "succeeded", chat.text
    tenant.data = [
        f"{tag}-desc",
        f"{tag}-secret-input",
        f"{tag}-secret-metadata",
        f"{tag}-secret-instructions",
        f"{tag}-sk",
        f"{tag}-hubspot-token",
        "operator-mcp-env-secret",
        f"{tag}-secret-chat",
        f"{tag}-schedule",
        f"{tag}-secret-schedule-input",
        f"{tag}-secret-hooks.example.com",
        f"{tag}-secret-memory",
        f"{tag}-secret-artifact",
        f"{tag}-secret-message",
        f"{tag}-guest",
        f"{tag}-secret-guestbook",
        f"{tag}-secret-lead@example.com",
        f"{tag} Secret Lead",
        f"{tag}-secret-lead-message",
        f"{tag}-secret-knowledge",
        f"{tag}-secret-knowledge-metadata",
        f"{tag}-secret-character",
        f"{tag}-secret-persona",
        f"{tag}Component",
        f"{tag}-secret-component",
        f"{tag}-invitee@example.com",
        f"{tag}_planner",
        message.json()["id"],
        f"{tag}_gated",
        chat.json()["session_id"],
        owner.user["email"],
        *extra_data,
    ]
    return tenant


@pytest.fixture
def api_config(database_url: str, tmp_path: Path) -> Settings:
    """The providers' URLs are on loopback (allowed here); the operator offers the test MCP
    server over stdio as `support`."""
    offered = tmp_path / "stdio-servers.json"
    support = {
        "command": sys.executable,
        "args": [str(MCP_SERVER)],
        "env": {"SECRET_TOKEN": "operator-mcp-env-secret"},
    }
    offered.write_text(json.dumps({"support": support}))
    return api_settings(
        database_url,
        egress_allow=["127.0.0.1"],
        mcp_stdio_servers_file=str(offered),
        packs=[str(EXAMPLE_PACK), *shipped_pack_specs()],
    )


@dataclass
class World:
    api: TestClient
    admin: Actor
    bob: Actor
    a: Tenant
    b: Tenant


@pytest.fixture
def world(api: TestClient, admin: Actor, make_user: Any) -> World:
    alice, bob = make_user("alice"), make_user("bob")
    carol = admin.post(
        "/api/v1/users",
        {"email": "carol@example.com", "username": "carol", "password": PASSWORD},
    )
    assert carol.status_code == 201, carol.text
    a = populate(Tenant("alice", alice), login(api, "carol"), ["carol@example.com", "carol"], admin)
    b = populate(Tenant("bob", bob), None, [], admin)
    # Dave's app invites alice and bob: each owner has an invitation of their own to answer.
    dave = make_user("dave")
    dave_app = f"/api/v1/apps/{dave.create_app('dave-app')}"
    for tenant in (a, b):
        invited = dave.post(f"{dave_app}/members", {"user": tenant.tag, "role": "viewer"})
        assert invited.status_code == 202, invited.text
        tenant.incoming_invitation_id = invited.json()["id"]
    return World(api, admin, bob, a, b)


# --- what each route is sent ------------------------------------------------------------------

Body = Callable[[Tenant], Any]


@dataclass(frozen=True)
class Probe:
    body: Body | None = None
    params: dict[str, Any] = field(default_factory=dict)
    admin_only: bool = False  # the platform admins' back office: 403 for everyone else
    # For the control with B's own ids: the objects that belong together (the question is the
    # waiting session's, the steps are the finished run's); the attack tries every id.
    coherent: dict[str, str] = field(default_factory=dict)
    # The other path parameters name things every app has (an integration, `hubspot`), not
    # objects of A: only A's app id is an attack.
    app_only: bool = False


APPS = "/api/v1/apps/{app_id}"
SESSION = f"{APPS}/sessions/{{session_id}}"
RUN = f"{APPS}/runs/{{run_id}}"
MEMORY = f"{APPS}/memory/{{scope}}/{{scope_id}}"
WORKFLOW = f"{APPS}/workflows/{{run_id}}"
ARTIFACT = f"{APPS}/artifacts/{{artifact_id}}"
LEADS = f"{APPS}/packs/leads/leads"
KNOWLEDGE = f"{APPS}/knowledge/{{namespace}}"
CHARACTERS = f"{APPS}/packs/storyflow/characters"
COMPONENTS = f"{APPS}/packs/storyflow/components"
SCHEDULES = f"{APPS}/schedules"
WEBHOOKS = f"{APPS}/webhooks"


def storyflow_component(component_id: str | None = None) -> dict[str, Any]:
    """A component of the app's own for the storyflow catalogue (without an id: PUT's body)."""
    body: dict[str, Any] = {
        "node_type": "template",
        "name": f"{component_id or 'changed'}-secret-component",
        "fields": [{"name": "template", "label": "Template", "type": "textarea"}],
        "ports": {"inputs": [{"id": "in", "label": "In"}], "outputs": []},
    }
    return body if component_id is None else {"id": component_id, **body}


MEMORY_SCOPE = {"scope": "memory_scope", "scope_id": "memory_scope_id"}
MEMORY_KEY = {**MEMORY_SCOPE, "key": "memory_key"}

# Every route with a path parameter, and what to send it. A route missing here fails
# test_every_route_is_in_the_isolation_tables: add it, with a body that is valid for it.
PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/v1/users/{user_id}"): Probe(admin_only=True),
    ("DELETE", "/api/v1/users/{user_id}"): Probe(admin_only=True),
    ("GET", APPS): Probe(),
    ("PATCH", APPS): Probe(lambda t: {"name": "renamed-by-bob"}),
    ("DELETE", APPS): Probe(),
    ("GET", f"{APPS}/members"): Probe(),
    ("POST", f"{APPS}/members"): Probe(lambda t: {"user": "bob", "role": "admin"}),
    ("PATCH", f"{APPS}/members/{{user_id}}"): Probe(lambda t: {"role": "viewer"}),
    ("DELETE", f"{APPS}/members/{{user_id}}"): Probe(),
    ("POST", f"{APPS}/api-keys"): Probe(lambda t: {"name": "bobs-key", "role": "admin"}),
    ("GET", f"{APPS}/api-keys"): Probe(),
    ("DELETE", f"{APPS}/api-keys/{{key_id}}"): Probe(),
    ("GET", f"{APPS}/invitations"): Probe(),
    ("DELETE", f"{APPS}/invitations/{{invitation_id}}"): Probe(),
    # The invitee's side: another user's invitation is 404 to bob (his own: accepted, or 409
    # once answered).
    ("POST", "/api/v1/invitations/{invitation_id}/accept"): Probe(),
    ("POST", "/api/v1/invitations/{invitation_id}/decline"): Probe(),
    ("POST", f"{APPS}/flows"): Probe(lambda t: t.flow()),
    ("GET", f"{APPS}/flows"): Probe(),
    ("GET", f"{APPS}/flows/{{name}}"): Probe(),
    ("POST", f"{APPS}/sessions"): Probe(lambda t: {"flow": t.flow_name, "input": {}}),
    ("GET", f"{APPS}/sessions"): Probe(),
    ("GET", SESSION): Probe(),
    ("GET", f"{SESSION}/messages"): Probe(),
    ("GET", f"{SESSION}/history"): Probe(),
    ("POST", f"{SESSION}/runs"): Probe(lambda t: {"input": {}, "multitask_strategy": "enqueue"}),
    ("POST", f"{SESSION}/input"): Probe(
        lambda t: {"interrupt_id": t.interrupt_id, "answer": "b"},
        coherent={"session_id": "waiting_session"},
    ),
    ("POST", f"{SESSION}/cancel"): Probe(),
    ("POST", f"{SESSION}/complete"): Probe(),
    ("GET", RUN): Probe(),
    ("GET", f"{RUN}/wait"): Probe(params={"timeout": 0.2}),
    ("GET", f"{RUN}/steps/{{number}}"): Probe(),
    ("POST", f"{RUN}/cancel"): Probe(),
    ("POST", f"{RUN}/fork"): Probe(
        lambda t: {"step_id": t.step_ids[0], "state_patch": {}}, coherent={"run_id": "done_run"}
    ),
    ("GET", f"{APPS}/events"): Probe(),
    ("GET", f"{APPS}/artifacts"): Probe(),
    ("POST", f"{APPS}/artifacts"): Probe(lambda t: {"type": "Tracker", "initial_state": {}}),
    ("GET", ARTIFACT): Probe(),
    ("PATCH", ARTIFACT): Probe(lambda t: {"note": "patched-by-bob"}),
    ("GET", f"{ARTIFACT}/history"): Probe(),
    ("POST", f"{ARTIFACT}/actions"): Probe(lambda t: {"action": "refresh", "payload": {}}),
    ("POST", f"{SESSION}/artifacts/{{artifact_id}}"): Probe(),
    ("GET", f"{APPS}/budget"): Probe(),
    ("PUT", f"{APPS}/budget"): Probe(lambda t: {"max_tokens": 123_456}),
    ("GET", f"{SESSION}/budget"): Probe(),
    ("PUT", f"{SESSION}/budget"): Probe(lambda t: {"max_tokens": 654_321}),
    ("GET", f"{APPS}/usage"): Probe(params={"group_by": "model"}),
    ("GET", MEMORY): Probe(coherent=MEMORY_SCOPE),
    ("GET", f"{MEMORY}/{{key}}"): Probe(coherent=MEMORY_KEY),
    ("PUT", f"{MEMORY}/{{key}}"): Probe(lambda t: {"value": "bob-was-here"}, coherent=MEMORY_KEY),
    ("DELETE", f"{MEMORY}/{{key}}"): Probe(coherent=MEMORY_KEY),
    ("GET", f"{RUN}/messages"): Probe(),
    ("POST", f"{RUN}/messages"): Probe(
        lambda t: {"from": "bob_agent", "to": "coder", "type": "notification", "content": "hi"}
    ),
    ("GET", f"{APPS}/agents"): Probe(),
    ("GET", f"{APPS}/agents/health"): Probe(),
    ("GET", f"{APPS}/agents/{{name}}"): Probe(),
    ("GET", f"{APPS}/agents/search"): Probe(params={"q": "weather"}),
    ("POST", f"{APPS}/agents"): Probe(lambda t: {"name": "bobs_agent"}),
    ("POST", f"{APPS}/agents/generate"): Probe(lambda t: {"role": "Spy", "reason": "to look"}),
    ("POST", f"{APPS}/agents/{{name}}/invoke"): Probe(lambda t: {"task": "hello"}),
    ("POST", f"{APPS}/agents/{{name}}/disable"): Probe(),
    ("POST", f"{APPS}/agents/{{name}}/enable"): Probe(),
    ("GET", f"{APPS}/agents/{{name}}/messages"): Probe(),
    ("DELETE", f"{APPS}/agents/{{name}}"): Probe(),
    ("GET", f"{APPS}/tools"): Probe(),
    ("GET", f"{APPS}/tool-calls"): Probe(),
    ("POST", f"{APPS}/chat/messages"): Probe(lambda t: {"message": "hello"}),
    ("POST", f"{APPS}/chat/stream"): Probe(lambda t: {"message": "hello"}),
    ("GET", f"{APPS}/chat/{{session_id}}/history"): Probe(),
    # A2A (docs/a2a.md): the card, and the JSON-RPC endpoint sent a message.
    ("GET", "/a2a/{app_id}/{agent}/.well-known/agent-card.json"): Probe(),
    ("POST", "/a2a/{app_id}/{agent}"): Probe(
        lambda t: {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hello"}]},
                "configuration": {"returnImmediately": True},
            },
        }
    ),
    ("DELETE", f"{APPS}/chat/{{session_id}}/history"): Probe(),
    ("GET", f"{APPS}/providers"): Probe(),
    ("GET", f"{APPS}/providers/{{name}}"): Probe(),
    # A PUT creates or replaces the app's own provider of that name: a name, not A's object.
    ("PUT", f"{APPS}/providers/{{name}}"): Probe(
        lambda t: {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}, app_only=True
    ),
    ("DELETE", f"{APPS}/providers/{{name}}"): Probe(),
    ("GET", f"{APPS}/integrations"): Probe(),
    ("PUT", f"{APPS}/integrations/{{service}}"): Probe(
        lambda t: {"access_token": "bobs"}, app_only=True
    ),
    ("DELETE", f"{APPS}/integrations/{{service}}"): Probe(app_only=True),
    ("GET", f"{APPS}/mcp-servers"): Probe(),
    ("POST", f"{APPS}/mcp-servers"): Probe(
        lambda t: {"name": "bobs-mcp", "transport": "http", "url": "http://127.0.0.1:9/mcp"}
    ),
    ("GET", f"{APPS}/mcp-servers/{{name}}/tools"): Probe(),
    ("PUT", f"{APPS}/mcp-servers/{{name}}/stdio"): Probe(
        lambda t: {"server": "support"}, admin_only=True
    ),
    ("DELETE", f"{APPS}/mcp-servers/{{name}}"): Probe(),
    ("GET", f"{APPS}/flows/{{name}}/prerequisites"): Probe(),
    ("GET", f"{APPS}/workflow-graphs"): Probe(),
    ("GET", f"{APPS}/workflow-graphs/{{name}}"): Probe(),
    # A PUT creates or replaces the app's own graph of that name: a name, not A's object.
    ("PUT", f"{APPS}/workflow-graphs/{{name}}"): Probe(
        lambda t: {"gates": [{"flow": f"{t.tag}_gated", "requires": ["chain"]}]}, app_only=True
    ),
    ("DELETE", f"{APPS}/workflow-graphs/{{name}}"): Probe(),
    ("POST", f"{RUN}/pause"): Probe(),
    ("POST", f"{RUN}/resume"): Probe(),
    ("POST", f"{APPS}/workflows/execute"): Probe(
        lambda t: {"workflow_type": "sequential", "input_data": {"message": "bob's request"}}
    ),
    # Any run is a workflow to these routes (its workflow_type is null when it was not
    # started by /workflows/execute): A's runs must be 404 to B.
    ("GET", WORKFLOW): Probe(),
    ("PATCH", f"{WORKFLOW}/state"): Probe(lambda t: {"action": "pause"}),
    ("GET", f"{WORKFLOW}/visualization"): Probe(),
    ("GET", f"{APPS}/packs"): Probe(),
    ("GET", f"{APPS}/retention"): Probe(),
    ("PUT", f"{APPS}/retention"): Probe(lambda t: {"events": {"days": 1}}),
    # A pack's name is what every app may enable, not A's object: only A's app is an attack.
    ("PUT", f"{APPS}/packs/{{name}}"): Probe(app_only=True),
    ("GET", f"{APPS}/packs/{{name}}/handlers"): Probe(app_only=True),
    ("DELETE", f"{APPS}/packs/{{name}}"): Probe(app_only=True),
    # The example pack's own routes, mounted with the member and enabled checks.
    ("GET", f"{APPS}/packs/guestbook/entries"): Probe(),
    ("POST", f"{APPS}/packs/guestbook/entries"): Probe(
        lambda t: {"name": "bob", "message": "bob-was-here"}
    ),
    ("GET", f"{APPS}/packs/guestbook/entries/{{entry_id}}"): Probe(),
    # The shipped leads pack's routes.
    ("POST", LEADS): Probe(lambda t: lead_form("bob")),
    ("GET", LEADS): Probe(),
    ("GET", f"{LEADS}/{{lead_id}}"): Probe(),
    ("POST", f"{LEADS}/{{lead_id}}/analyze"): Probe(params={"wait": 0}),
    # The shipped orchestrator pack's routes (mounted at the app's root).
    ("POST", f"{APPS}/orchestrator/chat"): Probe(lambda t: {"prompt": "get the news"}),
    ("POST", f"{APPS}/orchestrator/continue"): Probe(
        lambda t: {"thread_id": t.orchestrator_thread, "response": "skip"}
    ),
    ("GET", f"{APPS}/orchestrator/status/{{thread_id}}"): Probe(),
    # The knowledge store. A namespace is a name (B's own POST creates B's namespace of
    # that name): only A's app is an attack on the write.
    ("GET", f"{APPS}/knowledge"): Probe(),
    ("POST", f"{KNOWLEDGE}/documents"): Probe(
        lambda t: {"documents": [{"key": "bob-doc", "text": "bob was here"}]}, app_only=True
    ),
    ("GET", f"{KNOWLEDGE}/documents"): Probe(),
    ("GET", f"{KNOWLEDGE}/documents/{{key:path}}"): Probe(),
    ("DELETE", f"{KNOWLEDGE}/documents/{{key:path}}"): Probe(),
    ("GET", f"{KNOWLEDGE}/search"): Probe(params={"q": "lighthouse secret knowledge"}),
    # The app as an MCP server (tests/api/test_mcp_server.py drives it with the SDK's client):
    # a JSON-RPC request from a caller that is not an MCP client gets the REST envelope.
    ("POST", f"{APPS}/mcp"): Probe(lambda t: {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    # The shipped samples: a sample is every app's (loading it writes B's own namespace).
    ("GET", f"{APPS}/knowledge-samples"): Probe(),
    ("POST", f"{APPS}/knowledge-samples/{{name}}"): Probe(app_only=True),
    # The shipped storyflow pack's routes.
    ("GET", CHARACTERS): Probe(),
    ("POST", CHARACTERS): Probe(lambda t: {"name": "bob-was-here"}),
    ("GET", f"{CHARACTERS}/{{character_id}}"): Probe(),
    ("PATCH", f"{CHARACTERS}/{{character_id}}"): Probe(lambda t: {"voice": "bob's voice"}),
    ("DELETE", f"{CHARACTERS}/{{character_id}}"): Probe(),
    ("GET", COMPONENTS): Probe(),
    ("POST", COMPONENTS): Probe(lambda t: storyflow_component("bobWasHere")),
    ("GET", f"{COMPONENTS}/{{component_id}}"): Probe(),
    ("PUT", f"{COMPONENTS}/{{component_id}}"): Probe(lambda t: storyflow_component()),
    ("DELETE", f"{COMPONENTS}/{{component_id}}"): Probe(),
    # Schedules (docs/schedules.md). A schedule names a flow by name: B's own POST with A's
    # flow name is refused (no flow of that name in B).
    ("GET", SCHEDULES): Probe(),
    ("POST", SCHEDULES): Probe(lambda t: {"name": "bobs", "flow": "chain", "cron": "@daily"}),
    ("POST", f"{SCHEDULES}/preview"): Probe(lambda t: {"cron": "@daily"}, app_only=True),
    ("GET", f"{SCHEDULES}/{{schedule_id}}"): Probe(),
    ("PATCH", f"{SCHEDULES}/{{schedule_id}}"): Probe(lambda t: {"cron": "@hourly"}),
    ("POST", f"{SCHEDULES}/{{schedule_id}}/pause"): Probe(),
    ("POST", f"{SCHEDULES}/{{schedule_id}}/resume"): Probe(),
    ("GET", f"{SCHEDULES}/{{schedule_id}}/preview"): Probe(),
    ("DELETE", f"{SCHEDULES}/{{schedule_id}}"): Probe(),
    # Webhooks (docs/webhooks.md): the app's admins only.
    ("GET", WEBHOOKS): Probe(),
    ("POST", WEBHOOKS): Probe(
        lambda t: {"url": "https://bob-hooks.example.com/x", "events": ["run.failed"]}
    ),
    ("GET", f"{WEBHOOKS}/{{webhook_id}}"): Probe(),
    ("PATCH", f"{WEBHOOKS}/{{webhook_id}}"): Probe(
        lambda t: {"url": "https://bob-hooks.example.com/stolen"}
    ),
    ("DELETE", f"{WEBHOOKS}/{{webhook_id}}"): Probe(),
    ("GET", f"{WEBHOOKS}/{{webhook_id}}/deliveries"): Probe(),
}
# Routes without a path parameter: none of them may reach into an app by id. A new one must
# be listed here on purpose (every GET among them is checked for leaks below).
UNSCOPED = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/signup"),
    ("GET", "/api/v1/setup"),  # first run (tests/api/test_setup.py)
    ("POST", "/api/v1/setup"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/password"),
    ("GET", "/api/v1/invitations"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/apps"),
    ("GET", "/api/v1/apps"),
    ("WS", "/api/v1/ws"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/ready"),
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/metrics"),
    ("GET", "/api/v1/node-types"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/"),  # a redirect to the console
    ("GET", "/console"),
    ("MOUNT", "/console"),  # the console's static files (podium.console)
}


@dataclass(frozen=True)
class Request:
    method: str
    route: str
    url: str
    body: Any
    params: dict[str, Any]

    def sent(self) -> str:
        return self.url + json.dumps(self.body) + json.dumps(self.params)


def requests_for(
    method: str, route: str, app_id: str, target: Tenant, *, coherent: bool = False
) -> Iterator[Request]:
    """The route filled with `app_id` and `target`'s ids: one request per combination."""
    probe = PROBES[(method, route)]
    params = [p for p in PARAM.findall(route) if p != "app_id"]
    choices = [
        [getattr(target, probe.coherent[p])]
        if coherent and p in probe.coherent
        else target.ids_for(p, route)
        for p in params
    ]
    for values in itertools.product(*choices):
        url = route.replace("{app_id}", app_id)
        for param, value in zip(params, values, strict=True):
            url = url.replace(f"{{{param}}}", value).replace(f"{{{param}:path}}", value)
        body = probe.body(target) if probe.body else None
        yield Request(method, route, url, body, probe.params)


def send(api: TestClient, request: Request, headers: dict[str, str]) -> Any:
    return api.request(
        request.method, request.url, json=request.body, params=request.params, headers=headers
    )


def assert_refused(
    response: Any, request: Request, status: int, victim: Tenant, who: str = "bob"
) -> None:
    where = f"{who}: {request.method} {request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}, where
    assert error["code"] == ("not_found" if status == 404 else "forbidden"), where
    assert_no_leak(response.text, request.sent(), victim, where)


def assert_no_leak(text: str, sent: str, victim: Tenant, where: str) -> None:
    # What the caller sent may be echoed back ("session 'ses_…' does not exist"); nothing else.
    leaked = sorted(s for s in victim.secrets() if s in text and s not in sent)
    assert not leaked, f"{where} leaked {leaked} of app A: {text[:500]}"


def attackers(world: World) -> list[tuple[str, dict[str, str]]]:
    return [
        ("bob's access token", world.bob.headers),
        ("app B's admin API key", {"X-API-Key": world.b.key_secret}),
    ]


def destructive_last(route: tuple[str, str]) -> tuple[bool, int]:
    # Deleting the app goes last: it would take every other object of the app with it.
    method, path = route
    return method == "DELETE", -len(path)


# --- the tests --------------------------------------------------------------------------------


def test_every_route_is_in_the_isolation_tables() -> None:
    settings = api_settings("sqlite:///unused.db", packs=[str(EXAMPLE_PACK), *shipped_pack_specs()])
    table = set(route_table(create_app(settings)))
    with_ids = {route for route in table if PARAM.search(route[1])}
    assert with_ids - set(PROBES) == set(), "routes with ids not in PROBES: add them"
    assert set(PROBES) - with_ids == set(), "PROBES lists routes that no longer exist"
    without_ids = table - with_ids
    assert without_ids - UNSCOPED == set(), "new routes without ids: list them in UNSCOPED"
    assert UNSCOPED - without_ids == set(), "UNSCOPED lists routes that no longer exist"


def test_another_apps_ids_are_404_on_every_route_and_leak_nothing(world: World) -> None:
    api, a, b = world.api, world.a, world.b
    routes = sorted(
        (r for r in route_table(api.app) if PARAM.search(r[1])),  # type: ignore[arg-type]
        key=destructive_last,
    )
    assert len(routes) == len(PROBES)
    checked = 0
    for who, headers in attackers(world):
        for method, route in routes:
            probe = PROBES[(method, route)]
            if probe.admin_only:
                for request in requests_for(method, route, a.app_id, a):
                    assert_refused(send(api, request, headers), request, 403, a, who)
                    checked += 1
                continue
            variants = [a.app_id]  # A's app: bob is not a member
            if set(PARAM.findall(route)) != {"app_id"} and not probe.app_only:
                variants.append(b.app_id)  # bob's own app, A's objects in it
            for app_id in variants:
                for request in requests_for(method, route, app_id, a):
                    assert_refused(send(api, request, headers), request, 404, a, who)
                    checked += 1
    assert checked > 2 * len(PROBES)

    # A's ids in B's queries and bodies: filtered out or not found, never shown.
    bob = world.bob
    for path, params in (
        (f"{b.base}/sessions", {"user_id": a.owner.user["id"]}),
        (f"{b.base}/sessions", {"flow": a.flow_name}),
        (f"{b.base}/events", {"session_id": a.waiting_session}),
        (f"{b.base}/events", {"run_id": a.done_run}),
        (f"{b.base}/events", {"artifact_id": a.artifact_id}),
        (f"{b.base}/artifacts", {"session_id": a.waiting_session}),
    ):
        response = bob.get(path, params=params)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [], (path, params)
        assert_no_leak(response.text, json.dumps(params), a, path)
    for path, body in (
        (f"{b.base}/sessions", {"flow": a.flow_name}),
        (
            f"{b.base}/sessions/{b.waiting_session}/input",
            {"interrupt_id": a.interrupt_id, "answer": 1},
        ),
        (
            f"{b.base}/sessions/{b.done_session}/runs",
            {"trigger_node_id": "n1", "from_run_id": a.done_run},
        ),
        (f"{b.base}/runs/{b.done_run}/fork", {"step_id": a.step_ids[0]}),
        (
            f"{b.base}/orchestrator/continue",
            {"thread_id": a.orchestrator_thread, "response": "skip"},
        ),
    ):
        request = Request("POST", path, path, body, {})
        assert_refused(bob.post(path, body), request, 404, a)

    # A schedule of A's flow in B: no such flow in B (422, as any unknown flow), nothing of A.
    scheduled = {"name": "bobs-a", "flow": a.flow_name, "cron": "@daily"}
    response = bob.post(f"{b.base}/schedules", scheduled)
    assert response.status_code == 422, response.text
    assert_no_leak(response.text, json.dumps(scheduled), a, "schedules")

    # The GET routes that take no id show bob nothing of A either.
    for method, route in route_table(api.app):  # type: ignore[arg-type]
        if method == "GET" and not PARAM.search(route):
            for _, headers in attackers(world):
                response = api.get(route, headers=headers)
                assert_no_leak(response.text, route, a, route)

    # A is as alice left it.
    alice = a.owner
    assert alice.get(a.base).json()["name"] == a.app_name
    session = alice.get(f"{a.base}/sessions/{a.waiting_session}").json()
    assert session["status"] == "waiting"
    assert session["pending_question"]["interrupt_id"] == a.interrupt_id
    # The chat, the analysis and the orchestrator's thread too.
    assert len(alice.get(f"{a.base}/sessions").json()["items"]) == 5
    assert alice.get(f"{a.base}/agents/{a.agent_name}").json()["version"] == 1
    provider = alice.get(f"{a.base}/providers/{a.provider_name}").json()
    assert (provider["base_url"], provider["has_api_key"]) == ("http://127.0.0.1:9/v1", True)
    integrations = {i["service"]: i["source"] for i in alice.get(f"{a.base}/integrations").json()}
    assert integrations["hubspot"] == "app"
    assert [m["name"] for m in alice.get(f"{a.base}/mcp-servers").json()] == [a.mcp_name]
    hook = alice.get(f"{a.base}/webhooks/{a.webhook_id}").json()
    assert hook["url"] == "https://alice-secret-hooks.example.com/in" and hook["enabled"], hook
    schedule = alice.get(f"{a.base}/schedules/{a.schedule_id}").json()
    assert (schedule["cron"], schedule["paused"]) == ("0 0 1 1 *", False), schedule
    entries = alice.get(f"{a.base}/packs/guestbook/entries").json()
    assert [e["id"] for e in entries] == [a.guestbook_entry]
    packs = {p["name"]: p["enabled"] for p in alice.get(f"{a.base}/packs").json()}
    assert packs["guestbook"] is True and packs["leads"] is True
    lead = alice.get(f"{a.base}/packs/leads/leads/{a.lead_id}").json()
    assert (lead["status"], lead["name"]) == ("analyzed", "alice Secret Lead")
    document = alice.get(f"{a.base}/knowledge/{a.knowledge_namespace}/documents/{a.knowledge_key}")
    assert document.json()["text"].startswith("alice-secret-knowledge"), document.text
    leads = alice.get(f"{a.base}/packs/leads/leads").json()["items"]
    assert [item["id"] for item in leads] == [a.lead_id]
    characters = alice.get(f"{a.base}/packs/storyflow/characters").json()
    assert [(c["id"], c["voice"]) for c in characters] == [(a.character_id, None)]
    own = [
        c for c in alice.get(f"{a.base}/packs/storyflow/components").json() if c["source"] == "app"
    ]
    assert [(c["id"], c["name"]) for c in own] == [
        (a.component_id, "aliceComponent-secret-component")
    ]
    graph = alice.get(f"{a.base}/workflow-graphs/{a.graph_name}").json()
    assert graph["gates"] == [{"flow": "alice_gated", "requires": [a.flow_name], "message": None}]
    assert len(alice.get(f"{a.base}/flows/{a.flow_name}").json()["versions"]) == 1
    members = {m["username"]: m["role"] for m in alice.get(f"{a.base}/members").json()}
    assert members == {"alice": "owner", "carol": "member"}
    assert [i["id"] for i in alice.get(f"{a.base}/invitations").json()] == [a.invitation_id]
    assert [i["id"] for i in alice.get("/api/v1/invitations").json()] == [a.incoming_invitation_id]
    keys = alice.get(f"{a.base}/api-keys").json()
    assert [(k["id"], k["revoked_at"]) for k in keys] == [(a.key_id, None)]
    assert world.api.get(a.base, headers={"X-API-Key": a.key_secret}).status_code == 200
    assert alice.get(f"/api/v1/users/{a.owner.user['id']}").status_code == 403  # not an admin
    assert world.admin.get(f"/api/v1/users/{a.owner.user['id']}").status_code == 200

    # The control: the very same requests with B's own ids do what they say for bob.
    for method, route in routes:
        if PROBES[(method, route)].admin_only:
            continue
        for request in requests_for(method, route, b.app_id, b, coherent=True):
            response = send(api, request, bob.headers)
            assert response.status_code < 300 or response.status_code == 409, (
                f"{method} {request.url}: {response.status_code} {response.text}"
            )


def test_the_live_streams_of_another_app_are_refused(world: World) -> None:
    api, a, b = world.api, world.a, world.b
    attacks: list[tuple[str, dict[str, Any]]] = [
        ("subscribe", {"app_id": a.app_id}),
        ("subscribe", {"app_id": a.app_id, "session_id": a.waiting_session}),
        ("subscribe", {"app_id": b.app_id, "session_id": a.waiting_session}),
        ("subscribe", {"app_id": b.app_id, "session_id": a.done_session}),
        ("subscribe", {"app_id": b.app_id, "run_id": a.waiting_run}),
        ("execution.start", {"app_id": a.app_id, "flow": a.flow_name}),
        ("execution.start", {"app_id": b.app_id, "flow": a.flow_name}),
        ("execution.start", {"app_id": b.app_id, "session_id": a.done_session}),
        # The editor protocol: A's stored flow by id (run, or edited), A's runs followed.
        ("execution.start", {"app_id": a.app_id, "flow_id": a.flow_id}),
        ("execution.start", {"app_id": b.app_id, "flow_id": a.flow_id}),
        (
            "execution.start",
            {"app_id": b.app_id, "flow_id": a.flow_id, "nodes": a.flow()["nodes"], "edges": []},
        ),
        ("execution.subscribe", {"app_id": a.app_id, "run_id": a.done_run}),
        ("execution.subscribe", {"app_id": b.app_id, "run_id": a.done_run}),
        ("chat.send", {"app_id": a.app_id, "message": "hello"}),
        ("agent.status", {"app_id": a.app_id}),
        ("agent.status", {"app_id": b.app_id, "agent": a.agent_name}),
        ("subscribe", {"app_id": a.app_id, "artifact_id": a.artifact_id}),
        ("subscribe", {"app_id": b.app_id, "artifact_id": a.artifact_id}),
        (
            "artifact.action",
            {"app_id": b.app_id, "artifact_id": a.artifact_id, "action": "refresh"},
        ),
        ("chat.send", {"app_id": b.app_id, "session_id": a.done_session, "message": "hello"}),
        (
            "session.input",
            {
                "app_id": b.app_id,
                "session_id": a.waiting_session,
                "interrupt_id": a.interrupt_id,
                "answer": "b",
            },
        ),
        (
            "session.input",
            {
                "app_id": b.app_id,
                "session_id": b.waiting_session,
                "interrupt_id": a.interrupt_id,
                "answer": "b",
            },
        ),
    ]
    credentials = [f"token={world.bob.access_token}", f"api_key={b.key_secret}"]
    for credential in credentials:
        with api.websocket_connect(f"/api/v1/ws?{credential}") as ws:
            assert ws.receive_json()["type"] == "connection.ready"
            for number, (kind, data) in enumerate(attacks):
                ws.send_json({"type": kind, "id": number, "data": data})
                reply = ws.receive_json()
                where = f"{credential[:8]} {kind} {data}"
                assert reply["type"] == "error", f"{where}: {reply}"
                assert reply["id"] == number
                assert reply["data"]["code"] == "not_found", f"{where}: {reply}"
                assert_no_leak(json.dumps(reply), json.dumps(data), a, where)
            # The control: B's own log streams, and holds nothing of A.
            ws.send_json({"type": "subscribe", "id": "own", "data": {"app_id": b.app_id}})
            subscribed = ws.receive_json()
            assert (subscribed["type"], subscribed["id"]) == ("subscribed", "own"), subscribed
            first = ws.receive_json()
            assert first["type"] == "event" and first["data"]["app_id"] == b.app_id, first
            ws.send_json({"type": "unsubscribe", "data": subscribed["data"]})
            while (message := ws.receive_json())["type"] == "event":
                assert message["data"]["app_id"] == b.app_id
                assert_no_leak(json.dumps(message), "", a, "B's event stream")
            assert message["type"] == "unsubscribed", message

    # A's session did not move: no answer, no new run reached it.
    session = a.owner.get(f"{a.base}/sessions/{a.waiting_session}").json()
    assert (session["status"], session["run_id"]) == ("waiting", a.waiting_run)

    for _, headers in attackers(world):
        for params in ({}, {"session_id": a.waiting_session}):
            url = f"{a.base}/events"
            response = api.get(
                url, params=params, headers={**headers, "Accept": "text/event-stream"}
            )
            request = Request("GET", url, url, None, params)
            assert_refused(response, request, 404, a)
