"""A worker that stops while it executes a run hands the run back at once (not after its lease)."""

from __future__ import annotations

import asyncio

from podium import FlowBuilder, Podium
from podium.config import Settings
from podium.engine.builder import function_ref
from podium.events import names
from support import nodes


async def test_a_stopping_worker_queues_its_run_again_at_once(
    database_url: str, settings: Settings
) -> None:
    slow = {"function": function_ref(nodes.slow_visit), "seconds": 60}
    flow = (
        FlowBuilder("handback", reducers={"visited": "append"})
        .python("a", nodes.visit)
        .node("b", "python", slow)
        .chain("a", "b")
        .build()
    )
    async with Podium.open(database_url, settings=settings, migrate=False) as podium:
        handle = await podium.start(flow, {})
        async with asyncio.timeout(10):  # until `a` is committed and `b` runs
            while not await podium.store.get_steps(handle.run_id):
                await asyncio.sleep(0.02)
        assert (await podium.store.get_run(handle.run_id)).status == "running"
    # The context exited (workers stopped) well within the 5 s lease.
    async with Podium.open(database_url, settings=settings, migrate=False, workers=0) as podium:
        run = await podium.store.get_run(handle.run_id)
        assert (run.status, run.worker_id, run.lease_until) == ("queued", None, None)
        last = (await podium.store.read_events(run.app_id, run_id=run.id))[-1]
        assert (last.type, last.data) == (names.RUN_QUEUED, {"reason": "worker_stopped"})
        assert [s.node_id for s in await podium.store.get_steps(run.id)] == ["a"]
        claim = await podium.store.claim_next_run("another", 5.0)
        assert claim is not None and claim.run.id == run.id and claim.run.fence == 2
        assert claim.run.progress is not None  # it continues after `a`, which is not redone
