"""Finding 7 and the input values of finding 10 (docs/security.md, section json), as attacks on
a live server: JSON nested 300 and 5,000 levels deep, a NUL character, NaN and 500,000-character
names sent to every write route that takes JSON, a deep WebSocket message, a JMESPath condition
that is huge or deep. Each is refused with the error envelope (422 `json_invalid`, or the
schema's `invalid_input` for a name), nothing is stored, and the app's lists still answer.

The routes come from the server's OpenAPI: a new write route that takes JSON and has no body
here fails `test_every_json_write_route_has_a_case`.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import websockets
from tests.api.live import PASSWORD, LiveServer, ask_flow
from tests.security.conftest import Tenant

BAD = "__BAD__"  # where a body's bad value goes (a JSON string in the template below)
NESTED_300 = "[" * 300 + "]" * 300
NESTED_5000 = '{"a":' * 5000 + "1" + "}" * 5000
ATTACKS = {
    "nested 300 levels": (NESTED_300, "nested deeper than 64 levels (PODIUM_MAX_JSON_DEPTH)"),
    "nested 5,000 levels": (NESTED_5000, "nested deeper than 64 levels (PODIUM_MAX_JSON_DEPTH)"),
    "a NUL character": ('"Ada\\u0000"', "a string holds a NUL character (\\u0000)"),
    "NaN": ("NaN", "NaN is not a JSON number (NaN and Infinity are refused)"),
}
MERGE_PATCH = "application/merge-patch+json"

# Every write route that takes JSON, with a body that would be accepted but for BAD: the bad
# value sits where the findings put it (inputs, metadata, answers, patches, names, contents).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/auth/login"): {"identifier": BAD, "password": PASSWORD},
    ("POST", "/auth/refresh"): {"refresh_token": BAD},
    ("POST", "/auth/logout"): {"refresh_token": BAD},
    ("POST", "/auth/password"): {"current_password": BAD, "new_password": PASSWORD},
    ("POST", "/auth/signup"): {"email": "eve@example.com", "username": BAD, "password": PASSWORD},
    ("POST", "/setup"): {
        "setup_token": BAD,
        "email": "eve@example.com",
        "username": "eve",
        "password": PASSWORD,
    },
    ("POST", "/users"): {"email": "eve@example.com", "username": BAD, "password": PASSWORD},
    ("POST", "/apps"): {"name": BAD},
    ("PATCH", "/apps/{app_id}"): {"description": BAD},
    ("POST", "/apps/{app_id}/members"): {"user": BAD},
    ("PATCH", "/apps/{app_id}/members/{user_id}"): {"role": BAD},
    ("POST", "/apps/{app_id}/api-keys"): {"name": BAD, "role": "member"},
    ("POST", "/apps/{app_id}/flows"): {
        "name": "evil",
        "nodes": [{"id": "a", "type": "template", "config": {"template": "x", "extra": BAD}}],
    },
    ("POST", "/apps/{app_id}/sessions"): {"flow": "ask", "input": {"x": BAD}, "metadata": {}},
    ("POST", "/apps/{app_id}/sessions/{session_id}/runs"): {"input": {"x": BAD}},
    ("POST", "/apps/{app_id}/sessions/{session_id}/input"): {
        "interrupt_id": "{interrupt_id}",
        "answer": BAD,
    },
    ("POST", "/apps/{app_id}/runs/{run_id}/fork"): {
        "step_id": "{step_id}",
        "state_patch": {"x": BAD},
    },
    ("POST", "/apps/{app_id}/agents"): {"name": "evil", "instructions": BAD},
    ("POST", "/apps/{app_id}/packs/leads/leads"): {"name": BAD, "email": "eve@example.com"},
    ("POST", "/apps/{app_id}/agents/generate"): {"role": BAD},
    ("POST", "/apps/{app_id}/agents/{name}/invoke"): {"task": BAD},
    ("POST", "/apps/{app_id}/chat/messages"): {"message": BAD},
    ("POST", "/apps/{app_id}/chat/stream"): {"message": BAD},
    ("PUT", "/apps/{app_id}/providers/{name}"): {"options": {"x": BAD}},
    ("PUT", "/apps/{app_id}/integrations/{service}"): {"options": {"x": BAD}},
    ("POST", "/apps/{app_id}/mcp-servers"): {"name": "evil", "url": BAD},
    ("PUT", "/apps/{app_id}/mcp-servers/{name}/stdio"): {"server": BAD},
    ("PUT", "/apps/{app_id}/workflow-graphs/{name}"): {"name": "evil", "workflows": [BAD]},
    ("PUT", "/apps/{app_id}/memory/{scope}/{scope_id}/{key}"): {"value": {"x": BAD}},
    ("PUT", "/apps/{app_id}/retention"): {"events": {"days": BAD}},
    ("PUT", "/apps/{app_id}/budget"): {"max_tokens": BAD},
    ("PUT", "/apps/{app_id}/sessions/{session_id}/budget"): {"max_tokens": BAD},
    ("POST", "/apps/{app_id}/runs/{run_id}/messages"): {
        "to": "b",
        "type": "request",
        "content": {"x": BAD},
    },
    ("POST", "/apps/{app_id}/artifacts"): {"type": "Doc", "initial_state": {"x": BAD}},
    ("PATCH", "/apps/{app_id}/artifacts/{artifact_id}"): {"x": BAD},
    ("POST", "/apps/{app_id}/artifacts/{artifact_id}/actions"): {"action": "go", "payload": BAD},
    ("POST", "/apps/{app_id}/workflows/execute"): {
        "workflow_type": "sequential",
        "input_data": {"message": BAD},
    },
    ("PATCH", "/apps/{app_id}/workflows/{run_id}/state"): {"action": BAD},
    ("POST", "/apps/{app_id}/schedules"): {
        "name": "evil",
        "flow": "ask",
        "cron": "@daily",
        "input": {"x": BAD},
    },
    ("PATCH", "/apps/{app_id}/schedules/{schedule_id}"): {"input": {"x": BAD}},
    ("POST", "/apps/{app_id}/schedules/preview"): {"cron": BAD},
    ("POST", "/apps/{app_id}/webhooks"): {"url": BAD, "events": ["run.failed"]},
    ("PATCH", "/apps/{app_id}/webhooks/{webhook_id}"): {"url": BAD},
    ("POST", "/apps/{app_id}/knowledge/{namespace}/documents"): {
        "documents": [{"key": "k", "text": "t", "metadata": {"x": BAD}}]
    },
    # The shipped orchestrator and storyflow packs (the body is refused before the route
    # asks whether the app enabled the pack).
    ("POST", "/apps/{app_id}/orchestrator/chat"): {"prompt": BAD},
    ("POST", "/apps/{app_id}/orchestrator/continue"): {"thread_id": "t", "response": BAD},
    ("POST", "/apps/{app_id}/packs/storyflow/characters"): {"name": BAD},
    ("PATCH", "/apps/{app_id}/packs/storyflow/characters/{character_id}"): {"voice": BAD},
    ("POST", "/apps/{app_id}/packs/storyflow/components"): {
        "id": "mine",
        "node_type": "template",
        "name": BAD,
    },
    ("PUT", "/apps/{app_id}/packs/storyflow/components/{component_id}"): {
        "node_type": "template",
        "name": BAD,
    },
}


def raw_request(
    server: LiveServer,
    method: str,
    path: str,
    text: str,
    token: str | None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """A call whose body is `text` as it is (json.dumps could not even write these)."""
    request = urllib.request.Request(f"{server.url}{path}", data=text.encode(), method=method)
    request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def json_write_routes(server: LiveServer) -> set[tuple[str, str]]:
    """(method, path under /api/v1) of every route whose OpenAPI declares a JSON body."""
    with urllib.request.urlopen(f"{server.origin}/openapi.json", timeout=30) as reply:
        spec = json.load(reply)
    routes = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if any(media.endswith("json") for media in content):
                routes.add((method.upper(), path.removeprefix("/api/v1")))
    return routes


class App:
    """A tenant's app with one of everything the write routes name: a flow (`ask`), a session
    waiting at its question, its run and first step, an artifact, a memory entry."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        tenant.call("POST", "/apps/{app}/flows", ask_flow())
        session = tenant.call("POST", "/apps/{app}/sessions", {"flow": "ask"})
        self.session_id, self.run_id = session["id"], session["run_id"]
        run = tenant.call("GET", f"/apps/{{app}}/runs/{self.run_id}/wait?timeout=20")
        assert run["status"] == "interrupted", run
        view = tenant.call("GET", f"/apps/{{app}}/sessions/{self.session_id}")
        self.interrupt_id = view["pending_question"]["interrupt_id"]
        self.step_id = f"stp_{self.run_id.partition('_')[2]}_1"
        artifact = tenant.call("POST", "/apps/{app}/artifacts", {"type": "Doc"})
        self.artifact_id = artifact["id"]
        tenant.call("PUT", f"/apps/{{app}}/memory/session/{self.session_id}/k", {"value": 1})
        me = tenant.call("GET", "/auth/me")
        self.user_id = me["id"]

    def fill(self, text: str) -> str:
        names = {
            "app_id": self.tenant.app_id,
            "session_id": self.session_id,
            "run_id": self.run_id,
            "artifact_id": self.artifact_id,
            "interrupt_id": self.interrupt_id,
            "step_id": self.step_id,
            "user_id": self.user_id,
            "name": "chat",
            "service": "hubspot",
            "scope": "session",
            "scope_id": self.session_id,
            "key": "k",
            "namespace": "kb",
            "character_id": "chr_none",
            "component_id": "mine",
            "schedule_id": "sch_none",
            "webhook_id": "whk_none",
        }
        for name, value in names.items():
            text = text.replace("{" + name + "}", value)
        return text

    def lists(self) -> dict[str, Any]:
        """What the app's lists answer (each must be 200): compared before and after."""
        answers = {}
        for path in (
            "/apps",
            "/apps/{app}",
            "/apps/{app}/flows",
            "/apps/{app}/sessions",
            f"/apps/{{app}}/sessions/{self.session_id}",
            f"/apps/{{app}}/runs/{self.run_id}",
            "/apps/{app}/artifacts",
            f"/apps/{{app}}/artifacts/{self.artifact_id}/history",
            "/apps/{app}/events?stream=false",
            f"/apps/{{app}}/memory/session/{self.session_id}",
            "/apps/{app}/memory/app/-",
            f"/apps/{{app}}/runs/{self.run_id}/messages",
            "/apps/{app}/agents",
            "/apps/{app}/api-keys",
            "/apps/{app}/members",
            "/apps/{app}/mcp-servers",
            "/apps/{app}/knowledge",
            "/apps/{app}/retention",
            "/apps/{app}/schedules",
            "/apps/{app}/webhooks",
        ):
            status, body = self.tenant.request("GET", path)
            assert status == 200, f"GET {path} -> {status} {body}"
            answers[path] = body
        return answers


