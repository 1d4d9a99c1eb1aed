"""The agent loop, durable (DESIGN §3.14): model → tool calls → results → model … until a
final answer or a limit.

Every LLM call and every tool call is a recorded call (`ctx.step`), keyed by the agent's
scope, the turn and the call's place in it, so a step that runs again after a crash or an
answer replays what had finished and repeats none of it. Tool calls a model asks for at once
run concurrently. A tool outside the agent's allow-list is never run: the model is told it is
not available. A tool that `requires_approval` asks the user first (approve / deny).

`ask_user` (a session tool, `podium.tools.session`) is a question the model asks: its calls
run first, one at a time, before the answer's other calls, and each waits for the user like
an approval does. After the answer the step runs again and replays every recorded call, so
nothing the agent did before the question (LLM calls included) is done twice.

An agent with `knowledge` searches those namespaces with `search_knowledge` (a tool call like
the others); with `knowledge.prepend` the loop first retrieves passages for the user's
message — a recorded call too (`<scope>.knowledge`), logged as a `search_knowledge` call —
and puts them in a system message before the conversation, each under its citation.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from podium import jsonvalue, tracing
from podium.agents.budget import check_budget, record_usage
from podium.agents.definition import AgentDefinition
from podium.agents.services import AgentServices, agent_services
from podium.agents.session_access import RunSessionAccess, session_artifact_ids
from podium.engine.context import Suspend
from podium.errors import InvalidInput, JSONValueInvalid, LimitExceeded
from podium.events import names
from podium.ids import new_id
from podium.llm.base import Message, ModelRequest, ModelResponse, ToolCall, traced_complete
from podium.llm.offline import MAX_QUERY_CHARS, METADATA_REQUEST
from podium.storage.agents import ToolCallRecord
from podium.tools.base import Tool, ToolContext, ToolOutcome, ToolSet
from podium.tools.knowledge import AgentKnowledge, context_message, search_knowledge
from podium.tools.session import ASK_USER  # (registers the session tools)

if TYPE_CHECKING:
    from podium.engine.context import Context

T = TypeVar("T")
_WORD = re.compile(r"[^\W_]")  # a letter or a digit: what a knowledge search looks for
APPROVE, DENY = "approve", "deny"
# Room for retries and backoff beyond the provider's own timeout before the call is stopped.
CALL_SLACK_SECONDS = 30.0


@dataclass(slots=True)
class AgentResult:
    """The final answer, the messages the loop added (assistant, tool), usage and turns."""

    text: str
    messages: list[Message] = field(default_factory=list)
    tokens: int = 0
    turns: int = 0


async def run_agent(
    ctx: Context,
    agent: AgentDefinition,
    history: list[Message],
    task: str | None = None,
    *,
    scope: str | None = None,
    model: str | None = None,
    stream: bool = True,
    services: AgentServices | None = None,
    transcript: bool = True,
    extra_tools: dict[str, Tool] | None = None,
) -> AgentResult:
    """Run `agent` on `history` (+ `task` as a user message) inside the current step.

    `transcript`: the final answer goes into the session's transcript (`message.created`);
    a delegated agent's answer goes to the agent that delegated instead. `extra_tools` are
    offered on top of the agent's own (a collaboration's `handoff`, `send_message`, …).
    """
    with tracing.agent_span(ctx.run_id, agent.name):
        return await _run_agent(
            ctx,
            agent,
            history,
            task,
            scope=scope,
            model=model,
            stream=stream,
            services=services,
            transcript=transcript,
            extra_tools=extra_tools,
        )


async def _run_agent(
    ctx: Context,
    agent: AgentDefinition,
    history: list[Message],
    task: str | None,
    *,
    scope: str | None,
    model: str | None,
    stream: bool,
    services: AgentServices | None,
    transcript: bool,
    extra_tools: dict[str, Tool] | None,
) -> AgentResult:
    services = services or agent_services(ctx)
    scope = scope or agent.name
    model_ref = await services.model_ref(ctx.app_id, agent, model, ctx.flow_default_model)
    provider, config, model_name = await services.provider(ctx.app_id, model_ref)
    toolset = await services.toolset(ctx.app_id, agent)
    if "delegate" in agent.tools:
        toolset.tools["delegate"] = await delegate_tool(ctx, services, agent, scope)
    toolset.tools.update(extra_tools or {})
    knowledge = agent_knowledge(ctx, agent)
    messages: list[Message] = []
    if agent.instructions:
        messages.append(Message("system", agent.instructions))
    if knowledge is not None and agent.knowledge is not None and agent.knowledge.prepend:
        question = task if task is not None else _last_user_message(history)
        if _WORD.search(question):  # a message of no words has nothing to search for
            context = await retrieve_context(ctx, services, knowledge, scope, question)
            messages.append(Message("system", context))
    messages += history
    if task is not None:
        messages.append(Message("user", task))
    added: list[Message] = []
    tokens = 0
    call_timeout = config.timeout_seconds * (config.max_retries + 1) + CALL_SLACK_SECONDS

    await services.busy(ctx.app_id, agent.name, ctx.session_id, ctx.run_id, _activity(ctx, scope))
    try:
        max_turns = min(agent.max_turns, ctx.settings.max_turns_cap)  # a cap lowered since
        for turn in range(max_turns):
            request = ModelRequest(
                model=model_name,
                messages=list(messages),
                tools=toolset.specs(),
                temperature=agent.temperature,
                max_tokens=agent.max_tokens,
                options={"script": agent.script} if agent.script is not None else {},
            )

            key = f"{scope}.llm{turn}"

            async def call_model(request: ModelRequest = request, key: str = key) -> dict[str, Any]:
                def on_delta(text: str) -> None:
                    ctx.publish_live(
                        names.MESSAGE_DELTA,
                        {"agent": agent.name, "node_id": ctx.node_id, "delta": text},
                    )

                # Only for a call not recorded yet: a replayed one is neither checked nor run.
                await check_budget(ctx, agent, key)
                sink = on_delta if stream else None
                answer = await traced_complete(provider, request, sink, run_id=ctx.run_id)
                await record_usage(ctx, agent, key, model_ref, answer)
                return answer.to_json()

            recorded = await ctx.step(key, call_model, timeout=call_timeout)
            response = ModelResponse.from_json(recorded)
            tokens += response.usage.total
            if agent.token_budget is not None and tokens > agent.token_budget:
                raise LimitExceeded(
                    f"agent {agent.name!r} used {tokens} tokens, over its token budget of "
                    f"{agent.token_budget}; raise token_budget or shorten the conversation"
                )
            assistant = response.message()
            messages.append(assistant)
            added.append(assistant)
            if not response.tool_calls:
                if transcript:
                    ctx.emit(
                        names.MESSAGE_CREATED,
                        {
                            "role": "assistant",
                            "content": response.text,
                            "agent": agent.name,
                            "node_id": ctx.node_id,
                            "model": model_ref,
                            "usage": {"tokens": tokens, "turns": turn + 1},
                        },
                    )
                result = AgentResult(response.text, added, tokens, turn + 1)
                break
            results = await _tool_round(
                ctx, services, agent, toolset, scope, turn, response, knowledge
            )
            for tool_call, outcome in zip(response.tool_calls, results, strict=True):
                reply = Message(
                    "tool", outcome.for_model(), tool_call_id=tool_call.id, name=tool_call.name
                )
                messages.append(reply)
                added.append(reply)
        else:
            raise LimitExceeded(
                f"agent {agent.name!r} reached its max_turns of {max_turns} without a "
                "final answer; raise max_turns or check what its tools return"
            )
    except Suspend:
        # Waiting for a person: the step ends here and runs again after the answer, when it
        # emits what it emitted so far once more (and the engine writes none of it twice).
        # So the status is written now, outside the step's events.
        await services.idle(ctx.run_id, _activity(ctx, scope))
        await services.status(ctx.app_id, agent.name, ctx.session_id, ctx.run_id, "waiting")
        raise
    except BaseException:
        await services.idle(ctx.run_id, _activity(ctx, scope))
        raise
    await services.idle(ctx.run_id, _activity(ctx, scope))
    ctx.emit(names.AGENT_STATUS, {"agent": agent.name, "status": "idle"})
    return result


def _activity(ctx: Context, scope: str) -> str:
    return f"{ctx.node_id}:{ctx.iteration}:{scope}"


def agent_knowledge(ctx: Context, agent: AgentDefinition) -> AgentKnowledge | None:
    """The agent's access to its knowledge namespaces in this run (None without any)."""
    if agent.knowledge is None:
        return None
    return AgentKnowledge(
        retriever=lambda: ctx.runtime_service("retriever"),
        app_id=ctx.app_id,
        agent=agent.name,
        namespaces=tuple(agent.knowledge.namespaces),
        # A definition stored before the cap was lowered still retrieves within it.
        k=min(agent.knowledge.k, ctx.settings.agent_knowledge_k_cap),
        k_cap=ctx.settings.agent_knowledge_k_cap,
    )


