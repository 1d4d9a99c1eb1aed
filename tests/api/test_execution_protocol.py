"""The editor protocol (docs/api.md, "Executing a graph from an editor"): `execution.start`
over the WebSocket runs a stored flow or an inline graph, re-executes from a node with cached
outputs exactly as `POST /sessions/{id}/runs` does, follows the run as `execution.*` messages
(pending for every node first, outputs in `node.completed` and, when asked, in
`execution.completed`), and the same events reach SSE clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from tests.api.conftest import Actor, api_settings

from podium.config import Settings
from support.fake_openai import FakeOpenAI

WS = "/api/v1/ws"
WAIT = {"timeout": 20}
EVENT_CAP = 4_096


def template(node_id: str, text: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "template",
        "config": {"template": text, "output_key": node_id},
        "position": {"x": 0, "y": 0},  # an editor's own keys are kept
    }


# The graph an editor sends: three steps of a story, a viewport.
NODES = [
    template("idea", "a fox"),
    template("enhance", "{{ idea }} in the snow"),
    template("story", "Once, {{ enhance }}."),
]
EDGES = [
    {"source": "idea", "target": "enhance", "sourceHandle": "text", "targetHandle": "text"},
    {"source": "enhance", "target": "story"},
]
VIEWPORT = {"x": 10, "y": -4, "zoom": 0.8}


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(
        database_url,
        api_python_modules=["support.editor_nodes", "support.json_nodes"],
        max_event_bytes=EVENT_CAP,
    )


@pytest.fixture
def app_id(admin: Actor) -> str:
    return admin.create_app("editor")


def connect(actor: Actor) -> Any:
    return actor.client.websocket_connect(f"{WS}?token={actor.access_token}")


def receive_until(
    ws: WebSocketTestSession, wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = ws.receive_json()
        messages.append(message)
        if wanted(message):
            return messages


def ended(message: dict[str, Any]) -> bool:
    return message["type"] in ("execution.completed", "execution.failed", "execution.cancelled")


def start(ws: WebSocketTestSession, data: dict[str, Any], request_id: str = "go") -> Any:
    """Send execution.start; the first message back is its reply."""
    ws.send_json({"type": "execution.start", "id": request_id, "data": data})
    return ws.receive_json()


def statuses(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(node, status) in order, `completed`/`failed` included, running left out (live)."""
    seen = []
    for m in messages:
        data = m["data"]
        if m["type"] == "execution.node.status" and data["status"] != "running":
            seen.append((data["node_id"], data["status"]))
        elif m["type"] == "execution.node.completed":
            seen.append((data["node_id"], "cached" if data.get("cached") else "completed"))
        elif m["type"] == "execution.node.failed":
            seen.append((data["node_id"], "failed"))
    return seen


def test_an_inline_graph_runs_with_every_node_event_in_order(admin: Actor, app_id: str) -> None:
    base = f"/api/v1/apps/{app_id}"
    with connect(admin) as ws:
        ws.receive_json()
        data = {
            "app_id": app_id,
            "name": "story",
            "nodes": NODES,
            "edges": EDGES,
            "viewport": VIEWPORT,
            "include_outputs": True,
        }
        started = start(ws, data)
        assert started["type"] == "execution.started" and started["id"] == "go"
        reply = started["data"]
        assert reply["flow"] == "story" and reply["flow_version"] == 1
        assert reply["nodes"] == ["idea", "enhance", "story"]
        messages = receive_until(ws, ended)
    assert {m["subscription_id"] for m in messages} == {reply["subscription_id"]}
    assert statuses(messages) == [
        ("idea", "pending"),
        ("enhance", "pending"),
        ("story", "pending"),
        ("idea", "completed"),
        ("enhance", "completed"),
        ("story", "completed"),
    ]
    running = [
        m["data"]["node_id"]
        for m in messages
        if m["type"] == "execution.node.status" and m["data"]["status"] == "running"
    ]
    assert running == ["idea", "enhance", "story"]  # one process: the live statuses arrive
    outputs = {
        m["data"]["node_id"]: m["data"]["output"]
        for m in messages
        if m["type"] == "execution.node.completed"
    }
    assert outputs["story"] == {"story": "Once, a fox in the snow."}
    completed = messages[-1]
    assert completed["type"] == "execution.completed"
    assert completed["data"]["run_id"] == reply["run_id"]
    assert completed["data"]["outputs"] == outputs
    assert all(m["data"]["run_id"] == reply["run_id"] for m in messages)
    # The inline graph is stored as the flow's version, with the editor's viewport and keys.
    stored = admin.get(f"{base}/flows/story").json()
    assert stored["definition"]["viewport"] == VIEWPORT
    assert stored["definition"]["nodes"][0]["position"] == {"x": 0, "y": 0}
    assert stored["definition"]["edges"][0]["sourceHandle"] == "text"


