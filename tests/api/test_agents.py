"""Agents over HTTP: the built-in agents, defining and versioning agents, generating them with
the creator, invoking them (JSON and SSE), who is busy, the tool-call log, chat sessions and
their history, the app's default model, and real model providers behind chat (the OpenAI and
Anthropic wire-protocol fakes on loopback)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.api.conftest import CHAIN_FLOW, Actor, api_settings
from tests.api.test_chat import sse_events

from podium.config import Settings
from podium.tools.base import tool
from support.fake_anthropic import FakeAnthropic
from support.fake_openai import FakeOpenAI

BUILTINS = [
    "chat",
    "creator",
    "digital_marketing",
    "driver",
    "generator",
    "lead_qualification",
    "recommendations",
    "web_development",
]
RELEASE = threading.Event()  # what `agents_test_wait` waits for


@tool(timeout=30)
def agents_test_wait(label: str) -> str:
    """Wait until the test lets it go (so the agent is caught mid-run).

    Args:
        label: Anything; it is echoed back.
    """
    RELEASE.wait(20)
    return f"released {label}"


@tool
async def agents_test_lookup(word: str) -> dict[str, Any]:
    """Look a word up.

    Args:
        word: The word.
    """
    return {"word": word, "meaning": f"the meaning of {word}"}


@tool
async def agents_test_fail(reason: str) -> str:
    """Always fails.

    Args:
        reason: Why it fails.
    """
    raise RuntimeError(f"failed because {reason}")


class App:
    """One app of one actor: its paths, and the calls the tests repeat."""

    def __init__(self, actor: Actor, app_id: str) -> None:
        self.actor = actor
        self.id = app_id
        self.base = f"/api/v1/apps/{app_id}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.actor.get(self.base + path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.actor.post(self.base + path, json, **kwargs)

    def put(self, path: str, json: Any = None) -> Any:
        return self.actor.client.put(self.base + path, json=json, headers=self.actor.headers)

    def delete(self, path: str) -> Any:
        return self.actor.delete(self.base + path)

    def define(self, definition: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/agents", definition)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def chat(self, message: str, agent: str = "chat", **extra: Any) -> dict[str, Any]:
        response = self.post("/chat/messages", {"agent": agent, "message": message, **extra})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def tool_calls(self, **query: Any) -> dict[str, Any]:
        response = self.get("/tool-calls", params=query)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def state(self, session_id: str) -> dict[str, Any]:
        return dict(self.get(f"/sessions/{session_id}").json()["state"])

    def stream(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        with self.actor.client.stream(
            "POST", self.base + path, json=body, headers={**self.actor.headers, **(headers or {})}
        ) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            return sse_events(response)


@pytest.fixture
def app(admin: Actor) -> App:
    return App(admin, admin.create_app("agents"))


def error_of(response: Any, status: int) -> str:
    """The error envelope's message, after checking the status and the envelope's shape."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}, error
    return str(error["message"])


def scripted(name: str, turns: list[dict[str, Any]], tools: list[str], **extra: Any) -> Any:
    """An agent on `offline/script` that plays `turns`."""
    return {"name": name, "model": "offline/script", "tools": tools, "script": turns, **extra}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """A script turn that calls one tool."""
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


# --- the catalogue and definitions ------------------------------------------------------------


def test_the_built_in_agents_are_listed_idle(app: App) -> None:
    listed = app.get("/agents")
    assert listed.status_code == 200, listed.text
    agents = {a["name"]: a for a in listed.json()}
    assert sorted(agents) == BUILTINS
    for agent in agents.values():
        assert agent["status"] == "idle" and agent["active_runs"] == [], agent
        assert agent["source"] == "builtin" and agent["version"] is None
        assert agent["definition"]["name"] == agent["name"] and agent["description"]
    assert agents["driver"]["definition"]["tools"] == ["delegate"]
    assert "crm_create_contact" in agents["lead_qualification"]["definition"]["tools"]

    one = app.get("/agents/lead_qualification")
    assert one.status_code == 200 and one.json() == agents["lead_qualification"]

    missing = app.get("/agents/nobody")
    assert error_of(missing, 404) == "no agent named 'nobody' in this app"
    assert missing.json()["error"]["code"] == "not_found"


