"""Node functions for the editor protocol's tests (tests/api/test_execution_protocol.py)."""

from __future__ import annotations

from typing import Any

from podium import Context


async def report_model(ctx: Context) -> dict[str, Any]:
    """The model the run resolves at the flow's step of the chain (the run's override)."""
    return {"model": ctx.flow_default_model}


async def fail(ctx: Context) -> dict[str, Any]:
    raise RuntimeError("the scene is missing")
