"""Built-in node types: python, router, human, template, output."""

from podium.engine.nodes import human, output, python, router, template

__all__ = ["human", "output", "python", "router", "template"]
