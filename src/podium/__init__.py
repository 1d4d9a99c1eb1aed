"""Podium: durable AI agent and multi-agent flows, self-hosted.

The public API; everything not listed in `__all__` may change.
"""

from podium.config import Settings
from podium.engine.builder import FlowBuilder
from podium.engine.context import Context
from podium.engine.flow import Edge, Flow, Node, Rule
from podium.engine.loader import read_flow_file
from podium.engine.node_types import NodeResult, NodeType, register_node_type
from podium.engine.runtime import Podium, RunHandle
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

__version__ = "0.1.0"

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
    "Rule",
    "RunHandle",
    "Settings",
    "StateNotJSON",
    "__version__",
    "read_flow_file",
    "register_node_type",
]