def test_every_json_write_route_has_a_case(live: LiveServer) -> None:
    assert json_write_routes(live) == set(BODIES)


def test_bad_json_on_every_write_route_is_refused_and_nothing_is_stored(
    live: LiveServer, admin_token: str, make_tenant: Any
) -> None:
    mallory = make_tenant("mallory")
    app = App(mallory)
    before = app.lists()
    failures = []
    for (method, path), body in sorted(BODIES.items()):
        template = app.fill(json.dumps(body))
        url = app.fill(path)
        media = MERGE_PATCH if path.endswith("{artifact_id}") and method == "PATCH" else None
        for attack, (bad, problem) in ATTACKS.items():
            text = template.replace(json.dumps(BAD), bad)
            token = admin_token if path == "/users" else mallory.token
            media = media or "application/json"
            status, answer = raw_request(live, method, url, text, token, media)
            error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
            expected = "the request body"
            if (
                status != 422
                or error.get("code") != "json_invalid"
                or not error.get("message", "").startswith(expected)
                or problem.split(" (PODIUM")[0] not in error["message"]
            ):
                failures.append(f"{method} {path} with {attack}: {status} {answer}")
    assert not failures, "\n".join(failures)
    assert app.lists() == before  # nothing stored, and every list still answers
    assert "Traceback" not in live.output()


