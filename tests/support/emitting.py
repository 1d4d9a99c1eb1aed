"""A node that emits its own event."""

from typing import Any

from podium import Context


async def emit_progress(ctx: Context) -> dict[str, Any]:
    ctx.emit("progress.updated", {"percent": 50})
    return {}
