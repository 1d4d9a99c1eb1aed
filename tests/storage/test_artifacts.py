"""Artifact transactions on every backend: concurrent merge patches, If-Match, RFC 7396,
history, attachments, the artifact filter of the event log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podium.config import Settings
from podium.errors import NotFound, PreconditionFailed
from podium.events import names
from podium.storage import artifacts as tx
from podium.storage.artifacts import ArtifactRecord, apply_merge_patch
from podium.storage.store import Store, open_store

FLOW = {"name": "builder", "nodes": [{"id": "a", "type": "output"}], "edges": []}


async def create(
    store: Store, app_id: str, state: dict[str, Any], session_id: str | None = None
) -> ArtifactRecord:
    record, _ = await store.run_script(
        lambda: tx.create_artifact(
            app_id, "Tracker", None, state, session_id, "usr_creator", time.time()
        )
    )
    assert isinstance(record, ArtifactRecord)
    return record


async def patch(
    store: Store,
    app_id: str,
    artifact_id: str,
    body: dict[str, Any],
    expected: int | None = None,
    actor: str = "usr_editor",
) -> ArtifactRecord:
    record, _ = await store.run_script(
        lambda: tx.patch_artifact(
            app_id, artifact_id, body, expected, actor, time.time(), store.dialect
        )
    )
    assert isinstance(record, ArtifactRecord)
    return record


async def history(store: Store, app_id: str, artifact_id: str) -> list[tx.ArtifactVersionRecord]:
    versions: list[tx.ArtifactVersionRecord] = await store.run_read(
        lambda: tx.artifact_history(app_id, artifact_id, 1000, 0)
    )
    return versions


@pytest.fixture
async def other_store(database_url: str, settings: Settings) -> AsyncIterator[Store]:
    """A second store over the same database: another process's connections."""
    second = open_store(database_url, settings)
    await second.open(migrate=False)
    yield second
    await second.close()


async def test_fifty_concurrent_patches_on_disjoint_keys_all_apply(
    store: Store, other_store: Store
) -> None:
    app_id = await store.ensure_app("concurrent")
    artifact = await create(store, app_id, {"title": "board"})
    stores = [store, other_store]
    results = await asyncio.gather(
        *(
            patch(stores[n % 2], app_id, artifact.id, {f"k{n}": n}, actor=f"usr_{n}")
            for n in range(50)
        )
    )
    assert sorted(r.version for r in results) == list(range(2, 52))  # none applied twice
    final = await store.run_read(lambda: tx.get_artifact(app_id, artifact.id))
    assert final.version == 51
    assert final.state == {"title": "board", **{f"k{n}": n for n in range(50)}}
    versions = await history(store, app_id, artifact.id)
    assert [v.version for v in versions] == list(range(1, 52))
    assert versions[0].patch == {"title": "board"} and versions[0].actor == "usr_creator"
    assert sorted((v.actor, v.patch) for v in versions[1:]) == sorted(
        (f"usr_{n}", {f"k{n}": n}) for n in range(50)
    )
    # Each version's patch is the one its writer sent.
    by_version = {r.version: r for r in results}
    for version in versions[1:]:
        assert version.patch.keys() <= by_version[version.version].state.keys()
    # The events come in version order, one per version.
    events = await store.read_events(app_id, artifact_id=artifact.id)
    updates = [e for e in events if e.type == names.ARTIFACT_STATE_UPDATED]
    assert [e.data["version"] for e in updates] == list(range(2, 52))


async def test_concurrent_patches_with_the_same_expected_version_one_wins(
    store: Store, other_store: Store
) -> None:
    app_id = await store.ensure_app("if-match")
    artifact = await create(store, app_id, {})
    stores = [store, other_store]
    outcomes = await asyncio.gather(
        *(patch(stores[n % 2], app_id, artifact.id, {"winner": n}, expected=1) for n in range(10)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, ArtifactRecord)]
    lost = [o for o in outcomes if isinstance(o, PreconditionFailed)]
    assert len(won) == 1 and len(lost) == 9, outcomes
    assert won[0].version == 2
    for error in lost:
        assert error.details == {"current_version": 2, "expected_version": 1}
        assert "is at version 2, not 1" in error.message and "If-Match: 2" in error.message
    final = await store.run_read(lambda: tx.get_artifact(app_id, artifact.id))
    assert (final.version, final.state) == (2, won[0].state)
    assert len(await history(store, app_id, artifact.id)) == 2


async def test_a_stale_version_is_refused_and_the_current_one_applies(store: Store) -> None:
    app_id = await store.ensure_app("stale")
    artifact = await create(store, app_id, {"n": 0})
    await patch(store, app_id, artifact.id, {"n": 1}, expected=1)
    with pytest.raises(PreconditionFailed) as stale:
        await patch(store, app_id, artifact.id, {"n": 99}, expected=1)
    assert stale.value.details["current_version"] == 2
    applied = await patch(store, app_id, artifact.id, {"n": 2}, expected=2)
    assert (applied.version, applied.state) == (3, {"n": 2})


