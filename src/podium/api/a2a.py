"""A2A (the Agent2Agent protocol, v1.0 over JSON-RPC): every agent of an app is an A2A agent.

Built on the `a2a-sdk` package: its `JsonRpcDispatcher` reads the JSON-RPC envelope, the
methods and their parameters (protobuf messages) and writes the answers and the SSE stream;
`PodiumA2AHandler`, its `RequestHandler`, maps them onto Podium's own records, so nothing
of a task lives in memory and a task survives a restart:

- a task is a chat run: the task id is the run id, the context id the chat session's id;
- `SendMessage` / `SendStreamingMessage` without a task id send a chat message (a new chat
  session, or the session named by `contextId`); with the task id of a task in
  `input-required`, the message answers the question the run waits for, and the same run
  (the same task) goes on;
- `input-required` is a run `interrupted` on a pending question (`ask_user`, an approval);
- `GetTask` reads the run, its transcript (`message.created`) and its question;
  `CancelTask` cancels the run; `SubscribeToTask` follows a running one.

Push notifications and `ListTasks` are not offered (clear JSON-RPC errors). The routes that
authenticate the caller and set the scope are in `podium.api.routes.a2a`; docs/a2a.md.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event as A2AEvent
from a2a.server.request_handlers.request_handler import RequestHandler
from a2a.server.routes.common import ServerCallContextBuilder
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import (
    A2AError,
    ExtendedAgentCardNotConfiguredError,
    InternalError,
    InvalidParamsError,
    InvalidRequestError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from starlette.requests import Request

from podium.agents.service import CHAT_FLOW, CHAT_WAIT_SECONDS, AgentView
from podium.api.deps import Services
from podium.auth.tenancy import Principal
from podium.errors import Conflict, NotFound, PodiumError
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import RunRecord
from podium.version import __version__

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "1.0"
MAX_MESSAGE_CHARS = 100_000  # as a chat message (POST /chat/messages)
MAX_HISTORY = 200  # transcript messages in a task
ANSWER_ARTIFACT = "answer"

STATES = {
    "queued": pb.TASK_STATE_SUBMITTED,
    "running": pb.TASK_STATE_WORKING,
    "paused": pb.TASK_STATE_WORKING,
    "interrupted": pb.TASK_STATE_INPUT_REQUIRED,
    "succeeded": pb.TASK_STATE_COMPLETED,
    "failed": pb.TASK_STATE_FAILED,
    "cancelled": pb.TASK_STATE_CANCELED,
}
ENDED = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class A2AScope:
    """Who calls which agent of which app: set by the route after authentication."""

    services: Services
    app_id: str
    agent: AgentView
    principal: Principal

    @property
    def name(self) -> str:
        return self.agent.definition.name


class ScopeContextBuilder(ServerCallContextBuilder):
    """The call context of a request the A2A route authenticated (`request.state.a2a`)."""

    def build(self, request: Request) -> ServerCallContext:
        return ServerCallContext(
            state={"headers": dict(request.headers), "podium": request.state.a2a}
        )


def _scope(context: ServerCallContext) -> A2AScope:
    scope = context.state.get("podium")
    if not isinstance(scope, A2AScope):  # only the A2A route dispatches here
        raise InternalError("the request was not authenticated")
    return scope


# --- the agent card ---------------------------------------------------------------------


def agent_card(agent: AgentView, url: str) -> pb.AgentCard:
    """The card of one agent of an app, its JSON-RPC endpoint at `url`."""
    definition = agent.definition
    description = (
        definition.description or definition.capabilities.description or f"agent {definition.name}"
    )
    return pb.AgentCard(
        name=definition.name,
        description=description,
        supported_interfaces=[
            pb.AgentInterface(
                url=url, protocol_binding="JSONRPC", protocol_version=PROTOCOL_VERSION
            )
        ],
        provider=pb.AgentProvider(organization="Podium", url=url.rsplit("/a2a/", 1)[0]),
        version=str(agent.version) if agent.version is not None else __version__,
        capabilities=pb.AgentCapabilities(streaming=True, push_notifications=False),
        security_schemes={
            "bearer": pb.SecurityScheme(
                http_auth_security_scheme=pb.HTTPAuthSecurityScheme(
                    scheme="bearer",
                    description="an API key of the app (pk_...), or a member's access token",
                )
            )
        },
        security_requirements=[pb.SecurityRequirement(schemes={"bearer": pb.StringList()})],
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            pb.AgentSkill(
                id=definition.name,
                name=definition.name,
                description=description,
                tags=list(definition.capabilities.tags) or [definition.name],
            )
        ],
    )


# --- the request handler ----------------------------------------------------------------


def _a2a_error(exc: PodiumError) -> A2AError:
    """A Podium error as the JSON-RPC error a client reads (its words are for clients)."""
    data = {"podium_code": exc.code, **({"details": exc.details} if exc.details else {})}
    if isinstance(exc, Conflict):
        return InvalidRequestError(exc.message, data=data)
    if exc.code in ("unauthorized", "forbidden"):
        return InvalidRequestError(exc.message, data=data)
    return InvalidParamsError(exc.message, data=data)


def _text_of(message: pb.Message) -> str:
    texts = [part.text for part in message.parts if part.WhichOneof("content") == "text"]
    text = "\n".join(texts)
    if not text.strip():
        raise InvalidParamsError(
            'the message needs a text part with some text: parts [{"text": "..."}]'
        )
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidParamsError(
            f"the message has {len(text)} characters, over the {MAX_MESSAGE_CHARS} a message "
            "may have"
        )
    return text


def _agent_message(task_id: str, context_id: str, message_id: str, text: str) -> pb.Message:
    return pb.Message(
        message_id=message_id,
        context_id=context_id,
        task_id=task_id,
        role=pb.ROLE_AGENT,
        parts=[pb.Part(text=text)],
    )


INTERNAL = "internal error; the server's log has the details"


def _translated(exc: Exception) -> A2AError:
    if isinstance(exc, A2AError):
        return exc
    if isinstance(exc, PodiumError):
        return _a2a_error(exc)
    log.exception("A2A request failed", exc_info=exc)
    return InternalError(INTERNAL)  # never an exception's own words (DESIGN: no leaks)


def _podium_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Podium's errors as JSON-RPC errors; anything else an internal error without details."""
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any]:
            inner = method(*args, **kwargs)
            try:
                async for item in inner:
                    yield item
            except Exception as exc:
                raise _translated(exc) from None
            finally:
                await inner.aclose()

        return stream

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except Exception as exc:
            raise _translated(exc) from None

    return call


