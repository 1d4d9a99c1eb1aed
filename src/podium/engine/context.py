"""The context a node's code receives: state, config, recorded calls, questions, events."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium import effects, jsonvalue
from podium.engine.reducers import merge_into_state
from podium.errors import JSONValueInvalid, LimitExceeded, StateNotJSON
from podium.events.envelope import Event
from podium.storage.script import dumps
from podium.types import NodeAgentMessages, NodeArtifacts, NodeMemory, NodeSessions

if TYPE_CHECKING:
    from podium.config import Settings
    from podium.engine.executor import RunExecution
    from podium.engine.flow import Flow
    from podium.engine.node_types import NodeResult
    from podium.storage.store import Store

_MISSING = object()


class Suspend(BaseException):
    """Raised by `ask_user` when the question has no answer yet: the step waits.

    A BaseException, so that node code catching `Exception` does not swallow it.
    """

    def __init__(
        self,
        question: str,
        choices: list[str] | None,
        schema: dict[str, Any] | None,
        call_key: str,
        *,
        kind: str = "question",
        artifact_id: str | None = None,
    ) -> None:
        super().__init__(question)
        self.question = question
        self.choices = choices
        self.schema = schema
        self.call_key = call_key
        self.kind = kind
        self.artifact_id = artifact_id


def check_json(what: str, value: Any) -> None:
    """Refuse a value node code produced that the JSON boundary refuses (DESIGN §3.9, §8):
    not JSON, nested too deep, a NUL, NaN or an over-long string; the message names the
    place in the value."""
    try:
        jsonvalue.check_value(value, what)
    except JSONValueInvalid as exc:
        raise StateNotJSON(exc.message, details=exc.details) from None


def check_json_object(what: str, value: dict[str, Any]) -> None:
    """`check_json` of a node's output (kept for callers that name the node themselves)."""
    check_json(f"{what} output", value)


def check_node_result(ctx: Context, result: NodeResult) -> str | None:
    """A node's output and run output pass the JSON boundary, and the state they make stays
    under `PODIUM_MAX_STATE_BYTES`; otherwise the node fails with a message saying so.
    Returns the output's JSON text (None for no output), which the step row stores."""
    what = f"node {ctx.node_id!r}"
    check_json(f"{what} output", result.output)
    if result.run_output is not None:
        check_json(f"{what} run output", result.run_output)
    if result.output:
        return check_state_size(ctx, result.output)
    return None


def check_state_size(ctx: Context, output: dict[str, Any]) -> str:
    """Refuse an output that makes the session state larger than `max_state_bytes`; returns
    the output's JSON text."""
    cap = ctx.settings.max_state_bytes
    output_json = dumps(output)
    # The state after the merge is at most the two together (replace and merge drop old
    # values, append adds the new ones), and a character is at most 4 bytes of UTF-8: most
    # outputs need neither the merge nor the encoding to know they fit.
    if 4 * (len(ctx._state_json) + len(output_json)) <= cap:
        return output_json
    merged = merge_into_state(ctx.state, output, ctx._execution.reducers)
    size = len(dumps(merged).encode())
    if size > cap:
        raise LimitExceeded(
            f"node {ctx.node_id!r} would make the session state {size} bytes, over the cap "
            f"of {cap} (PODIUM_MAX_STATE_BYTES); keep large data in artifacts or memory, or "
            "ask the operator to raise the cap",
            details={"setting": "PODIUM_MAX_STATE_BYTES", "cap": cap, "bytes": size},
        )
    return output_json


