"""Retention on every backend: a prune deletes what the policy lets go in batches, keeps the
sessions that wait (or have a run going), leaves the log a contiguous suffix with no event
pointing at a missing step, a dry run changes nothing and reports what the prune then does,
and `database_stats` shows the bytes given back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conftest import fast_settings
from podium import FlowBuilder, Podium
from podium.engine.retention import (
    DAY,
    Retention,
    RetentionPolicy,
    RuleBody,
    database_stats,
)
from podium.errors import LogTruncated
from podium.ids import new_id
from podium.storage.script import Json, Script, all_rows, execute, one
from podium.storage.sizes import vacuum
from support import nodes

APPEND = {"visited": "append"}
AGE = 10 * DAY


def chain() -> Any:
    flow = FlowBuilder("chain", reducers=APPEND).python("a", nodes.visit)
    return flow.python("b", nodes.visit).chain("a", "b").build()


def ask() -> Any:
    flow = FlowBuilder("ask").human("q", "Go on?", output_key="go").python("b", nodes.visit)
    return flow.chain("q", "b").build()


def _backdate(app_id: str, seconds: float) -> Script:
    """Everything of the app so far happened `seconds` earlier (test data of another day)."""
    app = "(SELECT num FROM apps WHERE id = ?)"
    yield execute(f"UPDATE events SET ts = ts - ? WHERE app_num = {app}", seconds, app_id)
    for table, column in (
        ("runs", "ended_at"),
        ("runs", "created_at"),
        ("sessions", "created_at"),
        ("tool_calls", "created_at"),
    ):
        yield execute(
            f"UPDATE {table} SET {column} = {column} - ? WHERE app_id = ?", seconds, app_id
        )
    yield execute(
        "UPDATE artifact_versions SET created_at = created_at - ? WHERE artifact_id IN "
        "(SELECT id FROM artifacts WHERE app_id = ?)",
        seconds,
        app_id,
    )


def _tool_call(app_id: str, session_id: str, run_id: str, key: str) -> Script:
    yield execute(
        "INSERT INTO tool_calls (id, app_id, session_id, run_id, node_id, iteration, call_key, "
        "tool, arguments, result, status, duration_ms, created_at) "
        "VALUES (?, ?, ?, ?, 'a', 0, ?, 'lookup', ?, ?, 'ok', 1.0, ?)",
        new_id("tcl"),
        app_id,
        session_id,
        run_id,
        key,
        Json({"q": key}),
        Json({"found": True}),
        time.time(),
    )


def _artifact(app_id: str, versions: int) -> Script:
    artifact_id = new_id("art")
    now = time.time()
    yield execute(
        "INSERT INTO artifacts (id, app_id, type, state, version, created_at, updated_at) "
        "VALUES (?, ?, 'Tracker', ?, ?, ?, ?)",
        artifact_id,
        app_id,
        Json({"n": versions}),
        versions,
        now,
        now,
    )
    for version in range(1, versions + 1):
        yield execute(
            "INSERT INTO artifact_versions (artifact_id, version, patch, created_at) "
            "VALUES (?, ?, ?, ?)",
            artifact_id,
            version,
            Json({"n": version}),
            now,
        )
    return artifact_id


def _snapshot(app_id: str) -> Script:
    """Every row retention may touch, as plain values (to compare before and after)."""
    tables = {}
    for table, order in (
        ("events", "app_num, seq"),
        ("runs", "id"),
        ("steps", "run_id, n"),
        ("calls", "run_id, key"),
        ("sessions", "id"),
        ("interrupts", "id"),
        ("tool_calls", "id"),
        ("artifact_versions", "artifact_id, version"),
    ):
        rows = yield all_rows(f"SELECT * FROM {table} ORDER BY {order}")
        tables[table] = [tuple(row) for row in rows]
    return tables


def _dangling() -> Script:
    """References whose step is gone (must stay 0)."""
    row = yield one(
        "SELECT COUNT(*) AS n FROM events e LEFT JOIN steps s ON s.run_id = e.run_id "
        "AND s.n = e.step WHERE e.step IS NOT NULL AND s.run_id IS NULL"
    )
    return row["n"]


async def _fill(podium: Podium, old: int = 12, new: int = 2) -> dict[str, Any]:
    """`old` finished chains, a waiting session and tool calls and versions, all ten days
    old; then `new` finished chains of now."""
    app_id = await podium.default_app()
    done = [await podium.run(chain()) for _ in range(old)]
    assert {run.status for run in done} == {"succeeded"}
    waiting = await podium.run(ask())
    assert waiting.status == "interrupted"
    for n, run in enumerate(done[:3]):
        await podium.store.run_script(
            lambda run=run, n=n: _tool_call(app_id, run.session_id, run.id, f"k{n}")
        )
    await podium.store.run_script(
        lambda: _tool_call(app_id, waiting.session_id, waiting.id, "waiting")
    )
    artifact = await podium.store.run_script(lambda: _artifact(app_id, 3))
    await podium.store.run_script(lambda: _backdate(app_id, AGE))
    old_last = (await podium.store.read_events(app_id, limit=100_000))[-1].seq
    fresh = [await podium.run(chain()) for _ in range(new)]
    return {
        "app_id": app_id,
        "done": done,
        "waiting": waiting,
        "fresh": fresh,
        "artifact": artifact,
        "old_last": old_last,
    }


POLICY = RetentionPolicy(
    runs=RuleBody(days=5),
    events=RuleBody(days=5),
    tool_calls=RuleBody(days=5),
    artifact_versions=RuleBody(days=5, keep_last=1),
)


async def test_prune_keeps_waiting_sessions_and_leaves_a_gapless_log(podium: Podium) -> None:
    world = await _fill(podium)
    app_id, waiting = world["app_id"], world["waiting"]
    retention = Retention(podium.store, podium.settings.model_copy(update={"retention_batch": 7}))
    await retention.set_policy(app_id, POLICY)

    before = await podium.store.run_read(lambda: _snapshot(app_id))
    dry = await retention.prune(dry_run=True)
    assert await podium.store.run_read(lambda: _snapshot(app_id)) == before  # nothing changed

    report = await retention.prune()
    assert report.apps == dry.apps  # the dry run said exactly what the prune did
    assert report.apps[app_id] == {
        "runs": 12,
        "steps": 24,  # two nodes each
        "events": world["old_last"],  # the whole log up to the fresh runs
        "tool_calls": 3,  # the waiting session's stays
        "artifact_versions": 2,  # the newest stays
    }
    after = await podium.store.run_read(lambda: _snapshot(app_id))
    assert len(after["runs"]) == len(before["runs"]) - 12
    assert await podium.store.run_read(_dangling) == 0

    # What remains of the log is a contiguous suffix, read whole.
    events = await podium.store.read_events(app_id, limit=100_000)
    seqs = [event.seq for event in events]
    assert seqs == list(range(world["old_last"] + 1, world["old_last"] + 1 + len(seqs)))
    assert all(e.data.get("output") is not None for e in events if e.type == "node.completed")

    # The fresh runs are whole; the waiting session is untouched and goes on when answered.
    for run in world["fresh"]:
        assert len(await podium.store.get_steps(run.id)) == 2
    assert len(await podium.store.get_steps(waiting.id)) == 1
    [question] = await podium.pending_questions(waiting.id)
    await podium.answer(question.id, "yes")
    assert (await podium.wait(waiting.id, timeout=10)).status == "succeeded"
    assert await podium.store.run_read(_dangling) == 0

    # A client that saw an event that is gone is told so; one at the edge is not.
    with pytest.raises(LogTruncated) as caught:
        await retention.check_since(app_id, 3)
    assert caught.value.details == {"since": 3, "oldest_seq": world["old_last"] + 1}
    await retention.check_since(app_id, world["old_last"])
    await retention.check_since(app_id, 0)

    # Once answered, the session no longer waits: its old tool call goes now (its run, which
    # ended just now, stays); nothing else is left to prune.
    again = await retention.prune()
    assert again.apps[app_id] == {**dict.fromkeys(again.apps[app_id], 0), "tool_calls": 1}


async def test_runs_and_steps_wait_until_their_events_are_gone(podium: Podium) -> None:
    world = await _fill(podium, old=3, new=1)
    app_id = world["app_id"]
    retention = Retention(podium.store, podium.settings)
    # Runs and steps may go, but the log keeps everything: their events refer to them.
    await retention.set_policy(
        app_id, RetentionPolicy(runs=RuleBody(days=1), steps=RuleBody(keep_last=0))
    )
    report = await retention.prune()
    assert report.apps[app_id] == dict.fromkeys(report.apps[app_id], 0)
    # With the log cut to its last 5 events, the runs those still name stay too.
    await retention.set_policy(
        app_id,
        RetentionPolicy(events=RuleBody(keep_last=5), steps=RuleBody(days=1)),
    )
    dry = await retention.prune(dry_run=True)
    report = await retention.prune()
    assert report.apps == dry.apps
    assert report.apps[app_id]["events"] > 0
    assert report.apps[app_id]["steps"] == 6  # the three old chains ended before the log's edge
    assert report.apps[app_id]["runs"] == 0  # the runs rule is gone: run rows stay
    events = await podium.store.read_events(app_id, limit=100_000)
    assert len(events) == 5
    assert [e.seq for e in events] == list(range(events[0].seq or 0, (events[0].seq or 0) + 5))
    assert await podium.store.run_read(_dangling) == 0
    for run in world["done"]:
        assert (await podium.store.get_run(run.id)).status == "succeeded"
        assert await podium.store.get_steps(run.id) == []
    assert len(await podium.store.get_steps(world["fresh"][0].id)) == 2


async def test_the_server_policy_applies_and_an_app_policy_wins(podium: Podium) -> None:
    world = await _fill(podium, old=2, new=1)
    app_id = world["app_id"]
    settings = podium.settings.model_copy(
        update={"retention": {"runs": {"days": 5}, "events": {"days": 5}}}
    )
    retention = Retention(podium.store, settings)
    # The app keeps its runs for 30 days: the server's 5 do not apply to its runs.
    await retention.set_policy(app_id, RetentionPolicy(runs=RuleBody(days=30)))
    policy = await retention.policy(app_id)
    assert policy["effective"]["runs"] == {"days": 30, "keep_last": None}
    assert policy["effective"]["events"] == {"days": 5, "keep_last": None}
    report = await retention.prune()
    assert report.apps[app_id]["runs"] == 0 and report.apps[app_id]["events"] > 0
    await retention.set_policy(app_id, RetentionPolicy())  # back to the server's
    report = await retention.prune()
    assert report.apps[app_id]["runs"] == 2


async def test_database_stats_show_the_bytes_given_back(database_url: str) -> None:
    settings = fast_settings()
    async with Podium.open(database_url, settings=settings, migrate=False) as podium:
        world = await _fill(podium, old=40, new=1)
        app_id = world["app_id"]
        before = await database_stats(podium.store)
        assert before["apps"][app_id]["runs"] == 42
        assert before["tables"]["events"]["rows"] == before["apps"][app_id]["events"] > 0
        retention = Retention(podium.store, settings)
        await retention.set_policy(app_id, POLICY)
        await retention.prune()
        pruned = await database_stats(podium.store)
    assert pruned["apps"][app_id]["runs"] == 2
    assert pruned["apps"][app_id]["oldest_seq"] == world["old_last"] + 1
    assert pruned["tables"]["steps"]["rows"] < before["tables"]["steps"]["rows"]
    if pruned["backend"] == "sqlite" and before["tables"]["events"]["bytes"] is not None:
        # Freed pages go to the free list at once; VACUUM gives them back to the file system.
        assert pruned["tables"]["events"]["bytes"] < before["tables"]["events"]["bytes"]
        assert pruned["free_bytes"] > before["free_bytes"]
    await vacuum(database_url, full=True)
    async with Podium.open(database_url, settings=settings, workers=0, migrate=False) as podium:
        vacuumed = await database_stats(podium.store)
    for table in ("events", "steps", "runs"):
        assert vacuumed["tables"][table]["bytes"] < before["tables"][table]["bytes"], table
    assert vacuumed["bytes"] < before["bytes"]
    if vacuumed["backend"] == "sqlite":
        assert vacuumed["free_bytes"] == 0


async def test_the_sweeper_prunes_on_its_own(database_url: str) -> None:
    settings = fast_settings(lease_seconds=0.2)
    async with Podium.open(database_url, settings=settings, migrate=False) as podium:
        world = await _fill(podium, old=3, new=1)
        await Retention(podium.store, settings).set_policy(world["app_id"], POLICY)
    swept = fast_settings(lease_seconds=0.2, retention_sweep_seconds=0.1)
    async with Podium.open(database_url, settings=swept, migrate=False) as podium:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runs = await podium.store.list_runs(app_id=world["app_id"], limit=100)
            if len(runs) == 2:
                break
            await asyncio.sleep(0.05)
        assert {run.id for run in runs} == {world["waiting"].id, world["fresh"][0].id}