# A 500,000-character name, and names with a NUL or a line break: refused by the schemas'
# character rules and lengths (finding 10), nothing stored.
LONG = "x" * 500_000
NAMES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/apps", {"name": LONG}),
    ("POST", "/apps", {"name": "evil\nline"}),
    ("PATCH", "/apps/{app}", {"name": LONG}),
    ("PATCH", "/apps/{app}", {"description": "bell\x07"}),
    ("POST", "/apps/{app}/api-keys", {"name": LONG, "role": "member"}),
    ("POST", "/apps/{app}/api-keys", {"name": "tab\tkey", "role": "member"}),
    ("POST", "/apps/{app}/flows", {**ask_flow(), "name": LONG}),
    ("POST", "/apps/{app}/flows", {**ask_flow(), "name": "has space"}),
    (
        "POST",
        "/apps/{app}/flows",
        {**ask_flow(), "name": "evil", "nodes": [{**ask_flow()["nodes"][0], "id": LONG}]},
    ),
    (
        "POST",
        "/apps/{app}/flows",
        {**ask_flow(), "name": "evil", "nodes": [{**ask_flow()["nodes"][0], "id": "a\x01"}]},
    ),
    ("POST", "/apps/{app}/sessions", {"flow": LONG}),
    ("POST", "/apps/{app}/artifacts", {"type": LONG}),
    ("POST", "/apps/{app}/artifacts", {"type": "Doc", "flow": "a b"}),
    ("POST", "/apps/{app}/agents", {"name": LONG}),
    ("POST", "/apps/{app}/agents/generate", {"role": "planner", "capabilities": [LONG]}),
]


