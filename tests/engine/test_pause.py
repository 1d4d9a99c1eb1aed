"""Pausing and resuming runs: a pause never loses or repeats finished work, and a paused run
goes on from its committed progress when resumed."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podium import Context, FlowBuilder, Podium
from podium.config import Settings
from podium.errors import Conflict, NotFound
from podium.events import names
from podium.storage.records import InterruptRecord, StepCommit, StepRecord
from podium.storage.store import Store
from support import nodes

# Side effects the engine cannot see, and the gate a node waits at (one test at a time).
EXECUTIONS: Counter[str] = Counter()
CALLS: Counter[str] = Counter()
GATE: dict[str, asyncio.Event] = {}


@pytest.fixture(autouse=True)
def fresh_gate() -> None:
    EXECUTIONS.clear()
    CALLS.clear()
    GATE["started"], GATE["release"] = asyncio.Event(), asyncio.Event()


def _call(label: str) -> str:
    CALLS[label] += 1
    return label


async def counted(ctx: Context) -> dict[str, Any]:
    EXECUTIONS[ctx.node_id] += 1
    await ctx.step("effect", _call, ctx.node_id)
    return {"visited": [ctx.node_id]}


async def gated(ctx: Context) -> dict[str, Any]:
    """Waits at the gate, then makes a recorded call (written while the run is pausing)."""
    EXECUTIONS[ctx.node_id] += 1
    GATE["started"].set()
    await GATE["release"].wait()
    await ctx.step("effect", _call, ctx.node_id)
    return {"visited": [ctx.node_id]}


def chain_flow() -> Any:
    return (
        FlowBuilder("pausable", reducers={"visited": "append"})
        .python("a", counted)
        .python("b", gated)
        .python("c", counted)
        .chain("a", "b", "c")
        .build()
    )


def asking_flow() -> Any:
    return (
        FlowBuilder("asking", reducers={"visited": "append"})
        .python("ask", nodes.ask_name)
        .python("after", nodes.visit)
        .chain("ask", "after")
        .build()
    )


@pytest.fixture
async def idle(database_url: str, settings: Settings) -> AsyncIterator[Podium]:
    """A runtime without workers: runs stay where they are until a test starts them."""
    async with Podium.open(database_url, settings=settings, workers=0, migrate=False) as runtime:
        yield runtime


async def last_event(podium: Podium, run_id: str) -> tuple[str, dict[str, Any]]:
    run = await podium.store.get_run(run_id)
    event = (await podium.store.read_events(run.app_id, run_id=run_id))[-1]
    return event.type, event.data


async def until(condition: Any, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():
            await asyncio.sleep(0.01)


# --- through the runtime ----------------------------------------------------------------------


async def test_a_paused_queued_run_is_not_claimed_until_it_is_resumed(idle: Podium) -> None:
    handle = await idle.start(chain_flow(), {})
    assert await idle.pause(handle.run_id) == "paused"
    assert await idle.pause(handle.run_id) == "paused"  # idempotent
    assert await last_event(idle, handle.run_id) == (names.RUN_PAUSED, {})
    assert (await idle.store.get_session(handle.session_id)).status == "waiting"
    assert (await idle.wait(handle.run_id, timeout=1)).status == "paused"

    idle.start_workers()
    await asyncio.sleep(0.3)  # the workers poll every 0.05 s
    run = await idle.store.get_run(handle.run_id)
    assert (run.status, run.fence, run.steps_count) == ("paused", 0, 0)
    assert not EXECUTIONS

    assert await idle.resume(handle.run_id) == "queued"
    assert await last_event(idle, handle.run_id) == (names.RUN_QUEUED, {"reason": "resumed"})
    GATE["release"].set()
    run = await idle.wait(handle.run_id, timeout=20)
    assert run.status == "succeeded", run.error
    assert dict(EXECUTIONS) == {"a": 1, "b": 1, "c": 1}
    assert (await idle.store.get_session(handle.session_id)).status == "completed"


async def test_pausing_a_running_run_lets_the_executing_node_finish_and_starts_no_other(
    podium: Podium,
) -> None:
    handle = await podium.start(chain_flow(), {})
    await asyncio.wait_for(GATE["started"].wait(), 10)  # `a` is committed, `b` executes
    assert await podium.pause(handle.run_id) == "pausing"
    assert await podium.pause(handle.run_id) == "pausing"  # idempotent
    run = await podium.store.get_run(handle.run_id)
    assert run.status == "pausing" and run.worker_id is not None
    assert (await podium.store.get_session(handle.session_id)).status == "active"

    GATE["release"].set()
    run = await podium.wait(handle.run_id, timeout=20)
    assert run.status == "paused", run.error
    assert (run.worker_id, run.lease_until, run.ended_at) == (None, None, None)
    steps = await podium.store.get_steps(handle.run_id)
    assert [(s.node_id, s.status) for s in steps] == [("a", "succeeded"), ("b", "succeeded")]
    assert dict(EXECUTIONS) == {"a": 1, "b": 1}  # `c` did not start
    assert await last_event(podium, handle.run_id) == (names.RUN_PAUSED, {})
    session = await podium.store.get_session(handle.session_id)
    assert (session.status, session.state["visited"]) == ("waiting", ["a", "b"])

    assert await podium.resume(handle.run_id) == "queued"
    run = await podium.wait(handle.run_id, timeout=20)
    assert run.status == "succeeded", run.error
    # The finished nodes did not run again, nor did their recorded calls.
    assert dict(EXECUTIONS) == {"a": 1, "b": 1, "c": 1}
    assert dict(CALLS) == {"a": 1, "b": 1, "c": 1}
    steps = await podium.store.get_steps(handle.run_id)
    assert [s.node_id for s in steps] == ["a", "b", "c"]
    assert (await podium.store.get_session(handle.session_id)).state["visited"] == ["a", "b", "c"]
    assert run.fence == 2  # claimed again after the resume


async def test_resuming_a_pausing_run_withdraws_the_request(podium: Podium) -> None:
    handle = await podium.start(chain_flow(), {})
    await asyncio.wait_for(GATE["started"].wait(), 10)
    assert await podium.pause(handle.run_id) == "pausing"
    assert await podium.resume(handle.run_id) == "running"
    GATE["release"].set()
    run = await podium.wait(handle.run_id, timeout=20)
    assert run.status == "succeeded", run.error
    assert dict(EXECUTIONS) == {"a": 1, "b": 1, "c": 1}
    assert run.fence == 1  # it never stopped
    events = await podium.store.read_events(run.app_id, run_id=run.id)
    assert names.RUN_PAUSED not in [e.type for e in events]


async def test_a_paused_run_waiting_for_an_answer_can_be_answered_and_stays_paused(
    podium: Podium,
) -> None:
    handle = await podium.start(asking_flow(), {})
    assert (await podium.wait(handle.run_id, timeout=20)).status == "interrupted"
    assert await podium.pause(handle.run_id) == "paused"
    assert await last_event(podium, handle.run_id) == (names.RUN_PAUSED, {})
    assert (await podium.store.get_session(handle.session_id)).status == "waiting"

    # Resumed with its question still pending, it waits for the answer again.
    assert await podium.resume(handle.run_id) == "interrupted"
    assert await podium.pause(handle.run_id) == "paused"

    [question] = await podium.pending_questions(handle.run_id)
    assert await podium.answer(question.id, "Ada") == handle.run_id
    await asyncio.sleep(0.3)  # workers are running: none may take it
    run = await podium.store.get_run(handle.run_id)
    assert run.status == "paused" and run.fence == 1
    assert await podium.pending_questions(handle.run_id) == []

    assert await podium.resume(handle.run_id) == "queued"
    run = await podium.wait(handle.run_id, timeout=20)
    assert run.status == "succeeded", run.error
    session = await podium.store.get_session(handle.session_id)
    assert (session.state["name"], session.state["visited"]) == ("Ada", ["after"])


async def test_a_pause_wins_over_waiting_when_the_last_branch_finishes(podium: Podium) -> None:
    flow = (
        FlowBuilder("branches", reducers={"visited": "append"})
        .python("ask", nodes.ask_name)
        .python("b", gated)
        .build()
    )
    handle = await podium.start(flow, {})
    await asyncio.wait_for(GATE["started"].wait(), 10)

    async def asked() -> bool:
        return bool(await podium.pending_questions(handle.run_id))

    await until(asked)  # the question is stored while `b` still executes
    assert await podium.pause(handle.run_id) == "pausing"
    GATE["release"].set()
    run = await podium.wait(handle.run_id, timeout=20)
    assert run.status == "paused"  # not interrupted
    assert await last_event(podium, handle.run_id) == (names.RUN_PAUSED, {})
    assert await podium.resume(handle.run_id) == "interrupted"
    [question] = await podium.pending_questions(handle.run_id)
    await podium.answer(question.id, "Ada")
    run = await podium.wait(handle.run_id, timeout=20)
    assert run.status == "succeeded", run.error
    assert dict(EXECUTIONS) == {"b": 1}


async def test_cancel_pause_and_resume_refuse_what_they_cannot_do(idle: Podium) -> None:
    paused = await idle.start(chain_flow(), {})
    assert await idle.pause(paused.run_id) == "paused"
    assert await idle.cancel(paused.run_id) == "cancelled"
    assert (await idle.store.get_session(paused.session_id)).status == "cancelled"
    with pytest.raises(Conflict, match=r"is cancelled, not paused; only a paused run can be"):
        await idle.resume(paused.run_id)

    done = await idle.start(FlowBuilder("done").output("out").build(), {})
    await idle.worker.run(until_idle=True)
    assert (await idle.store.get_run(done.run_id)).status == "succeeded"
    with pytest.raises(
        Conflict,
        match=rf"run {done.run_id} is succeeded, not paused; only a paused run can be resumed",
    ):
        await idle.resume(done.run_id)
    with pytest.raises(
        Conflict, match=rf"run {done.run_id} already ended \(succeeded\); there is nothing to pause"
    ):
        await idle.pause(done.run_id)

    queued = await idle.start(chain_flow(), {})
    with pytest.raises(Conflict, match="is queued, not paused"):
        await idle.resume(queued.run_id)
    other_app = await idle.store.ensure_app("other")
    for call in (idle.pause, idle.resume):
        with pytest.raises(NotFound, match="does not exist"):
            await call(queued.run_id, app_id=other_app)
        with pytest.raises(NotFound, match="does not exist"):
            await call("run_nope")
    assert (await idle.store.get_run(queued.run_id)).status == "queued"


async def test_a_paused_run_keeps_its_session_busy(idle: Podium) -> None:
    handle = await idle.start(chain_flow(), {})
    await idle.pause(handle.run_id)
    with pytest.raises(Conflict, match="already has an active run"):
        await idle.rerun(handle.session_id, {}, strategy="reject")
    behind = await idle.rerun(handle.session_id, {}, strategy="enqueue")
    assert await idle.store.claim_next_run("w", 5.0) is None  # `behind` waits for the paused
    newer = await idle.rerun(handle.session_id, {}, strategy="interrupt")
    assert (await idle.store.get_run(handle.run_id)).status == "cancelled"
    assert (await idle.store.get_run(behind)).status == "cancelled"
    claim = await idle.store.claim_next_run("w", 5.0)
    assert claim is not None and claim.run.id == newer


# --- the store: leases and commits of a pausing run -------------------------------------------


async def claimed(store: Store, lease: float = 30.0) -> Any:
    app_id = await store.ensure_app("default")
    flow = await store.save_flow(app_id, {"name": "f", "nodes": [{"id": "a", "type": "output"}]})
    await store.start_session(app_id, flow.id, {})
    claim = await store.claim_next_run("w1", lease)
    assert claim is not None
    return claim


STEP_NUMBERS = itertools.count(1)


def commit(claim: Any, status: str | None = None, *, ask: bool = False) -> StepCommit:
    run, now, number = claim.run, time.time(), next(STEP_NUMBERS)
    question = InterruptRecord(
        id=f"int_{run.id}",
        app_id=run.app_id,
        run_id=run.id,
        session_id=run.session_id,
        node_id="a",
        iteration=0,
        call_key="ask#1",
        question="?",
        choices=None,
        schema=None,
        status="pending",
        answer=None,
        created_at=now,
        answered_at=None,
    )
    return StepCommit(
        run_id=run.id,
        app_id=run.app_id,
        session_id=run.session_id,
        fence=run.fence,
        progress={},
        steps_count=number,
        elapsed=0.1,
        steps=[StepRecord("s", run.id, "a", 0, 1, "succeeded", {}, None, now, now, number)],
        interrupts=[question] if ask else [],
        run_status=status,
    )


async def test_commits_tell_the_worker_of_a_pause_request(store: Store) -> None:
    claim = await claimed(store)
    going = await store.commit_step(commit(claim))
    assert (going.run_status, going.pause_requested) == (None, False)
    assert await store.pause_run(claim.run.id) == "pausing"
    await store.renew_lease(claim.run.id, claim.run.fence, 30)  # the lease is still its own
    await store.record_call(claim.run.id, claim.run.fence, "a", 0, "k", 1)
    asked = await store.commit_step(commit(claim))
    assert (asked.run_status, asked.pause_requested) == (None, True)
    assert [e.type for e in asked.events] == []
    # A commit that ends the run waiting pauses it instead.
    paused = await store.commit_step(commit(claim, "interrupted", ask=True))
    assert (paused.run_status, paused.pause_requested) == ("paused", False)
    assert [e.type for e in paused.events] == [names.RUN_PAUSED]
    run = await store.get_run(claim.run.id)
    assert (run.status, run.worker_id, run.lease_until) == ("paused", None, None)
    assert (await store.get_session(run.session_id)).status == "waiting"
    assert await store.resume_run(run.id) == "interrupted"


async def test_an_outcome_wins_over_a_pause_request(store: Store) -> None:
    claim = await claimed(store)
    await store.pause_run(claim.run.id)
    done = await store.commit_step(commit(claim, "succeeded"))
    assert done.run_status == "succeeded"
    assert [e.type for e in done.events] == [names.RUN_SUCCEEDED]
    assert (await store.get_run(claim.run.id)).status == "succeeded"


async def test_a_withdrawn_request_leaves_the_run_to_its_worker(store: Store) -> None:
    claim = await claimed(store)
    await store.pause_run(claim.run.id)
    assert await store.resume_run(claim.run.id) == "running"
    stopped = await store.commit_step(commit(claim, "paused"))
    assert (stopped.run_status, stopped.pause_requested, stopped.events) == (None, False, [])
    run = await store.get_run(claim.run.id)
    assert (run.status, run.worker_id) == ("running", "w1")


async def test_a_pausing_run_whose_worker_died_is_paused_not_queued(store: Store) -> None:
    claim = await claimed(store, lease=0.01)
    assert await store.pause_run(claim.run.id) == "pausing"
    await asyncio.sleep(0.05)
    assert await store.requeue_expired() == 1
    run = await store.get_run(claim.run.id)
    assert (run.status, run.worker_id, run.lease_until) == ("paused", None, None)
    assert (await store.get_session(run.session_id)).status == "waiting"
    events = await store.read_events(run.app_id, run_id=run.id)
    assert events[-1].type == names.RUN_PAUSED
    assert await store.claim_next_run("w2", 30) is None
    assert await store.resume_run(run.id) == "queued"
    again = await store.claim_next_run("w2", 30)
    assert again is not None and again.run.id == run.id and again.run.fence == 2


async def test_a_stopping_worker_pauses_a_pausing_run(store: Store) -> None:
    claim = await claimed(store)
    await store.pause_run(claim.run.id)
    assert await store.release_run(claim.run.id, claim.run.fence)
    run = await store.get_run(claim.run.id)
    assert (run.status, run.worker_id) == ("paused", None)
    assert (await store.read_events(run.app_id, run_id=run.id))[-1].type == names.RUN_PAUSED
