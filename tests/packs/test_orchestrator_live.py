"""The orchestrator pack on a live `podium serve` (every backend, offline models): requests
planned into batches and run by the pack's directory agents, questions when the request is
vague or no agent can do a task (waiting across a restart), the WebSocket, the agent
directory's search route, and what bad input gets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from tests.packs.conftest import Client

CHAT, CONTINUE, STATUS = "/orchestrator/chat", "/orchestrator/continue", "/orchestrator/status"


@pytest.fixture
def orch(client: Client) -> Client:
    client.enable("orchestrator")
    return client


def pairs_of(answer: dict[str, Any]) -> list[tuple[str, str, str, int | None, str | None]]:
    return [
        (p["task_id"], p["task"], p["agent"], p["batch"], p["status"])
        for p in answer["task_agent_pairs"]
    ]


def stage_events(orch: Client, thread_id: str) -> list[dict[str, Any]]:
    page = orch.call("GET", f"/events?session_id={thread_id}&limit=1000")["items"]
    return [e for e in page if e["type"].startswith("orchestrator.")]


def test_a_two_task_request_runs_two_batches_and_returns_task_agent_pairs(
    orch: Client,
) -> None:
    prompt = "Find the weather in Paris, then translate it into French"
    answer = orch.call("POST", CHAT, {"prompt": prompt, "max_results": 3})
    assert answer["status"] == "completed", answer
    assert answer["question_for_user"] is None and answer["requires_user_input"] is False
    assert pairs_of(answer) == [
        ("t1", "Find the weather in Paris", "weather_agent", 0, "completed"),
        ("t2", "translate it into French", "translator", 1, "completed"),
    ]
    assert answer["batches"] == [["t1"], ["t2"]]
    weather, translation = answer["task_agent_pairs"]
    assert weather["matched"] == ["weather"] and translation["depends_on"] == ["t1"]
    assert set(translation["matched"]) == {"translate", "french"}
    assert "Sample forecast" in weather["answer"]
    final = answer["final_response"]
    assert final.startswith("2 task(s) done by translator, weather_agent:")
    assert "1. Find the weather in Paris — weather_agent: Sample forecast" in final
    assert "2. translate it into French — translator: Sample translation" in final

    # Every stage is an event of the thread, in the pipeline's order.
    kinds = [e["type"] for e in stage_events(orch, answer["thread_id"])]
    assert kinds == [
        "orchestrator.parsed",
        "orchestrator.capabilities",
        "orchestrator.candidates",
        "orchestrator.ranked",
        "orchestrator.planned",
        "orchestrator.batch.completed",
        "orchestrator.batch.completed",
        "orchestrator.completed",
    ]
    planned = next(e for e in stage_events(orch, answer["thread_id"]) if "planned" in e["type"])
    assert planned["data"]["batches"] == [
        [{"task_id": "t1", "task": "Find the weather in Paris", "agent": "weather_agent"}],
        [{"task_id": "t2", "task": "translate it into French", "agent": "translator"}],
    ]
    # The thread reads the same later.
    assert orch.call("GET", f"{STATUS}/{answer['thread_id']}") == answer


def test_independent_tasks_run_in_one_batch(orch: Client) -> None:
    answer = orch.call("POST", CHAT, {"prompt": "schedule a meeting and get the news headlines"})
    assert answer["status"] == "completed", answer
    assert [(p[2], p[3]) for p in pairs_of(answer)] == [
        ("meeting_scheduler", 0),
        ("news_agent", 0),
    ]
    assert answer["batches"] == [["t1", "t2"]]
    # Three built-in agents have scheduling tools: the alternatives, up to max_results.
    alternatives = answer["task_agent_pairs"][0]["alternatives"]
    assert set(alternatives) == {"web_development", "digital_marketing", "lead_qualification"}
    for max_results, count in ((2, 1), (1, 0)):
        body = {"prompt": "schedule a meeting", "max_results": max_results}
        narrow = orch.call("POST", CHAT, body)
        assert len(narrow["task_agent_pairs"][0]["alternatives"]) == count


def test_a_vague_request_asks_waits_across_a_restart_and_completes_after_continue(
    orch: Client,
) -> None:
    asked = orch.call("POST", CHAT, {"prompt": "help me"})
    assert asked["status"] == "pending_user_input" and asked["requires_user_input"] is True
    question = asked["question_for_user"]
    assert question.startswith("Your request “help me” does not say what to do.")
    assert asked["final_response"] is None and asked["task_agent_pairs"] == []

    orch.server.stop()
    orch.server.start()
    assert orch.call("GET", f"{STATUS}/{asked['thread_id']}") == asked

    answer = orch.call(
        "POST", CONTINUE, {"thread_id": asked["thread_id"], "response": "the weather in Rome"}
    )
    assert answer["status"] == "completed", answer
    assert pairs_of(answer) == [("t1", "the weather in Rome", "weather_agent", 0, "completed")]
    kinds = [e["type"] for e in stage_events(orch, asked["thread_id"])]
    assert kinds.count("orchestrator.question") == 1
    assert kinds.count("orchestrator.answered") == 1
    assert kinds.count("orchestrator.parsed") == 2  # the answer was parsed afresh


def test_a_capability_no_agent_has_asks_instead_of_guessing(orch: Client) -> None:
    asked = orch.call("POST", CHAT, {"prompt": "book a flight to Lisbon and get the news"})
    assert asked["status"] == "pending_user_input", asked
    assert asked["question_for_user"] == (
        "No agent in this app can do “book a flight to Lisbon”. Say it another way (what it "
        "is about), or answer “skip” to leave it out."
    )
    # Nothing ran: the matched task waits with the rest.
    assert [(p[2], p[4]) for p in pairs_of(asked)] == [("news_agent", None)]

    # Said another way, the task goes to the agent that can do it.
    answer = orch.call(
        "POST", CONTINUE, {"thread_id": asked["thread_id"], "response": "the weather in Lisbon"}
    )
    assert answer["status"] == "completed", answer
    assert [(p[1], p[2]) for p in pairs_of(answer)] == [
        ("the weather in Lisbon", "weather_agent"),
        ("get the news", "news_agent"),
    ]

    # Or left out.
    asked = orch.call("POST", CHAT, {"prompt": "book a flight to Lisbon"})
    answer = orch.call("POST", CONTINUE, {"thread_id": asked["thread_id"], "response": "skip"})
    assert answer["status"] == "completed" and answer["task_agent_pairs"] == []
    assert answer["final_response"] == (
        "No agent in this app could do this request.\n"
        "Left out, as you asked: book a flight to Lisbon"
    )


def test_bad_input_gets_a_clear_4xx(orch: Client) -> None:
    def error(method: str, path: str, body: Any = None) -> tuple[int, str]:
        status, answer = orch.request(method, path, body)
        return status, answer["error"]["message"]

    status, message = error("POST", CHAT, {"prompt": "   "})
    assert status == 400 and message.startswith("prompt is empty: say what you need")
    status, message = error("POST", CHAT, {"prompt": "weather", "max_results": 0})
    assert (status, message) == (
        400,
        "max_results is how many candidate agents to keep per task: from 1 to 20, not 0",
    )
    status, message = error("POST", CHAT, {"prompt": "weather", "max_results": 21})
    assert status == 422 and "PODIUM_ORCHESTRATOR_MAX_RESULTS" in message
    status, _ = error("POST", CHAT, {})
    assert status == 422
    status, _ = error("POST", CHAT, {"prompt": "weather", "extra": 1})
    assert status == 422

    status, message = error("GET", f"{STATUS}/ses_unknown")
    assert status == 404 and message.startswith("no orchestrator thread 'ses_unknown'")
    status, message = error("POST", CONTINUE, {"thread_id": "ses_unknown", "response": "x"})
    assert status == 404 and message.startswith("no orchestrator thread 'ses_unknown'")

    done = orch.call("POST", CHAT, {"prompt": "get the news"})
    assert done["status"] == "completed"
    status, message = error("POST", CONTINUE, {"thread_id": done["thread_id"], "response": "x"})
    assert status == 409
    assert message.startswith(
        f"orchestrator thread {done['thread_id']} has no question waiting for an answer "
        "(it is completed)"
    )
    asked = orch.call("POST", CHAT, {"prompt": "help"})
    status, message = error("POST", CONTINUE, {"thread_id": asked["thread_id"], "response": " "})
    assert status == 400 and message.startswith("response is empty")

    # A session of another flow is no orchestrator thread.
    other = orch.call("POST", "/sessions", {"flow": "hello", "input": {"name": "Ada"}})
    status, message = error("GET", f"{STATUS}/{other['id']}")
    assert status == 404 and message.startswith("no orchestrator thread")


def test_the_directory_search_ranks_the_weather_agent_first(orch: Client) -> None:
    found = orch.call("GET", "/agents/search?q=weather&k=3")
    assert found["query"] == "weather" and found["mode"] == "text"
    best = found["results"][0]
    assert best["agent"] == "weather_agent" and best["matched"] == ["weather"]
    assert best["source"] == "pack:orchestrator" and best["score"] > 0
    assert "matched weather" in best["reasons"]
    meeting = orch.call("GET", "/agents/search?q=schedule%20a%20meeting")["results"][0]
    assert meeting["agent"] == "meeting_scheduler"
    assert {"schedule", "meeting"} <= set(meeting["matched"])

    status, answer = orch.request("GET", "/agents/search?q=")
    assert status == 400 and answer["error"]["message"].startswith("q is empty")
    status, answer = orch.request("GET", "/agents/search?q=weather&k=0")
    assert status == 400 and "from 1 to 50, not 0" in answer["error"]["message"]
    status, answer = orch.request("GET", "/agents/search?q=weather&k=500")
    assert status == 422 and "PODIUM_AGENT_SEARCH_MAX_K" in answer["error"]["message"]


def test_a_disabled_pack_answers_404_saying_how_to_enable_it(orch: Client) -> None:
    orch.call("DELETE", "/packs/orchestrator")
    status, answer = orch.request("POST", CHAT, {"prompt": "weather"})
    assert status == 404
    assert answer["error"]["message"] == (
        f"pack 'orchestrator' is not enabled for this app; PUT /api/v1/apps/{orch.app_id}"
        "/packs/orchestrator"
    )


async def converse(orch: Client, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send each message and read until its `orchestrator.result` (or an error)."""
    url = orch.server.origin.replace("http", "ws") + f"/api/v1/ws?token={orch.token}"
    received: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv())["type"] == "connection.ready"
        for message in messages:
            data = dict(message["data"])
            if data.get("thread_id") == "<last>":
                data["thread_id"] = received[-1]["data"]["thread_id"]
            await ws.send(json.dumps({**message, "data": {"app_id": orch.app_id, **data}}))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                received.append(reply)
                if reply["type"] in ("orchestrator.result", "error"):
                    break
    return received


