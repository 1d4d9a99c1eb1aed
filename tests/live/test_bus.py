"""Subscriptions replay the log from a seq, then follow live: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio

from podium.events import names
from podium.events.envelope import Event
from podium.live.bus import EventBus
from podium.storage.store import Store

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}


async def make_sessions(store: Store, app_id: str, flow_id: str, count: int) -> None:
    for _ in range(count):
        await store.start_session(app_id, flow_id, {})
        await asyncio.sleep(0)


async def test_replay_then_live_with_no_gap_and_no_duplicate(store: Store) -> None:
    app_id = await store.ensure_app("default")
    flow = await store.save_flow(app_id, FLOW)
    await make_sessions(store, app_id, flow.id, 5)  # seq 1..10 already in the log
    bus = EventBus(store, poll_seconds=5)  # live delivery must not depend on polling
    seen: list[int] = []

    async def follow() -> None:
        async for event in bus.subscribe(app_id, since=3):
            assert event.seq is not None
            seen.append(event.seq)
            if event.seq == 40:
                return

    follower = asyncio.create_task(follow())
    writers = [make_sessions(store, app_id, flow.id, 5) for _ in range(3)]  # seq 11..40
    await asyncio.gather(*writers)
    await asyncio.wait_for(follower, 10)
    assert seen == list(range(4, 41))
    bus.close()


async def test_a_reconnecting_client_gets_exactly_what_it_missed(store: Store) -> None:
    app_id = await store.ensure_app("default")
    flow = await store.save_flow(app_id, FLOW)
    bus = EventBus(store, poll_seconds=0.05)
    await make_sessions(store, app_id, flow.id, 2)
    first = bus.subscribe(app_id)
    got = [await anext(first), await anext(first)]
    await first.aclose()
    await make_sessions(store, app_id, flow.id, 2)
    second = bus.subscribe(app_id, since=got[-1].seq or 0)
    rest = [await anext(second) for _ in range(6)]
    await second.aclose()
    assert [e.seq for e in got + rest] == list(range(1, 9))
    bus.close()


async def test_filters_by_session_and_run_and_app(store: Store) -> None:
    app_id = await store.ensure_app("default")
    other_app = await store.ensure_app("other")
    flow = await store.save_flow(app_id, FLOW)
    other_flow = await store.save_flow(other_app, FLOW)
    session_id, run_id = await store.start_session(app_id, flow.id, {})
    await store.start_session(app_id, flow.id, {})
    await store.start_session(other_app, other_flow.id, {})
    bus = EventBus(store, poll_seconds=0.05)
    by_session = bus.subscribe(app_id, session_id=session_id)
    assert [(await anext(by_session)).type for _ in range(2)] == [
        names.SESSION_CREATED,
        names.RUN_QUEUED,
    ]
    await by_session.aclose()
    by_run = bus.subscribe(app_id, run_id=run_id)
    event = await anext(by_run)
    assert (event.type, event.run_id) == (names.RUN_QUEUED, run_id)
    await by_run.aclose()
    bus.close()


async def test_live_only_events_reach_subscribers_but_not_the_log(store: Store) -> None:
    app_id = await store.ensure_app("default")
    bus = EventBus(store, poll_seconds=5)
    stream = bus.subscribe(app_id)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    bus.publish_live(Event(names.NODE_STARTED, app_id, "ses_1", "run_1", {"node_id": "a"}))
    event = await asyncio.wait_for(pending, 5)
    assert (event.type, event.seq, event.data) == (names.NODE_STARTED, None, {"node_id": "a"})
    assert await store.read_events(app_id) == []
    await stream.aclose()
    bus.close()
