"""The session tools in the durable loop, on every backend: artifacts of the session read and
patched, memory read and written, agent messages sent, `ask_user` answered without repeating
what came before; the allow-list, another app's ids, and the caps."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.agents.test_loop import ModelSpy, keys, tool_log
from tests.conftest import fast_settings

from podium import Podium
from podium.engine.flow import Flow
from podium.llm.base import DeltaSink, ModelRequest, ModelResponse
from podium.llm.offline import OfflineProvider
from podium.memory.service import MemoryService
from podium.storage.agent_messages import MessageFilter, list_messages
from podium.storage.agents import save_agent
from podium.storage.records import RunRecord
from podium.tools.base import DEFAULT, ToolContext
from podium.tools.session import TOOLS, read_memory

NODES = "support.session_tool_nodes"


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Podium]:
    settings = fast_settings()
    async with Podium.open(database_url, settings=settings, workers=1, migrate=False) as opened:
        yield opened


@pytest.fixture
async def app_id(runtime: Podium) -> str:
    return await runtime.default_app()


@pytest.fixture
def model_spy(monkeypatch: pytest.MonkeyPatch) -> ModelSpy:
    found = ModelSpy()
    complete = OfflineProvider.complete

    async def recording(
        self: OfflineProvider, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse:
        found.requests.append(request)
        return await complete(self, request, on_delta)

    monkeypatch.setattr(OfflineProvider, "complete", recording)
    return found


async def define(runtime: Podium, app_id: str, name: str, turns: list[Any]) -> None:
    tools = sorted({c["name"] for turn in turns for c in turn.get("tool_calls", [])})
    definition = {"name": name, "model": "offline/script", "tools": tools, "script": turns}
    await runtime.store.run_script(lambda: save_agent(app_id, name, definition, None, time.time()))


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments} for name, arguments in pairs]}


def agent_flow(agent: str, state: dict[str, Any] | None = None) -> Flow:
    """An artifact made in the session, then the agent."""
    make: dict[str, Any] = {"function": f"{NODES}:make_artifact"}
    if state is not None:
        make["state"] = state
    return Flow.model_validate(
        {
            "name": f"with_{agent}",
            "nodes": [
                {"id": "make", "type": "python", "config": make},
                {"id": "agent", "type": "agent", "config": {"agent": agent, "input": "go"}},
            ],
            "edges": [{"source": "make", "target": "agent"}],
        }
    )


async def run_flow(runtime: Podium, flow: Flow, app_id: str | None = None) -> RunRecord:
    handle = await runtime.start(flow, {}, app_id=app_id)
    return await runtime.wait(handle.run_id, timeout=30)


async def tool_results(runtime: Podium, app_id: str, run: RunRecord) -> list[tuple[str, Any]]:
    return [
        (r.tool, r.result if r.status == "ok" else r.error)
        for r in await tool_log(runtime, app_id, run.id)
    ]


def test_the_session_tools_are_registered_with_capped_arguments() -> None:
    assert [t.name for t in TOOLS] == [
        "list_artifacts",
        "read_artifact",
        "patch_artifact",
        "read_memory",
        "list_memory",
        "write_memory",
        "send_agent_message",
        "ask_user",
    ]
    for item in TOOLS:
        assert DEFAULT.get(item.name) is item and item.tags == ("session",)
    question = DEFAULT.get("ask_user")
    assert question is not None
    assert question.parameters["properties"]["question"]["maxLength"] == 2000


async def session_with_artifact(
    runtime: Podium, app_id: str, agent: str, state: dict[str, Any] | None = None
) -> tuple[str, str]:
    """A session whose first run made an artifact (the agent just said ok): (session, id)."""
    await define(runtime, app_id, agent, [{"text": "ok"}])
    run = await run_flow(runtime, agent_flow(agent, state))
    assert run.status == "succeeded", run.error
    session = await runtime.store.get_session(run.session_id)
    return run.session_id, str(session.state["artifact_id"])


async def again(runtime: Podium, session_id: str) -> RunRecord:
    """The session's flow once more (it makes another artifact, then runs the agent)."""
    run_id = await runtime.rerun(session_id, {})
    return await runtime.wait(run_id, timeout=30)


