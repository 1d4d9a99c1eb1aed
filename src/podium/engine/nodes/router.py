"""`router`: an ordered list of rules, each with a target, and a default."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from podium.engine.conditions import check_rule, evaluate
from podium.engine.node_types import NodeResult, NodeType

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node


class RouteRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    operator: str = "=="
    value: Any = None
    target: str


class RouterConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    rules: list[RouteRule] = []
    default: str | None = None


class RouterNode(NodeType):
    name = "router"
    description = "Fires the target of the first rule that holds (over `{state}`), else default."
    config_model = RouterConfig
    outputs = ("routes",)

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        config = RouterConfig.model_validate(node.config)
        problems = []
        targets = {edge.target for edge in flow.edges if edge.source == node.id and not edge.loop}
        named = [rule.target for rule in config.rules]
        if config.default is not None:
            named.append(config.default)
        for index, rule in enumerate(config.rules):
            problem = check_rule(rule.field, rule.operator)
            if problem:
                problems.append(f"router {node.id!r} rule {index + 1}: {problem}")
        for target in named:
            if target not in targets:
                problems.append(
                    f"router {node.id!r} routes to {target!r} but has no edge "
                    f"{node.id} → {target}; add the edge"
                )
        for target in sorted(targets - set(named)):
            problems.append(
                f"router {node.id!r} has an edge to {target!r} that no rule or default names"
            )
        return problems

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        data = {"state": ctx.state, "output": {}}
        for rule in config.rules:
            if evaluate(rule.field, rule.operator, rule.value, data):
                return NodeResult(output={}, routes=[rule.target])
        return NodeResult(output={}, routes=[config.default] if config.default else [])
