"""The built-in offline models over HTTP: `offline/script` turns checked when an agent is
saved, the docs' script example run as printed, and collaborative workflows whose messages
and events stay within their limits however many rounds and however long the answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tests.api.conftest import Actor
from tests.api.live import ROOT
from tests.api.test_workflows import App, call, say, scripted

from podium.agents.collaboration import (
    NOTIFICATION_CHARS,
    TRANSCRIPT_CHARS,
    TURN_CHARS,
    WINDOW_TURNS,
)
from podium.agents.messages import MAX_CONTENT_BYTES
from podium.config import Settings

AGENTS_DOC = ROOT / "docs" / "agents.md"


@pytest.fixture
def app(admin: Actor) -> App:
    return App(admin, "offline")


def events_of(app: App, session_id: str) -> list[dict[str, Any]]:
    page = app.get("/events", params={"session_id": session_id, "limit": 1000})
    assert page.status_code == 200, page.text
    body = page.json()
    return list(body["items"] if isinstance(body, dict) else body)


def size(value: Any) -> int:
    return len(json.dumps(value).encode())


# --- offline/script turns are checked ---------------------------------------------------------


@pytest.mark.parametrize(
    ("turns", "problem"),
    [
        (
            [{"text": "Hi"}, {"content": "Hello"}],
            "script: turn 1 has the unknown key 'content'; a turn's keys are text, tool_calls, "
            "metadata",
        ),
        ([{}], "script: turn 0 says nothing: give it at least one of text, tool_calls, metadata"),
        (
            [{"tool_calls": [{"name": "lookup", "args": {}}]}],
            "script: turn 0, tool call 0 has the unknown key 'args'; a tool call's keys are "
            "name, arguments",
        ),
    ],
)
def test_a_script_with_a_bad_turn_is_refused_and_nothing_is_stored(
    app: App, turns: list[Any], problem: str
) -> None:
    refused = app.post("/agents", {"name": "greeter", "model": "offline/script", "script": turns})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == f"the agent definition is not valid: {problem}"
    assert error["details"]["problems"] == [problem]
    assert app.get("/agents/greeter").status_code == 404


def test_a_turn_with_content_no_longer_plays_an_empty_answer(app: App) -> None:
    app.agent(scripted("greeter", [say("Hello!")]))  # the right key is accepted
    answer = app.post("/agents/greeter/invoke", {"task": "hi"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == "Hello!"


def doc_examples() -> list[dict[str, Any]]:
    text = AGENTS_DOC.read_text()
    match = re.search(r"^## Offline models\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "docs/agents.md has no '## Offline models' section"
    return [
        json.loads(block) for block in re.findall(r"^```json\n(.*?)^```$", match[1], re.S | re.M)
    ]


def test_the_docs_script_example_works_as_printed(app: App) -> None:
    agent, workflow = doc_examples()
    app.agent(agent)
    started = app.execute(workflow)
    done = app.finished(started["run_id"])
    assert done["output"]["metadata"] == {"lead_score": 85}
    message = workflow["input_data"]["message"]
    assert done["output"]["answer"] == (
        f"{message}\n\nscorer noted: A returning customer with a budget."
    )
    statuses = {n["id"]: n["status"] for n in app.drawing(started["run_id"])["nodes"]}
    assert statuses["web_development"] == "succeeded" and statuses["chat"] == "skipped"
    calls = app.get("/tool-calls", params={"run_id": started["run_id"]}).json()["items"]
    assert [(c["tool"], c["status"]) for c in calls] == [("crm_search_contacts", "skipped")]


# --- collaborative workflows stay within the limits ------------------------------------------


def test_many_rounds_on_the_echo_model_keep_every_message_and_event_small(app: App) -> None:
    settings = Settings()
    rounds = settings.max_rounds_cap  # the most a tenant may ask for
    message = "Plan my bakery's website. " + "We bake bread and cakes every day. " * 600
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "workflow_config": {"max_rounds": rounds},
            "input_data": {"message": message},
        }
    )
    # The longest run of this file (hundreds of turns): a busy 2-core CI machine may need
    # more than the usual wait.
    app.get(f"/runs/{started['run_id']}/wait", params={"timeout": 90})
    done = app.finished(started["run_id"])
    discussion = done["output"]["collaboration"]
    assert discussion["ended_by"] == "round_limit" and discussion["turn"] == rounds * 3
    # An echo answer is its turn (the task and who speaks), never the discussion again: the
    # last answer is as long as the first (give or take the names), not twice as long.
    lengths = [len(t["text"]) for t in discussion["transcript"]]
    assert max(lengths) - min(lengths) < 40, (min(lengths), max(lengths))
    assert f"({rounds * 3 - WINDOW_TURNS} earlier turns are not shown:" in discussion["digest"]

    sent = app.get(f"/runs/{started['run_id']}/messages", params={"limit": 500}).json()["items"]
    assert len(sent) == rounds * 3
    assert max(size(m["content"]) for m in sent) < MAX_CONTENT_BYTES
    events = events_of(app, started["session_id"])
    created = [e for e in events if e["type"] == "message.created"]
    assert len(created) == rounds * 3
    # Every event a step writes is under the event cap; the run's output (the state's
    # discussion, each answer kept up to TRANSCRIPT_CHARS) far under the state cap.
    assert max(size(e["data"]) for e in events if e["type"] != "run.succeeded") < (
        settings.max_event_bytes
    )
    assert all(len(t["text"]) <= TRANSCRIPT_CHARS + 40 for t in discussion["transcript"])
    assert size(done["output"]) < settings.max_state_bytes / 2


def test_long_answers_are_clipped_in_notifications_and_in_the_digest(app: App) -> None:
    long_answer = "The plan, in detail: " + "step after step. " * 6000  # ~100 KB
    app.agent(scripted("planner", [say(long_answer)]))
    app.agent(scripted("builder", [say("Built part of it.")]))
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "participating_agents": ["planner", "builder"],
            "workflow_config": {"max_rounds": 8},
            "input_data": {"message": "Build the shop"},
        }
    )
    # The longest run of this file (hundreds of turns): a busy 2-core CI machine may need
    # more than the usual wait.
    app.get(f"/runs/{started['run_id']}/wait", params={"timeout": 90})
    done = app.finished(started["run_id"])
    discussion = done["output"]["collaboration"]
    assert discussion["ended_by"] == "round_limit" and discussion["turn"] == 16
    # The transcript keeps each answer up to TRANSCRIPT_CHARS (the session's transcript has
    # it whole), the digest (what agents are shown) up to TURN_CHARS.
    kept = f"{long_answer[:TRANSCRIPT_CHARS]} … ({len(long_answer) - TRANSCRIPT_CHARS} more "
    kept += "characters)"
    assert [(t["text"], t["length"]) for t in discussion["transcript"]] == [
        (kept, len(long_answer)),
        ("Built part of it.", 17),
    ] * 8
    transcript = app.get(f"/sessions/{started['session_id']}/messages").json()
    assert [m["data"]["content"] for m in transcript if m["data"]["agent"] == "planner"] == [
        long_answer
    ] * 8
    clipped = f"{long_answer[:TURN_CHARS]} … ({len(long_answer) - TURN_CHARS} more characters)"
    assert discussion["digest"] == "\n".join(
        ["(10 earlier turns are not shown: planner 5, builder 5)"]
        + [f"[planner] {clipped}\n[builder] Built part of it."] * (WINDOW_TURNS // 2)
    )

    sent = app.get(f"/runs/{started['run_id']}/messages", params={"limit": 500}).json()["items"]
    from_planner = [m["content"]["text"] for m in sent if m["from"] == "planner"]
    tail = f" … ({len(long_answer) - NOTIFICATION_CHARS} more characters)"
    assert from_planner == [long_answer[:NOTIFICATION_CHARS] + tail] * 8
    assert max(size(m["content"]) for m in sent) < MAX_CONTENT_BYTES
    events = events_of(app, started["session_id"])
    # Each answer is an event of its own, under the cap; the run's output holds them all.
    assert max(size(e["data"]) for e in events if e["type"] != "run.succeeded") < 262_144


def test_the_agent_handed_the_task_finishes_on_the_digest(app: App) -> None:
    long_answer = "The plan, in detail: " + "step after step. " * 6000
    app.agent(scripted("planner", [say(long_answer)]))
    app.agent(scripted("builder", [call("handoff", to="reviewer", reason="check it")]))
    app.agent({"name": "reviewer", "model": "offline/echo"})  # answers with what it is given
    started = app.execute(
        {
            "workflow_type": "collaborative",
            "participating_agents": ["planner", "builder", "reviewer"],
            "input_data": {"message": "Build the shop"},
        }
    )
    done = app.finished(started["run_id"])
    assert done["output"]["collaboration"]["ended_by"] == "handoff"
    clipped = f"{long_answer[:TURN_CHARS]} … ({len(long_answer) - TURN_CHARS} more characters)"
    # the builder's turn was its handoff: its script then had no more turns to play
    assert done["output"]["answer"] == (
        f"Build the shop\n\nThe discussion:\n[planner] {clipped}\n[builder] (the script has no "
        "more turns)\n\nbuilder handed the task to you: check it. Finish it."
    )