def _last_user_message(history: list[Message]) -> str:
    return next((m.content for m in reversed(history) if m.role == "user"), "")


async def retrieve_context(
    ctx: Context,
    services: AgentServices,
    knowledge: AgentKnowledge,
    scope: str,
    question: str,
) -> str:
    """The passages for `question` as the context message (`knowledge.prepend`): one
    recorded `search_knowledge` call, so a step that runs again does not search again."""
    # Not the request for metadata an agent node may have added to the task.
    question = question.split(METADATA_REQUEST, 1)[0].strip() or question
    arguments = json.dumps({"query": question[:MAX_QUERY_CHARS]})
    outcome = await recorded_tool_call(
        ctx,
        services,
        f"{scope}.knowledge",
        search_knowledge.name,
        arguments,
        search_knowledge,
        agent=knowledge.agent,
        knowledge=knowledge,
    )
    if outcome.status != "ok":
        raise InvalidInput(
            f"agent {knowledge.agent!r} could not retrieve its knowledge "
            f"({', '.join(knowledge.namespaces)}) for the message: {outcome.error}"
        )
    result: dict[str, Any] = outcome.result
    return context_message(result)


async def _tool_round(
    ctx: Context,
    services: AgentServices,
    agent: AgentDefinition,
    toolset: ToolSet,
    scope: str,
    turn: int,
    response: ModelResponse,
    knowledge: AgentKnowledge | None,
) -> list[ToolOutcome]:
    """Run one answer's tool calls: approvals first (one question at a time), then the
    model's own questions (`ask_user`, one at a time), then the other calls concurrently.
    Returns an outcome per call, in the model's order."""
    denied: set[int] = set()
    for index, tool_call in enumerate(response.tool_calls):
        tool = toolset.get(tool_call.name)
        if tool is not None and tool.requires_approval:
            answer = await ctx.ask_user(
                f"Agent {agent.name!r} wants to run {tool_call.name} with "
                f"{tool_call.arguments or '{}'}. Approve?",
                choices=[APPROVE, DENY],
                key=f"{scope}.approve{turn}.{index}",
            )
            if answer != APPROVE:
                denied.add(index)

    def call(index: int) -> Coroutine[Any, Any, ToolOutcome]:
        tool_call = response.tool_calls[index]
        key = f"{scope}.t{turn}.{index}"
        return _one_call(ctx, services, agent, toolset, key, tool_call, index in denied, knowledge)

    outcomes: dict[int, ToolOutcome] = {}
    asking = ASK_USER in toolset.tools
    for index, tool_call in enumerate(response.tool_calls):
        if asking and tool_call.name == ASK_USER:
            outcomes[index] = await call(index)
    rest = [index for index in range(len(response.tool_calls)) if index not in outcomes]
    for index, outcome in zip(rest, await gather_or_cancel([call(i) for i in rest]), strict=True):
        outcomes[index] = outcome
    return [outcomes[index] for index in range(len(response.tool_calls))]


