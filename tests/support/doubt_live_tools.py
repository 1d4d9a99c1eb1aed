"""A `side_effect` tool for the in-doubt test of a real server, loaded through
PODIUM_TOOL_MODULES: every execution appends its idempotency key to the file named by
DOUBT_TOOL_LOG, then blocks while the file DOUBT_TOOL_GATE exists (the test SIGKILLs the
server there)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from podium.tools.base import ToolContext, tool


@tool(effect="side_effect")
async def send_payment_live(amount: int, ctx: ToolContext) -> dict[str, int]:
    """Send a payment (not safe to repeat).

    Args:
        amount: How much.
    """
    with open(os.environ["DOUBT_TOOL_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{ctx.idempotency_key}\n")
    gate = Path(os.environ["DOUBT_TOOL_GATE"])
    if gate.exists():
        Path(f"{gate}.reached").write_text("in the call", encoding="utf-8")
        while gate.exists():
            await asyncio.sleep(0.02)
    return {"paid": amount}
