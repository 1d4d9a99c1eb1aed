"""Sessions and runs over HTTP: start flows, read state and questions, answer, re-run, fork."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import ASK_FLOW, CHAIN_FLOW, Actor, _create_admin, api_settings, login
from tests.api.threaded_server import threaded_server

from podium.assembly import create_app
from podium.config import Settings

WAIT = "?timeout=20"
CHOICE_FLOW = {
    "name": "approve",
    "nodes": [
        {
            "id": "ask",
            "type": "human",
            "config": {
                "question": "Approve?",
                "choices": ["yes", "no"],
                "schema": {"type": "string"},
                "output_key": "decision",
            },
        },
        {
            "id": "note",
            "type": "template",
            "config": {"template": "decided {{ decision }}", "output_key": "note"},
        },
    ],
    "edges": [{"source": "ask", "target": "note"}],
}
# Two nodes that both read `name`: a fork after `first` with a patched name shows which ran.
TWO_STEP_FLOW = {
    "name": "two_step",
    "nodes": [
        {
            "id": "first",
            "type": "template",
            "config": {"template": "first:{{ name }}", "output_key": "first"},
        },
        {
            "id": "second",
            "type": "template",
            "config": {"template": "second:{{ name }}", "output_key": "second"},
        },
    ],
    "edges": [{"source": "first", "target": "second"}],
}


class App:
    """One app of one user, with the paths and calls the tests repeat."""

    def __init__(self, actor: Actor, app_id: str) -> None:
        self.actor = actor
        self.id = app_id
        self.base = f"/api/v1/apps/{app_id}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.actor.get(self.base + path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.actor.post(self.base + path, json, **kwargs)

    def register(self, flow: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/flows", flow)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def start(self, flow: str, run_input: dict[str, Any] | None = None, **extra: Any) -> Any:
        response = self.post("/sessions", {"flow": flow, "input": run_input or {}, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def wait(self, run_id: str) -> dict[str, Any]:
        response = self.get(f"/runs/{run_id}/wait{WAIT}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] not in ("queued", "running"), body
        return dict(body)

    def session(self, session_id: str) -> dict[str, Any]:
        response = self.get(f"/sessions/{session_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def waiting_session(self, flow: str = "ask") -> dict[str, Any]:
        """A session whose first run waits at its question."""
        created = self.start(flow)
        assert self.wait(created["run_id"])["status"] == "interrupted"
        return self.session(created["id"])

    def history(self, session_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/sessions/{session_id}/history")
        assert response.status_code == 200, response.text
        return list(response.json())


@pytest.fixture
def app(admin: Actor) -> App:
    app = App(admin, admin.create_app("main-app"))
    for flow in (ASK_FLOW, CHAIN_FLOW, CHOICE_FLOW, TWO_STEP_FLOW):
        app.register(flow)
    return app


# --- creating and reading sessions --------------------------------------------------------


def test_a_shipped_flow_runs_in_any_app_by_name(app: App) -> None:
    created = app.start("hello", {"name": "Ada"}, metadata={"channel": "web"})
    assert (
        created["flow"] == "hello"
        and created["run_id"]
        and created["metadata"] == {"channel": "web"}
    )
    run = app.wait(created["run_id"])
    assert run["status"] == "succeeded" and run["output"] == {"greeting": "Hello, Ada!"}
    session = app.session(created["id"])
    assert session["state"]["greeting"] == "Hello, Ada!"
    assert session["pending_question"] is None and session["run_id"] == created["run_id"]


def test_an_unknown_flow_is_404_with_what_to_do(app: App) -> None:
    response = app.post("/sessions", {"flow": "nope", "input": {}})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and "nope" in error["message"]
    assert "POST /flows" in error["message"]


def test_a_bad_flow_is_422_listing_every_problem(app: App) -> None:
    bad = {
        "name": "bad",
        "nodes": [
            {"id": "a", "type": "no_such_type", "config": {}},
            {"id": "b", "type": "template", "config": {"template": "x", "output_key": "x"}},
        ],
        "edges": [{"source": "b", "target": "ghost"}],
    }
    response = app.post("/flows", bad)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "flow_invalid"
    problems = error["details"]["problems"]
    assert len(problems) >= 2, problems
    assert any("no_such_type" in p for p in problems) and any("ghost" in p for p in problems)


def test_a_waiting_session_shows_its_question(app: App) -> None:
    session = app.waiting_session("approve")
    assert session["status"] == "waiting" and session["run_status"] == "interrupted"
    question = session["pending_question"]
    assert question["question"] == "Approve?" and question["choices"] == ["yes", "no"]
    assert question["schema"] == {"type": "string"}
    assert question["interrupt_id"].startswith("int_")


def test_wait_answers_with_the_session_once_its_run_has_ended(app: App) -> None:
    response = app.post("/sessions?wait=20", {"flow": "hello", "input": {"name": "Ada"}})
    assert response.status_code == 201, response.text
    session = response.json()
    assert (session["status"], session["run_status"]) == ("completed", "succeeded")
    assert session["state"]["greeting"] == "Hello, Ada!"
    assert session["pending_question"] is None
    assert app.session(session["id"]) == session


def test_wait_answers_at_a_question_with_it(app: App) -> None:
    response = app.post("/sessions?wait=20", {"flow": "approve", "input": {}})
    assert response.status_code == 201, response.text
    session = response.json()
    assert (session["status"], session["run_status"]) == ("waiting", "interrupted")
    assert session["pending_question"]["question"] == "Approve?"


@pytest.mark.parametrize(
    ("wait", "message"),
    [
        ("-1", "query.wait: Input should be greater than or equal to 0"),
        ("301", "query.wait: Input should be less than or equal to 300"),
        ("soon", "query.wait: Input should be a valid number"),
    ],
)
def test_a_bad_wait_is_422_and_creates_no_session(app: App, wait: str, message: str) -> None:
    before = app.get("/sessions").json()["items"]
    response = app.post(f"/sessions?wait={wait}", {"flow": "hello", "input": {}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["message"].startswith(message)
    assert app.get("/sessions").json()["items"] == before


def test_another_apps_session_is_404(app: App, make_user: Any) -> None:
    session = app.waiting_session()
    bob = make_user("bob")
    other = App(bob, bob.create_app("bob-app"))
    assert other.get(f"/sessions/{session['id']}").status_code == 404
    answer = {"interrupt_id": session["pending_question"]["interrupt_id"], "answer": "Eve"}
    assert other.post(f"/sessions/{session['id']}/input", answer).status_code == 404
    # The question is still pending for its own app.
    assert app.session(session["id"])["pending_question"] is not None


def test_listing_sessions_filters_and_pages_without_gaps_or_duplicates(
    app: App, make_user: Any
) -> None:
    done = [app.start("hello", {"name": f"n{i}"})["id"] for i in range(3)]
    for session_id in done:
        app.wait(app.session(session_id)["run_id"])
    waiting = [app.waiting_session()["id"] for _ in range(2)]
    every = set(done + waiting)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = app.get("/sessions", params=params).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert len(seen) == len(set(seen)) == 5 and set(seen) == every
    assert pages == 3
    created = [app.session(s)["created_at"] for s in seen]
    assert created == sorted(created, reverse=True)  # newest first

    def ids(**params: Any) -> set[str]:
        response = app.get("/sessions", params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids(flow="hello") == set(done)
    assert ids(flow="ask") == set(waiting)
    assert ids(status="waiting") == set(waiting)
    assert ids(status="waiting", flow="hello") == set()
    assert ids(user_id=app.actor.user["id"]) == every
    assert ids(user_id="usr_nobody") == set()
    response = app.get("/sessions", params={"status": "sleeping"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    response = app.get("/sessions", params={"cursor": "not-a-cursor"})
    assert response.status_code == 400 and "next_cursor" in response.json()["error"]["message"]


def test_messages_and_history(app: App) -> None:
    created = app.start("chain")
    app.wait(created["run_id"])
    messages = app.get(f"/sessions/{created['id']}/messages")
    assert messages.status_code == 200 and messages.json() == []
    history = app.history(created["id"])
    assert [step["node_id"] for step in history] == ["n0", "n1", "n2"]
    assert [step["output"] for step in history] == [{"visited": f"n{i}"} for i in range(3)]
    assert {step["run_id"] for step in history} == {created["run_id"]}
    assert all(step["status"] == "succeeded" for step in history)
    assert app.get("/sessions/ses_nope/history").status_code == 404
    assert app.get("/sessions/ses_nope/messages").status_code == 404


class TestTranscript:
    @pytest.fixture
    def api_config(self, database_url: str) -> Settings:
        return api_settings(database_url, api_python_modules=["support.messages"])

    def test_messages_are_the_sessions_message_created_events(self, app: App) -> None:
        def say(node_id: str, text: str) -> dict[str, Any]:
            config = {"function": "support.messages:say", "text": text}
            return {"id": node_id, "type": "python", "config": config}

        app.register(
            {
                "name": "talk",
                "nodes": [
                    say("hello", "Hello {name}"),
                    {"id": "ask", "type": "human", "config": {"question": "More?"}},
                    say("bye", "Bye {name}: {answer}"),
                ],
                "edges": [
                    {"source": "hello", "target": "ask"},
                    {"source": "ask", "target": "bye"},
                ],
            }
        )
        quiet = app.start("hello")
        created = app.start("talk", {"name": "Ada"})
        run = app.wait(created["run_id"])
        path = f"/sessions/{created['id']}/messages"
        assert [m["data"]["content"] for m in app.get(path).json()] == ["Hello Ada"]
        question = run["pending_questions"][0]
        answer = {"interrupt_id": question["interrupt_id"], "answer": "no"}
        assert app.post(f"/sessions/{created['id']}/input", answer).status_code == 202
        app.wait(created["run_id"])
        messages = app.get(path).json()
        assert [m["data"]["content"] for m in messages] == ["Hello Ada", "Bye Ada: no"]
        assert {m["type"] for m in messages} == {"message.created"}
        assert {m["session_id"] for m in messages} == {created["id"]}
        assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
        assert [m["data"]["content"] for m in app.get(path, params={"limit": 1}).json()] == [
            "Hello Ada"
        ]
        assert app.get(f"/sessions/{quiet['id']}/messages").json() == []


# --- answering --------------------------------------------------------------------------


def test_an_answer_resumes_the_run_and_a_second_answer_is_409(app: App) -> None:
    session = app.waiting_session()
    question = session["pending_question"]
    path = f"/sessions/{session['id']}/input"
    response = app.post(path, {"interrupt_id": question["interrupt_id"], "answer": "Ada"})
    assert response.status_code == 202, response.text
    assert response.json()["run_id"] == question["run_id"]
    run = app.wait(question["run_id"])
    assert run["status"] == "succeeded"
    assert app.session(session["id"])["state"]["greeting"] == "Hi Ada"
    again = app.post(path, {"interrupt_id": question["interrupt_id"], "answer": "Eve"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert app.session(session["id"])["state"]["greeting"] == "Hi Ada"


def test_an_answer_outside_the_choices_is_400_and_the_question_stays(app: App) -> None:
    session = app.waiting_session("approve")
    question = session["pending_question"]
    path = f"/sessions/{session['id']}/input"
    wrong = app.post(path, {"interrupt_id": question["interrupt_id"], "answer": "maybe"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["choices"] == ["yes", "no"]
    assert (
        app.session(session["id"])["pending_question"]["interrupt_id"] == question["interrupt_id"]
    )
    right = app.post(path, {"interrupt_id": question["interrupt_id"], "answer": "yes"})
    assert right.status_code == 202
    assert app.wait(question["run_id"])["status"] == "succeeded"
    assert app.session(session["id"])["state"]["note"] == "decided yes"


def test_an_answer_to_an_unknown_question_is_404(app: App) -> None:
    session = app.waiting_session()
    response = app.post(
        f"/sessions/{session['id']}/input", {"interrupt_id": "int_nope", "answer": "x"}
    )
    assert response.status_code == 404


@pytest.fixture
def live_config(database_url: str) -> Settings:
    return api_settings(database_url)


def test_two_concurrent_answers_exactly_one_wins(live_config: Settings) -> None:
    """Two clients answer the same question at the same moment over real HTTP: one is
    accepted, the other gets 409, and the run continues with the accepted answer."""
    rounds = 4
    with threaded_server(live_config) as server:
        owner = server.login("owner")
        app_id = owner.create_app("race")
        base = f"/api/v1/apps/{app_id}"
        with owner.client() as client:
            assert client.post(f"{base}/flows", json=ASK_FLOW).status_code == 201
            questions = []
            for _ in range(rounds):
                created = client.post(f"{base}/sessions", json={"flow": "ask"}).json()
                run = client.get(f"{base}/runs/{created['run_id']}/wait{WAIT}").json()
                assert run["status"] == "interrupted", run
                questions.append((created["id"], run["pending_questions"][0]["interrupt_id"]))

        barrier = threading.Barrier(2, timeout=10)

        def answer(session_id: str, interrupt_id: str, name: str) -> tuple[int, str]:
            with owner.client() as client:
                path = f"{base}/sessions/{session_id}/input"
                body = {"interrupt_id": interrupt_id, "answer": name}
                barrier.wait()
                response = client.post(path, json=body)
                return response.status_code, name

        with ThreadPoolExecutor(2) as pool, owner.client() as client:
            for session_id, interrupt_id in questions:
                futures = [
                    pool.submit(answer, session_id, interrupt_id, name) for name in ("Ada", "Eve")
                ]
                results = sorted(f.result(timeout=30) for f in futures)
                assert sorted(status for status, _ in results) == [202, 409], results
                winner = next(name for status, name in results if status == 202)
                session = client.get(f"{base}/sessions/{session_id}").json()
                client.get(f"{base}/runs/{session['run_id']}/wait{WAIT}")
                session = client.get(f"{base}/sessions/{session_id}").json()
                assert session["status"] != "waiting"
                assert session["state"]["greeting"] == f"Hi {winner}"
                history = client.get(f"{base}/sessions/{session_id}/history").json()
                greets = [s for s in history if s["node_id"] == "greet"]
                assert len(greets) == 1  # the run continued once, not once per answer


# --- more runs on a session -------------------------------------------------------------


def test_reject_is_409_while_a_run_waits_for_an_answer(app: App) -> None:
    session = app.waiting_session()
    response = app.post(
        f"/sessions/{session['id']}/runs", {"input": {}, "multitask_strategy": "reject"}
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict" and error["details"]["active_run_id"] == session["run_id"]
    # With nothing active, reject queues the run.
    done = app.start("hello")
    app.wait(done["run_id"])
    again = app.post(f"/sessions/{done['id']}/runs", {"multitask_strategy": "reject"})
    assert again.status_code == 202
    assert app.wait(again.json()["run_id"])["status"] == "succeeded"


def test_enqueue_waits_for_the_active_run_to_finish(app: App) -> None:
    session = app.waiting_session()
    first = session["run_id"]
    response = app.post(f"/sessions/{session['id']}/runs", {"input": {"extra": 1}})
    assert response.status_code == 202, response.text
    second = response.json()["run_id"]
    assert app.get(f"/runs/{second}").json()["status"] == "queued"  # behind the waiting one
    interrupt_id = session["pending_question"]["interrupt_id"]
    answered = app.post(
        f"/sessions/{session['id']}/input", {"interrupt_id": interrupt_id, "answer": "Ada"}
    )
    assert answered.status_code == 202
    # The answered run goes on first; the queued one runs after it (to its own question).
    assert app.wait(first)["status"] == "succeeded"
    second_run = app.wait(second)
    assert second_run["status"] == "interrupted"
    assert second_run["started_at"] >= app.get(f"/runs/{first}").json()["ended_at"]
    assert app.session(session["id"])["state"]["extra"] == 1


def test_interrupt_cancels_the_active_run(app: App) -> None:
    session = app.waiting_session()
    old_question = session["pending_question"]
    response = app.post(f"/sessions/{session['id']}/runs", {"multitask_strategy": "interrupt"})
    assert response.status_code == 202, response.text
    new_run = response.json()["run_id"]
    assert app.get(f"/runs/{session['run_id']}").json()["status"] == "cancelled"
    assert app.wait(new_run)["status"] == "interrupted"
    now = app.session(session["id"])
    assert now["run_id"] == new_run
    assert now["pending_question"]["interrupt_id"] != old_question["interrupt_id"]
    stale = app.post(
        f"/sessions/{session['id']}/input",
        {"interrupt_id": old_question["interrupt_id"], "answer": "late"},
    )
    assert stale.status_code == 409


def test_an_unknown_strategy_is_422(app: App) -> None:
    session = app.waiting_session()
    response = app.post(f"/sessions/{session['id']}/runs", {"multitask_strategy": "maybe"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["problems"]
    assert "multitask_strategy" in error["message"]


def test_cancel_and_complete(app: App) -> None:
    session = app.waiting_session()
    busy = app.post(f"/sessions/{session['id']}/complete")
    assert busy.status_code == 409
    assert busy.json()["error"]["details"]["active_run_id"] == session["run_id"]
    cancelled = app.post(f"/sessions/{session['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["pending_question"] is None
    assert app.get(f"/runs/{session['run_id']}").json()["status"] == "cancelled"
    completed = app.post(f"/sessions/{session['id']}/complete")
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    assert app.session(session["id"])["status"] == "completed"


# --- runs -------------------------------------------------------------------------------


def test_a_run_shows_its_steps(app: App) -> None:
    created = app.start("chain")
    app.wait(created["run_id"])
    run = app.get(f"/runs/{created['run_id']}").json()
    assert run["status"] == "succeeded" and run["session_id"] == created["id"]
    assert [s["node_id"] for s in run["steps"]] == ["n0", "n1", "n2"]
    assert run["steps_count"] == 3 and run["pending_questions"] == []
    assert app.get("/runs/run_nope").status_code == 404


def test_wait_returns_at_a_question_with_it(app: App) -> None:
    created = app.start("approve")
    run = app.wait(created["run_id"])
    assert run["status"] == "interrupted"
    assert [q["question"] for q in run["pending_questions"]] == ["Approve?"]


def test_wait_returns_the_still_active_run_at_the_timeout(api_config: Settings) -> None:
    # No workers: the run stays queued, so the wait can only end by its timeout.
    with TestClient(create_app(api_config, workers=0)) as client:
        client.portal.call(_create_admin, client, "root")  # type: ignore[union-attr]
        root = login(client, "root")
        app = App(root, root.create_app("idle"))
        created = app.start("hello")
        response = app.get(f"/runs/{created['run_id']}/wait", params={"timeout": 0.3})
        assert response.status_code == 200
        assert response.json()["status"] == "queued"
        too_long = app.get(f"/runs/{created['run_id']}/wait", params={"timeout": 301})
        assert too_long.status_code == 422
        # Creating a session with a wait answers at the timeout too, the run still queued.
        waited = app.post("/sessions?wait=0.3", {"flow": "hello", "input": {}})
        assert waited.status_code == 201
        assert (waited.json()["status"], waited.json()["run_status"]) == ("active", "queued")


def test_cancel_a_run(app: App) -> None:
    session = app.waiting_session()
    response = app.post(f"/runs/{session['run_id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert app.session(session["id"])["status"] == "cancelled"
    again = app.post(f"/runs/{session['run_id']}/cancel")
    assert again.status_code == 409


def test_partial_re_execution_with_cached_outputs(app: App) -> None:
    created = app.start("two_step", {"name": "Ada"})
    app.wait(created["run_id"])
    response = app.post(
        f"/sessions/{created['id']}/runs",
        {
            "input": {"name": "Bob"},
            "trigger_node_id": "second",
            "cached_outputs": {"first": {"first": "cached"}},
        },
    )
    assert response.status_code == 202, response.text
    rerun = response.json()["run_id"]
    assert app.wait(rerun)["status"] == "succeeded"
    state = app.session(created["id"])["state"]
    assert state["first"] == "cached" and state["second"] == "second:Bob"
    steps = {s["node_id"]: s["status"] for s in app.get(f"/runs/{rerun}").json()["steps"]}
    assert steps == {"first": "cached", "second": "succeeded"}


def test_partial_re_execution_from_an_earlier_run(app: App) -> None:
    created = app.start("two_step", {"name": "Ada"})
    app.wait(created["run_id"])
    response = app.post(
        f"/sessions/{created['id']}/runs",
        {"input": {"name": "Bob"}, "trigger_node_id": "second", "from_run_id": created["run_id"]},
    )
    assert response.status_code == 202, response.text
    assert app.wait(response.json()["run_id"])["status"] == "succeeded"
    state = app.session(created["id"])["state"]
    assert state["first"] == "first:Ada" and state["second"] == "second:Bob"
    ran = Counter(s["node_id"] for s in app.history(created["id"]) if s["status"] == "succeeded")
    assert ran == {"first": 1, "second": 2}
    # cached outputs without a trigger say what is missing
    bad = app.post(f"/sessions/{created['id']}/runs", {"from_run_id": created["run_id"]})
    assert bad.status_code == 400 and "trigger_node_id" in bad.json()["error"]["message"]


def test_fork_from_a_step_with_a_merge_patch(app: App) -> None:
    created = app.start("two_step", {"name": "Ada", "profile": {"tier": "free", "drop": 1}})
    app.wait(created["run_id"])
    steps = app.get(f"/runs/{created['run_id']}").json()["steps"]
    first = next(s for s in steps if s["node_id"] == "first")
    response = app.post(
        f"/runs/{created['run_id']}/fork",
        {
            "step_id": first["id"],
            "state_patch": {"name": "Bob", "profile": {"tier": "pro", "drop": None}},
        },
    )
    assert response.status_code == 202, response.text
    forked = response.json()
    assert forked["session_id"] == created["id"] and forked["run_id"] != created["run_id"]
    assert app.wait(forked["run_id"])["status"] == "succeeded"
    state = app.session(created["id"])["state"]
    assert state == {
        "name": "Bob",
        "profile": {"tier": "pro"},  # RFC 7396: null removes a key, objects merge
        "first": "first:Ada",  # finished before the fork's step: not run again
        "second": "second:Bob",
    }
    ran = Counter(s["node_id"] for s in app.history(created["id"]) if s["status"] == "succeeded")
    assert ran == {"first": 1, "second": 2}
    missing = app.post(f"/runs/{created['run_id']}/fork", {"step_id": "stp_nope"})
    assert missing.status_code == 404


def test_fork_from_the_first_step_of_a_chain(app: App) -> None:
    created = app.start("chain")
    app.wait(created["run_id"])
    steps = app.get(f"/runs/{created['run_id']}").json()["steps"]
    response = app.post(
        f"/runs/{created['run_id']}/fork", {"step_id": steps[0]["id"], "state_patch": {"k": 1}}
    )
    assert response.status_code == 202, response.text
    assert app.wait(response.json()["run_id"])["status"] == "succeeded"
    # As of n0 the state was visited [n0]; n1 and n2 ran again and appended.
    assert app.session(created["id"])["state"] == {"visited": ["n0", "n1", "n2"], "k": 1}
    ran = Counter(s["node_id"] for s in app.history(created["id"]) if s["status"] == "succeeded")
    assert ran == {"n0": 1, "n1": 2, "n2": 2}


def test_validation_errors_are_the_invalid_input_envelope(app: App) -> None:
    response = app.post("/sessions", {"flow": "hello", "input": "not an object"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith("body.input")
    assert [p["field"] for p in error["details"]["problems"]] == ["body.input"]
    unknown = app.post("/sessions", {"flow": "hello", "surprise": True})
    assert unknown.status_code == 422 and "surprise" in unknown.json()["error"]["message"]
