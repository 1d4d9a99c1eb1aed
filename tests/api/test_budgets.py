"""Budgets over HTTP on every backend (docs/budgets.md, its example replayed as printed): a
token cap reached pauses the run with `budget.exceeded` and a decision; raising the cap goes
on without running any LLM call twice; cancel cancels; the usage per agent and per model;
bad caps and bad decisions are 422; another app's member sees 404."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.api.conftest import Actor, api_settings

from podium.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "budgets.md"
WAIT = {"timeout": 20}


def doc_blocks() -> list[Any]:
    return [
        json.loads(b) for b in re.findall(r"^```json\n(.*?)^```$", DOC.read_text(), re.S | re.M)
    ]


class App:
    def __init__(self, actor: Actor, name: str) -> None:
        self.actor = actor
        self.id = actor.create_app(name)
        self.base = f"/api/v1/apps/{self.id}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.actor.get(self.base + path, **kwargs)

    def post(self, path: str, body: Any = None) -> Any:
        return self.actor.post(self.base + path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.actor.client.put(self.base + path, json=body, headers=self.actor.headers)

    def setup(self, agent: dict[str, Any], flow: dict[str, Any]) -> None:
        created = self.post("/agents", agent)
        assert created.status_code == 201, created.text
        created = self.post("/flows", flow)
        assert created.status_code == 201, created.text

    def start(self, flow: str, message: str = "Write a haiku") -> dict[str, Any]:
        started = self.post("/sessions", {"flow": flow, "input": {"message": message}})
        assert started.status_code == 201, started.text
        return dict(started.json())

    def wait(self, run_id: str) -> dict[str, Any]:
        waited = self.get(f"/runs/{run_id}/wait", params=WAIT)
        assert waited.status_code == 200, waited.text
        return dict(waited.json())

    def events(self, run_id: str) -> list[dict[str, Any]]:
        page = self.get("/events", params={"run_id": run_id, "limit": 1000})
        assert page.status_code == 200, page.text
        return list(page.json()["items"])

    def answer(self, session: dict[str, Any], interrupt_id: str, answer: Any) -> Any:
        body = {"interrupt_id": interrupt_id, "answer": answer}
        return self.post(f"/sessions/{session['id']}/input", body)

    def usage(self, group_by: str) -> dict[str, Any]:
        got = self.get("/usage", params={"group_by": group_by})
        assert got.status_code == 200, got.text
        return dict(got.json())


@pytest.fixture
def api_config(database_url: str) -> Settings:
    # Per million tokens: a token in costs $1e-6, a token out $2e-6.
    return api_settings(
        database_url, model_prices={"offline/script": {"input": 1.0, "output": 2.0}}
    )


@pytest.fixture
def app(admin: Actor) -> App:
    return App(admin, "budgets")


def waiting_on_budget(app: App, session: dict[str, Any]) -> dict[str, Any]:
    run = app.wait(session["run_id"])
    assert run["status"] == "interrupted", run
    (question,) = run["pending_questions"]
    assert question["kind"] == "budget"
    return dict(question)


def test_the_docs_example_pauses_at_the_cap_and_a_raise_goes_on_without_repeating_a_call(
    app: App,
) -> None:
    agent, flow, decision = doc_blocks()
    app.setup(agent, flow)
    session = app.start("write")
    question = waiting_on_budget(app, session)
    exceeded = [e for e in app.events(session["run_id"]) if e["type"] == "budget.exceeded"]
    assert [e["data"] for e in exceeded] == [
        {"scope": "run", "max_tokens": 10, "used_tokens": 23, "agent": "writer", "node_id": "write"}
    ]
    assert question["question"].startswith(
        "The run's token budget is used up: 23 tokens used of its cap of 10, before agent "
        "'writer''s next LLM call."
    )
    assert app.usage("agent")["calls"] == 2  # up to the call that reached the cap, no other

    assert app.answer(session, question["interrupt_id"], decision).status_code == 202
    run = app.wait(session["run_id"])
    assert run["status"] == "succeeded", run
    state = app.get(f"/sessions/{session['id']}").json()["state"]
    assert state["answer"] == "An autumn haiku."
    # Three LLM calls in all, each run once: the two before the question were replayed.
    by_agent = app.usage("agent")
    assert [(i["agent"], i["calls"]) for i in by_agent["items"]] == [("writer", 3)]
    by_model = app.usage("model")
    assert [(i["model"], i["calls"]) for i in by_model["items"]] == [("offline/script", 3)]
    assert by_model["total_tokens"] == by_agent["total_tokens"] > 23
    (item,) = by_model["items"]
    cost = (item["input_tokens"] * 1.0 + item["output_tokens"] * 2.0) / 1e6
    assert item["estimated_cost"] == pytest.approx(cost)
    assert by_model["estimated_cost"] == by_agent["estimated_cost"] == pytest.approx(cost)
    types = [e["type"] for e in app.events(session["run_id"])]
    assert types.count("budget.exceeded") == 1 and types[-1] == "run.succeeded"
    assert types.count("tool.called") == 2  # the two tool calls, not repeated either


def test_cancel_as_the_decision_cancels_the_run(app: App) -> None:
    agent, flow, _ = doc_blocks()
    app.setup(agent, flow)
    session = app.start("write")
    question = waiting_on_budget(app, session)
    assert app.answer(session, question["interrupt_id"], {"action": "cancel"}).status_code == 202
    run = app.wait(session["run_id"])
    assert run["status"] == "cancelled", run
    assert app.usage("agent")["calls"] == 2
    assert "run.cancelled" in [e["type"] for e in app.events(session["run_id"])]


def test_the_app_cap_raised_through_its_route_and_resume(app: App) -> None:
    agent, flow, _ = doc_blocks()
    del agent["limits"]
    app.setup(agent, flow)
    put = app.put("/budget", {"max_tokens": 5})
    assert put.status_code == 200, put.text
    assert put.json() == {"scope": "app", "subject_id": app.id, "max_tokens": 5, "used_tokens": 0}
    session = app.start("write")
    question = waiting_on_budget(app, session)
    assert question["question"].startswith(
        "The app's token budget is used up: 5 tokens used of its cap of 5"
    )
    # Resumed with the cap as it is: still reached, so it asks again.
    assert app.answer(session, question["interrupt_id"], {"action": "resume"}).status_code == 202
    again = waiting_on_budget(app, session)
    assert again["interrupt_id"] != question["interrupt_id"]
    assert app.put("/budget", {"max_tokens": 10_000}).status_code == 200
    assert app.answer(session, again["interrupt_id"], {"action": "resume"}).status_code == 202
    assert app.wait(session["run_id"])["status"] == "succeeded"
    budget = app.get("/budget").json()
    assert budget["max_tokens"] == 10_000 and budget["used_tokens"] > 23
    assert app.usage("agent")["calls"] == 3


def test_a_session_cap(app: App) -> None:
    agent, flow, _ = doc_blocks()
    del agent["limits"]
    app.setup(agent, flow)
    session = app.start("write")
    assert app.wait(session["run_id"])["status"] == "succeeded"  # no cap yet
    put = app.put(f"/sessions/{session['id']}/budget", {"max_tokens": 20})
    assert put.status_code == 200, put.text
    assert put.json()["used_tokens"] > 20
    again = app.post(f"/sessions/{session['id']}/runs", {"input": {"message": "Another"}})
    assert again.status_code == 202, again.text
    question = waiting_on_budget(app, {**session, "run_id": again.json()["run_id"]})
    assert question["question"].startswith("The session's token budget is used up")
    assert app.usage("agent")["calls"] == 3  # the second run made no call


BAD_DECISIONS: list[tuple[Any, int, str]] = [
    (
        "raise",
        400,
        'a budget decision is an object such as {"action": "raise", "max_tokens": 5000}, '
        '{"action": "resume"} or {"action": "cancel"}',
    ),
    (
        {"action": "raise"},
        400,
        "the action 'raise' needs max_tokens, a whole number of at least 1 (got None)",
    ),
    (
        {"action": "raise", "max_tokens": 0},
        400,
        "the action 'raise' needs max_tokens, a whole number of at least 1 (got 0)",
    ),
    (
        {"action": "cancel", "max_tokens": 5},
        400,
        "max_tokens goes with the action 'raise', not 'cancel'",
    ),
    (
        {"action": "raise", "tokens": 5},
        400,
        "a budget decision has the keys action and max_tokens, not tokens",
    ),
    (
        {"action": "raise", "max_tokens": 2_000_000_000},
        422,
        "max_tokens 2000000000 is over the server cap of 1000000000 "
        "(PODIUM_MAX_BUDGET_TOKENS); ask for less in the decision, or have the operator raise "
        "the setting",
    ),
]


def test_a_bad_decision_is_refused_and_the_question_stays(app: App) -> None:
    agent, flow, decision = doc_blocks()
    app.setup(agent, flow)
    session = app.start("write")
    question = waiting_on_budget(app, session)
    for answer, status, message in BAD_DECISIONS:
        refused = app.answer(session, question["interrupt_id"], answer)
        assert refused.status_code == status, refused.text
        assert refused.json()["error"]["message"] == message
    assert waiting_on_budget(app, session)["interrupt_id"] == question["interrupt_id"]
    assert app.answer(session, question["interrupt_id"], decision).status_code == 202
    assert app.wait(session["run_id"])["status"] == "succeeded"


def test_bad_caps_are_422(app: App) -> None:
    for body, fragment in [
        ({"max_tokens": 0}, "greater than or equal to 1"),
        ({"max_tokens": "lots"}, "valid integer"),
        ({"max_tokens": True}, "valid integer"),
        ({"max_tokens": "5"}, "valid integer"),
        ({"tokens": 5}, "tokens"),
        (
            {"max_tokens": 2_000_000_000},
            "over the server cap of 1000000000 (PODIUM_MAX_BUDGET_TOKENS)",
        ),
    ]:
        refused = app.put("/budget", body)
        assert refused.status_code == 422, refused.text
        assert fragment in refused.text, refused.text
    assert app.get("/budget").json()["max_tokens"] is None
    agent, _, _ = doc_blocks()
    refused = app.post("/agents", {**agent, "limits": {"max_tokens": 2_000_000_000}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["message"].startswith(
        "limits.max_tokens 2000000000 is over the server cap of 1000000000 "
        "(PODIUM_MAX_BUDGET_TOKENS)"
    )
    refused = app.post("/agents", {**agent, "limits": {"max_tokens": 0}})
    assert refused.status_code == 422, refused.text
    assert "limits.max_tokens" in refused.json()["error"]["message"]
    assert app.get("/usage", params={"group_by": "user"}).status_code == 422
    assert app.get("/usage", params={"since": "inf"}).status_code == 422
    assert app.get("/usage", params={"since": -1}).status_code == 422


def test_another_apps_member_sees_nothing(app: App, make_user: Any) -> None:
    agent, flow, _ = doc_blocks()
    app.setup(agent, flow)
    session = app.start("write")
    waiting_on_budget(app, session)
    mallory = App(make_user("mallory"), "mallory")
    for method, path, body in [
        ("GET", "/usage", None),
        ("GET", "/budget", None),
        ("PUT", "/budget", {"max_tokens": 1}),
        ("GET", f"/sessions/{session['id']}/budget", None),
        ("PUT", f"/sessions/{session['id']}/budget", {"max_tokens": 1}),
    ]:
        url = f"/api/v1/apps/{app.id}{path}"
        response = mallory.actor.client.request(
            method, url, json=body, headers=mallory.actor.headers
        )
        assert response.status_code == 404, (path, response.text)
        # The same answer as for an app that does not exist: nothing of the app.
        assert response.json()["error"] == {
            "code": "not_found",
            "message": f"app {app.id!r} does not exist",
            "details": {},
        }
    # Her own app's routes do not reach the other app's session either.
    own = mallory.get(f"/sessions/{session['id']}/budget")
    assert own.status_code == 404
    assert mallory.put(f"/sessions/{session['id']}/budget", {"max_tokens": 1}).status_code == 404
    assert mallory.usage("agent")["items"] == []
    assert app.get("/budget").json()["max_tokens"] is None


def test_a_bad_price_table_is_refused_at_start(database_url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        api_settings(database_url, model_prices={"openai/gpt-4o": {"input": -1, "output": 2}})
    assert "model_prices.openai/gpt-4o.input" in str(refused.value)
    assert "greater than or equal to 0" in str(refused.value)
    with pytest.raises(ValidationError, match="extra"):
        api_settings(database_url, model_prices={"openai/gpt-4o": {"in": 1, "output": 2}})
