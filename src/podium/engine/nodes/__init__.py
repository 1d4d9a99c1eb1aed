"""Built-in node types: python, router, human, template, output."""

from podium.engine.node_types import NodeType
from podium.engine.nodes.human import HumanNode
from podium.engine.nodes.output import OutputNode
from podium.engine.nodes.python import PythonNode
from podium.engine.nodes.router import RouterNode
from podium.engine.nodes.template import TemplateNode

ENGINE_NODE_TYPES: tuple[type[NodeType], ...] = (
    HumanNode,
    OutputNode,
    PythonNode,
    RouterNode,
    TemplateNode,
)

__all__ = ["ENGINE_NODE_TYPES"]
