"""Fair workers (docs/engine.md, Retries and Claims; docs/security.md, workers): a run waiting
out a retry back-off gives its slot back, one app holds at most its cap of slots, and claims
prefer the app holding the fewest."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from podium import FlowBuilder, Podium
from podium.config import Settings
from podium.engine.executor import REQUEUE_BACKOFF_SECONDS
from podium.events import names
from podium.storage.claims import FAIR_WINDOW
from podium.storage.records import RunRecord
from podium.storage.store import Store, open_store
from support import nodes

BACKOFF = 1.0  # long enough to be waited out in the queue (REQUEUE_BACKOFF_SECONDS)
APPEND = {"visited": "append"}


def flaky_flow(backoff: float = BACKOFF, attempts: int = 2, **limits: Any) -> Any:
    """One node that fails its first attempt (counting executions and one recorded call)."""
    retry = {"max_attempts": attempts, "backoff_seconds": backoff}
    return (
        FlowBuilder("flaky", reducers=APPEND, **limits)
        .python("flaky", nodes.counted_fails_first, retry=retry)
        .build()
    )


def failing_flow(backoff: float) -> Any:
    retry = {"max_attempts": 50, "backoff_seconds": backoff}
    return FlowBuilder("failing").python("bad", nodes.boom, retry=retry).build()


def quick_flow() -> Any:
    return FlowBuilder("quick", reducers=APPEND).python("a", nodes.visit).build()


def looping_flow(iterations: int) -> Any:
    """A loop that keeps its slot for `iterations` slow rounds."""
    return (
        FlowBuilder("looping", reducers=APPEND, max_steps=10 * iterations)
        .node("body", "python", {"function": "support.nodes:slow_visit", "seconds": 0.05})
        .python("check", nodes.increment)
        .chain("body", "check")
        .edge(
            "check",
            "body",
            when={"field": "state.count", "operator": "<", "value": 10 * iterations},
            loop=True,
            max_iterations=iterations,
        )
        .build()
    )


def lines(path: Path) -> Counter[str]:
    return Counter(path.read_text().split()) if path.exists() else Counter()


def files(tmp_path: Path) -> dict[str, str]:
    return {"executions_file": str(tmp_path / "executions"), "calls_file": str(tmp_path / "calls")}


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def in_back_off(store: Store, run_id: str) -> RunRecord | None:
    run = await store.get_run(run_id)
    return run if run.status == "queued" and run.available_at is not None else None


@pytest.fixture
async def one_slot(database_url: str, settings: Settings) -> AsyncIterator[Podium]:
    async with Podium.open(database_url, settings=settings, workers=1, migrate=False) as podium:
        yield podium


def test_the_threshold_is_below_the_back_off_these_tests_use() -> None:
    assert BACKOFF >= REQUEUE_BACKOFF_SECONDS


async def test_a_run_in_back_off_is_queued_until_its_time_and_holds_no_lease(
    one_slot: Podium, tmp_path: Path
) -> None:
    podium = one_slot
    handle = await podium.start(flaky_flow(), files(tmp_path))
    queued = await until(lambda: in_back_off(podium.store, handle.run_id))
    now = time.time()
    assert queued.worker_id is None and queued.lease_until is None
    assert now < queued.available_at <= now + BACKOFF
    assert await podium.store.get_steps(handle.run_id) == []  # the step has not ended
    assert await podium.store.claim_next_run("another", 5.0) is None  # not before its time
    requeued = [
        e for e in await podium.store.read_events(queued.app_id) if e.type == names.RUN_QUEUED
    ][-1]
    assert requeued.data["retry"] == {
        "node_id": "flaky",
        "attempt": 1,
        "error": "RuntimeError: flaky failed its first attempt",
    }

    run = await podium.wait(handle.run_id, timeout=10)
    assert run.status == "succeeded", run.error
    assert time.time() >= queued.available_at
    [step] = await podium.store.get_steps(handle.run_id)
    assert (step.status, step.attempt) == ("succeeded", 2)
    # the retry ran once; the call the failed attempt finished was not made again
    assert lines(tmp_path / "executions") == Counter({"flaky": 2})
    assert lines(tmp_path / "calls") == Counter({"flaky": 1})
    assert run.fence == 2 and run.available_at is None


async def test_a_short_back_off_sleeps_in_place(one_slot: Podium, tmp_path: Path) -> None:
    handle = await one_slot.start(flaky_flow(backoff=0.05), files(tmp_path))
    run = await one_slot.wait(handle.run_id, timeout=10)
    assert run.status == "succeeded"
    assert run.fence == 1  # claimed once: never queued again
    [step] = await one_slot.store.get_steps(handle.run_id)
    assert step.attempt == 2


async def test_the_attempts_go_on_counting_across_claims(one_slot: Podium) -> None:
    retry = {"max_attempts": 3, "backoff_seconds": 0.3}  # 0.3 s in place, then 0.6 s queued
    flow = FlowBuilder("bad").python("bad", nodes.boom, retry=retry).build()
    run = await one_slot.run(flow)
    assert run.status == "failed"
    assert run.error == "node 'bad' failed: RuntimeError: bad exploded"
    [step] = await one_slot.store.get_steps(run.id)
    assert (step.status, step.attempt) == ("failed", 3)
    assert run.fence == 2


async def test_a_slot_in_back_off_serves_other_runs(one_slot: Podium, tmp_path: Path) -> None:
    podium = one_slot  # one slot, so the app's cap is 1 too
    flaky = await podium.start(flaky_flow(backoff=30), files(tmp_path))
    await until(lambda: in_back_off(podium.store, flaky.run_id))
    started = time.monotonic()
    run = await podium.run(quick_flow())
    assert run.status == "succeeded"
    assert time.monotonic() - started < 5
    assert (await podium.store.get_run(flaky.run_id)).status == "queued"
    await podium.cancel(flaky.run_id)


async def test_a_back_off_past_the_run_timeout_fails_the_run_at_once(one_slot: Podium) -> None:
    flow = (
        FlowBuilder("impatient", timeout_seconds=30)
        .python("bad", nodes.boom, retry={"max_attempts": 3, "backoff_seconds": 60})
        .build()
    )
    started = time.monotonic()
    run = await one_slot.run(flow)
    assert run.status == "failed"
    assert run.error == "run exceeded its timeout of 30s; raise limits.timeout_seconds"
    assert time.monotonic() - started < 15  # at once, not when the 30 s ran out


async def test_a_run_paused_in_back_off_keeps_its_time(one_slot: Podium, tmp_path: Path) -> None:
    podium = one_slot
    handle = await podium.start(flaky_flow(), files(tmp_path))
    queued = await until(lambda: in_back_off(podium.store, handle.run_id))
    assert await podium.pause(handle.run_id) == "paused"
    assert await podium.resume(handle.run_id) == "queued"
    resumed = await podium.store.get_run(handle.run_id)
    assert resumed.available_at == queued.available_at
    run = await podium.wait(handle.run_id, timeout=10)
    assert run.status == "succeeded"
    assert lines(tmp_path / "executions") == Counter({"flaky": 2})


# --- claims: the cap and the order across apps -------------------------------------------


async def queue_runs(store: Store, app: str, count: int) -> list[str]:
    app_id = await store.ensure_app(app)
    flow = await store.save_flow(app_id, quick_flow().definition())
    runs = []
    for _ in range(count):
        runs.append((await store.start_session(app_id, flow.id, {}))[1])
        await asyncio.sleep(0.002)  # distinct queued_at
    return runs


async def test_claims_skip_an_app_at_its_cap_and_prefer_the_app_holding_fewest(
    store: Store, database_url: str, settings: Settings
) -> None:
    a1, a2, a3 = await queue_runs(store, "a", 3)
    [b1] = await queue_runs(store, "b", 1)

    async def claim(on: Store = store) -> str | None:
        claimed = await on.claim_next_run("w", 30, app_cap=2)
        return None if claimed is None else claimed.run.id

    assert await claim() == a1  # both hold no slot: the oldest
    assert await claim() == b1  # `a` holds one, `b` none, although a2 is older
    # another process on the same database counts the slots of every process
    other = open_store(database_url, settings)
    await other.open(migrate=False)
    try:
        assert await claim(other) == a2
        assert await claim(other) is None  # `a` holds its cap of 2; a3 waits
    finally:
        await other.close()
    assert (await store.get_run(a3)).status == "queued"


async def test_an_app_at_its_cap_does_not_hide_another_behind_a_long_queue(
    store: Store,
) -> None:
    first, *_ = await queue_runs(store, "a", FAIR_WINDOW + 4)
    [b1] = await queue_runs(store, "b", 1)
    claimed = [await store.claim_next_run("w", 30, app_cap=1) for _ in range(3)]
    assert [c.run.id if c else None for c in claimed] == [first, b1, None]


async def test_concurrent_claims_never_exceed_the_cap(
    store: Store, database_url: str, settings: Settings
) -> None:
    await queue_runs(store, "a", 8)
    other = open_store(database_url, settings)
    await other.open(migrate=False)
    try:
        claims = await asyncio.gather(
            *(s.claim_next_run(f"w{i}", 30, app_cap=3) for i in range(4) for s in (store, other))
        )
    finally:
        await other.close()
    assert len([c for c in claims if c is not None]) == 3
    assert len(await store.list_runs(status="running")) == 3


# --- the server's slots under one app's load ---------------------------------------------


async def test_waiting_runs_hold_no_slot(podium: Podium) -> None:
    """Two slots, so each app's cap is 1: a run waiting for an answer and a paused one hold
    none of it."""
    assert podium.worker.app_cap == 1
    asking = FlowBuilder("ask").python("ask", nodes.ask_name).build()
    first = await podium.run(asking)
    assert first.status == "interrupted"
    second = await podium.run(asking)
    assert second.status == "interrupted"
    assert await podium.pause(second.id) == "paused"
    quick = await podium.start(quick_flow())
    assert (await podium.wait(quick.run_id, timeout=10)).status == "succeeded"


async def test_one_app_in_back_off_and_loops_cannot_starve_another(
    podium: Podium, tmp_path: Path
) -> None:
    """Two slots; app B queues more failing and looping runs than there are slots; app A's run
    still completes at once, and B never holds more than its cap."""
    app_b = await podium.store.ensure_app("b")
    app_a = await podium.store.ensure_app("a")
    b_runs = []
    for _ in range(3):
        b_runs.append((await podium.start(failing_flow(backoff=30), app_id=app_b)).run_id)
        b_runs.append((await podium.start(looping_flow(500), app_id=app_b)).run_id)
    await asyncio.sleep(0.5)  # B has taken what it can
    started = time.monotonic()
    handle = await podium.start(quick_flow(), app_id=app_a)
    run = await podium.wait(handle.run_id, timeout=10)
    assert run.status == "succeeded"
    assert time.monotonic() - started < 10
    b_statuses = [(await podium.store.get_run(r)).status for r in b_runs]
    assert "succeeded" not in b_statuses and "failed" not in b_statuses
    assert b_statuses.count("running") <= podium.worker.app_cap
    for run_id in b_runs:
        await podium.cancel(run_id)
