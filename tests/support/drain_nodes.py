"""Nodes for the drain tests: a step still executing when its worker is told to stop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from podium import Context
from support.nodes import _count


async def counted_slow(ctx: Context) -> dict[str, Any]:
    """Counts its executions, says it started (the marker file), takes a second, then makes a
    recorded call: SIGTERM arrives while it executes."""
    _count(ctx.state["executions_file"], ctx.node_id)
    Path(ctx.state["marker_file"]).write_text("started", encoding="utf-8")
    await asyncio.sleep(1.0)
    value = await ctx.step("side_effect", _count, ctx.state["calls_file"], ctx.node_id)
    return {"visited": [ctx.node_id], f"{ctx.node_id}_call": value}