async def test_an_agent_lists_reads_and_patches_its_sessions_artifacts(
    runtime: Podium, app_id: str
) -> None:
    session_id, artifact_id = await session_with_artifact(runtime, app_id, "builder")
    await define(
        runtime,
        app_id,
        "builder",
        [
            calls(("list_artifacts", {})),
            calls(("read_artifact", {"artifact_id": artifact_id, "keys": ["title"]})),
            calls(
                (
                    "patch_artifact",
                    {"artifact_id": artifact_id, "patch": {"progress": 50}, "expected_version": 1},
                )
            ),
            calls(
                (
                    "patch_artifact",
                    {"artifact_id": artifact_id, "patch": {"progress": 60}, "expected_version": 1},
                )
            ),
            {"text": "half way"},
        ],
    )
    run = await again(runtime, session_id)
    assert run.status == "succeeded", run.error
    results = await tool_results(runtime, app_id, run)
    listed = results[0][1]
    assert [a["type"] for a in listed["artifacts"]] == ["Tracker", "Tracker"]  # this run made one
    assert listed["artifacts"][0] == {"id": artifact_id, "type": "Tracker", "version": 1}
    assert results[1:3] == [
        (
            "read_artifact",
            {
                "id": artifact_id,
                "type": "Tracker",
                "version": 1,
                "state": {"title": "Landing page"},
            },
        ),
        ("patch_artifact", {"id": artifact_id, "version": 2}),
    ]
    assert results[3][0] == "patch_artifact" and "version" in results[3][1].lower()
    stored = await runtime.store.run_read(lambda: _artifact(app_id, artifact_id))
    assert (stored.version, stored.state) == (2, {"title": "Landing page", "progress": 50})
    assert stored.updated_at >= stored.created_at


def _artifact(app_id: str, artifact_id: str) -> Any:
    from podium.storage.artifacts import get_artifact

    return get_artifact(app_id, artifact_id)


async def test_another_apps_artifact_is_not_found(runtime: Podium, app_id: str) -> None:
    other_app = await runtime.store.ensure_app("other")
    await define(runtime, other_app, "keeper", [{"text": "ok"}])
    foreign_run = await run_flow(runtime, agent_flow("keeper"), other_app)
    assert foreign_run.status == "succeeded", foreign_run.error
    foreign = (await runtime.store.get_session(foreign_run.session_id)).state["artifact_id"]

    # an agent of this app that is given the id: not in its session
    await define(
        runtime,
        app_id,
        "thief",
        [
            calls(("read_artifact", {"artifact_id": foreign})),
            calls(("patch_artifact", {"artifact_id": foreign, "patch": {"stolen": True}})),
            {"text": "nothing"},
        ],
    )
    run = await run_flow(runtime, agent_flow("thief"), app_id)
    assert run.status == "succeeded", run.error
    errors = [error for _, error in await tool_results(runtime, app_id, run)]
    own = (await runtime.store.get_session(run.session_id)).state["artifact_id"]
    assert (
        errors
        == [
            f"ValueError: artifact '{foreign}' is not found in this session; its artifacts are "
            f"['{own}'] (list_artifacts describes them)"
        ]
        * 2
    )
    # and the access below the tools answers not found too, whatever ids it is handed
    probe = Flow.model_validate(
        {
            "name": "probe",
            "nodes": [
                {
                    "id": "probe",
                    "type": "python",
                    "config": {"function": f"{NODES}:reach_foreign", "foreign": foreign},
                }
            ],
            "edges": [],
        }
    )
    probed = await run_flow(runtime, probe, app_id)
    assert probed.status == "succeeded", probed.error
    state = (await runtime.store.get_session(probed.session_id)).state
    assert state["errors"] == [f"artifact {foreign!r} does not exist"] * 2
    untouched = await runtime.store.run_read(lambda: _artifact(other_app, foreign))
    assert untouched.version == 1 and "stolen" not in untouched.state


async def test_ask_user_waits_and_resumes_without_repeating_what_came_before(
    runtime: Podium, app_id: str, model_spy: ModelSpy
) -> None:
    await define(
        runtime,
        app_id,
        "asker",
        [
            calls(
                ("write_memory", {"key": "step", "value": 1}),
                ("ask_user", {"question": "Which colour?", "choices": ["red", "blue"]}),
            ),
            calls(("write_memory", {"key": "step", "value": 2})),
            calls(("read_memory", {"key": "step"})),  # (calls of one answer run concurrently)
            {"text": "done"},
        ],
    )
    run = await run_flow(runtime, agent_flow("asker"), app_id)
    assert run.status == "interrupted", run.error
    [question] = await runtime.pending_questions(run.id)
    assert (question.question, question.choices) == ("Which colour?", ["red", "blue"])
    memory = MemoryService(runtime.store)
    # the question comes first: the answer's other calls wait for it
    assert await memory.find(app_id, "session", run.session_id, "step") is None
    assert len(model_spy.by_model("script")) == 1

    await runtime.answer(question.id, "blue")
    done = await runtime.wait(run.id, timeout=30)
    assert done.status == "succeeded", done.error
    # turn 0's model call was replayed, not made again; turns 1 to 3 are new
    requests = model_spy.by_model("script")
    assert [sum(m.role == "assistant" for m in r.messages) for r in requests] == [0, 1, 2, 3]
    results = await tool_results(runtime, app_id, done)
    assert results == [  # by call key: t0.0 (written after the answer), t0.1, t1.0, t2.0
        ("write_memory", {"key": "step", "scope": "session", "written": True}),
        ("ask_user", {"question": "Which colour?", "answer": "blue"}),
        ("write_memory", {"key": "step", "scope": "session", "written": True}),
        ("read_memory", {"key": "step", "scope": "session", "found": True, "value": 2}),
    ]
    entry = await memory.find(app_id, "session", run.session_id, "step")
    assert entry is not None and entry.value == 2  # the second write was made, not replayed
    assert {"asker.t0.1.ask", "asker.llm0", "asker.llm1"} <= set(await keys(runtime, run.id))


