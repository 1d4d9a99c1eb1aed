"""Durability (DESIGN §3.10, §3.11): kill a worker process, continue in another, and count
side effects made outside the engine: each finished call ran once, no finished step again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from podium import FlowBuilder, Podium
from podium.config import Settings
from podium.engine.worker import Worker
from podium.errors import Conflict
from podium.storage.store import open_store
from support import nodes

pytestmark = pytest.mark.slow

CHILD = Path(__file__).resolve().parent.parent / "support" / "child.py"
LEASE = 1.0


def child_env(lease: float = LEASE) -> dict[str, str]:
    env = dict(os.environ)
    env["PODIUM_LEASE_SECONDS"] = str(lease)
    env["PODIUM_POLL_SECONDS"] = "0.05"
    return env


def start_child(database_url: str, log: Path, lease: float = LEASE) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, str(CHILD), database_url],
            env=child_env(lease),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def wait_for_file(path: Path, child: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(f"the child exited early ({child.returncode})")
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.02)


def kill(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL


async def queue_run(database_url: str, settings: Settings, flow: Any, state: dict[str, Any]) -> str:
    async with Podium.open(database_url, settings=settings, workers=0, migrate=False) as podium:
        handle = await podium.start(flow, state)
        return handle.run_id


async def finish_in_this_process(database_url: str, settings: Settings, run_id: str) -> Any:
    """A new worker takes the run back once the dead worker's lease ran out."""
    await asyncio.sleep(LEASE + 0.2)
    store = open_store(database_url, settings)
    await store.open(migrate=False)
    try:
        await Worker(store, settings, concurrency=2).run(until_idle=True)
        return await store.get_run(run_id), await store.get_session(
            (await store.get_run(run_id)).session_id
        )
    finally:
        await store.close()


def lines(path: Path) -> Counter[str]:
    return Counter(path.read_text().split()) if path.exists() else Counter()