def test_a_rerun_from_a_node_runs_only_it_and_downstream(admin: Actor, app_id: str) -> None:
    """Over the WebSocket, on the first run's session: the cached output stands in for the
    node upstream of the trigger (its `cached` step); the trigger and downstream run again."""
    base = f"/api/v1/apps/{app_id}"
    with connect(admin) as ws:
        ws.receive_json()
        data = {"app_id": app_id, "name": "story", "nodes": NODES, "edges": EDGES}
        first = start(ws, data)["data"]
        receive_until(ws, ended)
        rerun = {
            "app_id": app_id,
            "session_id": first["session_id"],
            "trigger_node_id": "enhance",
            "cached_outputs": {"idea": {"idea": "an owl"}},
            "include_outputs": True,
        }
        again = start(ws, rerun, "again")
        assert again["type"] == "execution.started", again
        messages = receive_until(ws, ended)
    assert statuses(messages) == [
        ("idea", "pending"),
        ("enhance", "pending"),
        ("story", "pending"),
        ("idea", "cached"),
        ("enhance", "completed"),
        ("story", "completed"),
    ]
    assert messages[-1]["data"]["outputs"]["story"] == {"story": "Once, an owl in the snow."}
    run = admin.get(f"{base}/runs/{again['data']['run_id']}").json()
    assert [(s["node_id"], s["status"]) for s in run["steps"]] == [
        ("idea", "cached"),
        ("enhance", "succeeded"),
        ("story", "succeeded"),
    ]


def test_a_rerun_over_http_is_the_same_and_sse_clients_see_the_same_events(
    admin: Actor, app_id: str
) -> None:
    base = f"/api/v1/apps/{app_id}"
    flow = {"name": "story", "nodes": NODES, "edges": EDGES}
    assert admin.post(f"{base}/flows", flow).status_code == 201
    session = admin.post(f"{base}/sessions", {"flow": "story"}).json()
    admin.get(f"{base}/runs/{session['run_id']}/wait", params=WAIT)
    body = {
        "trigger_node_id": "enhance",
        "cached_outputs": {"idea": {"idea": "an owl"}},
        "include_outputs": True,
        "pending_statuses": True,
    }
    queued = admin.post(f"{base}/sessions/{session['id']}/runs", body)
    assert queued.status_code == 202, queued.text
    run_id = queued.json()["run_id"]
    run = admin.get(f"{base}/runs/{run_id}/wait", params=WAIT).json()
    assert [s["status"] for s in admin.get(f"{base}/runs/{run_id}").json()["steps"]] == [
        "cached",
        "succeeded",
        "succeeded",
    ]
    assert run["status"] == "succeeded"
    page = admin.get(f"{base}/events", params={"run_id": run_id}).json()["items"]
    kinds = [(e["type"], e["data"].get("node_id")) for e in page]
    assert kinds[:4] == [
        ("run.queued", None),
        ("run.started", None),
        ("node.pending", "idea"),
        ("node.pending", "enhance"),
    ]
    completed = {e["data"]["node_id"]: e["data"] for e in page if e["type"] == "node.completed"}
    assert completed["idea"] == {
        "node_id": "idea",
        "step": 1,
        "cached": True,
        "output": {"idea": "an owl"},
    }
    assert completed["story"]["output"] == {"story": "Once, an owl in the snow."}
    succeeded = page[-1]
    assert succeeded["type"] == "run.succeeded"
    assert succeeded["data"]["outputs"]["enhance"] == {"enhance": "an owl in the snow"}
    # A run that did not ask carries neither (the log stays small for everyone else).
    plain = admin.post(f"{base}/sessions/{session['id']}/runs", {}).json()["run_id"]
    admin.get(f"{base}/runs/{plain}/wait", params=WAIT)
    plain_page = admin.get(f"{base}/events", params={"run_id": plain}).json()["items"]
    assert "node.pending" not in [e["type"] for e in plain_page]
    assert "outputs" not in plain_page[-1]["data"]