def test_over_long_and_control_character_names_are_refused(
    live: LiveServer, make_tenant: Any
) -> None:
    mallory = make_tenant("mallory")
    app = App(mallory)
    before = app.lists()
    failures = []
    for method, path, body in NAMES:
        status, answer = mallory.request(method, path, body)
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        if status != 422 or not error.get("message"):
            failures.append(f"{method} {path} {str(body)[:80]}: {status} {str(answer)[:300]}")
    assert not failures, "\n".join(failures)
    assert app.lists() == before


def test_the_answer_names_the_field_and_the_rule(live: LiveServer, make_tenant: Any) -> None:
    mallory = make_tenant("mallory")
    status, answer = mallory.request("POST", "/apps", {"name": LONG})
    assert status == 422
    assert answer["error"]["code"] == "invalid_input"
    assert answer["error"]["message"] == "body.name: String should have at most 200 characters"
    status, answer = mallory.request("POST", "/apps/{app}/flows", {**ask_flow(), "name": "a b"})
    assert status == 422
    assert answer["error"]["message"] == (
        "flow 'a b' is invalid: name: String should match pattern '^[A-Za-z0-9_.:-]{1,128}$'"
    )
    status, answer = mallory.request("POST", "/apps/{app}/flows", {**ask_flow(), "name": LONG})
    assert status == 422
    assert answer["error"]["message"] == (
        f"flow '{'x' * 77}...' is invalid: name: String should have at most 128 characters"
    )


def test_a_nested_merge_patch_is_refused_before_the_route_parses_it(
    live: LiveServer, make_tenant: Any
) -> None:
    # The artifact PATCH route reads its body itself: the plain-text 500 of finding 7.
    mallory = make_tenant("mallory")
    app = App(mallory)
    path = f"/apps/{mallory.app_id}/artifacts/{app.artifact_id}"
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    status, answer = raw_request(live, "PATCH", path, deep, mallory.token, MERGE_PATCH)
    assert status == 422, answer
    assert answer["error"] == {
        "code": "json_invalid",
        "message": "the request body: nested deeper than 64 levels",
        "details": {"path": "$", "setting": "PODIUM_MAX_JSON_DEPTH"},
    }
    artifact = mallory.call("GET", f"/apps/{{app}}/artifacts/{app.artifact_id}")
    assert artifact["version"] == 1 and artifact["state"] == {}


