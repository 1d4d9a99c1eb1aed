"""Workers: claim queued runs, hold their lease with a heartbeat, and execute them.

`Worker` runs N concurrent slots in this process. A sweeper re-queues runs whose lease ran
out (their worker died) at start-up and then every half lease, and every
PODIUM_RETENTION_SWEEP_SECONDS prunes what the retention policies let go, in batches of
short transactions (`podium.engine.retention`).

The same loop fires the schedules that are due (`podium.engine.schedules`) every
`PODIUM_SCHEDULE_POLL_SECONDS`, reading the time from the worker's `clock` (injectable, for
tests); each due time fires once however many worker processes sweep. Another loop delivers
webhooks from their outbox every `PODIUM_WEBHOOK_POLL_SECONDS` (`podium.webhooks`).

Slots are shared fairly across apps: a claim skips an app that already holds its cap of slots
(`PODIUM_APP_MAX_CONCURRENT_RUNS`, counted over every process on the database) and prefers
the app holding the fewest. A run waiting out a long retry back-off, an answer or a resume is
queued or waiting, not running: it holds no slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podium import logs
from podium.config import Settings
from podium.engine import schedules
from podium.engine.executor import Drained, RunExecution
from podium.engine.flow import Flow
from podium.engine.graph import Graph, compile_flow
from podium.engine.registry import Registry, RuntimeServices, engine_registry
from podium.engine.retention import Retention
from podium.errors import LeaseLost, NotFound, PodiumError, RunCancelled, StoreUnavailable
from podium.events.envelope import Event
from podium.events.waiting import wait_for_event
from podium.ids import new_id
from podium.lru import FLOW_CACHE_SIZE, LRU
from podium.storage.records import Claim, RunRecord
from podium.storage.store import Store
from podium.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger("podium.worker")


class GraphCache:
    """Compiled flows by flow id (a flow version never changes once stored); the
    FLOW_CACHE_SIZE most recently used."""

    def __init__(self, store: Store, registry: Registry | None = None) -> None:
        self.store = store
        self.registry = registry
        self._graphs: LRU[str, Graph] = LRU(FLOW_CACHE_SIZE)

    def put(self, flow_id: str, graph: Graph) -> None:
        self._graphs.put(flow_id, graph)

    async def get(self, flow_id: str) -> Graph:
        graph = self._graphs.get(flow_id)
        if graph is None:
            record = await self.store.get_flow(flow_id)
            base = Path(record.base_path) if record.base_path else None
            graph = compile_flow(
                Flow.model_validate(record.definition), base, registry=self.registry
            )
            self._graphs.put(flow_id, graph)
        return graph


async def cached_outputs(store: Store, graph: Graph, run: RunRecord) -> dict[str, dict[str, Any]]:
    """Outputs that nodes upstream of a re-execution trigger take instead of running (§3.12)."""
    options = run.options or {}
    if options.get("fork_done") is not None:
        # A fork (POST /runs/{id}/fork): the nodes finished by the fork's step are done; their
        # outputs are already in the forked state, so they merge nothing again.
        return {node: {} for node in options["fork_done"] if node in graph.nodes}
    trigger = options.get("trigger_node_id")
    if trigger is None:
        return {}
    if trigger not in graph.nodes:
        raise NotFound(f"trigger_node_id {trigger!r} is not a node of flow {graph.flow.name!r}")
    outputs: dict[str, dict[str, Any]] = {}
    source = options.get("from_run_id")
    if source:
        for step in await store.get_steps(source):  # later iterations overwrite earlier ones
            if step.status in ("succeeded", "cached"):
                outputs[step.node_id] = step.output or {}
    outputs.update(options.get("cached_outputs") or {})
    rerun = graph.descendants(trigger) | {trigger}
    return {node: out for node, out in outputs.items() if node not in rerun and node in graph.nodes}


class Worker:
    """N slots that claim and execute runs until stopped (or until idle)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        concurrency: int | None = None,
        graphs: GraphCache | None = None,
        publish_live: Callable[[Event], None] | None = None,
        services: RuntimeServices | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        # What time it is for schedules and webhook retries (tests drive their own clock).
        self.clock = clock
        self.webhooks = WebhookDispatcher(store, settings)
        self.settings = settings
        self.concurrency = concurrency if concurrency is not None else settings.workers
        # The services node code reaches; the engine's own node types only, when none given.
        self.services = services or RuntimeServices(engine_registry(), None)
        self.graphs = graphs or GraphCache(store, self.services.registry)
        self.publish_live = publish_live
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{new_id('wrk')[-8:]}"
        # At most this many runs of one app hold a slot at once, across processes.
        self.app_cap = settings.app_max_concurrent_runs or max(self.concurrency // 2, 1)
        # Set (and replaced) whenever a run is queued: a slot takes the current one before it
        # claims, so a run queued during the claim still wakes it.
        self._wake = asyncio.Event()
        self._busy = 0
        self._stopping = False
        self._executions: set[RunExecution] = set()
        store.add_listener(self._on_events)
        store.add_remote_listener(self._on_notified)

    def _on_notified(self, channel: str, _payload: dict[str, object]) -> None:
        if channel == "runs":  # another process queued a run
            self.wake()

    def _on_events(self, events: list[Event]) -> None:
        if any(event.type == "run.queued" for event in events):
            self.wake()

    def wake(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def run(self, *, until_idle: bool = False) -> None:
        """Process runs; with `until_idle`, return once nothing is left to claim."""
        await self.store.requeue_expired()
        sweepers = [
            asyncio.create_task(self._sweep()),
            asyncio.create_task(self._schedules()),
            asyncio.create_task(self._webhooks()),
        ]
        try:
            slots = [self._slot(until_idle) for _ in range(max(self.concurrency, 1))]
            await asyncio.gather(*slots)
        finally:
            for sweeper in sweepers:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            self.store.remove_listener(self._on_events)
            self.store.remove_remote_listener(self._on_notified)

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    def drain(self) -> None:
        """Claim no run any more, and hand back each executing run once the steps it is
        executing are committed (`run` returns when all are); cancelling `run` after a grace
        period releases the runs whose steps did not finish."""
        for execution in self._executions:
            execution.draining = True
        self.stop()

    async def _sweep(self) -> None:
        every = self.settings.retention_sweep_seconds
        prune_at = time.monotonic() + every
        while True:
            await asyncio.sleep(max(self.settings.lease_seconds / 2, 0.05))
            try:
                await self.store.requeue_expired()
            except Exception:  # pragma: no cover - logged, the sweeper keeps going
                log.exception("re-queueing expired runs failed")
            if every and time.monotonic() >= prune_at:
                prune_at = time.monotonic() + every
                try:
                    report = await Retention(self.store, self.settings).prune()
                    if any(report.totals.values()):
                        log.info("retention pruned %s", report.totals)
                except Exception:  # pragma: no cover - logged, the sweeper keeps going
                    log.exception("pruning by the retention policies failed")

    async def fire_schedules(self) -> list[str]:
        """Fire the schedules due at `self.clock()`; the outcomes (`started`, `skipped`…)."""
        return await schedules.fire_due(self.store, self.clock())

    async def _schedules(self) -> None:
        while True:
            await asyncio.sleep(max(self.settings.schedule_poll_seconds, 0.05))
            try:
                await self.fire_schedules()
            except Exception:  # pragma: no cover - logged, the loop keeps going
                log.exception("firing schedules failed")

    async def deliver_webhooks(self) -> list[str]:
        """Queue new events for the webhooks and send the deliveries due at `self.clock()`;
        the statuses the deliveries sent ended in (`succeeded`, `pending`, `failed`)."""
        return await self.webhooks.run_once(self.clock())

    async def _webhooks(self) -> None:
        while True:
            await asyncio.sleep(max(self.settings.webhook_poll_seconds, 0.05))
            try:
                await self.deliver_webhooks()
            except Exception:  # pragma: no cover - logged, the loop keeps going
                log.exception("delivering webhooks failed")

    async def _slot(self, until_idle: bool) -> None:
        while not self._stopping:
            wake = self._wake
            try:
                claim = await self.store.claim_next_run(
                    self.worker_id, self.settings.lease_seconds, app_cap=self.app_cap
                )
            except StoreUnavailable as exc:  # nothing was claimed: try again after a poll
                log.warning("claiming a run failed: %s", exc)
                await asyncio.sleep(self.settings.poll_seconds)
                continue
            if claim is not None:
                self._busy += 1
                try:
                    await self.execute_claim(claim)
                finally:
                    self._busy -= 1
                if claim.more_queued or until_idle:
                    continue  # claim again at once; otherwise wait for a run.queued
            elif until_idle and self._busy == 0 and await self.store.next_retry_at() is None:
                self.wake()  # let the other idle slots see it too
                return
            await wait_for_event(wake, self.settings.poll_seconds)

    async def execute_claim(self, claim: Claim) -> str | None:
        """Execute one claimed run while a heartbeat renews its lease; the lines logged
        meanwhile carry its ids."""
        run = claim.run
        bound = logs.bind(app_id=run.app_id, session_id=run.session_id, run_id=run.id)
        try:
            status = await self._execute_claim(claim)
        finally:
            logs.unbind(bound)
        return status

    async def _execute_claim(self, claim: Claim) -> str | None:
        run = claim.run
        try:
            graph = await self.graphs.get(run.flow_id)
            cache = await cached_outputs(self.store, graph, run)
        except (PodiumError, ImportError) as exc:  # the flow cannot run any more: say why
            return await self._fail_unrunnable(claim, str(exc))
        execution = RunExecution(
            self.store, claim, graph, self.settings, cache, self.publish_live, self.services
        )
        execution.draining = self._stopping
        task = asyncio.create_task(execution.execute())
        heartbeat = asyncio.create_task(self._heartbeat(claim, task))
        self.store.active_runs += 1
        self._executions.add(execution)
        try:
            status = await task
            log.info(
                "run %s: %s (steps: %d)",
                run.id,
                status,
                execution.steps_count,
                extra={"status": status, "steps": execution.steps_count},
            )
            if execution.retry_at is not None:  # claim it again as soon as it is due
                delay = max(execution.retry_at - time.time(), 0)
                asyncio.get_running_loop().call_later(delay, self.wake)
            return status
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # This worker is stopping: hand the run back now rather than after its lease.
                # What it finished is committed; the step it was in runs again elsewhere.
                with contextlib.suppress(Exception):
                    await self.store.release_run(run.id, run.fence)
                raise
            log.info(
                "run %s stopped on this worker: its lease was lost or it was cancelled", run.id
            )
            return None
        except (LeaseLost, RunCancelled) as exc:
            log.info("run %s stopped on this worker: %s", run.id, exc)
            return None
        except StoreUnavailable as exc:
            # What it had not committed is lost; the run keeps its lease until it expires,
            # then the sweeper queues it again and a worker goes on from the last commit.
            log.warning("run %s stopped on this worker: %s", run.id, exc)
            return None
        except Drained:
            # Handed back at once: another worker (or this one after a restart) goes on.
            await self.store.release_run(run.id, run.fence)
            log.info("run %s handed back: this worker is draining", run.id)
            return None
        finally:
            self._executions.discard(execution)
            self.store.active_runs -= 1
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, claim: Claim, task: asyncio.Task[str]) -> None:
        interval = max(self.settings.lease_seconds / 3, 0.02)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.store.renew_lease(
                    claim.run.id, claim.run.fence, self.settings.lease_seconds
                )
            except (LeaseLost, RunCancelled):
                task.cancel()
                return
            except StoreUnavailable as exc:  # the next beat tries again, within the lease
                log.warning("renewing the lease of run %s failed: %s", claim.run.id, exc)

    async def _fail_unrunnable(self, claim: Claim, error: str) -> str:
        from podium.engine.scheduler import Progress
        from podium.storage.records import StepCommit

        run = claim.run
        await self.store.commit_step(
            StepCommit(
                run_id=run.id,
                app_id=run.app_id,
                session_id=run.session_id,
                fence=run.fence,
                progress=run.progress or Progress(edges=[]).to_json(),
                steps_count=run.steps_count,
                elapsed=run.elapsed,
                run_status="failed",
                run_error=error,
                max_event_bytes=self.settings.max_event_bytes,
            )
        )
        return "failed"
