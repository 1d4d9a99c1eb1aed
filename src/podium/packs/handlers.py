"""Running packs' event handlers durably from the event log (docs/packs.md).

Each handler has a cursor per app that enabled its pack: the last `seq` of the app's log it
is done with. A runner (in every server and worker process) holds a cursor under a lease,
reads the events after it, and calls the handler for those it subscribed to, in order.

- At least once: the cursor moves past an event only after the handler returned, in its own
  transaction; a process killed in between runs the handler again for that event (its
  `ctx.event_id` is the idempotency key for effects outside Podium). Once the move is
  committed the event is never handled again, by this process or another.
- Retried with back-off: a handler that raises is called again after `backoff * 2**n`
  seconds (PODIUM_PACK_HANDLER_BACKOFF_SECONDS), and later events wait for it, so order
  holds; after PODIUM_PACK_HANDLER_MAX_ATTEMPTS the event is given up on (`failed`, kept for
  `GET /apps/{app}/packs/{name}/handlers`) and the handler goes on with the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence

from podium.events.envelope import Event
from podium.events.waiting import wait_for_event
from podium.packs.base import Handler, HandlerContext, Pack, matches, subscription_of
from podium.packs.service import PackServices
from podium.storage import packs as tx
from podium.storage.packs import HandlerFailure

log = logging.getLogger("podium.packs")

BATCH = 100
MAX_ERROR_CHARS = 2_000


class HandlerRunner:
    """Runs the handlers of `packs` for every app that enabled them, until cancelled."""

    def __init__(self, services: PackServices, packs: Sequence[Pack]) -> None:
        self.services = services
        self.store = services.store
        self.settings = services.settings
        self.packs = {pack.name: pack for pack in packs if pack.handlers}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._types = [t for p in self.packs.values() for h in p.handlers
                       for t in subscription_of(h).event_types]  # fmt: skip
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def needed(self) -> bool:
        return bool(self.packs)

    def start(self) -> None:
        if self.needed and self._task is None:
            self.store.add_listener(self._on_events)
            self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self.store.remove_listener(self._on_events)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_events(self, events: list[Event]) -> None:
        if any(matches(self._types, event.type) for event in events):
            self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                due = await self.run_once()
            except Exception:  # a database hiccup: logged, tried again at the next poll
                log.exception("running pack handlers failed")
                due = None
            wait = self.settings.poll_seconds * 4
            if due is not None:
                wait = min(wait, max(due - time.time(), 0.01))
            await wait_for_event(self._wake, wait)

    async def run_once(self) -> float | None:
        """One pass over every (app, pack, handler); when the next retry is due, if any."""
        pairs = await self.store.run_read(tx.enablements)
        next_due: float | None = None
        for app_id, pack_name in pairs:
            pack = self.packs.get(pack_name)
            if pack is None:
                continue
            for handler in pack.handlers:
                due = await self._work(pack, handler, app_id)
                if due is not None:
                    next_due = due if next_due is None else min(next_due, due)
        return next_due

    async def _work(self, pack: Pack, handler: Handler, app_id: str) -> float | None:
        name = subscription_of(handler).name
        event_types = subscription_of(handler).event_types
        lease = max(self.settings.lease_seconds, 1.0)
        last = await self.store.run_script(
            lambda: tx.claim_cursor(pack.name, name, app_id, self.owner, lease, time.time())
        )
        if last is None:  # another process holds it
            return None
        while True:
            events = await self.store.read_events(app_id, after=last, limit=BATCH)
            if not events:
                return None
            skipped: int | None = None
            for event in events:
                assert event.seq is not None
                if not matches(event_types, event.type):
                    skipped = event.seq
                    continue
                due = await self._handle(pack, handler, name, app_id, event)
                if due is not None:
                    await self._advance(pack.name, name, app_id, skipped)
                    return due
                skipped = None
            await self._advance(pack.name, name, app_id, skipped)
            last = events[-1].seq or last

    async def _advance(self, pack: str, handler: str, app_id: str, seq: int | None) -> None:
        if seq is not None:
            await self.store.run_script(lambda: tx.handled(pack, handler, app_id, self.owner, seq))

    async def _handle(
        self, pack: Pack, handler: Handler, name: str, app_id: str, event: Event
    ) -> float | None:
        """Call the handler for one event; None once it is done with it (succeeded or given
        up), else when its next attempt is due."""
        seq = event.seq
        assert seq is not None and event.id is not None
        failure = await self.store.run_read(
            lambda: tx.pending_failure(pack.name, name, app_id, seq)
        )
        retry_at: float | None = failure.next_attempt_at if failure is not None else None
        if retry_at is not None and retry_at > time.time():  # still backing off
            return retry_at
        attempt = failure.attempts + 1 if failure is not None else 1
        base = self.services.context(app_id, pack.name)
        try:
            await handler(event, HandlerContext(base, event, name, attempt))
        except Exception as exc:
            return await self._failed(pack.name, name, app_id, event, attempt, exc)
        await self.store.run_script(lambda: tx.handled(pack.name, name, app_id, self.owner, seq))
        return None

    async def _failed(
        self, pack: str, handler: str, app_id: str, event: Event, attempt: int, exc: Exception
    ) -> float | None:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        give_up = attempt >= max(self.settings.pack_handler_max_attempts, 1)
        now = time.time()
        due = (
            None
            if give_up
            else now + self.settings.pack_handler_backoff_seconds * 2 ** (attempt - 1)
        )
        assert event.seq is not None and event.id is not None
        failure = HandlerFailure(
            pack,
            handler,
            app_id,
            event.seq,
            event.id,
            event.type,
            "failed" if give_up else "retrying",
            attempt,
            error[:MAX_ERROR_CHARS],
            due,
            now,
        )
        log.warning(
            "pack %s handler %s failed on event %s (attempt %d): %s",
            pack,
            handler,
            event.id,
            attempt,
            error,
        )
        await self.store.run_script(lambda: tx.record_failure(failure, self.owner))
        return due
