"""`human`: asks a person a question; the answer is the node's output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from podium.engine.node_types import NodeResult, NodeType

if TYPE_CHECKING:
    from podium.engine.context import Context


class HumanConfig(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    question: str
    choices: list[str] | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    output_key: str = "answer"


class HumanNode(NodeType):
    name = "human"
    description = "Asks a person a question and waits, holding no memory; outputs the answer."
    config_model = HumanConfig
    output_schema = {"type": "object", "description": "{output_key: answer}"}

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        answer = await ctx.ask_user(config.question, choices=config.choices, schema=config.schema_)
        return NodeResult(output={config.output_key: answer})
