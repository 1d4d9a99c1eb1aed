"""The tools an app offers over MCP (docs/mcp-server.md): one per flow (`flow_<name>`) and per
enabled agent (`agent_<name>`) to start it, and `answer` and `wait` to go on with a session.

Every call is the REST API's service call with the REST API's role check: starting and
answering need the `member` role, waiting and reading need `viewer`. The arguments are
untrusted: each tool's arguments are checked by a pydantic model (extra keys refused, the
wait bounded by the server's cap), and values that reach the store pass the JSON boundary
there as they do from the REST API. A refusal is a tool error (`isError`) whose text is
`code: message`, the REST API's error code and message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from mcp_types import CallToolResult, TextContent, Tool, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podium.agents.service import CHAT_FLOW
from podium.api.deps import AppAccess, Services
from podium.api.schemas import Question
from podium.auth.tenancy import RANK
from podium.errors import Forbidden, InvalidInput, NotFound, PodiumError
from podium.sessions.service import MAX_WAIT_SECONDS

FLOW_PREFIX = "flow_"
AGENT_PREFIX = "agent_"
DEFAULT_WAIT_SECONDS = 10.0
# MCP tool names: letters, digits, _ - . and at most 128 characters. A flow whose name holds
# another character (flow names may hold ':') has no tool; it still starts over REST.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
M = TypeVar("M", bound=BaseModel)
ID_FIELD = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_]+$")


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wait_seconds: float = Field(
        default=DEFAULT_WAIT_SECONDS,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="how long to wait for the run to end or to ask a question (0: do not "
        f"wait; at most {MAX_WAIT_SECONDS:g})",
    )


class FlowArguments(_Arguments):
    input: dict[str, Any] = Field(
        default_factory=dict, description="the run's input, merged into the session's state"
    )


class AgentArguments(_Arguments):
    message: str = Field(min_length=1, max_length=100_000, description="the message to send")
    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9_]+$",
        description="a chat to go on with (left out: a new chat)",
    )


class AnswerArguments(_Arguments):
    session_id: str = ID_FIELD
    answer: Any = Field(description="any JSON value; one of the choices when there are choices")
    interrupt_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9_]+$",
        description="the question answered (left out: the session's pending question)",
    )


class WaitArguments(_Arguments):
    session_id: str = ID_FIELD


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where a session stands after a call: what the tool answers."""

    session_id: str
    run_id: str | None
    status: str  # the run's status
    output: dict[str, Any] | None
    error: str | None
    pending_question: dict[str, Any] | None
    state: dict[str, Any]  # the session's, as of its last step

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session_id": self.session_id,
            "run_id": self.run_id,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "pending_question": self.pending_question,
            "state": self.state,
        }
        body["next"] = _next_step(self)
        return body


def _next_step(outcome: Outcome) -> str:
    if outcome.pending_question is not None:
        if outcome.pending_question.get("kind") == "action":
            return "it waits for an action on an artifact, which the REST API takes"
        return f"call answer with session_id {outcome.session_id!r} and your answer"
    if outcome.status in ("queued", "running", "pausing"):
        return f"call wait with session_id {outcome.session_id!r}"
    return "done"


def result(value: dict[str, Any], *, is_error: bool = False) -> CallToolResult:
    """A tool result carrying `value` both as structured content and as JSON text."""
    text = json.dumps(value, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=value,
        is_error=is_error,
    )


def error_result(exc: PodiumError) -> CallToolResult:
    """A refusal as a tool error: `code: message` as text, the REST envelope as content."""
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details or {}}}
    return CallToolResult(
        content=[TextContent(type="text", text=f"{exc.code}: {exc.message}")],
        structured_content=body,
        is_error=True,
    )


