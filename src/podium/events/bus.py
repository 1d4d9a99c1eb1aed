"""The in-process event bus: follow an app's durable event log live, from any `seq`.

A subscription replays the log after the given `seq`, then waits for commits and reads again,
always from the log, so it sees every persisted event once, in order, with no gap — whether
the event was written by this process or another one (those are found by polling). Live-only
events (`node.started`, `message.delta`) are delivered to subscribers in this process only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from podium.events.envelope import Event
from podium.events.waiting import wait_for_event
from podium.storage.store import Store

PAGE = 500


@dataclass(eq=False)
class _Subscriber:
    app_id: str
    session_id: str | None
    run_id: str | None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    live: list[Event] = field(default_factory=list)

    def wants(self, event: Event) -> bool:
        return (
            event.app_id == self.app_id
            and (self.session_id is None or event.session_id == self.session_id)
            and (self.run_id is None or event.run_id == self.run_id)
        )


class EventBus:
    """Fan-out of committed and live-only events to in-process subscribers."""

    def __init__(self, store: Store, poll_seconds: float = 0.5) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._subscribers: set[_Subscriber] = set()
        store.add_listener(self._committed)

    def close(self) -> None:
        self.store.remove_listener(self._committed)

    def _committed(self, events: list[Event]) -> None:
        for subscriber in self._subscribers:
            if any(subscriber.wants(event) for event in events):
                subscriber.wake.set()

    def publish_live(self, event: Event) -> None:
        """Deliver a live-only event (never persisted) to current subscribers."""
        for subscriber in self._subscribers:
            if subscriber.wants(event):
                subscriber.live.append(event)
                subscriber.wake.set()

    async def subscribe(
        self,
        app_id: str,
        since: int = 0,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
    ) -> AsyncIterator[Event]:
        """Every event of the app after `since` (optionally one session or run), then live."""
        subscriber = _Subscriber(app_id, session_id, run_id)
        self._subscribers.add(subscriber)
        last = since
        try:
            while True:
                subscriber.wake.clear()
                batch = await self.store.read_events(
                    app_id, after=last, limit=PAGE, session_id=session_id, run_id=run_id
                )
                for event in batch:
                    assert event.seq is not None
                    last = event.seq
                    yield event
                if len(batch) == PAGE:
                    continue
                while subscriber.live:
                    yield subscriber.live.pop(0)
                await wait_for_event(subscriber.wake, self.poll_seconds)
        finally:
            self._subscribers.discard(subscriber)
