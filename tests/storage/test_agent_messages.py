"""Agent messages' transactions on every backend: stored with their event, listed in order
with filters and a cursor, the latest of a type, another app's run not found."""

from __future__ import annotations

from typing import Any

import pytest

from podium.errors import NotFound
from podium.events import names
from podium.storage import agent_messages as tx
from podium.storage.agent_messages import AgentMessageRecord, MessageFilter
from podium.storage.store import Store

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}


async def run_of(store: Store, app_name: str) -> tuple[str, str, str]:
    app_id = await store.ensure_app(app_name)
    flow = await store.save_flow(app_id, FLOW)
    session_id, run_id = await store.start_session(app_id, flow.id, {})
    return app_id, session_id, run_id


async def send(
    store: Store, app_id: str, run_id: str, sender: str | None, to: str, type: str, now: float
) -> tuple[AgentMessageRecord, list[Any]]:
    result: tuple[AgentMessageRecord, list[Any]] = await store.run_script(
        lambda: tx.send_message(app_id, run_id, sender, to, type, {"n": now}, now)
    )
    return result


async def listed(
    store: Store, app_id: str, run_id: str, *, limit: int = 100, after: str | None = None, **f: Any
) -> list[str]:
    records = await store.run_read(
        lambda: tx.list_messages(app_id, run_id, MessageFilter(**f), limit, after)
    )
    return [f"{r.sender}>{r.recipient}:{r.type}" for r in records]


async def test_a_message_is_stored_with_its_agent_message_event(store: Store) -> None:
    app_id, session_id, run_id = await run_of(store, "a")
    record, events = await send(store, app_id, run_id, "planner", "coder", "request", 1.0)
    assert record.id.startswith("msg_") and record.session_id == session_id
    [event] = events
    assert (event.type, event.session_id, event.run_id) == (
        names.AGENT_MESSAGE,
        session_id,
        run_id,
    )
    assert event.data == {
        "id": record.id,
        "from": "planner",
        "to": "coder",
        "type": "request",
        "content": {"n": 1.0},
    }
    [logged] = [e for e in await store.read_events(app_id) if e.type == names.AGENT_MESSAGE]
    assert logged.data == event.data


async def test_messages_are_listed_in_order_filtered_and_by_page(store: Store) -> None:
    app_id, _, run_id = await run_of(store, "a")
    _, _, other_run = await run_of(store, "a")
    sent = [
        ("planner", "coder", "request"),
        ("coder", "planner", "response"),
        (None, "reviewer", "notification"),
        ("coder", "reviewer", "handoff"),
    ]
    for number, (sender, to, type) in enumerate(sent):
        await send(store, app_id, run_id, sender, to, type, 10.0 + number)
    await send(store, app_id, other_run, "planner", "coder", "request", 20.0)
    everything = [f"{s}>{t}:{k}" for s, t, k in sent]
    assert await listed(store, app_id, run_id) == everything
    assert await listed(store, app_id, run_id, agent="planner") == everything[:2]
    assert await listed(store, app_id, run_id, agent="reviewer") == everything[2:]
    assert await listed(store, app_id, run_id, type="handoff") == everything[3:]
    assert await listed(store, app_id, run_id, agent="coder", type="response") == [everything[1]]
    records = await store.run_read(
        lambda: tx.list_messages(app_id, run_id, MessageFilter(), 3, None)
    )
    rest = await listed(store, app_id, run_id, after=records[-1].id)
    assert rest == everything[3:]


async def test_the_latest_message_of_a_type(store: Store) -> None:
    app_id, _, run_id = await run_of(store, "a")
    assert await store.run_read(lambda: tx.latest_message(app_id, run_id, "handoff")) is None
    await send(store, app_id, run_id, "a", "b", "handoff", 1.0)
    await send(store, app_id, run_id, "b", "c", "handoff", 2.0)
    await send(store, app_id, run_id, "c", "a", "notification", 3.0)
    latest = await store.run_read(lambda: tx.latest_message(app_id, run_id, "handoff"))
    assert (latest.sender, latest.recipient) == ("b", "c")


async def test_a_run_of_another_app_is_not_found(store: Store) -> None:
    app_a, _, run_a = await run_of(store, "a")
    app_b, _, _ = await run_of(store, "b")
    await send(store, app_a, run_a, "x", "y", "request", 1.0)
    with pytest.raises(NotFound, match="does not exist"):
        await send(store, app_b, run_a, "x", "y", "request", 2.0)
    with pytest.raises(NotFound):
        await listed(store, app_b, run_a)
    with pytest.raises(NotFound):
        await store.run_read(lambda: tx.latest_message(app_b, run_a, "handoff"))
    assert len(await listed(store, app_a, run_a)) == 1