def test_a_stored_flow_by_id_and_an_edited_version_of_it(admin: Actor, app_id: str) -> None:
    base = f"/api/v1/apps/{app_id}"
    flow = {"name": "story", "nodes": NODES, "edges": EDGES, "viewport": VIEWPORT}
    flow_id = admin.post(f"{base}/flows", flow).json()["id"]
    with connect(admin) as ws:
        ws.receive_json()
        by_id = start(ws, {"app_id": app_id, "flow_id": flow_id})["data"]
        assert (by_id["flow_id"], by_id["flow_version"]) == (flow_id, 1)
        receive_until(ws, ended)
        edited = [*NODES[:2], template("story", "Twice, {{ enhance }}.")]
        data = {"app_id": app_id, "flow_id": flow_id, "nodes": edited, "edges": EDGES}
        version = start(ws, data, "edit")["data"]
        assert (version["flow"], version["flow_version"]) == ("story", 2)
        last = receive_until(ws, ended)[-1]
        assert last["type"] == "execution.completed"
    stored = admin.get(f"{base}/flows/story").json()["definition"]
    assert stored["viewport"] == VIEWPORT  # kept from the version it edits
    assert stored["nodes"][2]["config"]["template"] == "Twice, {{ enhance }}."
    session = admin.get(f"{base}/sessions/{version['session_id']}").json()
    assert session["state"]["story"] == "Twice, a fox in the snow."


def test_the_run_model_is_the_flow_step_of_the_chain(admin: Actor, app_id: str) -> None:
    config = {"function": "support.editor_nodes:report_model"}
    node = {"id": "m", "type": "python", "config": config}
    data = {"app_id": app_id, "name": "models", "nodes": [node], "edges": []}
    with connect(admin) as ws:
        ws.receive_json()
        reply = start(ws, {**data, "provider_id": "offline"})["data"]
        assert reply["model"] == "offline/echo"  # the provider's default model
        done = receive_until(ws, ended)
        output = next(m for m in done if m["type"] == "execution.node.completed")["data"]["output"]
        assert output == {"model": "offline/echo"}
        reply = start(ws, {**data, "provider_id": "mistral", "model": "mistral-large"}, "2")
        assert reply["data"]["model"] == "mistral/mistral-large"  # a preset
        receive_until(ws, ended)
        plain = start(ws, data, "3")["data"]
        assert plain["model"] is None
        done = receive_until(ws, ended)
        output = next(m for m in done if m["type"] == "execution.node.completed")["data"]["output"]
        assert output == {"model": None}  # the flow names none: the app's and server's follow


