"""Pausing and resuming runs over HTTP: `POST /runs/{id}/pause` and `/resume`."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from tests.api.conftest import ASK_FLOW, CHAIN_FLOW, Actor

from podium.api.schemas import RunStatus
from podium.storage.records import RUN_STATUSES

WAIT = {"timeout": 20}


class App:
    def __init__(self, actor: Actor, app_id: str) -> None:
        self.actor = actor
        self.base = f"/api/v1/apps/{app_id}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.actor.get(self.base + path, **kwargs)

    def post(self, path: str, json: Any = None) -> Any:
        return self.actor.post(self.base + path, json)

    def start(self, flow: str) -> dict[str, Any]:
        response = self.post("/sessions", {"flow": flow, "input": {}})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def wait(self, run_id: str) -> dict[str, Any]:
        response = self.get(f"/runs/{run_id}/wait", params=WAIT)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def app(admin: Actor) -> App:
    app = App(admin, admin.create_app("pausing"))
    for flow in (ASK_FLOW, CHAIN_FLOW):
        assert app.post("/flows", flow).status_code == 201
    return app


def test_pause_a_waiting_run_answer_it_and_resume(app: App) -> None:
    session = app.start("ask")
    run_id = session["run_id"]
    assert app.wait(run_id)["status"] == "interrupted"

    paused = app.post(f"/runs/{run_id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert app.post(f"/runs/{run_id}/pause").json()["status"] == "paused"  # idempotent
    view = app.get(f"/sessions/{session['id']}").json()
    assert (view["status"], view["run_status"]) == ("waiting", "paused")
    waited = app.wait(run_id)  # a wait returns for a paused run, with its questions
    assert waited["status"] == "paused" and len(waited["pending_questions"]) == 1

    question = view["pending_question"]
    answer = {"interrupt_id": question["interrupt_id"], "answer": "Ada"}
    assert app.post(f"/sessions/{session['id']}/input", answer).status_code == 202
    assert app.get(f"/runs/{run_id}").json()["status"] == "paused"  # answered, still paused

    resumed = app.post(f"/runs/{run_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] in ("queued", "running", "succeeded")
    run = app.wait(run_id)
    assert run["status"] == "succeeded", run
    assert app.get(f"/sessions/{session['id']}").json()["state"]["greeting"] == "Hi Ada"
    types = [e["type"] for e in app.get("/events", params={"run_id": run_id}).json()["items"]]
    assert "run.paused" in types and types[-1] == "run.succeeded"


def test_resume_and_pause_of_an_ended_run_are_409(app: App) -> None:
    run_id = app.start("chain")["run_id"]
    assert app.wait(run_id)["status"] == "succeeded"
    resumed = app.post(f"/runs/{run_id}/resume")
    assert resumed.status_code == 409
    assert resumed.json()["error"]["message"] == (
        f"run {run_id} is succeeded, not paused; only a paused run can be resumed"
    )
    paused = app.post(f"/runs/{run_id}/pause")
    assert paused.status_code == 409
    assert paused.json()["error"]["message"] == (
        f"run {run_id} already ended (succeeded); there is nothing to pause"
    )


def test_a_paused_run_can_be_cancelled(app: App) -> None:
    session = app.start("ask")
    assert app.wait(session["run_id"])["status"] == "interrupted"
    assert app.post(f"/runs/{session['run_id']}/pause").json()["status"] == "paused"
    cancelled = app.post(f"/runs/{session['run_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert app.get(f"/sessions/{session['id']}").json()["status"] == "cancelled"


def test_viewers_may_not_pause_and_other_apps_get_404(app: App, make_user: Any) -> None:
    session = app.start("ask")
    run_id = session["run_id"]
    assert app.wait(run_id)["status"] == "interrupted"
    vera = make_user("vera")
    added = app.post("/members", {"user": vera.user["id"], "role": "viewer"})
    assert added.status_code == 201, added.text
    for action in ("pause", "resume"):
        assert vera.post(f"{app.base}/runs/{run_id}/{action}").status_code == 403
    bob = make_user("bob")
    theirs = App(bob, bob.create_app("bobs"))
    for action in ("pause", "resume"):
        response = theirs.post(f"/runs/{run_id}/{action}")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert bob.post(f"{app.base}/runs/{run_id}/{action}").status_code == 404
    assert app.get(f"/runs/{run_id}").json()["status"] == "interrupted"


def test_the_api_knows_every_run_status_the_store_has() -> None:
    assert sorted(get_args(RunStatus)) == sorted(RUN_STATUSES)