def test_defining_an_agent_versions_it_when_it_changes(app: App) -> None:
    definition = {
        "name": "scout",
        "description": "Finds leads.",
        "instructions": "Find leads.",
        "tools": ["crm_search_contacts"],
        "capabilities": {"tags": ["sales"], "description": "Finds leads"},
        "max_turns": 3,
    }
    first = app.define(definition)
    assert (first["version"], first["source"], first["status"]) == (1, "app", "idle")
    assert first["definition"]["tools"] == ["crm_search_contacts"]
    assert first["definition"]["max_turns"] == 3

    changed = app.define({**definition, "instructions": "Find better leads."})
    assert changed["version"] == 2
    assert app.define({**definition, "instructions": "Find better leads."})["version"] == 2

    got = app.get("/agents/scout").json()
    assert got["version"] == 2 and got["definition"]["instructions"] == "Find better leads."
    names = [a["name"] for a in app.get("/agents").json()]
    assert names == sorted([*BUILTINS, "scout"])


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"tools": ["no_such_tool"]}, "tools: no tool named 'no_such_tool'"),
    ({"tools": ["mcp:nowhere"]}, "tools: no MCP server named 'nowhere'"),
    (
        {"name": "Bad Name"},
        "body.name: 'Bad Name' is not an agent name: lower-case letters, digits, '_' and '-', "
        "starting with a letter, at most 64 (e.g. 'support_bot')",
    ),
    (
        {"model": "gpt-4o"},
        "body.model: 'gpt-4o' is not a model reference `provider/model`, e.g. "
        "'ollama/llama3.2', 'openai/gpt-4o-mini' or 'offline/echo'",
    ),
    (
        {"model": "groq/llama-3"},
        "model: provider 'groq' is not configured in this app (known: "
        "['anthropic', 'glm', 'huggingface', 'mistral', 'offline', 'ollama', 'openai', "
        "'openrouter'])",
    ),
    ({"max_turns": 0}, "body.max_turns: Input should be greater than or equal to 1"),
    ({"surprise": True}, "body.surprise: Extra inputs are not permitted"),
]


def test_an_invalid_definition_is_422_saying_what_is_wrong(app: App) -> None:
    for change, words in INVALID:
        response = app.post("/agents", {"name": "broken", "instructions": "x", **change})
        message = error_of(response, 422)
        assert words in message, (change, message)
        assert response.json()["error"]["code"] == "invalid_input"
        assert response.json()["error"]["details"]["problems"], change
    unknown_tool = app.post("/agents", {"name": "broken", "tools": ["no_such_tool"]})
    assert error_of(unknown_tool, 422) == (
        "the agent definition is not valid: tools: no tool named 'no_such_tool'"
    )
    assert unknown_tool.json()["error"]["details"]["problems"] == [
        "tools: no tool named 'no_such_tool'"
    ]
    assert "broken" not in [a["name"] for a in app.get("/agents").json()]


# --- invoking ---------------------------------------------------------------------------------


