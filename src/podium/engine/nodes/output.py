"""`output`: selects keys of the state as the run's result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from podium.engine.node_types import NodeResult, NodeType

if TYPE_CHECKING:
    from podium.engine.context import Context


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    keys: list[str] | None = None


class OutputNode(NodeType):
    name = "output"
    description = "Makes the named state keys (all when none are named) the run's output."
    config_model = OutputConfig
    outputs = ()

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        state = ctx.state
        keys = config.keys if config.keys is not None else list(state)
        return NodeResult(output={}, run_output={key: state.get(key) for key in keys})
