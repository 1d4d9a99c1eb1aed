"""`template`: renders a Jinja2 template over the state into text."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from podium.engine.node_types import NodeResult, NodeType, register_node_type

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node

_ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    return _ENVIRONMENT.from_string(source)


def render(source: str, state: dict[str, Any]) -> str:
    """A template over the state: its keys by name (`{{ name }}`) or as `{{ state.name }}`."""
    return compile_template(source).render({**state, "state": state})


class TemplateConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    template: str
    output_key: str = "text"


@register_node_type
class TemplateNode(NodeType):
    name = "template"
    description = "Renders a Jinja2 template over the state (`{{ name }}` or `{{ state.name }}`)."
    config_model = TemplateConfig
    output_schema = {"type": "object", "description": "{output_key: rendered text}"}

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        try:
            compile_template(str(node.config.get("template", "")))
        except TemplateSyntaxError as exc:
            return [f"node {node.id!r}: template syntax error on line {exc.lineno}: {exc.message}"]
        return []

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        return NodeResult(output={config.output_key: render(config.template, ctx.state)})