async def _one_call(
    ctx: Context,
    services: AgentServices,
    agent: AgentDefinition,
    toolset: ToolSet,
    key: str,
    tool_call: ToolCall,
    denied: bool,
    knowledge: AgentKnowledge | None,
) -> ToolOutcome:
    tool = toolset.get(tool_call.name)
    refusal = None
    if tool is None:
        refusal = ToolOutcome(
            "error",
            error=f"tool {tool_call.name!r} is not available to agent {agent.name!r}; "
            f"its tools are {sorted(toolset.tools)}",
        )
    elif denied:
        refusal = ToolOutcome("skipped", error="the user denied this call")
    timeout = None
    if tool is not None and tool.name == "delegate":
        timeout = ctx.settings.call_timeout_seconds  # another agent's whole loop
    return await recorded_tool_call(
        ctx,
        services,
        key,
        tool_call.name,
        tool_call.arguments,
        tool,
        agent=agent.name,
        call_id=tool_call.id,
        refusal=refusal,
        timeout=timeout,
        knowledge=knowledge,
    )


async def recorded_tool_call(
    ctx: Context,
    services: AgentServices,
    key: str,
    name: str,
    arguments: str,
    tool: Tool | None,
    *,
    agent: str | None = None,
    call_id: str | None = None,
    refusal: ToolOutcome | None = None,
    timeout: float | None = None,
    knowledge: AgentKnowledge | None = None,
) -> ToolOutcome:
    """Run a tool as the recorded call `key` (or refuse it with `refusal`), log it in
    `tool_calls` inside that call, and emit `tool.called`. `knowledge`: the calling agent's
    (what `search_knowledge` searches)."""

    async def execute() -> dict[str, Any]:
        with tracing.tool_call_span(ctx.run_id, name, call_id) as span:
            outcome = await run_tool()
            if span is not None:
                span.set_attribute("podium.tool.status", outcome.status)
                if outcome.status == "error":
                    tracing.set_error(span, outcome.error or "error")
        await services.log_tool_call(
            ToolCallRecord(
                id=new_id("tcl"),
                app_id=ctx.app_id,
                session_id=ctx.session_id,
                run_id=ctx.run_id,
                node_id=ctx.node_id,
                iteration=ctx.iteration,
                call_key=key,
                agent=agent,
                tool=name,
                arguments=_arguments_json(arguments),
                result=outcome.result,
                error=outcome.error,
                status=outcome.status,
                duration_ms=outcome.duration_ms,
                created_at=time.time(),
            )
        )
        return outcome.to_json()

    async def run_tool() -> ToolOutcome:
        outcome = refusal
        if outcome is None:
            assert tool is not None
            tool_ctx = ToolContext(
                app_id=ctx.app_id,
                session_id=ctx.session_id,
                run_id=ctx.run_id,
                node_id=ctx.node_id,
                agent=agent,
                call_key=key,
                idempotency_key=ctx.idempotency_key(key),
                credentials_lookup=lambda service: services.credentials(ctx.app_id, service),
                artifact_ids=await session_artifact_ids(ctx),
                session=RunSessionAccess(ctx, agent or ctx.node_id, key),
                knowledge=knowledge,
            )
            outcome = await tool.execute(
                arguments, tool_ctx, default_timeout=ctx.settings.tool_timeout_seconds
            )
        return outcome

    limit = timeout or (tool.timeout_seconds if tool else None) or ctx.settings.tool_timeout_seconds
    if tool is not None and refusal is None and tool.effect == "side_effect":
        # Never run again blindly after a crash inside it (docs/side-effects.md).
        recorded = await ctx.side_effect(
            key,
            lambda _arguments, _key: execute(),
            _arguments_json(arguments),
            name=name,
            reconcile=tool.reconcile,
            settle=lambda result: ToolOutcome("ok", result=result).to_json(),
            timeout=limit + CALL_SLACK_SECONDS,
        )
    else:
        recorded = await ctx.step(key, execute, timeout=limit + CALL_SLACK_SECONDS)
    outcome = ToolOutcome.from_json(recorded)
    event: dict[str, Any] = {"agent": agent, "tool": name} if agent else {"tool": name}
    if call_id is not None:
        event["call_id"] = call_id
    event |= {"status": outcome.status, "error": outcome.error, "duration_ms": outcome.duration_ms}
    ctx.emit(names.TOOL_CALLED, event)
    return outcome


