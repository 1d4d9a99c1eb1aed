"""The workflow graphs' transactions, and the read gates rest on: which flows a user has
completed in an app (on every backend)."""

from __future__ import annotations

import pytest

from podium.errors import NotFound
from podium.storage import workflow_graphs as wg
from podium.storage.script import Script, execute
from podium.storage.store import Store

FLOW = {"name": "", "nodes": [{"id": "t", "type": "template", "config": {"template": "x"}}]}


async def session(store: Store, app_id: str, flow: str, user_id: str | None, status: str) -> None:
    record = await store.save_flow(app_id, {**FLOW, "name": flow})
    session_id, _ = await store.start_session(app_id, record.id, {}, user_id=user_id)

    def set_status() -> Script:
        yield execute("UPDATE sessions SET status = ? WHERE id = ?", status, session_id)

    await store.run_script(set_status)


async def test_completed_flows_are_the_users_own_completed_sessions_in_the_app(
    store: Store,
) -> None:
    shop, other = await store.ensure_app("shop"), await store.ensure_app("other")
    await session(store, shop, "AppBuilder", "usr_a", "completed")
    await session(store, shop, "AppBuilder", "usr_a", "completed")  # twice: named once
    await session(store, shop, "Onboarding", "usr_a", "failed")
    await session(store, shop, "Onboarding", "usr_b", "completed")
    await session(store, shop, "Onboarding", None, "completed")
    await session(store, other, "Billing", "usr_a", "completed")

    names = ["AppBuilder", "Onboarding", "Billing", "Unknown"]
    assert await store.run_read(lambda: wg.completed_flows(shop, "usr_a", names)) == {"AppBuilder"}
    assert await store.run_read(lambda: wg.completed_flows(shop, "usr_b", names)) == {"Onboarding"}
    assert await store.run_read(lambda: wg.completed_flows(other, "usr_a", names)) == {"Billing"}
    assert await store.run_read(lambda: wg.completed_flows(shop, "usr_a", [])) == set()


async def test_a_graph_is_put_read_listed_replaced_and_deleted_per_app(store: Store) -> None:
    shop, other = await store.ensure_app("shop"), await store.ensure_app("other")
    graph = {"name": "pack", "gates": [{"flow": "B", "requires": ["A"]}], "journeys": []}
    await store.run_script(lambda: wg.put_graph(shop, "pack", graph, 1.0))
    await store.run_script(lambda: wg.put_graph(shop, "alpha", {"name": "alpha"}, 2.0))
    stored = await store.run_read(lambda: wg.get_graph(shop, "pack"))
    assert (stored.graph, stored.updated_at) == (graph, 1.0)
    listed = await store.run_read(lambda: wg.list_graphs(shop))
    assert [r.name for r in listed] == ["alpha", "pack"]
    assert await store.run_read(lambda: wg.list_graphs(other)) == []
    with pytest.raises(NotFound):
        await store.run_read(lambda: wg.get_graph(other, "pack"))

    replaced = {**graph, "gates": []}
    await store.run_script(lambda: wg.put_graph(shop, "pack", replaced, 3.0))
    stored = await store.run_read(lambda: wg.get_graph(shop, "pack"))
    assert (stored.graph, stored.updated_at) == (replaced, 3.0)

    with pytest.raises(NotFound):
        await store.run_script(lambda: wg.delete_graph(other, "pack"))
    await store.run_script(lambda: wg.delete_graph(shop, "pack"))
    assert [r.name for r in await store.run_read(lambda: wg.list_graphs(shop))] == ["alpha"]
