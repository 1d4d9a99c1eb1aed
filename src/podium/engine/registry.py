"""What the engine is given to run flows: node types, services for node code, and the
services made once per runtime (DESIGN §9).

The engine never looks these up by module name: the composition root (`podium.assembly`)
assembles a `Registry` from every layer and hands it to `Podium`, the API and the CLI.
`engine_registry()` is what the engine knows by itself (its own node types and nothing
above it), for a `Worker` or `compile_flow` used without one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.engine.node_types import NodeType, user_node_types

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.runtime import Podium

# A service node code reaches as `ctx.<name>` (`memory`, `artifacts`, …), made for one context.
ContextServiceFactory = Callable[["Context"], Any]
# A service made once per runtime (`agents`: the agent runtime; `artifacts`: the artifact
# service node code acts through), from the runtime it serves.
RuntimeServiceFactory = Callable[["Podium"], Any]


@dataclass(eq=False)
class Registry:
    """Everything the application is made of, assembled in one place."""

    node_types: dict[str, NodeType] = field(default_factory=dict)
    context_services: dict[str, ContextServiceFactory] = field(default_factory=dict)
    runtime_services: dict[str, RuntimeServiceFactory] = field(default_factory=dict)
    # Installed packs (`podium.packs.base.Pack`); the engine only carries them.
    packs: tuple[Any, ...] = ()
    # The packs' Alembic versions directories (their tables), upgraded with the core's.
    migrations: tuple[Path, ...] = ()
    _catalogue: list[dict[str, Any]] | None = field(default=None, repr=False)
    _catalogue_size: int = field(default=-1, repr=False)

    def add_node_types(self, types: Iterable[type[NodeType]]) -> None:
        for node_type in types:
            self.node_types[node_type.name] = node_type()
        self._catalogue = None

    def node_type(self, name: str) -> NodeType | None:
        """The type of that name: the registry's, else one a user registered with
        `@register_node_type` (before or after the registry was made)."""
        found = self.node_types.get(name)
        return found if found is not None else user_node_types().get(name)

    def all_node_types(self) -> Mapping[str, NodeType]:
        return {**user_node_types(), **self.node_types}

    def node_type_names(self) -> list[str]:
        return sorted(self.all_node_types())

    def catalogue(self) -> list[dict[str, Any]]:
        """Every type's entry, built once until a type is added (JSON schemas are costly)."""
        types = self.all_node_types()
        if self._catalogue is None or self._catalogue_size != len(types):
            self._catalogue = [types[name].catalogue_entry() for name in sorted(types)]
            self._catalogue_size = len(types)
        return self._catalogue

    def context_service(self, name: str) -> ContextServiceFactory:
        factory = self.context_services.get(name)
        if factory is None:
            raise LookupError(
                f"no service {name!r} is offered to node code; known: "
                f"{sorted(self.context_services)} (a Podium opened without the assembled "
                "registry offers none: use podium.Podium or podium.assembly.default_registry())"
            )
        return factory


@functools.cache
def engine_registry() -> Registry:
    """The engine's own node types and no services: what a `Worker` or `compile_flow` used
    without a registry gets."""
    from podium.engine.nodes import ENGINE_NODE_TYPES

    registry = Registry()
    registry.add_node_types(ENGINE_NODE_TYPES)
    return registry


class RuntimeServices:
    """The services of one runtime, each made on first use from its registry's factory (or
    provided ready-made, as the API does with its own)."""

    def __init__(self, registry: Registry, runtime: Podium | None) -> None:
        self.registry = registry
        self.runtime = runtime
        self._made: dict[str, Any] = {}

    def made(self, name: str) -> bool:
        """Whether the service was made (or provided) yet."""
        return name in self._made

    def provide(self, name: str, service: Any) -> None:
        self._made[name] = service

    def get(self, name: str) -> Any:
        found = self._made.get(name)
        if found is not None:
            return found
        factory = self.registry.runtime_services.get(name)
        if factory is None or self.runtime is None:
            raise LookupError(
                f"no runtime service {name!r}; known: {sorted(self.registry.runtime_services)} "
                "(open the runtime with the assembled registry: podium.Podium.open())"
            )
        made = self._made[name] = factory(self.runtime)
        return made
