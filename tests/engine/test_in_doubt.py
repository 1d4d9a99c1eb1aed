"""Side effects that never run twice in doubt (docs/side-effects.md): SIGKILL a worker
process while a tool call blocks, continue in this process, and count the tool's executions
in a file (outside Podium). A `side_effect` call left in doubt waits for a decision; an
`idempotent` one runs again with the same idempotency key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.test_durability import LEASE, kill, queue_run, start_child, wait_for_file
from podium import FlowBuilder
from podium.config import Settings
from podium.effects import ANSWER_SCHEMA, check_decision
from podium.engine.worker import Worker
from podium.errors import AnswerInvalid
from podium.storage.records import InterruptRecord, RunRecord
from podium.storage.store import Store, open_store
from support import doubt_tools

pytestmark = pytest.mark.slow


def flow() -> Any:
    return FlowBuilder("pay").python("pay", doubt_tools.call_tool).build()


def executions(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split() if path.exists() else []


async def crash_inside(
    database_url: str, settings: Settings, tmp_path: Path, tool: str
) -> tuple[str, dict[str, Any]]:
    """Queue a run calling `tool`, and SIGKILL its worker while the call blocks."""
    state = {
        "tool": tool,
        "amount": 7,
        "log": str(tmp_path / "executions"),
        "gate": str(tmp_path / "gate"),
    }
    (tmp_path / "gate").write_text("closed", encoding="utf-8")
    run_id = await queue_run(database_url, settings, flow(), state)
    child = start_child(database_url, tmp_path / "child.log")
    try:
        await wait_for_file(tmp_path / "gate.reached", child)
    finally:
        kill(child)
    (tmp_path / "gate").unlink()
    assert len(executions(tmp_path / "executions")) == 1
    return run_id, state


async def work(store: Store, settings: Settings, run_id: str) -> RunRecord:
    """A worker in this process runs what is runnable (after the dead worker's lease)."""
    await Worker(store, settings, concurrency=2).run(until_idle=True)
    return await store.get_run(run_id)


async def in_doubt_after_crash(
    database_url: str, settings: Settings, tmp_path: Path, store_: Store, tool: str
) -> tuple[str, InterruptRecord]:
    run_id, _ = await crash_inside(database_url, settings, tmp_path, tool)
    await asyncio.sleep(LEASE + 0.2)
    run = await work(store_, settings, run_id)
    assert run.status == "interrupted", run.error
    [question] = await store_.get_interrupts(run_id, status="pending")
    return run_id, question


@pytest.fixture
async def db(database_url: str, settings: Settings) -> Any:
    store = open_store(database_url, settings)
    await store.open(migrate=False)
    yield store
    await store.close()


async def test_a_side_effect_killed_in_the_call_waits_in_doubt_and_done_uses_the_result(
    database_url: str, settings: Settings, tmp_path: Path, db: Store
) -> None:
    run_id, question = await in_doubt_after_crash(
        database_url, settings, tmp_path, db, "send_payment"
    )
    assert question.kind == "in_doubt"
    assert question.schema == ANSWER_SCHEMA
    assert question.question.startswith("in doubt: send_payment was called by node 'pay' with ")
    assert '"amount": 7' in question.question
    assert question.call_key == "__doubt__:1:payer.t1.0"
    assert len(executions(tmp_path / "executions")) == 1  # not called again
    with pytest.raises(AnswerInvalid, match="needs a reason"):
        await db.answer_interrupt(question.id, {"action": "fail"})  # the SDK's path, too
    [still] = await db.get_interrupts(run_id, status="pending")
    assert still.id == question.id
    await db.answer_interrupt(question.id, {"action": "done", "result": {"paid": 7, "by": "ops"}})
    run = await work(db, settings, run_id)
    assert run.status == "succeeded", run.error
    session = await db.get_session(run.session_id)
    assert session.state["outcome"]["status"] == "ok"
    assert session.state["outcome"]["result"] == {"paid": 7, "by": "ops"}
    assert len(executions(tmp_path / "executions")) == 1  # the answer did not call it either


async def test_retry_runs_the_side_effect_once_more_with_the_same_key(
    database_url: str, settings: Settings, tmp_path: Path, db: Store
) -> None:
    run_id, question = await in_doubt_after_crash(
        database_url, settings, tmp_path, db, "send_payment"
    )
    await db.answer_interrupt(question.id, {"action": "retry"})
    run = await work(db, settings, run_id)
    assert run.status == "succeeded", run.error
    session = await db.get_session(run.session_id)
    assert session.state["outcome"]["result"] == {"paid": 7, "execution": 2}
    first, second = executions(tmp_path / "executions")
    assert first == second and first.startswith("pdm-")


async def test_fail_fails_the_node_with_the_reason(
    database_url: str, settings: Settings, tmp_path: Path, db: Store
) -> None:
    run_id, question = await in_doubt_after_crash(
        database_url, settings, tmp_path, db, "send_payment"
    )
    await db.answer_interrupt(question.id, {"action": "fail", "reason": "the bank says no"})
    run = await work(db, settings, run_id)
    assert run.status == "failed"
    assert run.error is not None and "the bank says no" in run.error
    assert "SideEffectFailed: send_payment (call 'payer.t1.0') was left in doubt" in run.error
    assert len(executions(tmp_path / "executions")) == 1


async def test_the_tool_s_reconcile_decides_before_a_person_is_asked(
    database_url: str, settings: Settings, tmp_path: Path, db: Store
) -> None:
    run_id, _ = await crash_inside(database_url, settings, tmp_path, "send_reconciled_payment")
    await asyncio.sleep(LEASE + 0.2)
    run = await work(db, settings, run_id)
    assert run.status == "succeeded", run.error
    assert await db.get_interrupts(run_id) == []  # nobody was asked
    session = await db.get_session(run.session_id)
    assert session.state["outcome"]["result"] == {"paid": 7, "reconciled": True}
    assert len(executions(tmp_path / "executions")) == 1


async def test_an_idempotent_tool_runs_again_with_the_same_idempotency_key(
    database_url: str, settings: Settings, tmp_path: Path, db: Store
) -> None:
    run_id, _ = await crash_inside(database_url, settings, tmp_path, "put_record")
    await asyncio.sleep(LEASE + 0.2)
    run = await work(db, settings, run_id)
    assert run.status == "succeeded", run.error
    assert await db.get_interrupts(run_id) == []
    first, second = executions(tmp_path / "executions")
    assert first == second and first.startswith("pdm-")


async def test_a_side_effect_that_was_not_interrupted_runs_once_and_writes_its_marker(
    database_url: str, settings: Settings, tmp_path: Path, db: Store
) -> None:
    state = {
        "tool": "send_payment",
        "amount": 3,
        "log": str(tmp_path / "executions"),
        "gate": str(tmp_path / "no-gate"),
    }
    run_id = await queue_run(database_url, settings, flow(), state)
    run = await work(db, settings, run_id)
    assert run.status == "succeeded", run.error
    [key] = executions(tmp_path / "executions")
    claim_calls = await db.run_read(lambda: _calls(run_id))
    assert claim_calls["__started__:1:payer.t1.0"] == {
        "name": "send_payment",
        "arguments": {"amount": 3, "log": state["log"], "gate": state["gate"]},
        "idempotency_key": key,
    }
    assert claim_calls["payer.t1.0"]["result"] == {"paid": 3, "execution": 1}


def _calls(run_id: str) -> Any:
    from podium.storage.script import all_rows, loads

    rows = yield all_rows("SELECT key, result FROM calls WHERE run_id = ?", run_id)
    return {row["key"]: loads(row["result"]) for row in rows}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("yes", "an in_doubt question is answered with"),
        ({"action": "maybe"}, "an in_doubt question is answered with"),
        ({"action": "retry", "result": 1}, "the 'retry' answer to an in_doubt question takes no"),
        ({"action": "fail"}, "the 'fail' answer to an in_doubt question needs a reason"),
        ({"action": "fail", "reason": ""}, "needs a reason"),
    ],
)
def test_bad_decisions_say_what_is_wrong(answer: Any, message: str) -> None:
    with pytest.raises(AnswerInvalid) as refused:
        check_decision(answer)
    assert message in refused.value.message
    assert refused.value.details == {"schema": ANSWER_SCHEMA}
