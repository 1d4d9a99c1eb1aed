"""Flows, sessions and runs of one app: what the API's routes call.

Every method takes the app's id and reads or writes only that app's objects: an id of another
app is `NotFound`, the same as an id that does not exist.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import json_merge_patch

from podium import effects, jsonvalue
from podium.engine.caps import Caps, over_cap, refuse
from podium.engine.flow import Flow
from podium.engine.loader import parse_flow
from podium.engine.reducers import merge_into_state
from podium.engine.runtime import WAITING_OR_ENDED, Podium
from podium.errors import Conflict, FlowInvalid, InvalidInput, NotFound
from podium.events.envelope import Event
from podium.flows import shipped_flows
from podium.ids import new_id
from podium.lru import FLOW_CACHE_SIZE, LRU
from podium.sessions.gates import Gates
from podium.storage import queries
from podium.storage.accounts import SHIPPED_APP
from podium.storage.budgets import DECISION_SCHEMA, decision_problem
from podium.storage.records import (
    FlowRecord,
    InterruptRecord,
    RunRecord,
    SessionRecord,
    StepRecord,
)

MAX_WAIT_SECONDS = 300.0


@dataclass(slots=True)
class SessionView:
    session: SessionRecord
    flow: FlowRecord | None
    run: RunRecord | None
    questions: list[InterruptRecord]


@dataclass(slots=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(created_at: float, item_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, item_id]).encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode())
        created_at, item_id = jsonvalue.loads(text, "the cursor")
        return float(created_at), str(item_id)
    except (ValueError, TypeError, InvalidInput):
        raise InvalidInput(
            "cursor is not valid; pass the next_cursor of the previous page"
        ) from None


def encode_step_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["step", number]).encode()).decode()


def decode_step_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        kind, number = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        kind, number = None, None
    if kind != "step" or not isinstance(number, int) or isinstance(number, bool):
        raise InvalidInput("cursor is not valid; pass the steps_next_cursor of the previous page")
    return number


IMPORT_PROBLEM = ": cannot import "
PYTHONPATH_HINT = (
    " (the server imports the modules of python nodes from its PYTHONPATH: start it with the "
    "module's folder there, e.g. PYTHONPATH=examples/flows "
    "PODIUM_API_PYTHON_MODULES=example_nodes podium serve, or podium serve --dev, which "
    "loads examples/flows/example_nodes.py)"
)


class SessionService:
    """App-scoped flows, sessions and runs."""

    def __init__(self, podium: Podium) -> None:
        self.podium = podium
        self.store = podium.store
        self.shipped_app_id = ""
        self._flows: LRU[str, FlowRecord] = LRU(FLOW_CACHE_SIZE)  # by id (immutable)
        self.gates = Gates(self.store)

    async def open(self) -> None:
        """Register the shipped flows (idempotent: unchanged flows keep their version); once
        per service."""
        if self.shipped_app_id:
            return
        self.shipped_app_id = await self.store.ensure_app(SHIPPED_APP)
        for flow in shipped_flows(self.podium.registry):
            await self.podium.register_flow(flow, app_id=self.shipped_app_id)

    # --- flows ----------------------------------------------------------------------

    async def register_flow(self, app_id: str, definition: Any) -> FlowRecord:
        flow = parse_flow(definition, source="request body")
        self._check_python_nodes(flow)
        try:
            return await self.podium.register_flow(flow, app_id=app_id)
        except FlowInvalid as exc:
            if not any(IMPORT_PROBLEM in problem for problem in exc.problems):
                raise
            # An allowed module the server cannot import: say where the server looks.
            raise FlowInvalid(
                exc.flow_name,
                [
                    problem + PYTHONPATH_HINT if IMPORT_PROBLEM in problem else problem
                    for problem in exc.problems
                ],
            ) from None

    def _check_python_nodes(self, flow: Flow) -> None:
        allowed = self.podium.settings.api_python_modules
        problems = []
        for node in flow.nodes:
            if node.type != "python":
                continue
            module = str(node.config.get("function", "")).partition(":")[0]
            if not any(module == prefix or module.startswith(prefix + ".") for prefix in allowed):
                problems.append(
                    f"node {node.id!r}: module {module!r} is not allowed for flows registered "
                    "through the API; list it in PODIUM_API_PYTHON_MODULES on the server (and "
                    "put its folder on the server's PYTHONPATH; for the examples: "
                    "PYTHONPATH=examples/flows PODIUM_API_PYTHON_MODULES=example_nodes, or "
                    "podium serve --dev)"
                )
        if problems:
            raise FlowInvalid(flow.name, problems)

    async def list_flows(self, app_id: str) -> list[tuple[FlowRecord, bool]]:
        """The app's flows and the shipped ones it does not override: `(record, shipped)`."""
        own: list[FlowRecord] = await self.store.run_read(lambda: queries.latest_flows([app_id]))
        shipped: list[FlowRecord] = await self.store.run_read(
            lambda: queries.latest_flows([self.shipped_app_id])
        )
        names = {record.name for record in own}
        result = [(record, False) for record in own]
        result += [(record, True) for record in shipped if record.name not in names]
        return sorted(result, key=lambda pair: pair[0].name)

    async def get_flow_versions(self, app_id: str, name: str) -> tuple[list[FlowRecord], bool]:
        for owner, shipped in ((app_id, False), (self.shipped_app_id, True)):
            versions: list[FlowRecord] = await self.store.run_read(
                lambda owner=owner: queries.flow_versions(owner, name)  # type: ignore[misc]
            )
            if versions:
                return versions, shipped
        raise NotFound(f"no flow named {name!r} in this app; register it with POST /flows")

    async def find_flow(self, app_id: str, name: str) -> FlowRecord:
        """The newest version of the app's flow `name` (else the shipped one): the id is read,
        the version itself comes from the cache when this process has seen it."""
        flow_id = await self.store.find_flow_id(app_id, name)
        if flow_id is None:
            flow_id = await self.store.find_flow_id(self.shipped_app_id, name)
        if flow_id is None:
            raise NotFound(f"no flow named {name!r} in this app; register it with POST /flows")
        return await self._flow(flow_id)

    async def flow_by_id(self, flow_id: str | None) -> FlowRecord | None:
        return None if flow_id is None else await self._flow(flow_id)

    async def _flow(self, flow_id: str) -> FlowRecord:
        record = self._flows.get(flow_id)
        if record is None:
            record = await self.store.get_flow(flow_id)
            self._flows.put(flow_id, record)
        return record

    # --- sessions -------------------------------------------------------------------

    async def create_session(
        self,
        app_id: str,
        flow: str | dict[str, Any],
        run_input: dict[str, Any],
        *,
        metadata: dict[str, Any] | None,
        user_id: str | None,
        options: dict[str, Any] | None = None,
        wait: float = 0.0,
    ) -> SessionView:
        """Create a session of `flow` (a registered name, or a flow definition) and queue its
        first run; `PrerequisiteNotMet` when the flow is gated and `user_id` has not completed
        what it requires (every way of starting a session comes through here).

        `wait` > 0: the session as it is once that run has ended, waits for an answer or is
        paused, or when `wait` seconds (at most MAX_WAIT_SECONDS) have passed."""
        jsonvalue.check_value(run_input, "the session's input")
        jsonvalue.check_value(metadata, "the session's metadata")
        if isinstance(flow, dict):
            record = await self.register_flow(app_id, flow)
        else:
            record = await self.find_flow(app_id, flow)
        await self.gates.check(app_id, user_id, record.name)
        run_id = new_id("run")
        # Watched before it is queued: the first look at the run is the view it answers with.
        with self.podium.watching(run_id) as watch:
            session_id, _ = await self.store.start_session(
                app_id,
                record.id,
                run_input,
                metadata=metadata,
                user_id=user_id,
                options=options or None,
                run_id=run_id,
            )
            if wait <= 0:
                return await self.get_session(app_id, session_id)

            async def read() -> tuple[str, SessionView]:
                view = await self.get_session(app_id, session_id)
                if view.run is not None and view.run.id == run_id:
                    return view.run.status, view
                # Another run was queued on the session since: ours is read apart.
                run = await self.store.get_run(run_id)
                if run.status in WAITING_OR_ENDED:
                    view = await self.get_session(app_id, session_id)
                return run.status, view

            return await watch.until(read, min(wait, MAX_WAIT_SECONDS), queued=True)

    async def get_session(self, app_id: str, session_id: str) -> SessionView:
        session, run, questions = await self.store.run_read(
            lambda: queries.session_view(app_id, session_id)
        )
        return SessionView(session, await self.flow_by_id(session.flow_id), run, questions)

    async def list_sessions(
        self,
        app_id: str,
        *,
        flow: str | None,
        status: str | None,
        user_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        before = decode_cursor(cursor)
        records: list[SessionRecord] = await self.store.run_read(
            lambda: queries.list_sessions(
                app_id,
                flow_name=flow,
                status=status,
                user_id=user_id,
                limit=limit + 1,
                before=before,
            )
        )
        more = len(records) > limit
        records = records[:limit]
        views = [
            SessionView(record, await self.flow_by_id(record.flow_id), None, [])
            for record in records
        ]
        last = records[-1] if more else None
        return Page(views, encode_cursor(last.created_at, last.id) if last else None)

    async def messages(self, app_id: str, session_id: str, limit: int) -> list[Event]:
        events: list[Event] = await self.store.run_read(
            lambda: queries.session_messages(app_id, session_id, limit)
        )
        return events

    async def history(self, app_id: str, session_id: str) -> list[StepRecord]:
        steps: list[StepRecord] = await self.store.run_read(
            lambda: queries.session_history(app_id, session_id)
        )
        return steps

    async def answer(self, app_id: str, session_id: str, interrupt_id: str, answer: Any) -> str:
        """Answer a question of this session (accepted once); returns the run id."""
        question: InterruptRecord = await self.store.run_read(
            lambda: queries.get_interrupt(app_id, interrupt_id)
        )
        if question.session_id != session_id:
            raise NotFound(f"question {interrupt_id!r} does not exist in session {session_id}")
        if question.kind == "action":
            raise Conflict(
                f"question {interrupt_id} waits for an action on artifact {question.artifact_id}, "
                "not for an answer: send the action to the artifact (POST "
                f"/apps/{app_id}/artifacts/"
                f"{question.artifact_id}/actions, or artifact.action over the WebSocket)",
                details={"artifact_id": question.artifact_id, "actions": question.choices},
            )
        jsonvalue.check_value(answer, "the answer")
        _check_answer(question, answer)
        if question.kind == effects.IN_DOUBT:
            effects.check_decision(answer)
        elif question.kind == "budget":
            problem = decision_problem(answer)
            if problem is not None:
                raise InvalidInput(problem, details={"schema": DECISION_SCHEMA})
            caps = Caps.from_settings(self.podium.settings)
            over = over_cap("max_tokens", answer.get("max_tokens"), "budget_tokens", caps)
            refuse([over] if over else [], hint=" in the decision")
        return await self.store.answer_interrupt(interrupt_id, answer, app_id=app_id)

    async def cancel_session(self, app_id: str, session_id: str) -> list[str]:
        run_ids: list[str] = await self.store.run_read(
            lambda: queries.active_run_ids(app_id, session_id)
        )
        for run_id in run_ids:
            with contextlib.suppress(Conflict):  # it ended meanwhile
                await self.store.cancel_run(run_id, app_id=app_id)
        return run_ids

    async def complete_session(
        self, app_id: str, session_id: str, *, except_run_id: str | None = None
    ) -> None:
        """Mark the session completed (Conflict while a run of it other than `except_run_id`
        is active)."""
        events = await self.store.run_script(
            lambda: queries.complete_session(app_id, session_id, time.time(), except_run_id)
        )
        self.store._published(events)

    async def flow_of_app(self, app_id: str, flow_id: str) -> FlowRecord:
        """A stored flow version by id: the app's own or a shipped one (another app's is
        NotFound, like one that does not exist)."""
        try:
            record = await self.store.get_flow(flow_id)
        except NotFound:
            record = None
        if record is None or record.app_id not in (app_id, self.shipped_app_id):
            raise NotFound(f"no flow with id {flow_id!r} in this app; GET /flows lists them")
        return record

    async def start_execution(
        self,
        app_id: str,
        record: FlowRecord,
        run_input: dict[str, Any],
        *,
        metadata: dict[str, Any] | None,
        user_id: str | None,
        options: dict[str, Any],
        trigger_node_id: str | None = None,
        cached_outputs: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[str, str]:
        """A new session of the stored flow `record` whose first run carries `options` (the
        editor protocol's: docs/api.md) and, with `trigger_node_id`, re-executes from that node
        as `start_run` does; returns `(session_id, run_id)` as soon as the run is queued."""
        jsonvalue.check_value(run_input, "the session's input")
        jsonvalue.check_value(metadata, "the session's metadata")
        jsonvalue.check_value(cached_outputs, "cached_outputs")
        rerun = rerun_options(trigger_node_id, cached_outputs, None)
        await self.gates.check(app_id, user_id, record.name)
        session_id, run_id = await self.store.start_session(
            app_id,
            record.id,
            run_input,
            metadata=metadata,
            user_id=user_id,
            options={**options, **rerun},
        )
        return session_id, run_id

    # --- runs -----------------------------------------------------------------------

    async def start_run(
        self,
        app_id: str,
        session_id: str,
        run_input: dict[str, Any],
        *,
        strategy: str,
        trigger_node_id: str | None = None,
        cached_outputs: dict[str, dict[str, Any]] | None = None,
        from_run_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> str:
        """Queue another run on the session; with `trigger_node_id`, a partial re-execution
        (docs/engine.md); `options`: the editor protocol's (`include_outputs`, …)."""
        jsonvalue.check_value(run_input, "the run's input")
        jsonvalue.check_value(cached_outputs, "cached_outputs")
        await self.store.get_session(session_id, app_id=app_id)
        if from_run_id is not None:
            source = await self.store.get_run(from_run_id, app_id=app_id)
            if source.session_id != session_id:
                raise InvalidInput(f"from_run_id {from_run_id} is a run of another session")
        options = {**(options or {}), **rerun_options(trigger_node_id, cached_outputs, from_run_id)}
        return await self.store.enqueue_run(
            session_id, run_input, options=options or None, strategy=strategy, app_id=app_id
        )

    async def get_run(self, app_id: str, run_id: str) -> RunRecord:
        """The run's record alone (its steps are read a page at a time: `run_steps`)."""
        return await self.store.get_run(run_id, app_id=app_id)

    async def run_steps(self, app_id: str, run_id: str, limit: int, cursor: str | None) -> Page:
        """A page of the run's steps in order; `cursor` is the previous page's next_cursor."""
        await self.store.get_run(run_id, app_id=app_id)
        after = decode_step_cursor(cursor)
        steps: list[StepRecord] = await self.store.run_read(
            lambda: queries.run_steps(run_id, after=after, limit=limit + 1)
        )
        more = len(steps) > limit
        steps = steps[:limit]
        return Page(steps, encode_step_cursor(steps[-1].number) if more else None)

    async def get_step(self, app_id: str, run_id: str, number: int) -> StepRecord:
        """Step `number` of the run (NotFound when the run has no such step)."""
        await self.store.get_run(run_id, app_id=app_id)
        steps: list[StepRecord] = await self.store.run_read(
            lambda: queries.run_steps(run_id, after=number - 1, limit=1)
        )
        if not steps or steps[0].number != number:
            raise NotFound(f"run {run_id} has no step {number}; GET the run to list its steps")
        return steps[0]

    async def wait_run(self, app_id: str, run_id: str, timeout: float) -> RunRecord:
        await self.store.get_run(run_id, app_id=app_id)
        return await self.podium.wait(run_id, timeout=min(max(timeout, 0.0), MAX_WAIT_SECONDS))

    async def cancel_run(self, app_id: str, run_id: str) -> str:
        return await self.store.cancel_run(run_id, app_id=app_id)

    async def pending_questions(self, app_id: str, run_id: str) -> list[InterruptRecord]:
        await self.store.get_run(run_id, app_id=app_id)
        return await self.store.get_interrupts(run_id, status="pending")

    async def fork(
        self, app_id: str, run_id: str, step_id: str, state_patch: dict[str, Any] | None
    ) -> str:
        """A new run on the run's session that starts from the state as of `step_id`, with
        `state_patch` applied (RFC 7396); the nodes finished by that step do not run again."""
        jsonvalue.check_value(state_patch, "state_patch")
        run = await self.store.get_run(run_id, app_id=app_id)
        steps = await self.store.get_steps(run_id)
        step = next((s for s in steps if s.id == step_id), None)
        if step is None:
            raise NotFound(f"step {step_id!r} is not a step of run {run_id}")
        state = await self.state_at(run, step)
        if state_patch:
            state = json_merge_patch.merge(state, state_patch)
            jsonvalue.check_value(state, "the state after state_patch")
        done = sorted(
            {
                s.node_id
                for s in steps
                if s.number <= step.number and s.status in ("succeeded", "cached")
            }
        )
        options = {
            "start_state": state,
            "fork_done": done,
            "forked_from": {"run_id": run_id, "step_id": step_id},
        }
        return await self.store.enqueue_run(
            run.session_id, {}, options=options, strategy="enqueue", app_id=app_id
        )

    async def state_at(self, run: RunRecord, step: StepRecord) -> dict[str, Any]:
        """The session's state just after `step`, replayed from the runs' inputs and the steps'
        outputs through the flow's reducers (steps store what changed, not the whole state)."""
        runs: list[RunRecord] = await self.store.run_read(
            lambda: queries.session_runs(run.session_id)
        )
        state: dict[str, Any] = {}
        for earlier in runs:
            flow = await self.flow_by_id(earlier.flow_id)
            reducers = Flow.model_validate(flow.definition).state.reducers if flow else {}
            start = (earlier.options or {}).get("start_state")
            if start is not None:
                state = dict(start)
            state = merge_into_state(state, earlier.input or {}, reducers)
            for s in await self.store.get_steps(earlier.id):
                if earlier.id == run.id and s.number > step.number:
                    break
                if s.status in ("succeeded", "cached") and s.output:
                    state = merge_into_state(state, s.output, reducers)
            if earlier.id == run.id:
                break
        return state


def _check_answer(question: InterruptRecord, answer: Any) -> None:
    if question.choices and answer not in question.choices:
        raise InvalidInput(
            f"answer {answer!r} is not one of the choices {question.choices}",
            details={"choices": question.choices},
        )


def rerun_options(
    trigger_node_id: str | None,
    cached_outputs: dict[str, dict[str, Any]] | None,
    from_run_id: str | None,
) -> dict[str, Any]:
    """A run's options for a partial re-execution from `trigger_node_id` (none without it)."""
    if trigger_node_id is None:
        if cached_outputs or from_run_id:
            raise InvalidInput("cached_outputs and from_run_id need a trigger_node_id")
        return {}
    options: dict[str, Any] = {
        "trigger_node_id": trigger_node_id,
        "cached_outputs": cached_outputs or {},
    }
    if from_run_id:
        options["from_run_id"] = from_run_id
    return options