def test_a_failed_node_skips_downstream_and_fails_the_run(admin: Actor, app_id: str) -> None:
    nodes = [
        {"id": "scene", "type": "python", "config": {"function": "support.editor_nodes:fail"}},
        template("story", "never"),
    ]
    data = {"app_id": app_id, "name": "broken", "nodes": nodes, "edges": [EDGES[1] | {}]}
    data["edges"] = [{"source": "scene", "target": "story"}]
    with connect(admin) as ws:
        ws.receive_json()
        start(ws, data)
        messages = receive_until(ws, ended)
    assert statuses(messages) == [
        ("scene", "pending"),
        ("story", "pending"),
        ("scene", "failed"),
        ("story", "skipped"),
    ]
    failed = next(m for m in messages if m["type"] == "execution.node.failed")["data"]
    assert failed["error"] == "RuntimeError: the scene is missing"
    assert messages[-1]["type"] == "execution.failed"
    assert "the scene is missing" in messages[-1]["data"]["error"]


def test_a_large_output_is_a_marker_with_the_step_to_read(admin: Actor, app_id: str) -> None:
    base = f"/api/v1/apps/{app_id}"
    config = {"function": "support.json_nodes:big_output", "chars": 20_000}
    data = {
        "app_id": app_id,
        "name": "big",
        "nodes": [{"id": "big", "type": "python", "config": config}],
        "edges": [],
        "include_outputs": True,
    }
    with connect(admin) as ws:
        ws.receive_json()
        run_id = start(ws, data)["data"]["run_id"]
        messages = receive_until(ws, ended)
    completed = next(m for m in messages if m["type"] == "execution.node.completed")["data"]
    read = f"GET {base}/runs/{run_id}/steps/1"
    assert completed["output_omitted"] is True and completed["read"] == read
    assert "output" not in completed
    assert messages[-1]["data"]["outputs_omitted"] is True
    step = admin.get(read.removeprefix("GET ")).json()
    assert step["output"] == {"text": "x" * 20_000} and step["node_id"] == "big"
    missing = admin.get(f"{base}/runs/{run_id}/steps/9")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith(f"run {run_id} has no step 9")


def test_execution_subscribe_follows_a_run_started_elsewhere(admin: Actor, app_id: str) -> None:
    base = f"/api/v1/apps/{app_id}"
    assert admin.post(f"{base}/flows", {"name": "story", "nodes": NODES, "edges": EDGES})
    session = admin.post(f"{base}/sessions", {"flow": "story"}).json()
    admin.get(f"{base}/runs/{session['run_id']}/wait", params=WAIT)
    with connect(admin) as ws:
        ws.receive_json()
        ws.send_json(
            {"type": "execution.subscribe", "id": "s", "data": {"app_id": app_id, "run_id": "x"}}
        )
        assert ws.receive_json()["data"]["code"] == "not_found"
        data = {"app_id": app_id, "run_id": session["run_id"]}
        ws.send_json({"type": "execution.subscribe", "id": "s2", "data": data})
        assert ws.receive_json()["type"] == "execution.subscribed"
        messages = receive_until(ws, ended)  # replayed from the log: the run had ended
    assert [n for n, s in statuses(messages)] == ["idea", "enhance", "story"]


BAD_STARTS = [
    ({"flow": "story", "trigger_node_ids": "x"}, "execution.start does not take trigger_node_ids"),
    ({}, "execution.start needs what to run"),
    ({"flow": "story", "session_id": "ses_x"}, "takes one of flow, flow_id, nodes or session_id"),
    ({"nodes": NODES, "edges": EDGES}, "an inline graph needs a name"),
    ({"name": "x", "nodes": "abc"}, "nodes and edges are lists"),
    ({"flow": "story", "viewport": {}}, "edges and viewport come with nodes"),
    ({"flow": "story", "include_outputs": "yes"}, "include_outputs is true or false"),
    ({"flow": "story", "trigger_node_id": "nope"}, "trigger_node_id 'nope' is not a node"),
    (
        {"flow": "story", "trigger_node_id": "story", "cached_outputs": {"ghost": {}}},
        "cached_outputs names ghost, not nodes of flow 'story'",
    ),
    ({"flow": "story", "cached_outputs": {"idea": 3}}, "cached_outputs maps node ids"),
    ({"flow": "story", "cached_outputs": {"idea": {}}}, "need a trigger_node_id"),
    ({"flow": "story", "provider_id": "huggingface"}, "provider_id 'huggingface' needs a model"),
    ({"flow": "story", "model": "nowhere/x"}, "names provider 'nowhere', which is not"),
    ({"flow": "story", "multitask_strategy": "later"}, "multitask_strategy is one of"),
    ({"flow": "story", "from_run_id": "run_x"}, "from_run_id is a run of the session"),
    ({"flow_id": "flw_missing"}, "no flow with id 'flw_missing' in this app"),
    ({"name": "bad", "nodes": [{"id": "a", "type": "nope"}]}, "flow 'bad'"),
]


