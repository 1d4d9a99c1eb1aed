"""`collaboration_turn`: one turn of a collaborative discussion between agents.

The node runs in a loop on itself (a loop edge with a condition on
`state.<state_key>.done`): each iteration one agent, in turn, sees the task, the discussion so
far, the messages sent to it and the run's shared memory, and answers. During its turn it may
`send_message` to another participant, `remember` a fact for all of them (run-scoped memory
under `shared:`), or `handoff` control to the agent that should finish. The discussion ends
when someone hands off (also a `handoff` message posted to the run from outside, e.g.
`POST /runs/{id}/messages`) or after `max_rounds` rounds, whichever comes first; the node
then sets `done` and `ended_by` (`handoff` or `round_limit`) for a router to act on.

Every turn is its own step: a turn that finished is never run again, and a run can be paused
between turns. The reads a turn's prompt is made of are recorded calls, so a turn that runs
again (after a crash) sees what it saw the first time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from podium.agents.loop import run_agent
from podium.agents.messages import AgentMessageService
from podium.agents.nodes import template_problems
from podium.agents.services import agent_services
from podium.engine.node_types import NodeResult, NodeType
from podium.engine.nodes.template import TemplateBudget, render_async
from podium.memory.service import MemoryService
from podium.storage.memory import Origin
from podium.tools.base import Tool, ToolContext

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node

SHARED_PREFIX = "shared:"
MESSAGE_KINDS = ("request", "response", "notification")


class CollaborationConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    agents: list[str] = Field(min_length=1, description="the participants, in turn order")
    max_rounds: int = Field(
        default=3,
        ge=1,
        description="rounds (every agent one turn) before it stops (at most PODIUM_MAX_ROUNDS_CAP)",
    )
    task: str = Field(default="{{ message }}", description="the task: a template over the state")
    state_key: str = Field(default="collaboration", description="state key of the discussion")


def _check_agents(node: Node) -> list[str]:
    agents = node.config.get("agents")
    if isinstance(agents, list) and len(set(map(str, agents))) != len(agents):
        return [f"node {node.id!r}: config.agents names an agent more than once"]
    return []


class CollaborationTurnNode(NodeType):
    name = "collaboration_turn"
    description = (
        "One agent's turn in a discussion (loop the node on itself): the agents exchange "
        "messages and share memory until one hands off or the round limit is reached."
    )
    config_model = CollaborationConfig
    output_schema = {
        "type": "object",
        "description": "{state_key: {agents, turn, max_rounds, transcript, done, ended_by, "
        "handoff}}",
    }

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        return template_problems(node, ("task",)) + _check_agents(node)

    def limit_requests(self, node: Node) -> dict[str, tuple[Any, str]]:
        return {"config.max_rounds": (node.config.get("max_rounds"), "max_rounds")}

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        state = ctx.state
        services = agent_services(ctx)
        messages = AgentMessageService(ctx.store)
        memory = MemoryService(ctx.store)
        previous = state.get(config.state_key)
        discussion: dict[str, Any] = dict(previous) if isinstance(previous, dict) else {}
        transcript: list[dict[str, Any]] = list(discussion.get("transcript") or [])
        turn = int(discussion.get("turn") or 0)
        agents: list[str] = config.agents
        max_rounds = min(config.max_rounds, ctx.settings.max_rounds_cap)  # a cap lowered since
        limit = max_rounds * len(agents)
        discussion |= {"agents": agents, "max_rounds": max_rounds}

        handoff = await ctx.step("collaboration.handoff_before", _handoff, messages, ctx)
        if handoff is None:
            name = agents[turn % len(agents)]
            agent = await services.definition(ctx.app_id, name)
            context = await ctx.step("collaboration.context", _context, messages, memory, ctx, name)
            task = await render_async(
                config.task, state, TemplateBudget.from_settings(ctx.settings)
            )
            prompt = _prompt(task, name, agents, turn, limit, transcript, context)
            tools = _tools(ctx, messages, memory, name, agents)
            result = await run_agent(
                ctx,
                agent,
                [],
                prompt,
                scope=f"{name}.turn{turn}",
                services=services,
                extra_tools=tools,
            )
            transcript.append({"turn": turn, "agent": name, "text": result.text})
            turn += 1
            following = agents[turn % len(agents)]
            if len(agents) > 1:
                await ctx.step(
                    "collaboration.notify",
                    _send,
                    messages,
                    ctx,
                    name,
                    following,
                    "notification",
                    {"turn": turn - 1, "text": result.text},
                )
            handoff = await ctx.step("collaboration.handoff_after", _handoff, messages, ctx)
        discussion |= {"turn": turn, "rounds": -(-turn // len(agents)), "transcript": transcript}
        if handoff is not None:
            discussion |= {"done": True, "ended_by": "handoff", "handoff": handoff}
        elif turn >= limit:
            discussion |= {"done": True, "ended_by": "round_limit", "handoff": None}
        else:
            discussion |= {"done": False, "ended_by": None, "handoff": None}
        return NodeResult(output={config.state_key: discussion})


async def _handoff(messages: AgentMessageService, ctx: Context) -> dict[str, Any] | None:
    record = await messages.latest_handoff(ctx.app_id, ctx.run_id)
    if record is None:
        return None
    return {"from": record.sender, "to": record.recipient, "content": record.content}


async def _context(
    messages: AgentMessageService, memory: MemoryService, ctx: Context, name: str
) -> dict[str, Any]:
    received = [
        {"from": m.sender, "type": m.type, "content": m.content}
        for m in await messages.messages(ctx.app_id, ctx.run_id, agent=name, limit=500)
        if m.recipient == name and m.type != "notification"
    ]
    page = await memory.list(ctx.app_id, "run", ctx.run_id, prefix=SHARED_PREFIX, limit=200)
    shared = {entry.key[len(SHARED_PREFIX) :]: entry.value for entry in page.items}
    return {"messages": received, "memory": shared}


async def _send(
    messages: AgentMessageService,
    ctx: Context,
    sender: str,
    to: str,
    type: str,
    content: Any,
) -> dict[str, Any]:
    record = await messages.send(ctx.app_id, ctx.run_id, to, type, content, sender=sender)
    return record.to_json()


def _prompt(
    task: str,
    name: str,
    agents: list[str],
    turn: int,
    limit: int,
    transcript: list[dict[str, Any]],
    context: dict[str, Any],
) -> str:
    others = [agent for agent in agents if agent != name]
    lines = [f"Task: {task}", ""]
    lines.append(
        f"You are {name}, working on this task with {', '.join(others) or 'nobody else'}. "
        f"This is turn {turn + 1} of at most {limit}."
    )
    if transcript:
        lines += ["", "The discussion so far:"]
        lines += [f"[{entry['agent']}] {entry['text']}" for entry in transcript]
    if context["messages"]:
        lines += ["", "Messages to you:"]
        lines += [
            f"- from {m['from'] or 'someone'} ({m['type']}): {json.dumps(m['content'])}"
            for m in context["messages"]
        ]
    if context["memory"]:
        lines += ["", "Shared memory:"]
        lines += [f"- {key}: {json.dumps(value)}" for key, value in context["memory"].items()]
    lines += [
        "",
        "Contribute your part. With send_message you can ask or tell another agent "
        "something, with remember you share a fact with everyone, and with handoff you pass "
        "control to the agent who should finish the task.",
    ]
    return "\n".join(lines)


class _MessageArguments(BaseModel):
    to: str = Field(description="the agent the message is for")
    type: str = Field(default="request", description="request, response or notification")
    content: str = Field(description="what you want to say")


class _HandoffArguments(BaseModel):
    to: str = Field(description="the agent who takes over and finishes the task")
    reason: str = Field(default="", description="why, and what they should know")


class _RememberArguments(BaseModel):
    key: str = Field(min_length=1, max_length=200, description="a short name for the fact")
    value: Any = Field(description="the fact: any JSON value")


def _tools(
    ctx: Context,
    messages: AgentMessageService,
    memory: MemoryService,
    name: str,
    agents: list[str],
) -> dict[str, Tool]:
    """The tools of a turn. Each call is a recorded tool call, so none is made twice."""
    others = [agent for agent in agents if agent != name]

    def check_recipient(to: str) -> None:
        if to not in others:
            raise ValueError(f"{to!r} is not another participant; send to one of {others}")

    async def send_message(arguments: dict[str, Any], tool_ctx: ToolContext) -> Any:
        check_recipient(arguments["to"])
        if arguments["type"] not in MESSAGE_KINDS:
            raise ValueError(f"type is one of {', '.join(MESSAGE_KINDS)}")
        record = await messages.send(
            ctx.app_id,
            ctx.run_id,
            arguments["to"],
            arguments["type"],
            arguments["content"],
            sender=name,
        )
        return {"sent": record.id}

    async def handoff(arguments: dict[str, Any], tool_ctx: ToolContext) -> Any:
        check_recipient(arguments["to"])
        record = await messages.send(
            ctx.app_id,
            ctx.run_id,
            arguments["to"],
            "handoff",
            {"reason": arguments["reason"]},
            sender=name,
        )
        return {"handed_off_to": arguments["to"], "message": record.id}

    async def remember(arguments: dict[str, Any], tool_ctx: ToolContext) -> Any:
        key = SHARED_PREFIX + arguments["key"]
        origin = Origin(actor=ctx.run_id, session_id=ctx.session_id, run_id=ctx.run_id)
        await memory.set(ctx.app_id, "run", ctx.run_id, key, arguments["value"], origin=origin)
        return {"remembered": arguments["key"]}

    def make(tool_name: str, description: str, model: type[BaseModel], invoke: Any) -> Tool:
        schema = model.model_json_schema()
        schema.pop("title", None)
        return Tool(
            name=tool_name,
            description=description,
            parameters=schema,
            invoke_fn=invoke,
            args_model=model,
            source="collaboration",
        )

    return {
        "send_message": make(
            "send_message",
            f"Send a message to another participant ({', '.join(others)}).",
            _MessageArguments,
            send_message,
        ),
        "handoff": make(
            "handoff",
            "Pass control to the participant who should finish the task; the discussion ends "
            "after your turn.",
            _HandoffArguments,
            handoff,
        ),
        "remember": make(
            "remember",
            "Share a fact with every participant (the run's shared memory).",
            _RememberArguments,
            remember,
        ),
    }
