"""The node-type registry: each type declares its config schema, ports and output schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node
    from podium.engine.registry import Registry


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


# Types users register with the decorator (`podium.register_node_type`); every registry
# offers them besides its own.
_USER_TYPES: dict[str, NodeType] = {}


def register_node_type(node_type: type[NodeType]) -> type[NodeType]:
    """Class decorator: make a node type available to flows under its `name`."""
    _USER_TYPES[node_type.name] = node_type()
    return node_type


def user_node_types() -> dict[str, NodeType]:
    return _USER_TYPES


def get_node_type(name: str, registry: Registry | None = None) -> NodeType | None:
    """The type of that name in `registry` (the engine's own types when none is given)."""
    return _registry(registry).node_type(name)


def node_type_names(registry: Registry | None = None) -> list[str]:
    return _registry(registry).node_type_names()


def catalogue(registry: Registry | None = None) -> list[dict[str, Any]]:
    """Every type's entry in `GET /api/v1/node-types` (what a visual editor reads)."""
    return _registry(registry).catalogue()


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from podium.engine.registry import engine_registry  # it imports this module

    return engine_registry()


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