def test_the_websocket_starts_streams_and_continues_a_thread(orch: Client) -> None:
    received = asyncio.run(
        converse(
            orch,
            [
                {"type": "orchestrator.chat", "id": "1", "data": {"prompt": "help"}},
                {
                    "type": "orchestrator.continue",
                    "id": "2",
                    "data": {"thread_id": "<last>", "response": "summarize the news"},
                },
                {"type": "orchestrator.continue", "id": "3", "data": {"thread_id": "x"}},
            ],
        )
    )
    kinds = [m["type"] for m in received]
    first = kinds.index("orchestrator.result")
    assert kinds[0] == "orchestrator.accepted" and received[0]["id"] == "1"
    thread_id = received[0]["data"]["thread_id"]
    assert kinds[1:first] == [
        "orchestrator.parsed",
        "orchestrator.capabilities",
        "orchestrator.candidates",
        "orchestrator.ranked",
        "orchestrator.question",
    ]
    asked = received[first]["data"]  # the body POST …/chat answers
    assert asked["thread_id"] == thread_id and asked["status"] == "pending_user_input"
    assert asked["question_for_user"].startswith("Your request “help” does not say what to do")
    assert set(asked) == set(orch.call("GET", f"{STATUS}/{thread_id}"))
    assert received[first]["subscription_id"] == received[0]["data"]["subscription_id"]

    second = kinds.index("orchestrator.result", first + 1)
    assert kinds[first + 1] == "orchestrator.accepted" and received[first + 1]["id"] == "2"
    assert "orchestrator.answered" in kinds[first + 2 : second]
    assert kinds[second - 1] == "orchestrator.completed"
    done = received[second]["data"]
    assert done["status"] == "completed" and done["thread_id"] == thread_id
    assert [p["agent"] for p in done["task_agent_pairs"]] == ["summarizer"]

    assert received[-1]["type"] == "error" and received[-1]["id"] == "3"
    assert received[-1]["data"]["message"] == "response is required (a string)"


def test_the_websocket_refuses_an_app_that_has_not_enabled_the_pack(orch: Client) -> None:
    orch.call("DELETE", "/packs/orchestrator")
    [reply] = asyncio.run(
        converse(orch, [{"type": "orchestrator.chat", "data": {"prompt": "weather"}}])
    )
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"
    assert "pack 'orchestrator' is not enabled for this app" in reply["data"]["message"]


def test_a_long_task_is_searched_by_its_first_words(orch: Client) -> None:
    prompt = "find the weather in " + " ".join(f"place{n}" for n in range(400))
    answer = orch.call("POST", CHAT, {"prompt": prompt})
    assert answer["status"] == "completed", answer
    assert [p["agent"] for p in answer["task_agent_pairs"]] == ["weather_agent"]
