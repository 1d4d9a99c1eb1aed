"""Shared memory's transactions on every backend: set, get, delete, list by prefix, expiry
and the sweep, scopes kept apart, scope ids checked against the app. The clock is the `now`
each script is given, so expiry is tested without sleeping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from podium.errors import NotFound
from podium.events import names
from podium.storage import memory as tx
from podium.storage.memory import MemoryEntry, Origin
from podium.storage.store import Store

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}
T0 = 1_000_000.0


@dataclass
class Tenant:
    app_id: str
    session_id: str
    run_id: str
    user_id: str


async def tenant(store: Store, name: str) -> Tenant:
    app_id = await store.ensure_app(name)
    flow = await store.save_flow(app_id, FLOW)
    user_id = f"usr_{name}"
    session_id, run_id = await store.start_session(app_id, flow.id, {}, user_id=user_id)
    return Tenant(app_id, session_id, run_id, user_id)


@pytest.fixture
async def a(store: Store) -> Tenant:
    return await tenant(store, "a")


async def put(
    store: Store,
    t: Tenant,
    scope: str,
    key: str,
    value: Any,
    *,
    scope_id: str | None = None,
    ttl: float | None = None,
    now: float = T0,
) -> MemoryEntry:
    sid = scope_id or t.session_id
    entry, _ = await store.run_script(
        lambda: tx.set_entry(t.app_id, scope, sid, key, value, ttl, Origin(), now)
    )
    return entry  # type: ignore[no-any-return]


async def get(
    store: Store, t: Tenant, key: str, *, scope: str = "session", sid: str = "", now: float = T0
) -> Any:
    entry = await store.run_read(
        lambda: tx.get_entry(t.app_id, scope, sid or t.session_id, key, now)
    )
    return None if entry is None else entry.value


async def keys(
    store: Store,
    t: Tenant,
    prefix: str = "",
    *,
    limit: int = 100,
    after: str | None = None,
    now: float = T0,
) -> list[str]:
    entries = await store.run_read(
        lambda: tx.list_entries(t.app_id, "session", t.session_id, prefix, limit, after, now)
    )
    return [e.key for e in entries]


async def test_set_get_replace_and_delete(store: Store, a: Tenant) -> None:
    value = {"name": "Ada", "tags": ["x", 1, None, True], "nested": {"n": 1.5}}
    entry = await put(store, a, "session", "profile", value)
    assert (entry.scope, entry.scope_id, entry.key, entry.value) == (
        "session",
        a.session_id,
        "profile",
        value,
    )
    assert await get(store, a, "profile") == value
    await put(store, a, "session", "profile", "replaced")
    assert await get(store, a, "profile") == "replaced"
    events = await store.run_script(
        lambda: tx.delete_entry(a.app_id, "session", a.session_id, "profile", Origin(), T0)
    )
    assert [e.data["op"] for e in events] == ["delete"]
    assert await get(store, a, "profile") is None
    again = await store.run_script(
        lambda: tx.delete_entry(a.app_id, "session", a.session_id, "profile", Origin(), T0)
    )
    assert again == []  # nothing to delete: no event


async def test_list_by_prefix_in_key_order_with_a_cursor(store: Store, a: Tenant) -> None:
    for key in ("user.b", "user.a", "user_x", "userz", "other", "user.c"):
        await put(store, a, "session", key, key)
    assert await keys(store, a, "user.") == ["user.a", "user.b", "user.c"]
    # `_` is an ordinary character in a prefix (no LIKE wildcard), and case counts.
    assert await keys(store, a, "user_") == ["user_x"]
    assert await keys(store, a, "USER.") == []
    first = await keys(store, a, "user.", limit=2)
    assert first == ["user.a", "user.b"]
    assert await keys(store, a, "user.", limit=2, after=first[-1]) == ["user.c"]
    assert len(await keys(store, a)) == 6


async def test_an_expired_entry_is_invisible_at_once(store: Store, a: Tenant) -> None:
    await put(store, a, "session", "short", 1, ttl=10, now=T0)
    await put(store, a, "session", "forever", 2, now=T0)
    assert await get(store, a, "short", now=T0 + 9.999) == 1
    assert await keys(store, a, now=T0 + 9.999) == ["forever", "short"]
    # At the instant it expires, and after: not readable, not listed.
    assert await get(store, a, "short", now=T0 + 10) is None
    assert await keys(store, a, now=T0 + 10) == ["forever"]
    # A delete of an expired entry is a delete of nothing.
    events = await store.run_script(
        lambda: tx.delete_entry(a.app_id, "session", a.session_id, "short", Origin(), T0 + 11)
    )
    assert events == []
    assert await get(store, a, "forever", now=T0 + 10**6) == 2


async def test_a_set_without_ttl_makes_an_entry_permanent(store: Store, a: Tenant) -> None:
    entry = await put(store, a, "session", "k", "v1", ttl=5, now=T0)
    assert entry.expires_at == T0 + 5
    entry = await put(store, a, "session", "k", "v2", now=T0 + 1)
    assert entry.expires_at is None
    assert await get(store, a, "k", now=T0 + 100) == "v2"
    # An expired entry set again lives again, with its new value.
    await put(store, a, "session", "gone", "old", ttl=1, now=T0)
    await put(store, a, "session", "gone", "new", ttl=1, now=T0 + 50)
    assert await get(store, a, "gone", now=T0 + 50.5) == "new"


async def rows(store: Store) -> int:
    from podium.storage.script import one

    def count() -> Any:
        row = yield one("SELECT COUNT(*) AS n FROM memory")
        return int(row["n"])

    return int(await store.run_read(count))


async def test_the_sweep_removes_expired_rows_only(store: Store, a: Tenant) -> None:
    for number in range(5):
        await put(store, a, "session", f"short{number}", number, ttl=1 + number, now=T0)
    await put(store, a, "session", "forever", "stays", now=T0)
    assert await rows(store) == 6
    assert await store.run_script(lambda: tx.sweep_expired(T0 + 3, 100)) == 3
    assert await rows(store) == 3
    # In batches: each call deletes at most `batch` rows.
    assert await store.run_script(lambda: tx.sweep_expired(T0 + 100, 1)) == 1
    assert await store.run_script(lambda: tx.sweep_expired(T0 + 100, 1)) == 1
    assert await store.run_script(lambda: tx.sweep_expired(T0 + 100, 1)) == 0
    assert await keys(store, a, now=T0 + 100) == ["forever"]


async def test_scopes_and_apps_are_kept_apart(store: Store, a: Tenant) -> None:
    b = await tenant(store, "b")
    await put(store, a, "session", "k", "a-session")
    await put(store, a, "run", "k", "a-run", scope_id=a.run_id)
    await put(store, a, "app", "k", "a-app", scope_id="-")
    await put(store, a, "user", "k", "a-user", scope_id=a.user_id)
    await put(store, b, "app", "k", "b-app", scope_id=b.app_id)
    assert await get(store, a, "k") == "a-session"
    assert await get(store, a, "k", scope="run", sid=a.run_id) == "a-run"
    # The app scope's id is `-` or the app's own id: the same entry.
    assert await get(store, a, "k", scope="app", sid="-") == "a-app"
    assert await get(store, a, "k", scope="app", sid=a.app_id) == "a-app"
    assert await get(store, a, "k", scope="user", sid=a.user_id) == "a-user"
    assert await get(store, b, "k", scope="app", sid="-") == "b-app"
    assert await get(store, b, "k", scope="session", sid=b.session_id) is None


@pytest.mark.parametrize("scope", ["session", "run", "app", "user"])
async def test_a_scope_id_of_another_app_is_not_found(store: Store, a: Tenant, scope: str) -> None:
    b = await tenant(store, "b")
    theirs = {"session": a.session_id, "run": a.run_id, "app": a.app_id, "user": a.user_id}
    with pytest.raises(NotFound):
        await store.run_read(lambda: tx.get_entry(b.app_id, scope, theirs[scope], "k", T0))
    with pytest.raises(NotFound):
        await store.run_script(
            lambda: tx.set_entry(b.app_id, scope, theirs[scope], "k", 1, None, Origin(), T0)
        )
    assert await rows(store) == 0


async def test_writes_carry_their_memory_updated_event(store: Store, a: Tenant) -> None:
    origin = Origin(actor="usr_1", session_id=a.session_id, run_id=a.run_id)
    _, events = await store.run_script(
        lambda: tx.set_entry(a.app_id, "app", "-", "k", {"big": "value"}, 30, origin, T0)
    )
    [event] = events
    assert event.type == names.MEMORY_UPDATED and event.seq is not None
    assert event.data == {
        "scope": "app",
        "scope_id": a.app_id,
        "key": "k",
        "op": "set",
        "ttl": 30,
        "expires_at": T0 + 30,
        "actor": "usr_1",
    }
    assert (event.session_id, event.run_id) == (a.session_id, a.run_id)
    # A run's scope is about that run and its session, whoever wrote it.
    _, events = await store.run_script(
        lambda: tx.set_entry(a.app_id, "run", a.run_id, "k", 1, None, Origin(), T0)
    )
    assert (events[0].session_id, events[0].run_id) == (a.session_id, a.run_id)
    assert "ttl" not in events[0].data and "actor" not in events[0].data
    logged = await store.read_events(a.app_id, after=0)
    assert [e.data["scope"] for e in logged if e.type == names.MEMORY_UPDATED] == ["app", "run"]
