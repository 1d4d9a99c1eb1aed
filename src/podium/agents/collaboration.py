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

A prompt stays the same size however long the discussion and its answers get: an agent is
shown the last `WINDOW_TURNS` turns, each clipped to `TURN_CHARS` characters, and a count of
the earlier ones (`digest`, also what the agent that finishes after a handoff reads); the
last messages sent to it and the shared memory are clipped the same way, and the answer
sent on to the next agent as a notification is clipped to `NOTIFICATION_CHARS`. What was
said comes in a message of its own before the turn's, so that an agent that repeats its
prompt (the offline echo model) repeats the turn, not the discussion: quoting the whole
discussion every turn doubled the prompt each time, and the notification soon passed the
64 KiB an agent message may hold. The transcript in the state keeps each answer up to
`TRANSCRIPT_CHARS` (the session's transcript, `message.created`, has it whole), so that the
discussion stays far under PODIUM_MAX_STATE_BYTES at any number of rounds the cap allows.
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
from podium.llm.base import Message
from podium.memory.service import MemoryService
from podium.storage.memory import Origin
from podium.tools.base import Tool, ToolContext

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node

SHARED_PREFIX = "shared:"
MESSAGE_KINDS = ("request", "response", "notification")
WINDOW_TURNS = 6  # the last turns an agent is shown
TURN_CHARS = 1_500  # of each turn shown
MESSAGES_SHOWN = 10  # the last messages to the agent that it is shown
MESSAGE_CHARS = 1_000  # of each message's content (as JSON)
FACTS_SHOWN = 20  # shared-memory entries shown
FACT_CHARS = 500  # of each entry's value (as JSON)
NOTIFICATION_CHARS = 4_000  # of the answer sent on to the next agent
TRANSCRIPT_CHARS = 8_000  # of each answer kept in the state (150 turns: about 1.2 MB)


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
            history, prompt = _prompt(task, name, agents, turn, limit, transcript, context)
            tools = _tools(ctx, messages, memory, name, agents)
            result = await run_agent(
                ctx,
                agent,
                history,
                prompt,
                scope=f"{name}.turn{turn}",
                services=services,
                extra_tools=tools,
            )
            text, length = clip(result.text, TRANSCRIPT_CHARS), len(result.text)
            transcript.append({"turn": turn, "agent": name, "text": text, "length": length})
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
                    {"turn": turn - 1, "text": clip(result.text, NOTIFICATION_CHARS)},
                )
            handoff = await ctx.step("collaboration.handoff_after", _handoff, messages, ctx)
        discussion |= {
            "turn": turn,
            "rounds": -(-turn // len(agents)),
            "transcript": transcript,
            "digest": digest(transcript),
        }
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
    """What the agent is shown of its messages and the shared memory, already clipped (it is
    a recorded call's result: stored, so kept small)."""
    received = [
        {"from": m.sender, "type": m.type, "content": clip(json.dumps(m.content), MESSAGE_CHARS)}
        for m in await messages.messages(ctx.app_id, ctx.run_id, agent=name, limit=500)
        if m.recipient == name and m.type != "notification"
    ]
    page = await memory.list(ctx.app_id, "run", ctx.run_id, prefix=SHARED_PREFIX, limit=200)
    shared = {
        entry.key[len(SHARED_PREFIX) :]: clip(json.dumps(entry.value), FACT_CHARS)
        for entry in page.items[:FACTS_SHOWN]
    }
    return {
        "messages": received[-MESSAGES_SHOWN:],
        "earlier_messages": max(0, len(received) - MESSAGES_SHOWN),
        "memory": shared,
        "more_facts": max(0, len(page.items) - FACTS_SHOWN),
    }


def clip(text: str, limit: int, length: int | None = None) -> str:
    """`text`, cut at `limit` characters with a note of how many were left out (of
    `length`: the whole answer's, when `text` was clipped before)."""
    length = max(length or 0, len(text))
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({length - limit} more characters)"


def digest(transcript: list[dict[str, Any]]) -> str:
    """The discussion as an agent is shown it: the last WINDOW_TURNS turns, each clipped to
    TURN_CHARS, after a count of the earlier turns by agent."""
    earlier, shown = transcript[:-WINDOW_TURNS], transcript[-WINDOW_TURNS:]
    lines = []
    if earlier:
        counts: dict[str, int] = {}
        for entry in earlier:
            counts[entry["agent"]] = counts.get(entry["agent"], 0) + 1
        by_agent = ", ".join(f"{agent} {count}" for agent, count in counts.items())
        lines.append(f"({len(earlier)} earlier turns are not shown: {by_agent})")
    lines += [
        f"[{entry['agent']}] {clip(entry['text'], TURN_CHARS, entry.get('length'))}"
        for entry in shown
    ]
    return "\n".join(lines)


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
) -> tuple[list[Message], str]:
    """The turn's messages: what was said so far (a first user message, when anything was),
    then the turn itself. Apart, so that an agent that repeats its prompt (the offline echo
    model) repeats the turn, not the whole discussion again."""
    lines: list[str] = []
    if transcript:
        lines += ["The discussion so far:", digest(transcript), ""]
    if context["messages"]:
        lines.append("Messages to you:")
        if context.get("earlier_messages"):
            lines.append(f"({context['earlier_messages']} earlier messages are not shown)")
        lines += [
            f"- from {m['from'] or 'someone'} ({m['type']}): {m['content']}"
            for m in context["messages"]
        ]
        lines.append("")
    if context["memory"]:
        lines.append("Shared memory:")
        lines += [f"- {key}: {value}" for key, value in context["memory"].items()]
        if context.get("more_facts"):
            lines.append(f"({context['more_facts']} more facts are not shown)")
    history = [Message("user", "\n".join(lines).strip())] if lines else []
    others = [agent for agent in agents if agent != name]
    turn_text = "\n".join(
        [
            f"Task: {task}",
            "",
            f"You are {name}, working on this task with {', '.join(others) or 'nobody else'}. "
            f"This is turn {turn + 1} of at most {limit}.",
            "",
            "Contribute your part. With send_message you can ask or tell another agent "
            "something, with remember you share a fact with everyone, and with handoff you pass "
            "control to the agent who should finish the task.",
        ]
    )
    return history, turn_text


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
