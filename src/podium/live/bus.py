"""The in-process event bus: follow an app's durable event log live, from any `seq`.

A subscription replays the log after the given `seq`, then waits for commits and reads again,
always from the log, so it sees every persisted event once, in order, with no gap — whether
the event was written by this process or another one. Another process's commits wake the
subscribers at once where the store relays notifications (PostgreSQL LISTEN/NOTIFY), and by
polling every `poll_seconds` in any case. Live-only events (`node.started`, `message.delta`)
are delivered to this process's subscribers, and relayed to the other processes' buses the
same way (on SQLite, which one process owns, they stay in this process).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from podium.events.envelope import Event
from podium.events.waiting import wait_for_event
from podium.storage.store import Store

PAGE = 500


@dataclass(eq=False)
class _Subscriber:
    app_id: str
    session_id: str | None
    run_id: str | None
    artifact_id: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False  # `Subscription.end()`: stop after the events already read
    # Live-only events with the app's last committed seq when each was published, so they
    # are delivered in their place among the persisted ones.
    live: list[tuple[int, Event]] = field(default_factory=list)

    def wants(self, event: Event) -> bool:
        return (
            event.app_id == self.app_id
            and (self.session_id is None or event.session_id == self.session_id)
            and (self.run_id is None or event.run_id == self.run_id)
            and (self.artifact_id is None or event.data.get("artifact_id") == self.artifact_id)
        )


class EventBus:
    """Fan-out of committed and live-only events to in-process subscribers."""

    def __init__(self, store: Store, poll_seconds: float = 0.5) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._subscribers: set[_Subscriber] = set()
        self._last_seq: dict[str, int] = {}
        store.add_listener(self._committed)
        store.add_remote_listener(self._notified)

    def close(self) -> None:
        self.store.remove_listener(self._committed)
        self.store.remove_remote_listener(self._notified)

    def _notified(self, channel: str, payload: dict[str, Any]) -> None:
        """Another process committed events (`events`) or published a live one (`live`)."""
        if channel == "events":
            app_id = payload.get("app_id")
            seq = int(payload.get("last_seq") or 0)
            if app_id is not None and seq > self._last_seq.get(app_id, 0):
                self._last_seq[app_id] = seq
            for subscriber in self._subscribers:
                if app_id is None or subscriber.app_id == app_id:
                    subscriber.wake.set()
        elif channel == "live":
            data = payload["event"]
            event = Event(
                type=data["type"],
                app_id=data["app_id"],
                session_id=data.get("session_id"),
                run_id=data.get("run_id"),
                data=data.get("data") or {},
                ts=data.get("ts"),
            )
            self._deliver_live(int(payload.get("after") or 0), event)

    def _committed(self, events: list[Event]) -> None:
        for event in events:
            if event.seq is not None and event.seq > self._last_seq.get(event.app_id, 0):
                self._last_seq[event.app_id] = event.seq
        for subscriber in self._subscribers:
            if any(subscriber.wants(event) for event in events):
                subscriber.wake.set()

    def publish_live(self, event: Event) -> None:
        """Deliver a live-only event (never persisted) to current subscribers."""
        after = self._last_seq.get(event.app_id, 0)
        self._deliver_live(after, event)
        self.store.publish_live(after, event)

    def _deliver_live(self, after: int, event: Event) -> None:
        for subscriber in self._subscribers:
            if subscriber.wants(event):
                subscriber.live.append((after, event))
                subscriber.wake.set()

    def subscribe(
        self,
        app_id: str,
        since: int = 0,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> Subscription:
        """Every event of the app after `since` (optionally one session, run or artifact: the
        events whose `data.artifact_id` is that artifact), then live.

        The subscription is registered at once, before the first event is asked for, so a
        caller may subscribe and then start a run without missing its live-only events.
        """
        subscriber = _Subscriber(app_id, session_id, run_id, artifact_id)
        self._subscribers.add(subscriber)
        return Subscription(self, subscriber, since)

    async def _follow(self, subscriber: _Subscriber, since: int) -> AsyncIterator[Event]:
        last = since
        app_id, session_id, run_id = subscriber.app_id, subscriber.session_id, subscriber.run_id
        artifact_id = subscriber.artifact_id
        try:
            while True:
                subscriber.wake.clear()
                batch = await self.store.read_events(
                    app_id,
                    after=last,
                    limit=PAGE,
                    session_id=session_id,
                    run_id=run_id,
                    artifact_id=artifact_id,
                )
                live = subscriber.live
                for event in batch:
                    assert event.seq is not None
                    while live and live[0][0] < event.seq:
                        yield live.pop(0)[1]
                    last = event.seq
                    yield event
                if len(batch) == PAGE:
                    continue
                while live:
                    yield live.pop(0)[1]
                if subscriber.ended:
                    return
                await wait_for_event(subscriber.wake, self.poll_seconds)
                if subscriber.ended:
                    return
        finally:
            self._subscribers.discard(subscriber)


class Subscription:
    """An async iterator of events; `aclose()` (or leaving `async for` early and closing)
    unregisters it."""

    def __init__(self, bus: EventBus, subscriber: _Subscriber, since: int) -> None:
        self._bus = bus
        self._subscriber = subscriber
        self._events = bus._follow(subscriber, since)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self._events.__anext__()

    def end(self) -> None:
        """Stop the iteration from outside it (`aclose` cannot while it waits): the events
        already read are still delivered, then `async for` ends."""
        self._subscriber.ended = True
        self._subscriber.wake.set()

    async def aclose(self) -> None:
        self._bus._subscribers.discard(self._subscriber)
        await self._events.aclose()  # type: ignore[attr-defined]