def test_invoke_answers_the_task(app: App) -> None:
    response = app.post("/agents/chat/invoke", {"task": "What is Podium?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded" and body["answer"] == "What is Podium?"
    assert body["error"] is None and body["question"] is None
    assert body["session_id"].startswith("ses_") and body["run_id"].startswith("run_")

    unknown = app.post("/agents/nobody/invoke", {"task": "hi"})
    assert "no agent named 'nobody'" in error_of(unknown, 404)


def test_invoke_streams_server_sent_events(app: App) -> None:
    events = app.stream("/agents/generator/invoke", {"task": "write a haiku", "stream": True})
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "chat.started" and kinds[-1] == "done", kinds
    started, done = events[0][1], events[-1][1]
    assert done == {**started, "status": "succeeded"}
    deltas = [data["data"]["delta"] for kind, data in events if kind == "message.delta"]
    assert deltas == ["write ", "a ", "haiku"]
    created = [
        (i, data["data"]) for i, (kind, data) in enumerate(events) if kind == "message.created"
    ]
    assert [(m["role"], m["content"]) for _, m in created] == [
        ("user", "write a haiku"),
        ("assistant", "write a haiku"),
    ]
    answered, answer = created[-1]
    assert answer["agent"] == "generator" and answer["model"] == "offline/echo"
    assert kinds.index("message.delta") < answered < kinds.index("run.succeeded")
    assert kinds.index("run.succeeded") == len(kinds) - 2  # then `done`
    assert all(data["run_id"] == started["run_id"] for kind, data in events[1:-1])

    accepted = app.stream(
        "/agents/chat/invoke", {"task": "by header"}, {"Accept": "text/event-stream"}
    )
    assert accepted[-1] == ("done", {**accepted[0][1], "status": "succeeded"})
    assert [d["data"]["delta"] for k, d in accepted if k == "message.delta"] == ["by ", "header"]


def test_an_agent_at_work_is_busy_then_idle(app: App) -> None:
    app.define(
        scripted(
            "waiter", [call("agents_test_wait", label="x"), {"text": "done"}], ["agents_test_wait"]
        )
    )
    RELEASE.clear()
    try:
        with ThreadPoolExecutor(1) as pool:
            invoked = pool.submit(app.post, "/agents/waiter/invoke", {"task": "wait"})
            deadline = time.monotonic() + 10
            while True:
                waiter = app.get("/agents/waiter").json()
                if waiter["status"] == "busy" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            listed = {a["name"]: a for a in app.get("/agents").json()}
            RELEASE.set()
            answer = invoked.result(timeout=20)
    finally:
        RELEASE.set()
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["run_id"]
    assert answer.json()["answer"] == "done"
    assert waiter["status"] == "busy" and waiter["active_runs"] == [run_id], waiter
    assert listed["waiter"]["status"] == "busy" and listed["waiter"]["active_runs"] == [run_id]
    assert listed["chat"]["status"] == "idle"
    after = app.get("/agents/waiter").json()
    assert after["status"] == "idle" and after["active_runs"] == []


# --- generating agents --------------------------------------------------------------------------


def test_generate_with_no_configuration_stores_the_draft_and_it_chats(app: App) -> None:
    response = app.post(
        "/agents/generate",
        {
            "role": "Travel planner",
            "capabilities": ["flights", "hotels"],
            "reason": "customers ask for trips",
        },
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["name"], made["source"], made["version"]) == ("travel_planner", "app", 1)
    definition = made["definition"]
    assert definition["instructions"].startswith("You are a Travel planner.")
    assert "flights, hotels" in definition["instructions"]
    assert definition["capabilities"]["tags"] == ["flights", "hotels"]
    assert app.get("/agents/travel_planner").json()["version"] == 1

    again = app.post("/agents/generate", {"role": "Travel planner"})
    assert again.status_code == 201 and again.json()["name"] == "travel_planner_2"

    answer = app.chat("Plan a weekend in Lisbon", agent="travel_planner")
    assert answer["status"] == "succeeded" and answer["answer"] == "Plan a weekend in Lisbon"


def test_generate_checks_the_creators_answer(app: App) -> None:
    def creator_says(text: str) -> None:
        app.define({"name": "creator", "model": "offline/script", "script": [{"text": text}]})

    body = {"role": "Copy editor", "capabilities": ["grammar"], "reason": "typos"}
    creator_says("I would rather not design an agent today.")
    prose = app.post("/agents/generate", body)
    message = error_of(prose, 422)
    assert message.startswith("the creator's answer is not a valid agent definition"), message
    assert "holds no JSON object" in message

    creator_says(json.dumps({"name": "editor", "instructions": "Edit.", "max_turns": 0}))
    invalid = app.post("/agents/generate", body)
    message = error_of(invalid, 422)
    assert "creator's answer (agent definition) is not valid" in message, message
    assert "max_turns: Input should be greater than or equal to 1" in message
    assert invalid.json()["error"]["details"]["problems"] == [
        "max_turns: Input should be greater than or equal to 1"
    ]

    creator_says(json.dumps({"name": "chat", "instructions": "Impostor."}))
    builtin = app.post("/agents/generate", body)
    assert "'chat' is the name of a built-in agent" in error_of(builtin, 422)

    fenced = {
        "name": "copy_editor",
        "description": "Fixes typos.",
        "instructions": "You fix typos.",
        "capabilities": {"tags": ["grammar"], "description": "Grammar"},
    }
    creator_says(f"Here it is:\n```json\n{json.dumps(fenced, indent=2)}\n```\nEnjoy.")
    made = app.post("/agents/generate", body)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "copy_editor"
    assert made.json()["definition"]["instructions"] == "You fix typos."
    names = [a["name"] for a in app.get("/agents").json()]
    assert "copy_editor" in names and "editor" not in names


# --- chat sessions --------------------------------------------------------------------------------


def test_a_session_of_another_flow_is_not_a_chat(app: App) -> None:
    assert app.post("/flows", CHAIN_FLOW).status_code == 201
    session = app.post("/sessions", {"flow": "chain", "input": {}})
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]
    response = app.post("/chat/messages", {"session_id": session_id, "message": "hello?"})
    message = error_of(response, 400)
    assert message == (
        f"session {session_id} is a session of flow 'chain', not a chat; leave session_id "
        "out to start a chat"
    )


def test_history_has_a_limit_and_clearing_it_makes_the_agent_forget(app: App) -> None:
    turns = [{"text": "first answer"}, {"text": "second answer"}, {"text": "third answer"}]
    app.define(scripted("counter", turns, []))
    first = app.chat("one", agent="counter")
    session_id = first["session_id"]
    assert first["answer"] == "first answer"
    second = app.chat("two", agent="counter", session_id=session_id)
    assert second["answer"] == "second answer"  # it saw the first turn

    def history(limit: int | None = None) -> list[tuple[str, str]]:
        query = "" if limit is None else f"?limit={limit}"
        response = app.get(f"/chat/{session_id}/history{query}")
        assert response.status_code == 200, response.text
        return [(m["data"]["role"], m["data"]["content"]) for m in response.json()]

    assert history() == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
        ("assistant", "second answer"),
    ]
    assert history(3) == [
        ("assistant", "first answer"),
        ("user", "two"),
        ("assistant", "second answer"),
    ]
    assert app.get(f"/chat/{session_id}/history?limit=0").status_code == 422

    assert app.delete(f"/chat/{session_id}/history").status_code == 204
    assert history() == []
    assert app.state(session_id)["messages"] == []

    third = app.chat("three", agent="counter", session_id=session_id)
    assert third["answer"] == "first answer"  # the script starts over: no earlier turn seen
    assert history() == [("user", "three"), ("assistant", "first answer")]
    messages = app.state(session_id)["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "three"),
        ("assistant", "first answer"),
    ]
    missing = app.get("/chat/ses_nope/history")
    assert error_of(missing, 404) == "session 'ses_nope' does not exist"


