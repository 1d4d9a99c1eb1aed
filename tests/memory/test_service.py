"""The memory service: what it refuses (and how it says so), expiry on its clock, the sweep
and the sweeper, events published to listeners."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest

from podium.errors import InvalidInput, NotFound, PayloadTooLarge
from podium.events import names
from podium.events.envelope import Event
from podium.memory.service import MemoryService
from podium.storage.store import Store, open_store
from podium.storage.urls import sqlite_url

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(store: Store, clock: Clock) -> MemoryService:
    return MemoryService(store, clock=clock, max_value_bytes=1000)


@pytest.fixture
def unopened(tmp_path: Path) -> MemoryService:
    """A service whose store is never opened: for what is refused before any query."""
    return MemoryService(open_store(sqlite_url(tmp_path / "never.db")), max_value_bytes=1000)


@pytest.fixture
async def session(store: Store) -> tuple[str, str]:
    app_id = await store.ensure_app("a")
    flow = await store.save_flow(app_id, FLOW)
    session_id, _ = await store.start_session(app_id, flow.id, {})
    return app_id, session_id


async def test_set_get_list_delete(memory: MemoryService, session: tuple[str, str]) -> None:
    app_id, sid = session
    await memory.set(app_id, "session", sid, "a.one", 1)
    await memory.set(app_id, "session", sid, "a.two", [2])
    await memory.set(app_id, "session", sid, "b", None)  # null is a value
    assert (await memory.get(app_id, "session", sid, "b")).value is None
    page = await memory.list(app_id, "session", sid, prefix="a.", limit=1)
    assert [e.key for e in page.items] == ["a.one"] and page.next_cursor == "a.one"
    page = await memory.list(app_id, "session", sid, prefix="a.", limit=1, cursor="a.one")
    assert [e.value for e in page.items] == [[2]] and page.next_cursor == "a.two"
    page = await memory.list(app_id, "session", sid, prefix="a.", cursor="a.two")
    assert page.items == [] and page.next_cursor is None
    assert await memory.delete(app_id, "session", sid, "b") is True
    with pytest.raises(NotFound, match="no memory key 'b' in the session scope"):
        await memory.get(app_id, "session", sid, "b")
    with pytest.raises(NotFound, match="no memory key 'b'"):
        await memory.delete(app_id, "session", sid, "b")
    assert await memory.delete(app_id, "session", sid, "b", missing_ok=True) is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "a value of type set is not JSON; use a string, number"),
        ({"when": datetime.date(2026, 1, 1)}, r"at \$\.when: a value of type date is not JSON"),
        (float("nan"), "nan is not a JSON number"),
        ({"x": "a\x00b"}, "holds a NUL character"),
        ("\ud800", "holds a lone surrogate"),
        (
            {
                "deep": [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        [
                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                                        1
                                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            },
            "nested deeper than 64 levels",
        ),
    ],
)
async def test_a_value_that_cannot_be_stored_is_refused_by_name(
    unopened: MemoryService, value: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        await unopened.set("app_x", "session", "ses_x", "k", value)
    assert "memory value for key 'k'" in refused.value.message


async def test_a_backslash_u0000_written_out_is_text_not_a_nul(
    memory: MemoryService, session: tuple[str, str]
) -> None:
    app_id, sid = session
    await memory.set(app_id, "session", sid, "k", "\\u0000")
    assert (await memory.get(app_id, "session", sid, "k")).value == "\\u0000"


async def test_a_value_over_the_bound_is_refused_with_the_bound(
    memory: MemoryService, session: tuple[str, str]
) -> None:
    app_id, sid = session
    await memory.set(app_id, "session", sid, "k", "x" * 998)  # 1000 bytes with the quotes
    with pytest.raises(PayloadTooLarge, match="1001 bytes of JSON, over the limit of 1000") as e:
        await memory.set(app_id, "session", sid, "k", "x" * 999)
    assert e.value.details == {"bytes": 1001, "max_bytes": 1000}
    assert (await memory.get(app_id, "session", sid, "k")).value == "x" * 998


@pytest.mark.parametrize(
    ("scope", "scope_id", "key", "ttl", "message"),
    [
        ("global", "-", "k", None, "unknown memory scope 'global'; the scopes are session, run"),
        ("session", "a/b", "k", None, "scope id 'a/b' is not valid"),
        ("session", "", "k", None, "scope id '' is not valid"),
        ("app", "-", "has space", None, "memory key 'has space' is not valid"),
        ("app", "-", "a/b", None, "memory key 'a/b' is not valid"),
        ("app", "-", "k" * 201, None, "is not valid: use 1 to 200"),
        ("app", "-", "k", 0, "ttl 0 is out of range"),
        ("app", "-", "k", -5, "ttl -5 is out of range"),
        ("app", "-", "k", float("inf"), "ttl is a number of seconds"),
        ("app", "-", "k", 1e12, "out of range"),
    ],
)
async def test_bad_scopes_keys_and_ttls_say_what_is_allowed(
    unopened: MemoryService,
    scope: str,
    scope_id: str,
    key: str,
    ttl: float | None,
    message: str,
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await unopened.set("app_x", scope, scope_id, key, 1, ttl=ttl)


async def test_expiry_follows_the_clock(
    memory: MemoryService, session: tuple[str, str], clock: Clock
) -> None:
    app_id, _ = session
    entry = await memory.set(app_id, "app", "-", "otp", "1234", ttl=0.5)
    assert entry.expires_at == clock.now + 0.5
    assert (await memory.get(app_id, "app", app_id, "otp")).value == "1234"
    clock.now += 0.5
    with pytest.raises(NotFound):
        await memory.get(app_id, "app", "-", "otp")
    assert (await memory.list(app_id, "app", "-")).items == []


async def test_sweep_deletes_expired_rows_in_batches(
    memory: MemoryService, session: tuple[str, str], clock: Clock
) -> None:
    app_id, sid = session
    for number in range(7):
        await memory.set(app_id, "session", sid, f"k{number}", number, ttl=1)
    await memory.set(app_id, "session", sid, "kept", "yes")
    assert await memory.sweep(batch=3) == 0  # nothing expired yet
    clock.now += 1
    assert await memory.sweep(batch=3) == 7
    assert [e.key for e in (await memory.list(app_id, "session", sid)).items] == ["kept"]


async def test_the_sweeper_runs_until_closed(
    memory: MemoryService, session: tuple[str, str], clock: Clock
) -> None:
    app_id, sid = session
    await memory.set(app_id, "session", sid, "k", 1, ttl=1)
    clock.now += 2
    memory.start_sweeper(every=0.01)
    for _ in range(200):
        if await memory.sweep() == 0 and await _rows(memory) == 0:
            break
        await asyncio.sleep(0.01)
    assert await _rows(memory) == 0
    await memory.close()
    await memory.close()  # closing twice is fine


async def _rows(memory: MemoryService) -> int:
    from podium.storage.script import one

    def count() -> Any:
        row = yield one("SELECT COUNT(*) AS n FROM memory")
        return int(row["n"])

    return int(await memory.store.run_read(count))


async def test_writes_publish_their_events_to_listeners(
    memory: MemoryService, store: Store, session: tuple[str, str]
) -> None:
    app_id, sid = session
    seen: list[Event] = []
    store.add_listener(seen.extend)
    await memory.set(app_id, "session", sid, "k", 1)
    await memory.delete(app_id, "session", sid, "k")
    await memory.delete(app_id, "session", sid, "k", missing_ok=True)  # nothing: no event
    updates = [e for e in seen if e.type == names.MEMORY_UPDATED]
    assert [(e.data["op"], e.session_id) for e in updates] == [("set", sid), ("delete", sid)]
    assert all(e.seq is not None for e in updates)


# --- search ---------------------------------------------------------------------------


async def indexed(store: Store, app_id: str) -> list[str]:
    """The keys of the app's memory index (the knowledge store's `_memory` namespace)."""
    from podium.knowledge.service import KnowledgeService

    knowledge = KnowledgeService(store, store.settings)
    documents = await knowledge.list_documents(app_id, "_memory", system=True)
    return [document["key"] for document in documents]


async def test_search_ranks_the_scopes_entries(
    memory: MemoryService, session: tuple[str, str], store: Store
) -> None:
    app_id, sid = session
    await memory.set(app_id, "session", sid, "profile", {"name": "Ada", "hobbies": ["sailing"]})
    await memory.set(app_id, "session", sid, "trip", "sailing to Corsica, sailing back in May")
    await memory.set(app_id, "session", sid, "diet", {"allergies": ["peanuts"]})
    await memory.set(app_id, "app", "-", "fleet", "the club's sailing boats")  # another scope

    hits = await memory.search(app_id, "session", sid, "sailing")
    assert [hit.entry.key for hit in hits] == ["trip", "profile"]
    assert hits[0].entry.value == "sailing to Corsica, sailing back in May"
    assert hits[0].matched == ["sailing"] and hits[0].score >= hits[1].score
    # Keys and object keys are words too.
    assert [hit.entry.key for hit in await memory.search(app_id, "session", sid, "allergies")] == [
        "diet"
    ]
    assert [hit.entry.key for hit in await memory.search(app_id, "app", app_id, "boats")] == [
        "fleet"
    ]
    assert await memory.search(app_id, "session", sid, "boats") == []
    assert len(await memory.search(app_id, "session", sid, "sailing peanuts", limit=1)) == 1

    # A replaced value is searched as it is now; a deleted entry leaves the index with it.
    await memory.set(app_id, "session", sid, "trip", "hiking in the Alps")
    assert [hit.entry.key for hit in await memory.search(app_id, "session", sid, "sailing")] == [
        "profile"
    ]
    await memory.delete(app_id, "session", sid, "profile")
    assert await memory.search(app_id, "session", sid, "sailing") == []
    assert sorted(await indexed(store, app_id)) == [
        f"app/{app_id}/fleet",
        f"session/{sid}/diet",
        f"session/{sid}/trip",
    ]


async def test_search_skips_expired_entries_and_the_sweep_unindexes_them(
    memory: MemoryService, session: tuple[str, str], clock: Clock, store: Store
) -> None:
    app_id, sid = session
    await memory.set(app_id, "session", sid, "short", "a fleeting thought", ttl=10)
    await memory.set(app_id, "session", sid, "long", "a lasting thought")
    assert len(await memory.search(app_id, "session", sid, "thought")) == 2
    clock.now += 11
    assert [hit.entry.key for hit in await memory.search(app_id, "session", sid, "thought")] == [
        "long"
    ]
    assert await memory.sweep() == 1
    assert await indexed(store, app_id) == [f"session/{sid}/long"]


async def test_search_stays_in_its_app_and_refuses_bad_queries(
    memory: MemoryService, session: tuple[str, str], store: Store
) -> None:
    app_id, sid = session
    other = await store.ensure_app("other")
    await memory.set(app_id, "app", "-", "secret", "the launch code is pelican")
    await memory.set(other, "app", "-", "mine", "my own pelican")
    hits = await memory.search(other, "app", "-", "pelican launch code")
    assert [(hit.entry.scope_id, hit.entry.key) for hit in hits] == [(other, "mine")]
    with pytest.raises(NotFound):
        await memory.search(other, "session", sid, "pelican")
    with pytest.raises(InvalidInput, match="the query is empty"):
        await memory.search(app_id, "app", "-", " ")