class PodiumA2AHandler(RequestHandler):
    """A2A methods over Podium's chat runs (see the module's docstring)."""

    # --- tasks ---

    async def _run(self, scope: A2AScope, task_id: str) -> RunRecord:
        """The run of this task id: a chat run of this agent in this app, else not found."""
        if not task_id or len(task_id) > 80:
            raise TaskNotFoundError(f"task {task_id[:80]!r} not found")
        try:
            run = await scope.services.sessions.get_run(scope.app_id, task_id)
        except NotFound:
            raise TaskNotFoundError(f"task {task_id!r} not found") from None
        flow = await scope.services.sessions.flow_by_id(run.flow_id)
        agent = (run.input or {}).get("agent")
        if flow is None or flow.name != CHAT_FLOW or agent != scope.name:
            raise TaskNotFoundError(f"task {task_id!r} not found")
        return run

    async def _task(
        self, scope: A2AScope, run: RunRecord, history_length: int | None = None
    ) -> pb.Task:
        services = scope.services
        events = await services.podium.store.read_events(
            scope.app_id, run_id=run.id, limit=MAX_HISTORY
        )
        history = [
            pb.Message(
                message_id=f"{run.id}.{event.seq}",
                context_id=run.session_id,
                task_id=run.id,
                role=pb.ROLE_USER if event.data.get("role") == "user" else pb.ROLE_AGENT,
                parts=[pb.Part(text=str(event.data.get("content") or ""))],
            )
            for event in events
            if event.type == names.MESSAGE_CREATED
        ]
        if history_length is not None:
            history = history[len(history) - history_length :] if history_length else []
        status = pb.TaskStatus(state=STATES.get(run.status, pb.TASK_STATE_WORKING))
        status.timestamp.FromSeconds(int(run.ended_at or run.started_at or run.created_at))
        artifacts = []
        if run.status == "succeeded":
            answer = str((run.output or {}).get("answer") or "")
            status.message.CopyFrom(
                _agent_message(run.id, run.session_id, f"{run.id}.answer", answer)
            )
            artifacts.append(
                pb.Artifact(
                    artifact_id=ANSWER_ARTIFACT, name="answer", parts=[pb.Part(text=answer)]
                )
            )
        elif run.status == "failed":
            error = run.error or "the run failed"
            status.message.CopyFrom(
                _agent_message(run.id, run.session_id, f"{run.id}.error", error)
            )
        elif run.status == "interrupted":
            questions = await services.sessions.pending_questions(scope.app_id, run.id)
            if questions:
                question = questions[0]
                message = _agent_message(
                    run.id, run.session_id, f"{run.id}.{question.id}", question.question
                )
                message.metadata.update(
                    {"question_id": question.id, "choices": question.choices or []}
                )
                status.message.CopyFrom(message)
        return pb.Task(
            id=run.id,
            context_id=run.session_id,
            status=status,
            artifacts=artifacts,
            history=history,
        )

    async def _submit(self, scope: A2AScope, message: pb.Message) -> RunRecord:
        """Send the message: a new run, or the answer to the question of the task's run."""
        services = scope.services
        text = _text_of(message)
        if message.task_id:
            run = await self._run(scope, message.task_id)
            if message.context_id and message.context_id != run.session_id:
                raise InvalidParamsError(
                    f"task {run.id} is in context {run.session_id}, not {message.context_id}"
                )
            questions = (
                await services.sessions.pending_questions(scope.app_id, run.id)
                if run.status == "interrupted"
                else []
            )
            if not questions:
                state = pb.TaskState.Name(STATES.get(run.status, pb.TASK_STATE_WORKING))
                raise InvalidRequestError(
                    f"task {run.id} is {state}, not TASK_STATE_INPUT_REQUIRED: only a task "
                    "that asks a question takes a message; send a new message without taskId "
                    f"(with contextId {run.session_id} to go on with the conversation)"
                )
            await services.sessions.answer(scope.app_id, run.session_id, questions[0].id, text)
            return await services.sessions.get_run(scope.app_id, run.id)
        session_id = message.context_id or None
        if session_id is not None:
            try:
                await services.sessions.get_session(scope.app_id, session_id)
            except NotFound:
                raise InvalidParamsError(
                    f"context {session_id!r} not found; leave contextId out to start one"
                ) from None
        _, run_id = await services.agents.send(
            scope.app_id, scope.name, text, session_id=session_id, user_id=scope.principal.user_id
        )
        return await services.sessions.get_run(scope.app_id, run_id)

    @_podium_errors
    async def on_message_send(
        self, params: pb.SendMessageRequest, context: ServerCallContext
    ) -> pb.Task | pb.Message:
        scope = _scope(context)
        run = await self._submit(scope, params.message)
        if not params.configuration.return_immediately:
            run = await scope.services.sessions.wait_run(scope.app_id, run.id, CHAT_WAIT_SECONDS)
        return await self._task(scope, run, _history_length(params.configuration))

    @_podium_errors
    async def on_message_send_stream(
        self, params: pb.SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[A2AEvent]:
        scope = _scope(context)
        services = scope.services
        since = await services.agents.last_seq(scope.app_id)
        subscription = services.podium.subscribe(scope.app_id, since)
        try:
            run = await self._submit(scope, params.message)
        except BaseException:
            await subscription.aclose()
            raise
        async for event in self._follow(scope, run, subscription):
            yield event

    @_podium_errors
    async def on_subscribe_to_task(
        self, params: pb.SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[A2AEvent]:
        scope = _scope(context)
        since = await scope.services.agents.last_seq(scope.app_id)
        run = await self._run(scope, params.id)
        subscription = scope.services.podium.subscribe(scope.app_id, since, run_id=run.id)
        async for event in self._follow(scope, run, subscription):
            yield event

    async def _follow(
        self, scope: A2AScope, run: RunRecord, events: AsyncIterator[Event]
    ) -> AsyncGenerator[A2AEvent]:
        """The task, then its answer's tokens (artifact chunks), then its last status."""
        try:
            yield await self._task(scope, run)
            if run.status in ENDED or run.status in ("interrupted", "paused"):
                return  # the task as read is where it stays until someone acts
            chunks = 0
            async for event in events:
                if event.run_id != run.id:
                    continue
                if event.type == names.RUN_STARTED:
                    yield pb.TaskStatusUpdateEvent(
                        task_id=run.id,
                        context_id=run.session_id,
                        status=pb.TaskStatus(state=pb.TASK_STATE_WORKING),
                    )
                elif event.type == names.MESSAGE_DELTA and event.data.get("agent") == scope.name:
                    yield pb.TaskArtifactUpdateEvent(
                        task_id=run.id,
                        context_id=run.session_id,
                        artifact=pb.Artifact(
                            artifact_id=ANSWER_ARTIFACT,
                            name="answer",
                            parts=[pb.Part(text=str(event.data.get("delta") or ""))],
                        ),
                        append=chunks > 0,
                        last_chunk=False,
                    )
                    chunks += 1
                elif event.type in names.RUN_OUTCOMES:
                    current = await scope.services.sessions.get_run(scope.app_id, run.id)
                    for update in await self._last(scope, current):
                        yield update
                    return
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _last(self, scope: A2AScope, run: RunRecord) -> list[A2AEvent]:
        """The end of a stream: the whole answer (replacing the chunks), the final status."""
        task = await self._task(scope, run)
        updates: list[A2AEvent] = [
            pb.TaskArtifactUpdateEvent(
                task_id=run.id, context_id=run.session_id, artifact=artifact, last_chunk=True
            )
            for artifact in task.artifacts
        ]
        updates.append(
            pb.TaskStatusUpdateEvent(task_id=run.id, context_id=run.session_id, status=task.status)
        )
        return updates

    @_podium_errors
    async def on_get_task(
        self, params: pb.GetTaskRequest, context: ServerCallContext
    ) -> pb.Task | None:
        scope = _scope(context)
        run = await self._run(scope, params.id)
        length = params.history_length if params.HasField("history_length") else None
        if length is not None and length < 0:
            raise InvalidParamsError("historyLength is 0 or more")
        return await self._task(scope, run, length)

    @_podium_errors
    async def on_cancel_task(
        self, params: pb.CancelTaskRequest, context: ServerCallContext
    ) -> pb.Task | None:
        scope = _scope(context)
        run = await self._run(scope, params.id)
        not_cancelable = TaskNotCancelableError(
            f"task {run.id} has ended ({pb.TaskState.Name(STATES[run.status])})"
            if run.status in ENDED
            else f"task {run.id} cannot be cancelled"
        )
        if run.status in ENDED:
            raise not_cancelable
        try:
            await scope.services.sessions.cancel_run(scope.app_id, run.id)
        except Conflict:  # it ended meanwhile
            raise not_cancelable from None
        return await self._task(scope, await scope.services.sessions.get_run(scope.app_id, run.id))

    @_podium_errors
    async def on_list_tasks(
        self, params: pb.ListTasksRequest, context: ServerCallContext
    ) -> pb.ListTasksResponse:
        raise UnsupportedOperationError(
            "ListTasks is not offered: get a task by its id (GetTask); the app's chat sessions "
            "are listed by GET /api/v1/apps/{app_id}/sessions?flow=chat"
        )

    @_podium_errors
    async def on_create_task_push_notification_config(
        self, params: pb.TaskPushNotificationConfig, context: ServerCallContext
    ) -> pb.TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError(PUSH_NOT_OFFERED)

    @_podium_errors
    async def on_get_task_push_notification_config(
        self, params: pb.GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> pb.TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError(PUSH_NOT_OFFERED)

    @_podium_errors
    async def on_list_task_push_notification_configs(
        self, params: pb.ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> pb.ListTaskPushNotificationConfigsResponse:
        raise PushNotificationNotSupportedError(PUSH_NOT_OFFERED)

    @_podium_errors
    async def on_delete_task_push_notification_config(
        self, params: pb.DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise PushNotificationNotSupportedError(PUSH_NOT_OFFERED)

    @_podium_errors
    async def on_get_extended_agent_card(
        self, params: pb.GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> pb.AgentCard:
        raise ExtendedAgentCardNotConfiguredError(
            "there is no extended card: the agent card is the whole card"
        )


PUSH_NOT_OFFERED = (
    "push notifications are not offered: stream the task (SendStreamingMessage, "
    "SubscribeToTask) or poll it (GetTask)"
)


def _history_length(configuration: pb.SendMessageConfiguration) -> int | None:
    if not configuration.HasField("history_length"):
        return None
    if configuration.history_length < 0:
        raise InvalidParamsError("historyLength is 0 or more")
    return int(configuration.history_length)