def test_the_apps_default_model_serves_agents_that_name_none(app: App) -> None:
    assert app.get("/agents/health").json()["default_model"] == "offline/echo"
    app.define({"name": "plain", "script": [{"text": "played from the script"}]})
    assert app.chat("hello", agent="plain")["answer"] == "hello"  # offline/echo

    patched = app.actor.patch(app.base, {"default_model": "offline/script"})
    assert patched.status_code == 200 and patched.json()["default_model"] == "offline/script"
    assert app.get("/agents/health").json()["default_model"] == "offline/script"

    answer = app.chat("hello", agent="plain")
    assert answer["status"] == "succeeded" and answer["answer"] == "played from the script"
    created = app.get(f"/chat/{answer['session_id']}/history").json()[-1]["data"]
    assert created["model"] == "offline/script" and created["agent"] == "plain"

    # `chat` names no model either, and has no script to play.
    failed = app.chat("hello")
    assert failed["status"] == "failed" and "offline/script needs the agent's `script`" in (
        failed["error"] or ""
    )
    # An agent's own model still wins over the app's.
    app.define({"name": "echoer", "model": "offline/echo"})
    assert app.chat("mine", agent="echoer")["answer"] == "mine"


# --- the tool-call log ----------------------------------------------------------------------------


def test_tool_calls_are_logged_and_filtered(app: App) -> None:
    turns = [
        {
            "tool_calls": [
                {"name": "agents_test_lookup", "arguments": {"word": "podium"}},
                {"name": "agents_test_fail", "arguments": {"reason": "testing"}},
            ]
        },
        call("crm_create_contact", email="ada@example.com"),
        call("agents_test_wait", label="not allowed"),
        {"text": "all done"},
    ]
    tools = ["agents_test_lookup", "agents_test_fail", "crm_create_contact"]
    app.define(scripted("worker", turns, tools))
    run_id = app.chat("go", agent="worker")["run_id"]
    app.define(scripted("other", [call("agents_test_lookup", word="x"), {"text": "ok"}], tools))
    other_run = app.chat("go", agent="other")["run_id"]
    assert app.get("/tool-calls").json()["next_cursor"] is None

    mine = app.tool_calls(run_id=run_id)["items"]
    by_tool = {item["tool"]: item for item in mine}
    assert len(mine) == 4 and set(by_tool) == {*tools, "agents_test_wait"}
    lookup = by_tool["agents_test_lookup"]
    assert lookup["status"] == "ok" and lookup["error"] is None
    assert lookup["arguments"] == {"word": "podium"}
    assert lookup["result"] == {"word": "podium", "meaning": "the meaning of podium"}
    assert lookup["agent"] == "worker" and lookup["run_id"] == run_id
    assert lookup["duration_ms"] >= 0 and lookup["session_id"].startswith("ses_")
    failed = by_tool["agents_test_fail"]
    assert failed["status"] == "error" and failed["error"] == "RuntimeError: failed because testing"
    skipped = by_tool["crm_create_contact"]
    assert skipped["status"] == "skipped" and skipped["error"] == "hubspot not configured"
    refused = by_tool["agents_test_wait"]
    assert refused["status"] == "error"
    assert "'agents_test_wait' is not available to agent 'worker'" in refused["error"]

    def ids(**query: Any) -> list[str]:
        return [item["id"] for item in app.tool_calls(**query)["items"]]

    assert ids(agent="other") == ids(run_id=other_run) and len(ids(agent="other")) == 1
    assert len(ids(tool="agents_test_lookup")) == 2
    assert ids(tool="agents_test_lookup", agent="worker") == [lookup["id"]]
    assert ids(status="skipped") == [skipped["id"]]
    assert sorted(ids(status="error")) == sorted([failed["id"], refused["id"]])
    assert ids(run_id="run_nope") == []
    assert app.get("/tool-calls?status=broken").status_code == 422

    everything = ids()
    assert len(everything) == 5 and everything == sorted(everything)  # oldest first
    pages: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        page = app.tool_calls(limit=2, **({"cursor": cursor} if cursor else {}))
        pages += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == everything
    assert app.tool_calls(limit=5)["next_cursor"] is None  # a full last page has no next one


