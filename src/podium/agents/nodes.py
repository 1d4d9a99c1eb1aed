"""Node types for flows: `agent` (an agent's loop as a step) and `tool` (one tool call)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field

from podium.agents.loop import recorded_tool_call, run_agent
from podium.agents.metadata import describe_missing, metadata_request, split_metadata
from podium.agents.services import agent_services
from podium.engine.node_types import NodeResult, NodeType
from podium.engine.nodes.template import TemplateBudget, parse_template, render_async
from podium.errors import InvalidInput, NotFound
from podium.events import names
from podium.llm.base import Message
from podium.tools.base import DEFAULT, ToolOutcome

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node


def template_problems(node: Node, keys: tuple[str, ...]) -> list[str]:
    problems = []
    for key in keys:
        value = node.config.get(key)
        if isinstance(value, str):
            try:
                parse_template(value)
            except TemplateSyntaxError as exc:
                problems.append(
                    f"node {node.id!r} config.{key}: template syntax error on line "
                    f"{exc.lineno}: {exc.message}"
                )
    return problems


class AgentNodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    agent: str = Field(
        min_length=1,
        description="the agent's name, or a template over the state (`{{ state.agent }}`)",
    )
    input: str = Field(
        default="{{ message }}", description="the task: a Jinja2 template over the state"
    )
    output_key: str = Field(default="answer", description="state key of the final answer")
    history_key: str | None = Field(
        default=None,
        description="state key of the conversation (a list with the `append` reducer); set, "
        "the agent sees it and the new messages are appended to it (chat)",
    )
    model: str | None = Field(
        default=None,
        description="overrides the agent's model (`provider/model`, or a template; empty "
        "means the agent's own)",
    )
    metadata_key: str | None = Field(
        default=None,
        description="set, the agent is asked to end its answer with a JSON object of "
        "metadata, which is stored under this state key (for routers: "
        "`state.metadata.lead_score`) and taken off the answer; an answer without one "
        "fails the step",
    )
    metadata_keys: list[str] | None = Field(
        default=None, description="the metadata keys the agent is asked for (a hint)"
    )


class AgentNode(NodeType):
    name = "agent"
    description = (
        "Runs an agent's loop (model, tools, answer) as one step; every LLM and tool call in "
        "it is recorded, so none is repeated after a crash."
    )
    config_model = AgentNodeConfig
    output_schema = {"type": "object", "description": "{output_key: the final answer}"}

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        return template_problems(node, ("agent", "input", "model"))

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        state = ctx.state
        services = agent_services(ctx)
        budget = TemplateBudget.from_settings(ctx.settings)
        agent_name = (await render_async(config.agent, state, budget)).strip()
        agent = await services.definition(ctx.app_id, agent_name)
        task = await render_async(config.input, state, budget)
        history: list[Message] = []
        if config.history_key:
            stored = state.get(config.history_key) or []
            if not isinstance(stored, list):
                raise InvalidInput(
                    f"state key {config.history_key!r} holds a "
                    f"{type(stored).__name__}; a conversation is a list of messages"
                )
            history = [Message.from_json(item) for item in stored if isinstance(item, dict)]
            # Written at once, as a recorded call: the transcript keeps the user's message
            # even when the agent then fails, and a step that runs again does not repeat it.
            message = {"role": "user", "content": task, "agent": agent.name, "node_id": ctx.node_id}
            await ctx.step(
                f"{agent.name}.user_message",
                services.write_event,
                ctx.app_id,
                ctx.session_id,
                ctx.run_id,
                names.MESSAGE_CREATED,
                message,
            )
        model = (await render_async(config.model, state, budget)).strip() if config.model else None
        if config.metadata_key:
            task = f"{task}\n\n{metadata_request(config.metadata_keys)}"
        result = await run_agent(
            ctx, agent, history, task, scope=agent.name, model=model or None, services=services
        )
        output: dict[str, Any] = {config.output_key: result.text}
        if config.metadata_key:
            answer, metadata = split_metadata(result.text)
            if metadata is None:
                raise InvalidInput(describe_missing(agent.name, config.metadata_key, result.text))
            output[config.output_key] = answer
            output[config.metadata_key] = metadata
        if config.history_key:
            output[config.history_key] = [
                Message("user", task).to_json(),
                *(message.to_json() for message in result.messages),
            ]
        return NodeResult(output=output)


class ToolNodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    tool: str = Field(min_length=1, description="the registered tool's name")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="the tool's arguments; string values are Jinja2 templates over the state",
    )
    output_key: str = Field(default="result", description="state key of the tool's result")


class ToolNode(NodeType):
    name = "tool"
    description = "Calls one tool with arguments from the state; the call is logged and recorded."
    config_model = ToolNodeConfig
    output_schema = {
        "type": "object",
        "description": "{output_key: the result, output_key + '_status': ok | error | skipped}",
    }

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        name = node.config.get("tool")
        problems = []
        if isinstance(name, str) and "__" not in name:
            _load_integrations()
            if DEFAULT.get(name) is None:
                problems.append(
                    f"node {node.id!r}: no tool named {name!r}; the tools are {DEFAULT.names()}"
                )
        return problems

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        _load_integrations()
        services = agent_services(ctx)
        tool = DEFAULT.get(config.tool)
        if tool is None:
            for candidate in await services.mcp_tools(ctx.app_id):
                if candidate.name == config.tool:
                    tool = candidate
        if tool is None:
            raise NotFound(f"no tool named {config.tool!r}")
        state = ctx.state
        budget = TemplateBudget.from_settings(ctx.settings)
        arguments = {
            key: await render_async(value, state, budget) if isinstance(value, str) else value
            for key, value in config.arguments.items()
        }
        key = f"tool:{tool.name}"
        refusal = None
        if tool.requires_approval:
            answer = await ctx.ask_user(
                f"Run {tool.name} with {json.dumps(arguments)}?", choices=["approve", "deny"]
            )
            if answer != "approve":
                refusal = ToolOutcome("skipped", error="the user denied this call")
        outcome = await recorded_tool_call(
            ctx, services, key, tool.name, json.dumps(arguments), tool, refusal=refusal
        )
        return NodeResult(
            output={
                config.output_key: outcome.result if outcome.status == "ok" else outcome.error,
                f"{config.output_key}_status": outcome.status,
            }
        )


def _load_integrations() -> None:
    import podium.tools.integrations  # noqa: F401  (registers the integration tools)