MAX_RAW_ARGUMENTS_CHARS = 10_000


def _arguments_json(text: str) -> Any:
    """The arguments as JSON for the log: parsed when the JSON boundary takes them, else the
    start of the raw text (without NUL or lone surrogates, which cannot be stored)."""
    try:
        return jsonvalue.loads(text, "tool-call arguments") if text.strip() else {}
    except JSONValueInvalid:
        raw = text[:MAX_RAW_ARGUMENTS_CHARS].replace("\x00", "\ufffd")
        return {"_raw": raw.encode("utf-8", "replace").decode()}


async def gather_or_cancel(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; when one raises (a question that waits, say), stop the others."""
    if len(coros) == 1:
        return [await coros[0]]
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def delegate_tool(
    ctx: Context, services: AgentServices, driver: AgentDefinition, scope: str
) -> Tool:
    """`delegate(agent, task)`: runs another agent on a task, its calls recorded under the
    driver's, and returns its answer. The tool's description lists the agents to pick from."""
    from pydantic import BaseModel, Field

    agents = await services.all_definitions(ctx.app_id)
    choices = {
        name: a for name, a in agents.items() if name not in (driver.name, "creator") and a.enabled
    }
    listing = "; ".join(
        f"{name}: {a.capabilities.description or a.description} [{', '.join(a.capabilities.tags)}]"
        for name, a in sorted(choices.items())
    )

    class DelegateArguments(BaseModel):
        agent: str = Field(description="the name of the agent to hand the sub-task to")
        task: str = Field(description="the sub-task, self-contained")

    async def invoke(arguments: dict[str, Any], tool_ctx: ToolContext) -> Any:
        name = arguments["agent"]
        target = choices.get(name)
        if target is None:
            raise ValueError(
                f"no agent named {name!r} to delegate to; pick one of {sorted(choices)}"
            )
        # Under the key of the call that runs it: unique, and the same when replayed.
        sub_scope = f"{tool_ctx.call_key or scope}/{name}"
        result = await run_agent(
            ctx,
            target,
            [],
            arguments["task"],
            scope=sub_scope,
            services=services,
            transcript=False,
        )
        return {"agent": name, "answer": result.text}

    schema = DelegateArguments.model_json_schema()
    schema.pop("title", None)
    return Tool(
        name="delegate",
        description=f"Run another agent on a sub-task and get its answer. Agents: {listing}",
        parameters=schema,
        invoke_fn=invoke,
        args_model=DelegateArguments,
        source="python",
    )
