"""Shared memory over HTTP: `/apps/{app_id}/memory/{scope}/{scope_id}[/{key}]`, the errors a
user sees, expiry, `memory.updated` events, roles, another app's memory (404), and node code
using `ctx.memory`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import ASK_FLOW, Actor, add_member, api_settings

from podium.config import Settings

WAIT = {"timeout": 20}


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, api_python_modules=["support.memory_nodes"])


@dataclass
class Tenant:
    owner: Actor
    app_id: str
    session_id: str
    run_id: str

    @property
    def base(self) -> str:
        return f"/api/v1/apps/{self.app_id}"

    def memory(self, scope: str = "session", scope_id: str | None = None) -> str:
        return f"{self.base}/memory/{scope}/{scope_id or self.session_id}"

    def put(self, path: str, body: Any, actor: Actor | None = None) -> Any:
        actor = actor or self.owner
        return actor.client.put(path, json=body, headers=actor.headers)

    def events(self, type: str) -> list[dict[str, Any]]:
        page = self.owner.get(f"{self.base}/events", params={"limit": 1000}).json()
        return [e for e in page["items"] if e["type"] == type]


def tenant(actor: Actor, name: str) -> Tenant:
    app_id = actor.create_app(name)
    base = f"/api/v1/apps/{app_id}"
    assert actor.post(f"{base}/flows", ASK_FLOW).status_code == 201
    session = actor.post(f"{base}/sessions", {"flow": "ask", "input": {}}).json()
    return Tenant(actor, app_id, session["id"], session["run_id"])


@pytest.fixture
def alice(make_user: Any) -> Actor:
    return make_user("alice")  # type: ignore[no-any-return]


@pytest.fixture
def a(alice: Actor) -> Tenant:
    return tenant(alice, "a")


def assert_error(response: Any, status: int, code: str, *phrases: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    for phrase in phrases:
        assert phrase in error["message"], error
    return error


def test_put_get_list_and_delete(a: Tenant) -> None:
    path = a.memory()
    created = a.put(f"{path}/profile.name", {"value": {"first": "Ada"}})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["scope"] == "session" and body["scope_id"] == a.session_id
    assert (body["key"], body["value"], body["expires_at"]) == (
        "profile.name",
        {"first": "Ada"},
        None,
    )
    assert a.owner.get(f"{path}/profile.name").json()["value"] == {"first": "Ada"}
    assert a.put(f"{path}/profile.name", {"value": "Ada"}).json()["value"] == "Ada"
    for key in ("profile.age", "profile.city", "other"):
        assert a.put(f"{path}/{key}", {"value": key}).status_code == 200
    page = a.owner.get(path, params={"prefix": "profile.", "limit": 2}).json()
    assert [e["key"] for e in page["items"]] == ["profile.age", "profile.city"]
    assert page["next_cursor"] == "profile.city"
    rest = a.owner.get(path, params={"prefix": "profile.", "cursor": page["next_cursor"]}).json()
    assert [e["key"] for e in rest["items"]] == ["profile.name"] and rest["next_cursor"] is None
    assert len(a.owner.get(path).json()["items"]) == 4
    deleted = a.owner.delete(f"{path}/profile.name")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(a.owner.get(f"{path}/profile.name"), 404, "not_found", "no memory key")
    assert_error(a.owner.delete(f"{path}/profile.name"), 404, "not_found", "'profile.name'")


def test_search_ranks_entries_by_q(a: Tenant, make_user: Any) -> None:
    path = a.memory()
    a.put(f"{path}/profile", {"value": {"name": "Ada", "hobbies": ["sailing", "chess"]}})
    a.put(f"{path}/trip", {"value": "Sailing to Corsica; sailing back in May."})
    a.put(f"{path}/diet", {"value": {"allergies": ["peanuts"]}})
    found = a.owner.get(path, params={"q": "sailing"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["query"], body["mode"]) == ("sailing", "text")
    assert [item["key"] for item in body["items"]] == ["trip", "profile"]
    assert body["items"][1]["value"] == {"name": "Ada", "hobbies": ["sailing", "chess"]}
    assert body["items"][0]["matched"] == ["sailing"] and body["items"][0]["score"] > 0
    assert a.owner.get(path, params={"q": "sailing", "limit": 1}).json()["items"][0]["key"] == (
        "trip"
    )
    assert a.owner.get(path, params={"q": "zebra"}).json()["items"] == []
    assert a.owner.delete(f"{path}/trip").status_code == 204
    assert [i["key"] for i in a.owner.get(path, params={"q": "sailing"}).json()["items"]] == [
        "profile"
    ]
    assert_error(a.owner.get(path, params={"q": ""}), 422, "invalid_input", "the query is empty")
    assert_error(
        a.owner.get(path, params={"q": "x", "prefix": "p"}),
        422,
        "invalid_input",
        "send one or the other",
    )
    # Another app's user finds nothing of it (the scope is not theirs: 404).
    bob = tenant(make_user("bob"), "b")
    response = bob.owner.get(f"{bob.base}/memory/session/{a.session_id}", params={"q": "sailing"})
    assert_error(response, 404, "not_found")
    assert "Corsica" not in response.text
    assert bob.owner.get(bob.memory(), params={"q": "sailing"}).json()["items"] == []


def test_every_scope_over_http(a: Tenant) -> None:
    user_id = a.owner.user["id"]
    for scope, scope_id in (
        ("run", a.run_id),
        ("app", "-"),
        ("user", user_id),  # a member of the app
    ):
        response = a.put(f"{a.memory(scope, scope_id)}/k", {"value": scope})
        assert response.status_code == 200, response.text
    assert a.put(f"{a.memory()}/k", {"value": "session"}).status_code == 200
    # The app scope is named by the app's id or `-`: the same entry, stored under the id.
    by_id = a.owner.get(f"{a.memory('app', a.app_id)}/k").json()
    assert (by_id["value"], by_id["scope_id"]) == ("app", a.app_id)
    assert a.owner.get(f"{a.memory('run', a.run_id)}/k").json()["value"] == "run"
    assert a.owner.get(f"{a.memory('user', user_id)}/k").json()["value"] == "user"
    assert a.owner.get(f"{a.memory()}/k").json()["value"] == "session"


def test_the_errors_a_user_sees(a: Tenant) -> None:
    path = a.memory()
    error = assert_error(a.owner.get(f"{a.base}/memory/global/-/k"), 422, "invalid_input")
    assert "'session', 'run', 'app' or 'user'" in error["message"]
    assert_error(a.put(f"{path}/has%20space", {"value": 1}), 422, "invalid_input", "path.key")
    assert_error(a.owner.get(path, params={"prefix": "a b"}), 422, "invalid_input", "prefix")
    # JSON that is not JSON (Python's parser takes NaN): refused at the JSON boundary.
    nan = a.owner.client.put(
        f"{path}/k",
        content='{"value": NaN}',
        headers={**a.owner.headers, "Content-Type": "application/json"},
    )
    assert_error(
        nan,
        422,
        "json_invalid",
        "the request body: NaN is not a JSON number (NaN and Infinity are refused)",
    )
    not_json = a.owner.client.put(
        f"{path}/k",
        content="hello",
        headers={**a.owner.headers, "Content-Type": "application/json"},
    )
    assert_error(not_json, 422, "json_invalid", "the request body: not valid JSON")
    assert_error(a.put(f"{path}/k", {"ttl_seconds": 5}), 422, "invalid_input", "body.value")
    assert_error(a.put(f"{path}/k", {"value": 1, "ttl_seconds": 0}), 422, "invalid_input", "ttl")
    too_large = a.put(f"{path}/k", {"value": "x" * 70_000})
    error = assert_error(too_large, 413, "payload_too_large", "over the limit of 65536")
    assert error["details"]["max_bytes"] == 65536
    assert_error(a.owner.get(f"{path}/nope"), 404, "not_found", "no memory key 'nope'")
    assert_error(a.owner.get(f"{a.memory('session', 'ses_nope')}/k"), 404, "not_found", "session")
    assert_error(
        a.put(f"{a.memory('user', 'usr_nobody')}/k", {"value": 1}),
        404,
        "not_found",
        "not known in this app",
    )
    assert a.owner.get(path).json()["items"] == []  # nothing was stored by any of these


def test_an_expired_entry_is_gone_at_once(api: TestClient, a: Tenant) -> None:
    memory = api.app.state.services.memory  # type: ignore[attr-defined]
    now = [2_000_000_000.0]
    memory.clock = lambda: now[0]
    path = a.memory("app", "-")
    entry = a.put(f"{path}/otp", {"value": "1234", "ttl_seconds": 30}).json()
    assert entry["expires_at"] == now[0] + 30
    assert a.put(f"{path}/kept", {"value": "yes"}).status_code == 200
    now[0] += 29.9
    assert a.owner.get(f"{path}/otp").json()["value"] == "1234"
    now[0] += 0.1
    assert_error(a.owner.get(f"{path}/otp"), 404, "not_found")
    assert [e["key"] for e in a.owner.get(path).json()["items"]] == ["kept"]
    assert_error(a.owner.delete(f"{path}/otp"), 404, "not_found")


def test_writes_are_memory_updated_events_without_the_value(a: Tenant) -> None:
    path = a.memory()
    a.put(f"{path}/secret", {"value": "s3cr3t-value", "ttl_seconds": 60})
    a.owner.delete(f"{path}/secret")
    updates = a.events("memory.updated")
    assert [u["data"]["op"] for u in updates] == ["set", "delete"]
    first = updates[0]
    assert first["session_id"] == a.session_id
    assert first["data"]["ttl"] == 60 and first["data"]["expires_at"] > 0
    assert {k: first["data"][k] for k in ("scope", "scope_id", "key", "actor")} == {
        "scope": "session",
        "scope_id": a.session_id,
        "key": "secret",
        "actor": a.owner.user["id"],
    }
    assert "s3cr3t-value" not in json.dumps(updates)  # the log outlives the TTL: no value


def test_viewers_read_and_members_write(a: Tenant, make_user: Any) -> None:
    viewer, member = make_user("vera"), make_user("mo")
    for actor, role in ((viewer, "viewer"), (member, "member")):
        add_member(a.owner, a.base, actor, role)
    path = f"{a.memory('app', '-')}/k"
    assert a.put(path, {"value": 1}, viewer).status_code == 403
    assert viewer.delete(path).status_code == 403
    assert a.put(path, {"value": 2}, member).status_code == 200
    assert viewer.get(path).json()["value"] == 2
    assert member.delete(path).status_code == 204


def test_another_app_cannot_read_or_write_this_apps_memory(a: Tenant, make_user: Any) -> None:
    for scope, scope_id in (("session", a.session_id), ("run", a.run_id), ("app", "-")):
        assert a.put(f"{a.memory(scope, scope_id)}/k", {"value": "alice-secret"}).status_code == 200
    bob = make_user("bob")
    b = tenant(bob, "b")
    theirs = [
        ("session", a.session_id),
        ("run", a.run_id),
        ("app", a.app_id),
        ("user", a.owner.user["id"]),
    ]
    for scope, scope_id in theirs:
        for app_id in (a.app_id, b.app_id):  # A's app, and A's ids in B's own app
            path = f"/api/v1/apps/{app_id}/memory/{scope}/{scope_id}"
            for response in (
                bob.get(path),
                bob.get(f"{path}/k"),
                bob.client.put(f"{path}/k", json={"value": "bob"}, headers=bob.headers),
                bob.delete(f"{path}/k"),
            ):
                assert_error(response, 404, "not_found")
                assert "alice-secret" not in response.text
    assert a.owner.get(f"{a.memory()}/k").json()["value"] == "alice-secret"
    assert a.owner.get(f"{a.memory('app', '-')}/k").json()["value"] == "alice-secret"
    # B's own app scope is B's: empty, writable.
    assert bob.get(f"{b.memory('app', '-')}").json()["items"] == []
    assert b.put(f"{b.memory('app', '-')}/k", {"value": "bob"}).status_code == 200
    assert a.owner.get(f"{a.memory('app', '-')}/k").json()["value"] == "alice-secret"


def python_flow(name: str, function: str, **config: Any) -> dict[str, Any]:
    node = {"id": "node", "type": "python", "config": {"function": function, **config}}
    return {"name": name, "nodes": [node], "edges": []}


def test_node_code_shares_memory_with_the_routes(a: Tenant) -> None:
    for flow in (
        python_flow("remember", "support.memory_nodes:remember", scope="session"),
        python_flow("per_user", "support.memory_nodes:per_user"),
    ):
        assert a.owner.post(f"{a.base}/flows", flow).status_code == 201, flow
    started = a.owner.post(f"{a.base}/sessions", {"flow": "remember", "input": {}}).json()
    run = a.owner.get(f"{a.base}/runs/{started['run_id']}/wait", params=WAIT).json()
    assert run["status"] == "succeeded", run
    path = a.memory("session", started["id"])
    assert a.owner.get(f"{path}/greeting").json()["value"] == {"text": "hi"}
    assert [e["key"] for e in a.owner.get(path, params={"prefix": "gr"}).json()["items"]] == [
        "greeting",
        "grocery",
    ]
    updates = [u for u in a.events("memory.updated") if u["run_id"] == started["run_id"]]
    assert [u["data"]["key"] for u in updates] == ["greeting", "grocery"]
    assert {u["data"]["actor"] for u in updates} == {started["run_id"]}
    # The user scope of node code is the session's user: here alice, who started it.
    started = a.owner.post(f"{a.base}/sessions", {"flow": "per_user", "input": {}}).json()
    run = a.owner.get(f"{a.base}/runs/{started['run_id']}/wait", params=WAIT).json()
    assert run["status"] == "succeeded", run
    theme = a.owner.get(f"{a.memory('user', a.owner.user['id'])}/theme").json()
    assert theme["value"] == "dark"
