"""The loop that runs one claimed run: starts ready nodes, commits each step's end.

Scheduling decisions come from `scheduler` (pure); this module does the I/O: it runs node
code concurrently, merges outputs into the state, and writes every step's end in one
transaction with the fencing token of its claim.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from podium import tracing
from podium.config import Settings
from podium.engine import scheduler
from podium.engine.caps import run_limits
from podium.engine.context import MISSING, Context, Suspend, check_node_result
from podium.engine.graph import Graph
from podium.engine.node_types import NodeResult
from podium.engine.reducers import merge_into_state
from podium.engine.registry import RuntimeServices, engine_registry
from podium.errors import LeaseLost, RunCancelled, StoreUnavailable
from podium.events import names
from podium.events.envelope import Event
from podium.ids import new_id, step_id
from podium.storage.event_bounds import OMITTABLE, run_url, step_url, within_cap
from podium.storage.records import Claim, InterruptRecord, StepCommit, StepRecord
from podium.storage.script import dumps
from podium.storage.store import Store

YIELD_EVERY = 8
EMITTED = "__emitted__:"  # the recorded call that counts a waiting step's written events
# A recorded call per failed attempt whose retry waits out a long back-off, so that the
# attempts go on counting when another claim of the run retries the step.
FAILED_ATTEMPT = "__attempt__:"
# A retry back-off at least this long gives the worker slot back: the run is queued again
# with a not-before time (docs/engine.md, Retries). A shorter one sleeps in place: it holds the
# slot no longer than a slow node would, and spares a commit, a claim (which reads the state
# and every recorded call again) and a wait behind the queue.
REQUEUE_BACKOFF_SECONDS = 0.5


@dataclass(slots=True)
class NodeOutcome:
    node_id: str
    iteration: int
    started_at: float
    attempt: int
    result: NodeResult | None = None
    error: str | None = None
    suspend: Suspend | None = None
    retry_at: float | None = None  # the attempt failed; the next may start then
    output_json: str | None = None  # the result's output as JSON text, made by its check
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    emitted: int = 0  # events emitted by the step so far, counting those written before


class Drained(Exception):
    """The worker is draining: the steps that were executing are committed and the run is
    handed back (released) before the next one starts."""


class RunExecution:
    """Executes one claimed run until it ends, waits for an answer, pauses, or loses its
    lease."""

    def __init__(
        self,
        store: Store,
        claim: Claim,
        graph: Graph,
        settings: Settings,
        cached_outputs: dict[str, dict[str, Any]] | None = None,
        publish_live: Any = None,
        services: RuntimeServices | None = None,
    ) -> None:
        self.store = store
        # What node code reaches beyond the engine (`ctx.memory`, the agent runtime…).
        self.services = services or RuntimeServices(engine_registry(), None)
        self.run = claim.run
        self.graph = graph
        self.settings = settings
        self.calls = claim.calls
        self.cached = cached_outputs or {}
        self.publish_live = publish_live
        self.reducers = graph.flow.state.reducers
        self.max_steps, self.timeout = run_limits(graph.flow, settings)
        self.max_running = max(settings.max_fan_out, 1)  # nodes of this run executing at once
        self._clock_start = time.monotonic()
        # The run's timeout while a node runs inline (see `_run_inline`).
        self._deadline: asyncio.TimerHandle | None = None
        self._inline: asyncio.Task[Any] | None = None
        self._cut = False  # the timeout cancelled the node running inline
        # Learnt from the commits: the run was asked to pause, so no new node starts.
        self._pause_requested = False
        # Set by a draining worker: no step starts any more (see `Drained`).
        self.draining = False
        # Steps waiting out a retry back-off: node → when its next attempt may start.
        self.backoff: dict[str, float] = {}
        self.failed_attempts = failed_attempts(self.calls)
        self._unsaved_calls: list[tuple[str, int, str, Any]] = []
        self._retry: dict[str, Any] | None = None  # the latest retry, for run.queued
        self.retry_at: float | None = None  # set when the run was queued to wait out a retry
        self.steps_count = self.run.steps_count
        self.resumed = self.run.progress is not None  # an earlier claim ran part of it
        options = self.run.options or {}
        # The editor protocol (docs/api.md): every node's `node.pending` before the first one
        # starts, and every node's output in `run.succeeded`.
        self.announce_pending = bool(options.get("pending_statuses")) and self.run.progress is None
        self.include_outputs = bool(options.get("include_outputs"))
        if self.run.progress is None:
            self.progress = scheduler.Progress.start(graph)
            start = (self.run.options or {}).get("start_state")  # a fork's state
            state = json.loads(claim.state_json) if start is None else start
            self.state = merge_into_state(state, self.run.input or {}, self.reducers)
            self.state_json: str = dumps(self.state)
            self._state_dirty = True
        else:
            self.progress = scheduler.Progress.from_json(self.run.progress)
            scheduler.resume_waiting(self.progress)
            self.state_json = claim.state_json
            self.state = json.loads(claim.state_json)
            self._state_dirty = False

    # --- recorded calls (used by Context) ---------------------------------------------

    def recorded_call(self, node_id: str, iteration: int, key: str) -> Any:
        return self.calls.get((node_id, iteration, key), MISSING)

    def events_written(self, node_id: str, iteration: int) -> int:
        """How many events the step wrote when it last waited for an answer (0 if never)."""
        written = 0
        for (node, number, key), value in self.calls.items():
            if node == node_id and number == iteration and key.startswith(EMITTED):
                written = max(written, int(value))
        return written

    async def record_call(self, node_id: str, iteration: int, key: str, result: Any) -> None:
        await self.store.record_call(self.run.id, self.run.fence, node_id, iteration, key, result)
        self.calls[(node_id, iteration, key)] = result

    # --- the loop -----------------------------------------------------------------------

    def _elapsed(self) -> float:
        return self.run.elapsed + (time.monotonic() - self._clock_start)

    async def execute(self) -> str:
        """Run to the end or to a wait; returns the run's status as committed."""
        run = self.run
        with tracing.run_span(
            run.app_id, run.session_id, run.id, self.graph.flow.name, resumed=self.resumed
        ) as span:
            status = await self._execute()
            tracing.set_attribute(span, "podium.run.status", status)
            tracing.set_attribute(span, "podium.run.steps", self.steps_count)
            return status

    async def _execute(self) -> str:
        running: dict[asyncio.Task[NodeOutcome], str] = {}
        if self.announce_pending:
            # A commit of its own, so that the statuses come before any node's (node.started
            # is published live at once); only runs that asked for it pay the round trip.
            pending = [self._event(names.NODE_PENDING, {"node_id": n}) for n in self.graph.nodes]
            await self._commit([], pending, None, None, [])
            self.announce_pending = False
        try:
            return await self._loop(running)
        finally:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _loop(self, running: dict[asyncio.Task[NodeOutcome], str]) -> str:
        while True:
            self._end_due_backoffs()
            names_running = set(running.values()) | self.backoff.keys()
            if self.draining and not running:
                raise Drained  # what executed is committed; the rest runs elsewhere
            if self._pause_requested or self.draining:
                # The nodes still executing finish and are committed; none starts meanwhile.
                if not running:
                    paused = await self._commit([], [], "paused", None, [])
                    if paused is not None:
                        return paused
                    continue  # the request was withdrawn: go on
                ready = []
            else:
                ready = scheduler.ready_nodes(self.graph, self.progress, names_running)
                ready = ready[: self.max_running - len(running)]  # the others start later
            for node_id in ready:
                if node_id in self.cached:
                    status = await self._complete_cached(node_id, names_running)
                    if status is not None:
                        return status
                    break  # the graph changed: look for ready nodes again
                if self.steps_count + len(running) >= self.max_steps:
                    return await self._fail_run(
                        f"run exceeded max_steps {self.max_steps}; raise limits.max_steps or "
                        "check for a runaway loop"
                    )
                self._live(names.NODE_STARTED, node_id)
                if not running and len(ready) == 1:
                    # A lone ready node (a chain) runs in this task: no task to schedule.
                    inline = await self._run_inline(node_id)
                    if inline is None:
                        return await self._fail_timeout()
                    status = await self._finish([inline], set())
                    if status is not None:
                        return status
                    if self.steps_count % YIELD_EVERY == 0:
                        # Trivial nodes with commits on the loop thread never suspend: let
                        # the other tasks (heartbeat, API) run now and then.
                        await asyncio.sleep(0)
                    break
                task = asyncio.create_task(self._run_node(node_id))
                running[task] = node_id
                names_running.add(node_id)
            else:
                if not running:
                    if self.backoff:
                        status = await self._wait_out_backoff()
                        if status is not None:
                            return status
                        continue
                    outcome = scheduler.run_outcome(self.graph, self.progress, frozenset())
                    if outcome is not None:
                        return await self._end_without_step(outcome)
                    continue
                remaining = self.timeout - self._elapsed()
                until_retry = self._until_next_retry()
                wait = remaining if until_retry is None else min(remaining, until_retry)
                done, _ = await asyncio.wait(
                    running, timeout=max(wait, 0), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if until_retry is None or remaining <= until_retry:
                        return await self._fail_timeout()
                    continue  # a retry is due: the loop starts it
                for task in done:
                    running.pop(task)
                # Steps that finished together are committed together, in graph order; each
                # is still committed before any node that depends on it starts.
                outcomes = sorted(
                    (task.result() for task in done), key=lambda o: self.graph.rank[o.node_id]
                )
                status = await self._finish(outcomes, set(running.values()))
                if status is not None:
                    return status

    async def _run_inline(self, node_id: str) -> NodeOutcome | None:
        """Run one node in this task under the run's timeout; None when the timeout passed.

        One timer for the whole execution (`_on_deadline`) rather than an `asyncio.timeout`
        per step (~4 µs each, a good part of a trivial step's cost): it cancels this task only
        while a node runs inline, and that cancellation is told apart from any other as
        `asyncio.timeout` tells its own (the task's `cancelling()` count)."""
        remaining = self.timeout - self._elapsed()
        if remaining <= 0:
            return None
        task = asyncio.current_task()
        assert task is not None
        if self._deadline is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_at(loop.time() + remaining, self._on_deadline)
        cancelling = task.cancelling()
        self._inline = task
        try:
            outcome = await self._run_node(node_id)
        except asyncio.CancelledError:
            if self._cut and task.uncancel() <= cancelling:
                return None  # the run's timeout, not a cancellation from outside
            raise
        finally:
            self._inline = None
        if self._cut:  # the node swallowed the timeout's cancellation and ended anyway
            task.uncancel()
            return None
        return outcome

    def _on_deadline(self) -> None:
        """The run's timeout passed: a node running inline is cancelled (a step that is
        committing is not; the next one finds no time left)."""
        self._deadline = None
        if self._inline is not None:
            self._cut = True
            self._inline.cancel()

    async def _fail_timeout(self) -> str:
        return await self._fail_run(
            f"run exceeded its timeout of {self.timeout:g}s; raise limits.timeout_seconds"
        )

    async def _run_node(self, node_id: str) -> NodeOutcome:
        node = self.graph.nodes[node_id]
        node_type = self.graph.node_types[node_id]  # compile_flow found it
        config = self.graph.config(node_id, node_type)
        iteration = self.progress.iteration(node_id)
        first = min(self.failed_attempts.get((node_id, iteration), 0) + 1, node.retry.max_attempts)
        outcome = NodeOutcome(node_id, iteration, time.time(), first)
        for attempt in range(first, node.retry.max_attempts + 1):
            outcome.attempt = attempt
            ctx = Context(self, node_id, iteration, node.config, self.state_json)
            # A span per attempt; it ends when the attempt does (a wait for an answer too).
            with tracing.step_span(self.run.id, node_id, iteration, attempt) as span:
                try:
                    if node.timeout_seconds is None:
                        result = await node_type.run(ctx, config)
                    else:
                        async with asyncio.timeout(node.timeout_seconds):
                            result = await node_type.run(ctx, config)
                    # The JSON boundary and the state-size cap.
                    outcome.output_json = check_node_result(ctx, result)
                    outcome.result, outcome.events = result, ctx.events
                    if span is not None:
                        span.set_attribute("podium.step.status", "succeeded")
                    return outcome
                except Suspend as suspend:
                    outcome.suspend, outcome.events = suspend, ctx.events
                    outcome.emitted = ctx.emitted
                    if span is not None:
                        span.set_attribute("podium.step.status", "interrupted")
                    return outcome
                except (LeaseLost, RunCancelled, StoreUnavailable):
                    raise  # not the node's failure: the run stops on this worker
                except TimeoutError:
                    outcome.error = (
                        f"node {node_id!r} took longer than its timeout of "
                        f"{node.timeout_seconds:g}s"
                    )
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    outcome.error = error
                if span is not None:
                    span.set_attribute("podium.step.status", "failed")
                    tracing.set_error(span, outcome.error)
            if attempt < node.retry.max_attempts and node.retry.backoff_seconds:
                delay = node.retry.backoff_seconds * 2 ** (attempt - 1)
                if delay >= REQUEUE_BACKOFF_SECONDS:
                    outcome.retry_at = time.time() + delay
                    return outcome
                await asyncio.sleep(delay)
        return outcome

    # --- retries that wait out a back-off without holding the slot --------------------

    def _wait_for_retry(self, outcome: NodeOutcome) -> None:
        """A failed attempt whose retry comes after a long back-off: recorded with the next
        commit, and the node starts again once the back-off has passed (here, or after the run
        was queued again)."""
        assert outcome.retry_at is not None
        key = (outcome.node_id, outcome.iteration)
        self.failed_attempts[key] = outcome.attempt
        self.backoff[outcome.node_id] = outcome.retry_at
        self._retry = {
            "node_id": outcome.node_id,
            "attempt": outcome.attempt,
            "error": outcome.error,
        }
        self._unsaved_calls.append(
            (*key, f"{FAILED_ATTEMPT}{outcome.attempt}", {"error": outcome.error})
        )

    def _end_due_backoffs(self) -> None:
        if self.backoff:
            now = time.time()
            for node_id, due in list(self.backoff.items()):
                if due <= now:
                    del self.backoff[node_id]

    def _until_next_retry(self) -> float | None:
        return min(self.backoff.values()) - time.time() if self.backoff else None

    async def _wait_out_backoff(self) -> str | None:
        """Only retries are left to start: sleep a short back-off in place; after a long one
        the run gives its slot back, queued until the earliest retry is due (still waiting
        for an answer if another branch asked one). The back-off counts towards the run's
        timeout, as it did when it slept in place. Returns the run's status when it stopped."""
        due = min(self.backoff.values())
        delay = due - time.time()
        if self._elapsed() + max(delay, 0) > self.timeout:
            return await self._fail_timeout()
        if delay < REQUEUE_BACKOFF_SECONDS:
            await asyncio.sleep(max(delay, 0))
            return None
        waiting = scheduler.WAITING in self.progress.nodes.values()
        self.retry_at = due
        return await self._commit(
            [], [], "interrupted" if waiting else "queued", None, [], available_at=due
        )

    async def _finish(self, outcomes: list[NodeOutcome], running: set[str]) -> str | None:
        """Apply finished nodes to the progress and state, and commit them in one transaction."""
        steps: list[StepRecord] = []
        events: list[Event] = []
        interrupts: list[InterruptRecord] = []
        failure: str | None = None
        for outcome in outcomes:
            if outcome.retry_at is not None:
                self._wait_for_retry(outcome)
                continue
            limit_error = self._apply(outcome, steps, events, interrupts)
            failure = failure or limit_error
        calls = [
            (o.node_id, o.iteration, EMITTED + o.suspend.call_key, o.emitted)
            for o in outcomes
            if o.suspend is not None and o.emitted
        ]
        if failure is not None:
            for task_node in running | self.backoff.keys():
                self.progress.errors.setdefault(task_node, "stopped: the run failed")
            return await self._commit(steps, events, "failed", failure, interrupts, calls)
        run_status = None
        if not running and not self.backoff:
            run_status = scheduler.run_outcome(self.graph, self.progress, frozenset())
        if not (steps or events or calls or interrupts or run_status):
            # Only retries that wait out a back-off: their failed attempts are written with
            # the next commit (the one that queues the run, or the next step's end).
            return None
        return await self._commit(steps, events, run_status, self._run_error(), interrupts, calls)

    def _apply(
        self,
        outcome: NodeOutcome,
        steps: list[StepRecord],
        events: list[Event],
        interrupts: list[InterruptRecord],
    ) -> str | None:
        """One finished node: the step, its events and question; returns a run-ending error."""
        node_id = outcome.node_id
        self.steps_count += 1
        number = self.steps_count
        event_data: dict[str, Any] = {"node_id": node_id, "step": number}
        if outcome.iteration:
            event_data["iteration"] = outcome.iteration
        output: dict[str, Any] | None = None
        limit_error: str | None = None
        if outcome.result is not None:
            result = outcome.result
            output = result.output
            if output:
                self.state = merge_into_state(self.state, output, self.reducers)
                self._state_dirty = True
            if result.run_output is not None:
                self.progress.output = {**(self.progress.output or {}), **result.run_output}
            change = scheduler.node_succeeded(
                self.graph, self.progress, node_id, output, self.state, result.routes
            )
            status, kind = "succeeded", names.NODE_COMPLETED
            event_data["output"] = output or {}
            limit_error = change.limit_error
        elif outcome.suspend is not None:
            scheduler.node_waiting(self.progress, node_id)
            suspend = outcome.suspend
            interrupt = InterruptRecord(
                id=new_id("int"),
                app_id=self.run.app_id,
                run_id=self.run.id,
                session_id=self.run.session_id,
                node_id=node_id,
                iteration=outcome.iteration,
                call_key=suspend.call_key,
                question=suspend.question,
                choices=suspend.choices,
                schema=suspend.schema,
                status="pending",
                answer=None,
                created_at=time.time(),
                answered_at=None,
                kind=suspend.kind,
                artifact_id=suspend.artifact_id,
            )
            interrupts.append(interrupt)
            event_data |= {"interrupt_id": interrupt.id, "question": suspend.question}
            if suspend.kind != "question":
                event_data["kind"] = suspend.kind
            if suspend.artifact_id is not None:
                event_data["artifact_id"] = suspend.artifact_id
            if suspend.choices is not None:
                event_data["choices"] = suspend.choices
            change = scheduler.Change()
            status, kind = "interrupted", names.NODE_INTERRUPTED
        else:
            change = scheduler.node_failed(
                self.graph, self.progress, node_id, outcome.error or "failed", self.state
            )
            status, kind = "failed", names.NODE_FAILED
            event_data["error"] = outcome.error
        # A node's output is read whole from its step; an error or a question from the run.
        completed = kind == names.NODE_COMPLETED
        fits = completed and self._fits(node_id, outcome.output_json)
        events.append(
            Event(kind, self.run.app_id, self.run.session_id, self.run.id, event_data)
            if fits
            else self._event(kind, event_data, number if completed else None)
        )
        events += [self._event(t, d) for t, d in outcome.events]
        events += [self._event(names.NODE_SKIPPED, {"node_id": n}) for n in change.skipped]
        steps.append(
            StepRecord(
                id=step_id(self.run.id, number),
                run_id=self.run.id,
                node_id=node_id,
                iteration=outcome.iteration,
                attempt=outcome.attempt,
                status=status,
                output=output,
                error=outcome.error,
                started_at=outcome.started_at,
                ended_at=time.time(),
                number=number,
                output_json=outcome.output_json if output else None,
            )
        )
        return limit_error

    def _fits(self, node_id: str, output_json: str | None) -> bool:
        """Whether a `node.completed` event with this output is surely within the event cap,
        from the output's JSON text: its other keys are the node id, the step number and the
        iteration (a character is at most 6 characters of JSON and 4 bytes of UTF-8)."""
        cap = self.settings.max_event_bytes
        if cap is None:
            return True
        return 4 * (len(output_json or "{}") + 6 * len(node_id) + 80) <= cap

    async def _complete_cached(self, node_id: str, running: set[str]) -> str | None:
        """A node upstream of a re-execution trigger takes its cached output instead of running."""
        output = self.cached[node_id]
        if output:
            self.state = merge_into_state(self.state, output, self.reducers)
            self._state_dirty = True
        change = scheduler.node_succeeded(self.graph, self.progress, node_id, output, self.state)
        now = time.time()
        self.steps_count += 1
        number = self.steps_count
        step = StepRecord(
            step_id(self.run.id, number),
            self.run.id,
            node_id,
            0,
            0,
            "cached",
            output,
            None,
            now,
            now,
            number,
        )
        completed = {"node_id": node_id, "step": number, "cached": True, "output": output or {}}
        events = [self._event(names.NODE_COMPLETED, completed, number)]
        events += [self._event(names.NODE_SKIPPED, {"node_id": n}) for n in change.skipped]
        run_status = None
        if not running:
            run_status = scheduler.run_outcome(self.graph, self.progress, frozenset())
        return await self._commit([step], events, run_status, self._run_error(), [])

    def _run_error(self) -> str | None:
        if not self.progress.errors:
            return None
        node_id, error = next(iter(self.progress.errors.items()))
        return f"node {node_id!r} failed: {error}"

    async def _fail_run(self, error: str) -> str:
        await self._commit([], [], "failed", error, [])
        return "failed"

    async def _end_without_step(self, outcome: str) -> str:
        return await self._commit([], [], outcome, self._run_error(), []) or outcome

    async def _commit(
        self,
        steps: list[StepRecord],
        events: list[Event],
        run_status: str | None,
        run_error: str | None,
        interrupts: list[InterruptRecord],
        calls: list[tuple[str, int, str, Any]] | None = None,
        available_at: float | None = None,
    ) -> str | None:
        """Commit the steps; returns the run's status when it ended, waits or paused (a pause
        request wins over waiting), None while it goes on. `available_at`: the run stops to
        wait out a retry back-off until then."""
        if run_status is not None and run_status != "failed":
            run_error = None
        if available_at is None and run_status == "paused" and self.backoff:
            available_at = min(self.backoff.values())  # resumed, it still waits out its retry
        waited = 0.0 if available_at is None else max(available_at - time.time(), 0)
        calls = [*self._unsaved_calls, *(calls or [])]
        node_outputs = None
        if run_status == "succeeded" and self.include_outputs:
            node_outputs = await self._node_outputs(steps)
        commit = StepCommit(
            run_id=self.run.id,
            app_id=self.run.app_id,
            session_id=self.run.session_id,
            fence=self.run.fence,
            progress=self.progress.to_json(),
            steps_count=self.steps_count,
            elapsed=self._elapsed() + waited,
            steps=steps,
            state_json=None,
            events=events,
            interrupts=interrupts,
            calls=calls,
            run_status=run_status,
            run_output=self.progress.output if run_status == "succeeded" else None,
            node_outputs=node_outputs,
            run_error=run_error,
            available_at=available_at,
            retry=self._retry if available_at is not None else None,
            max_event_bytes=self.settings.max_event_bytes,
        )
        if self._state_dirty:
            self.state_json = dumps(self.state)
            commit.state_json = self.state_json
        committed = await self.store.commit_step(commit)
        self._unsaved_calls.clear()
        self._state_dirty = False
        self._pause_requested = committed.pause_requested
        return committed.run_status

    async def _node_outputs(self, steps: list[StepRecord]) -> dict[str, Any]:
        """Every node's latest output (committed steps, then `steps` about to be): what
        `run.succeeded` carries for a run started with `include_outputs`."""
        outputs: dict[str, Any] = {}
        for step in [*await self.store.get_steps(self.run.id), *steps]:
            if step.status in ("succeeded", "cached"):
                outputs[step.node_id] = step.output or {}
        return outputs

    def _event(self, kind: str, data: dict[str, Any], step: int | None = None) -> Event:
        """An engine event of this run, within PODIUM_MAX_EVENT_BYTES (an output, an error or
        a question that would make it larger is left out: the step's or the run's page has
        it)."""
        app_id, run_id = self.run.app_id, self.run.id
        cap = self.settings.max_event_bytes
        if cap is not None and not data.keys().isdisjoint(OMITTABLE):
            read = run_url(app_id, run_id) if step is None else step_url(app_id, run_id, step)
            data = within_cap(data, cap, read)
        return Event(kind, app_id, self.run.session_id, run_id, data)

    def _live(self, kind: str, node_id: str) -> None:
        if self.publish_live is not None:
            self.publish_live(self._event(kind, {"node_id": node_id}))


def failed_attempts(calls: dict[tuple[str, int, str], Any]) -> dict[tuple[str, int], int]:
    """(node, iteration) → the attempts that failed before the run was queued to retry."""
    failed: dict[tuple[str, int], int] = {}
    for node_id, iteration, key in calls:
        if key.startswith(FAILED_ATTEMPT):
            number = int(key.removeprefix(FAILED_ATTEMPT))
            failed[(node_id, iteration)] = max(failed.get((node_id, iteration), 0), number)
    return failed
