"""The orchestrator's parse with a model configured (not `offline/…`): the request goes to
the model once, as a recorded call, and its JSON task list is the plan; an answer that is no
task list falls back to the splitter. The model is the fake OpenAI server on loopback, the
server's default model (PODIUM_DEFAULT_MODEL); the sample agents stay on `offline/script`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.packs.conftest import Client

from support.fake_openai import FakeOpenAI


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-test") as fake:
        yield fake


@pytest.fixture
def pack_env(model: FakeOpenAI) -> dict[str, str]:
    return {
        "PODIUM_OPENAI_BASE_URL": model.base_url,
        "PODIUM_OPENAI_API_KEY": "sk-test",
        "PODIUM_DEFAULT_MODEL": "openai/gpt-test",
        "PODIUM_LLM_MAX_RETRIES": "0",
    }


def test_the_models_task_list_is_the_plan(client: Client, model: FakeOpenAI) -> None:
    client.enable("orchestrator")
    tasks = [
        {"text": "get the latest headlines", "depends_on_previous": False},
        {"text": "summarize the headlines", "depends_on_previous": True},
    ]
    model.reply_text(json.dumps({"tasks": tasks}))
    answer = client.call("POST", "/orchestrator/chat", {"prompt": "what happened today, briefly"})
    assert answer["status"] == "completed", answer
    assert [(p["task"], p["agent"], p["batch"]) for p in answer["task_agent_pairs"]] == [
        ("get the latest headlines", "news_agent", 0),
        ("summarize the headlines", "summarizer", 1),
    ]
    assert model.count == 1  # one parse; the agents ran offline
    [request] = model.requests
    asked = request.body["messages"][-1]
    assert asked == {"role": "user", "content": "what happened today, briefly"}
    assert "split a user's request into the tasks" in request.body["messages"][0]["content"]
    events = client.call("GET", f"/events?session_id={answer['thread_id']}")["items"]
    parsed = next(e for e in events if e["type"] == "orchestrator.parsed")
    assert parsed["data"]["mode"] == "model openai/gpt-test"


def test_an_answer_that_is_no_task_list_falls_back_to_the_splitter(
    client: Client, model: FakeOpenAI
) -> None:
    client.enable("orchestrator")
    model.reply_text("Sure! I would first check the weather.")
    answer = client.call(
        "POST", "/orchestrator/chat", {"prompt": "check the weather, then translate it"}
    )
    assert answer["status"] == "completed", answer
    assert [(p["agent"], p["batch"]) for p in answer["task_agent_pairs"]] == [
        ("weather_agent", 0),
        ("translator", 1),
    ]
    events = client.call("GET", f"/events?session_id={answer['thread_id']}")["items"]
    parsed = next(e for e in events if e["type"] == "orchestrator.parsed")
    assert parsed["data"]["mode"] == "split (the model's answer was not a task list)"
