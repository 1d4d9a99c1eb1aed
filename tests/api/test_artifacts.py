"""Artifacts over HTTP and the WebSocket: create, read, list, attach, JSON Merge Patch with
If-Match, history, roles, tenancy, live updates in order (and after a reconnect), actions
that launch a flow or reach a waiting one — also across a real server restart."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import WebSocketTestSession
from tests.api.conftest import ASK_FLOW, Actor, api_settings
from tests.api.live import ROOT, LiveServer, create_admin, login, server_env
from tests.api.threaded_server import threaded_server

from podium.config import Settings

NODES = "support.artifact_nodes"
WAIT = {"timeout": 20}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
BUILD_FLOW = {
    "name": "builder",
    "nodes": [{"id": "build", "type": "python", "config": {"function": f"{NODES}:build_and_wait"}}],
    "edges": [],
}


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, api_python_modules=[NODES])


class App:
    """One app as its owner sees it over HTTP."""

    def __init__(self, actor: Actor, app_id: str) -> None:
        self.actor = actor
        self.id = app_id
        self.base = f"/api/v1/apps/{app_id}"

    def as_(self, actor: Actor) -> App:
        return App(actor, self.id)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.actor.get(f"{self.base}{path}", **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.actor.post(f"{self.base}{path}", body, **kwargs)

    def patch(
        self,
        artifact_id: str,
        body: Any,
        *,
        if_match: str | None = None,
        content_type: str = "application/merge-patch+json",
    ) -> Any:
        headers = {**self.actor.headers, "Content-Type": content_type}
        if if_match is not None:
            headers["If-Match"] = if_match
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.actor.client.patch(
            f"{self.base}/artifacts/{artifact_id}", content=content, headers=headers
        )

    def create(self, state: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"type": "Tracker", "initial_state": state or {}, **fields}
        response = self.post("/artifacts", body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def start(self, flow: str, run_input: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post("/sessions", {"flow": flow, "input": run_input or {}})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def wait(self, run_id: str) -> dict[str, Any]:
        response = self.get(f"/runs/{run_id}/wait", params=WAIT)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self.get(f"/sessions/{session_id}").json())


@pytest.fixture
def app(admin: Actor) -> App:
    app = App(admin, admin.create_app("artifacts"))
    for flow in (ASK_FLOW, BUILD_FLOW):
        assert app.post("/flows", flow).status_code == 201, flow
    return app


def member(app: App, make_user: Any, username: str, role: str) -> App:
    actor = make_user(username)
    added = app.post("/members", {"user": username, "role": role})
    assert added.status_code == 201, added.text
    return app.as_(actor)


# --- create, read, patch ----------------------------------------------------------------


def test_create_and_read_an_artifact_with_its_version_as_etag(app: App) -> None:
    session = app.start("ask")
    response = app.post(
        "/artifacts",
        {
            "type": "AppBuilderArtifact",
            "initial_state": {"app_name": "x"},
            "session_id": session["id"],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["ETag"] == '"1"'
    assert created["id"].startswith("art_") and created["app_id"] == app.id
    assert (created["type"], created["version"], created["state"]) == (
        "AppBuilderArtifact",
        1,
        {"app_name": "x"},
    )
    assert created["flow"] == "ask"  # the session's flow owns it
    assert created["session_id"] == session["id"] and created["session_ids"] == [session["id"]]
    assert created["created_by"] == app.actor.user["id"]
    read = app.get(f"/artifacts/{created['id']}")
    assert read.status_code == 200 and read.json() == created
    assert read.headers["ETag"] == '"1"'
    loose = app.create({"a": 1}, flow="RevenueDashboard")
    assert (loose["flow"], loose["session_id"], loose["session_ids"]) == (
        "RevenueDashboard",
        None,
        [],
    )

    assert app.get("/artifacts/art_nope").status_code == 404
    missing_session = app.post("/artifacts", {"type": "T", "session_id": "ses_nope"})
    assert missing_session.status_code == 404
    assert "ses_nope" in missing_session.json()["error"]["message"]
    for bad in ({}, {"type": ""}, {"type": "T", "initial_state": [1]}, {"type": "T", "x": 1}):
        assert app.post("/artifacts", bad).status_code == 422, bad


def test_a_patch_is_a_merge_patch_and_if_match_guards_it(app: App) -> None:
    artifact = app.create({"progress": 0, "features": ["a"], "meta": {"x": 1, "y": 2}})
    artifact_id = artifact["id"]
    first = app.patch(artifact_id, {"progress": 50, "meta": {"y": None}}, if_match='"1"')
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"'
    assert first.json()["version"] == 2
    assert first.json()["state"] == {"progress": 50, "features": ["a"], "meta": {"x": 1}}

    stale = app.patch(artifact_id, {"progress": 99}, if_match='"1"')
    assert stale.status_code == 412, stale.text
    error = stale.json()["error"]
    assert error["code"] == "precondition_failed"
    assert error["details"] == {"current_version": 2, "expected_version": 1}
    assert "version 2" in error["message"]

    second = app.patch(
        artifact_id, {"features": ["b", "c"]}, if_match="2", content_type="application/json"
    )
    assert second.status_code == 200, second.text
    assert second.json()["state"]["features"] == ["b", "c"]  # arrays are replaced
    assert app.patch(artifact_id, {"any": True}, if_match="*").json()["version"] == 4
    assert app.patch(artifact_id, {"no": "condition"}).json()["version"] == 5

    refused = [
        (
            app.patch(artifact_id, {"x": 1}, content_type="text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            app.patch(artifact_id, {"x": 1}, content_type="application/xml"),
            415,
            "unsupported_media_type",
        ),
        (app.patch(artifact_id, b"{not json"), 422, "json_invalid"),  # the JSON boundary
        (app.patch(artifact_id, [1, 2]), 400, "invalid_input"),
        (app.patch(artifact_id, "text"), 400, "invalid_input"),
        (app.patch(artifact_id, {"x": 1}, if_match="abc"), 400, "invalid_input"),
        (app.patch(artifact_id, {"x": 1}, if_match='W/"5"'), 400, "invalid_input"),
        (app.patch("art_nope", {"x": 1}), 404, "not_found"),
    ]
    for response, status, code in refused:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code, response.text
    after = app.get(f"/artifacts/{artifact_id}").json()
    assert after["version"] == 5 and "x" not in after["state"]  # nothing refused applied


def test_history_lists_each_versions_patch_and_actor(app: App, make_user: Any) -> None:
    editor = member(app, make_user, "edith", "member")
    artifact = app.create({"n": 0})
    assert app.patch(artifact["id"], {"n": 1}).status_code == 200
    assert editor.patch(artifact["id"], {"n": 2, "by": "edith"}).status_code == 200
    history = app.get(f"/artifacts/{artifact['id']}/history")
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["artifact_id"] == artifact["id"] and body["next_cursor"] is None
    assert [(v["version"], v["patch"], v["actor"]) for v in body["items"]] == [
        (1, {"n": 0}, app.actor.user["id"]),
        (2, {"n": 1}, app.actor.user["id"]),
        (3, {"n": 2, "by": "edith"}, editor.actor.user["id"]),
    ]
    page = app.get(f"/artifacts/{artifact['id']}/history", params={"limit": 2}).json()
    assert [v["version"] for v in page["items"]] == [1, 2]
    rest = app.get(
        f"/artifacts/{artifact['id']}/history", params={"cursor": page["next_cursor"]}
    ).json()
    assert [v["version"] for v in rest["items"]] == [3] and rest["next_cursor"] is None
    assert app.get("/artifacts/art_nope/history").status_code == 404
    bad_cursor = app.get(f"/artifacts/{artifact['id']}/history", params={"cursor": "x"})
    assert bad_cursor.status_code == 422  # not a cursor we hand out


def test_attach_and_list_by_session_and_type(app: App) -> None:
    one, two = app.start("ask"), app.start("ask")
    tracker = app.create(session_id=one["id"])
    dashboard = app.create(type="Dashboard")
    attached = app.post(f"/sessions/{one['id']}/artifacts/{dashboard['id']}")
    assert attached.status_code == 200, attached.text
    assert attached.json()["session_ids"] == [one["id"]]
    again = app.post(f"/sessions/{two['id']}/artifacts/{dashboard['id']}")
    assert again.json()["session_ids"] == [one["id"], two["id"]]
    assert app.post(f"/sessions/{two['id']}/artifacts/{dashboard['id']}").status_code == 200

    def ids(**params: Any) -> list[str]:
        response = app.get("/artifacts", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert ids() == [tracker["id"], dashboard["id"]]
    assert ids(session_id=one["id"]) == [tracker["id"], dashboard["id"]]
    assert ids(session_id=two["id"]) == [dashboard["id"]]
    assert ids(session_id=one["id"], type="Dashboard") == [dashboard["id"]]
    assert ids(type="Tracker") == [tracker["id"]]
    assert ids(type="Nothing") == [] and ids(session_id="ses_nope") == []
    first_page = app.get("/artifacts", params={"limit": 1}).json()
    assert [a["id"] for a in first_page["items"]] == [tracker["id"]]
    second_page = app.get("/artifacts", params={"cursor": first_page["next_cursor"]}).json()
    assert [a["id"] for a in second_page["items"]] == [dashboard["id"]]
    assert second_page["next_cursor"] is None

    assert app.post(f"/sessions/ses_nope/artifacts/{tracker['id']}").status_code == 404
    assert app.post(f"/sessions/{one['id']}/artifacts/art_nope").status_code == 404


def test_viewers_read_and_cannot_write(app: App, make_user: Any) -> None:
    artifact = app.create({"n": 0})
    session = app.start("ask")
    viewer = member(app, make_user, "vera", "viewer")
    assert viewer.get(f"/artifacts/{artifact['id']}").status_code == 200
    assert viewer.get("/artifacts").status_code == 200
    assert viewer.get(f"/artifacts/{artifact['id']}/history").status_code == 200
    for response in (
        viewer.patch(artifact["id"], {"n": 1}),
        viewer.post("/artifacts", {"type": "T"}),
        viewer.post(f"/artifacts/{artifact['id']}/actions", {"action": "deploy_app"}),
        viewer.post(f"/sessions/{session['id']}/artifacts/{artifact['id']}"),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    assert app.get(f"/artifacts/{artifact['id']}").json()["version"] == 1
    assert app.get("/artifacts").json()["items"] == [app.get(f"/artifacts/{artifact['id']}").json()]


def test_another_apps_artifacts_are_404(app: App, make_user: Any) -> None:
    secret = app.create({"secret": "alice's"}, session_id=app.start("ask")["id"])
    bob = make_user("bob")
    bobs = App(bob, bob.create_app("bobs"))
    bobs_session = bobs.start("chat")  # a shipped flow: every app has it
    for response in (
        bobs.get(f"/artifacts/{secret['id']}"),
        bobs.patch(secret["id"], {"secret": "bob's"}),
        bobs.get(f"/artifacts/{secret['id']}/history"),
        bobs.post(f"/artifacts/{secret['id']}/actions", {"action": "deploy_app"}),
        bobs.post(
            f"/artifacts/{secret['id']}/actions",
            {"action": "launch_workflow", "payload": {"flow": "chat"}},
        ),
        bobs.post(f"/sessions/{bobs_session['id']}/artifacts/{secret['id']}"),
        bobs.post("/artifacts", {"type": "T", "session_id": secret["session_id"]}),
        App(bob, app.id).get(f"/artifacts/{secret['id']}"),  # alice's app: bob is no member
    ):
        assert response.status_code == 404, response.text
        assert "alice's" not in response.text
    listed = bobs.get("/artifacts", params={"session_id": secret["session_id"]}).json()
    assert listed["items"] == []
    events = bobs.get("/events", params={"artifact_id": secret["id"]}).json()
    assert events["items"] == []
    assert app.get(f"/artifacts/{secret['id']}").json()["state"] == {"secret": "alice's"}


# --- live updates -----------------------------------------------------------------------


def ws_connect(actor: Actor) -> Any:
    return actor.client.websocket_connect(f"/api/v1/ws?token={actor.access_token}")


def subscribe(ws: WebSocketTestSession, app_id: str, artifact_id: str, since: int = 0) -> str:
    data = {"app_id": app_id, "artifact_id": artifact_id, "since": since}
    ws.send_json({"type": "subscribe", "id": "sub", "data": data})
    while True:
        reply = ws.receive_json()
        if reply.get("id") == "sub":
            assert reply["type"] == "subscribed", reply
            assert reply["data"]["artifact_id"] == artifact_id
            return str(reply["data"]["subscription_id"])


def updates(ws: WebSocketTestSession, until_version: int) -> list[dict[str, Any]]:
    """The `artifact.state.updated` events received up to the one of `until_version`."""
    received = []
    while True:
        message = ws.receive_json()
        if message["type"] != "event":
            continue
        event = message["data"]
        assert event["data"]["artifact_id"] is not None
        if event["type"] == "artifact.state.updated":
            received.append(event)
            if event["data"]["version"] == until_version:
                return received


def test_a_subscriber_gets_every_update_in_order_and_catches_up_after_a_reconnect(
    app: App,
) -> None:
    artifact = app.create({"n": 0})
    other = app.create({"n": 0})  # its updates are not for this subscription
    artifact_id = artifact["id"]
    with ws_connect(app.actor) as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        subscribe(ws, app.id, artifact_id)
        with ThreadPoolExecutor(max_workers=4) as pool:  # concurrent writers
            patched = list(
                pool.map(lambda n: app.patch(artifact_id, {f"k{n}": n}).status_code, range(20))
            )
            list(pool.map(lambda n: app.patch(other["id"], {"n": n}).status_code, range(5)))
        assert patched == [200] * 20
        first = updates(ws, until_version=21)
    assert [e["data"]["version"] for e in first] == list(range(2, 22))  # in order, no gap
    assert {e["data"]["artifact_id"] for e in first} == {artifact_id}
    assert [e["seq"] for e in first] == sorted(e["seq"] for e in first)
    patches = {next(iter(e["data"]["patch"])) for e in first}
    assert patches == {f"k{n}" for n in range(20)}

    # Away at version 11: ten more versions are written, then the client reconnects.
    last_seen = first[9]
    assert last_seen["data"]["version"] == 11
    for n in range(20, 25):
        assert app.patch(artifact_id, {f"k{n}": n}).status_code == 200
    with ws_connect(app.actor) as ws:
        ws.receive_json()
        subscribe(ws, app.id, artifact_id, since=last_seen["seq"])
        caught_up = updates(ws, until_version=26)
        assert app.patch(artifact_id, {"live": True}).status_code == 200
        live = updates(ws, until_version=27)
    assert [e["data"]["version"] for e in caught_up] == list(range(12, 27))  # exactly
    assert [e["seq"] for e in caught_up] == [e["seq"] for e in first[10:]] + [
        e["seq"] for e in caught_up[10:]
    ]
    assert [e["data"]["version"] for e in live] == [27]  # nothing twice before it


def test_subscribing_to_a_missing_or_foreign_artifact_is_refused(app: App, make_user: Any) -> None:
    artifact = app.create()
    outsider = make_user("olga")
    with ws_connect(outsider) as ws:
        ws.receive_json()
        own = outsider.create_app("olgas")
        for data in (
            {"app_id": own, "artifact_id": artifact["id"]},
            {"app_id": app.id, "artifact_id": artifact["id"]},
            {"app_id": own, "artifact_id": "art_nope"},
        ):
            ws.send_json({"type": "subscribe", "id": "s", "data": data})
            reply = ws.receive_json()
            assert (reply["type"], reply["data"]["code"]) == ("error", "not_found"), reply


def test_sse_follows_one_artifact(api_config: Settings) -> None:
    with threaded_server(api_config) as server:
        user = server.login("owner", admin=True)
        app_id = user.create_app("sse-artifacts")
        base = f"/api/v1/apps/{app_id}"
        with user.client() as client:
            mine = client.post(f"{base}/artifacts", json={"type": "T"}).json()
            other = client.post(f"{base}/artifacts", json={"type": "T"}).json()
            headers = {**user.headers, "Accept": "text/event-stream"}
            with (
                server.client(headers=headers, timeout=httpx2.Timeout(20.0)) as stream_client,
                stream_client.stream("GET", f"{base}/events?artifact_id={mine['id']}") as stream,
            ):
                assert stream.status_code == 200
                for n in range(3):
                    for target in (other, mine):
                        patched = client.patch(
                            f"{base}/artifacts/{target['id']}",
                            content=json.dumps({"n": n}),
                            headers=MERGE_PATCH,
                        )
                        assert patched.status_code == 200, patched.text
                events = []
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        events.append(json.loads(line.removeprefix("data:").strip()))
                        if events[-1]["data"].get("version") == 4:
                            break
    assert [(e["type"], e["data"]["version"]) for e in events] == [
        ("artifact.created", 1),
        ("artifact.state.updated", 2),
        ("artifact.state.updated", 3),
        ("artifact.state.updated", 4),
    ]
    assert {e["data"]["artifact_id"] for e in events} == {mine["id"]}


# --- actions ----------------------------------------------------------------------------


def test_launch_workflow_starts_a_session_of_the_flow_for_the_caller(app: App) -> None:
    artifact = app.create({"buttons": [{"action": "launch_workflow", "workflow": "ask"}]})
    path = f"/artifacts/{artifact['id']}/actions"
    launched = app.post(path, {"action": "launch_workflow", "payload": {"flow": "ask"}})
    assert launched.status_code == 202, launched.text
    body = launched.json()
    assert body["action"] == "launch_workflow" and body["runs"] == []
    session = app.session(body["session_id"])
    assert (session["flow"], session["run_id"]) == ("ask", body["run_id"])
    assert session["user_id"] == app.actor.user["id"]
    assert session["metadata"] == {
        "launched_from": {"artifact_id": artifact["id"], "session_id": None}
    }
    assert app.wait(body["run_id"])["status"] == "interrupted"  # it really runs
    # The button's own shape works too: `workflow` names the flow.
    by_button = app.post(path, {"action": "launch_workflow", "payload": {"workflow": "ask"}})
    assert by_button.status_code == 202 and by_button.json()["session_id"] != body["session_id"]

    no_flow = app.post(path, {"action": "launch_workflow", "payload": {}})
    assert no_flow.status_code == 400 and "flow" in no_flow.json()["error"]["message"]
    unknown = app.post(path, {"action": "launch_workflow", "payload": {"flow": "Nope"}})
    assert unknown.status_code == 404
    not_for_users = app.post(
        path, {"action": "launch_workflow", "payload": {"flow": "ask", "user_id": "usr_x"}}
    )
    assert not_for_users.status_code == 400


def test_launch_workflow_by_an_api_key_may_name_the_user(app: App) -> None:
    key = app.post("/api-keys", {"name": "backend", "role": "member"}).json()["key"]
    artifact = app.create()
    launched = app.actor.client.post(
        f"{app.base}/artifacts/{artifact['id']}/actions",
        json={"action": "launch_workflow", "payload": {"flow": "ask", "user_id": "end-user-7"}},
        headers={"X-API-Key": key},
    )
    assert launched.status_code == 202, launched.text
    assert app.session(launched.json()["session_id"])["user_id"] == "end-user-7"


def start_builder(app: App) -> tuple[dict[str, Any], dict[str, Any]]:
    """A session of the builder flow, waiting for `deploy_app` on the artifact it made."""
    session = app.start("builder")
    run = app.wait(session["run_id"])
    assert run["status"] == "interrupted", run
    artifacts = app.get("/artifacts", params={"session_id": session["id"]}).json()["items"]
    assert len(artifacts) == 1
    return session, artifacts[0]


def test_an_action_reaches_the_flow_waiting_for_it(app: App) -> None:
    session, artifact = start_builder(app)
    assert (artifact["type"], artifact["version"], artifact["flow"]) == (
        "AppBuilderArtifact",
        2,
        "builder",
    )
    assert artifact["state"]["build_progress"] == 100
    assert artifact["created_by"] == session["run_id"]  # node code acts as its run
    waiting = app.session(session["id"])
    assert waiting["status"] == "waiting"
    question = waiting["pending_question"]
    assert (question["kind"], question["artifact_id"]) == ("action", artifact["id"])
    assert question["choices"] == ["deploy_app"]

    # An answer through the question route is refused: the action goes to the artifact.
    answered = app.post(
        f"/sessions/{session['id']}/input",
        {"interrupt_id": question["interrupt_id"], "answer": "deploy_app"},
    )
    assert answered.status_code == 409, answered.text
    message = answered.json()["error"]["message"]
    assert f"/artifacts/{artifact['id']}/actions" in message
    # An action no one waits for reaches no run.
    path = f"/artifacts/{artifact['id']}/actions"
    ignored = app.post(path, {"action": "rollback", "payload": {}})
    assert ignored.status_code == 202 and ignored.json()["runs"] == []
    assert app.session(session["id"])["status"] == "waiting"

    sent = app.post(path, {"action": "deploy_app", "payload": {"env": "prod"}})
    assert sent.status_code == 202, sent.text
    assert sent.json()["runs"] == [session["run_id"]]
    assert app.wait(session["run_id"])["status"] == "succeeded"
    state = app.session(session["id"])["state"]
    assert state["received"] == {
        "action": "deploy_app",
        "payload": {"env": "prod"},
        "actor": app.actor.user["id"],
    }
    assert state["final_version"] == 3
    # The step ran again after the action: its artifact and progress were not made twice.
    artifacts = app.get("/artifacts", params={"session_id": session["id"]}).json()["items"]
    assert [a["id"] for a in artifacts] == [artifact["id"]]
    final = artifacts[0]
    assert final["version"] == 3
    assert final["state"]["deployment_status"] == "deployed"
    assert final["state"]["deployed_by"] == app.actor.user["id"]
    # Once delivered, the same action reaches nothing.
    assert app.post(path, {"action": "deploy_app"}).json()["runs"] == []


def test_artifact_action_over_the_websocket(app: App, make_user: Any) -> None:
    session, artifact = start_builder(app)
    viewer = member(app, make_user, "vic", "viewer")
    with ws_connect(viewer.actor) as ws:
        ws.receive_json()
        data = {"app_id": app.id, "artifact_id": artifact["id"], "action": "deploy_app"}
        ws.send_json({"type": "artifact.action", "id": "v", "data": data})
        refused = ws.receive_json()
        assert (refused["type"], refused["data"]["code"]) == ("error", "forbidden")
    with ws_connect(app.actor) as ws:
        ws.receive_json()
        subscribe(ws, app.id, artifact["id"])
        data = {**data, "payload": {"env": "staging"}}
        ws.send_json({"type": "artifact.action", "id": "a", "data": data})
        while (reply := ws.receive_json()).get("id") != "a":
            pass
        assert reply == {
            "type": "artifact.action.accepted",
            "id": "a",
            "data": {
                "action": "deploy_app",
                "artifact_id": artifact["id"],
                "session_id": None,
                "run_id": None,
                "runs": [session["run_id"]],
            },
        }
        final = updates(ws, until_version=3)[-1]
        assert final["data"]["patch"]["deployment_status"] == "deployed"
        launch = {"app_id": app.id, "artifact_id": artifact["id"], "action": "launch_workflow"}
        ws.send_json(
            {"type": "artifact.action", "id": "l", "data": {**launch, "payload": {"flow": "ask"}}}
        )
        while (launched := ws.receive_json()).get("id") != "l":
            pass
        assert launched["type"] == "artifact.action.accepted"
        assert app.session(launched["data"]["session_id"])["flow"] == "ask"
    assert app.wait(session["run_id"])["status"] == "succeeded"
    assert app.session(session["id"])["state"]["received"]["payload"] == {"env": "staging"}


# --- a real restart ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_flow_waiting_for_an_action_survives_a_server_restart(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    env = server_env(PYTHONPATH=str(ROOT / "tests"), PODIUM_API_PYTHON_MODULES=NODES)
    create_admin(db, env)
    server = LiveServer(db, env).start()
    try:
        token = login(server)
        app_id = server.call("POST", "/apps", {"name": "restarts"}, token)["id"]
        base = f"/apps/{app_id}"
        server.call("POST", f"{base}/flows", BUILD_FLOW, token)
        session = server.call("POST", f"{base}/sessions", {"flow": "builder"}, token)
        run = server.call("GET", f"{base}/runs/{session['run_id']}/wait?timeout=20", None, token)
        assert run["status"] == "interrupted", run
        artifacts = server.call("GET", f"{base}/artifacts?session_id={session['id']}", None, token)
        (artifact,) = artifacts["items"]

        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        server.start()

        waiting = server.call("GET", f"{base}/sessions/{session['id']}", None, token)
        assert waiting["status"] == "waiting"
        assert waiting["pending_question"]["artifact_id"] == artifact["id"]
        sent = server.call(
            "POST",
            f"{base}/artifacts/{artifact['id']}/actions",
            {"action": "deploy_app", "payload": {"after": "restart"}},
            token,
        )
        assert sent["runs"] == [session["run_id"]]
        run = server.call("GET", f"{base}/runs/{session['run_id']}/wait?timeout=20", None, token)
        assert run["status"] == "succeeded", (run, server.output())
        done = server.call("GET", f"{base}/sessions/{session['id']}", None, token)
        assert done["status"] == "completed"
        assert done["state"]["received"]["payload"] == {"after": "restart"}
        final = server.call("GET", f"{base}/artifacts?session_id={session['id']}", None, token)
        assert [(a["id"], a["version"]) for a in final["items"]] == [(artifact["id"], 3)]
        assert final["items"][0]["state"]["deployment_status"] == "deployed"
    finally:
        if server.process is not None:
            server.stop()
    assert "Traceback" not in server.output(), server.output()
