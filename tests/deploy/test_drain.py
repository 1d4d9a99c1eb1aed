"""SIGTERM drains `podium worker`: no new claim, the executing step finishes (within
PODIUM_DRAIN_SECONDS) and the run is handed back at once, so that another worker finishes it
with no finished step run again."""

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
from podium.storage.store import open_store
from support import drain_nodes, nodes

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[2] / "src"
TESTS = Path(__file__).resolve().parents[1]
LEASE = 60.0  # far longer than the tests: a run taken over was released, not expired


def start_worker(database_url: str, log: Path, drain: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]),
        PODIUM_LEASE_SECONDS=str(LEASE),
        PODIUM_POLL_SECONDS="0.05",
        PODIUM_DRAIN_SECONDS=str(drain),
    )
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "podium", "worker", "--db", database_url],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def wait_for_file(path: Path, child: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert child.poll() is None, f"the worker exited early ({child.returncode})"
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.02)


def terminate(child: subprocess.Popen[bytes], seconds: float) -> float:
    """SIGTERM; how long the worker took to exit (killed, and the test failed, past `seconds`)."""
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)
        raise AssertionError(f"the worker did not exit within {seconds} s of SIGTERM") from None
    return time.monotonic() - started


def lines(path: Path) -> Counter[str]:
    return Counter(path.read_text().split()) if path.exists() else Counter()


async def queue_run(database_url: str, settings: Settings, flow: Any, state: dict[str, Any]) -> str:
    async with Podium.open(database_url, settings=settings, workers=0, migrate=False) as podium:
        return (await podium.start(flow, state)).run_id


async def handed_back_then_finished(database_url: str, settings: Settings, run_id: str) -> Any:
    """The run is queued again with no lease (released), and a new worker finishes it now."""
    store = open_store(database_url, settings)
    await store.open(migrate=False)
    try:
        run = await store.get_run(run_id)
        assert (run.status, run.worker_id, run.lease_until) == ("queued", None, None)
        async with asyncio.timeout(30):
            await Worker(store, settings, concurrency=2).run(until_idle=True)
        return await store.get_run(run_id)
    finally:
        await store.close()


def files(tmp_path: Path) -> dict[str, str]:
    return {
        "executions_file": str(tmp_path / "executions"),
        "calls_file": str(tmp_path / "calls"),
        "marker_file": str(tmp_path / "marker"),
    }


async def test_sigterm_lets_the_executing_step_finish_and_hands_the_run_back(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    flow = (
        FlowBuilder("drained", reducers={"visited": "append"})
        .python("before", nodes.counted)
        .python("slow", drain_nodes.counted_slow)
        .python("after", nodes.counted)
        .chain("before", "slow", "after")
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files(tmp_path))
    child = start_worker(database_url, tmp_path / "worker.log", drain=20)
    try:
        await wait_for_file(tmp_path / "marker", child)  # `slow` executes (for 1 s)
        took = terminate(child, seconds=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    log = (tmp_path / "worker.log").read_text()
    assert child.returncode == 0, log
    assert "draining" in log
    assert took < 10, took  # the step's second, not the grace period nor the lease
    # `slow` finished and was committed on the draining worker; `after` did not start there
    assert lines(tmp_path / "executions") == Counter({"before": 1, "slow": 1})

    run = await handed_back_then_finished(database_url, settings, run_id)
    assert run.status == "succeeded", run.error
    assert lines(tmp_path / "executions") == Counter({"before": 1, "slow": 1, "after": 1})
    assert lines(tmp_path / "calls") == Counter({"before": 1, "slow": 1, "after": 1})


async def test_a_step_outlasting_the_grace_period_is_handed_back_when_it_ends(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    flow = (
        FlowBuilder("drain_timeout", reducers={"visited": "append"})
        .python("before", nodes.counted)
        .python("stuck", nodes.counted_then_block)
        .python("after", nodes.counted)
        .chain("before", "stuck", "after")
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files(tmp_path))
    child = start_worker(database_url, tmp_path / "worker.log", drain=0.5)
    try:
        await wait_for_file(tmp_path / "marker", child)  # `stuck` blocks after its first call
        took = terminate(child, seconds=15)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == 0, (tmp_path / "worker.log").read_text()
    assert took < 10, took  # the grace period (0.5 s), not the lease (60 s)

    run = await handed_back_then_finished(database_url, settings, run_id)
    assert run.status == "succeeded", run.error
    # the step cut short ran again (its finished call was replayed); no finished step did
    assert lines(tmp_path / "executions") == Counter({"before": 1, "stuck": 2, "after": 1})
    assert lines(tmp_path / "calls") == Counter(
        {"before": 1, "stuck.first": 1, "stuck.second": 1, "after": 1}
    )


async def test_the_served_app_drains_its_worker_slots_on_shutdown(
    database_url: str, tmp_path: Path
) -> None:
    """`podium serve`'s app (uvicorn's shutdown on SIGTERM ends its lifespan): the executing
    step finishes and is committed, the run is handed back, the next step does not start."""
    from podium.cli import served_app
    from support.nodes import counted

    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        poll_seconds=0.05,
        lease_seconds=LEASE,
        workers=1,
        drain_seconds=20,
    )
    flow = (
        FlowBuilder("served_drain", reducers={"visited": "append"})
        .python("before", counted)
        .python("slow", drain_nodes.counted_slow)
        .python("after", counted)
        .chain("before", "slow", "after")
        .build()
    )
    run_id = await queue_run(database_url, settings, flow, files(tmp_path))
    app = served_app(settings, workers=1)
    assert app.state.drain_seconds == 20
    async with asyncio.timeout(30):
        async with app.router.lifespan_context(app):
            while not (tmp_path / "marker").exists():  # `slow` executes (for 1 s)
                await asyncio.sleep(0.02)
    assert lines(tmp_path / "executions") == Counter({"before": 1, "slow": 1})
    run = await handed_back_then_finished(database_url, settings, run_id)
    assert run.status == "succeeded", run.error
    assert lines(tmp_path / "executions") == Counter({"before": 1, "slow": 1, "after": 1})
