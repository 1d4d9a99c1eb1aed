"""Podium embedded: a store, an event bus and in-process workers behind one object.

async with Podium.open("sqlite:///podium.db", workers=4) as podium:
    handle = await podium.start(flow, {"name": "Ada"})
    run = await podium.wait(handle.run_id)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from podium import jsonvalue, tracing
from podium.config import Settings, get_settings
from podium.engine.caps import Caps
from podium.engine.flow import Flow
from podium.engine.graph import compile_flow
from podium.engine.registry import Registry, RuntimeServices, engine_registry
from podium.engine.worker import GraphCache, Worker
from podium.errors import InvalidInput, NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.events.waiting import wait_for_event
from podium.live.bus import EventBus, Subscription
from podium.storage.records import FlowRecord, InterruptRecord, RunRecord
from podium.storage.store import Store, open_store

WAITING_OR_ENDED = ("interrupted", "paused", "succeeded", "failed", "cancelled")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunHandle:
    session_id: str
    run_id: str


@dataclass(slots=True)
class RunWatch:
    """A run's end, watched (`Podium.watching`): `flag` is set by each notification that the
    run may have ended or stopped to wait; `poll_seconds` bounds the wait for one anyway."""

    flag: asyncio.Event
    poll_seconds: float

    async def until(
        self,
        read: Callable[[], Awaitable[tuple[str, T]]],
        timeout: float | None,
        *,
        queued: bool = False,
    ) -> T:
        """`read()`'s value once the status it reads has ended, waits for an answer or is
        paused, or when `timeout` passes. `queued`: the caller knows the run is queued (it
        queued it inside `watching`), so the first look waits for a notification."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[T] | None = None  # the last value read
        while True:
            if last is not None or not queued:
                self.flag.clear()
                status, value = await read()
                if status in WAITING_OR_ENDED:
                    return value
                last = (value,)
            queued = False
            wait = self.poll_seconds
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return last[0] if last is not None else (await read())[1]
            await wait_for_event(self.flag, wait)