async def test_memory_scopes_and_agent_messages(runtime: Podium, app_id: str) -> None:
    await define(
        runtime,
        app_id,
        "keeper",
        [
            calls(
                ("write_memory", {"key": "plan.a", "value": {"x": 1}, "scope": "app"}),
                ("write_memory", {"key": "plan.b", "value": [1, 2], "scope": "app"}),
                ("write_memory", {"key": "note", "value": "kept", "scope": "run"}),
            ),
            calls(
                ("list_memory", {"prefix": "plan.", "scope": "app"}),
                ("read_memory", {"key": "who", "scope": "user"}),
                ("send_agent_message", {"to": "scout", "type": "request", "content": {"q": 1}}),
            ),
            calls(("write_memory", {"key": "plan.a", "value": None, "scope": "app"})),
            calls(("read_memory", {"key": "plan.a", "scope": "app"})),
            {"text": "ok"},
        ],
    )
    run = await run_flow(runtime, agent_flow("keeper"), app_id)
    assert run.status == "succeeded", run.error
    results = await tool_results(runtime, app_id, run)
    assert results[3] == (
        "list_memory",
        {"scope": "app", "entries": {"plan.a": {"x": 1}, "plan.b": [1, 2]}},
    )
    assert results[4][1].startswith("InvalidInput: the user scope is the session's user")
    assert results[5][0] == "send_agent_message" and results[5][1]["to"] == "scout"
    assert results[6] == ("write_memory", {"key": "plan.a", "scope": "app", "deleted": True})
    assert results[7] == (
        "read_memory",
        {"key": "plan.a", "scope": "app", "found": False, "value": None},
    )
    memory = MemoryService(runtime.store)
    note = await memory.find(app_id, "run", run.id, "note")
    assert note is not None and note.value == "kept"
    [message] = await runtime.store.run_read(
        lambda: list_messages(app_id, run.id, MessageFilter(), 10, None)
    )
    assert (message.sender, message.recipient, message.type, message.content) == (
        "keeper",
        "scout",
        "request",
        {"q": 1},
    )


async def test_session_tools_are_only_the_agents_it_lists(runtime: Podium, app_id: str) -> None:
    definition = {
        "name": "plain",
        "model": "offline/script",
        "tools": [],
        "script": [calls(("read_memory", {"key": "x"})), {"text": "ok"}],
    }
    await runtime.store.run_script(
        lambda: save_agent(app_id, "plain", definition, None, time.time())
    )
    run = await run_flow(runtime, agent_flow("plain"), app_id)
    assert run.status == "succeeded", run.error
    [(_, error)] = await tool_results(runtime, app_id, run)
    assert error == "tool 'read_memory' is not available to agent 'plain'; its tools are []"


async def test_outside_a_run_a_session_tool_says_so() -> None:
    outcome = await read_memory.execute(json.dumps({"key": "x"}), ToolContext(app_id="app_x"))
    assert (outcome.status, outcome.error) == (
        "error",
        "ValueError: this tool works only inside a run of a session (an agent or a tool node)",
    )


async def test_the_caps_of_what_a_call_reads_and_writes(runtime: Podium, app_id: str) -> None:
    big = {"title": "x", "body": "y" * 40_000}
    session_id, artifact_id = await session_with_artifact(runtime, app_id, "reader", big)
    await define(
        runtime,
        app_id,
        "reader",
        [
            calls(
                ("read_artifact", {"artifact_id": artifact_id}),
                ("read_artifact", {"artifact_id": artifact_id, "keys": ["title"]}),
                ("patch_artifact", {"artifact_id": artifact_id, "patch": {"z": "z" * 70_000}}),
                ("ask_user", {"question": "?" * 2001}),
                ("write_memory", {"key": "bad key!", "value": 1}),
            ),
            {"text": "ok"},
        ],
    )
    run = await again(runtime, session_id)
    assert run.status == "succeeded", run.error
    results = dict(enumerate(r for _, r in await tool_results(runtime, app_id, run)))
    # (the log is ordered by call key: t0.0 … t0.4)
    assert results[0].startswith(f"ValueError: artifact {artifact_id}'s state is ")
    assert results[0].endswith(
        "over the 32768 a call may hold; read some of its keys (['body', 'title']) with `keys`"
    )
    assert results[1]["state"] == {"title": "x"}
    assert (
        results[2].startswith("ValueError: the patch is ") and "send a smaller change" in results[2]
    )
    assert results[3].startswith(
        "bad arguments for ask_user: question: String should have at most 2000"
    )
    assert results[4].startswith("bad arguments for write_memory: key: String should match pattern")
    assert await runtime.pending_questions(run.id) == []
