"""Packs: bundles of flows, agents, node types, tools, routes, tables, gates and event
handlers that apps enable one by one (docs/packs.md). Shipped packs live in subpackages
and are listed in pyproject's `podium.packs` entry points."""

from podium.packs.base import HandlerContext, Pack, PackContext, subscribe

__all__ = ["HandlerContext", "Pack", "PackContext", "subscribe"]