def test_a_deep_websocket_message_gets_an_error_frame_and_the_socket_stays(
    live: LiveServer, make_tenant: Any
) -> None:
    mallory = make_tenant("mallory")

    async def attack() -> list[dict[str, Any]]:
        url = f"ws://127.0.0.1:{live.port}/api/v1/ws"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "auth", "data": {"token": mallory.token}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection.ready"
            frames = []
            for text in ('{"type": "ping", "data": ' + NESTED_5000 + "}", '{"x": NaN}'):
                await ws.send(text)
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await ws.send(json.dumps({"type": "ping"}))  # the connection still works
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return frames

    deep, nan, pong = asyncio.run(attack())
    assert deep["type"] == "error"
    assert deep["data"] == {
        "code": "json_invalid",
        "message": "the message: nested deeper than 64 levels",
        "details": {"path": "$", "setting": "PODIUM_MAX_JSON_DEPTH"},
    }
    assert nan["data"]["message"] == (
        "the message: NaN is not a JSON number (NaN and Infinity are refused)"
    )
    assert pong["type"] == "pong"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("state." + ".".join(["a"] * 3000), "characters, over the limit of 512"),
        ("(" * 200 + "state.a" + ")" * 200, "nests brackets deeper than 16 levels"),
        ("!" * 300 + "state.a", "nests brackets deeper than 16 levels"),
    ],
    ids=["huge", "deep", "negations"],
)
def test_a_huge_or_deep_condition_is_refused_when_the_flow_is_validated(
    live: LiveServer, make_tenant: Any, field: str, message: str
) -> None:
    mallory = make_tenant("mallory")
    flow = ask_flow()
    flow["name"] = "conditional"
    flow["edges"] = [
        {**flow["edges"][0], "condition": {"field": field, "operator": "==", "value": 1}}
    ]
    status, answer = mallory.request("POST", "/apps/{app}/flows", flow)
    assert status == 422, answer
    assert answer["error"]["code"] == "flow_invalid"
    assert "edge ask_name → greet condition: field" in answer["error"]["message"]
    assert message in answer["error"]["message"]
    _, flows = mallory.request("GET", "/apps/{app}/flows")
    assert "conditional" not in [flow["name"] for flow in flows]


def test_bad_json_in_mcp_tool_arguments_is_refused_before_the_sdk_reads_it(
    live: LiveServer, make_tenant: Any
) -> None:
    """POST /apps/{app}/mcp is not in the OpenAPI (the SDK's ASGI app): its body passes the
    same boundary. An MCP client (it accepts text/event-stream) reads the refusal as a
    JSON-RPC error whose `data` is the envelope's error; any other caller the envelope."""
    mallory = make_tenant("mallory")
    mallory.call("POST", "/apps/{app}/flows", ask_flow())
    url = f"/apps/{mallory.app_id}/mcp"
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "flow_ask", "arguments": {"input": {"name": BAD}}},
    }
    mcp_client = {"Accept": "application/json, text/event-stream"}
    failures = []
    for attack, (bad, problem) in ATTACKS.items():
        text = json.dumps(call).replace(json.dumps(BAD), bad)
        for headers in ({}, mcp_client):
            request = urllib.request.Request(f"{live.url}{url}", data=text.encode(), method="POST")
            for name, value in {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {mallory.token}",
                **headers,
            }.items():
                request.add_header(name, value)
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    status, answer = reply.status, json.loads(reply.read())
            except urllib.error.HTTPError as error:
                status, answer = error.code, json.loads(error.read())
            error = answer["error"]
            if headers:
                ok = error["code"] == -32600 and error["data"]["code"] == "json_invalid"
                message = error["data"]["message"]
            else:
                ok = error["code"] == "json_invalid"
                message = error["message"]
            if status != 422 or not ok or problem.split(" (PODIUM")[0] not in message:
                failures.append(f"{attack} ({headers or 'REST'}): {status} {answer}")
    assert not failures, "\n".join(failures)
    assert mallory.call("GET", "/apps/{app}/sessions")["items"] == []  # nothing started
    assert "Traceback" not in live.output()
