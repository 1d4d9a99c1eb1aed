"""The handler runner over a real store: a handler sees the events of the apps that enabled
its pack (the seed's too), once each, in order; one that raises holds its later events back
until its retry, then is given up on and kept as failed; another process cannot take a
cursor while its lease holds."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import fast_settings
from tests.packs.test_service import registry_with

from podium import Podium
from podium.events.envelope import Event
from podium.packs.base import HandlerContext, Pack, PackContext, subscribe
from podium.packs.handlers import HandlerRunner
from podium.packs.service import PackService
from podium.sessions.service import SessionService
from podium.storage import packs as tx

seen: list[tuple[str, int, str | None, int]] = []
failing: set[int] = set()  # seqs whose handling raises


@subscribe("note.*")
async def record(event: Event, ctx: HandlerContext) -> None:
    assert event.seq is not None
    if event.seq in failing:
        raise RuntimeError(f"cannot take note {event.seq}")
    seen.append((ctx.app_id, event.seq, ctx.event_id, ctx.attempt))


async def seed(ctx: PackContext) -> None:
    await ctx.emit("note.seeded", {"n": 0})


def notes_pack() -> Pack:
    return Pack(name="notes", seed=seed, handlers=[record])


async def emit(podium: Podium, app_id: str, kind: str) -> int:
    [event] = await podium.store.append_events(app_id, [Event(kind, app_id, None, None, {})])
    assert event.seq is not None
    return event.seq


async def test_handlers_run_once_per_event_in_order_with_retries(database_url: str) -> None:
    seen.clear()
    failing.clear()
    settings = fast_settings(pack_handler_backoff_seconds=0.2, pack_handler_max_attempts=2)
    registry = registry_with(notes_pack())
    async with Podium.open(database_url, settings=settings, registry=registry) as podium:
        sessions = SessionService(podium)
        await sessions.open()
        packs = PackService(podium, sessions)
        mine = await podium.store.ensure_app("mine")
        other = await podium.store.ensure_app("other")
        await emit(podium, mine, "note.before")  # before the pack: not the handler's
        await packs.enable(mine, "notes", actor=None)
        await emit(podium, other, "note.elsewhere")  # an app that did not enable it
        runner = HandlerRunner(packs.services, registry.packs)

        assert await runner.run_once() is None
        [(app, seeded_seq, event_id, attempt)] = seen
        assert (app, attempt) == (mine, 1)
        [seeded] = [e for e in await podium.store.read_events(mine) if e.seq == seeded_seq]
        assert (seeded.type, seeded.id) == ("note.seeded", event_id)

        first = await emit(podium, mine, "note.taken")
        await emit(podium, mine, "run.started")  # not subscribed: skipped
        second = await emit(podium, mine, "note.taken")
        failing.add(first)
        due = await runner.run_once()
        assert due is not None and due > time.time()
        assert [s[1] for s in seen] == [seeded_seq]  # the second waits behind the first
        state = await packs.handlers(mine, "notes")
        [failure] = state["failures"]
        assert (failure["status"], failure["attempts"]) == ("retrying", 1)
        assert failure["error"] == f"RuntimeError: cannot take note {first}"

        assert await runner.run_once() == due  # not yet due: nothing runs
        time.sleep(max(due - time.time(), 0) + 0.01)
        assert await runner.run_once() is None  # the second attempt fails: given up
        assert [s[1] for s in seen] == [seeded_seq, second]
        state = await packs.handlers(mine, "notes")
        assert [(f["event_seq"], f["status"], f["attempts"]) for f in state["failures"]] == [
            (first, "failed", 2)
        ]
        assert state["handlers"] == [
            {"name": "record", "event_types": ["note.*"], "last_seq": second}
        ]
        assert await runner.run_once() is None
        assert len(seen) == 2  # nothing twice

        # Another process finds the cursor held until this one's lease ends.
        other_runner = HandlerRunner(packs.services, registry.packs)
        await emit(podium, mine, "note.taken")
        held: Any = await podium.store.run_script(
            lambda: tx.claim_cursor("notes", "record", mine, other_runner.owner, 5.0, time.time())
        )
        assert held is None