async def test_merge_patch_semantics_of_rfc_7396(store: Store) -> None:
    app_id = await store.ensure_app("semantics")
    artifact = await create(
        store,
        app_id,
        {"a": 1, "nested": {"x": 1, "y": 2}, "list": [1, 2, 3], "keep": "k", "gone": None},
    )
    assert artifact.state["gone"] is None  # the initial state is stored as given
    body = {
        "a": None,  # null removes
        "nested": {"y": None, "z": 3},  # objects merge key by key
        "list": [9],  # arrays are replaced whole
        "new": {"deep": {"n": None, "m": 1}},  # a new object is the patch without its nulls
        "keep": "k",
        "gone": None,
    }
    patched = await patch(store, app_id, artifact.id, body)
    expected = {"nested": {"x": 1, "z": 3}, "list": [9], "keep": "k", "new": {"deep": {"m": 1}}}
    assert patched.state == expected
    stored = await store.run_read(lambda: tx.get_artifact(app_id, artifact.id))
    assert stored.state == expected
    assert (await history(store, app_id, artifact.id))[-1].patch == body  # the patch as sent
    assert apply_merge_patch({"a": [1]}, {"a": {"b": 1}}) == {"a": {"b": 1}}


async def test_another_apps_artifacts_and_sessions_are_not_found(store: Store) -> None:
    mine, theirs = await store.ensure_app("mine"), await store.ensure_app("theirs")
    flow = await store.save_flow(theirs, FLOW)
    their_session, _ = await store.start_session(theirs, flow.id, {})
    their_artifact = await create(store, theirs, {"secret": 1})
    with pytest.raises(NotFound, match="artifact"):
        await patch(store, mine, their_artifact.id, {"secret": 2})
    with pytest.raises(NotFound, match="artifact"):
        await store.run_read(lambda: tx.get_artifact(mine, their_artifact.id))
    with pytest.raises(NotFound, match="artifact"):
        await history(store, mine, their_artifact.id)
    with pytest.raises(NotFound, match="session"):
        await create(store, mine, {}, session_id=their_session)
    own = await create(store, mine, {})
    with pytest.raises(NotFound, match="session"):
        await store.run_script(lambda: tx.attach_artifact(mine, their_session, own.id, 0.0))
    flow_mine = await store.save_flow(mine, FLOW)
    my_session, _ = await store.start_session(mine, flow_mine.id, {})
    with pytest.raises(NotFound, match="artifact"):
        await store.run_script(lambda: tx.attach_artifact(mine, my_session, their_artifact.id, 0.0))
    unchanged = await store.run_read(lambda: tx.get_artifact(theirs, their_artifact.id))
    assert (unchanged.version, unchanged.state, unchanged.session_ids) == (1, {"secret": 1}, [])


async def test_list_by_session_counts_attached_artifacts_and_filters_by_type(
    store: Store,
) -> None:
    app_id = await store.ensure_app("lists")
    flow = await store.save_flow(app_id, FLOW)
    first, _ = await store.start_session(app_id, flow.id, {})
    second, _ = await store.start_session(app_id, flow.id, {})
    made_in_first = await create(store, app_id, {}, session_id=first)
    assert made_in_first.flow == "builder"  # the session's flow owns it
    loose = await create(store, app_id, {})
    record, _ = await store.run_script(
        lambda: tx.create_artifact(app_id, "Dashboard", "revenue", {}, second, None, time.time())
    )
    for _ in range(2):  # attaching again changes nothing
        attached = await store.run_script(
            lambda: tx.attach_artifact(app_id, second, made_in_first.id, time.time())
        )
    assert attached.session_ids == [first, second]

    async def listed(**filters: Any) -> list[str]:
        query = {"session_id": None, "type": None, "limit": 50, "after": None, **filters}
        records = await store.run_read(lambda: tx.list_artifacts(app_id, **query))
        return [r.id for r in records]

    assert await listed() == [made_in_first.id, loose.id, record.id]
    assert await listed(session_id=first) == [made_in_first.id]
    assert await listed(session_id=second) == [made_in_first.id, record.id]
    assert await listed(session_id=second, type="Dashboard") == [record.id]
    assert await listed(type="Tracker") == [made_in_first.id, loose.id]
    assert await listed(limit=1, after=(made_in_first.created_at, made_in_first.id)) == [loose.id]
    assert await store.run_read(lambda: tx.session_artifact_ids(app_id, second)) == [
        record.id,
        made_in_first.id,
    ]


async def test_the_event_log_filters_by_artifact(store: Store) -> None:
    app_id = await store.ensure_app("events")
    flow = await store.save_flow(app_id, FLOW)
    session_id, _ = await store.start_session(app_id, flow.id, {})
    one = await create(store, app_id, {"v": 0}, session_id=session_id)
    other = await create(store, app_id, {"v": 0})
    await patch(store, app_id, one.id, {"v": 1})
    await patch(store, app_id, other.id, {"v": 1})
    await patch(store, app_id, one.id, {"v": 2})
    events = await store.read_events(app_id, artifact_id=one.id)
    assert [(e.type, e.data.get("version")) for e in events] == [
        (names.ARTIFACT_CREATED, 1),
        (names.ARTIFACT_STATE_UPDATED, 2),
        (names.ARTIFACT_STATE_UPDATED, 3),
    ]
    assert events[1].data == {
        "artifact_id": one.id,
        "version": 2,
        "patch": {"v": 1},
        "actor": "usr_editor",
    }
    assert {e.session_id for e in events} == {session_id}  # the session it was made in
    assert [e.data["version"] for e in await store.read_events(app_id, artifact_id=other.id)] == [
        1,
        2,
    ]
    after = events[1].seq
    assert after is not None
    assert [e.seq for e in await store.read_events(app_id, after=after, artifact_id=one.id)] == [
        events[2].seq
    ]
    assert await store.read_events(app_id, artifact_id="art_none") == []
