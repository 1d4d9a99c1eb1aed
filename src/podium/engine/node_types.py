"""The node-type registry: each type declares its config schema, ports and output schema."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node


@dataclass(slots=True)
class NodeResult:
    """What a node produced: `output` is merged into the state by the reducers.

    `routes` (routers only) names the targets to fire; every other outgoing edge dies.
    `run_output` (output nodes) becomes part of the run's result.
    """

    output: dict[str, Any]
    routes: list[str] | None = None
    run_output: dict[str, Any] | None = None


class NodeType:
    """Base of every node type. Subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    description: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    inputs: ClassVar[tuple[str, ...]] = ("in",)
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    output_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def parse_config(self, config: dict[str, Any]) -> BaseModel:
        return self.config_model.model_validate(config)

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        """Problems beyond the config schema (targets, imports, template syntax)."""
        return []

    def limit_requests(self, node: Node) -> dict[str, tuple[Any, str]]:
        """The limits the node's config asks for that have a server cap:
        `{"config.max_rounds": (value, "max_rounds")}` (a name of `podium.engine.caps.Caps`)."""
        return {}

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        raise NotImplementedError

    @classmethod
    def catalogue_entry(cls) -> dict[str, Any]:
        """How the type appears in `GET /api/v1/node-types` (what a visual editor reads)."""
        return {
            "type": cls.name,
            "description": cls.description,
            "config_schema": cls.config_model.model_json_schema(),
            "ports": {"inputs": list(cls.inputs), "outputs": list(cls.outputs)},
            "output_schema": cls.output_schema,
        }


_REGISTRY: dict[str, NodeType] = {}
_CATALOGUE: list[dict[str, Any]] | None = None


def register_node_type(node_type: type[NodeType]) -> type[NodeType]:
    """Class decorator: make a node type available to flows under its `name`."""
    global _CATALOGUE
    _REGISTRY[node_type.name] = node_type()
    _CATALOGUE = None
    return node_type


def get_node_type(name: str) -> NodeType | None:
    _ensure_builtins()
    return _REGISTRY.get(name)


def node_type_names() -> list[str]:
    _ensure_builtins()
    return sorted(_REGISTRY)


def catalogue() -> list[dict[str, Any]]:
    """Every registered type's entry; built once until a type is registered (JSON schemas
    are costly to make)."""
    global _CATALOGUE
    _ensure_builtins()
    if _CATALOGUE is None:
        _CATALOGUE = [_REGISTRY[name].catalogue_entry() for name in sorted(_REGISTRY)]
    return _CATALOGUE


def config_problems(node_type: NodeType, node: Node) -> list[str]:
    """Config schema errors as `node 'x' config.field: reason` lines."""
    try:
        node_type.parse_config(node.config)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            suffix = f".{where}" if where else ""
            problems.append(f"node {node.id!r} config{suffix}: {error['msg']}")
        return problems
    return []


# Modules whose import registers node types. By name, so that the engine does not import
# the services above it (agents register `agent` and `tool`).
BUILTIN_MODULES = ("podium.engine.nodes", "podium.agents.nodes", "podium.agents.collaboration")
_LOADED = False


def _ensure_builtins() -> None:
    # Imported lazily: the built-in types import the context, which imports this module.
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
