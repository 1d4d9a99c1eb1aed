"""Podium: durable AI agent and multi-agent flows, self-hosted.

The public API; everything not listed in `__all__` may change.
"""

from typing import TYPE_CHECKING, Any

from podium.config import Settings
from podium.engine.builder import FlowBuilder
from podium.engine.context import Context
from podium.engine.flow import Edge, Flow, Node, Rule
from podium.engine.node_types import NodeResult, NodeType, register_node_type
from podium.engine.registry import Registry
from podium.engine.runtime import RunHandle
from podium.errors import (
    Conflict,
    FlowInvalid,
    InvalidInput,
    LeaseLost,
    LimitExceeded,
    NotFound,
    PodiumError,
    StateNotJSON,
)
from podium.version import __version__

if TYPE_CHECKING:
    from podium.assembly import Podium, default_registry, read_flow_file

# The composition root imports every layer: made on first use, so that importing one module
# of podium (a worker's engine, a CLI command) does not import all of them.
_ASSEMBLED = ("Podium", "default_registry", "read_flow_file")


def __getattr__(name: str) -> Any:
    if name in _ASSEMBLED:
        from podium import assembly

        return getattr(assembly, name)
    raise AttributeError(f"module 'podium' has no attribute {name!r}")


__all__ = [
    "Conflict",
    "Context",
    "Edge",
    "Flow",
    "FlowBuilder",
    "FlowInvalid",
    "InvalidInput",
    "LeaseLost",
    "LimitExceeded",
    "Node",
    "NodeResult",
    "NodeType",
    "NotFound",
    "Podium",
    "PodiumError",
    "Registry",
    "Rule",
    "RunHandle",
    "Settings",
    "StateNotJSON",
    "__version__",
    "default_registry",
    "read_flow_file",
    "register_node_type",
]
