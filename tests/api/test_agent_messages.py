"""Agent messages over HTTP: `POST`/`GET /apps/{app_id}/runs/{run_id}/messages`, filters,
the types allowed, `agent.message` events (logged and live), roles, another app's run (404),
and node code's `ctx.send_agent_message`."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import ASK_FLOW, Actor, add_member, api_settings

from podium.config import Settings

WAIT = {"timeout": 20}


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, api_python_modules=["support.memory_nodes"])


class Run:
    """A run of alice's app (waiting at a question) and the paths the tests repeat."""

    def __init__(self, owner: Actor, name: str) -> None:
        self.owner = owner
        self.app_id = owner.create_app(name)
        self.base = f"/api/v1/apps/{self.app_id}"
        assert owner.post(f"{self.base}/flows", ASK_FLOW).status_code == 201
        session = owner.post(f"{self.base}/sessions", {"flow": "ask", "input": {}}).json()
        self.session_id, self.id = session["id"], session["run_id"]
        self.messages = f"{self.base}/runs/{self.id}/messages"

    def send(self, body: dict[str, Any], actor: Actor | None = None) -> Any:
        return (actor or self.owner).post(self.messages, body)

    def listed(self, **params: Any) -> list[dict[str, Any]]:
        response = self.owner.get(self.messages, params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def alice(make_user: Any) -> Actor:
    return make_user("alice")  # type: ignore[no-any-return]


@pytest.fixture
def run(alice: Actor) -> Run:
    return Run(alice, "a")


def test_post_and_list_with_filters(run: Run) -> None:
    sent = run.send({"from": "planner", "to": "coder", "type": "request", "content": {"n": 1}})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["id"].startswith("msg_")
    assert {k: body[k] for k in ("run_id", "session_id", "from", "to", "type", "content")} == {
        "run_id": run.id,
        "session_id": run.session_id,
        "from": "planner",
        "to": "coder",
        "type": "request",
        "content": {"n": 1},
    }
    run.send({"from": "coder", "to": "planner", "type": "response", "content": "done"})
    run.send({"to": "everyone", "type": "notification"})  # no sender, no content
    run.send({"from": "planner", "to": "reviewer", "type": "handoff", "content": None})
    everything = run.listed()
    assert [(m["from"], m["to"], m["type"]) for m in everything] == [
        ("planner", "coder", "request"),
        ("coder", "planner", "response"),
        (None, "everyone", "notification"),
        ("planner", "reviewer", "handoff"),
    ]
    assert everything[0]["id"] == body["id"]
    assert [m["type"] for m in run.listed(agent="planner")] == ["request", "response", "handoff"]
    assert [m["to"] for m in run.listed(type="handoff")] == ["reviewer"]
    assert [m["type"] for m in run.listed(agent="coder", type="response")] == ["response"]
    page = run.owner.get(run.messages, params={"limit": 3}).json()
    assert len(page["items"]) == 3 and page["next_cursor"] == everything[2]["id"]
    rest = run.owner.get(run.messages, params={"cursor": page["next_cursor"]}).json()
    assert [m["id"] for m in rest["items"]] == [everything[3]["id"]]
    assert rest["next_cursor"] is None


def test_an_unknown_type_is_422_with_the_allowed_types(run: Run) -> None:
    for response in (
        run.send({"to": "coder", "type": "shout", "content": "HEY"}),
        run.owner.get(run.messages, params={"type": "shout"}),
    ):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert "'request', 'response', 'notification' or 'handoff'" in error["message"]
    bad = run.send({"to": "", "type": "request"})
    assert bad.status_code == 422 and "to" in bad.json()["error"]["message"]
    extra = run.send({"to": "coder", "type": "request", "sender": "spoofed"})
    assert extra.status_code == 422  # the sender is `from`
    big = run.send({"to": "coder", "type": "request", "content": "x" * 70_000})
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    assert run.listed() == []


def test_each_message_is_an_agent_message_event_logged_and_live(run: Run) -> None:
    owner = run.owner
    ws_path = f"/api/v1/ws?token={owner.access_token}"
    with owner.client.websocket_connect(ws_path) as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        ws.send_json(
            {"type": "subscribe", "id": "s", "data": {"app_id": run.app_id, "run_id": run.id}}
        )
        while (message := ws.receive_json()).get("id") != "s":
            pass
        assert message["type"] == "subscribed", message
        sent = run.send({"from": "a", "to": "b", "type": "handoff", "content": {"why": "yours"}})
        while True:
            message = ws.receive_json()
            if message["type"] == "event" and message["data"]["type"] == "agent.message":
                break
    live = message["data"]
    expected = {"id": sent.json()["id"], "from": "a", "to": "b", "type": "handoff"}
    assert live["data"] == {**expected, "content": {"why": "yours"}}
    assert (live["run_id"], live["session_id"]) == (run.id, run.session_id)
    logged = owner.get(f"{run.base}/events", params={"run_id": run.id}).json()["items"]
    assert [e["data"] for e in logged if e["type"] == "agent.message"] == [live["data"]]
    assert [e["seq"] for e in logged if e["type"] == "agent.message"] == [live["seq"]]


def test_viewers_read_and_members_send(run: Run, make_user: Any) -> None:
    viewer = make_user("vera")
    add_member(run.owner, run.base, viewer, "viewer")
    assert run.send({"to": "b", "type": "request"}, viewer).status_code == 403
    assert run.send({"to": "b", "type": "request"}).status_code == 201
    assert len(viewer.get(run.messages).json()["items"]) == 1


def test_another_app_gets_404_for_this_apps_run_messages(run: Run, make_user: Any) -> None:
    run.send({"from": "a", "to": "b", "type": "request", "content": "alice-secret"})
    bob = make_user("bob")
    theirs = Run(bob, "b")
    for app_id in (run.app_id, theirs.app_id):  # A's app, and A's run in B's own app
        path = f"/api/v1/apps/{app_id}/runs/{run.id}/messages"
        for response in (bob.get(path), bob.post(path, {"to": "b", "type": "request"})):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"
            assert "alice-secret" not in response.text
    assert [m["content"] for m in run.listed()] == ["alice-secret"]
    assert theirs.send({"to": "b", "type": "request"}).status_code == 201
    assert len(run.listed()) == 1


def test_node_code_sends_messages_listed_by_the_route(run: Run) -> None:
    flow = {
        "name": "talk",
        "nodes": [
            {
                "id": "talk",
                "type": "python",
                "config": {"function": "support.memory_nodes:talk_then_ask"},
            }
        ],
        "edges": [],
    }
    assert run.owner.post(f"{run.base}/flows", flow).status_code == 201
    started = run.owner.post(f"{run.base}/sessions", {"flow": "talk", "input": {}}).json()
    path = f"{run.base}/runs/{started['run_id']}/messages"
    waiting = run.owner.get(f"{run.base}/runs/{started['run_id']}/wait", params=WAIT).json()
    assert waiting["status"] == "interrupted", waiting
    answer = {"interrupt_id": waiting["pending_questions"][0]["interrupt_id"], "answer": "ok"}
    assert (
        run.owner.post(
            f"/api/v1/apps/{run.app_id}/sessions/{started['id']}/input", answer
        ).status_code
        == 202
    )
    done = run.owner.get(f"{run.base}/runs/{started['run_id']}/wait", params=WAIT).json()
    assert done["status"] == "succeeded", done
    messages = run.owner.get(path).json()["items"]
    assert [(m["from"], m["to"], m["type"]) for m in messages] == [
        ("talk", "coder", "request"),
        ("coder", "reviewer", "handoff"),
    ]  # sent once, though the step ran again after the answer
