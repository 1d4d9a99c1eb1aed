"""`python`: runs `async def name(ctx) -> dict | None`, named `package.module:function`."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from podium.engine.node_types import NodeResult, NodeType

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node


class PythonConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    function: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="`package.module:function`, importable from the flow file's directory "
        "or PYTHONPATH",
    )


def resolve_function(ref: str, base_path: Path | str | None = None) -> Callable[..., Any]:
    """Import `package.module:function`; raises ImportError saying what was missing."""
    if base_path is not None and str(base_path) not in sys.path:
        sys.path.append(str(base_path))
    module_name, _, qualname = ref.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import {ref!r}: {exc}") from None
    for part in qualname.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ImportError(f"cannot import {ref!r}: {module_name} has no {qualname!r}") from None
    if not callable(target):
        raise ImportError(f"{ref!r} is not a function")
    return target  # type: ignore[no-any-return]


# Imported functions by (reference, base path): an import lookup per step costs ~5 µs.
_FUNCTIONS: dict[tuple[str, Path | None], Callable[..., Any]] = {}


class PythonNode(NodeType):
    name = "python"
    description = "Runs a Python function `async def name(ctx) -> dict | None`."
    config_model = PythonConfig

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        try:
            resolve_function(node.config["function"], base_path)
        except ImportError as exc:
            return [f"node {node.id!r}: {exc}"]
        return []

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        key = (config.function, ctx.base_path)
        function = _FUNCTIONS.get(key)
        if function is None:
            function = _FUNCTIONS[key] = resolve_function(config.function, ctx.base_path)
        result = function(ctx)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return NodeResult(output={})
        if not isinstance(result, dict):
            raise TypeError(
                f"{config.function} returned {type(result).__name__}; a node returns a dict "
                "(merged into the state) or None"
            )
        return NodeResult(output=result)