# --- real providers behind chat ------------------------------------------------------------------


class TestOpenAI:
    """Chat with `PODIUM_OPENAI_BASE_URL` pointing at the OpenAI fake."""

    @pytest.fixture
    def fake(self) -> Iterator[FakeOpenAI]:
        with FakeOpenAI(api_key="sk-test") as fake:
            yield fake

    @pytest.fixture
    def api_config(self, database_url: str, fake: FakeOpenAI) -> Settings:
        return api_settings(
            database_url,
            openai_base_url=fake.base_url,
            openai_api_key="sk-test",
            default_model="openai/gpt-test",
            llm_max_retries=0,
        )

    def test_chat_streams_the_models_tokens_and_runs_its_tool_calls(
        self, app: App, fake: FakeOpenAI
    ) -> None:
        app.define({"name": "helper", "model": "openai/gpt-test", "tools": ["agents_test_lookup"]})
        fake.reply_tool_calls([("agents_test_lookup", {"word": "durable"})])
        fake.reply_text("Durable means it lasts.")
        events = app.stream("/chat/stream", {"agent": "helper", "message": "What is durable?"})
        kinds = [kind for kind, _ in events]
        assert kinds[-1] == "done" and events[-1][1]["status"] == "succeeded", kinds
        deltas = [data["data"]["delta"] for kind, data in events if kind == "message.delta"]
        assert len(deltas) > 1 and "".join(deltas) == "Durable means it lasts."
        called = [data["data"] for kind, data in events if kind == "tool.called"]
        assert [(c["tool"], c["status"]) for c in called] == [("agents_test_lookup", "ok")]
        created = [data["data"] for kind, data in events if kind == "message.created"][-1]
        assert created["content"] == "Durable means it lasts."
        assert created["model"] == "openai/gpt-test"

        assert fake.count == 2
        first, second = fake.requests[0].body, fake.requests[1].body
        assert first["model"] == "gpt-test" and first["stream"] is True
        assert [t["function"]["name"] for t in first["tools"]] == ["agents_test_lookup"]
        assert fake.requests[0].headers["authorization"] == "Bearer sk-test"
        tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
        assert len(tool_messages) == 1
        assert json.loads(tool_messages[0]["content"]) == {
            "word": "durable",
            "meaning": "the meaning of durable",
        }
        asked = [m for m in second["messages"] if m["role"] == "assistant"][-1]
        assert asked["tool_calls"][0]["id"] == tool_messages[0]["tool_call_id"]

    def test_the_server_default_model_serves_chat(self, app: App, fake: FakeOpenAI) -> None:
        fake.reply_text("Hello from the fake.")
        answer = app.chat("hi")
        assert answer["status"] == "succeeded" and answer["answer"] == "Hello from the fake."
        assert fake.requests[0].body["model"] == "gpt-test"
        created = app.get(f"/chat/{answer['session_id']}/history").json()[-1]["data"]
        assert created["model"] == "openai/gpt-test"

    def test_a_provider_error_fails_the_chat_naming_provider_and_model(
        self, app: App, fake: FakeOpenAI
    ) -> None:
        fake.reply_error(500, "the fake is down")
        answer = app.chat("hi")
        assert answer["status"] == "failed" and answer["answer"] is None
        error = answer["error"] or ""
        assert "provider 'openai', model 'gpt-test'" in error, error
        # The status line, not the server's words (logged only: a body never comes back).
        assert error.endswith("(HTTP 500): Internal Server Error"), error
        assert "the fake is down" not in error
        assert fake.count == 1  # llm_max_retries=0: no retry


