"""The `image` node type: images from a prompt, through the server's image provider
(`podium.llm.images`, Fireworks Flux), as one recorded call of the step."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from podium.agents.nodes import template_problems
from podium.engine.node_types import NodeResult, NodeType
from podium.engine.nodes.template import TemplateBudget, render_async
from podium.errors import InvalidInput
from podium.llm.images import aspect_ratio, generate, image_model

if TYPE_CHECKING:
    from podium.config import Settings
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node


class ImageNodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # an editor's own keys are kept

    prompt: str = Field(min_length=1, description="what to draw: a Jinja2 template over the state")
    size: str = Field(
        default="1024x1024", description="`WxH` (`1344x768`) or an aspect ratio (`16:9`)"
    )
    count: int = Field(default=1, ge=1, description="images (PODIUM_IMAGE_MAX_COUNT at most)")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    model: str | None = Field(
        default=None, description="`fireworks/<model>`; unset: `fireworks/flux-1-schnell-fp8`"
    )
    output_key: str = Field(default="images", description="state key of the list of images")


class ImageNode(NodeType):
    name = "image"
    description = (
        "Generates images from a prompt with the server's image provider (Fireworks Flux, "
        "PODIUM_FIREWORKS_API_KEY): a list of {mime_type, base64 | url, seed}. The call is "
        "recorded, so it is not made again after a crash."
    )
    config_model = ImageNodeConfig
    output_schema = {
        "type": "object",
        "description": "{output_key: [{mime_type, base64 or url, seed}]}",
    }

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        problems = template_problems(node, ("prompt",))
        for key, check in (("size", aspect_ratio), ("model", image_model)):
            value = node.config.get(key)
            if isinstance(value, str):
                try:
                    check(value)
                except InvalidInput as exc:
                    problems.append(f"node {node.id!r} config.{key}: {exc.message}")
        return problems

    def limit_requests(self, node: Node) -> dict[str, tuple[Any, str]]:
        count = node.config.get("count")
        return {"config.count": (count, "image_max_count")} if count is not None else {}

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        budget = TemplateBudget.from_settings(ctx.settings)
        prompt = await render_async(config.prompt, ctx.state, budget)
        images = await ctx.step(
            "image",
            generate_json,
            ctx.settings,
            prompt,
            config.size,
            config.count,
            config.seed,
            config.model,
        )
        return NodeResult(output={config.output_key: images})


async def generate_json(
    settings: Settings, prompt: str, size: str, count: int, seed: int | None, model: str | None
) -> list[dict[str, Any]]:
    """The images as the JSON the step records and the state keeps."""
    found = await generate(settings, prompt, size=size, count=count, seed=seed, model=model)
    return [image.to_json() for image in found]