async def test_a_kill_in_the_middle_of_a_step_repeats_no_finished_call(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    files = {
        "executions_file": str(tmp_path / "executions"),
        "calls_file": str(tmp_path / "calls"),
        "marker_file": str(tmp_path / "marker"),
    }
    flow = (
        FlowBuilder("crash_mid_step", reducers={"visited": "append"})
        .python("before", nodes.counted)
        .python("crashy", nodes.counted_then_block)
        .python("after", nodes.counted)
        .chain("before", "crashy", "after")
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files)
    child = start_child(database_url, tmp_path / "child.log")
    try:
        await wait_for_file(tmp_path / "marker", child)
        # the step finished its first recorded call and is in the middle of its work
        assert lines(tmp_path / "calls") == Counter({"before": 1, "crashy.first": 1})
    finally:
        kill(child)
    run, session = await finish_in_this_process(database_url, settings, run_id)
    assert run.status == "succeeded", run.error
    assert session.state["visited"] == ["before", "crashy", "after"]
    # every finished call ran exactly once, across both processes
    assert lines(tmp_path / "calls") == Counter(
        {"before": 1, "crashy.first": 1, "crashy.second": 1, "after": 1}
    )
    # the finished step did not run again; the step in flight did (its calls were replayed)
    assert lines(tmp_path / "executions") == Counter({"before": 1, "crashy": 2, "after": 1})
    assert run.fence == 2  # claimed twice: the dead worker, then this one


async def test_a_kill_between_two_steps_runs_no_finished_step_again(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    files = {
        "executions_file": str(tmp_path / "executions"),
        "calls_file": str(tmp_path / "calls"),
        "marker_file": str(tmp_path / "marker"),
    }
    flow = (
        FlowBuilder("crash_between", reducers={"visited": "append"})
        .python("first", nodes.counted)
        .python("second", nodes.block_at_start)
        .python("third", nodes.counted)
        .chain("first", "second", "third")
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files)
    child = start_child(database_url, tmp_path / "child.log")
    try:
        await wait_for_file(tmp_path / "marker", child)
    finally:
        kill(child)
    run, session = await finish_in_this_process(database_url, settings, run_id)
    assert run.status == "succeeded", run.error
    assert session.state["visited"] == ["first", "second", "third"]
    assert lines(tmp_path / "executions") == Counter({"first": 1, "second": 1, "third": 1})
    assert lines(tmp_path / "calls") == Counter({"first": 1, "third": 1})


async def test_a_question_outlives_its_process_and_is_answered_from_another(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    files = {"executions_file": str(tmp_path / "executions"), "calls_file": str(tmp_path / "c")}
    flow = (
        FlowBuilder("ask_across", reducers={"visited": "append"})
        .python("before", nodes.counted)
        .python("ask", nodes.ask_name)
        .template("hello", "Hello {{ name }}", output_key="greeting")
        .chain("before", "ask", "hello")
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files)
    child = start_child(database_url, tmp_path / "child.log")
    assert child.wait(timeout=30) == 0  # idle: the run waits for its answer, the process exits
    store = open_store(database_url, settings)
    await store.open(migrate=False)
    try:
        run = await store.get_run(run_id)
        assert run.status == "interrupted"
        assert (await store.get_session(run.session_id)).status == "waiting"
        [question] = await store.get_interrupts(run_id, status="pending")
        assert question.question == "What is your name?"
        await store.answer_interrupt(question.id, "Ada")
        with pytest.raises(Conflict) as conflict:
            await store.answer_interrupt(question.id, "Bob")
        assert str(conflict.value) == (
            f"question {question.id} was already answered; an answer is accepted once"
        )
    finally:
        await store.close()
    child = start_child(database_url, tmp_path / "child.log")
    assert child.wait(timeout=30) == 0
    run, session = await finish_in_this_process(database_url, settings, run_id)
    assert run.status == "succeeded"
    assert session.state["greeting"] == "Hello Ada"
    assert lines(tmp_path / "executions") == Counter({"before": 1})


async def test_a_kill_during_a_retry_back_off_still_retries_once(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    """The run waits out its back-off queued, holding no lease: the process that ran the
    failed attempt dies meanwhile, and another runs the next attempt once, when it is due
    (long before the dead process's lease, a minute here, would have run out)."""
    files = {"executions_file": str(tmp_path / "executions"), "calls_file": str(tmp_path / "c")}
    retry = {"max_attempts": 2, "backoff_seconds": 2.0}
    flow = (
        FlowBuilder("retry_across", reducers={"visited": "append"})
        .python("flaky", nodes.counted_fails_first, retry=retry)
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files)
    child = start_child(database_url, tmp_path / "child.log", lease=60)
    store = open_store(database_url, settings)
    await store.open(migrate=False)
    try:
        deadline = time.monotonic() + 30
        while (await store.get_run(run_id)).available_at is None:
            assert time.monotonic() < deadline, "the run never went into its back-off"
            await asyncio.sleep(0.02)
        kill(child)
        waiting = await store.get_run(run_id)
        assert (waiting.status, waiting.worker_id, waiting.lease_until) == ("queued", None, None)
        assert lines(tmp_path / "executions") == Counter({"flaky": 1})
        started = time.monotonic()
        await Worker(store, settings, concurrency=2).run(until_idle=True)  # waits till it is due
        assert time.monotonic() - started < 30
        run = await store.get_run(run_id)
        [step] = await store.get_steps(run_id)
    finally:
        if child.poll() is None:
            kill(child)
        await store.close()
    assert run.status == "succeeded", run.error
    assert run.ended_at is not None and waiting.available_at is not None
    assert run.ended_at >= waiting.available_at
    assert (step.attempt, run.fence) == (2, 2)
    assert lines(tmp_path / "executions") == Counter({"flaky": 2})
    assert lines(tmp_path / "c") == Counter({"flaky": 1})  # the finished call did not repeat
