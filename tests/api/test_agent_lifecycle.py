"""Agents disabled, enabled and deleted (built-ins only disabled); an agent's message history;
the WebSocket `agent.status` request."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Actor
from tests.api.test_agents import App, error_of
from tests.api.test_ws import connect, receive_until, reply_to

SCOUT = {"name": "scout", "description": "Finds leads.", "instructions": "Find leads."}


@pytest.fixture
def app(admin: Actor) -> App:
    return App(admin, admin.create_app("lifecycle"))


def sessions_of(app: App) -> list[Any]:
    listed = app.get("/sessions")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


# --- disable and enable -----------------------------------------------------------------------


def test_a_disabled_agent_is_refused_everywhere_until_enabled(app: App) -> None:
    app.define(SCOUT)
    disabled = app.post("/agents/scout/disable")
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["enabled"], disabled.json()["version"]) == (False, 2)
    assert app.get("/agents/scout").json()["enabled"] is False
    before = len(sessions_of(app))

    hint = (
        f"agent 'scout' is disabled in this app; an admin enables it with "
        f"POST /api/v1/apps/{app.id}/agents/scout/enable"
    )
    chat = app.post("/chat/messages", {"agent": "scout", "message": "hi"})
    assert error_of(chat, 409) == hint
    assert chat.json()["error"]["code"] == "conflict"
    assert error_of(app.post("/agents/scout/invoke", {"task": "hi"}), 409) == hint
    streamed = app.post("/agents/scout/invoke", {"task": "hi", "stream": True})
    assert error_of(streamed, 409) == hint
    workflow = app.post(
        "/workflows/execute",
        {
            "workflow_type": "sequential",
            "participating_agents": ["chat", "scout"],
            "input_data": {"message": "hi"},
        },
    )
    assert error_of(workflow, 409) == f"participating_agents: {hint}"
    assert len(sessions_of(app)) == before  # nothing was queued

    # a flow that runs it fails with the same words
    flow = {
        "name": "uses_scout",
        "nodes": [{"id": "ask", "type": "agent", "config": {"agent": "scout", "input": "hi"}}],
        "edges": [],
    }
    assert app.post("/flows", flow).status_code == 201
    started = app.post("/sessions", {"flow": "uses_scout", "input": {}})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    run = app.get(f"/runs/{run_id}/wait", params={"timeout": 20}).json()
    assert run["status"] == "failed" and hint in run["error"], run

    # disabling again stores nothing new; enabling brings it back
    assert app.post("/agents/scout/disable").json()["version"] == 2
    enabled = app.post("/agents/scout/enable")
    assert (enabled.json()["enabled"], enabled.json()["version"]) == (True, 3)
    assert "enabled" not in enabled.json()["definition"]  # the default is not stored
    assert app.chat("hi again", agent="scout")["answer"] == "hi again"


def test_a_new_version_of_a_disabled_agent_stays_disabled_unless_it_says(app: App) -> None:
    app.define(SCOUT)
    app.post("/agents/scout/disable")
    changed = app.define({**SCOUT, "instructions": "Find better leads."})
    assert (changed["enabled"], changed["version"]) == (False, 3)
    again = app.define({**SCOUT, "instructions": "Find the best leads.", "enabled": True})
    assert again["enabled"] is True
    bad = app.post("/agents", {**SCOUT, "enabled": "no"})
    assert bad.status_code == 422, bad.text


def test_a_built_in_is_disabled_and_enabled_but_never_deleted(app: App) -> None:
    disabled = app.post("/agents/chat/disable")
    assert disabled.status_code == 200, disabled.text
    body = disabled.json()
    assert (body["source"], body["enabled"], body["version"]) == ("builtin", False, None)
    assert body["definition"]["instructions"] == "You are a helpful, concise assistant."
    assert error_of(app.post("/chat/messages", {"agent": "chat", "message": "hi"}), 409)

    refused = app.delete("/agents/chat")
    assert error_of(refused, 409) == (
        f"'chat' is a built-in agent: it cannot be deleted; disable it with "
        f"POST /api/v1/apps/{app.id}/agents/chat/disable"
    )
    assert app.get("/agents/chat").json()["enabled"] is False  # still there, still off
    # the driver does not offer a disabled agent to delegate to
    assert app.post("/agents/chat/enable").json()["enabled"] is True
    assert app.chat("hello")["answer"] == "hello"
    assert app.delete("/agents/driver").status_code == 409


def test_deleting_an_app_agent_removes_every_version(app: App) -> None:
    app.define(SCOUT)
    app.define({**SCOUT, "instructions": "v2"})
    deleted = app.delete("/agents/scout")
    assert deleted.status_code == 204, deleted.text
    assert error_of(app.get("/agents/scout"), 404) == "no agent named 'scout' in this app"
    assert "scout" not in [a["name"] for a in app.get("/agents").json()]
    assert error_of(app.delete("/agents/scout"), 404) == "no agent named 'scout' in this app"
    assert error_of(app.post("/agents/scout/disable"), 404)
    # defined again, it starts over at version 1
    assert app.define(SCOUT)["version"] == 1


def test_deleting_an_agent_that_replaced_a_built_in_brings_the_built_in_back(app: App) -> None:
    app.define({"name": "chat", "instructions": "Answer in French."})
    assert app.get("/agents/chat").json()["source"] == "app"
    assert app.delete("/agents/chat").status_code == 204
    back = app.get("/agents/chat").json()
    assert (back["source"], back["definition"]["instructions"]) == (
        "builtin",
        "You are a helpful, concise assistant.",
    )


def test_members_and_viewers_cannot_disable_or_delete(app: App, make_user: Any) -> None:
    member = make_user("lifecycle_member")
    # a platform admin adds a member directly (others invite)
    added = app.post("/members", {"user": member.user["id"], "role": "member"})
    assert added.status_code == 201, added.text
    app.define(SCOUT)
    for response in (
        member.post(f"{app.base}/agents/scout/disable", None),
        member.post(f"{app.base}/agents/scout/enable", None),
        member.delete(f"{app.base}/agents/scout"),
    ):
        assert response.status_code == 403, response.text
    assert app.get("/agents/scout").json()["enabled"] is True


# --- message history --------------------------------------------------------------------------


def test_an_agents_messages_are_paged_newest_first(app: App) -> None:
    first = app.chat("one")
    app.chat("two", session_id=first["session_id"])
    app.chat("three")  # another session
    app.define(SCOUT)
    app.chat("for the scout", agent="scout")

    page = app.get("/agents/chat/messages", params={"limit": 4})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [(m["data"]["role"], m["data"]["content"]) for m in body["items"]] == [
        ("assistant", "three"),
        ("user", "three"),
        ("assistant", "two"),
        ("user", "two"),
    ]
    assert all(m["type"] == "message.created" for m in body["items"])
    seqs = [m["seq"] for m in body["items"]]
    assert seqs == sorted(seqs, reverse=True)
    older = app.get("/agents/chat/messages", params={"limit": 4, "cursor": body["next_cursor"]})
    assert [m["data"]["content"] for m in older.json()["items"]] == ["one", "one"]
    assert older.json()["next_cursor"] is None

    scout = app.get("/agents/scout/messages").json()
    assert [m["data"]["content"] for m in scout["items"]] == ["for the scout", "for the scout"]
    assert app.get("/agents/generator/messages").json() == {"items": [], "next_cursor": None}


def test_agent_messages_sent_and_received_are_in_the_history(app: App) -> None:
    run = app.chat("hello")
    sent = app.post(
        f"/runs/{run['run_id']}/messages",
        {"to": "chat", "type": "notification", "content": {"note": "from outside"}},
    )
    assert sent.status_code == 201, sent.text
    items = app.get("/agents/chat/messages", params={"limit": 1}).json()["items"]
    assert [(m["type"], m["data"]["to"], m["data"]["content"]) for m in items] == [
        ("agent.message", "chat", {"note": "from outside"})
    ]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
        ({"cursor": "abc"}, 422),
        ({"cursor": "9" * 21}, 422),
        ({"cursor": str(2**63)}, 400),
    ],
)
def test_bad_history_queries_are_refused(app: App, query: dict[str, Any], status: int) -> None:
    response = app.get("/agents/chat/messages", params=query)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def test_the_history_of_an_unknown_agent_is_not_found(app: App) -> None:
    missing = app.get("/agents/nobody/messages")
    assert error_of(missing, 404) == "no agent named 'nobody' in this app"


# --- the WebSocket --------------------------------------------------------------------------


def test_agent_status_over_the_websocket(app: App) -> None:
    app.define(SCOUT)
    app.post("/agents/scout/disable")
    with connect(app.actor) as ws:
        ws.receive_json()  # connection.ready
        ws.send_json({"type": "agent.status", "id": "s1", "data": {"app_id": app.id}})
        [reply] = receive_until(ws, reply_to("s1"))
        assert reply["type"] == "agent.statuses"
        agents = {a["name"]: a for a in reply["data"]["agents"]}
        assert reply["data"]["app_id"] == app.id
        assert agents["scout"] == {
            "name": "scout",
            "status": "idle",
            "enabled": False,
            "active_runs": [],
        }
        assert agents["chat"]["enabled"] is True and len(agents) == 10

        ws.send_json(
            {"type": "agent.status", "id": "s2", "data": {"app_id": app.id, "agent": "chat"}}
        )
        [one] = receive_until(ws, reply_to("s2"))
        assert [a["name"] for a in one["data"]["agents"]] == ["chat"]

        ws.send_json(
            {"type": "agent.status", "id": "s3", "data": {"app_id": app.id, "agent": "nobody"}}
        )
        [missing] = receive_until(ws, reply_to("s3"))
        assert missing["type"] == "error" and missing["data"]["code"] == "not_found"
        assert missing["data"]["message"] == "no agent named 'nobody' in this app"

        ws.send_json({"type": "agent.status", "id": "s4", "data": {"app_id": app.id, "agent": 7}})
        [bad] = receive_until(ws, reply_to("s4"))
        assert (bad["type"], bad["data"]["message"]) == ("error", "agent is a string")


def test_agent_status_of_another_app_is_not_found(app: App, make_user: Any) -> None:
    stranger = make_user("status_stranger")
    with connect(stranger) as ws:
        ws.receive_json()
        ws.send_json({"type": "agent.status", "id": "x", "data": {"app_id": app.id}})
        [reply] = receive_until(ws, reply_to("x"))
        assert reply["type"] == "error" and reply["data"]["code"] == "not_found", reply
