"""Node code's `ctx.memory` and `ctx.send_agent_message`: scope ids from the context, writes
seen at once, and every call recorded, so that a step run again after an answer neither
writes nor sends twice (counted in the event log)."""

from __future__ import annotations

from typing import Any

from podium import FlowBuilder, Podium
from podium.agents.messages import AgentMessageService
from podium.events import names
from podium.memory.service import MemoryService
from podium.storage.records import RunRecord
from support import memory_nodes


async def run_node(
    podium: Podium, function: Any, config: dict[str, Any] | None = None, **start: Any
) -> RunRecord:
    flow = FlowBuilder(function.__name__).node(
        "node",
        "python",
        {"function": f"support.memory_nodes:{function.__name__}", **(config or {})},
    )
    handle = await podium.start(flow.build(), {}, **start)
    return await podium.wait(handle.run_id, timeout=20)


async def output(podium: Podium, run: RunRecord) -> dict[str, Any]:
    """What the node returned: the session's state (its one node's output merged in)."""
    return (await podium.store.get_session(run.session_id)).state


async def events_of(podium: Podium, run: RunRecord, type: str) -> list[dict[str, Any]]:
    events = await podium.store.read_events(run.app_id, after=0)
    return [e.data for e in events if e.type == type]


async def test_each_scope_takes_its_id_from_the_context(podium: Podium) -> None:
    memory = MemoryService(podium.store)
    for scope in ("session", "run", "app"):
        run = await run_node(podium, memory_nodes.remember, {"scope": scope})
        assert run.status == "succeeded", run.error
        assert await output(podium, run) == {
            "value": {"text": "hi"},
            "missing": "fallback",
            "listed": {"greeting": {"text": "hi"}, "grocery": ["milk"]},
        }
        scope_id = {"session": run.session_id, "run": run.id, "app": run.app_id}[scope]
        entry = await memory.get(run.app_id, scope, scope_id, "greeting")
        assert entry.value == {"text": "hi"} and entry.expires_at is None
    updates = await events_of(podium, run, names.MEMORY_UPDATED)
    assert [u["scope"] for u in updates] == ["session"] * 2 + ["run"] * 2 + ["app"] * 2
    assert updates[-1]["actor"] == run.id


async def test_a_ttl_from_node_code(podium: Podium) -> None:
    run = await run_node(podium, memory_nodes.remember, {"scope": "app", "ttl": 60})
    assert run.status == "succeeded", run.error
    entry = await MemoryService(podium.store).get(run.app_id, "app", "-", "greeting")
    assert entry.expires_at is not None and entry.expires_at - entry.updated_at == 60


async def test_a_step_run_again_does_not_write_twice_and_reads_what_it_read(
    podium: Podium,
) -> None:
    memory = MemoryService(podium.store)
    run = await run_node(podium, memory_nodes.count_then_ask)
    assert run.status == "interrupted"
    # The write took effect at once: the step has not ended, others see it already.
    assert (await memory.get(run.app_id, "app", "-", "counter")).value == 1
    await memory.set(run.app_id, "app", "-", "counter", 100)  # another writer, meanwhile
    [question] = await podium.pending_questions(run.id)
    await podium.answer(question.id, "yes")
    run = await podium.wait(run.id, timeout=20)
    assert run.status == "succeeded", run.error
    # The first read returned what it returned the first time; the write was not made
    # again (it would have set 1); the read after the answer is a new call and sees 100.
    assert await output(podium, run) == {
        "before": 0,
        "after": 100,
        "answer": "yes",
        "deleted": True,
        "deleted_again": False,
    }
    ops = [u["op"] for u in await events_of(podium, run, names.MEMORY_UPDATED)]
    assert ops == ["set", "set", "delete"]  # the node's set, ours, the node's delete


async def test_the_user_scope_is_the_sessions_user(podium: Podium) -> None:
    run = await run_node(podium, memory_nodes.per_user, user_id="usr_ada")
    assert run.status == "succeeded", run.error
    entry = await MemoryService(podium.store).get(run.app_id, "user", "usr_ada", "theme")
    assert entry.value == "dark"
    anonymous = await run_node(podium, memory_nodes.per_user)
    assert anonymous.status == "failed"
    assert anonymous.error is not None
    assert "the user scope is the session's user" in anonymous.error
    assert f"session {anonymous.session_id} has none" in anonymous.error


async def test_agent_messages_from_node_code_are_sent_once(podium: Podium) -> None:
    run = await run_node(podium, memory_nodes.talk_then_ask)
    assert run.status == "interrupted"
    [question] = await podium.pending_questions(run.id)
    await podium.answer(question.id, "done")
    run = await podium.wait(run.id, timeout=20)
    assert run.status == "succeeded", run.error
    messages = AgentMessageService(podium.store)
    listed = await messages.messages(run.app_id, run.id)
    assert [(m.sender, m.recipient, m.type) for m in listed] == [
        ("node", "coder", "request"),  # the sender defaults to the node's id
        ("coder", "reviewer", "handoff"),
    ]
    state = await output(podium, run)
    assert state["request"]["id"] == listed[0].id  # the recorded answer, replayed
    assert state["request"]["content"] == {"task": "build it"}
    sent = await events_of(podium, run, names.AGENT_MESSAGE)
    assert [m["id"] for m in sent] == [m.id for m in listed]
    handoff = await messages.latest_handoff(run.app_id, run.id)
    assert handoff is not None and handoff.recipient == "reviewer"


async def test_an_unknown_message_type_fails_the_node_with_the_types(podium: Podium) -> None:
    run = await run_node(podium, memory_nodes.shout)
    assert run.status == "failed"
    assert run.error is not None
    assert "unknown agent message type 'shout'" in run.error
    assert "request, response, notification, handoff" in run.error
