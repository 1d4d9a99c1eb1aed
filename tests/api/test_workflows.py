"""The workflow patterns over HTTP: `POST /workflows/execute`, `GET /workflows/{run_id}`,
`PATCH /workflows/{run_id}/state`, `GET /workflows/{run_id}/visualization` and the drawing
pushed over the WebSocket (`workflow.subscribe`). Every agent plays a script on
`offline/script`, so each outcome is known in advance."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from tests.api.conftest import Actor

from podium.tools.base import tool

WAIT = {"timeout": 20}
HIGH_RULES = {
    "routing_rules": {
        "conditions": [
            {
                "field": "metadata.lead_score",
                "operator": ">",
                "value": 70,
                "next_agent": "web_development",
            },
            {"default": "chat"},
        ]
    }
}


@tool(requires_approval=True)
def workflows_test_risky(note: str) -> str:
    """A tool that needs a person's approval (so a workflow stops and waits).

    Args:
        note: anything
    """
    return f"done: {note}"


def scripted(name: str, turns: list[dict[str, Any]], tools: list[str] | None = None) -> Any:
    return {"name": name, "model": "offline/script", "tools": tools or [], "script": turns}


def say(text: str) -> dict[str, Any]:
    return {"text": text}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


class App:
    def __init__(self, actor: Actor, name: str) -> None:
        self.actor = actor
        self.id = actor.create_app(name)
        self.base = f"/api/v1/apps/{self.id}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.actor.get(self.base + path, **kwargs)

    def post(self, path: str, body: Any = None) -> Any:
        return self.actor.post(self.base + path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.actor.patch(self.base + path, body)

    def agent(self, definition: dict[str, Any]) -> None:
        response = self.post("/agents", definition)
        assert response.status_code == 201, response.text

    def execute(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/workflows/execute", body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def finished(self, run_id: str, status: str = "succeeded") -> dict[str, Any]:
        waited = self.get(f"/runs/{run_id}/wait", params=WAIT)
        assert waited.status_code == 200, waited.text
        workflow = self.get(f"/workflows/{run_id}")
        assert workflow.status_code == 200, workflow.text
        body = dict(workflow.json())
        assert body["status"] == status, (body["status"], body["error"], body["output"])
        return body

    def drawing(self, run_id: str) -> dict[str, Any]:
        response = self.get(f"/workflows/{run_id}/visualization")
        assert response.status_code == 200, response.text
        return dict(response.json())


def statuses(drawing: dict[str, Any]) -> dict[str, str]:
    return {node["id"]: node["status"] for node in drawing["nodes"]}


def edge_statuses(drawing: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(e["source"], e["target"]): e["status"] for e in drawing["edges"]}


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["message"])


@pytest.fixture
def app(admin: Actor) -> App:
    return App(admin, "workflows")


# --- sequential ---------------------------------------------------------------------------


def test_sequential_runs_the_agents_in_order_each_on_the_previous_answer(app: App) -> None:
    app.agent(scripted("chat", [say("You want a shop for your bakery.")]))
    # recommendations echoes its task: the test sees what it was given
    app.agent({"name": "recommendations", "model": "offline/echo"})
    app.agent(scripted("lead_qualification", [say("Qualified: a warm lead.")]))
    started = app.execute(
        {"workflow_type": "sequential", "input_data": {"message": "I sell bread"}}
    )
    assert started["workflow_type"] == "sequential" and started["status"] == "queued"
    assert started["participating_agents"] == ["chat", "recommendations", "lead_qualification"]
    assert started["workflow_id"] == started["run_id"] and started["flow"] == "workflow_sequential"
    done = app.finished(started["run_id"])
    output = done["output"]
    assert output["chat_answer"] == "You want a shop for your bakery."
    assert output["recommendations_answer"] == (
        "I sell bread\n\nchat answered:\nYou want a shop for your bakery."
    )
    assert output["answer"] == "Qualified: a warm lead."

    drawing = app.drawing(started["run_id"])
    assert drawing["workflow_type"] == "sequential" and drawing["status"] == "succeeded"
    assert statuses(drawing) == {
        "chat": "succeeded",
        "recommendations": "succeeded",
        "lead_qualification": "succeeded",
        "result": "succeeded",
    }
    assert set(edge_statuses(drawing).values()) == {"fired"}
    assert [n.get("agent") for n in drawing["nodes"]] == [
        "chat",
        "recommendations",
        "lead_qualification",
        None,
    ]


# --- conditional --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "branch", "other"), [(71, "web_development", "chat"), (70, "chat", "web_development")]
)
def test_conditional_takes_the_branch_of_the_metadata_on_each_side_of_the_threshold(
    app: App, score: int, branch: str, other: str
) -> None:
    app.agent(scripted("lead_qualification", [say(f'A lead.\n{{"lead_score": {score}}}')]))
    app.agent(scripted("web_development", [say("I will build your site.")]))
    app.agent(scripted("chat", [say("Tell me more.")]))
    started = app.execute(
        {
            "workflow_type": "conditional",
            "participating_agents": ["chat", "lead_qualification", "web_development"],
            "workflow_config": HIGH_RULES,
            "input_data": {"message": "I need a website"},
        }
    )
    done = app.finished(started["run_id"])
    expected = {"web_development": "I will build your site.", "chat": "Tell me more."}
    assert done["output"] == {"answer": expected[branch], "metadata": {"lead_score": score}}
    drawing = app.drawing(started["run_id"])
    assert statuses(drawing) == {
        "lead_qualification": "succeeded",
        "route": "succeeded",
        branch: "succeeded",
        other: "skipped",
        "result": "succeeded",
    }
    edges = edge_statuses(drawing)
    assert edges[("route", branch)] == "fired" and edges[("route", other)] == "dead"
    session = app.get(f"/sessions/{started['session_id']}").json()
    assert session["state"]["classification"] == "A lead."  # the metadata is off the answer


def test_conditional_fails_clearly_when_the_classifier_gives_no_metadata(app: App) -> None:
    app.agent(scripted("lead_qualification", [say("A good lead, I think.")]))
    started = app.execute(
        {
            "workflow_type": "conditional",
            "participating_agents": ["chat", "lead_qualification", "web_development"],
            "workflow_config": HIGH_RULES,
            "input_data": {"message": "I need a website"},
        }
    )
    done = app.finished(started["run_id"], "failed")
    assert done["error"] == (
        "node 'lead_qualification' failed: InvalidInput: agent 'lead_qualification' answered "
        "without the JSON metadata its node asks for (metadata_key 'metadata'): its answer "
        'must end with a JSON object such as {"lead_score": 80}; it was '
        "'A good lead, I think.'"
    )
    drawing = app.drawing(started["run_id"])
    assert statuses(drawing)["lead_qualification"] == "failed"
    assert statuses(drawing)["web_development"] == "skipped"


# --- collaborative ------------------------------------------------------------------------


def test_collaborative_ends_by_handoff_and_the_named_agent_finishes(app: App) -> None:
    app.agent(
        scripted(
            "planner",
            [
                call("send_message", to="builder", type="request", content="Which stack?"),
                say("Plan: a landing page and a shop."),
            ],
        )
    )
    app.agent(
        scripted(
            "builder",
            [
                call("remember", key="stack", value="django"),
                call("handoff", to="planner", reason="the plan is settled"),
                say("Over to the planner."),
            ],
        )
    )
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "participating_agents": ["planner", "builder"],
            "workflow_config": {"max_rounds": 3},
            "input_data": {"message": "Build my bakery's site"},
        }
    )
    run_id = started["run_id"]
    done = app.finished(run_id)
    discussion = done["output"]["collaboration"]
    assert discussion["ended_by"] == "handoff" and discussion["turn"] == 2
    assert discussion["handoff"] == {
        "from": "builder",
        "to": "planner",
        "content": {"reason": "the plan is settled"},
    }
    assert [(t["agent"], t["text"]) for t in discussion["transcript"]] == [
        ("planner", "Plan: a landing page and a shop."),
        ("builder", "Over to the planner."),
    ]
    # the handoff node ran the planner again, on the discussion: its script starts over
    assert done["output"]["answer"] == "Plan: a landing page and a shop."

    messages = app.get(f"/runs/{run_id}/messages").json()["items"]
    assert [(m["from"], m["to"], m["type"]) for m in messages] == [
        ("planner", "builder", "request"),
        ("planner", "builder", "notification"),
        ("builder", "planner", "handoff"),
        ("builder", "planner", "notification"),
    ]
    memory = app.get(f"/memory/run/{run_id}/shared:stack")
    assert memory.status_code == 200, memory.text
    assert memory.json()["value"] == "django"

    drawing = app.drawing(run_id)
    assert statuses(drawing) == {
        "discussion": "succeeded",
        "route": "succeeded",
        "handoff": "succeeded",
        "round_limit": "skipped",
        "result": "succeeded",
    }
    loop = next(e for e in drawing["edges"] if e.get("loop"))
    assert loop["fired"] == 1 and loop["max_iterations"] == 6
    handoff = next(n for n in drawing["nodes"] if n["id"] == "handoff")
    assert handoff["agent"] == "planner"
    assert next(n for n in drawing["nodes"] if n["id"] == "discussion")["steps"] == 2


def test_collaborative_ends_at_the_round_limit_when_nobody_hands_off(app: App) -> None:
    app.agent(scripted("planner", [say("More research is needed.")]))
    app.agent(scripted("builder", [say("I agree, more research.")]))
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "participating_agents": ["planner", "builder"],
            "workflow_config": {"max_rounds": 2},
            "input_data": {"message": "Build my bakery's site"},
        }
    )
    done = app.finished(started["run_id"])
    discussion = done["output"]["collaboration"]
    assert discussion["ended_by"] == "round_limit" and discussion["handoff"] is None
    assert [t["agent"] for t in discussion["transcript"]] == [
        "planner",
        "builder",
        "planner",
        "builder",
    ]
    assert done["output"]["answer"] == (
        "No agent handed off within 2 rounds. The last word, from builder: I agree, more research."
    )
    drawing = app.drawing(started["run_id"])
    assert statuses(drawing) == {
        "discussion": "succeeded",
        "route": "succeeded",
        "handoff": "skipped",
        "round_limit": "succeeded",
        "result": "succeeded",
    }
    assert next(e for e in drawing["edges"] if e.get("loop"))["fired"] == 3


def test_a_handoff_posted_to_the_run_ends_the_discussion_too(app: App) -> None:
    app.agent(
        scripted(
            "planner",
            [call("workflows_test_risky", note="plan"), say("Planned.")],
            ["workflows_test_risky"],
        )
    )
    app.agent(scripted("builder", [say("Built it.")]))
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "participating_agents": ["planner", "builder"],
            "workflow_config": {"max_rounds": 5},
            "input_data": {"message": "Build it"},
        }
    )
    run_id = started["run_id"]
    waiting = app.get(f"/runs/{run_id}/wait", params=WAIT).json()
    assert waiting["status"] == "interrupted"  # the planner's turn waits for an approval
    sent = app.post(
        f"/runs/{run_id}/messages",
        {"from": "user", "to": "builder", "type": "handoff", "content": {"reason": "go"}},
    )
    assert sent.status_code == 201, sent.text
    question = waiting["pending_questions"][0]["interrupt_id"]
    answer = {"interrupt_id": question, "answer": "approve"}
    assert app.post(f"/sessions/{started['session_id']}/input", answer).status_code == 202
    done = app.finished(run_id)
    discussion = done["output"]["collaboration"]
    assert discussion["ended_by"] == "handoff" and discussion["turn"] == 1
    assert discussion["handoff"] == {"from": "user", "to": "builder", "content": {"reason": "go"}}
    assert done["output"]["answer"] == "Built it."
    assert statuses(app.drawing(run_id))["handoff"] == "succeeded"


# --- state: pause, resume, cancel -----------------------------------------------------------


def test_pause_resume_and_cancel_through_the_state_route(app: App) -> None:
    app.agent(
        scripted(
            "chat",
            [call("workflows_test_risky", note="x"), say("Done with the risky part.")],
            ["workflows_test_risky"],
        )
    )
    app.agent(scripted("recommendations", [say("Try the premium plan.")]))
    app.agent(scripted("lead_qualification", [say("Qualified.")]))
    started = app.execute({"workflow_type": "sequential", "input_data": {"message": "go"}})
    run_id, session_id = started["run_id"], started["session_id"]
    waiting = app.get(f"/runs/{run_id}/wait", params=WAIT).json()
    assert waiting["status"] == "interrupted"
    assert statuses(app.drawing(run_id))["chat"] == "waiting"

    paused = app.patch(f"/workflows/{run_id}/state", {"action": "pause"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    question = waiting["pending_questions"][0]["interrupt_id"]
    answered = app.post(
        f"/sessions/{session_id}/input", {"interrupt_id": question, "answer": "approve"}
    )
    assert answered.status_code == 202, answered.text
    assert app.get(f"/workflows/{run_id}").json()["status"] == "paused"  # answered, still paused

    resumed = app.patch(f"/workflows/{run_id}/state", {"action": "resume"})
    assert resumed.status_code == 200, resumed.text
    done = app.finished(run_id)
    assert done["output"]["answer"] == "Qualified."
    again = app.patch(f"/workflows/{run_id}/state", {"action": "resume"})
    assert "only a paused run can be resumed" in error_of(again, 409)

    second = app.execute({"workflow_type": "sequential", "input_data": {"message": "go"}})
    assert app.get(f"/runs/{second['run_id']}/wait", params=WAIT).json()["status"] == "interrupted"
    cancelled = app.patch(f"/workflows/{second['run_id']}/state", {"action": "cancel"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    drawing = app.drawing(second["run_id"])
    assert statuses(drawing)["recommendations"] == "cancelled"

    bad = app.patch(f"/workflows/{run_id}/state", {"action": "rewind"})
    assert bad.status_code == 422, bad.text


# --- the drawing over the WebSocket ---------------------------------------------------------


def test_the_visualization_is_pushed_over_the_websocket_until_the_end(app: App) -> None:
    app.agent(scripted("planner", [say("One.")]))
    app.agent(scripted("builder", [say("Two.")]))
    body = {
        "workflow_type": "collaborative",
        "participating_agents": ["planner", "builder"],
        "workflow_config": {"max_rounds": 1},
        "input_data": {"message": "go"},
    }
    started = app.execute(body)
    run_id = started["run_id"]
    actor = app.actor
    with actor.client.websocket_connect(f"/api/v1/ws?token={actor.access_token}") as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        ws.send_json(
            {"type": "workflow.subscribe", "id": "w", "data": {"app_id": app.id, "run_id": run_id}}
        )
        reply = ws.receive_json()
        assert reply["type"] == "subscribed" and reply["id"] == "w", reply
        drawings = []
        while True:
            message = ws.receive_json()
            assert message["type"] == "workflow.visualization", message
            assert message["subscription_id"] == reply["data"]["subscription_id"]
            drawings.append(message["data"])
            if message["data"]["status"] == "succeeded":
                break
    final = drawings[-1]
    assert final == app.drawing(run_id)
    assert statuses(final) == {
        "discussion": "succeeded",
        "route": "succeeded",
        "handoff": "skipped",
        "round_limit": "succeeded",
        "result": "succeeded",
    }
    for earlier, later in itertools.pairwise(drawings):
        assert earlier != later  # only changes are sent


def test_workflow_subscribe_to_another_apps_run_is_not_found(app: App, make_user: Any) -> None:
    app.agent(scripted("planner", [say("One.")]))
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "participating_agents": ["planner"],
            "workflow_config": {"max_rounds": 1},
            "input_data": {"message": "go"},
        }
    )
    mallory = make_user("mallory")
    other = mallory.create_app("other")
    with mallory.client.websocket_connect(f"/api/v1/ws?token={mallory.access_token}") as ws:
        ws.receive_json()
        ws.send_json(
            {
                "type": "workflow.subscribe",
                "data": {"app_id": other, "run_id": started["run_id"]},
            }
        )
        error = ws.receive_json()
    assert error["type"] == "error" and error["data"]["code"] == "not_found", error


# --- bad requests ---------------------------------------------------------------------------


def test_bad_workflow_requests_say_what_is_wrong(app: App, make_user: Any) -> None:
    def refused(body: dict[str, Any], status: int = 422) -> str:
        return error_of(app.post("/workflows/execute", body), status)

    message = {"message": "hi"}
    assert "workflow_type" in refused({"workflow_type": "parallel", "input_data": message})
    assert refused(
        {
            "workflow_type": "sequential",
            "participating_agents": ["chat", "nobody"],
            "input_data": message,
        }
    ).startswith("participating_agents: no agent named 'nobody' in this app; the agents are")
    assert refused({"workflow_type": "sequential", "input_data": {}}) == (
        'input_data needs a message (a non-empty string), e.g. {"message": "I need a website"}'
    )
    assert refused(
        {
            "workflow_type": "conditional",
            "participating_agents": ["lead_qualification", "chat"],
            "workflow_config": HIGH_RULES,
            "input_data": message,
        }
    ) == (
        "routing rule target 'web_development' is not one of participating_agents "
        "['lead_qualification', 'chat']"
    )
    assert (
        refused({"workflow_type": "conditional", "workflow_config": {}, "input_data": message})
        == "workflow_config of a conditional workflow: workflow_config.routing_rules: Field "
        "required"
    )
    assert refused(
        {
            "workflow_type": "conditional",
            "workflow_config": {
                "routing_rules": {
                    "conditions": [{"field": "score", "operator": "~", "next_agent": "chat"}]
                }
            },
            "input_data": message,
        }
    ).startswith("routing rule 1: operator '~' is unknown")
    assert refused(
        {
            "workflow_type": "collaborative",
            "workflow_config": {"max_rounds": 0},
            "input_data": message,
        }
    ) == (
        "workflow_config of a collaborative workflow: workflow_config.max_rounds: Input should "
        "be greater than or equal to 1"
    )
    assert (
        refused(
            {
                "workflow_type": "sequential",
                "participating_agents": ["chat", "chat"],
                "input_data": message,
            }
        )
        == "participating_agents names an agent more than once"
    )

    mallory = make_user("mallory")
    elsewhere = mallory.create_app("elsewhere")
    chat = mallory.post(f"/api/v1/apps/{elsewhere}/chat/messages", {"message": "secret"})
    assert chat.status_code in (200, 201, 202), chat.text
    assert refused(
        {
            "workflow_type": "sequential",
            "conversation_id": chat.json()["session_id"],
            "input_data": message,
        },
        404,
    ).startswith("session")
    assert error_of(app.get("/workflows/run_nothing"), 404)


def test_a_conversation_is_given_to_the_first_agent(app: App) -> None:
    chat = app.post("/chat/messages", {"message": "My bakery is in Lyon"})
    assert chat.status_code in (200, 201, 202), chat.text
    session_id = chat.json()["session_id"]
    app.agent({"name": "recommendations", "model": "offline/echo"})
    started = app.execute(
        {
            "workflow_type": "sequential",
            "conversation_id": session_id,
            "participating_agents": ["recommendations"],
            "input_data": {"message": "What do you suggest?"},
        }
    )
    assert started["conversation_id"] == session_id
    done = app.finished(started["run_id"])
    assert done["output"]["answer"].startswith(
        "The conversation so far:\nuser: My bakery is in Lyon\n"
    )
    assert done["output"]["answer"].endswith("What do you suggest?")