class Context:
    """What node code sees (DESIGN §3.15). Everything it does outside goes through here."""

    def __init__(
        self,
        execution: RunExecution,
        node_id: str,
        iteration: int,
        config: dict[str, Any],
        state_json: str,
    ) -> None:
        self._execution = execution
        self.node_id = node_id
        self.iteration = iteration
        self.config = config
        self._state_json = state_json
        self._state: dict[str, Any] | None = None
        self._occurrences: dict[str, int] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        # Events this step emitted before it waited for an answer were written then; when it
        # runs again, its first `emitted` events are those, and are not written twice.
        self.emitted = 0
        self._already_written = execution.events_written(node_id, iteration)

    @property
    def app_id(self) -> str:
        return self._execution.run.app_id

    @property
    def session_id(self) -> str:
        return self._execution.run.session_id

    @property
    def run_id(self) -> str:
        return self._execution.run.id

    @property
    def base_path(self) -> Path | None:
        return self._execution.graph.base_path

    @property
    def state(self) -> dict[str, Any]:
        """The state as of this step's start (a private copy: changing it changes nothing)."""
        if self._state is None:
            self._state = json.loads(self._state_json)
        return self._state

    def _call_key(self, key: str) -> str:
        count = self._occurrences.get(key, 0) + 1
        self._occurrences[key] = count
        return key if count == 1 else f"{key}#{count}"

    async def step(
        self,
        key: str,
        fn: Callable[..., Any | Awaitable[Any]],
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run `fn(*args, **kwargs)` once: its JSON result is recorded before the step goes on,
        and when the step runs again (after a crash or an answer) the recorded result is
        returned without calling `fn`.

        The same `key` used again in one step names the next call (`key#2`, `key#3`, …).
        """
        call_key = self._call_key(key)
        recorded = self._execution.recorded_call(self.node_id, self.iteration, call_key)
        if recorded is not _MISSING:
            return recorded
        result = await self._timed(call_key, timeout, fn, *args, **kwargs)
        await self._record(call_key, result)
        return result

    async def _timed(
        self, call_key: str, timeout: float | None, fn: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        limit = timeout or self._execution.settings.call_timeout_seconds
        try:
            async with asyncio.timeout(limit):
                result = fn(*args, **kw)
                if inspect.isawaitable(result):
                    result = await result
        except TimeoutError:
            raise LimitExceeded(
                f"call {call_key!r} in node {self.node_id!r} took longer than its timeout of "
                f"{limit:g}s"
            ) from None
        return result

    async def _record(self, call_key: str, result: Any) -> None:
        check_json(f"the result of call {call_key!r} in node {self.node_id!r}", result)
        await self._execution.record_call(self.node_id, self.iteration, call_key, result)

    def idempotency_key(self, call_key: str) -> str:
        """The idempotency key of the recorded call `call_key` of this step: the same for
        every attempt of it (docs/side-effects.md)."""
        return effects.idempotency_key(self.run_id, self.node_id, self.iteration, call_key)

    async def side_effect(
        self,
        key: str,
        fn: Callable[[Any, str], Any | Awaitable[Any]],
        arguments: Any,
        *,
        name: str | None = None,
        reconcile: Callable[[Any, str], Any | Awaitable[Any]] | None = None,
        settle: Callable[[Any], Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run `fn(arguments, idempotency_key)` once, as a recorded call that is never run
        again blindly: a "started" marker is committed first, and when the process died
        after it and before the result, the step waits with an `in_doubt` interrupt (after
        asking `reconcile(arguments, idempotency_key)`, which returns the same answer or None
        when it cannot tell). The answer `done` records its `result` (through `settle`, when
        given) as the call's; `retry` calls `fn` again with the same key; `fail` fails the
        node with the reason (`SideEffectFailed`)."""
        call_key = self._call_key(key)
        recorded = self._execution.recorded_call(self.node_id, self.iteration, call_key)
        if recorded is not _MISSING:
            return recorded
        ikey = self.idempotency_key(call_key)
        what = name or key
        attempt = 1
        while (
            self._execution.recorded_call(
                self.node_id, self.iteration, effects.started_key(attempt, call_key)
            )
            is not _MISSING
        ):
            # Attempt `attempt` started and has no result: its process died in the call.
            decided_key = effects.doubt_key(attempt, call_key)
            decision = self._execution.recorded_call(self.node_id, self.iteration, decided_key)
            if decision is _MISSING and reconcile is not None:
                found = await self._timed(decided_key, timeout, reconcile, arguments, ikey)
                if found is not None:
                    decision = effects.check_decision(found)
                    await self._record(decided_key, decision)
            if decision is _MISSING:
                raise Suspend(
                    effects.question(what, self.node_id, arguments),
                    None,
                    effects.ANSWER_SCHEMA,
                    decided_key,
                    kind=effects.IN_DOUBT,
                )
            decision = effects.check_decision(decision)
            if decision["action"] == "done":
                result = decision.get("result")
                result = settle(result) if settle is not None else result
                await self._record(call_key, result)
                return result
            if decision["action"] == "fail":
                raise effects.SideEffectFailed(
                    f"{what} (call {call_key!r}) was left in doubt and answered fail: "
                    f"{decision['reason']}"
                )
            attempt += 1  # retry
        marker = {"name": what, "arguments": arguments, "idempotency_key": ikey}
        await self._record(effects.started_key(attempt, call_key), marker)
        result = await self._timed(call_key, timeout, fn, arguments, ikey)
        await self._record(call_key, result)
        return result

    async def ask_user(
        self,
        question: str,
        choices: list[str] | None = None,
        schema: dict[str, Any] | None = None,
        *,
        key: str = "ask_user",
        kind: str = "question",
    ) -> Any:
        """Ask a person; the run waits (holding nothing) and this returns their answer.

        `key` names the question among the step's calls; give one of your own when questions
        are asked from concurrent tasks, whose order is not fixed. `kind`: `question`, or
        `budget` for a decision on a token cap (docs/budgets.md).
        """
        call_key = self._call_key(key)
        answer = self._execution.recorded_call(self.node_id, self.iteration, call_key)
        if answer is not _MISSING:
            return answer
        raise Suspend(question, choices, schema, call_key, kind=kind)

    async def wait_for_action(
        self, artifact_id: str, names: list[str] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """Wait (durably, like a question) until a client sends one of the actions `names`
        (any action when None) on the artifact; returns `{"action", "payload", "actor"}`."""
        call_key = self._call_key(key or f"action:{artifact_id}")
        received = self._execution.recorded_call(self.node_id, self.iteration, call_key)
        if received is not _MISSING:
            return received  # type: ignore[no-any-return]
        wanted = ", ".join(names) if names else "any action"
        raise Suspend(
            f"waiting for {wanted} on artifact {artifact_id}",
            names,
            None,
            call_key,
            kind="action",
            artifact_id=artifact_id,
        )

    def service(self, name: str) -> Any:
        """A service offered to node code by a layer above the engine (`artifacts`,
        `sessions`, `memory`, `agent_messages`), made for this context by the registry."""
        return self._execution.services.registry.context_service(name)(self)

    def runtime_service(self, name: str) -> Any:
        """A service made once per runtime (`agents`, `artifacts`), shared by every run."""
        return self._execution.services.get(name)

    @property
    def artifacts(self) -> NodeArtifacts:
        """The app's artifacts (`create`, `get`, `update`, `attach`…), as this run."""
        found: NodeArtifacts = self.service("artifacts")
        return found

    @property
    def sessions(self) -> NodeSessions:
        """The app's workflow sessions (`create_workflow_session`, `complete_…`, `get_…`)."""
        found: NodeSessions = self.service("sessions")
        return found

    @property
    def memory(self) -> NodeMemory:
        """Shared memory: `get`, `set`, `delete`, `list` in the `session`, `run`, `app` and
        `user` scopes."""
        found: NodeMemory = self.service("memory")
        return found

    async def send_agent_message(
        self, to: str, type: str, content: Any, *, sender: str | None = None
    ) -> dict[str, Any]:
        """Send an agent message (`request`, `response`, `notification`, `handoff`) in this
        run; stored and streamed as `agent.message`."""
        messages: NodeAgentMessages = self.service("agent_messages")
        result: dict[str, Any] = await messages.send(to, type, content, sender=sender)
        return result

    @property
    def store(self) -> Store:
        """The store the run lives in (for services that keep their own tables)."""
        return self._execution.store

    @property
    def settings(self) -> Settings:
        return self._execution.settings

    @property
    def flow(self) -> Flow:
        """The flow being run: its nodes and edges (a node type that reads its inputs by the
        edges into it, e.g. by their ports, looks here)."""
        return self._execution.graph.flow

    @property
    def flow_default_model(self) -> str | None:
        """The run's model (`model` when it was started, e.g. the editor protocol's
        `provider_id`), else the flow's `default_model`: step three of the model resolution
        chain."""
        model = (self._execution.run.options or {}).get("model")
        return model if isinstance(model, str) else self._execution.graph.flow.default_model

    def publish_live(self, type: str, data: dict[str, Any]) -> None:
        """Send a live-only event (never persisted, e.g. `message.delta`) to subscribers."""
        publish = self._execution.publish_live
        if publish is not None:
            publish(Event(type, self.app_id, self.session_id, self.run_id, data))

    def emit(self, type: str, data: dict[str, Any] | None = None) -> None:
        """Record an event; it is written with this step's end, in the same transaction."""
        payload = data or {}
        check_json(f"event {type!r} data", payload)
        cap = self.settings.max_event_bytes
        size = len(dumps(payload).encode())
        if size > cap:
            raise LimitExceeded(
                f"event {type!r} data is {size} bytes, over the cap of {cap} "
                "(PODIUM_MAX_EVENT_BYTES); send a smaller event, e.g. an id to read the data by",
                details={"setting": "PODIUM_MAX_EVENT_BYTES", "cap": cap, "bytes": size},
            )
        self.emitted += 1
        if self.emitted > self._already_written:
            self.events.append((type, payload))


MISSING = _MISSING
