"""Node functions of the Podium benchmark flows (module level, so flows can name them).

Each one does no work of its own: it appends its node id to ``visited`` (an ``append``
reducer), the same as the LangGraph side's nodes append their name to an ``operator.add``
list. What is measured is the engine's per-step overhead and persistence.
"""

from __future__ import annotations

from typing import Any


async def visit(ctx: Any) -> dict[str, list[str]]:
    return {"visited": [ctx.node_id]}
