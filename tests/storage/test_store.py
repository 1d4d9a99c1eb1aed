"""Store conformance, run on every backend: claims, leases, fencing, answers, events."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from podium.errors import Conflict, LeaseLost, NotFound, RunCancelled
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import StepCommit, StepRecord
from podium.storage.store import Store

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}


async def queued_run(store: Store, app: str | None = None) -> tuple[str, str, str]:
    app_id = app or await store.ensure_app("default")
    flow = await store.save_flow(app_id, FLOW)
    session_id, run_id = await store.start_session(app_id, flow.id, {"x": 1})
    return app_id, session_id, run_id


def commit(claim: Any, *, fence: int | None = None, status: str | None = None) -> StepCommit:
    run = claim.run
    now = time.time()
    return StepCommit(
        run_id=run.id,
        app_id=run.app_id,
        session_id=run.session_id,
        fence=run.fence if fence is None else fence,
        progress={"e": "", "n": {"a": "s"}},
        steps_count=1,
        elapsed=0.1,
        steps=[StepRecord("stp_x", run.id, "a", 0, 1, "succeeded", {"y": 2}, None, now, now, 1)],
        state_json='{"x":1,"y":2}',
        events=[Event(names.NODE_COMPLETED, run.app_id, run.session_id, run.id, {"node_id": "a"})],
        run_status=status,
    )


async def test_flows_get_a_new_version_only_when_they_change(store: Store) -> None:
    app_id = await store.ensure_app("default")
    first = await store.save_flow(app_id, FLOW)
    again = await store.save_flow(app_id, FLOW)
    changed = await store.save_flow(app_id, {**FLOW, "description": "new"})
    assert (first.version, again.version, changed.version) == (1, 1, 2)
    assert again.id == first.id
    latest = await store.find_flow(app_id, "f")
    assert latest is not None and latest.id == changed.id
    assert await store.find_flow(app_id, "nope") is None


async def test_a_claim_takes_the_oldest_queued_run_and_increments_the_fence(store: Store) -> None:
    _, _, first = await queued_run(store)
    _, _, second = await queued_run(store)
    claim = await store.claim_next_run("w1", 30)
    assert claim is not None and claim.run.id == first
    assert claim.run.status == "running" and claim.run.fence == 1
    assert claim.state_json == "{}"
    other = await store.claim_next_run("w2", 30)
    assert other is not None and other.run.id == second
    assert await store.claim_next_run("w3", 30) is None


async def test_one_run_at_a_time_per_session(store: Store) -> None:
    _, session_id, first = await queued_run(store)
    second = await store.enqueue_run(session_id, {})
    claim = await store.claim_next_run("w1", 30)
    assert claim is not None and claim.run.id == first
    assert await store.claim_next_run("w2", 30) is None  # `second` waits for `first`
    await store.commit_step(commit(claim, status="succeeded"))
    later = await store.claim_next_run("w2", 30)
    assert later is not None and later.run.id == second
    assert json.loads(later.state_json) == {"x": 1, "y": 2}


async def test_concurrent_claims_never_take_the_same_run(store: Store) -> None:
    for _ in range(10):
        await queued_run(store)
    claims = await asyncio.gather(*(store.claim_next_run(f"w{i}", 30) for i in range(14)))
    taken = [c.run.id for c in claims if c is not None]
    # On PostgreSQL a claim whose chosen row another claim took meanwhile answers None
    # (its worker polls again): what is left is claimed next, and no run twice.
    while (claim := await store.claim_next_run("w-late", 30)) is not None:
        taken.append(claim.run.id)
    assert len(taken) == 10 == len(set(taken))


async def test_a_worker_whose_lease_was_taken_over_cannot_commit(store: Store) -> None:
    await queued_run(store)
    stale = await store.claim_next_run("w1", 0.01)
    assert stale is not None
    await asyncio.sleep(0.05)
    assert await store.requeue_expired() == 1
    fresh = await store.claim_next_run("w2", 30)
    assert fresh is not None and fresh.run.fence == stale.run.fence + 1
    with pytest.raises(LeaseLost, match=r"lease \(fence 1\) was taken over"):
        await store.commit_step(commit(stale))
    with pytest.raises(LeaseLost):
        await store.record_call(stale.run.id, stale.run.fence, "a", 0, "k", 1)
    with pytest.raises(LeaseLost):
        await store.renew_lease(stale.run.id, stale.run.fence, 30)
    assert await store.get_steps(stale.run.id) == []
    await store.commit_step(commit(fresh, status="succeeded"))
    [step] = await store.get_steps(fresh.run.id)
    assert step.output == {"y": 2}


async def test_a_renewed_lease_is_not_requeued(store: Store) -> None:
    await queued_run(store)
    claim = await store.claim_next_run("w1", 0.2)
    assert claim is not None
    await store.renew_lease(claim.run.id, claim.run.fence, 30)
    await asyncio.sleep(0.3)
    assert await store.requeue_expired() == 0


async def test_a_cancelled_run_refuses_its_worker(store: Store) -> None:
    await queued_run(store)
    claim = await store.claim_next_run("w1", 30)
    assert claim is not None
    assert await store.cancel_run(claim.run.id) == "cancelled"
    with pytest.raises(RunCancelled, match="was cancelled"):
        await store.commit_step(commit(claim))
    with pytest.raises(Conflict, match="already ended"):
        await store.cancel_run(claim.run.id)
    with pytest.raises(NotFound, match="run 'run_nope' does not exist"):
        await store.cancel_run("run_nope")


async def test_recorded_calls_come_back_with_the_next_claim(store: Store) -> None:
    await queued_run(store)
    claim = await store.claim_next_run("w1", 0.01)
    assert claim is not None
    await store.record_call(claim.run.id, claim.run.fence, "a", 0, "llm", {"text": "hi"})
    await asyncio.sleep(0.05)
    await store.requeue_expired()
    again = await store.claim_next_run("w2", 30)
    assert again is not None
    assert again.calls == {("a", 0, "llm"): {"text": "hi"}}


async def test_events_have_a_gapless_seq_per_app(store: Store) -> None:
    app_a = await store.ensure_app("a")
    app_b = await store.ensure_app("b")
    await asyncio.gather(*(queued_run(store, app) for app in [app_a, app_b] * 5))
    for app in (app_a, app_b):
        events = await store.read_events(app)
        assert [e.seq for e in events] == list(range(1, 11))  # 2 events per session
        assert {e.app_id for e in events} == {app}
    later = await store.read_events(app_a, after=8)
    assert [e.seq for e in later] == [9, 10]


async def test_answers_are_accepted_once_and_unknown_questions_are_not_found(
    store: Store,
) -> None:
    with pytest.raises(NotFound, match="question 'int_nope' does not exist"):
        await store.answer_interrupt("int_nope", "x")


async def test_unknown_reads_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="run 'run_x' does not exist"):
        await store.get_run("run_x")
    with pytest.raises(NotFound, match="session 'ses_x' does not exist"):
        await store.get_session("ses_x")
    with pytest.raises(NotFound, match="session 'ses_x' does not exist"):
        await store.enqueue_run("ses_x", {})


async def test_reads_scoped_to_another_app_are_not_found(store: Store) -> None:
    _, session_id, run_id = await queued_run(store)
    other = await store.ensure_app("other")
    with pytest.raises(NotFound):
        await store.get_run(run_id, app_id=other)
    with pytest.raises(NotFound):
        await store.get_session(session_id, app_id=other)
    with pytest.raises(NotFound):
        await store.cancel_run(run_id, app_id=other)
    assert (await store.get_run(run_id)).status == "queued"


async def test_list_runs_newest_first_with_filters(store: Store) -> None:
    ids = [(await queued_run(store))[2] for _ in range(3)]
    await store.cancel_run(ids[0])
    assert [r.id for r in await store.list_runs()] == ids[::-1]
    assert [r.id for r in await store.list_runs(status="cancelled")] == [ids[0]]
    assert len(await store.list_runs(limit=2)) == 2
