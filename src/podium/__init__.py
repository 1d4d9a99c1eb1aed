"""Podium: durable AI agent and multi-agent flows, self-hosted.

The public API; everything not listed in `__all__` may change.
"""

from podium.assembly import Podium, default_registry, read_flow_file
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