class TestAnthropic:
    """Chat with `PODIUM_ANTHROPIC_BASE_URL` pointing at the Anthropic fake."""

    @pytest.fixture
    def fake(self) -> Iterator[FakeAnthropic]:
        with FakeAnthropic(api_key="sk-ant-test") as fake:
            yield fake

    @pytest.fixture
    def api_config(self, database_url: str, fake: FakeAnthropic) -> Settings:
        return api_settings(
            database_url,
            anthropic_base_url=fake.base_url,
            anthropic_api_key="sk-ant-test",
            llm_max_retries=0,
        )

    def test_chat_streams_the_models_tokens_and_runs_its_tool_calls(
        self, app: App, fake: FakeAnthropic
    ) -> None:
        app.define(
            {"name": "helper", "model": "anthropic/claude-test", "tools": ["agents_test_lookup"]}
        )
        fake.reply_tool_calls([("agents_test_lookup", {"word": "claude"})], text="Looking.")
        fake.reply_text("Claude is a model.")
        events = app.stream("/chat/stream", {"agent": "helper", "message": "Who is Claude?"})
        kinds = [kind for kind, _ in events]
        assert kinds[-1] == "done" and events[-1][1]["status"] == "succeeded", kinds
        deltas = [data["data"]["delta"] for kind, data in events if kind == "message.delta"]
        assert "".join(deltas) == "Looking.Claude is a model."
        called = [data["data"] for kind, data in events if kind == "tool.called"]
        assert [(c["tool"], c["status"]) for c in called] == [("agents_test_lookup", "ok")]
        created = [data["data"] for kind, data in events if kind == "message.created"][-1]
        assert created["content"] == "Claude is a model."
        assert created["model"] == "anthropic/claude-test"

        assert fake.count == 2
        first, second = fake.requests[0].body, fake.requests[1].body
        assert first["model"] == "claude-test"
        assert [t["name"] for t in first["tools"]] == ["agents_test_lookup"]
        assert fake.requests[0].headers["x-api-key"] == "sk-ant-test"
        results = [
            block
            for m in second["messages"]
            if m["role"] == "user" and isinstance(m["content"], list)
            for block in m["content"]
            if block.get("type") == "tool_result"
        ]
        assert len(results) == 1 and results[0]["tool_use_id"] == "toolu_1"
        content = results[0]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        assert json.loads(text) == {"word": "claude", "meaning": "the meaning of claude"}

    def test_a_provider_error_fails_the_chat_naming_provider_and_model(
        self, app: App, fake: FakeAnthropic
    ) -> None:
        app.define({"name": "helper", "model": "anthropic/claude-test"})
        fake.reply_error(529, "overloaded right now")
        answer = app.chat("hi", agent="helper")
        assert answer["status"] == "failed"
        error = answer["error"] or ""
        assert "provider 'anthropic', model 'claude-test'" in error, error
        assert error.endswith("(HTTP 529): an error answer"), error
        assert "overloaded right now" not in error
