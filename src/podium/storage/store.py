"""The store: one interface over the engine's tables, one small subclass per dialect.

Each method is one transaction, written once in `transactions.py` and run by the backend its
own way: SQLite on one writer thread (one thread hop per transaction), PostgreSQL over an
asyncpg pool. Events written by a transaction are handed to the listeners after it commits.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from podium.config import Settings, get_settings
from podium.errors import Conflict
from podium.events.envelope import Event
from podium.storage import claims
from podium.storage import run_control as control
from podium.storage import transactions as tx
from podium.storage.records import (
    Claim,
    FlowRecord,
    InterruptRecord,
    RunRecord,
    SessionRecord,
    StepCommit,
    StepCommitted,
    StepRecord,
)
from podium.storage.script import Script
from podium.storage.urls import dialect

log = logging.getLogger(__name__)

Listener = Callable[[list[Event]], None]
# `(channel, payload)` of a notification from another process (PostgreSQL LISTEN/NOTIFY,
# SQLite's watch of the file).
RemoteListener = Callable[[str, dict[str, Any]], None]


class Store(ABC):
    """Durable storage of apps, flows, sessions, runs, steps, calls, interrupts and events."""

    dialect: str

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.url = url
        self.settings = settings or get_settings()
        self._listeners: list[Listener] = []
        self._step_listeners: list[Callable[[list[StepRecord]], None]] = []
        self._remote_listeners: list[RemoteListener] = []
        # Runs executing in this process (kept by the workers): a hint for the backend.
        self.active_runs = 0
        # Packs' migrations (name, versions directory), upgraded after the core's on open.
        self.migrations: tuple[tuple[str, Path], ...] = ()

    @abstractmethod
    async def open(self, *, migrate: bool = True) -> None:
        """Connect, after bringing the schema up to date unless `migrate` is false."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def run_script(self, make_script: Callable[[], Script]) -> Any:
        """Run one transaction script to commit and return its value.

        Args:
            make_script: builds the script; called again if the backend must retry.
        Raises:
            Whatever the script raises (the transaction is rolled back).
        """

    async def run_read(self, make_script: Callable[[], Script]) -> Any:
        """Run a script that only reads (the backend may run it off the write path)."""
        return await self.run_script(make_script)

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(events)` after every commit that wrote events (in the event loop)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    # The notifications this process asks for (None: every kind). A process that serves no
    # client and waits for no run (`podium worker`) takes `runs` only: on PostgreSQL each
    # notification it does not need costs it, and the server, a wake-up per commit.
    remote_channels: frozenset[str] | None = None

    def add_remote_listener(self, listener: RemoteListener) -> None:
        """Call `listener(channel, payload)` for each notification from another process:
        `events` `{app_id, last_seq}` after its commits (`app_id` None: anything may have
        changed, after the listening connection came back), `runs` when it queued a run,
        `live` `{after, event}` for its live-only events. PostgreSQL sends all three
        (LISTEN/NOTIFY); SQLite `events` and `runs` (its watch of the file, `sqlite.py`)."""
        self._remote_listeners.append(listener)

    def remove_remote_listener(self, listener: RemoteListener) -> None:
        self._remote_listeners.remove(listener)

    def _remote(self, channel: str, payload: dict[str, Any]) -> None:
        for listener in list(self._remote_listeners):
            try:
                listener(channel, payload)
            except Exception:  # one listener's bug must not keep the others from hearing
                log.exception("a listener of %s notifications failed", channel)

    def publish_live(self, after: int, event: Event) -> None:
        """Send a live-only event to the other processes (a no-op where there are none)."""
        return None

    def add_step_listener(self, listener: Callable[[list[StepRecord]], None]) -> None:
        """Call `listener(steps)` after every commit of ended steps (metrics use it)."""
        self._step_listeners.append(listener)

    def _published(self, events: list[Event]) -> None:
        if events:
            for listener in list(self._listeners):
                listener(events)

    async def append_events(self, app_id: str, events: list[Event]) -> list[Event]:
        """Write events outside a step commit (an agent that became busy, say) and publish."""
        written: list[Event] = await self.run_script(
            lambda: tx.append_events(app_id, events, time.time())
        )
        self._published(written)
        return written

    # --- apps and flows -------------------------------------------------------------

    async def ensure_app(self, name: str = "default") -> str:
        return str(await self.run_script(lambda: tx.ensure_app(name, time.time())))

    async def save_flow(
        self, app_id: str, definition: dict[str, Any], base_path: str | None = None
    ) -> FlowRecord:
        try:
            record: FlowRecord = await self.run_script(
                lambda: tx.save_flow(app_id, definition, base_path, time.time())
            )
        except Conflict:  # registered concurrently by another caller: read theirs
            record = await self.run_script(
                lambda: tx.save_flow(app_id, definition, base_path, time.time())
            )
        return record

    async def get_flow(self, flow_id: str) -> FlowRecord:
        record: FlowRecord = await self.run_read(lambda: tx.get_flow(flow_id))
        return record

    async def find_flow(self, app_id: str, name: str) -> FlowRecord | None:
        record: FlowRecord | None = await self.run_read(lambda: tx.find_flow(app_id, name))
        return record

    async def find_flow_id(self, app_id: str, name: str) -> str | None:
        """The id of the newest version of the app's flow `name` (its definition unread)."""
        flow_id: str | None = await self.run_read(lambda: tx.find_flow_id(app_id, name))
        return flow_id

    # --- sessions and runs ----------------------------------------------------------

    async def start_session(
        self,
        app_id: str,
        flow_id: str,
        run_input: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        options: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> tuple[str, str]:
        """Create a session and queue its first run (`run_id`, or a new id); returns
        `(session_id, run_id)`."""
        session_id, run_id, events = await self.run_script(
            lambda: tx.start_session(
                app_id, flow_id, run_input, metadata, user_id, options, time.time(), run_id
            )
        )
        self._published(events)
        return session_id, run_id

    async def enqueue_run(
        self,
        session_id: str,
        run_input: dict[str, Any],
        *,
        options: dict[str, Any] | None = None,
        strategy: str = "enqueue",
        app_id: str | None = None,
    ) -> str:
        run_id, events = await self.run_script(
            lambda: tx.enqueue_run(session_id, run_input, options, strategy, time.time(), app_id)
        )
        self._published(events)
        return str(run_id)

    async def claim_next_run(
        self, worker_id: str, lease_seconds: float, *, app_cap: int | None = None
    ) -> Claim | None:
        """Claim the next run fairly across apps (`claims.claim_next_run`); None when
        nothing is claimable. `app_cap`: at most this many runs of one app hold slots."""

        def script() -> Script:
            now = time.time()
            return claims.claim_next_run(worker_id, now + lease_seconds, now, self.dialect, app_cap)

        for _ in range(3):  # a lost race for an app's last slot (PostgreSQL): claim again
            try:
                claimed = await self.run_script(script)
            except claims.ClaimRaced:
                continue
            except Conflict:  # another worker claimed a run of the same session at once
                return None
            if claimed is None:
                return None
            claim: Claim
            claim, events = claimed
            self._published(events)
            return claim
        return None

    async def next_retry_at(self) -> float | None:
        """When the earliest queued run waiting out a retry back-off may be claimed."""
        due: float | None = await self.run_read(claims.next_retry_at)
        return due

    async def renew_lease(self, run_id: str, fence: int, lease_seconds: float) -> None:
        await self.run_script(lambda: tx.renew_lease(run_id, fence, time.time() + lease_seconds))

    async def release_run(self, run_id: str, fence: int, reason: str = "worker_stopped") -> bool:
        """Queue again a run this worker holds and stops executing (pause it, if it was asked
        to pause); False if it no longer held it."""
        events = await self.run_script(lambda: tx.release_run(run_id, fence, time.time(), reason))
        self._published(events)
        return bool(events)

    async def requeue_expired(self) -> int:
        """Queue again (or pause) the runs whose lease ran out, each in a transaction of its
        own (`tx.requeue_expired`); the number of events written."""
        now = time.time()
        expired = await self.run_script(lambda: tx.expired_leases(now))
        written = 0
        for row, status in expired:
            run = (row["id"], row["app_id"], row["session_id"], status)
            events = await self.run_script(partial(tx.requeue_expired, *run, now))
            self._published(events)
            written += len(events)
        return written

    async def record_call(
        self, run_id: str, fence: int, node_id: str, iteration: int, key: str, result: Any
    ) -> None:
        await self.run_script(
            lambda: tx.record_call(run_id, fence, node_id, iteration, key, result, time.time())
        )

    async def commit_step(self, commit: StepCommit) -> StepCommitted:
        """Write the end of steps (DESIGN §3.10) with the claim's fence.

        Returns:
            The events written, the run's status when the commit changed it, and whether the
            run was asked to pause.
        Raises:
            LeaseLost, RunCancelled: this worker no longer holds the run; nothing was written.
        """
        committed: StepCommitted = await self.run_script(
            lambda: tx.commit_step(commit, time.time(), self.dialect)
        )
        self._published(committed.events)
        if commit.steps:
            for step_listener in self._step_listeners:
                step_listener(commit.steps)
        return committed

    async def cancel_run(self, run_id: str, *, app_id: str | None = None) -> str:
        status, events = await self.run_script(
            lambda: control.cancel_run(run_id, time.time(), app_id)
        )
        self._published(events)
        return str(status)

    async def pause_run(self, run_id: str, *, app_id: str | None = None) -> str:
        """Pause a run (`paused`, or `pausing` while its nodes finish); returns its status."""
        status, events = await self.run_script(
            lambda: control.pause_run(run_id, time.time(), app_id)
        )
        self._published(events)
        return str(status)

    async def resume_run(self, run_id: str, *, app_id: str | None = None) -> str:
        """Resume a paused (or pausing) run; returns its status (`queued`, `interrupted`,
        `running`). Conflict for a run that is not paused."""
        status, events = await self.run_script(
            lambda: control.resume_run(run_id, time.time(), app_id)
        )
        self._published(events)
        return str(status)

    async def answer_interrupt(
        self, interrupt_id: str, answer: Any, *, app_id: str | None = None
    ) -> str:
        """Record the answer (accepted once) and queue the run again; returns the run id."""
        run_id, events = await self.run_script(
            lambda: control.answer_interrupt(interrupt_id, answer, time.time(), app_id)
        )
        self._published(events)
        return str(run_id)

    async def deliver_action(
        self, app_id: str, artifact_id: str, action: str, payload: Any, actor: str | None
    ) -> list[str]:
        """Answer the runs waiting for this action on the artifact; the runs queued again."""
        runs, events = await self.run_script(
            lambda: control.deliver_action(app_id, artifact_id, action, payload, actor, time.time())
        )
        self._published(events)
        return list(runs)

    # --- reads ----------------------------------------------------------------------

    async def get_run(self, run_id: str, *, app_id: str | None = None) -> RunRecord:
        record: RunRecord = await self.run_read(lambda: tx.get_run(run_id, app_id))
        return record

    async def list_runs(
        self, *, app_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        records: list[RunRecord] = await self.run_read(lambda: tx.list_runs(app_id, status, limit))
        return records

    async def get_steps(self, run_id: str) -> list[StepRecord]:
        records: list[StepRecord] = await self.run_read(lambda: tx.get_steps(run_id))
        return records

    async def get_session(self, session_id: str, *, app_id: str | None = None) -> SessionRecord:
        record: SessionRecord = await self.run_read(lambda: tx.get_session(session_id, app_id))
        return record

    async def get_interrupts(
        self, run_id: str, *, status: str | None = None
    ) -> list[InterruptRecord]:
        records: list[InterruptRecord] = await self.run_read(
            lambda: tx.get_interrupts(run_id, status)
        )
        return records

    async def read_events(
        self,
        app_id: str,
        *,
        after: int = 0,
        limit: int = 500,
        session_id: str | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> list[Event]:
        events: list[Event] = await self.run_read(
            lambda: tx.read_events(
                app_id, after, limit, session_id, run_id, artifact_id, self.dialect
            )
        )
        return events


def open_store(url: str | None = None, settings: Settings | None = None) -> Store:
    """A store for `url` (default: `PODIUM_DATABASE_URL`); call `await store.open()`."""
    settings = settings or get_settings()
    url = url or settings.database_url
    if dialect(url) == "sqlite":
        from podium.storage.sqlite import SQLiteStore

        return SQLiteStore(url, settings)
    from podium.storage.postgres import PostgresStore

    return PostgresStore(url, settings)