class AppTools:
    """The tools of one app, for one caller (`access`)."""

    def __init__(self, services: Services, access: AppAccess) -> None:
        self.services = services
        self.access = access

    @property
    def app_id(self) -> str:
        return self.access.app_id

    # --- listing --------------------------------------------------------------------------

    async def list(self) -> list[Tool]:
        """Every flow and enabled agent of the app, then `answer` and `wait`."""
        tools: list[Tool] = []
        start = ToolAnnotations(read_only_hint=False, destructive_hint=False)
        for record, shipped in await self.services.sessions.list_flows(self.app_id):
            name = FLOW_PREFIX + record.name
            if record.name == CHAT_FLOW or not TOOL_NAME.match(name):
                continue  # chats are the agents' tools
            about = record.definition.get("description") or f"Runs the flow {record.name!r}."
            tools.append(
                Tool(
                    name=name,
                    title=f"flow {record.name}",
                    description=f"{about} Starts a session of flow {record.name!r} "
                    f"(version {record.version}{', shipped' if shipped else ''}) and waits "
                    "for it to end or to ask a question (then call answer).",
                    input_schema=_schema(FlowArguments),
                    annotations=start,
                )
            )
        for view in await self.services.agents.list_agents(self.app_id):
            agent = view.definition
            name = AGENT_PREFIX + agent.name
            if not agent.enabled or not TOOL_NAME.match(name):
                continue
            about = agent.description or f"The agent {agent.name!r}."
            tools.append(
                Tool(
                    name=name,
                    title=f"agent {agent.name}",
                    description=f"{about} Sends it a message (a new chat, or session_id's) "
                    "and waits for its answer.",
                    input_schema=_schema(AgentArguments),
                    annotations=start,
                )
            )
        tools.append(
            Tool(
                name="answer",
                title="answer a question",
                description="Answers the question a session waits on (pending_question), "
                "then waits for the run to end or to ask again.",
                input_schema=_schema(AnswerArguments),
                annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
            )
        )
        tools.append(
            Tool(
                name="wait",
                title="wait for a session",
                description="Waits for the session's latest run to end or to ask a question, "
                "and answers where it stands (its output, error or pending question).",
                input_schema=_schema(WaitArguments),
                annotations=ToolAnnotations(read_only_hint=True),
            )
        )
        return tools

    # --- calling --------------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        """Whether `name` is one of the shapes of this server's tools (the flow or agent
        itself may still be unknown: that is the call's answer)."""
        return name in ("answer", "wait") or name.startswith((FLOW_PREFIX, AGENT_PREFIX))

    async def call(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Call the tool `name`; a refusal (bad arguments, a role too low, an unknown flow) is
        a tool error with the REST API's code and message."""
        try:
            outcome = await self._call(name, arguments or {})
        except PodiumError as exc:
            return error_result(exc)
        return result(outcome.to_json())

    async def _call(self, name: str, arguments: dict[str, Any]) -> Outcome:
        if name == "wait":
            wait = _parse(WaitArguments, arguments, name)
            return await self._wait_session(wait.session_id, wait.wait_seconds)
        if name == "answer":
            self._require("member", "answer a question")
            answer = _parse(AnswerArguments, arguments, name)
            return await self._answer(answer)
        if name.startswith(FLOW_PREFIX):
            self._require("member", "start a flow")
            flow = _parse(FlowArguments, arguments, name)
            return await self._start_flow(name[len(FLOW_PREFIX) :], flow)
        if name.startswith(AGENT_PREFIX):
            self._require("member", "talk to an agent")
            message = _parse(AgentArguments, arguments, name)
            return await self._send(name[len(AGENT_PREFIX) :], message)
        raise NotFound(f"no tool named {name!r}; tools/list names this app's tools")

    def _require(self, least: Literal["member"], what: str) -> None:
        role = self.access.role
        if RANK[role] < RANK[least]:
            raise Forbidden(f"to {what} needs the {least} role in the app; you are {role}")

    async def _start_flow(self, flow: str, arguments: FlowArguments) -> Outcome:
        view = await self.services.sessions.create_session(
            self.app_id,
            flow,
            arguments.input,
            metadata={"via": "mcp"},
            user_id=self.access.principal.user_id,
        )
        assert view.run is not None
        return await self._wait_run(view.session.id, view.run.id, arguments.wait_seconds)

    async def _send(self, agent: str, arguments: AgentArguments) -> Outcome:
        session_id, run_id = await self.services.agents.send(
            self.app_id,
            agent,
            arguments.message,
            session_id=arguments.session_id,
            user_id=self.access.principal.user_id,
        )
        return await self._wait_run(session_id, run_id, arguments.wait_seconds)

    async def _answer(self, arguments: AnswerArguments) -> Outcome:
        sessions = self.services.sessions
        interrupt_id = arguments.interrupt_id
        if interrupt_id is None:
            view = await sessions.get_session(self.app_id, arguments.session_id)
            if not view.questions:
                raise InvalidInput(
                    f"session {arguments.session_id} has no pending question; call wait to "
                    "see where it stands"
                )
            interrupt_id = view.questions[0].id
        run_id = await sessions.answer(
            self.app_id, arguments.session_id, interrupt_id, arguments.answer
        )
        return await self._wait_run(arguments.session_id, run_id, arguments.wait_seconds)

    async def _wait_session(self, session_id: str, wait_seconds: float) -> Outcome:
        view = await self.services.sessions.get_session(self.app_id, session_id)
        if view.run is None:
            return Outcome(session_id, None, view.session.status, None, None, None, {})
        return await self._wait_run(session_id, view.run.id, wait_seconds)

    async def _wait_run(self, session_id: str, run_id: str, wait_seconds: float) -> Outcome:
        sessions = self.services.sessions
        run = await sessions.wait_run(self.app_id, run_id, wait_seconds)
        question = None
        if run.status in ("interrupted", "paused"):
            pending = await sessions.pending_questions(self.app_id, run_id)
            if pending:
                question = Question.of(pending[0]).model_dump(by_alias=True)
        output = run.output if run.status == "succeeded" else None
        state = (await sessions.get_session(self.app_id, session_id)).session.state
        return Outcome(session_id, run.id, run.status, output, run.error, question, state)


def _parse(model: type[M], arguments: dict[str, Any], tool: str) -> M:
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "arguments"
            problems.append({"field": where, "message": error["msg"]})
        first = problems[0]
        raise InvalidInput(
            f"the arguments of {tool} are not valid: {first['field']}: {first['message']}",
            details={"problems": problems},
        ) from None