class Podium:
    """The engine as a library: register flows, start sessions and runs, answer, watch."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        workers: int | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        # What the application is made of (`podium.assembly.default_registry()`); the engine's
        # own node types only when none is given.
        self.registry = registry or engine_registry()
        self.services = RuntimeServices(self.registry, self)
        # The JSON boundary's caps for every value node code and services store.
        jsonvalue.configure(jsonvalue.JSONLimits.from_settings(settings))
        # Traces over OTLP when the operator turned them on (else nothing, not even imports).
        tracing.configure(settings)
        self.bus = EventBus(store, poll_seconds=settings.poll_seconds)
        self.graphs = GraphCache(store, self.registry)
        self.worker = Worker(
            store,
            settings,
            concurrency=workers if workers is not None else settings.workers,
            graphs=self.graphs,
            publish_live=self.bus.publish_live,
            services=self.services,
        )
        self._worker_task: asyncio.Task[None] | None = None
        # Every waiter of a run has its own flag, so that concurrent waits do not end each other's.
        self._run_waiters: dict[str, set[asyncio.Event]] = {}
        store.add_listener(self._on_events)
        store.add_remote_listener(self._on_notified)
        self._app_id: str | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        database_url: str | None = None,
        *,
        workers: int | None = None,
        settings: Settings | None = None,
        migrate: bool = True,
        registry: Registry | None = None,
    ) -> AsyncIterator[Podium]:
        """Open the store, start `workers` in-process worker slots (0 for none), and clean up.

        `registry` is what the application is made of; `podium.Podium` (the public one)
        gives the assembled default when none is given, this engine class its own node
        types only."""
        settings = settings or get_settings()
        store = open_store(database_url, settings)
        if registry is not None:
            store.migrations = registry.migrations
        await store.open(migrate=migrate)
        podium = cls(store, settings, workers=workers, registry=registry)
        try:
            if podium.worker.concurrency > 0:
                podium.start_workers()
            yield podium
        finally:
            await podium.stop_workers()
            podium.bus.close()
            await store.close()
            if tracing.enabled():  # the spans still batched, before the process ends
                await asyncio.to_thread(tracing.flush)

    def service(self, name: str) -> Any:
        """A service made once for this runtime (`agents`, `artifacts`), from the registry."""
        return self.services.get(name)

    def start_workers(self) -> None:
        self._worker_task = asyncio.create_task(self.worker.run())

    @property
    def workers_running(self) -> bool:
        """Whether this process's worker slots are running (False with none, or stopped)."""
        return self._worker_task is not None and not self._worker_task.done()

    async def drain_workers(self, grace: float) -> None:
        """Claim no more runs; let the executing steps finish (for at most `grace` seconds)
        and hand their runs back. `stop_workers` then cancels what is left (handed back too)."""
        if self._worker_task is None or self._worker_task.done():
            return
        self.worker.drain()
        await asyncio.wait({self._worker_task}, timeout=grace)

    async def stop_workers(self) -> None:
        if self._worker_task is not None:
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
            self._worker_task = None

    async def default_app(self) -> str:
        if self._app_id is None:
            self._app_id = await self.store.ensure_app("default")
        return self._app_id

    # --- flows ----------------------------------------------------------------------

    async def register_flow(
        self, flow: Flow, *, app_id: str | None = None, base_path: Path | None = None
    ) -> FlowRecord:
        """Validate and store a flow (a new version when it changed); returns the record."""
        graph = compile_flow(
            flow, base_path, caps=Caps.from_settings(self.settings), registry=self.registry
        )
        app_id = app_id or await self.default_app()
        record = await self.store.save_flow(
            app_id, flow.definition(), str(base_path) if base_path else None
        )
        self.graphs.put(record.id, graph)
        return record

    async def resolve_flow(self, flow: Flow | str, app_id: str) -> FlowRecord:
        if isinstance(flow, Flow):
            return await self.register_flow(flow, app_id=app_id)
        record = await self.store.find_flow(app_id, flow)
        if record is None:
            raise NotFound(f"no flow named {flow!r} is registered; register it or give a file")
        return record

    # --- sessions and runs ----------------------------------------------------------

    async def start(
        self,
        flow: Flow | str,
        input: dict[str, Any] | None = None,
        *,
        app_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> RunHandle:
        """Create a session of `flow` and queue its first run."""
        app_id = app_id or await self.default_app()
        record = await self.resolve_flow(flow, app_id)
        _check_input(input)
        session_id, run_id = await self.store.start_session(
            app_id, record.id, input or {}, metadata=metadata, user_id=user_id, options=options
        )
        return RunHandle(session_id, run_id)

    async def run(
        self, flow: Flow | str, input: dict[str, Any] | None = None, **kwargs: Any
    ) -> RunRecord:
        """Start a session and wait until its run ends or waits for an answer."""
        handle = await self.start(flow, input, **kwargs)
        return await self.wait(handle.run_id)

    async def rerun(
        self,
        session_id: str,
        input: dict[str, Any] | None = None,
        *,
        strategy: str = "enqueue",
        trigger_node_id: str | None = None,
        cached_outputs: dict[str, dict[str, Any]] | None = None,
        from_run_id: str | None = None,
    ) -> str:
        """Queue another run on a session; with a trigger, a partial re-execution (§3.12)."""
        _check_input(input)
        options: dict[str, Any] = {}
        if trigger_node_id is not None:
            options["trigger_node_id"] = trigger_node_id
            options["cached_outputs"] = cached_outputs or {}
            if from_run_id:
                options["from_run_id"] = from_run_id
        elif cached_outputs or from_run_id:
            raise InvalidInput("cached_outputs and from_run_id need a trigger_node_id")
        return await self.store.enqueue_run(
            session_id, input or {}, options=options or None, strategy=strategy
        )

    async def wait(self, run_id: str, timeout: float | None = None) -> RunRecord:
        """The run once it has ended, waits for an answer or is paused (or when `timeout`
        passes)."""

        async def read() -> tuple[str, RunRecord]:
            run = await self.store.get_run(run_id)
            return run.status, run

        with self.watching(run_id) as watch:
            return await watch.until(read, timeout)

    @contextlib.contextmanager
    def watching(self, run_id: str) -> Iterator[RunWatch]:
        """Be told when `run_id` may have ended or stopped to wait, from now on (before the
        run is even queued: a caller that queues it inside the block misses nothing)."""
        watch = RunWatch(asyncio.Event(), self.settings.poll_seconds)
        self._run_waiters.setdefault(run_id, set()).add(watch.flag)
        try:
            yield watch
        finally:
            flags = self._run_waiters.get(run_id)
            if flags is not None:
                flags.discard(watch.flag)
                if not flags:
                    del self._run_waiters[run_id]

    def _on_notified(self, channel: str, payload: dict[str, Any]) -> None:
        if channel != "events":
            return
        ended = payload.get("ended")
        if isinstance(ended, list):  # another process ended these runs: their waiters read
            for run_id in ended:
                for flag in self._run_waiters.get(run_id, ()):
                    flag.set()
            return
        # No list (a reconnect, or too many runs in one commit): every waiter reads its run.
        for flags in self._run_waiters.values():
            for flag in flags:
                flag.set()

    def _on_events(self, events: list[Event]) -> None:
        if not self._run_waiters:
            return
        for event in events:  # only an outcome can end a wait: no read for every step
            if event.type in names.RUN_OUTCOMES and event.run_id in self._run_waiters:
                for flag in self._run_waiters[event.run_id]:
                    flag.set()

    async def pending_questions(self, run_id: str) -> list[InterruptRecord]:
        return await self.store.get_interrupts(run_id, status="pending")

    async def answer(self, interrupt_id: str, answer: Any) -> str:
        """Answer a question (accepted once); the run is queued again. Returns the run id."""
        return await self.store.answer_interrupt(interrupt_id, answer)

    async def cancel(self, run_id: str) -> str:
        return await self.store.cancel_run(run_id)

    async def pause(self, run_id: str, *, app_id: str | None = None) -> str:
        """Pause a run; returns its status: `paused`, or `pausing` while the nodes it executes
        finish (no new node starts; it is `paused` once they are committed)."""
        return await self.store.pause_run(run_id, app_id=app_id)

    async def resume(self, run_id: str, *, app_id: str | None = None) -> str:
        """Resume a paused run where it stopped; returns its status (`queued`, `interrupted`
        while questions are pending, or `running` for a run that was still pausing)."""
        return await self.store.resume_run(run_id, app_id=app_id)

    def subscribe(
        self,
        app_id: str,
        since: int = 0,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> Subscription:
        """Replay the app's events after `since`, then follow new ones live (optionally only
        one session's, run's or artifact's)."""
        return self.bus.subscribe(
            app_id, since, session_id=session_id, run_id=run_id, artifact_id=artifact_id
        )


def _check_input(value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise InvalidInput('a run\'s input is a JSON object, e.g. {"name": "Ada"}')