@pytest.mark.parametrize(("data", "message"), BAD_STARTS)
def test_bad_starts_get_an_error_naming_the_problem(
    admin: Actor, app_id: str, data: dict[str, Any], message: str
) -> None:
    base = f"/api/v1/apps/{app_id}"
    assert admin.post(f"{base}/flows", {"name": "story", "nodes": NODES, "edges": EDGES})
    with connect(admin) as ws:
        ws.receive_json()
        error = start(ws, {"app_id": app_id, **data})
        assert error["type"] == "error" and error["id"] == "go"
        assert message in error["data"]["message"], error
        ws.send_json({"type": "ping", "id": "p"})
        assert ws.receive_json()["type"] == "pong"  # nothing else was sent: no run started
    assert admin.get(f"{base}/sessions").json()["items"] == []


def test_another_apps_flow_id_is_not_found(admin: Actor, make_user: Any) -> None:
    mine = admin.create_app("mine")
    flow_id = admin.post(
        f"/api/v1/apps/{mine}/flows", {"name": "story", "nodes": NODES, "edges": EDGES}
    ).json()["id"]
    other = make_user("olga")
    theirs = other.create_app("theirs")
    with connect(other) as ws:
        ws.receive_json()
        error = start(ws, {"app_id": theirs, "flow_id": flow_id})
        assert error["data"]["code"] == "not_found"
        error = start(ws, {"app_id": mine, "flow_id": flow_id}, "2")
        assert error["data"]["code"] == "not_found"  # not a member of that app


class TestAPresetModel:
    """`provider_id: "mistral"` with a model: the run's agent calls Mistral's preset (here a
    fake OpenAI-wire server on loopback, allowed by the egress policy) with its key."""

    @pytest.fixture
    def mistral(self) -> Iterator[FakeOpenAI]:
        with FakeOpenAI(api_key="mistral-key") as fake:
            yield fake

    @pytest.fixture
    def api_config(self, database_url: str, mistral: FakeOpenAI) -> Settings:
        return api_settings(
            database_url,
            egress_allow=["127.0.0.1"],
            mistral_base_url=mistral.base_url,
            mistral_api_key="mistral-key",
        )

    def test_the_agent_calls_the_preset(
        self, admin: Actor, app_id: str, mistral: FakeOpenAI
    ) -> None:
        mistral.reply_text("A fox in the snow.")
        node = {"id": "tell", "type": "agent", "config": {"agent": "chat", "input": "A story"}}
        data = {
            "app_id": app_id,
            "name": "teller",
            "nodes": [node],
            "edges": [],
            "provider_id": "mistral",
            "model": "mistral-large-latest",
        }
        with connect(admin) as ws:
            ws.receive_json()
            assert start(ws, data)["data"]["model"] == "mistral/mistral-large-latest"
            messages = receive_until(ws, ended)
        assert messages[-1]["type"] == "execution.completed", messages[-1]
        completed = next(m for m in messages if m["type"] == "execution.node.completed")
        assert "A fox in the snow." in json.dumps(completed["data"]["output"])
        (received,) = mistral.requests
        assert received.path == "/v1/chat/completions"
        assert received.headers["authorization"] == "Bearer mistral-key"
        assert received.body["model"] == "mistral-large-latest"
